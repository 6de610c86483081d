//! TransactWriteItems and TransactGetItems through the SDK: all-or-nothing writes with
//! cancellation reasons in request order, idempotency tokens, consistent multi-item reads,
//! and concurrent transfers that never change the total.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Get, Put, ReturnValuesOnConditionCheckFailure,
    TransactGetItem, TransactWriteItem, Update,
};

use crate::harness::{TestServer, code, create_table, message, n, s};

fn key(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_string(), s(pk))])
}

fn update(table: &str, pk: &str, expr: &str, values: &[(&str, AttributeValue)]) -> Update {
    let mut u = Update::builder()
        .table_name(table)
        .set_key(Some(key(pk)))
        .update_expression(expr);
    for (k, v) in values {
        u = u.expression_attribute_values(*k, v.clone());
    }
    u.build().unwrap()
}

fn tw_update(u: Update) -> TransactWriteItem {
    TransactWriteItem::builder().update(u).build()
}

async fn balance(c: &Client, table: &str, pk: &str) -> Option<i64> {
    c.get_item()
        .table_name(table)
        .key("pk", s(pk))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .and_then(|i| i.get("balance").map(|b| b.as_n().unwrap().parse().unwrap()))
}

#[tokio::test]
async fn a_transaction_applies_all_or_nothing_with_reasons_in_order() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "txa", None).await;
    create_table(&c, "txb", None).await;
    c.put_item()
        .table_name("txa")
        .item("pk", s("a"))
        .item("balance", n(10))
        .send()
        .await
        .unwrap();
    c.put_item()
        .table_name("txb")
        .item("pk", s("gone"))
        .send()
        .await
        .unwrap();
    // All four kinds of action, across two tables.
    c.transact_write_items()
        .transact_items(tw_update(update(
            "txa",
            "a",
            "SET balance = balance - :v",
            &[(":v", n(4))],
        )))
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("txb")
                        .item("pk", s("b"))
                        .item("balance", n(4))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name("txb")
                        .set_key(Some(key("gone")))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name("txa")
                        .set_key(Some(key("nobody")))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(balance(&c, "txa", "a").await, Some(6));
    assert_eq!(balance(&c, "txb", "b").await, Some(4));
    assert!(
        c.get_item()
            .table_name("txb")
            .key("pk", s("gone"))
            .send()
            .await
            .unwrap()
            .item
            .is_none()
    );

    // The second action's condition fails: nothing is written, and the reasons come back in
    // request order, with the old item where asked for.
    let err = c
        .transact_write_items()
        .transact_items(tw_update(update(
            "txa",
            "a",
            "SET balance = balance - :v",
            &[(":v", n(1))],
        )))
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name("txb")
                        .set_key(Some(key("b")))
                        .condition_expression("balance > :big")
                        .expression_attribute_values(":big", n(100))
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TransactionCanceledException");
    assert_eq!(
        message(&err),
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
    );
    let SdkError::ServiceError(se) = &err else {
        panic!("service error expected: {err:?}")
    };
    let TransactWriteItemsError::TransactionCanceledException(tc) = se.err() else {
        panic!("TransactionCanceledException expected")
    };
    let reasons = tc.cancellation_reasons();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].code(), Some("None"));
    assert_eq!(reasons[1].code(), Some("ConditionalCheckFailed"));
    assert_eq!(reasons[1].item().unwrap()["balance"], n(4));
    assert_eq!(balance(&c, "txa", "a").await, Some(6), "nothing written");

    // One item twice in one transaction.
    let err = c
        .transact_write_items()
        .transact_items(tw_update(update("txa", "a", "SET x = :v", &[(":v", n(1))])))
        .transact_items(tw_update(update("txa", "a", "SET y = :v", &[(":v", n(1))])))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "Transaction request cannot include multiple operations on one item"
    );
    // More than 4 MB of items in one transaction.
    let mut big = c.transact_write_items();
    for i in 0..11 {
        big = big.transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("txb")
                        .item("pk", s(&format!("big{i}")))
                        .item("blob", s(&"x".repeat(390_000)))
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    }
    let err = big.send().await.unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // 11 items of "pk" (2) + "big0".."big10" (4 or 5) + "blob" (4) + 390,000 bytes; DynamoDB
    // Local reports the same size for this request.
    assert_eq!(
        message(&err),
        "Transaction payload size cannot exceed 4MB. Payload Size: 4290111"
    );
    assert!(
        c.get_item()
            .table_name("txb")
            .key("pk", s("big0"))
            .send()
            .await
            .unwrap()
            .item
            .is_none()
    );
    // A missing table.
    let err = c
        .transact_write_items()
        .transact_items(tw_update(update(
            "nope",
            "a",
            "SET x = :v",
            &[(":v", n(1))],
        )))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn a_client_request_token_makes_a_transaction_idempotent() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "txi", None).await;
    let send = |token: &'static str, by: i64| {
        c.transact_write_items()
            .client_request_token(token)
            .transact_items(tw_update(update(
                "txi",
                "counter",
                "ADD balance :v",
                &[(":v", n(by))],
            )))
            .send()
    };
    send("token-1", 5).await.unwrap();
    send("token-1", 5).await.unwrap();
    assert_eq!(balance(&c, "txi", "counter").await, Some(5), "applied once");
    let err = send("token-1", 6).await.unwrap_err();
    assert_eq!(code(&err), "IdempotentParameterMismatchException");
    send("token-2", 6).await.unwrap();
    assert_eq!(balance(&c, "txi", "counter").await, Some(11));
}

