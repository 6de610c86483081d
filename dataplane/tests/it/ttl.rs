//! Time to live through the SDK: the settings, and the sweeper deleting expired items (and
//! their index entries) while leaving everything else alone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};

use crate::harness::{TestServer, attr, code, key, message, n, s};

fn spec(enabled: bool, attribute: &str) -> TimeToLiveSpecification {
    TimeToLiveSpecification::builder()
        .enabled(enabled)
        .attribute_name(attribute)
        .build()
        .unwrap()
}

#[tokio::test]
async fn time_to_live_settings_follow_dynamodb() {
    let t = TestServer::start().await;
    let c = t.client();
    crate::harness::create_table(&c, "ttl1", None).await;
    let d = c
        .describe_time_to_live()
        .table_name("ttl1")
        .send()
        .await
        .unwrap();
    let desc = d.time_to_live_description.unwrap();
    assert_eq!(desc.time_to_live_status, Some(TimeToLiveStatus::Disabled));
    assert_eq!(desc.attribute_name, None);

    let err = c
        .update_time_to_live()
        .table_name("ttl1")
        .time_to_live_specification(spec(false, "exp"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(message(&err), "TimeToLive is already disabled");
    let out = c
        .update_time_to_live()
        .table_name("ttl1")
        .time_to_live_specification(spec(true, "exp"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.time_to_live_specification, Some(spec(true, "exp")));
    let desc = c
        .describe_time_to_live()
        .table_name("ttl1")
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(desc.time_to_live_status, Some(TimeToLiveStatus::Enabled));
    assert_eq!(desc.attribute_name.as_deref(), Some("exp"));
    let err = c
        .update_time_to_live()
        .table_name("ttl1")
        .time_to_live_specification(spec(true, "exp"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(message(&err), "TimeToLive is already enabled");
    let err = c
        .update_time_to_live()
        .table_name("ttl1")
        .time_to_live_specification(spec(false, "other"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        message(&err),
        "TimeToLive is active on a different AttributeName: current AttributeName is exp"
    );
    c.update_time_to_live()
        .table_name("ttl1")
        .time_to_live_specification(spec(false, "exp"))
        .send()
        .await
        .unwrap();
    let err = c
        .describe_time_to_live()
        .table_name("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_deletes_expired_items_and_their_index_entries() {
    let t = TestServer::start_with(
        |c| c.ttl_sweep_interval = Duration::from_millis(200),
        tempfile::tempdir().unwrap(),
    )
    .await;
    let c = t.client();
    c.create_table()
        .table_name("ttl2")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(key("g", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let put = |pk: &'static str, exp: Option<AttributeValue>| {
        let c = c.clone();
        async move {
            let mut r = c
                .put_item()
                .table_name("ttl2")
                .item("pk", s(pk))
                .item("g", s("all"));
            if let Some(e) = exp {
                r = r.item("exp", e);
            }
            r.send().await.unwrap();
        }
    };
    put("expired", Some(n(now() - 10))).await;
    put("expired-fraction", Some(n(format!("{}.5", now() - 10)))).await;
    put("future", Some(n(now() + 3600))).await;
    put("ancient", Some(n(now() - 6 * 365 * 24 * 3600))).await;
    put("string", Some(s(&(now() - 10).to_string()))).await;
    put("none", None).await;
    // Expired but not yet swept: still readable (TTL is off, so nothing is swept yet).
    let got = c
        .get_item()
        .table_name("ttl2")
        .key("pk", s("expired"))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_some());
    c.update_time_to_live()
        .table_name("ttl2")
        .time_to_live_specification(spec(true, "exp"))
        .send()
        .await
        .unwrap();
    let mut left = Vec::new();
    for _ in 0..100 {
        let out = c.scan().table_name("ttl2").send().await.unwrap();
        left = out
            .items()
            .iter()
            .map(|i| i["pk"].as_s().unwrap().clone())
            .collect::<Vec<_>>();
        left.sort();
        if left.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left, ["ancient", "future", "none", "string"]);
    let index = c
        .query()
        .table_name("ttl2")
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("all"))
        .send()
        .await
        .unwrap();
    assert_eq!(index.count, 4, "the index entries went with the items");
}

/// Until the sweeper reaches it, an expired item is still returned, as in DynamoDB; readers
/// that care filter on the TTL attribute.
#[tokio::test]
async fn expired_items_stay_readable_until_swept() {
    let t = TestServer::start_with(
        |c| c.ttl_sweep_interval = Duration::from_secs(3600),
        tempfile::tempdir().unwrap(),
    )
    .await;
    let c = t.client();
    crate::harness::create_table(&c, "ttl3", None).await;
    c.update_time_to_live()
        .table_name("ttl3")
        .time_to_live_specification(spec(true, "exp"))
        .send()
        .await
        .unwrap();
    for (pk, exp) in [("gone", now() - 60), ("live", now() + 3600)] {
        c.put_item()
            .table_name("ttl3")
            .item("pk", s(pk))
            .item("exp", n(exp))
            .send()
            .await
            .unwrap();
    }
    let got = c
        .get_item()
        .table_name("ttl3")
        .key("pk", s("gone"))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_some(), "expired but not yet deleted");
    let live = c
        .scan()
        .table_name("ttl3")
        .filter_expression("exp > :now")
        .expression_attribute_values(":now", n(now()))
        .send()
        .await
        .unwrap();
    assert_eq!(live.count, 1);
    assert_eq!(live.items()[0]["pk"], s("live"));
}
