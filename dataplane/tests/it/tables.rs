//! Table lifecycle through the SDK.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    BillingMode, ProvisionedThroughput, ScalarAttributeType, TableStatus, Tag,
};

use aws_sdk_dynamodb::types::KeyType;

use crate::harness::{TestServer, attr, code, create_table, key, message, s};

#[tokio::test]
async fn create_table_returns_creating_and_waiter_sees_active() {
    let t = TestServer::start().await;
    let c = t.client();
    let out = c
        .create_table()
        .table_name("orders")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .send()
        .await
        .unwrap();
    let desc = out.table_description.unwrap();
    assert_eq!(desc.table_status, Some(TableStatus::Creating));
    assert_eq!(desc.table_name.as_deref(), Some("orders"));
    assert!(desc.table_arn.unwrap().ends_with(":table/orders"));
    c.wait_until_table_exists()
        .table_name("orders")
        .wait(Duration::from_secs(10))
        .await
        .expect("waiter sees the table ACTIVE");
    let d = c
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .unwrap();
    let table = d.table.unwrap();
    assert_eq!(table.table_status, Some(TableStatus::Active));
    assert_eq!(
        table.billing_mode_summary.unwrap().billing_mode,
        Some(BillingMode::PayPerRequest)
    );
}

#[tokio::test]
async fn creating_an_existing_table_is_resource_in_use() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "dup", None).await;
    let mut req = c
        .create_table()
        .table_name("dup")
        .billing_mode(BillingMode::PayPerRequest);
    req = req
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(attr("pk", ScalarAttributeType::S));
    let err = req.send().await.unwrap_err();
    assert_eq!(code(&err), "ResourceInUseException");
    assert_eq!(message(&err), "Table already exists: dup");
}

#[tokio::test]
async fn missing_tables_are_resource_not_found() {
    let t = TestServer::start().await;
    let c = t.client();
    let err = c
        .describe_table()
        .table_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
    let err = c
        .delete_table()
        .table_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
    let err = c
        .get_item()
        .table_name("nope")
        .key("pk", crate::harness::s("a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn invalid_table_definitions_are_validation_errors() {
    let t = TestServer::start().await;
    let c = t.client();
    // Key attribute missing from AttributeDefinitions.
    let err = c
        .create_table()
        .table_name("bad")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(attr("other", ScalarAttributeType::S))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains("Some index key attributes are not defined"),
        "{}",
        message(&err)
    );
    // Name too short.
    let err = c
        .describe_table()
        .table_name("ab")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(message(&err).contains("Member must have length greater than or equal to 3"));
    // Provisioned mode without throughput.
    let err = c
        .create_table()
        .table_name("bad2")
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn list_tables_paginates_in_name_order() {
    let t = TestServer::start().await;
    let c = t.client();
    for name in ["t-c", "t-a", "t-e", "t-b", "t-d"] {
        create_table(&c, name, None).await;
    }
    let first = c.list_tables().limit(2).send().await.unwrap();
    assert_eq!(first.table_names(), ["t-a", "t-b"]);
    assert_eq!(first.last_evaluated_table_name(), Some("t-b"));
    let second = c
        .list_tables()
        .exclusive_start_table_name("t-b")
        .limit(3)
        .send()
        .await
        .unwrap();
    assert_eq!(second.table_names(), ["t-c", "t-d", "t-e"]);
    assert_eq!(second.last_evaluated_table_name(), None);
    // The SDK paginator walks all pages.
    let all: Vec<String> = c
        .list_tables()
        .limit(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all, ["t-a", "t-b", "t-c", "t-d", "t-e"]);
}

#[tokio::test]
async fn delete_table_returns_deleting_and_honours_deletion_protection() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "prot", None).await;
    c.update_table()
        .table_name("prot")
        .deletion_protection_enabled(true)
        .send()
        .await
        .unwrap();
    let err = c
        .delete_table()
        .table_name("prot")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(message(&err).contains("protected against deletion"));
    c.update_table()
        .table_name("prot")
        .deletion_protection_enabled(false)
        .send()
        .await
        .unwrap();
    let out = c.delete_table().table_name("prot").send().await.unwrap();
    assert_eq!(
        out.table_description.unwrap().table_status,
        Some(TableStatus::Deleting)
    );
    c.wait_until_table_not_exists()
        .table_name("prot")
        .wait(Duration::from_secs(10))
        .await
        .expect("table disappears");
}

