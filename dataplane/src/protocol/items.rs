//! Item operations on the wire: PutItem, GetItem, UpdateItem, DeleteItem, BatchGetItem,
//! BatchWriteItem; plus the expression plumbing they share with Query and Scan.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};
use tabula_core::expr::{self, Condition, ExprKind, Projection, Resolver, UpdateExpr};
use tabula_core::{AttributeValue, Item};

use super::values::{ItemJson, item_to_json, parse_item, parse_value_map};
use super::{Constraints, Request, consumed_json};
use crate::engine::{
    CapacityDetail, DeleteItemInput, Engine, GetItemInput, PutItemInput, ReturnValues,
    UpdateItemInput, WriteRequest,
};
use crate::error::{ApiError, ApiResult};

/// The `ExpressionAttributeNames`/`Values` of one request, parsed once.
pub(super) struct ExpressionParams {
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

impl ExpressionParams {
    pub fn parse(req: Request<'_>) -> ApiResult<ExpressionParams> {
        let names = ExpressionParams::parse_names(req)?;
        let values = match req.get("ExpressionAttributeValues") {
            None => None,
            Some(v) => {
                let m = parse_value_map(v)?;
                if m.is_empty() {
                    return Err(ApiError::validation(
                        "ExpressionAttributeValues must not be empty",
                    ));
                }
                Some(m)
            }
        };
        Ok(ExpressionParams { names, values })
    }

    /// `ExpressionAttributeNames`, checked.
    fn parse_names(req: Request<'_>) -> ApiResult<Option<HashMap<String, String>>> {
        Ok(match req.object("ExpressionAttributeNames")? {
            None => None,
            Some(m) => {
                if m.is_empty() {
                    return Err(ApiError::validation(
                        "ExpressionAttributeNames must not be empty",
                    ));
                }
                let mut out = HashMap::with_capacity(m.len());
                for (k, v) in m {
                    let v = v.as_str().ok_or_else(|| {
                        ApiError::serialization("ExpressionAttributeNames values must be strings")
                    })?;
                    if k.len() > super::values::MAX_PLACEHOLDER_BYTES {
                        return Err(ApiError::validation(format!(
                            "ExpressionAttributeNames contains invalid key: The expression attribute map contains a key that is too long; size of key: {}",
                            k.len()
                        )));
                    }
                    if v.len() > super::values::MAX_ATTRIBUTE_NAME_BYTES {
                        return Err(ApiError::validation(format!(
                            "ExpressionAttributeNames contains invalid value: Attribute name is too large, must be less than 65536 bytes for key {k}"
                        )));
                    }
                    out.insert(k.clone(), v.to_string());
                }
                Some(out)
            }
        })
    }

    /// For the reads whose only expression is a ProjectionExpression (GetItem, BatchGetItem,
    /// TransactGetItems): they have no ExpressionAttributeValues member, so one sent is
    /// ignored, as DynamoDB ignores members an operation does not have.
    pub fn parse_for_projection(req: Request<'_>) -> ApiResult<ExpressionParams> {
        Ok(ExpressionParams {
            names: ExpressionParams::parse_names(req)?,
            values: None,
        })
    }

    pub fn resolver(&self) -> Resolver<'_> {
        Resolver::new(self.names.as_ref(), self.values.as_ref())
    }

    /// DynamoDB refuses names/values when the request has no expression at all; the values
    /// message names the absent expressions that could have used them (`null_note`, e.g.
    /// "ConditionExpression is null"). `None` means values are ignored (GetItem has no
    /// expression that takes values, and DynamoDB does not complain there).
    pub fn check_used_without_expressions(
        &self,
        any_expression: bool,
        null_note: Option<&str>,
    ) -> ApiResult<()> {
        if any_expression {
            return Ok(());
        }
        if self.values.is_some()
            && let Some(note) = null_note
        {
            return Err(ApiError::validation(format!(
                "ExpressionAttributeValues can only be specified when using expressions: {note}"
            )));
        }
        if self.names.is_some() {
            return Err(ApiError::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        Ok(())
    }
}

pub(super) fn expr_err(e: expr::ExprError) -> ApiError {
    ApiError::validation(e.message)
}

/// Refuses requests that mix legacy parameters with expression parameters; the message lists
/// the ones present in the order given (DynamoDB's order).
pub(super) fn check_no_mixing(req: Request<'_>, legacy: &[&str], modern: &[&str]) -> ApiResult<()> {
    let l: Vec<&str> = legacy.iter().copied().filter(|f| req.has(f)).collect();
    let m: Vec<&str> = modern.iter().copied().filter(|f| req.has(f)).collect();
    if !l.is_empty() && !m.is_empty() {
        return Err(ApiError::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            l.join(", "),
            m.join(", ")
        )));
    }
    Ok(())
}

