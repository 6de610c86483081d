//! AWS JSON 1.0 protocol: `X-Amz-Target` → one `Operation`, JSON body → typed engine request,
//! typed engine result → JSON body. The wire format stops here; the engine never sees JSON.

mod items;
mod reads;
mod streams;
mod tables;
mod transactions;
pub mod values;

use serde_json::{Map, Value};

use crate::engine::{CapacityDetail, ConsumedCapacity, Engine};
use crate::error::{ApiError, ApiResult, ErrorKind};

/// Every DynamoDB operation Tabula answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    CreateTable,
    DeleteTable,
    DescribeTable,
    ListTables,
    UpdateTable,
    PutItem,
    GetItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
    BatchGetItem,
    BatchWriteItem,
    TagResource,
    UntagResource,
    ListTagsOfResource,
    DescribeEndpoints,
    DescribeLimits,
    UpdateTimeToLive,
    DescribeTimeToLive,
    TransactWriteItems,
    TransactGetItems,
    ListStreams,
    DescribeStream,
    GetShardIterator,
    GetRecords,
}

/// DynamoDB operations that exist in the API but are not built in Tabula yet: they get a clear
/// error naming the operation rather than looking like a typo.
const NOT_YET: &[&str] = &[
    "BatchExecuteStatement",
    "CreateBackup",
    "CreateGlobalTable",
    "DeleteBackup",
    "DeleteResourcePolicy",
    "DescribeBackup",
    "DescribeContinuousBackups",
    "DescribeContributorInsights",
    "DescribeExport",
    "DescribeGlobalTable",
    "DescribeGlobalTableSettings",
    "DescribeImport",
    "DescribeKinesisStreamingDestination",
    "DescribeTableReplicaAutoScaling",
    "DisableKinesisStreamingDestination",
    "EnableKinesisStreamingDestination",
    "ExecuteStatement",
    "ExecuteTransaction",
    "ExportTableToPointInTime",
    "GetResourcePolicy",
    "ImportTable",
    "ListBackups",
    "ListContributorInsights",
    "ListExports",
    "ListGlobalTables",
    "ListImports",
    "PutResourcePolicy",
    "RestoreTableFromBackup",
    "RestoreTableToPointInTime",
    "UpdateContinuousBackups",
    "UpdateContributorInsights",
    "UpdateGlobalTable",
    "UpdateGlobalTableSettings",
    "UpdateKinesisStreamingDestination",
    "UpdateTableReplicaAutoScaling",
];

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
/// The DynamoDB Streams API shares the endpoint, under its own target prefix.
const STREAMS_TARGET_PREFIX: &str = "DynamoDBStreams_20120810.";

impl Operation {
    /// Operations that never write (and so never wait for an fsync).
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Operation::GetItem
                | Operation::Query
                | Operation::Scan
                | Operation::BatchGetItem
                | Operation::ListTables
                | Operation::ListTagsOfResource
                | Operation::DescribeEndpoints
                | Operation::DescribeLimits
                | Operation::DescribeTimeToLive
                | Operation::TransactGetItems
                | Operation::ListStreams
                | Operation::DescribeStream
                | Operation::GetShardIterator
                | Operation::GetRecords
        )
    }

    /// Resolves an `X-Amz-Target` header value.
    pub fn from_target(target: &str) -> ApiResult<Operation> {
        let unknown = || ApiError::new(ErrorKind::UnknownOperation, "");
        if let Some(name) = target.strip_prefix(STREAMS_TARGET_PREFIX) {
            return Ok(match name {
                "ListStreams" => Operation::ListStreams,
                "DescribeStream" => Operation::DescribeStream,
                "GetShardIterator" => Operation::GetShardIterator,
                "GetRecords" => Operation::GetRecords,
                _ => return Err(unknown()),
            });
        }
        let name = target.strip_prefix(TARGET_PREFIX).ok_or_else(unknown)?;
        Ok(match name {
            "CreateTable" => Operation::CreateTable,
            "DeleteTable" => Operation::DeleteTable,
            "DescribeTable" => Operation::DescribeTable,
            "ListTables" => Operation::ListTables,
            "UpdateTable" => Operation::UpdateTable,
            "PutItem" => Operation::PutItem,
            "GetItem" => Operation::GetItem,
            "UpdateItem" => Operation::UpdateItem,
            "DeleteItem" => Operation::DeleteItem,
            "Query" => Operation::Query,
            "Scan" => Operation::Scan,
            "BatchGetItem" => Operation::BatchGetItem,
            "BatchWriteItem" => Operation::BatchWriteItem,
            "TagResource" => Operation::TagResource,
            "UntagResource" => Operation::UntagResource,
            "ListTagsOfResource" => Operation::ListTagsOfResource,
            "DescribeEndpoints" => Operation::DescribeEndpoints,
            "DescribeLimits" => Operation::DescribeLimits,
            "UpdateTimeToLive" => Operation::UpdateTimeToLive,
            "DescribeTimeToLive" => Operation::DescribeTimeToLive,
            "TransactWriteItems" => Operation::TransactWriteItems,
            "TransactGetItems" => Operation::TransactGetItems,
            other if NOT_YET.contains(&other) => {
                return Err(ApiError::new(
                    ErrorKind::UnknownOperation,
                    format!("The operation {other} is not supported by Tabula yet"),
                ));
            }
            _ => return Err(unknown()),
        })
    }
}

