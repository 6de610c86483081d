//! Item operations through the SDK, plus raw-HTTP checks of the protocol edge.

use std::collections::HashMap;
use std::io::{Read, Write};

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, ReturnConsumedCapacity,
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, WriteRequest,
};

use crate::harness::{TestServer, client_for, code, create_table, message, n, s};

#[tokio::test]
async fn put_then_get_returns_every_attribute_type_exactly() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "types", None).await;
    let mut m = HashMap::new();
    m.insert("inner".to_string(), AttributeValue::Bool(true));
    c.put_item()
        .table_name("types")
        .item("pk", s("k1"))
        .item("str", s("héllo"))
        .item("num", n("12345678901234567890123456789012345678"))
        .item("small", n("-0.000000000000000000000000000001"))
        .item("bin", AttributeValue::B(vec![0u8, 1, 2, 255].into()))
        .item("yes", AttributeValue::Bool(true))
        .item("nothing", AttributeValue::Null(true))
        .item("ss", AttributeValue::Ss(vec!["a".into(), "b".into()]))
        .item("ns", AttributeValue::Ns(vec!["1".into(), "2.5".into()]))
        .item("bs", AttributeValue::Bs(vec![vec![1u8].into()]))
        .item("list", AttributeValue::L(vec![s("x"), n(1)]))
        .item("map", AttributeValue::M(m))
        .send()
        .await
        .unwrap();
    let item = c
        .get_item()
        .table_name("types")
        .key("pk", s("k1"))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["num"], n("12345678901234567890123456789012345678"));
    assert_eq!(item["small"], n("-0.000000000000000000000000000001"));
    assert_eq!(item["str"], s("héllo"));
    assert_eq!(item["bin"], AttributeValue::B(vec![0u8, 1, 2, 255].into()));
    assert_eq!(item["nothing"], AttributeValue::Null(true));
    assert_eq!(item["list"], AttributeValue::L(vec![s("x"), n(1)]));
    assert_eq!(item.len(), 12);
    // A missing item is no Item at all.
    let none = c
        .get_item()
        .table_name("types")
        .key("pk", s("absent"))
        .send()
        .await
        .unwrap();
    assert!(none.item.is_none());
}

#[tokio::test]
async fn conditional_put_fails_when_item_exists() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "cond", None).await;
    let put = || {
        c.put_item()
            .table_name("cond")
            .item("pk", s("a"))
            .item("v", n(1))
            .condition_expression("attribute_not_exists(pk)")
    };
    put().send().await.unwrap();
    let err = put()
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ConditionalCheckFailedException");
    assert_eq!(message(&err), "The conditional request failed");
    let svc = err.into_service_error();
    match svc {
        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => {
            assert_eq!(e.item.unwrap()["v"], n(1));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn put_and_delete_return_old_values() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "retvals", None).await;
    let first = c
        .put_item()
        .table_name("retvals")
        .item("pk", s("a"))
        .item("v", n(1))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(first.attributes.is_none());
    let second = c
        .put_item()
        .table_name("retvals")
        .item("pk", s("a"))
        .item("v", n(2))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(second.attributes.unwrap()["v"], n(1));
    let err = c
        .put_item()
        .table_name("retvals")
        .item("pk", s("a"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let del = c
        .delete_item()
        .table_name("retvals")
        .key("pk", s("a"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(del.attributes.unwrap()["v"], n(2));
    let gone = c
        .get_item()
        .table_name("retvals")
        .key("pk", s("a"))
        .send()
        .await
        .unwrap();
    assert!(gone.item.is_none());
}

#[tokio::test]
async fn update_item_creates_increments_and_returns_values() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "upd", None).await;
    let out = c
        .update_item()
        .table_name("upd")
        .key("pk", s("ctr"))
        .update_expression("SET #c = if_not_exists(#c, :zero) + :one, tags = :t")
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":one", n("0.1"))
        .expression_attribute_values(":t", AttributeValue::Ss(vec!["x".into()]))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap();
    assert_eq!(attrs["count"], n("0.1"));
    assert_eq!(attrs["pk"], s("ctr"));
    let out = c
        .update_item()
        .table_name("upd")
        .key("pk", s("ctr"))
        .update_expression("ADD #c :v, tags :more")
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":v", n("0.2"))
        .expression_attribute_values(":more", AttributeValue::Ss(vec!["y".into()]))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap();
    assert_eq!(attrs["count"], n("0.3"), "exact decimal arithmetic");
    assert!(!attrs.contains_key("pk"));
    let out = c
        .update_item()
        .table_name("upd")
        .key("pk", s("ctr"))
        .update_expression("REMOVE tags")
        .return_values(ReturnValue::UpdatedOld)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap();
    assert!(matches!(&attrs["tags"], AttributeValue::Ss(v) if v.len() == 2));
    // Keys cannot be updated.
    let err = c
        .update_item()
        .table_name("upd")
        .key("pk", s("ctr"))
        .update_expression("SET pk = :v")
        .expression_attribute_values(":v", s("other"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains("This attribute is part of the key"),
        "{}",
        message(&err)
    );
}

#[tokio::test]
async fn concurrent_increments_lose_no_update() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "ctr", None).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                c.update_item()
                    .table_name("ctr")
                    .key("pk", s("hot"))
                    .update_expression("ADD v :one")
                    .expression_attribute_values(":one", n(1))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let item = c
        .get_item()
        .table_name("ctr")
        .key("pk", s("hot"))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["v"], n(400));
}