fn return_values(req: Request<'_>) -> ApiResult<ReturnValues> {
    Ok(match req.str("ReturnValues")? {
        None | Some("NONE") => ReturnValues::None,
        Some("ALL_OLD") => ReturnValues::AllOld,
        Some("UPDATED_OLD") => ReturnValues::UpdatedOld,
        Some("ALL_NEW") => ReturnValues::AllNew,
        Some("UPDATED_NEW") => ReturnValues::UpdatedNew,
        Some(other) => {
            let mut c = Constraints::default();
            c.enum_value(
                other,
                "returnValues",
                "[ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
            );
            c.finish()?;
            ReturnValues::None
        }
    })
}

fn return_old_on_failure(req: Request<'_>) -> ApiResult<bool> {
    match req.str("ReturnValuesOnConditionCheckFailure")? {
        None | Some("NONE") => Ok(false),
        Some("ALL_OLD") => Ok(true),
        Some(other) => {
            let mut c = Constraints::default();
            c.enum_value(
                other,
                "returnValuesOnConditionCheckFailure",
                "[ALL_OLD, NONE]",
            );
            c.finish().map(|_| false)
        }
    }
}

/// The write condition: `ConditionExpression`, or the legacy `Expected` + `ConditionalOperator`.
/// A `ConditionalOperator` with nothing to join is refused once the table is known to exist
/// (DynamoDB answers a missing table first).
fn write_condition(
    engine: &Engine,
    table: &str,
    req: Request<'_>,
    resolver: &mut Resolver<'_>,
) -> ApiResult<Option<Condition>> {
    if let Some(text) = req.str("ConditionExpression")? {
        return resolver
            .condition(ExprKind::Condition, text)
            .map(Some)
            .map_err(expr_err);
    }
    // An empty map joins nothing: with a ConditionalOperator it is refused as a stray one.
    if let Some(expected) = req.object("Expected")?
        && !expected.is_empty()
    {
        let parsed = legacy_expected(expected)?;
        let op = req.str("ConditionalOperator")?;
        return expr::legacy::expected(&parsed, op)
            .map(Some)
            .map_err(expr_err);
    }
    if req.has("ConditionalOperator") {
        return Err(stray_conditional_operator(engine, table, None));
    }
    Ok(None)
}

/// The answer to a `ConditionalOperator` with nothing to join: DynamoDB answers a missing
/// table (or index) first.
pub(super) fn stray_conditional_operator(
    engine: &Engine,
    table: &str,
    index: Option<&str>,
) -> ApiError {
    match engine.describe_key_schema(table, index) {
        Err(e) => e,
        Ok(_) => ApiError::validation(expr::legacy::NO_CONDITIONS_TO_JOIN),
    }
}

fn legacy_expected(
    m: &Map<String, Value>,
) -> ApiResult<BTreeMap<String, expr::legacy::ExpectedAttributeValue>> {
    let mut out = BTreeMap::new();
    for (name, v) in m {
        let Value::Object(e) = v else {
            return Err(ApiError::serialization("Expected entries must be objects"));
        };
        let e = Request(e);
        out.insert(
            name.clone(),
            expr::legacy::ExpectedAttributeValue {
                value: e.get("Value").map(super::values::parse_value).transpose()?,
                exists: e.bool("Exists")?,
                comparison_operator: e.str("ComparisonOperator")?.map(str::to_string),
                attribute_value_list: value_list(e.get("AttributeValueList"))?,
            },
        );
    }
    Ok(out)
}

pub(super) fn value_list(v: Option<&Value>) -> ApiResult<Option<Vec<AttributeValue>>> {
    match v {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(super::values::parse_value)
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(ApiError::serialization(
            "AttributeValueList must be an array",
        )),
    }
}

