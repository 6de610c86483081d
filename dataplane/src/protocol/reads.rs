//! Query and Scan on the wire.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tabula_core::expr::{self, Condition, ExprKind, KeyCondition, Resolver};

use super::items::{
    ExpressionParams, check_no_mixing, expr_err, projection, stray_conditional_operator, value_list,
};
use super::values::{ItemJson, ItemsJson, parse_item};
use super::{Constraints, Reply, Request, consumed_json};
use crate::engine::{Engine, QueryInput, ReadPage, ScanInput, Select};
use crate::error::{ApiError, ApiResult};

/// The projection parameter a read carries, if any.
fn projection_param(req: Request<'_>) -> Option<&'static str> {
    ["ProjectionExpression", "AttributesToGet"]
        .into_iter()
        .find(|p| req.has(p))
}

/// `Select`, with its defaults: the projection's attributes when one is given, else every
/// attribute of a table or every projected attribute of an index. `projection` names the
/// projection parameter the request carries (`ProjectionExpression` or `AttributesToGet`).
fn select(req: Request<'_>, projection: Option<&str>, on_index: bool) -> ApiResult<Select> {
    let s = match req.str("Select")? {
        None => {
            if projection.is_some() {
                Select::SpecificAttributes
            } else if on_index {
                Select::AllProjectedAttributes
            } else {
                Select::AllAttributes
            }
        }
        Some("ALL_ATTRIBUTES") => Select::AllAttributes,
        Some("SPECIFIC_ATTRIBUTES") => Select::SpecificAttributes,
        Some("COUNT") => Select::Count,
        Some("ALL_PROJECTED_ATTRIBUTES") => Select::AllProjectedAttributes,
        Some(other) => {
            let mut c = Constraints::default();
            c.enum_value(
                other,
                "select",
                "[SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]",
            );
            c.finish()?;
            Select::AllAttributes
        }
    };
    if projection.is_none() && s == Select::SpecificAttributes {
        return Err(ApiError::validation(
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
        ));
    }
    // A projection beside another Select is refused first, naming the parameter given.
    if let Some(param) = projection
        && s != Select::SpecificAttributes
    {
        let what = match s {
            Select::Count => "only the Count",
            Select::AllProjectedAttributes => "ALL_PROJECTED_ATTRIBUTES",
            _ => "ALL_ATTRIBUTES",
        };
        return Err(ApiError::validation(format!(
            "Cannot specify the {param} when choosing to get {what}"
        )));
    }
    if s == Select::AllProjectedAttributes && !on_index {
        return Err(ApiError::validation(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
        ));
    }
    Ok(s)
}

fn limit(req: Request<'_>) -> ApiResult<Option<usize>> {
    match req.int("Limit")? {
        None => Ok(None),
        Some(l) if l < 1 => {
            let mut c = Constraints::default();
            c.push(
                Some(&l.to_string()),
                "limit",
                "Member must have value greater than or equal to 1",
            );
            c.finish().map(|_| None)
        }
        Some(l) => Ok(Some(l as usize)),
    }
}

fn legacy_conditions(
    m: &Map<String, Value>,
) -> ApiResult<BTreeMap<String, expr::legacy::Condition>> {
    let mut out = BTreeMap::new();
    for (name, v) in m {
        let Value::Object(e) = v else {
            return Err(ApiError::serialization("Conditions must be objects"));
        };
        let e = Request(e);
        let op = e.str("ComparisonOperator")?.ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at 'comparisonOperator' failed to satisfy constraint: Member must not be null (attribute: {name})"
            ))
        })?;
        out.insert(
            name.clone(),
            expr::legacy::Condition {
                comparison_operator: op.to_string(),
                attribute_value_list: value_list(e.get("AttributeValueList"))?.unwrap_or_default(),
            },
        );
    }
    Ok(out)
}

/// `FilterExpression`, or the legacy `QueryFilter`/`ScanFilter` with `ConditionalOperator`.
/// A `ConditionalOperator` with no filter is refused once the table (or index) is known to
/// exist: DynamoDB answers a missing one first.
fn filter(
    engine: &Engine,
    (table, index): (&str, Option<&str>),
    req: Request<'_>,
    legacy_field: &str,
    resolver: &mut Resolver<'_>,
) -> ApiResult<Option<Condition>> {
    if let Some(text) = req.str("FilterExpression")? {
        return resolver
            .condition(ExprKind::Filter, text)
            .map(Some)
            .map_err(expr_err);
    }
    // An empty map joins nothing: with a ConditionalOperator it is refused as a stray one.
    if let Some(m) = req.object(legacy_field)?
        && !m.is_empty()
    {
        let conds = legacy_conditions(m)?;
        return expr::legacy::filter(&conds, req.str("ConditionalOperator")?)
            .map(Some)
            .map_err(expr_err);
    }
    if req.has("ConditionalOperator") {
        return Err(stray_conditional_operator(engine, table, index));
    }
    Ok(None)
}

/// A Query or Scan page as its response body (members in the order a `Value` map writes
/// them).
fn page_reply(
    page: ReadPage,
    detail: crate::engine::CapacityDetail,
    select: Select,
) -> ApiResult<Reply> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        consumed_capacity: Option<Value>,
        count: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        items: Option<ItemsJson<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_evaluated_key: Option<ItemJson<'a>>,
        scanned_count: usize,
    }
    Reply::write(&Out {
        consumed_capacity: consumed_json(detail, &page.consumed),
        count: page.count,
        items: (select != Select::Count).then_some(ItemsJson(&page.items)),
        last_evaluated_key: page.last_evaluated_key.as_ref().map(ItemJson),
        scanned_count: page.scanned_count,
    })
}

