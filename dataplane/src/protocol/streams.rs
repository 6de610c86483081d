//! The DynamoDB Streams API (`DynamoDBStreams_20120810`): ListStreams, DescribeStream,
//! GetShardIterator, GetRecords.

use serde_json::{Value, json};

use super::{Constraints, Request};
use crate::engine::{Engine, IteratorType, MAX_RECORDS};
use crate::error::{ApiError, ApiResult};

fn seconds(ms: u64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// An optional `Limit` within `1..=max`; above it, `too_many` is the message.
fn limit(req: Request<'_>, max: i64, too_many: &str) -> ApiResult<Option<usize>> {
    let Some(l) = req.int("Limit")? else {
        return Ok(None);
    };
    let mut c = Constraints::default();
    if l < 1 {
        c.push(
            Some(&l.to_string()),
            "limit",
            "Member must have value greater than or equal to 1",
        );
    } else if l > max {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: {too_many}"
        )));
    }
    c.finish()?;
    Ok(Some(l as usize))
}

fn stream_arn(req: Request<'_>) -> ApiResult<String> {
    let arn = req.str("StreamArn")?;
    let mut c = Constraints::default();
    match arn {
        None => c.not_null(false, "streamArn"),
        Some(a) if a.len() < 37 => c.push(
            Some(a),
            "streamArn",
            "Member must have length greater than or equal to 37",
        ),
        Some(_) => {}
    }
    c.finish()?;
    Ok(arn.unwrap_or_default().to_string())
}

pub(super) fn list_streams(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let limit = limit(
        req,
        100,
        "Limit cannot be greater than the maximum allowed size: 100",
    )?
    .unwrap_or(100);
    let start = req.str("ExclusiveStartStreamArn")?;
    if let Some(s) = start
        && s.len() < 37
    {
        let mut c = Constraints::default();
        c.push(
            Some(s),
            "exclusiveStartStreamArn",
            "Member must have length greater than or equal to 37",
        );
        c.finish()?;
    }
    let table = req.str("TableName")?;
    if table.is_some() {
        let mut c = Constraints::default();
        c.table_name(table, "tableName");
        c.finish()?;
    }
    let (streams, last) = engine.list_streams(table, limit, start)?;
    let mut out = json!({
        "Streams": streams
            .into_iter()
            .map(|(arn, table, label)| json!({"StreamArn": arn, "TableName": table, "StreamLabel": label}))
            .collect::<Vec<_>>()
    });
    if let Some(l) = last {
        out["LastEvaluatedStreamArn"] = json!(l);
    }
    Ok(out)
}

pub(super) fn describe_stream(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let arn = stream_arn(req)?;
    let limit = limit(req, 100, "Limit cannot be greater than the maximum: 100")?.unwrap_or(100);
    let children_of = match req.object("ShardFilter")? {
        None => None,
        Some(f) => {
            let f = Request(f);
            let kind = f.str("Type")?;
            let mut c = Constraints::default();
            match kind {
                None => c.not_null(false, "shardFilter.type"),
                Some("CHILD_SHARDS") => {}
                Some(other) => c.enum_value(other, "shardFilter.type", "[CHILD_SHARDS]"),
            }
            c.finish()?;
            f.str("ShardId")?
        }
    };
    let start = req.str("ExclusiveStartShardId")?;
    if let Some(s) = start {
        let mut c = Constraints::default();
        shard_id_length(s, "exclusiveStartShardId", &mut c);
        c.finish()?;
    }
    let d = engine.describe_stream(&arn, limit, start, children_of)?;
    let mut key_schema = vec![json!({"AttributeName": d.key_schema.hash, "KeyType": "HASH"})];
    if let Some(r) = &d.key_schema.range {
        key_schema.push(json!({"AttributeName": r, "KeyType": "RANGE"}));
    }
    let shards: Vec<Value> = d
        .shards
        .iter()
        .map(|s| {
            let mut range = json!({ "StartingSequenceNumber": format!("{:021}", s.start) });
            if let Some(e) = s.end {
                range["EndingSequenceNumber"] = json!(format!("{e:021}"));
            }
            let mut v = json!({ "ShardId": s.id, "SequenceNumberRange": range });
            if let Some(p) = &s.parent {
                v["ParentShardId"] = json!(p);
            }
            v
        })
        .collect();
    let mut desc = json!({
        "StreamArn": d.arn,
        "StreamLabel": d.label,
        "StreamStatus": if d.enabled { "ENABLED" } else { "DISABLED" },
        "StreamViewType": d.view_type.as_str(),
        "CreationRequestDateTime": seconds(d.created_ms),
        "TableName": d.table,
        "KeySchema": key_schema,
        "Shards": shards,
    });
    if let Some(l) = d.last_evaluated_shard {
        desc["LastEvaluatedShardId"] = json!(l);
    }
    Ok(json!({ "StreamDescription": desc }))
}

