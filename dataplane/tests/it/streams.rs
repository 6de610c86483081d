//! DynamoDB Streams through the official streams client (`aws-sdk-dynamodbstreams`): the
//! records a table's changes produce, shard roll-over followed KCL-style while a writer runs
//! (the consumer's reconstruction must equal the table, every record seen once, per-item
//! order exact), TTL deletes as the service's, and retention.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodbstreams::types::{OperationType, ShardIteratorType};

use crate::harness::{TestServer, attr, code, first_shard_iterator, key, n, s, streams_client};

async fn create_with_stream(
    c: &aws_sdk_dynamodb::Client,
    table: &str,
    view: StreamViewType,
) -> String {
    let out = c
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(view)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    out.table_description
        .unwrap()
        .latest_stream_arn
        .expect("LatestStreamArn")
}

use crate::harness::read_stream as read_all;

#[tokio::test]
async fn table_changes_become_stream_records() {
    let t = TestServer::start().await;
    let c = t.client();
    let sc = streams_client(&t.endpoint());
    let arn = create_with_stream(&c, "st1", StreamViewType::NewAndOldImages).await;
    let d = c
        .describe_table()
        .table_name("st1")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(d.latest_stream_arn(), Some(arn.as_str()));
    assert_eq!(
        d.stream_specification().and_then(|s| s.stream_view_type()),
        Some(&StreamViewType::NewAndOldImages)
    );
    let listed = sc.list_streams().table_name("st1").send().await.unwrap();
    assert_eq!(listed.streams().len(), 1);
    assert_eq!(listed.streams()[0].stream_arn(), Some(arn.as_str()));

    let put = |v: &'static str| {
        c.put_item()
            .table_name("st1")
            .item("pk", s("a"))
            .item("v", s(v))
            .send()
    };
    put("1").await.unwrap();
    put("2").await.unwrap();
    put("2").await.unwrap(); // no change: no record
    c.update_item()
        .table_name("st1")
        .key("pk", s("a"))
        .update_expression("SET w = :w")
        .expression_attribute_values(":w", n(1))
        .send()
        .await
        .unwrap();
    c.delete_item()
        .table_name("st1")
        .key("pk", s("a"))
        .send()
        .await
        .unwrap();
    c.delete_item()
        .table_name("st1")
        .key("pk", s("zz"))
        .send()
        .await
        .unwrap(); // absent: none
    let records = read_all(&sc, &arn).await;
    let kinds: Vec<OperationType> = records
        .iter()
        .map(|r| r.event_name().unwrap().clone())
        .collect();
    assert_eq!(
        kinds,
        [
            OperationType::Insert,
            OperationType::Modify,
            OperationType::Modify,
            OperationType::Remove
        ]
    );
    let modify = records[1].dynamodb().unwrap();
    assert_eq!(
        modify.old_image().unwrap()["v"],
        aws_sdk_dynamodbstreams::types::AttributeValue::S("1".into())
    );
    assert_eq!(
        modify.new_image().unwrap()["v"],
        aws_sdk_dynamodbstreams::types::AttributeValue::S("2".into())
    );
    assert!(records[3].dynamodb().unwrap().new_image().is_none());
    let seqs: Vec<u128> = records
        .iter()
        .map(|r| {
            r.dynamodb()
                .unwrap()
                .sequence_number()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "ordered: {seqs:?}");

    // Disabling keeps the stream readable (DISABLED); a new enable is a new stream.
    c.update_table()
        .table_name("st1")
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let d = sc.describe_stream().stream_arn(&arn).send().await.unwrap();
    assert_eq!(
        d.stream_description.unwrap().stream_status(),
        Some(&aws_sdk_dynamodbstreams::types::StreamStatus::Disabled)
    );
    let err = c
        .update_table()
        .table_name("st1")
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = sc
        .get_records()
        .shard_iterator("not-an-iterator")
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("Invalid ShardIterator"),
        "{err:?}"
    );

    // An iterator older than 15 minutes has expired. (White-box: the iterator's issue time
    // is rewritten rather than waiting a quarter of an hour.)
    let (_, it) = first_shard_iterator(&sc, &arn).await;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let text = String::from_utf8(b64.decode(&it).unwrap()).unwrap();
    let mut parts: Vec<String> = text.split('|').map(str::to_string).collect();
    let issued: u64 = parts[5].parse().unwrap();
    parts[5] = (issued - 16 * 60 * 1000).to_string();
    let err = sc
        .get_records()
        .shard_iterator(b64.encode(parts.join("|")))
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("ExpiredIteratorException"),
        "{err:?}"
    );
}

