//! Global and local secondary indexes through the SDK: definitions, maintenance on every kind
//! of write, Query and Scan through an index with DynamoDB's projection and paging rules, and
//! the errors for bad definitions and bad index keys.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, GlobalSecondaryIndex, KeyType, LocalSecondaryIndex, Projection,
    ProjectionType, ProvisionedThroughput, PutRequest, ScalarAttributeType, Select, WriteRequest,
};

use crate::harness::{TestServer, attr, code, key, message, n, s};

type Item = HashMap<String, AttributeValue>;

fn projection(t: ProjectionType, non_key: &[&str]) -> Projection {
    let mut p = Projection::builder().projection_type(t);
    for a in non_key {
        p = p.non_key_attributes(*a);
    }
    p.build()
}

fn gsi(name: &str, hash: &str, range: Option<&str>, p: Projection) -> GlobalSecondaryIndex {
    let mut b = GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash))
        .projection(p);
    if let Some(r) = range {
        b = b.key_schema(key(r, KeyType::Range));
    }
    b.build().unwrap()
}

fn lsi(name: &str, range: &str, p: Projection) -> LocalSecondaryIndex {
    LocalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key(range, KeyType::Range))
        .projection(p)
        .build()
        .unwrap()
}

/// `orders`: key (pk S, sk N); GSI `by_status` (status S, amount N) projecting `note`;
/// LSI `by_day` (pk, day S) keys only; GSI `by_customer` (customer S) projecting all.
async fn create_orders(c: &Client, name: &str) {
    c.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("status", ScalarAttributeType::S))
        .attribute_definitions(attr("amount", ScalarAttributeType::N))
        .attribute_definitions(attr("day", ScalarAttributeType::S))
        .attribute_definitions(attr("customer", ScalarAttributeType::S))
        .global_secondary_indexes(gsi(
            "by_status",
            "status",
            Some("amount"),
            projection(ProjectionType::Include, &["note"]),
        ))
        .global_secondary_indexes(gsi(
            "by_customer",
            "customer",
            None,
            projection(ProjectionType::All, &[]),
        ))
        .local_secondary_indexes(lsi(
            "by_day",
            "day",
            projection(ProjectionType::KeysOnly, &[]),
        ))
        .send()
        .await
        .expect("create table with indexes");
}

fn order(pk: &str, sk: i64, status: Option<&str>, amount: i64, day: &str) -> Item {
    let mut m = HashMap::from([
        ("pk".to_string(), s(pk)),
        ("sk".to_string(), n(sk)),
        ("amount".to_string(), n(amount)),
        ("day".to_string(), s(day)),
        ("customer".to_string(), s(&format!("c-{pk}"))),
        ("note".to_string(), s(&format!("note {pk}/{sk}"))),
        ("secret".to_string(), s("not projected")),
    ]);
    if let Some(st) = status {
        m.insert("status".to_string(), s(st));
    }
    m
}