#[tokio::test]
async fn update_table_switches_billing_mode_and_throughput() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "bill", None).await;
    c.update_table()
        .table_name("bill")
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(5)
                .write_capacity_units(7)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let d = c
        .describe_table()
        .table_name("bill")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let pt = d.provisioned_throughput.unwrap();
    assert_eq!(
        (pt.read_capacity_units, pt.write_capacity_units),
        (Some(5), Some(7))
    );
    // Setting the same throughput again is refused, as DynamoDB does.
    let err = c
        .update_table()
        .table_name("bill")
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(5)
                .write_capacity_units(7)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn tags_are_added_listed_and_removed() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "tagged", None).await;
    let arn = c
        .describe_table()
        .table_name("tagged")
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .table_arn
        .unwrap();
    c.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("shop").build().unwrap())
        .tags(Tag::builder().key("env").value("dev").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let mut kv: Vec<(String, String)> = tags
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    kv.sort();
    assert_eq!(
        kv,
        [("env".into(), "dev".into()), ("team".into(), "shop".into())]
    );
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    let err = c
        .list_tags_of_resource()
        .resource_arn("arn:aws:dynamodb:us-east-1:000000000000:table/none")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn tables_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    {
        let server = tabula_dataplane::Server::start(tabula_dataplane::Config::local(&path))
            .await
            .unwrap();
        let c = crate::harness::client_for(&server.endpoint(), "a", "b");
        create_table(&c, "durable", Some(ScalarAttributeType::N)).await;
        c.put_item()
            .table_name("durable")
            .item("pk", crate::harness::s("k"))
            .item("sk", crate::harness::n(1))
            .item("v", crate::harness::s("kept"))
            .send()
            .await
            .unwrap();
        server.shutdown().await;
    }
    let server = tabula_dataplane::Server::start(tabula_dataplane::Config::local(&path))
        .await
        .unwrap();
    let c = crate::harness::client_for(&server.endpoint(), "a", "b");
    let got = c
        .get_item()
        .table_name("durable")
        .key("pk", crate::harness::s("k"))
        .key("sk", crate::harness::n(1))
        .send()
        .await
        .unwrap();
    assert_eq!(got.item.unwrap()["v"], crate::harness::s("kept"));
    server.shutdown().await;
}

/// ItemCount and TableSizeBytes are approximate, as in DynamoDB: a stale figure starts a
/// background recount, so with a zero interval the next DescribeTable calls converge on the
/// exact count and size (DynamoDB's item size rules), without DescribeTable ever scanning inline.
#[tokio::test]
async fn item_count_and_size_follow_writes_after_a_recount() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ts = TestServer::start_with(|c| c.stats_interval = Duration::ZERO, dir).await;
    let client = ts.client();
    create_table(&client, "counted", None).await;
    let first = client
        .describe_table()
        .table_name("counted")
        .send()
        .await
        .expect("describe");
    let t = first.table().expect("table");
    assert_eq!((t.item_count(), t.table_size_bytes()), (Some(0), Some(0)));
    for i in 0..5 {
        client
            .put_item()
            .table_name("counted")
            .item("pk", s(&format!("k{i}")))
            .item("v", s("abcd"))
            .send()
            .await
            .expect("put");
    }
    client
        .delete_item()
        .table_name("counted")
        .key("pk", s("k0"))
        .send()
        .await
        .expect("delete");
    // Each item: "pk" (2) + "k<i>" (2) + "v" (1) + "abcd" (4) = 9 bytes; four remain.
    let mut seen = (None, None);
    for _ in 0..100 {
        let out = client
            .describe_table()
            .table_name("counted")
            .send()
            .await
            .expect("describe");
        let t = out.table().expect("table");
        seen = (t.item_count(), t.table_size_bytes());
        if seen == (Some(4), Some(36)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, (Some(4), Some(36)));
}