/// `ProjectionExpression` or the legacy `AttributesToGet`.
pub(super) fn projection(
    req: Request<'_>,
    resolver: &mut Resolver<'_>,
) -> ApiResult<Option<Projection>> {
    if let Some(text) = req.str("ProjectionExpression")? {
        return resolver.projection(text).map(Some).map_err(expr_err);
    }
    if let Some(list) = req.array("AttributesToGet")? {
        let names = list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::serialization("AttributesToGet must be strings"))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        if names.is_empty() {
            return Err(ApiError::validation(
                "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let unique: HashSet<&String> = names.iter().collect();
        if unique.len() != names.len() {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Duplicate value in attribute name: {}",
                names
                    .iter()
                    .find(|n| names.iter().filter(|m| m == n).count() > 1)
                    .cloned()
                    .unwrap_or_default()
            )));
        }
        return expr::legacy::attributes_to_get(&names)
            .map(Some)
            .map_err(expr_err);
    }
    Ok(None)
}

fn key_param(req: Request<'_>) -> ApiResult<Item> {
    let key = req.get("Key");
    let mut c = Constraints::default();
    c.not_null(key.is_some(), "key");
    c.finish()?;
    parse_item(key.unwrap_or(&Value::Null))
}

fn write_response(
    attributes: Option<Item>,
    detail: CapacityDetail,
    consumed: &crate::engine::ConsumedCapacity,
) -> Value {
    let mut out = json!({});
    if let Some(a) = attributes {
        out["Attributes"] = item_to_json(&a);
    }
    if let Some(c) = consumed_json(detail, consumed) {
        out["ConsumedCapacity"] = c;
    }
    out
}

/// `ReturnItemCollectionMetrics`: whether SIZE was asked for.
pub(super) fn wants_collection_metrics(req: Request<'_>) -> ApiResult<bool> {
    match req.str("ReturnItemCollectionMetrics")? {
        None | Some("NONE") => Ok(false),
        Some("SIZE") => Ok(true),
        Some(other) => {
            let mut c = Constraints::default();
            c.enum_value(other, "returnItemCollectionMetrics", "[SIZE, NONE]");
            c.finish().map(|_| false)
        }
    }
}

/// Adds `ItemCollectionMetrics` to a write's answer when asked for and the table has one.
fn add_collection_metrics(
    engine: &Engine,
    wanted: bool,
    table: &str,
    item: &Item,
    out: &mut Value,
) -> ApiResult<()> {
    if !wanted {
        return Ok(());
    }
    if let Some(m) = engine.item_collection_metrics(table, item)? {
        out["ItemCollectionMetrics"] = collection_metrics_json(&m);
    }
    Ok(())
}

/// One item collection's metrics as the API writes them.
fn collection_metrics_json(m: &crate::engine::CollectionMetrics) -> Value {
    json!({
        "ItemCollectionKey": item_to_json(&m.key),
        "SizeEstimateRangeGB": [m.size_gb.0, m.size_gb.1],
    })
}