async fn put(c: &Client, table: &str, item: Item) {
    c.put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

fn keys_of(items: &[Item]) -> Vec<(String, i64)> {
    items
        .iter()
        .map(|i| {
            (
                i["pk"].as_s().unwrap().clone(),
                i["sk"].as_n().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

async fn query_status(c: &Client, table: &str, status: &str) -> Vec<Item> {
    c.query()
        .table_name(table)
        .index_name("by_status")
        .key_condition_expression("#s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", s(status))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

#[tokio::test]
async fn gsi_follows_puts_updates_and_deletes() {
    let t = TestServer::start().await;
    let c = t.client();
    create_orders(&c, "orders").await;
    put(&c, "orders", order("a", 1, Some("open"), 30, "d1")).await;
    put(&c, "orders", order("a", 2, Some("open"), 10, "d2")).await;
    put(&c, "orders", order("b", 1, Some("open"), 20, "d1")).await;
    put(&c, "orders", order("b", 2, Some("shipped"), 5, "d3")).await;
    // Sparse: no status, so not in by_status.
    put(&c, "orders", order("c", 1, None, 99, "d1")).await;
    // Same index key as a/2: index keys need not be unique.
    put(&c, "orders", order("c", 2, Some("open"), 10, "d4")).await;

    let open = query_status(&c, "orders", "open").await;
    assert_eq!(
        keys_of(&open),
        [
            ("a".into(), 2),
            ("c".into(), 2),
            ("b".into(), 1),
            ("a".into(), 1)
        ],
        "ordered by amount, then table key"
    );
    // INCLUDE projection: keys of table and index plus `note`, nothing else.
    let attrs: BTreeSet<&str> = open[0].keys().map(|k| k.as_str()).collect();
    assert_eq!(
        attrs,
        BTreeSet::from(["pk", "sk", "status", "amount", "note"])
    );

    // UpdateItem moves an item between index keys; the old entry goes.
    c.update_item()
        .table_name("orders")
        .key("pk", s("a"))
        .key("sk", n(1))
        .update_expression("SET #s = :s, note = :n")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", s("shipped"))
        .expression_attribute_values(":n", s("moved"))
        .send()
        .await
        .unwrap();
    let open = query_status(&c, "orders", "open").await;
    assert_eq!(
        keys_of(&open),
        [("a".into(), 2), ("c".into(), 2), ("b".into(), 1)]
    );
    let shipped = query_status(&c, "orders", "shipped").await;
    assert_eq!(keys_of(&shipped), [("b".into(), 2), ("a".into(), 1)]);
    assert_eq!(shipped[1]["note"], s("moved"), "projection refreshed");

    // Removing the index key drops the entry; DeleteItem and an overwriting PutItem too.
    c.update_item()
        .table_name("orders")
        .key("pk", s("b"))
        .key("sk", n(2))
        .update_expression("REMOVE #s")
        .expression_attribute_names("#s", "status")
        .send()
        .await
        .unwrap();
    c.delete_item()
        .table_name("orders")
        .key("pk", s("a"))
        .key("sk", n(2))
        .send()
        .await
        .unwrap();
    put(&c, "orders", order("c", 2, Some("shipped"), 7, "d4")).await;
    assert_eq!(
        keys_of(&query_status(&c, "orders", "open").await),
        [("b".into(), 1)]
    );
    assert_eq!(
        keys_of(&query_status(&c, "orders", "shipped").await),
        [("c".into(), 2), ("a".into(), 1)]
    );

    // A key condition on the index sort key, and descending order.
    let big = c
        .query()
        .table_name("orders")
        .index_name("by_status")
        .key_condition_expression("#s = :s AND amount BETWEEN :lo AND :hi")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", s("shipped"))
        .expression_attribute_values(":lo", n(7))
        .expression_attribute_values(":hi", n(30))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    assert_eq!(keys_of(big.items()), [("a".into(), 1), ("c".into(), 2)]);

    // A GSI with only a hash key, projecting everything.
    let by_customer = c
        .query()
        .table_name("orders")
        .index_name("by_customer")
        .key_condition_expression("customer = :c")
        .expression_attribute_values(":c", s("c-b"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_customer.count, 2);
    assert!(by_customer.items()[0].contains_key("secret"));

    // BatchWriteItem maintains indexes too.
    c.batch_write_item()
        .request_items(
            "orders",
            vec![
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(order("d", 1, Some("open"), 1, "d9")))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys_of(&query_status(&c, "orders", "open").await),
        [("d".into(), 1), ("b".into(), 1)]
    );
}

#[tokio::test]
async fn index_reads_apply_projection_select_and_paging_rules() {
    let t = TestServer::start().await;
    let c = t.client();
    create_orders(&c, "orders2").await;
    for i in 0..9 {
        put(
            &c,
            "orders2",
            order("p", i, Some("open"), 100 - i, &format!("d{i}")),
        )
        .await;
    }
    // LSI, keys only: the default select returns the projected keys...
    let q = || {
        c.query()
            .table_name("orders2")
            .index_name("by_day")
            .key_condition_expression("pk = :p AND #d >= :d")
            .expression_attribute_names("#d", "day")
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":d", s("d5"))
    };
    let keys_only = q().send().await.unwrap();
    assert_eq!(keys_only.count, 4);
    let attrs: BTreeSet<&str> = keys_only.items()[0].keys().map(|k| k.as_str()).collect();
    assert_eq!(attrs, BTreeSet::from(["pk", "sk", "day"]));
    // ...and ALL_ATTRIBUTES on a local index fetches the items from the table.
    let all = q().select(Select::AllAttributes).send().await.unwrap();
    assert_eq!(all.items()[0], order("p", 5, Some("open"), 95, "d5"));
    // So does a projection or a filter naming an unprojected attribute.
    let proj = q()
        .projection_expression("secret, sk")
        .send()
        .await
        .unwrap();
    assert_eq!(proj.items()[0]["secret"], s("not projected"));
    // A Query filter must stay within the projection, even on a local index.
    let err = q()
        .filter_expression("amount < :a")
        .expression_attribute_values(":a", n(94))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "One or more parameter values were invalid: Secondary index by_day does not project one or more filter attributes: [amount]"
    );
    // A Scan of a local index may filter on anything: the items are read from the table.
    let filtered = c
        .scan()
        .table_name("orders2")
        .index_name("by_day")
        .filter_expression("amount < :a")
        .expression_attribute_values(":a", n(94))
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.count, 2);
    assert_eq!(filtered.scanned_count, 9);

    // On a global index with a partial projection, ALL_ATTRIBUTES is refused.
    let err = c
        .query()
        .table_name("orders2")
        .index_name("by_status")
        .key_condition_expression("#s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", s("open"))
        .select(Select::AllAttributes)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // Consistent reads are refused on global indexes, allowed on local ones.
    let err = c
        .query()
        .table_name("orders2")
        .index_name("by_status")
        .key_condition_expression("#s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", s("open"))
        .consistent_read(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "Consistent reads are not supported on global secondary indexes"
    );
    q().consistent_read(true).send().await.unwrap();
    // An unknown index.
    let err = c
        .query()
        .table_name("orders2")
        .index_name("nope")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "The table does not have the specified index: nope"
    );

    // Paging through a GSI: every entry exactly once, in order; LastEvaluatedKey carries
    // the table key and the index key.
    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = c
            .query()
            .table_name("orders2")
            .index_name("by_status")
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", s("open"))
            .limit(2)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        seen.extend(keys_of(page.items()));
        match page.last_evaluated_key {
            Some(k) => {
                let names: BTreeSet<&str> = k.keys().map(|k| k.as_str()).collect();
                assert_eq!(names, BTreeSet::from(["pk", "sk", "status", "amount"]));
                start = Some(k);
            }
            None => break,
        }
    }
    let expected: Vec<(String, i64)> = (0..9).rev().map(|i| ("p".to_string(), i)).collect();
    assert_eq!(seen, expected, "ascending amount = descending sk");

    // Scan through an index, also in parallel segments.
    let scan = c
        .scan()
        .table_name("orders2")
        .index_name("by_day")
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count, 9);
    let mut segmented = 0;
    for seg in 0..3 {
        segmented += c
            .scan()
            .table_name("orders2")
            .index_name("by_status")
            .segment(seg)
            .total_segments(3)
            .send()
            .await
            .unwrap()
            .count;
    }
    assert_eq!(segmented, 9);
}

#[tokio::test]
async fn writes_with_mistyped_index_keys_are_refused_and_change_nothing() {
    let t = TestServer::start().await;
    let c = t.client();
    create_orders(&c, "orders3").await;
    let mut bad = order("a", 1, None, 1, "d1");
    bad.insert("status".into(), n(5));
    let err = c
        .put_item()
        .table_name("orders3")
        .set_item(Some(bad))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(message(&err).contains("status"), "{}", message(&err));
    let mut empty = order("a", 1, None, 1, "d1");
    empty.insert("status".into(), s(""));
    let err = c
        .put_item()
        .table_name("orders3")
        .set_item(Some(empty))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    put(&c, "orders3", order("a", 1, Some("open"), 1, "d1")).await;
    let err = c
        .update_item()
        .table_name("orders3")
        .key("pk", s("a"))
        .key("sk", n(1))
        .update_expression("SET amount = :a")
        .expression_attribute_values(":a", s("lots"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let got = c
        .get_item()
        .table_name("orders3")
        .key("pk", s("a"))
        .key("sk", n(1))
        .send()
        .await
        .unwrap();
    assert_eq!(got.item.unwrap()["amount"], n(1), "the item is unchanged");
    assert_eq!(query_status(&c, "orders3", "open").await.len(), 1);
}

#[tokio::test]
async fn describe_table_lists_indexes_and_bad_definitions_are_refused() {
    let t = TestServer::start().await;
    let c = t.client();
    create_orders(&c, "orders4").await;
    let d = c
        .describe_table()
        .table_name("orders4")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let g = d.global_secondary_indexes();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].index_name(), Some("by_status"));
    assert_eq!(
        g[0].index_status(),
        Some(&aws_sdk_dynamodb::types::IndexStatus::Active)
    );
    assert_eq!(
        g[0].projection().unwrap().non_key_attributes(),
        ["note".to_string()]
    );
    assert!(
        g[0].index_arn()
            .unwrap()
            .ends_with("table/orders4/index/by_status")
    );
    let l = d.local_secondary_indexes();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].key_schema()[1].attribute_name(), "day");

    let base = || {
        c.create_table()
            .table_name("bad")
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .attribute_definitions(attr("pk", ScalarAttributeType::S))
    };
    // A local index needs a table with a range key.
    let err = base()
        .attribute_definitions(attr("x", ScalarAttributeType::S))
        .local_secondary_indexes(lsi("l", "x", projection(ProjectionType::All, &[])))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // An index key must be defined.
    let err = base()
        .global_secondary_indexes(gsi("idx1", "x", None, projection(ProjectionType::All, &[])))
        .send()
        .await
        .unwrap_err();
    assert!(
        message(&err).contains("Some index key attributes are not defined"),
        "{}",
        message(&err)
    );
    // INCLUDE needs NonKeyAttributes.
    let err = base()
        .attribute_definitions(attr("x", ScalarAttributeType::S))
        .global_secondary_indexes(gsi(
            "idx1",
            "x",
            None,
            projection(ProjectionType::Include, &[]),
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // Duplicate names.
    let err = base()
        .attribute_definitions(attr("x", ScalarAttributeType::S))
        .global_secondary_indexes(gsi("idx1", "x", None, projection(ProjectionType::All, &[])))
        .global_secondary_indexes(gsi("idx1", "x", None, projection(ProjectionType::All, &[])))
        .send()
        .await
        .unwrap_err();
    assert!(message(&err).contains("idx1"), "{}", message(&err));
    // Throughput on an on-demand table's index.
    let mut with_tp = gsi("idx1", "x", None, projection(ProjectionType::All, &[]));
    with_tp.provisioned_throughput = Some(
        ProvisionedThroughput::builder()
            .read_capacity_units(1)
            .write_capacity_units(1)
            .build()
            .unwrap(),
    );
    let err = base()
        .attribute_definitions(attr("x", ScalarAttributeType::S))
        .global_secondary_indexes(with_tp)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    // Nothing was created by the failed attempts.
    let tables = c.list_tables().send().await.unwrap();
    assert_eq!(tables.table_names(), ["orders4".to_string()]);
}

#[tokio::test]
async fn deleting_a_table_removes_its_index_entries() {
    let t = TestServer::start().await;
    let c = t.client();
    create_orders(&c, "orders5").await;
    put(&c, "orders5", order("a", 1, Some("open"), 1, "d1")).await;
    c.delete_table().table_name("orders5").send().await.unwrap();
    create_orders(&c, "orders5").await;
    assert!(query_status(&c, "orders5", "open").await.is_empty());
    let scan = c
        .scan()
        .table_name("orders5")
        .index_name("by_day")
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count, 0);
}

