//! TransactWriteItems and TransactGetItems on the wire.

use serde_json::{Value, json};
use tabula_core::expr::ExprKind;

use super::items::{
    ExpressionParams, collection_metrics_by_table, expr_err, projection, wants_collection_metrics,
};
use super::values::{item_to_json, parse_item};
use super::{Constraints, Request, consumed_json};
use crate::engine::{CapacityDetail, Engine, TransactAction, TransactGet, TransactOp};
use crate::error::{ApiError, ApiResult};

/// Actions one transaction may hold.
const MAX_ACTIONS: usize = 100;

/// The action names of TransactWriteItems, as the wire spells them and as constraint paths
/// do.
const WRITE_ACTIONS: [(&str, &str); 4] = [
    ("ConditionCheck", "conditionCheck"),
    ("Put", "put"),
    ("Delete", "delete"),
    ("Update", "update"),
];

/// `TransactItems`: present, 1 to 100 entries.
fn transact_items<'a>(req: Request<'a>) -> ApiResult<&'a Vec<Value>> {
    let items = req.array("TransactItems")?;
    let mut c = Constraints::default();
    match items {
        None => c.not_null(false, "transactItems"),
        Some(list) if list.is_empty() => c.push(
            Some("[]"),
            "transactItems",
            "Member must have length greater than or equal to 1",
        ),
        Some(list) if list.len() > MAX_ACTIONS => c.push(
            Some("[...]"),
            "transactItems",
            "Member must have length less than or equal to 100",
        ),
        Some(_) => {}
    }
    c.finish()?;
    items.ok_or_else(|| ApiError::validation("TransactItems is required"))
}

fn capacity_list(
    detail: CapacityDetail,
    consumed: &[crate::engine::ConsumedCapacity],
) -> Option<Value> {
    if detail == CapacityDetail::None {
        return None;
    }
    Some(Value::Array(
        consumed
            .iter()
            .filter_map(|c| consumed_json(detail, c))
            .collect(),
    ))
}

/// One action of TransactWriteItems.
fn write_action(entry: &Value, n: usize) -> ApiResult<TransactAction> {
    let Value::Object(entry) = entry else {
        return Err(ApiError::serialization(
            "TransactItems entries must be objects",
        ));
    };
    let entry = Request(entry);
    let given: Vec<&(&str, &str)> = WRITE_ACTIONS.iter().filter(|(f, _)| entry.has(f)).collect();
    if given.len() != 1 {
        return Err(ApiError::validation(
            "TransactItems can only contain one of Check, Put, Update or Delete",
        ));
    }
    let (field, path_name) = *given[0];
    let Some(body) = entry.object(field)? else {
        return Err(ApiError::serialization(format!(
            "{field} must be an object"
        )));
    };
    let req = Request(body);
    let path = format!("transactItems.{n}.member.{path_name}");
    let mut c = Constraints::default();
    let table = req.str("TableName")?;
    c.table_name(table, &format!("{path}.tableName"));
    let item = req.get(if field == "Put" { "Item" } else { "Key" });
    c.not_null(
        item.is_some(),
        &format!("{path}.{}", if field == "Put" { "item" } else { "key" }),
    );
    if field == "ConditionCheck" {
        c.not_null(
            req.has("ConditionExpression"),
            &format!("{path}.conditionExpression"),
        );
    }
    if field == "Update" {
        c.not_null(
            req.has("UpdateExpression"),
            &format!("{path}.updateExpression"),
        );
    }
    let return_old = match req.str("ReturnValuesOnConditionCheckFailure")? {
        None | Some("NONE") => false,
        Some("ALL_OLD") => true,
        Some(other) => {
            c.enum_value(
                other,
                &format!("{path}.returnValuesOnConditionCheckFailure"),
                "[ALL_OLD, NONE]",
            );
            false
        }
    };
    c.finish()?;
    let key = parse_item(item.unwrap_or(&Value::Null))?;
    let params = ExpressionParams::parse(req)?;
    params.check_used_without_expressions(
        req.has("ConditionExpression") || req.has("UpdateExpression"),
        Some("ConditionExpression is null"),
    )?;
    let mut resolver = params.resolver();
    let condition = match req.str("ConditionExpression")? {
        Some(text) => Some(
            resolver
                .condition(ExprKind::Condition, text)
                .map_err(expr_err)?,
        ),
        None => None,
    };
    let op = match field {
        "ConditionCheck" => TransactOp::ConditionCheck,
        "Put" => TransactOp::Put(key.clone()),
        "Delete" => TransactOp::Delete,
        _ => TransactOp::Update(
            resolver
                .update(req.str("UpdateExpression")?.unwrap_or_default())
                .map_err(expr_err)?,
        ),
    };
    resolver.finish().map_err(expr_err)?;
    Ok(TransactAction {
        table: table.unwrap_or_default().to_string(),
        key,
        op,
        condition,
        return_old_on_failure: return_old,
    })
}