/// `IndexName`, checked against the name constraints.
fn index_name(req: Request<'_>) -> ApiResult<Option<String>> {
    let Some(name) = req.str("IndexName")? else {
        return Ok(None);
    };
    let mut c = Constraints::default();
    c.index_name(name, "indexName");
    c.finish()?;
    Ok(Some(name.to_string()))
}

pub(super) fn query(engine: &Engine, req: Request<'_>) -> ApiResult<Reply> {
    let table_name = req.table_name()?;
    // KeyConditions conflicts only with KeyConditionExpression: DynamoDB takes legacy key
    // conditions together with a FilterExpression or a ProjectionExpression.
    let legacy: &[&str] = if req.has("KeyConditionExpression") {
        &[
            "AttributesToGet",
            "QueryFilter",
            "ConditionalOperator",
            "KeyConditions",
        ]
    } else {
        &["AttributesToGet", "QueryFilter", "ConditionalOperator"]
    };
    check_no_mixing(
        req,
        legacy,
        &[
            "ProjectionExpression",
            "FilterExpression",
            "KeyConditionExpression",
        ],
    )?;
    let detail = req.capacity_detail()?;
    let limit = limit(req)?;
    let index = index_name(req)?;
    let select = select(req, projection_param(req), index.is_some())?;
    let params = ExpressionParams::parse(req)?;
    params.check_used_without_expressions(
        req.has("KeyConditionExpression")
            || req.has("FilterExpression")
            || req.has("ProjectionExpression"),
        Some("FilterExpression and KeyConditionExpression are null"),
    )?;
    let table = engine.describe_key_schema(&table_name, index.as_deref())?;
    let mut resolver = params.resolver();
    let key_condition: KeyCondition = if let Some(text) = req.str("KeyConditionExpression")? {
        let cond = resolver
            .condition(ExprKind::KeyCondition, text)
            .map_err(expr_err)?;
        expr::key_condition(&cond, &table.hash, table.range.as_deref()).map_err(expr_err)?
    } else if let Some(kc) = req.object("KeyConditions")? {
        let conds = legacy_conditions(kc)?;
        expr::legacy::key_conditions(&conds, &table.hash, table.range.as_deref())
            .map_err(expr_err)?
    } else {
        return Err(ApiError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    };
    let filter = filter(
        engine,
        (&table_name, index.as_deref()),
        req,
        "QueryFilter",
        &mut resolver,
    )?;
    if let Some(f) = &filter {
        let keys = [Some(&table.hash), table.range.as_ref()];
        if let Some(k) = f
            .top_level_attrs()
            .into_iter()
            .find(|a| keys.contains(&Some(a)))
        {
            return Err(ApiError::validation(format!(
                "Filter Expression can only contain non-primary key attributes: Primary key attribute: {k}"
            )));
        }
    }
    let projection = projection(req, &mut resolver)?;
    resolver.finish().map_err(expr_err)?;
    let esk = req.get("ExclusiveStartKey").map(parse_item).transpose()?;
    let page = engine.query(QueryInput {
        table: table_name,
        index,
        key_condition,
        filter,
        projection,
        forward: req.bool("ScanIndexForward")?.unwrap_or(true),
        limit,
        exclusive_start_key: esk,
        consistent: req.bool("ConsistentRead")?.unwrap_or(false),
        select,
    })?;
    page_reply(page, detail, select)
}

pub(super) fn scan(engine: &Engine, req: Request<'_>) -> ApiResult<Reply> {
    let table_name = req.table_name()?;
    check_no_mixing(
        req,
        &["AttributesToGet", "ScanFilter", "ConditionalOperator"],
        &["ProjectionExpression", "FilterExpression"],
    )?;
    let detail = req.capacity_detail()?;
    let limit = limit(req)?;
    let index = index_name(req)?;
    let select = select(req, projection_param(req), index.is_some())?;
    let segment = req.int("Segment")?;
    let total = req.int("TotalSegments")?;
    let mut c = Constraints::default();
    if let Some(t) = total {
        if t < 1 {
            c.push(
                Some(&t.to_string()),
                "totalSegments",
                "Member must have value greater than or equal to 1",
            );
        } else if t > 1_000_000 {
            c.push(
                Some(&t.to_string()),
                "totalSegments",
                "Member must have value less than or equal to 1000000",
            );
        }
    }
    if let Some(s) = segment {
        if s < 0 {
            c.push(
                Some(&s.to_string()),
                "segment",
                "Member must have value greater than or equal to 0",
            );
        } else if s > 999_999 {
            c.push(
                Some(&s.to_string()),
                "segment",
                "Member must have value less than or equal to 999999",
            );
        }
    }
    c.finish()?;
    let segment = match (segment, total) {
        (None, None) => None,
        (Some(s), Some(t)) => {
            if s >= t {
                return Err(ApiError::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
                )));
            }
            Some((s as u32, t as u32))
        }
        (Some(_), None) => {
            return Err(ApiError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
    };
    let params = ExpressionParams::parse(req)?;
    params.check_used_without_expressions(
        req.has("FilterExpression") || req.has("ProjectionExpression"),
        Some("FilterExpression is null"),
    )?;
    let mut resolver = params.resolver();
    let filter = filter(
        engine,
        (&table_name, index.as_deref()),
        req,
        "ScanFilter",
        &mut resolver,
    )?;
    let projection = projection(req, &mut resolver)?;
    resolver.finish().map_err(expr_err)?;
    let esk = req.get("ExclusiveStartKey").map(parse_item).transpose()?;
    let page = engine.scan(ScanInput {
        table: table_name,
        index,
        filter,
        projection,
        limit,
        exclusive_start_key: esk,
        consistent: req.bool("ConsistentRead")?.unwrap_or(false),
        select,
        segment,
    })?;
    page_reply(page, detail, select)
}
