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
    "DescribeEndpoints",
    "DescribeLimits",
    "UpdateTimeToLive",
    "DescribeTimeToLive",
    "TransactWriteItems",
    "TransactGetItems",
    "DynamoDBStreams_20120810.ListStreams",
    "DynamoDBStreams_20120810.DescribeStream",
    "DynamoDBStreams_20120810.GetShardIterator",
    "DynamoDBStreams_20120810.GetRecords",
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
    "TransactItems",
    "ClientRequestToken",
    "ReturnValuesOnConditionCheckFailure",
    "TimeToLiveSpecification",
    "StreamSpecification",
    "GlobalSecondaryIndexes",
    "DeletionProtectionEnabled",
    "StreamArn",
    "ShardId",
    "ShardIteratorType",
    "ShardIterator",
    "SequenceNumber",
    "ExclusiveStartShardId",
];

/// The X-Amz-Target header for `op`: a DynamoDB operation name, or a whole target.
fn target_of(op: &str) -> String {
    if op.contains('.') {
        op.to_string()
    } else {
        format!("DynamoDB_20120810.{op}")
    }
}

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
    let op = Operation::from_target(&target_of(op)).unwrap();
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

/// How a request is authorized: a valid signature (made when the request is sent), or an
/// Authorization header that is absent, printable noise, or SigV4's shape with each part
/// possibly wrong (algorithm, key, date, region, signed headers, signature).
#[derive(Clone, Debug)]
enum Auth {
    Valid,
    Header(Option<String>),
}

fn authorization() -> impl Strategy<Value = Auth> {
    prop_oneof![
        1 => Just(Auth::Valid),
        1 => bad_authorization().prop_map(Auth::Header),
    ]
}

fn bad_authorization() -> impl Strategy<Value = Option<String>> {
    let part = |choices: &'static [&'static str]| prop::sample::select(choices);
    prop_oneof![
        Just(None),
        "[ -~]{0,80}".prop_map(Some),
        (
            part(&["AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", "", "Bearer"]),
            part(&["AKIDGOOD", "AKIDOTHER", "", "A/B"]),
            part(&["20260101", "", "2026", "99999999"]),
            part(&["us-east-1", "", "x"]),
            part(&["host;x-amz-date", "host", "", ";;", "x-amz-target"]),
            "[0-9a-f]{0,70}",
        )
            .prop_map(|(alg, key, date, region, signed, sig)| Some(format!(
                "{alg} Credential={key}/{date}/{region}/dynamodb/aws4_request, SignedHeaders={signed}, Signature={sig}"
            ))),
    ]
}

/// X-Amz-Target values: every operation, and noise.
fn any_target() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => prop::sample::select(OPS).prop_map(|op| Some(target_of(op))),
        1 => "[ -~]{0,40}".prop_map(Some),
        1 => Just(None),
    ]
}

/// Sends one request over a fresh connection; returns the status, whether the CRC header
/// came back, and the body.
fn send_http(
    addr: &str,
    target: Option<&str>,
    auth: Option<&str>,
    date: Option<&str>,
    body: &[u8],
) -> (u16, bool, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in [
        ("X-Amz-Target", target),
        ("Authorization", auth),
        ("X-Amz-Date", date),
    ] {
        if let Some(v) = value {
            head.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut resp = Vec::new();
    stream.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    (
        status,
        head.contains("\r\nx-amz-crc32:"),
        resp[split..].to_vec(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The whole edge, through real HTTP into a server that checks signatures: whatever the
    /// target, authorization, date and body, the answer carries its CRC header and is either
    /// a 200 (only for a validly signed request) or a 4xx DynamoDB error shape, never a 5xx.
    /// Validly signed requests reach the operations with random bodies.
    #[test]
    fn random_requests_over_http_get_client_errors(
        target in any_target(),
        auth in authorization(),
        date in prop::option::of(prop::sample::select(&["20260101T000000Z", "garbage", ""][..])),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            request().prop_map(|r| r.to_string().into_bytes()),
        ],
    ) {
        let addr = HTTP_SERVER.with(|s| s.1.clone());
        let (status, crc, answer) = match &auth {
            Auth::Valid => {
                let now = tabula_dataplane::auth::amz_date_now();
                let signature = tabula_dataplane::auth::sign_request(
                    "AKIDGOOD", "s3cret", "us-east-1", &now, &addr,
                    target.as_deref().unwrap_or(""), &body,
                );
                send_http(&addr, target.as_deref(), Some(&signature), Some(&now), &body)
            }
            Auth::Header(h) => send_http(&addr, target.as_deref(), h.as_deref(), date, &body),
        };
        let text = String::from_utf8_lossy(&answer);
        prop_assert!(crc, "no x-amz-crc32 header");
        let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        if status == 200 {
            prop_assert!(matches!(auth, Auth::Valid), "a 200 without a valid signature: {text}");
            prop_assert!(v.is_object(), "not a JSON object: {text}");
        } else {
            prop_assert!((400..500).contains(&status), "status {status}: {text}");
            prop_assert!(
                v["__type"].as_str().is_some_and(|t| t.contains('#')),
                "not an error shape: {text}"
            );
        }
    }
}

thread_local! {
    /// A server that requires signatures (key AKIDGOOD), on a runtime of its own.
    static HTTP_SERVER: (crate::harness::TestServer, String, tokio::runtime::Runtime) = {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let t = rt.block_on(crate::harness::TestServer::start_with(
            |c| {
                let mut creds = tabula_dataplane::auth::Credentials::default();
                creds.insert("AKIDGOOD", "s3cret");
                c.credentials = Some(creds);
            },
            tempfile::tempdir().unwrap(),
        ));
        let addr = t.endpoint().trim_start_matches("http://").to_string();
        (t, addr, rt)
    };
}

thread_local! {
    static ENGINE: (Arc<Engine>, Arc<tempfile::TempDir>) = {
        let (e, d) = engine();
        (e, Arc::new(d))
    };
}