/// The API's length constraint on a shard id (28 to 65 characters), reported under `path`.
fn shard_id_length(id: &str, path: &str, c: &mut Constraints) {
    if id.len() < 28 {
        c.push(
            Some(id),
            path,
            "Member must have length greater than or equal to 28",
        );
    } else if id.len() > 65 {
        c.push(
            Some(id),
            path,
            "Member must have length less than or equal to 65",
        );
    }
}

pub(super) fn get_shard_iterator(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let arn = stream_arn(req)?;
    let shard = req.str("ShardId")?;
    let kind = req.str("ShardIteratorType")?;
    let seq = req.str("SequenceNumber")?;
    let mut c = Constraints::default();
    match shard {
        None => c.not_null(false, "shardId"),
        Some(s) => shard_id_length(s, "shardId", &mut c),
    }
    match kind {
        None => c.not_null(false, "shardIteratorType"),
        Some(
            "TRIM_HORIZON"
            | "LATEST"
            | "AT_SEQUENCE_NUMBER"
            | "AFTER_SEQUENCE_NUMBER"
            | "AT_TIMESTAMP",
        ) => {}
        Some(k) => c.enum_value(
            k,
            "shardIteratorType",
            "[TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP]",
        ),
    }
    if let Some(s) = seq {
        if s.len() < 21 {
            c.push(
                Some(s),
                "sequenceNumber",
                "Member must have length greater than or equal to 21",
            );
        } else if s.len() > 40 {
            c.push(
                Some(s),
                "sequenceNumber",
                "Member must have length less than or equal to 40",
            );
        }
    }
    c.finish()?;
    if seq.is_some() && matches!(kind, Some("TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP")) {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: SequenceNumber should not be passed for this iterator type",
        ));
    }
    let number = || -> ApiResult<u64> {
        seq.and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| {
            ApiError::validation(
                "One or more parameter values were invalid: Invalid SequenceNumber",
            )
        })
    };
    let kind = match kind.unwrap_or_default() {
        "TRIM_HORIZON" => IteratorType::TrimHorizon,
        "LATEST" => IteratorType::Latest,
        "AT_SEQUENCE_NUMBER" => IteratorType::AtSequenceNumber(number()?),
        "AT_TIMESTAMP" => {
            let ts = req
                .get("Timestamp")
                .and_then(Value::as_f64)
                .filter(|t| *t >= 0.0)
                .ok_or_else(|| {
                    ApiError::validation(
                        "One or more parameter values were invalid: Timestamp is required for the AT_TIMESTAMP iterator type",
                    )
                })?;
            IteratorType::AtTimestamp((ts * 1_000_000.0) as u64)
        }
        _ => IteratorType::AfterSequenceNumber(number()?),
    };
    let it = engine.get_shard_iterator(&arn, shard.unwrap_or_default(), kind)?;
    Ok(json!({ "ShardIterator": it }))
}

pub(super) fn get_records(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let it = req.str("ShardIterator")?;
    let mut c = Constraints::default();
    c.not_null(it.is_some(), "shardIterator");
    c.finish()?;
    let limit = limit(
        req,
        MAX_RECORDS as i64,
        "Limit should be less than or equal to 1000",
    )?
    .unwrap_or(MAX_RECORDS);
    let (records, next) = engine.get_records(it.unwrap_or_default(), limit)?;
    let mut out = json!({
        "Records": records.into_iter().map(|r| r.body).collect::<Vec<_>>()
    });
    if let Some(n) = next {
        out["NextShardIterator"] = json!(n);
    }
    Ok(out)
}
