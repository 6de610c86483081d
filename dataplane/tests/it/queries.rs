//! Query and Scan through the SDK.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType, Select};

use crate::harness::{TestServer, code, create_table, message, n, s};

async fn seed(c: &aws_sdk_dynamodb::Client, table: &str) {
    create_table(c, table, Some(ScalarAttributeType::N)).await;
    for p in ["a", "b"] {
        for i in [-5, 0, 1, 2, 3, 10, 20, 100] {
            c.put_item()
                .table_name(table)
                .item("pk", s(p))
                .item("sk", n(i))
                .item("even", AttributeValue::Bool(i % 2 == 0))
                .send()
                .await
                .unwrap();
        }
    }
}

fn sks(items: &[std::collections::HashMap<String, AttributeValue>]) -> Vec<i64> {
    items
        .iter()
        .map(|i| match &i["sk"] {
            AttributeValue::N(v) => v.parse().unwrap(),
            _ => panic!("sk"),
        })
        .collect()
}

#[tokio::test]
async fn query_returns_partition_in_numeric_sort_order() {
    let t = TestServer::start().await;
    let c = t.client();
    seed(&c, "query1").await;
    let q = |expr: &'static str| {
        c.query()
            .table_name("query1")
            .key_condition_expression(expr)
            .expression_attribute_values(":p", s("a"))
    };
    let all = q("pk = :p").send().await.unwrap();
    assert_eq!(sks(all.items()), [-5, 0, 1, 2, 3, 10, 20, 100]);
    assert_eq!(all.count, 8);
    let rev = q("pk = :p").scan_index_forward(false).send().await.unwrap();
    assert_eq!(sks(rev.items()), [100, 20, 10, 3, 2, 1, 0, -5]);
    let gt = q("pk = :p AND sk > :v")
        .expression_attribute_values(":v", n(2))
        .send()
        .await
        .unwrap();
    assert_eq!(sks(gt.items()), [3, 10, 20, 100]);
    let le = q("pk = :p AND sk <= :v")
        .expression_attribute_values(":v", n(2))
        .send()
        .await
        .unwrap();
    assert_eq!(sks(le.items()), [-5, 0, 1, 2]);
    let between = q("pk = :p AND sk BETWEEN :lo AND :hi")
        .expression_attribute_values(":lo", n(1))
        .expression_attribute_values(":hi", n(10))
        .send()
        .await
        .unwrap();
    assert_eq!(sks(between.items()), [1, 2, 3, 10]);
    let eq = q("pk = :p AND sk = :v")
        .expression_attribute_values(":v", n(20))
        .send()
        .await
        .unwrap();
    assert_eq!(sks(eq.items()), [20]);
}

#[tokio::test]
async fn query_pages_with_limit_and_exclusive_start_key() {
    let t = TestServer::start().await;
    let c = t.client();
    seed(&c, "query2").await;
    let mut seen = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let out = c
            .query()
            .table_name("query2")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("b"))
            .limit(3)
            .set_exclusive_start_key(start.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        seen.extend(sks(out.items()));
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    assert_eq!(seen, [-5, 0, 1, 2, 3, 10, 20, 100]);
    // 8 items in pages of 3: 3 + 3 + 2, and no look-ahead after an exact limit.
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn query_filter_applies_after_limit_and_select_count_counts() {
    let t = TestServer::start().await;
    let c = t.client();
    seed(&c, "query3").await;
    let out = c
        .query()
        .table_name("query3")
        .key_condition_expression("pk = :p")
        .filter_expression("even = :t")
        .expression_attribute_values(":p", s("a"))
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .limit(4)
        .send()
        .await
        .unwrap();
    // The first four items (-5, 0, 1, 2) are read; the filter keeps 0 and 2.
    assert_eq!(out.scanned_count, 4);
    assert_eq!(sks(out.items()), [0, 2]);
    assert!(out.last_evaluated_key.is_some());
    let count = c
        .query()
        .table_name("query3")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("a"))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(count.count, 8);
    assert!(count.items.is_none() || count.items().is_empty());
}