/// Concurrent writers move items between index keys; afterwards the index holds exactly one
/// entry per item, with the item's current key (no orphan, no duplicate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_agrees_with_table_after_concurrent_moves() {
    let t = TestServer::start().await;
    let c = t.client();
    create_orders(&c, "orders6").await;
    for i in 0..5 {
        put(&c, "orders6", order("p", i, Some("s0"), i, "d")).await;
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..25 {
                let sk = (w + j) % 5;
                c.update_item()
                    .table_name("orders6")
                    .key("pk", s("p"))
                    .key("sk", n(sk))
                    .update_expression("SET #s = :s, amount = amount + :one")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":s", s(&format!("s{}", (w * 7 + j) % 3)))
                    .expression_attribute_values(":one", n(1))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let table = c.scan().table_name("orders6").send().await.unwrap();
    let expect: BTreeSet<(String, String, String)> = table
        .items()
        .iter()
        .map(|i| {
            (
                i["sk"].as_n().unwrap().clone(),
                i["status"].as_s().unwrap().clone(),
                i["amount"].as_n().unwrap().clone(),
            )
        })
        .collect();
    let index = c
        .scan()
        .table_name("orders6")
        .index_name("by_status")
        .send()
        .await
        .unwrap();
    assert_eq!(index.count, 5, "one entry per item");
    let got: BTreeSet<(String, String, String)> = index
        .items()
        .iter()
        .map(|i| {
            (
                i["sk"].as_n().unwrap().clone(),
                i["status"].as_s().unwrap().clone(),
                i["amount"].as_n().unwrap().clone(),
            )
        })
        .collect();
    assert_eq!(got, expect);
    let total: i64 = table
        .items()
        .iter()
        .map(|i| i["amount"].as_n().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 10 + 8 * 25, "no lost update");
}

