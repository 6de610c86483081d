//! Property tests on the request edge: random bytes and random well-formed-but-wrong requests,
//! sent through the real protocol layer into a real engine, never panic and always produce a
//! DynamoDB error shape (never an internal error).

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tabula_dataplane::engine::{Engine, EngineConfig};
use tabula_dataplane::error::ErrorKind;
use tabula_dataplane::protocol::{Operation, dispatch};
use tabula_storage::{MasterKey, Store};

const OPS: &[&str] = &[
    "CreateTable",
    "DeleteTable",
    "DescribeTable",
    "ListTables",
    "UpdateTable",
    "PutItem",
    "GetItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
];

const FIELDS: &[&str] = &[
    "TableName",
    "Item",
    "Key",
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "ConditionExpression",
    "UpdateExpression",
    "ProjectionExpression",
    "FilterExpression",
    "KeyConditionExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
    "ReturnValues",
    "Limit",
    "ExclusiveStartKey",
    "Segment",
    "TotalSegments",
    "Select",
    "RequestItems",
    "Expected",
    "AttributeUpdates",
    "KeyConditions",
    "QueryFilter",
    "ScanFilter",
    "AttributesToGet",
    "ConditionalOperator",
    "ScanIndexForward",
    "ReturnConsumedCapacity",
    "ConsistentRead",
    "ResourceArn",
    "Tags",
    "TagKeys",
];

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn engine() -> (Arc<Engine>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db"), MasterKey::from_bytes(&[3; 32])).unwrap();
    let engine = Engine::new(store, EngineConfig::default()).unwrap();
    let create = json!({
        "TableName": "fuzz", "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]
    });
    run(dispatch(
        &engine,
        Operation::CreateTable,
        create.to_string().as_bytes(),
    ))
    .unwrap();
    (Arc::new(engine), dir)
}

/// JSON values biased towards DynamoDB shapes: attribute values, key maps, strings that look
/// like expressions, numbers at the limits.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z#:.\\[\\]() =<>0-9,_-]{0,24}".prop_map(Value::String),
        Just(json!("fuzz")),
        Just(json!({"S": "x"})),
        Just(json!({"N": "1e126"})),
        Just(json!({"N": "not a number"})),
        Just(json!({"SS": []})),
        Just(json!({"B": "!!"})),
        Just(json!({"pk": {"S": "a"}, "sk": {"N": "1"}})),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(FIELDS).prop_map(str::to_string),
                        Just("S".to_string()),
                        Just("N".to_string()),
                        Just("L".to_string()),
                        Just("M".to_string()),
                        Just("pk".to_string()),
                        Just(":v".to_string()),
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn request() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..6).prop_map(|kv| {
        let mut m: Map<String, Value> = kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        if !m.contains_key("TableName") {
            m.insert("TableName".into(), json!("fuzz"));
        }
        Value::Object(m)
    })
}

fn check(engine: &Engine, op: &str, body: &[u8]) -> Result<(), TestCaseError> {
    let op = Operation::from_target(&format!("DynamoDB_20120810.{op}")).unwrap();
    match run(dispatch(engine, op, body)) {
        Ok(_) => Ok(()),
        Err(e) => {
            prop_assert_ne!(
                e.kind,
                ErrorKind::InternalServer,
                "internal error: {}",
                e.message
            );
            let shape = e.body();
            prop_assert!(shape["__type"].as_str().is_some_and(|t| t.contains('#')));
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_and_get_an_error_shape(op in prop::sample::select(OPS), body in prop::collection::vec(any::<u8>(), 0..64)) {
        let (engine, _dir) = ENGINE.with(|e| e.clone());
        check(&engine, op, &body)?;
    }

    #[test]
    fn wrong_but_well_formed_requests_never_panic(op in prop::sample::select(OPS), req in request()) {
        let (engine, _dir) = ENGINE.with(|e| e.clone());
        check(&engine, op, req.to_string().as_bytes())?;
    }
}

thread_local! {
    static ENGINE: (Arc<Engine>, Arc<tempfile::TempDir>) = {
        let (e, d) = engine();
        (e, Arc::new(d))
    };
}