pub(super) async fn transact_write_items(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let detail = req.capacity_detail()?;
    let metrics = wants_collection_metrics(req)?;
    let items = transact_items(req)?;
    let token = req.str("ClientRequestToken")?;
    if let Some(t) = token {
        let mut c = Constraints::default();
        if t.is_empty() {
            c.push(
                Some(t),
                "clientRequestToken",
                "Member must have length greater than or equal to 1",
            );
        } else if t.len() > 36 {
            c.push(
                Some(t),
                "clientRequestToken",
                "Member must have length less than or equal to 36",
            );
        }
        c.finish()?;
    }
    let mut actions = Vec::with_capacity(items.len());
    for (i, entry) in items.iter().enumerate() {
        actions.push(write_action(entry, i + 1)?);
    }
    // The request without the token and the capacity detail: what must match on a retry
    // (its SHA-256: the token's record travels in the log and stays ten minutes).
    let fingerprint = {
        use sha2::Digest;
        let mut m = req.0.clone();
        m.remove("ClientRequestToken");
        m.remove("ReturnConsumedCapacity");
        hex::encode(sha2::Sha256::digest(
            Value::Object(m).to_string().as_bytes(),
        ))
    };
    // The item collections the writes touch (a condition check writes nothing).
    let written: Vec<(String, tabula_core::Item)> = if metrics {
        actions
            .iter()
            .filter(|a| !matches!(a.op, TransactOp::ConditionCheck))
            .map(|a| (a.table.clone(), a.key.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let out = engine
        .transact_write(actions, token.map(|t| (t.to_string(), fingerprint)))
        .await?;
    let mut response = json!({});
    if let Some(c) = capacity_list(detail, &out.consumed) {
        response["ConsumedCapacity"] = c;
    }
    if let Some(m) =
        collection_metrics_by_table(engine, written.iter().map(|(t, i)| (t.as_str(), i)))?
    {
        response["ItemCollectionMetrics"] = m;
    }
    Ok(response)
}

pub(super) fn transact_get_items(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let detail = req.capacity_detail()?;
    let items = transact_items(req)?;
    let mut gets = Vec::with_capacity(items.len());
    for (i, entry) in items.iter().enumerate() {
        let Value::Object(entry) = entry else {
            return Err(ApiError::serialization(
                "TransactItems entries must be objects",
            ));
        };
        let entry = Request(entry);
        let path = format!("transactItems.{}.member.get", i + 1);
        let get = entry.object("Get")?;
        let mut c = Constraints::default();
        c.not_null(get.is_some(), &path);
        c.finish()?;
        let Some(get) = get else { continue };
        let get = Request(get);
        let table = get.str("TableName")?;
        let key = get.get("Key");
        let mut c = Constraints::default();
        c.table_name(table, &format!("{path}.tableName"));
        c.not_null(key.is_some(), &format!("{path}.key"));
        c.finish()?;
        let params = ExpressionParams::parse_for_projection(get)?;
        params.check_used_without_expressions(get.has("ProjectionExpression"), None)?;
        let mut resolver = params.resolver();
        let projection = projection(get, &mut resolver)?;
        resolver.finish().map_err(expr_err)?;
        gets.push(TransactGet {
            table: table.unwrap_or_default().to_string(),
            key: parse_item(key.unwrap_or(&Value::Null))?,
            projection,
        });
    }
    let out = engine.transact_get(gets)?;
    let responses: Vec<Value> = out
        .items
        .iter()
        .map(|i| match i {
            Some(item) => json!({ "Item": item_to_json(item) }),
            None => json!({}),
        })
        .collect();
    let mut response = json!({ "Responses": responses });
    if let Some(c) = capacity_list(detail, &out.consumed) {
        response["ConsumedCapacity"] = c;
    }
    Ok(response)
}