async fn gsi_status(c: &Client, table: &str, index: &str) -> Option<(String, bool)> {
    let d = c
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    d.global_secondary_indexes()
        .iter()
        .find(|g| g.index_name() == Some(index))
        .map(|g| {
            (
                g.index_status().unwrap().as_str().to_string(),
                g.backfilling().unwrap_or(false),
            )
        })
}

async fn wait_active(c: &Client, table: &str, index: &str) {
    for _ in 0..400 {
        if gsi_status(c, table, index).await == Some(("ACTIVE".into(), false)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("index {index} did not become ACTIVE");
}

fn create_gsi_update(
    name: &str,
    hash: &str,
) -> aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate {
    aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
        .create(
            aws_sdk_dynamodb::types::CreateGlobalSecondaryIndexAction::builder()
                .index_name(name)
                .key_schema(key(hash, KeyType::Hash))
                .projection(projection(ProjectionType::KeysOnly, &[]))
                .build()
                .unwrap(),
        )
        .build()
}

fn delete_gsi_update(name: &str) -> aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate {
    aws_sdk_dynamodb::types::GlobalSecondaryIndexUpdate::builder()
        .delete(
            aws_sdk_dynamodb::types::DeleteGlobalSecondaryIndexAction::builder()
                .index_name(name)
                .build()
                .unwrap(),
        )
        .build()
}

/// A global index added to a populated table while writers keep changing it: the backfill
/// and the writers together leave exactly one entry per item, with its current key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gsi_added_by_update_table_backfills_under_concurrent_writes() {
    let t = TestServer::start().await;
    let c = t.client();
    crate::harness::create_table(&c, "grow", None).await;
    for i in 0..600 {
        c.put_item()
            .table_name("grow")
            .item("pk", s(&format!("k{i}")))
            .item("colour", s(["red", "green", "blue"][i % 3]))
            .send()
            .await
            .unwrap();
    }
    // An item whose future index key has another type: the new index leaves it out.
    c.put_item()
        .table_name("grow")
        .item("pk", s("odd"))
        .item("colour", n(5))
        .send()
        .await
        .unwrap();
    let writer = {
        let c = c.clone();
        tokio::spawn(async move {
            for j in 0..300 {
                let k = format!("k{}", (j * 7) % 700);
                c.put_item()
                    .table_name("grow")
                    .item("pk", s(&k))
                    .item("colour", s(["red", "green", "blue", "mauve"][j % 4]))
                    .send()
                    .await
                    .unwrap();
                if j % 5 == 0 {
                    c.delete_item()
                        .table_name("grow")
                        .key("pk", s(&format!("k{}", (j * 11) % 600)))
                        .send()
                        .await
                        .unwrap();
                }
            }
        })
    };
    let out = c
        .update_table()
        .table_name("grow")
        .attribute_definitions(attr("colour", ScalarAttributeType::S))
        .global_secondary_index_updates(create_gsi_update("by_colour", "colour"))
        .send()
        .await
        .unwrap();
    let desc = out.table_description.unwrap();
    assert_eq!(
        desc.table_status(),
        Some(&aws_sdk_dynamodb::types::TableStatus::Updating)
    );
    assert_eq!(
        desc.global_secondary_indexes()[0].index_status(),
        Some(&aws_sdk_dynamodb::types::IndexStatus::Creating)
    );
    // A second create of the same index while it is being built.
    let err = c
        .update_table()
        .table_name("grow")
        .attribute_definitions(attr("colour", ScalarAttributeType::S))
        .global_secondary_index_updates(create_gsi_update("by_colour", "colour"))
        .send()
        .await
        .unwrap_err();
    assert!(
        ["ResourceInUseException", "ValidationException"].contains(&code(&err).as_str()),
        "{}",
        code(&err)
    );
    writer.await.unwrap();
    wait_active(&c, "grow", "by_colour").await;

    let mut table: BTreeSet<(String, String)> = BTreeSet::new();
    let mut start = None;
    loop {
        let page = c
            .scan()
            .table_name("grow")
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for i in page.items() {
            if let Ok(colour) = i["colour"].as_s() {
                table.insert((i["pk"].as_s().unwrap().clone(), colour.clone()));
            }
        }
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    let mut index = Vec::new();
    for colour in ["red", "green", "blue", "mauve"] {
        let mut start = None;
        loop {
            let page = c
                .query()
                .table_name("grow")
                .index_name("by_colour")
                .key_condition_expression("colour = :c")
                .expression_attribute_values(":c", s(colour))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            for i in page.items() {
                index.push((
                    i["pk"].as_s().unwrap().clone(),
                    i["colour"].as_s().unwrap().clone(),
                ));
            }
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    assert_eq!(index.len(), table.len(), "one entry per item");
    assert_eq!(index.into_iter().collect::<BTreeSet<_>>(), table);
    let whole = c
        .scan()
        .table_name("grow")
        .index_name("by_colour")
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(
        whole.count as usize,
        table.len(),
        "the N-typed colour is not indexed"
    );

    // Deleting the index: reads through it stop, and its key attribute is no longer defined.
    let out = c
        .update_table()
        .table_name("grow")
        .global_secondary_index_updates(delete_gsi_update("by_colour"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.table_description.unwrap().global_secondary_indexes()[0].index_status(),
        Some(&aws_sdk_dynamodb::types::IndexStatus::Deleting)
    );
    let err = c
        .query()
        .table_name("grow")
        .index_name("by_colour")
        .key_condition_expression("colour = :c")
        .expression_attribute_values(":c", s("red"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "The table does not have the specified index: by_colour"
    );
    let d = c
        .describe_table()
        .table_name("grow")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert!(d.global_secondary_indexes().is_empty());
    assert_eq!(d.attribute_definitions().len(), 1);
    // Deleting an index that does not exist.
    let err = c
        .update_table()
        .table_name("grow")
        .global_secondary_index_updates(delete_gsi_update("by_colour"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
}

/// A backfill cut short by a shutdown resumes when the server starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_backfill_resumes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let t = TestServer::start_with(|_| {}, dir).await;
    let c = t.client();
    crate::harness::create_table(&c, "resume", None).await;
    for i in 0..3000 {
        c.put_item()
            .table_name("resume")
            .item("pk", s(&format!("k{i}")))
            .item("g", s(&format!("g{}", i % 10)))
            .send()
            .await
            .unwrap();
    }
    c.update_table()
        .table_name("resume")
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .global_secondary_index_updates(create_gsi_update("by_g", "g"))
        .send()
        .await
        .unwrap();
    let TestServer { server, dir } = t;
    server.shutdown().await;
    assert_eq!(dir.path(), path);
    let t = TestServer::start_with(|_| {}, dir).await;
    let c = t.client();
    wait_active(&c, "resume", "by_g").await;
    let count = c
        .scan()
        .table_name("resume")
        .index_name("by_g")
        .select(Select::Count)
        .send()
        .await
        .unwrap()
        .count;
    assert_eq!(count, 3000);
}

/// BatchWriteItem and TransactWriteItems report ItemCollectionMetrics per table: one entry
/// per item collection (partition) written, for tables with a local index only.
#[tokio::test]
async fn multi_item_writes_report_the_item_collections_they_touch() {
    use aws_sdk_dynamodb::types::{
        PutRequest, ReturnItemCollectionMetrics, TransactWriteItem, WriteRequest,
    };
    let t = TestServer::start().await;
    let c = t.client();
    create_orders(&c, "collb").await;
    let put = |pk: &str, sk: i64| {
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .set_item(Some(order(pk, sk, Some("open"), sk, "d")))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let out = c
        .batch_write_item()
        .request_items("collb", vec![put("p", 1), put("p", 2), put("q", 1)])
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    let metrics = out.item_collection_metrics.expect("metrics asked for");
    let mut keys: Vec<String> = metrics["collb"]
        .iter()
        .map(|m| {
            m.item_collection_key.as_ref().unwrap()["pk"]
                .as_s()
                .unwrap()
                .clone()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["p", "q"], "one entry per partition written");
    // Not asked for: none.
    let out = c
        .batch_write_item()
        .request_items("collb", vec![put("r", 1)])
        .send()
        .await
        .unwrap();
    assert!(out.item_collection_metrics.is_none());
    let out = c
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    aws_sdk_dynamodb::types::Put::builder()
                        .table_name("collb")
                        .set_item(Some(order("s", 1, Some("open"), 1, "d")))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    let metrics = out.item_collection_metrics.expect("metrics asked for");
    assert_eq!(
        metrics["collb"][0].item_collection_key.as_ref().unwrap()["pk"],
        s("s")
    );
}

/// On a table with a local index, an item collection (the items of one partition key and
/// their local-index entries) has a size limit (10 GB in DynamoDB, 2 KB here), reported by
/// ItemCollectionMetrics.
#[tokio::test]
async fn item_collections_of_tables_with_local_indexes_are_limited() {
    let t = TestServer::start_with(
        |c| c.item_collection_limit = 2_000,
        tempfile::tempdir().unwrap(),
    )
    .await;
    let c = t.client();
    create_orders(&c, "coll").await;
    let big = |pk: &str, sk: i64| {
        let mut item = order(pk, sk, Some("open"), sk, "d");
        item.insert("secret".into(), s(&"x".repeat(300)));
        item
    };
    let mut stored = 0;
    let err = loop {
        let res = c
            .put_item()
            .table_name("coll")
            .set_item(Some(big("p", stored)))
            .return_item_collection_metrics(
                aws_sdk_dynamodb::types::ReturnItemCollectionMetrics::Size,
            )
            .send()
            .await;
        match res {
            Ok(out) => {
                let m = out.item_collection_metrics.expect("metrics");
                assert_eq!(m.item_collection_key.unwrap()["pk"], s("p"));
                assert_eq!(m.size_estimate_range_gb.unwrap(), [0.0, 1.0]);
                stored += 1;
            }
            Err(e) => break e,
        }
        assert!(stored < 20, "the limit never hit");
    };
    assert_eq!(code(&err), "ItemCollectionSizeLimitExceededException");
    assert!((3..=6).contains(&stored), "{stored} items fit in 2 KB");
    // Another partition has its own collection; a delete makes room again.
    put(&c, "coll", big("q", 0)).await;
    c.delete_item()
        .table_name("coll")
        .key("pk", s("p"))
        .key("sk", n(0))
        .send()
        .await
        .unwrap();
    put(&c, "coll", big("p", 100)).await;

    // A transaction counts its own earlier actions: ten items that each fit, but not
    // together, cancel it (reason ItemCollectionSizeLimitExceeded on the first that does not
    // fit), and nothing is written.
    let mut tx = c.transact_write_items();
    for sk in 0..10 {
        tx = tx.transact_items(
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .put(
                    aws_sdk_dynamodb::types::Put::builder()
                        .table_name("coll")
                        .set_item(Some(big("t", sk)))
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    }
    let err = tx.send().await.unwrap_err();
    assert_eq!(code(&err), "TransactionCanceledException");
    assert!(
        message(&err).contains("[None, None, None, ")
            && message(&err).contains("ItemCollectionSizeLimitExceeded"),
        "{}",
        message(&err)
    );
    let left = c
        .query()
        .table_name("coll")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("t"))
        .send()
        .await
        .unwrap();
    assert_eq!(left.count, 0, "nothing written");
}

/// Sends a signed UpdateItem and closes the connection without waiting for the answer: the
/// server must still finish the write as one unit (it holds the item's lock until the commit).
async fn fire_and_forget(endpoint: &str, body: &str) {
    use tokio::io::AsyncWriteExt;
    let host = endpoint.trim_start_matches("http://");
    let target = "DynamoDB_20120810.UpdateItem";
    let date = tabula_dataplane::auth::amz_date_now();
    let authz = tabula_dataplane::auth::sign_request(
        "AKIDTEST",
        "secret",
        "us-east-1",
        &date,
        host,
        target,
        body.as_bytes(),
    );
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {host}\r\nx-amz-date: {date}\r\nx-amz-target: {target}\r\n\
         authorization: {authz}\r\ncontent-type: application/x-amz-json-1.0\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    drop(s);
}

/// Clients that hang up in the middle of their writes (timeouts do that) must not let a
/// later write of the same item read it before the first has committed: the index must still
/// hold exactly one entry per item, under its current key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_writes_leave_the_index_consistent() {
    let t = TestServer::start().await;
    let c = t.client();
    create_orders(&c, "orders7").await;
    for i in 0..3 {
        put(&c, "orders7", order("p", i, Some("s0"), i, "d")).await;
    }
    let endpoint = t.endpoint();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..40 {
                let body = format!(
                    r##"{{"TableName":"orders7","Key":{{"pk":{{"S":"p"}},"sk":{{"N":"{}"}}}},"UpdateExpression":"SET #s = :s","ExpressionAttributeNames":{{"#s":"status"}},"ExpressionAttributeValues":{{":s":{{"S":"s{}"}}}}}}"##,
                    (w + j) % 3,
                    (w * 5 + j) % 4
                );
                fire_and_forget(&endpoint, &body).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Let every abandoned write finish, then compare the index with the table.
    let mut last = None;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let table = c.scan().table_name("orders7").send().await.unwrap();
        let index = c
            .scan()
            .table_name("orders7")
            .index_name("by_status")
            .send()
            .await
            .unwrap();
        let pairs = |items: &[Item]| -> BTreeSet<(String, String)> {
            items
                .iter()
                .map(|i| {
                    (
                        i["sk"].as_n().unwrap().clone(),
                        i["status"].as_s().unwrap().clone(),
                    )
                })
                .collect()
        };
        let (tp, ip) = (pairs(table.items()), pairs(index.items()));
        if index.count == 3 && tp == ip {
            return;
        }
        last = Some((tp, ip, index.count));
    }
    panic!("index disagrees with the table: {last:?}");
}