/// A writer changes items while a consumer follows the stream's shards (parents before
/// children, each closed shard to its end, as the KCL does); at the end the consumer's copy
/// equals the table and every record was seen exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_following_shards_rebuilds_the_table() {
    let t = TestServer::start_with(
        |c| c.stream_shard_duration = Duration::from_millis(400),
        tempfile::tempdir().unwrap(),
    )
    .await;
    let c = t.client();
    let sc = streams_client(&t.endpoint());
    let arn = create_with_stream(&c, "st2", StreamViewType::NewImage).await;

    let writer = {
        let c = c.clone();
        tokio::spawn(async move {
            for i in 0..400u32 {
                let k = format!("k{}", (i * 7) % 40);
                if i % 9 == 4 {
                    c.delete_item()
                        .table_name("st2")
                        .key("pk", s(&k))
                        .send()
                        .await
                        .unwrap();
                } else {
                    c.put_item()
                        .table_name("st2")
                        .item("pk", s(&k))
                        .item("v", n(i))
                        .send()
                        .await
                        .unwrap();
                }
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(60)).await;
                }
            }
        })
    };

    let mut copy: BTreeMap<String, String> = BTreeMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut last_seq: HashMap<String, u128> = HashMap::new();
    let mut done_shards: HashSet<String> = HashSet::new();
    let mut positions: HashMap<String, Option<String>> = HashMap::new();
    let mut shards_seen = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let writer_done = writer.is_finished();
        let d = sc.describe_stream().stream_arn(&arn).send().await.unwrap();
        let shards = d.stream_description.unwrap().shards().to_vec();
        shards_seen = shards_seen.max(shards.len());
        for shard in &shards {
            let id = shard.shard_id().unwrap().to_string();
            if done_shards.contains(&id) {
                continue;
            }
            // The KCL rule: a child only after its parent is finished.
            if let Some(p) = shard.parent_shard_id()
                && shards.iter().any(|s| s.shard_id() == Some(p))
                && !done_shards.contains(p)
            {
                break;
            }
            let mut it = match positions.get(&id) {
                Some(Some(i)) => Some(i.clone()),
                _ => {
                    sc.get_shard_iterator()
                        .stream_arn(&arn)
                        .shard_id(&id)
                        .shard_iterator_type(ShardIteratorType::TrimHorizon)
                        .send()
                        .await
                        .unwrap()
                        .shard_iterator
                }
            };
            let mut finished = false;
            while let Some(i) = it.take() {
                let page = sc.get_records().shard_iterator(&i).send().await.unwrap();
                for r in page.records() {
                    let rec = r.dynamodb().unwrap();
                    let seq = rec.sequence_number().unwrap().to_string();
                    assert!(seen.insert(seq.clone()), "record {seq} seen twice");
                    let k = rec.keys().unwrap()["pk"].as_s().unwrap().clone();
                    let seq_n: u128 = seq.parse().unwrap();
                    if let Some(prev) = last_seq.insert(k.clone(), seq_n) {
                        assert!(prev < seq_n, "per-item order");
                    }
                    match r.event_name().unwrap() {
                        OperationType::Remove => {
                            copy.remove(&k);
                        }
                        _ => {
                            let v = rec.new_image().unwrap()["v"].as_n().unwrap().clone();
                            copy.insert(k, v);
                        }
                    }
                }
                let empty = page.records().is_empty();
                match page.next_shard_iterator {
                    None => finished = true,
                    Some(next) if empty => {
                        positions.insert(id.clone(), Some(next));
                        break;
                    }
                    Some(next) => it = Some(next),
                }
            }
            if finished {
                done_shards.insert(id.clone());
            } else {
                break; // the open shard: come back later
            }
        }
        if writer_done {
            let scan = c.scan().table_name("st2").send().await.unwrap();
            let table: BTreeMap<String, String> = scan
                .items()
                .iter()
                .map(|i| {
                    (
                        i["pk"].as_s().unwrap().clone(),
                        i["v"].as_n().unwrap().clone(),
                    )
                })
                .collect();
            if table == copy {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "consumer did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    writer.await.unwrap();
    assert!(
        shards_seen >= 3,
        "the stream rolled over shards ({shards_seen})"
    );
    assert!(
        !done_shards.is_empty(),
        "closed shards were read to their end"
    );
    assert!(
        seen.len() >= 400 - 5,
        "one record per change ({})",
        seen.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_deletes_are_the_services_and_old_records_are_trimmed() {
    let t = TestServer::start_with(
        |c| {
            c.ttl_sweep_interval = Duration::from_millis(200);
            c.stream_retention = Duration::from_secs(3);
        },
        tempfile::tempdir().unwrap(),
    )
    .await;
    let c = t.client();
    let sc = streams_client(&t.endpoint());
    let arn = create_with_stream(&c, "st3", StreamViewType::KeysOnly).await;
    c.update_time_to_live()
        .table_name("st3")
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("exp")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    c.put_item()
        .table_name("st3")
        .item("pk", s("old"))
        .item("exp", AttributeValue::N((now - 5).to_string()))
        .send()
        .await
        .unwrap();
    let mut ttl_record = None;
    for _ in 0..60 {
        let records = read_all(&sc, &arn).await;
        if let Some(r) = records
            .iter()
            .find(|r| r.event_name() == Some(&OperationType::Remove))
        {
            ttl_record = Some(r.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = ttl_record.expect("the TTL delete is in the stream");
    let who = r.user_identity().expect("userIdentity");
    assert_eq!(who.principal_id(), Some("dynamodb.amazonaws.com"));
    assert_eq!(who.r#type(), Some("Service"));
    assert!(
        r.dynamodb().unwrap().new_image().is_none() && r.dynamodb().unwrap().old_image().is_none(),
        "KEYS_ONLY"
    );
    let first_seq = read_all(&sc, &arn).await[0]
        .dynamodb()
        .unwrap()
        .sequence_number()
        .unwrap()
        .to_string();

    // An iterator handed out before the trim.
    let (shard, early) = first_shard_iterator(&sc, &arn).await;

    // Past the retention period the records are gone; asking for them is an error.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let err = sc
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&first_seq)
        .send()
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("TrimmedDataAccess"), "{err:?}");
    assert!(read_all(&sc, &arn).await.is_empty());
    // The iterator from before the trim points at trimmed records: refused, also after a
    // restart (how far the stream was trimmed is kept in the store).
    let refused = |sc: aws_sdk_dynamodbstreams::Client, it: String| async move {
        let err = sc
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("TrimmedDataAccess"), "{err:?}");
    };
    refused(sc.clone(), early.clone()).await;
    let TestServer { server, dir } = t;
    server.shutdown().await;
    let t = TestServer::start_with(|_| {}, dir).await;
    refused(streams_client(&t.endpoint()), early).await;
}

/// Deleting a table leaves its stream readable (DISABLED) for the retention period, also
/// across a restart; a table re-created under the same name gets a new stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_tables_stream_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestServer::start_with(|_| {}, dir).await;
    let c = t.client();
    let arn = create_with_stream(&c, "st4", StreamViewType::KeysOnly).await;
    c.put_item()
        .table_name("st4")
        .item("pk", s("a"))
        .send()
        .await
        .unwrap();
    c.delete_table().table_name("st4").send().await.unwrap();
    let TestServer { server, dir } = t;
    server.shutdown().await;
    let t = TestServer::start_with(|_| {}, dir).await;
    let c = t.client();
    let sc = streams_client(&t.endpoint());
    let d = sc.describe_stream().stream_arn(&arn).send().await.unwrap();
    let d = d.stream_description.unwrap();
    assert_eq!(
        d.stream_status(),
        Some(&aws_sdk_dynamodbstreams::types::StreamStatus::Disabled)
    );
    assert!(
        d.shards()[0]
            .sequence_number_range()
            .unwrap()
            .ending_sequence_number()
            .is_some(),
        "its shard is closed"
    );
    let records = read_all(&sc, &arn).await;
    assert_eq!(records.len(), 1);
    let arn2 = create_with_stream(&c, "st4", StreamViewType::KeysOnly).await;
    assert_ne!(arn, arn2);
    let listed = sc.list_streams().table_name("st4").send().await.unwrap();
    assert_eq!(listed.streams().len(), 2, "the old stream and the new one");
    assert!(read_all(&sc, &arn2).await.is_empty());
}