/// `ItemCollectionMetrics` of a write of several items (BatchWriteItem, TransactWriteItems):
/// for each table with a local index, one entry per item collection the write touched
/// (`written`: table and key, or item, of each write), or `None` when no table has one.
pub(super) fn collection_metrics_by_table<'a>(
    engine: &Engine,
    written: impl IntoIterator<Item = (&'a str, &'a Item)>,
) -> ApiResult<Option<Value>> {
    let mut by_table: BTreeMap<&str, Vec<crate::engine::CollectionMetrics>> = BTreeMap::new();
    for (table, item) in written {
        if let Some(m) = engine.item_collection_metrics(table, item)? {
            let seen = by_table.entry(table).or_default();
            if !seen.iter().any(|s| s.key == m.key) {
                seen.push(m);
            }
        }
    }
    let out: Map<String, Value> = by_table
        .into_iter()
        .map(|(table, list)| {
            let list = list.iter().map(collection_metrics_json).collect();
            (table.to_string(), Value::Array(list))
        })
        .collect();
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

pub(super) async fn put_item(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let table = req.table_name()?;
    let item = req.get("Item");
    let mut c = Constraints::default();
    c.not_null(item.is_some(), "item");
    c.finish()?;
    let item = parse_item(item.unwrap_or(&Value::Null))?;
    check_no_mixing(
        req,
        &["Expected", "ConditionalOperator"],
        &["ConditionExpression"],
    )?;
    let detail = req.capacity_detail()?;
    let rv = return_values(req)?;
    let rv_fail = return_old_on_failure(req)?;
    let params = ExpressionParams::parse(req)?;
    params.check_used_without_expressions(
        req.has("ConditionExpression"),
        Some("ConditionExpression is null"),
    )?;
    let metrics = wants_collection_metrics(req)?;
    let mut resolver = params.resolver();
    let condition = write_condition(engine, &table, req, &mut resolver)?;
    resolver.finish().map_err(expr_err)?;
    let collection = metrics.then(|| item.clone());
    let out = engine
        .put_item(PutItemInput {
            table: table.clone(),
            item,
            report_capacity: detail != CapacityDetail::None,
            condition,
            return_values: rv,
            return_old_on_failure: rv_fail,
        })
        .await?;
    let mut response = write_response(out.attributes, detail, &out.consumed);
    if let Some(item) = collection {
        add_collection_metrics(engine, true, &table, &item, &mut response)?;
    }
    Ok(response)
}

pub(super) async fn delete_item(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let table = req.table_name()?;
    let key = key_param(req)?;
    check_no_mixing(
        req,
        &["Expected", "ConditionalOperator"],
        &["ConditionExpression"],
    )?;
    let detail = req.capacity_detail()?;
    let rv = return_values(req)?;
    let rv_fail = return_old_on_failure(req)?;
    let params = ExpressionParams::parse(req)?;
    params.check_used_without_expressions(
        req.has("ConditionExpression"),
        Some("ConditionExpression is null"),
    )?;
    let metrics = wants_collection_metrics(req)?;
    let mut resolver = params.resolver();
    let condition = write_condition(engine, &table, req, &mut resolver)?;
    resolver.finish().map_err(expr_err)?;
    let out = engine
        .delete_item(DeleteItemInput {
            table: table.clone(),
            key: key.clone(),
            condition,
            return_values: rv,
            return_old_on_failure: rv_fail,
        })
        .await?;
    let mut response = write_response(out.attributes, detail, &out.consumed);
    add_collection_metrics(engine, metrics, &table, &key, &mut response)?;
    Ok(response)
}

pub(super) async fn update_item(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let table = req.table_name()?;
    let key = key_param(req)?;
    check_no_mixing(
        req,
        &["AttributeUpdates", "Expected", "ConditionalOperator"],
        &["UpdateExpression", "ConditionExpression"],
    )?;
    let detail = req.capacity_detail()?;
    let rv = return_values(req)?;
    let rv_fail = return_old_on_failure(req)?;
    let params = ExpressionParams::parse(req)?;
    params.check_used_without_expressions(
        req.has("ConditionExpression") || req.has("UpdateExpression"),
        Some("UpdateExpression and ConditionExpression are null"),
    )?;
    let mut resolver = params.resolver();
    let update: Option<UpdateExpr> = if let Some(text) = req.str("UpdateExpression")? {
        Some(resolver.update(text).map_err(expr_err)?)
    } else if let Some(au) = req.object("AttributeUpdates")? {
        let mut updates = BTreeMap::new();
        for (name, v) in au {
            let Value::Object(u) = v else {
                return Err(ApiError::serialization(
                    "AttributeUpdates entries must be objects",
                ));
            };
            let u = Request(u);
            updates.insert(
                name.clone(),
                expr::legacy::AttributeValueUpdate {
                    action: u.str("Action")?.map(str::to_string),
                    value: u.get("Value").map(super::values::parse_value).transpose()?,
                },
            );
        }
        Some(expr::legacy::attribute_updates(&updates).map_err(expr_err)?)
    } else {
        None
    };
    let metrics = wants_collection_metrics(req)?;
    let condition = write_condition(engine, &table, req, &mut resolver)?;
    resolver.finish().map_err(expr_err)?;
    let out = engine
        .update_item(UpdateItemInput {
            table: table.clone(),
            key: key.clone(),
            update,
            condition,
            return_values: rv,
            return_old_on_failure: rv_fail,
        })
        .await?;
    let mut response = write_response(out.attributes, detail, &out.consumed);
    add_collection_metrics(engine, metrics, &table, &key, &mut response)?;
    Ok(response)
}

pub(super) fn get_item(engine: &Engine, req: Request<'_>) -> ApiResult<super::Reply> {
    let table = req.table_name()?;
    let key = key_param(req)?;
    check_no_mixing(req, &["AttributesToGet"], &["ProjectionExpression"])?;
    let detail = req.capacity_detail()?;
    let params = ExpressionParams::parse_for_projection(req)?;
    params.check_used_without_expressions(req.has("ProjectionExpression"), None)?;
    let mut resolver = params.resolver();
    let projection = projection(req, &mut resolver)?;
    resolver.finish().map_err(expr_err)?;
    let out = engine.get_item(GetItemInput {
        table,
        key,
        consistent: req.bool("ConsistentRead")?.unwrap_or(false),
        projection,
    })?;
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        consumed_capacity: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        item: Option<ItemJson<'a>>,
    }
    super::Reply::write(&Out {
        consumed_capacity: consumed_json(detail, &out.consumed),
        item: out.item.as_deref().map(ItemJson),
    })
}