#[tokio::test]
async fn concurrent_conditional_increments_lose_no_update() {
    // Optimistic concurrency as applications do it: read, then write with a version check.
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "occ", None).await;
    c.put_item()
        .table_name("occ")
        .item("pk", s("k"))
        .item("v", n(0))
        .send()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < 10 {
                let item = c
                    .get_item()
                    .table_name("occ")
                    .key("pk", s("k"))
                    .consistent_read(true)
                    .send()
                    .await
                    .unwrap()
                    .item
                    .unwrap();
                let AttributeValue::N(v) = &item["v"] else {
                    panic!()
                };
                let cur: i64 = v.parse().unwrap();
                let res = c
                    .put_item()
                    .table_name("occ")
                    .item("pk", s("k"))
                    .item("v", n(cur + 1))
                    .condition_expression("v = :cur")
                    .expression_attribute_values(":cur", n(cur))
                    .send()
                    .await;
                match res {
                    Ok(_) => done += 1,
                    Err(e) => assert_eq!(code(&e), "ConditionalCheckFailedException"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let item = c
        .get_item()
        .table_name("occ")
        .key("pk", s("k"))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["v"], n(80));
}

#[tokio::test]
async fn invalid_items_are_rejected_with_dynamodb_messages() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "val", Some(ScalarAttributeType::N)).await;
    let err = c
        .put_item()
        .table_name("val")
        .item("pk", s("a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "One or more parameter values were invalid: Missing the key sk in the item"
    );
    let err = c
        .put_item()
        .table_name("val")
        .item("pk", s("a"))
        .item("sk", s("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"
    );
    let err = c
        .put_item()
        .table_name("val")
        .item("pk", s(""))
        .item("sk", n(1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(message(&err).contains("empty string"), "{}", message(&err));
    let err = c
        .put_item()
        .table_name("val")
        .item("pk", s("a"))
        .item("sk", n(1))
        .item("big", s(&"x".repeat(400 * 1024)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "Item size has exceeded the maximum allowed size"
    );
    let err = c
        .put_item()
        .table_name("val")
        .item("pk", s("a"))
        .item("sk", n("1e126"))
        .send()
        .await
        .unwrap_err();
    assert!(
        message(&err).starts_with("Number overflow"),
        "{}",
        message(&err)
    );
    let err = c
        .put_item()
        .table_name("val")
        .item("pk", s("a"))
        .item("sk", n(1))
        .item("ss", AttributeValue::Ss(vec!["a".into(), "a".into()]))
        .send()
        .await
        .unwrap_err();
    assert!(
        message(&err).contains("contains duplicates"),
        "{}",
        message(&err)
    );
    let err = c
        .get_item()
        .table_name("val")
        .key("pk", s("a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "The provided key element does not match the schema"
    );
    // Just under the limit is fine.
    c.put_item()
        .table_name("val")
        .item("pk", s("a"))
        .item("sk", n(1))
        .item("big", s(&"x".repeat(400 * 1024 - 10)))
        .send()
        .await
        .unwrap();
}

/// `levels` maps around a string.
fn nested(levels: usize) -> AttributeValue {
    (0..levels).fold(s("v"), |v, _| {
        AttributeValue::M(HashMap::from([("x".to_string(), v)]))
    })
}

#[tokio::test]
async fn items_nest_at_most_32_levels_and_request_values_one_more() {
    const TOO_DEEP: &str = "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit";
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "deep", None).await;
    let put = |v: AttributeValue| {
        c.put_item()
            .table_name("deep")
            .item("pk", s("a"))
            .item("a", v)
            .send()
    };
    // 31 maps around a scalar is 32 levels with the attribute's own value: the most an item
    // may hold; 32 and 33 maps are refused, the same way.
    put(nested(31)).await.unwrap();
    for levels in [32, 33] {
        let err = put(nested(levels)).await.unwrap_err();
        assert_eq!(message(&err), TOO_DEEP, "{levels} maps");
    }
    // An update whose result would be too deep is refused in DynamoDB's shorter words, and
    // the item is left as it was.
    c.put_item()
        .table_name("deep")
        .item("pk", s("a"))
        .item("a", nested(1))
        .send()
        .await
        .unwrap();
    let update = |v: AttributeValue| {
        c.update_item()
            .table_name("deep")
            .key("pk", s("a"))
            .update_expression("SET a.x = :v")
            .expression_attribute_values(":v", v)
            .send()
    };
    let err = update(nested(31)).await.unwrap_err();
    assert_eq!(
        message(&err),
        "Nesting Levels have exceeded supported limits"
    );
    let got = c
        .get_item()
        .table_name("deep")
        .key("pk", s("a"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(got.item.unwrap()["a"], nested(1));
    update(nested(30)).await.unwrap();
    // The legacy AttributeUpdates are held to the same limit.
    let err = c
        .update_item()
        .table_name("deep")
        .key("pk", s("a"))
        .attribute_updates(
            "b",
            aws_sdk_dynamodb::types::AttributeValueUpdate::builder()
                .action(aws_sdk_dynamodb::types::AttributeAction::Put)
                .value(nested(32))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "Nesting Levels have exceeded supported limits"
    );
    // A condition's value may be one level deeper than an item; past that the error names
    // the placeholder.
    let cond = |v: AttributeValue| {
        c.put_item()
            .table_name("deep")
            .item("pk", s("b"))
            .condition_expression("a = :v")
            .expression_attribute_values(":v", v)
            .send()
    };
    let err = cond(nested(32)).await.unwrap_err();
    assert_eq!(code(&err), "ConditionalCheckFailedException");
    let err = cond(nested(33)).await.unwrap_err();
    assert_eq!(
        message(&err),
        format!("ExpressionAttributeValues contains invalid value: {TOO_DEEP} for key :v")
    );
}

#[tokio::test]
async fn a_conditional_operator_with_nothing_to_join_is_refused() {
    const STRAY: &str = "ConditionalOperator cannot be used without Filter or Expected";
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "stray", None).await;
    let err = c
        .put_item()
        .table_name("stray")
        .item("pk", s("a"))
        .conditional_operator(aws_sdk_dynamodb::types::ConditionalOperator::And)
        .send()
        .await
        .unwrap_err();
    assert_eq!(message(&err), STRAY);
    let scan = |table: &'static str| {
        c.scan()
            .table_name(table)
            .conditional_operator(aws_sdk_dynamodb::types::ConditionalOperator::Or)
            .send()
    };
    assert_eq!(message(&scan("stray").await.unwrap_err()), STRAY);
    // A missing table is answered first.
    let err = scan("absent").await.unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
    // Nothing was written by the refused put.
    let got = c
        .get_item()
        .table_name("stray")
        .key("pk", s("a"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(got.item.is_none());
}

#[tokio::test]
async fn consumed_capacity_follows_dynamodb_units() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "cap", None).await;
    let out = c
        .put_item()
        .table_name("cap")
        .item("pk", s("a"))
        .item("v", s(&"x".repeat(1500)))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(out.consumed_capacity.unwrap().capacity_units, Some(2.0));
    let out = c
        .get_item()
        .table_name("cap")
        .key("pk", s("a"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(out.consumed_capacity.unwrap().capacity_units, Some(0.5));
    let out = c
        .get_item()
        .table_name("cap")
        .key("pk", s("a"))
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let cc = out.consumed_capacity.unwrap();
    assert_eq!(cc.capacity_units, Some(1.0));
    assert_eq!(cc.table_name.as_deref(), Some("cap"));
}

#[tokio::test]
async fn batch_write_and_batch_get_round_trip_with_limits() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "batch", None).await;
    let puts: Vec<WriteRequest> = (0..25)
        .map(|i| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", s(&format!("k{i}")))
                        .item("v", n(i))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    let out = c
        .batch_write_item()
        .request_items("batch", puts.clone())
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    let mut too_many = puts.clone();
    too_many.push(
        WriteRequest::builder()
            .delete_request(DeleteRequest::builder().key("pk", s("k0")).build().unwrap())
            .build(),
    );
    let err = c
        .batch_write_item()
        .request_items("batch", too_many)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let dup = vec![puts[0].clone(), puts[0].clone()];
    let err = c
        .batch_write_item()
        .request_items("batch", dup)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "Provided list of item keys contains duplicates"
    );

    let mut keys = KeysAndAttributes::builder();
    for i in (0..25).step_by(5) {
        keys = keys.keys(HashMap::from([("pk".to_string(), s(&format!("k{i}")))]));
    }
    keys = keys.keys(HashMap::from([("pk".to_string(), s("missing"))]));
    let out = c
        .batch_get_item()
        .request_items("batch", keys.build().unwrap())
        .send()
        .await
        .unwrap();
    let mut got: Vec<String> = out.responses.unwrap()["batch"]
        .iter()
        .map(|i| match &i["v"] {
            AttributeValue::N(v) => v.clone(),
            _ => panic!(),
        })
        .collect();
    got.sort();
    assert_eq!(got, ["0", "10", "15", "20", "5"]);

    let mut keys = KeysAndAttributes::builder();
    for i in 0..101 {
        keys = keys.keys(HashMap::from([("pk".to_string(), s(&format!("k{i}")))]));
    }
    let err = c
        .batch_get_item()
        .request_items("batch", keys.build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

/// A BatchGetItem answers at most 16 MB of items; the keys it did not read come back as
/// UnprocessedKeys, with the table's read options, and asking for those reads the rest.
#[tokio::test]
async fn batch_get_returns_unprocessed_keys_past_16_megabytes() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "bigget", None).await;
    let blob = "x".repeat(390 * 1024);
    let keys: Vec<HashMap<String, AttributeValue>> = (0..50)
        .map(|i| HashMap::from([("pk".to_string(), s(&format!("k{i:02}")))]))
        .collect();
    for k in &keys {
        c.put_item()
            .table_name("bigget")
            .set_item(Some(k.clone()))
            .item("blob", s(&blob))
            .item("tag", s("t"))
            .send()
            .await
            .unwrap();
    }
    let spec = |keys: Vec<HashMap<String, AttributeValue>>| {
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .projection_expression("pk, #b")
            .expression_attribute_names("#b", "blob")
            .consistent_read(true)
            .build()
            .unwrap()
    };
    let out = c
        .batch_get_item()
        .request_items("bigget", spec(keys.clone()))
        .send()
        .await
        .unwrap();
    let first = &out.responses.unwrap()["bigget"];
    // 16 MB of 390 KB items is 42 (the item that crosses the bound is still returned).
    assert!(
        (40..50).contains(&first.len()),
        "read {} items in the first answer",
        first.len()
    );
    assert!(first.iter().all(|i| i.len() == 2 && !i.contains_key("tag")));
    let left = out.unprocessed_keys.unwrap()["bigget"].clone();
    assert_eq!(left.keys().len() + first.len(), 50);
    assert_eq!(left.projection_expression(), Some("pk, #b"));
    assert_eq!(left.consistent_read(), Some(true));
    let out = c
        .batch_get_item()
        .request_items("bigget", left)
        .send()
        .await
        .unwrap();
    let rest = &out.responses.unwrap()["bigget"];
    assert!(out.unprocessed_keys.unwrap_or_default().is_empty());
    let mut seen: Vec<String> = first
        .iter()
        .chain(rest.iter())
        .map(|i| i["pk"].as_s().unwrap().clone())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        50,
        "every key read exactly once across the two answers"
    );
}

#[tokio::test]
async fn describe_limits_and_endpoints_answer() {
    let t = TestServer::start().await;
    let c = t.client();
    let limits = c.describe_limits().send().await.unwrap();
    assert_eq!(limits.account_max_read_capacity_units, Some(80000));
    assert_eq!(limits.account_max_write_capacity_units, Some(80000));
    assert_eq!(limits.table_max_read_capacity_units, Some(40000));
    assert_eq!(limits.table_max_write_capacity_units, Some(40000));
    let endpoints = c.describe_endpoints().send().await.unwrap();
    let [e] = endpoints.endpoints() else {
        panic!("one endpoint expected: {endpoints:?}");
    };
    assert_eq!(e.cache_period_in_minutes(), 1440);
    assert!(!e.address().is_empty());
}

/// Sends one raw HTTP request and returns (status, body).
fn raw(endpoint: &str, target: Option<&str>, auth: bool, body: &[u8]) -> (u16, serde_json::Value) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(t) = target {
        head.push_str(&format!("X-Amz-Target: {t}\r\n"));
    }
    if auth {
        head.push_str("Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut resp = Vec::new();
    stream.read_to_end(&mut resp).unwrap();
    let text = String::from_utf8_lossy(&resp).to_string();
    let status: u16 = text[9..12].parse().unwrap();
    let body_start = text.find("\r\n\r\n").unwrap() + 4;
    assert!(
        text.to_ascii_lowercase().contains("x-amz-crc32:"),
        "crc header present"
    );
    assert!(
        text.to_ascii_lowercase().contains("x-amzn-requestid:"),
        "request id present"
    );
    (
        status,
        serde_json::from_str(&text[body_start..]).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn protocol_errors_have_dynamodb_shapes() {
    let t = TestServer::start().await;
    let ep = t.endpoint();
    tokio::task::spawn_blocking(move || {
        let (st, body) = raw(
            &ep,
            Some("DynamoDB_20120810.ListTables"),
            true,
            b"{not json",
        );
        assert_eq!(st, 400);
        assert!(
            body["__type"]
                .as_str()
                .unwrap()
                .ends_with("#SerializationException"),
            "{body}"
        );
        let (st, body) = raw(&ep, Some("DynamoDB_20120810.NoSuchThing"), true, b"{}");
        assert_eq!(st, 400);
        assert!(
            body["__type"]
                .as_str()
                .unwrap()
                .ends_with("#UnknownOperationException"),
            "{body}"
        );
        let (_, body) = raw(&ep, Some("DynamoDB_20120810.CreateBackup"), true, b"{}");
        assert!(
            body["message"].as_str().unwrap().contains("CreateBackup"),
            "{body}"
        );
        let (st, body) = raw(&ep, Some("DynamoDB_20120810.ListTables"), false, b"{}");
        assert_eq!(st, 400);
        assert!(
            body["__type"]
                .as_str()
                .unwrap()
                .ends_with("#MissingAuthenticationTokenException"),
            "{body}"
        );
        let (st, body) = raw(&ep, Some("DynamoDB_20120810.ListTables"), true, b"{}");
        assert_eq!(st, 200);
        assert_eq!(body["TableNames"], serde_json::json!([]));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn signatures_are_verified_when_credentials_are_configured() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start_with(
        |c| {
            let mut creds = tabula_dataplane::auth::Credentials::default();
            creds.insert("AKIDGOOD", "s3cret");
            c.credentials = Some(creds);
        },
        dir,
    )
    .await;
    let ok = client_for(&t.endpoint(), "AKIDGOOD", "s3cret");
    ok.list_tables().send().await.unwrap();
    let wrong_secret = client_for(&t.endpoint(), "AKIDGOOD", "nope");
    let err = wrong_secret.list_tables().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidSignatureException");
    let unknown = client_for(&t.endpoint(), "AKIDOTHER", "s3cret");
    let err = unknown.list_tables().send().await.unwrap_err();
    assert_eq!(code(&err), "UnrecognizedClientException");
}

#[tokio::test]
async fn updated_values_cover_exactly_the_touched_paths() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "nested", None).await;
    let mut m = HashMap::new();
    m.insert("b".to_string(), n(1));
    m.insert("c".to_string(), n(2));
    c.put_item()
        .table_name("nested")
        .item("pk", s("k"))
        .item("a", AttributeValue::M(m))
        .item("other", s("x"))
        .send()
        .await
        .unwrap();
    let out = c
        .update_item()
        .table_name("nested")
        .key("pk", s("k"))
        .update_expression("SET a.b = :v")
        .expression_attribute_values(":v", n(5))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap();
    assert_eq!(attrs.len(), 1);
    assert_eq!(
        attrs["a"],
        AttributeValue::M(HashMap::from([("b".to_string(), n(5))]))
    );
}

#[tokio::test]
async fn key_size_limits_are_enforced() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "keysize", Some(ScalarAttributeType::S)).await;
    // Partition keys up to 2048 bytes and sort keys up to 1024 bytes are fine.
    c.put_item()
        .table_name("keysize")
        .item("pk", s(&"p".repeat(2048)))
        .item("sk", s(&"s".repeat(1024)))
        .send()
        .await
        .unwrap();
    let err = c
        .put_item()
        .table_name("keysize")
        .item("pk", s(&"p".repeat(2049)))
        .item("sk", s("a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
    );
    let err = c
        .put_item()
        .table_name("keysize")
        .item("pk", s("a"))
        .item("sk", s(&"s".repeat(1025)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    );
    let got = c
        .get_item()
        .table_name("keysize")
        .key("pk", s(&"p".repeat(2048)))
        .key("sk", s(&"s".repeat(1024)))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_some());
}

/// GetItem is served from an in-memory cache when it can; it must never go back in time.
/// Writers increment counters (single-item updates and transactions) while readers read them:
/// each reader sees every counter only grow, and at the end reads exactly the final value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_reads_never_go_back_in_time() {
    use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "counters", None).await;
    let keys = 4;
    for k in 0..keys {
        c.put_item()
            .table_name("counters")
            .item("pk", s(&format!("k{k}")))
            .item("n", n(0))
            .send()
            .await
            .unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let c = c.clone();
        let stop = stop.clone();
        readers.push(tokio::spawn(async move {
            let mut last = vec![0i64; keys];
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for (k, seen) in last.iter_mut().enumerate() {
                    let got = c
                        .get_item()
                        .table_name("counters")
                        .key("pk", s(&format!("k{k}")))
                        .consistent_read(true)
                        .send()
                        .await
                        .unwrap();
                    let v: i64 = got.item.unwrap()["n"].as_n().unwrap().parse().unwrap();
                    assert!(v >= *seen, "k{k} went back from {seen} to {v}");
                    *seen = v;
                    reads += 1;
                }
            }
            reads
        }));
    }
    let mut writers = Vec::new();
    for w in 0..4 {
        let c = c.clone();
        writers.push(tokio::spawn(async move {
            for j in 0..40 {
                let k = (w + j) % keys;
                if j % 4 == 0 {
                    // A transaction bumping two counters at once.
                    let bump = |k: usize| {
                        TransactWriteItem::builder()
                            .update(
                                Update::builder()
                                    .table_name("counters")
                                    .key("pk", s(&format!("k{k}")))
                                    .update_expression("ADD n :one")
                                    .expression_attribute_values(":one", n(1))
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                    };
                    c.transact_write_items()
                        .transact_items(bump(k))
                        .transact_items(bump((k + 1) % keys))
                        .send()
                        .await
                        .unwrap();
                } else {
                    c.update_item()
                        .table_name("counters")
                        .key("pk", s(&format!("k{k}")))
                        .update_expression("ADD n :one")
                        .expression_attribute_values(":one", n(1))
                        .send()
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    assert!(reads > 0);
    // 4 writers × 40 steps: 30 single increments and 10 transactions of two each.
    let mut total = 0;
    for k in 0..keys {
        let got = c
            .get_item()
            .table_name("counters")
            .key("pk", s(&format!("k{k}")))
            .send()
            .await
            .unwrap();
        total += got.item.unwrap()["n"]
            .as_n()
            .unwrap()
            .parse::<i64>()
            .unwrap();
    }
    assert_eq!(total, 4 * (30 + 10 * 2), "every increment is visible");
    // A deleted item is gone from the cache too.
    c.delete_item()
        .table_name("counters")
        .key("pk", s("k0"))
        .send()
        .await
        .unwrap();
    let got = c
        .get_item()
        .table_name("counters")
        .key("pk", s("k0"))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_none());
}