#[tokio::test]
async fn query_pages_stop_at_one_megabyte() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "query4", Some(ScalarAttributeType::N)).await;
    let blob = "x".repeat(100 * 1024);
    for i in 0..15 {
        c.put_item()
            .table_name("query4")
            .item("pk", s("p"))
            .item("sk", n(i))
            .item("blob", s(&blob))
            .send()
            .await
            .unwrap();
    }
    let out = c
        .query()
        .table_name("query4")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    let got = out.items().len();
    assert!(
        (10..15).contains(&got),
        "a 1 MB page holds about ten 100 KB items, got {got}"
    );
    assert!(out.last_evaluated_key.is_some());
}

/// The 1 MB page bound counts the items read, before the filter drops any: a Scan whose
/// filter matches nothing still ends a page after about 1 MB, with a LastEvaluatedKey, and
/// paging on covers the whole table.
#[tokio::test]
async fn scan_pages_stop_at_one_megabyte_read_before_filtering() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "scan1mb", None).await;
    let blob = "x".repeat(100 * 1024);
    for i in 0..25 {
        c.put_item()
            .table_name("scan1mb")
            .item("pk", s(&format!("k{i:02}")))
            .item("blob", s(&blob))
            .send()
            .await
            .unwrap();
    }
    let mut start = None;
    let mut pages = Vec::new();
    loop {
        let out = c
            .scan()
            .table_name("scan1mb")
            .filter_expression("attribute_not_exists(#b)")
            .expression_attribute_names("#b", "blob")
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        assert_eq!(out.count, 0, "the filter matches nothing");
        pages.push(out.scanned_count);
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
        assert!(pages.len() <= 25, "paging does not end: {pages:?}");
    }
    assert!(
        (10..15).contains(&pages[0]),
        "a 1 MB page reads about ten 100 KB items, read {pages:?}"
    );
    assert_eq!(pages.iter().sum::<i32>(), 25, "pages {pages:?}");
}

/// A parallel Scan's start key must come from the same segment; DynamoDB's message names the
/// segment it was sent to.
#[tokio::test]
async fn a_start_key_from_another_segment_is_refused() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "segkeys", None).await;
    for i in 0..40 {
        c.put_item()
            .table_name("segkeys")
            .item("pk", s(&format!("k{i:02}")))
            .send()
            .await
            .unwrap();
    }
    let page = |segment: i32| {
        c.scan()
            .table_name("segkeys")
            .segment(segment)
            .total_segments(2)
            .limit(1)
            .send()
    };
    let from_one = page(1)
        .await
        .unwrap()
        .last_evaluated_key
        .expect("segment 1 has items");
    let err = c
        .scan()
        .table_name("segkeys")
        .segment(0)
        .total_segments(2)
        .set_exclusive_start_key(Some(from_one.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: 2 Segment: 0"
    );
    // In its own segment the key continues the scan.
    c.scan()
        .table_name("segkeys")
        .segment(1)
        .total_segments(2)
        .set_exclusive_start_key(Some(from_one))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn query_key_condition_errors_are_validation_errors() {
    let t = TestServer::start().await;
    let c = t.client();
    seed(&c, "query5").await;
    let err = c
        .query()
        .table_name("query5")
        .key_condition_expression("sk = :v")
        .expression_attribute_values(":v", n(1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = c
        .query()
        .table_name("query5")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("a"))
        .expression_attribute_values(":unused", s("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn parallel_scan_segments_cover_every_item_exactly_once() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "scan", None).await;
    for i in 0..200 {
        c.put_item()
            .table_name("scan")
            .item("pk", s(&format!("item-{i}")))
            .item("i", n(i))
            .send()
            .await
            .unwrap();
    }
    let total = 4;
    let mut seen = Vec::new();
    for segment in 0..total {
        let mut start = None;
        loop {
            let out = c
                .scan()
                .table_name("scan")
                .segment(segment)
                .total_segments(total)
                .limit(17)
                .set_exclusive_start_key(start.clone())
                .send()
                .await
                .unwrap();
            for item in out.items() {
                seen.push(item["pk"].as_s().unwrap().clone());
            }
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 200);
    let err = c
        .scan()
        .table_name("scan")
        .segment(4)
        .total_segments(4)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let filtered = c
        .scan()
        .table_name("scan")
        .filter_expression("i < :v")
        .expression_attribute_values(":v", n(10))
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.count, 10);
    assert_eq!(filtered.scanned_count, 200);
}
