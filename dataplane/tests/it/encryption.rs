//! Encryption at rest: item bodies never reach the disk in the clear.

use aws_sdk_dynamodb::types::{Put, StreamViewType, TransactWriteItem};

use crate::harness::{TestServer, create_table, s};

fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[tokio::test]
async fn item_values_appear_in_no_file_under_the_data_dir() {
    let t = TestServer::start().await;
    let c = t.client();
    create_table(&c, "secret", None).await;
    for i in 0..50 {
        c.put_item()
            .table_name("secret")
            .item("pk", s(&format!("VISIBLEKEY{i:04}")))
            .item("card", s(&format!("CARDNUMBER-4111-1111-{i:04}")))
            .item(
                "nested",
                aws_sdk_dynamodb::types::AttributeValue::M(
                    [("ssn".to_string(), s("SSN-078-05-1120"))].into(),
                ),
            )
            .send()
            .await
            .unwrap();
    }
    let dir = t.dir.path().to_path_buf();
    // Before flushing: the values sit in the WAL only.
    assert!(files_containing(&dir, b"CARDNUMBER-4111").is_empty());
    assert!(files_containing(&dir, b"SSN-078-05-1120").is_empty());
    t.server.engine().store().flush_and_compact().unwrap();
    assert!(
        files_containing(&dir, b"CARDNUMBER-4111").is_empty(),
        "value leaked after compaction"
    );
    assert!(
        files_containing(&dir, b"SSN-078-05-1120").is_empty(),
        "nested value leaked"
    );
    // Control: key bytes are stored in the clear (they must sort), so the search does find
    // them — proving it really reads the files.
    assert!(
        !files_containing(&dir, b"VISIBLEKEY0007").is_empty(),
        "positive control"
    );
    // And the data is still readable through the API.
    let got = c
        .get_item()
        .table_name("secret")
        .key("pk", s("VISIBLEKEY0007"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.item.unwrap()["card"], s("CARDNUMBER-4111-1111-0007"));
}

/// The other places item values are kept: a global index's projected attributes, stream
/// records with old and new images, and the answer remembered for a transaction's
/// ClientRequestToken. None holds a value in the clear (the index's own key, which must sort,
/// does, as the positive control).
#[tokio::test]
async fn index_entries_stream_images_and_transaction_tokens_are_sealed_too() {
    let t = TestServer::start().await;
    let c = t.client();
    let arn = crate::harness::create_indexed_streamed_table(
        &c,
        "sealed",
        StreamViewType::NewAndOldImages,
    )
    .await;
    for i in 0..20 {
        for round in ["FIRSTSECRET", "SECONDSECRET"] {
            c.put_item()
                .table_name("sealed")
                .item("pk", s(&format!("k{i:03}")))
                .item("g", s(&format!("INDEXKEY{i:03}")))
                .item("card", s(&format!("{round}-4111-{i:03}")))
                .send()
                .await
                .unwrap();
        }
    }
    c.delete_item()
        .table_name("sealed")
        .key("pk", s("k000"))
        .send()
        .await
        .unwrap();
    let put = Put::builder()
        .table_name("sealed")
        .item("pk", s("tx"))
        .item("g", s("INDEXKEYTX"))
        .item("card", s("TOKENSECRET-4111"))
        .build()
        .unwrap();
    c.transact_write_items()
        .client_request_token("token-1")
        .transact_items(TransactWriteItem::builder().put(put).build())
        .send()
        .await
        .unwrap();
    let dir = t.dir.path().to_path_buf();
    let leaks = |dir: &std::path::Path| {
        ["FIRSTSECRET", "SECONDSECRET", "TOKENSECRET"]
            .iter()
            .flat_map(|n| files_containing(dir, n.as_bytes()))
            .collect::<Vec<_>>()
    };
    assert!(leaks(&dir).is_empty(), "in the log: {:?}", leaks(&dir));
    t.server.engine().store().flush_and_compact().unwrap();
    assert!(leaks(&dir).is_empty(), "in the tables: {:?}", leaks(&dir));
    assert!(
        !files_containing(&dir, b"INDEXKEY007").is_empty(),
        "positive control: the index key sorts in the clear"
    );
    // The sealed copies still read back: through the index, and in the stream's images.
    let out = c
        .query()
        .table_name("sealed")
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("INDEXKEY007"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.items()[0]["card"], s("SECONDSECRET-4111-007"));
    let records =
        crate::harness::read_stream(&crate::harness::streams_client(&t.endpoint()), &arn).await;
    let old = records
        .iter()
        .filter_map(|r| r.dynamodb.as_ref()?.old_image.as_ref()?.get("card"))
        .filter_map(|v| v.as_s().ok())
        .any(|v| v.starts_with("FIRSTSECRET"));
    assert!(old, "old images read back from sealed stream records");
}

#[tokio::test]
async fn a_wrong_master_key_cannot_open_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let key_a = dir.path().join("a.key");
    let key_b = dir.path().join("b.key");
    std::fs::write(&key_a, "11".repeat(32)).unwrap();
    std::fs::write(&key_b, "22".repeat(32)).unwrap();
    let data = dir.path().join("data");
    let mut config = tabula_dataplane::Config::local(&data);
    config.master_key_file = Some(key_a);
    let server = tabula_dataplane::Server::start(config.clone())
        .await
        .unwrap();
    let c = crate::harness::client_for(&server.endpoint(), "a", "b");
    create_table(&c, "locked", None).await;
    server.shutdown().await;
    config.master_key_file = Some(key_b);
    let err = tabula_dataplane::Server::start(config)
        .await
        .err()
        .expect("wrong key refused");
    assert!(err.to_string().contains("wrong master key"), "{err}");
}