const BATCH_GET_MAX_KEYS: usize = 100;
const BATCH_WRITE_MAX_REQUESTS: usize = 25;
/// BatchGetItem returns at most 16 MB; keys beyond that come back as UnprocessedKeys.
const BATCH_GET_MAX_BYTES: usize = 16 * 1024 * 1024;

pub(super) fn batch_get_item(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let detail = req.capacity_detail()?;
    let request_items = req.object("RequestItems")?;
    let mut c = Constraints::default();
    c.not_null(request_items.is_some(), "requestItems");
    c.finish()?;
    let request_items = request_items.cloned().unwrap_or_default();
    if request_items.is_empty() {
        return Err(ApiError::validation(
            "The requestItems parameter is required for BatchGetItem",
        ));
    }
    // Validate everything first: a bad key anywhere fails the whole request.
    struct TableGets {
        name: String,
        keys: Vec<Item>,
        consistent: bool,
        projection: Option<Projection>,
        raw: Map<String, Value>,
    }
    // The shapes and the key count are checked before any table is looked up.
    let mut specs = Vec::with_capacity(request_items.len());
    let mut total = 0usize;
    for (name, spec) in &request_items {
        let Value::Object(spec) = spec else {
            return Err(ApiError::serialization(
                "RequestItems values must be objects",
            ));
        };
        total += spec
            .get("Keys")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        specs.push((name, spec));
    }
    if total > BATCH_GET_MAX_KEYS {
        return Err(ApiError::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    let mut all = Vec::new();
    for (name, spec) in specs {
        let mut c = Constraints::default();
        c.table_name(Some(name), "requestItems.key");
        c.finish()?;
        let spec_req = Request(spec);
        let keys = spec_req.array("Keys")?.cloned().unwrap_or_default();
        if keys.is_empty() {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '[]' at 'requestItems.{name}.member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )));
        }
        check_no_mixing(spec_req, &["AttributesToGet"], &["ProjectionExpression"])?;
        let params = ExpressionParams::parse_for_projection(spec_req)?;
        params.check_used_without_expressions(spec_req.has("ProjectionExpression"), None)?;
        let mut resolver = params.resolver();
        let projection = projection(spec_req, &mut resolver)?;
        resolver.finish().map_err(expr_err)?;
        let mut parsed = Vec::with_capacity(keys.len());
        let mut seen = HashSet::new();
        for k in &keys {
            let key = parse_item(k)?;
            let (_, _, skey) = engine.key_storage_bytes(name, &key)?;
            if !seen.insert(skey) {
                return Err(ApiError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            parsed.push(key);
        }
        all.push(TableGets {
            name: name.clone(),
            keys: parsed,
            consistent: spec_req.bool("ConsistentRead")?.unwrap_or(false),
            projection,
            // Sent back in UnprocessedKeys: without the member the operation does not have.
            raw: {
                let mut raw = spec.clone();
                raw.remove("ExpressionAttributeValues");
                raw
            },
        });
    }
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut consumed = Vec::new();
    let mut bytes = 0usize;
    for t in all {
        let mut items = Vec::new();
        let mut left = Vec::new();
        let mut units = 0.0;
        for key in t.keys {
            if bytes >= BATCH_GET_MAX_BYTES {
                left.push(item_to_json(&key));
                continue;
            }
            let out = engine.get_item(GetItemInput {
                table: t.name.clone(),
                key,
                consistent: t.consistent,
                projection: t.projection.clone(),
            })?;
            units += out.consumed.read_units;
            if let Some(item) = out.item {
                bytes += tabula_core::value::item_size(&item);
                items.push(item_to_json(&item));
            }
        }
        responses.insert(t.name.clone(), Value::Array(items));
        if !left.is_empty() {
            let mut spec = t.raw.clone();
            spec.insert("Keys".into(), Value::Array(left));
            unprocessed.insert(t.name.clone(), Value::Object(spec));
        }
        let c = crate::engine::ConsumedCapacity {
            table: t.name,
            read_units: units,
            ..Default::default()
        };
        if let Some(v) = consumed_json(detail, &c) {
            consumed.push(v);
        }
    }
    let mut out = json!({ "Responses": responses, "UnprocessedKeys": unprocessed });
    if detail != CapacityDetail::None {
        out["ConsumedCapacity"] = Value::Array(consumed);
    }
    Ok(out)
}

pub(super) async fn batch_write_item(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let detail = req.capacity_detail()?;
    let metrics = wants_collection_metrics(req)?;
    let request_items = req.object("RequestItems")?;
    let mut c = Constraints::default();
    c.not_null(request_items.is_some(), "requestItems");
    c.finish()?;
    let request_items = request_items.cloned().unwrap_or_default();
    if request_items.is_empty() {
        return Err(ApiError::validation(
            "The requestItems parameter is required for BatchWriteItem",
        ));
    }
    // The counts are checked before any table is looked up: over 25 requests for one table
    // breaks the request's shape, over 25 in all is DynamoDB's own limit.
    let mut lists = Vec::with_capacity(request_items.len());
    let mut total = 0usize;
    for (name, list) in &request_items {
        let Value::Array(list) = list else {
            return Err(ApiError::serialization(
                "RequestItems values must be arrays",
            ));
        };
        lists.push((name, list));
        let n = list.len();
        if n > BATCH_WRITE_MAX_REQUESTS {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{{{name}=[...]}}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]"
            )));
        }
        total += n;
    }
    if total > BATCH_WRITE_MAX_REQUESTS {
        return Err(ApiError::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    let mut plan: Vec<(String, Vec<WriteRequest>)> = Vec::new();
    for (name, list) in lists {
        let mut c = Constraints::default();
        c.table_name(Some(name), "requestItems.key");
        c.finish()?;
        if list.is_empty() {
            return Err(ApiError::validation(format!(
                "The batch write request list for a table cannot be null or empty: {name}"
            )));
        }
        let mut seen = HashSet::new();
        let mut reqs = Vec::with_capacity(list.len());
        for w in list {
            let Value::Object(w) = w else {
                return Err(ApiError::serialization("WriteRequest must be an object"));
            };
            let w = Request(w);
            let put = w.object("PutRequest")?;
            let del = w.object("DeleteRequest")?;
            let request = match (put, del) {
                (Some(p), None) => {
                    let item = Request(p).get("Item").ok_or_else(|| {
                        ApiError::validation(
                            "1 validation error detected: Value null at 'requestItems.member.member.putRequest.item' failed to satisfy constraint: Member must not be null",
                        )
                    })?;
                    WriteRequest::Put(parse_item(item)?)
                }
                (None, Some(d)) => {
                    let key = Request(d).get("Key").ok_or_else(|| {
                        ApiError::validation(
                            "1 validation error detected: Value null at 'requestItems.member.member.deleteRequest.key' failed to satisfy constraint: Member must not be null",
                        )
                    })?;
                    WriteRequest::Delete(parse_item(key)?)
                }
                _ => {
                    return Err(ApiError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    )
                    .with_message_if_empty(put.is_none() && del.is_none()));
                }
            };
            let skey = engine.batch_storage_key(name, &request)?;
            if !seen.insert(skey) {
                return Err(ApiError::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            reqs.push(request);
        }
        plan.push((name.clone(), reqs));
    }
    let mut consumed = Vec::new();
    let mut written: Vec<(String, Item)> = Vec::new();
    for (name, reqs) in plan {
        let mut c = crate::engine::ConsumedCapacity {
            table: name.clone(),
            ..Default::default()
        };
        for r in reqs {
            if metrics {
                let (WriteRequest::Put(item) | WriteRequest::Delete(item)) = &r;
                written.push((name.clone(), item.clone()));
            }
            c.add(&engine.batch_write_one(&name, r).await?.consumed);
        }
        if let Some(v) = consumed_json(detail, &c) {
            consumed.push(v);
        }
    }
    let mut out = json!({ "UnprocessedItems": {} });
    if detail != CapacityDetail::None {
        out["ConsumedCapacity"] = Value::Array(consumed);
    }
    if let Some(m) =
        collection_metrics_by_table(engine, written.iter().map(|(t, i)| (t.as_str(), i)))?
    {
        out["ItemCollectionMetrics"] = m;
    }
    Ok(out)
}

impl ApiError {
    /// A WriteRequest with neither PutRequest nor DeleteRequest gets DynamoDB's own message.
    fn with_message_if_empty(mut self, empty: bool) -> ApiError {
        if empty {
            self.message = "1 validation error detected: Value null at 'requestItems.member.member' failed to satisfy constraint: Member must not be null".into();
        } else {
            self.message = "Supplied WriteRequest has more than one request type set, must contain exactly one of PutRequest or DeleteRequest".into();
        }
        self
    }
}