/// A token outlives a restart: the retry after it answers the first result, writing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_request_token_is_remembered_across_a_restart() {
    let t = TestServer::start_with(|_| {}, tempfile::tempdir().unwrap()).await;
    let c = t.client();
    create_table(&c, "txr", None).await;
    let send = |c: aws_sdk_dynamodb::Client, by: i64| async move {
        c.transact_write_items()
            .client_request_token("restart-token")
            .transact_items(tw_update(update(
                "txr",
                "counter",
                "ADD balance :v",
                &[(":v", n(by))],
            )))
            .send()
            .await
    };
    send(c.clone(), 5).await.unwrap();
    let TestServer { server, dir } = t;
    server.shutdown().await;
    let t = TestServer::start_with(|_| {}, dir).await;
    let c = t.client();
    send(c.clone(), 5).await.expect("replayed");
    assert_eq!(balance(&c, "txr", "counter").await, Some(5), "applied once");
    let err = send(c.clone(), 6).await.unwrap_err();
    assert_eq!(code(&err), "IdempotentParameterMismatchException");
}

#[tokio::test]
async fn transact_get_items_reads_several_items_in_order() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "txg", None).await;
    for (pk, b) in [("a", 1), ("b", 2)] {
        c.put_item()
            .table_name("txg")
            .item("pk", s(pk))
            .item("balance", n(b))
            .item("other", s("x"))
            .send()
            .await
            .unwrap();
    }
    let get = |pk: &str| {
        TransactGetItem::builder()
            .get(
                Get::builder()
                    .table_name("txg")
                    .set_key(Some(key(pk)))
                    .projection_expression("balance")
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let out = c
        .transact_get_items()
        .transact_items(get("b"))
        .transact_items(get("missing"))
        .transact_items(get("a"))
        .send()
        .await
        .unwrap();
    let items: Vec<Option<i64>> = out
        .responses()
        .iter()
        .map(|r| {
            r.item()
                .map(|i| i["balance"].as_n().unwrap().parse().unwrap())
        })
        .collect();
    assert_eq!(items, [Some(2), None, Some(1)]);
    assert_eq!(
        out.responses()[0].item().unwrap().len(),
        1,
        "projection applied"
    );
}

/// Concurrent transfers between accounts, mixed with single-item writes to the same items:
/// the total never changes, no balance goes negative, and every acknowledged single-item
/// write is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transfers_keep_the_total() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "bank", None).await;
    let accounts = 6;
    for i in 0..accounts {
        c.put_item()
            .table_name("bank")
            .item("pk", s(&format!("acct{i}")))
            .item("balance", n(100))
            .item("touches", n(0))
            .send()
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let (mut committed, mut touches) = (0, 0);
            let mut rng = w.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for _ in 0..40 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let from = (rng % accounts) as usize;
                let to = ((rng >> 8) % (accounts - 1)) as usize;
                let to = if to >= from { to + 1 } else { to };
                let amount = 1 + (rng >> 16) % 30;
                let res = c
                    .transact_write_items()
                    .transact_items(tw_update(
                        Update::builder()
                            .table_name("bank")
                            .set_key(Some(key(&format!("acct{from}"))))
                            .update_expression("SET balance = balance - :a")
                            .condition_expression("balance >= :a")
                            .expression_attribute_values(":a", n(amount))
                            .build()
                            .unwrap(),
                    ))
                    .transact_items(tw_update(update(
                        "bank",
                        &format!("acct{to}"),
                        "SET balance = balance + :a",
                        &[(":a", n(amount))],
                    )))
                    .send()
                    .await;
                match res {
                    Ok(_) => committed += 1,
                    Err(e) => assert_eq!(code(&e), "TransactionCanceledException"),
                }
                // A single-item write to an item the transactions also write.
                c.update_item()
                    .table_name("bank")
                    .key("pk", s(&format!("acct{to}")))
                    .update_expression("ADD touches :one")
                    .expression_attribute_values(":one", n(1))
                    .send()
                    .await
                    .unwrap();
                touches += 1;
            }
            (committed, touches)
        }));
    }
    let (mut committed, mut touches) = (0, 0);
    for t in tasks {
        let (c, n) = t.await.unwrap();
        committed += c;
        touches += n;
    }
    assert!(committed > 0, "some transfers went through");
    let scan = c.scan().table_name("bank").send().await.unwrap();
    let total: i64 = scan
        .items()
        .iter()
        .map(|i| i["balance"].as_n().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(
        total,
        100 * accounts as i64,
        "money is neither made nor lost"
    );
    assert!(
        scan.items()
            .iter()
            .all(|i| i["balance"].as_n().unwrap().parse::<i64>().unwrap() >= 0)
    );
    let counted: i64 = scan
        .items()
        .iter()
        .map(|i| i["touches"].as_n().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(counted, touches, "no single-item write lost");
}