/// A response body: a JSON value, or JSON already written. The item-heavy reads (GetItem,
/// Query, Scan) serialise their items straight into bytes; building a `Value` tree first and
/// serialising that cost them a tenth of their CPU.
#[derive(Debug)]
pub enum Reply {
    Value(Value),
    Json(Vec<u8>),
}

impl Reply {
    /// Serialises `body` (a response struct of the item reads).
    fn write(body: &impl serde::Serialize) -> ApiResult<Reply> {
        serde_json::to_vec(body)
            .map(Reply::Json)
            .map_err(|e| ApiError::internal(format!("cannot serialise the response: {e}")))
    }

    /// The body's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Reply::Value(v) => serde_json::to_vec(&v).unwrap_or_else(|_| b"{}".to_vec()),
            Reply::Json(bytes) => bytes,
        }
    }

    /// The body as a JSON value (tests and internal callers that inspect it).
    pub fn into_value(self) -> Value {
        match self {
            Reply::Value(v) => v,
            Reply::Json(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }
}

/// Runs one request body against the engine. Item writes await their group commit; table
/// operations are rare and run inline.
pub async fn dispatch(engine: &Engine, op: Operation, body: &[u8]) -> ApiResult<Reply> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::serialization(format!("Could not parse the request body as JSON: {e}"))
    })?;
    let Value::Object(req) = value else {
        return Err(ApiError::serialization(
            "Unexpected value type in payload: the request must be a JSON object",
        ));
    };
    let req = Request(&req);
    let value = match op {
        Operation::CreateTable => tables::create_table(engine, req),
        Operation::DeleteTable => tables::delete_table(engine, req),
        Operation::DescribeTable => tables::describe_table(engine, req),
        Operation::ListTables => tables::list_tables(engine, req),
        Operation::UpdateTable => tables::update_table(engine, req),
        Operation::TagResource => tables::tag_resource(engine, req),
        Operation::UntagResource => tables::untag_resource(engine, req),
        Operation::ListTagsOfResource => tables::list_tags(engine, req),
        Operation::UpdateTimeToLive => tables::update_time_to_live(engine, req),
        Operation::DescribeTimeToLive => tables::describe_time_to_live(engine, req),
        Operation::DescribeEndpoints => Ok(serde_json::json!({
            "Endpoints": [{"Address": "localhost", "CachePeriodInMinutes": 1440}]
        })),
        Operation::DescribeLimits => Ok(serde_json::json!({
            "AccountMaxReadCapacityUnits": 80000,
            "AccountMaxWriteCapacityUnits": 80000,
            "TableMaxReadCapacityUnits": 40000,
            "TableMaxWriteCapacityUnits": 40000
        })),
        Operation::PutItem => items::put_item(engine, req).await,
        Operation::GetItem => return items::get_item(engine, req),
        Operation::UpdateItem => items::update_item(engine, req).await,
        Operation::DeleteItem => items::delete_item(engine, req).await,
        Operation::BatchGetItem => items::batch_get_item(engine, req),
        Operation::BatchWriteItem => items::batch_write_item(engine, req).await,
        Operation::Query => return reads::query(engine, req),
        Operation::Scan => return reads::scan(engine, req),
        Operation::TransactWriteItems => transactions::transact_write_items(engine, req).await,
        Operation::TransactGetItems => transactions::transact_get_items(engine, req),
        Operation::ListStreams => streams::list_streams(engine, req),
        Operation::DescribeStream => streams::describe_stream(engine, req),
        Operation::GetShardIterator => streams::get_shard_iterator(engine, req),
        Operation::GetRecords => streams::get_records(engine, req),
    };
    value.map(Reply::Value)
}

/// Typed access to the fields of a request object. A field of the wrong JSON type is a
/// SerializationException, as in DynamoDB.
#[derive(Clone, Copy)]
pub(crate) struct Request<'a>(pub &'a Map<String, Value>);

impl<'a> Request<'a> {
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn str(&self, field: &str) -> ApiResult<Option<&'a str>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(field, "a string")),
        }
    }

    pub fn bool(&self, field: &str) -> ApiResult<Option<bool>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(field, "a boolean")),
        }
    }

    pub fn int(&self, field: &str) -> ApiResult<Option<i64>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong_type(field, "an integer")),
            Some(_) => Err(wrong_type(field, "an integer")),
        }
    }

    pub fn object(&self, field: &str) -> ApiResult<Option<&'a Map<String, Value>>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(wrong_type(field, "an object")),
        }
    }

    pub fn array(&self, field: &str) -> ApiResult<Option<&'a Vec<Value>>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(wrong_type(field, "an array")),
        }
    }

    /// `TableName`, required, with DynamoDB's length and pattern constraints.
    pub fn table_name(&self) -> ApiResult<String> {
        let mut errors = Constraints::default();
        let name = self.str("TableName")?;
        errors.table_name(name, "tableName");
        errors.finish()?;
        Ok(name.unwrap_or_default().to_string())
    }

    pub fn capacity_detail(&self) -> ApiResult<CapacityDetail> {
        match self.str("ReturnConsumedCapacity")? {
            None | Some("NONE") => Ok(CapacityDetail::None),
            Some("TOTAL") => Ok(CapacityDetail::Total),
            Some("INDEXES") => Ok(CapacityDetail::Indexes),
            Some(other) => {
                let mut c = Constraints::default();
                c.enum_value(other, "returnConsumedCapacity", "[INDEXES, TOTAL, NONE]");
                c.finish().map(|_| CapacityDetail::None)
            }
        }
    }
}

fn wrong_type(field: &str, expected: &str) -> ApiError {
    ApiError::serialization(format!(
        "Unexpected value type in payload: {field} must be {expected}"
    ))
}

/// Collects constraint violations into DynamoDB's "N validation errors detected: ..." message.
#[derive(Default)]
pub(crate) struct Constraints {
    errors: Vec<String>,
}

impl Constraints {
    pub fn push(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let shown = match value {
            Some(v) => format!("'{v}'"),
            None => "null".to_string(),
        };
        self.errors.push(format!(
            "Value {shown} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    pub fn not_null(&mut self, present: bool, path: &str) {
        if !present {
            self.push(None, path, "Member must not be null");
        }
    }

    pub fn enum_value(&mut self, value: &str, path: &str, set: &str) {
        self.push(
            Some(value),
            path,
            &format!("Member must satisfy enum value set: {set}"),
        );
    }

    /// Index names follow the table-name rules (3 to 255 of `[a-zA-Z0-9_.-]`).
    pub fn index_name(&mut self, name: &str, path: &str) {
        self.table_name(Some(name), path);
    }

    pub fn table_name(&mut self, name: Option<&str>, path: &str) {
        let Some(name) = name else {
            self.not_null(false, path);
            return;
        };
        if name.len() < 3 {
            self.push(
                Some(name),
                path,
                "Member must have length greater than or equal to 3",
            );
        }
        if name.len() > 255 {
            self.push(
                Some(name),
                path,
                "Member must have length less than or equal to 255",
            );
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            self.push(
                Some(name),
                path,
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            );
        }
    }

    pub fn finish(self) -> ApiResult<()> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(ApiError::validation(format!(
                "1 validation error detected: {}",
                self.errors[0]
            ))),
            n => Err(ApiError::validation(format!(
                "{n} validation errors detected: {}",
                self.errors.join("; ")
            ))),
        }
    }
}

/// Renders `ConsumedCapacity` as DynamoDB does for the requested detail.
pub(crate) fn consumed_json(detail: CapacityDetail, c: &ConsumedCapacity) -> Option<Value> {
    let mut v = serde_json::json!({ "TableName": c.table, "CapacityUnits": c.total() });
    match detail {
        CapacityDetail::None => return None,
        CapacityDetail::Total => {}
        CapacityDetail::Indexes => {
            v["Table"] = serde_json::json!({ "CapacityUnits": c.table_units() });
            for (field, global) in [
                ("GlobalSecondaryIndexes", true),
                ("LocalSecondaryIndexes", false),
            ] {
                let map: serde_json::Map<String, Value> = c
                    .indexes
                    .iter()
                    .filter(|(_, (g, _))| *g == global)
                    .map(|(n, (_, u))| (n.clone(), serde_json::json!({ "CapacityUnits": u })))
                    .collect();
                if !map.is_empty() {
                    v[field] = Value::Object(map);
                }
            }
        }
    }
    Some(v)
}
