//! Crash safety: the real server process is killed with SIGKILL during a write load and
//! restarted on the same data directory; every acknowledged write must be there, no item may
//! be partially written, and the table's global secondary index must agree with its items
//! (entries are written in the item's batch, so a crash cannot separate them), and the
//! table's stream must hold exactly one record per change the table shows.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, ScalarAttributeType, StreamViewType,
};
use aws_sdk_dynamodbstreams::types::OperationType;

use crate::harness::{attr, client_for, key, read_stream, s, streams_client};

fn spawn(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tabula-dataplane"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .args(["--log", "warn"])
        // Reused log files, as by default, small enough that the load outgrows them: the
        // crash lands in a reused file or in a grown one.
        .args(["--wal-file-mb", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server")
}

async fn wait_ready(port: u16) {
    crate::harness::wait_listening("127.0.0.1", port).await;
}

/// All items of the table, or of its index, as (pk, g) pairs.
async fn pairs(c: &Client, index: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = c
            .scan()
            .table_name("crash")
            .set_index_name(index.map(str::to_string))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items() {
            out.push((
                item["pk"].as_s().unwrap().clone(),
                item["g"].as_s().unwrap().clone(),
            ));
        }
        match page.last_evaluated_key {
            Some(k) => start = Some(k),
            None => return out,
        }
    }
}

/// The body written for a key: several attributes derived from it, so a torn write shows.
/// `g` starts as "g0"; an update moves it (and so the item's index entry) to "g1".
fn body_for(key: &str) -> HashMap<String, AttributeValue> {
    let mut m = HashMap::new();
    m.insert("pk".to_string(), s(key));
    m.insert("g".to_string(), s("g0"));
    for a in 0..5 {
        m.insert(
            format!("a{a}"),
            s(&format!("{key}-{a}-{}", "z".repeat(200))),
        );
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let moved: Arc<Mutex<HashSet<String>>> = Arc::default();
    for round in 0..3 {
        let port = crate::harness::free_port("127.0.0.1");
        let mut child = spawn(dir.path(), port);
        wait_ready(port).await;
        let c = client_for(&format!("http://127.0.0.1:{port}"), "a", "b");
        if round == 0 {
            crate::harness::create_indexed_streamed_table(&c, "crash", StreamViewType::KeysOnly)
                .await;
        }
        let mut writers = Vec::new();
        for w in 0..16 {
            let c = c.clone();
            let acked = acked.clone();
            let moved = moved.clone();
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("r{round}-w{w}-{i}");
                    let res = c
                        .put_item()
                        .table_name("crash")
                        .set_item(Some(body_for(&key)))
                        .send()
                        .await;
                    match res {
                        Ok(_) => acked.lock().unwrap().push(key.clone()),
                        Err(_) => return,
                    }
                    // Every other item moves to another index key.
                    if i % 2 == 1 {
                        let res = c
                            .update_item()
                            .table_name("crash")
                            .key("pk", s(&key))
                            .update_expression("SET g = :g")
                            .expression_attribute_values(":g", s("g1"))
                            .send()
                            .await;
                        match res {
                            Ok(_) => moved.lock().unwrap().insert(key),
                            Err(_) => return,
                        };
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + 300 * round as u64)).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        for w in writers {
            let _ = w.await;
        }
    }
    let acked = acked.lock().unwrap().clone();
    let moved = moved.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "the load wrote something ({} acks)",
        acked.len()
    );

    let port = crate::harness::free_port("127.0.0.1");
    let mut child = spawn(dir.path(), port);
    wait_ready(port).await;
    let c = client_for(&format!("http://127.0.0.1:{port}"), "a", "b");
    // Every acknowledged write is there, whole; an acknowledged move too.
    for key in &acked {
        let got = c
            .get_item()
            .table_name("crash")
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let mut item = got
            .item
            .unwrap_or_else(|| panic!("acknowledged write {key} lost"));
        let g = item.insert("g".into(), s("g0")).unwrap();
        assert_eq!(item, body_for(key), "acknowledged write {key} torn");
        if moved.contains(key) {
            assert_eq!(g, s("g1"), "acknowledged move of {key} lost");
        }
    }
    // Every item present (acknowledged or not) is whole.
    let mut start = None;
    let mut total = 0;
    loop {
        let out = c
            .scan()
            .table_name("crash")
            .set_exclusive_start_key(start.clone())
            .send()
            .await
            .unwrap();
        for item in out.items() {
            let key = item["pk"].as_s().unwrap();
            let mut item = item.clone();
            item.insert("g".into(), s("g0"));
            assert_eq!(item, body_for(key), "partial item {key}");
            total += 1;
        }
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    assert!(total >= acked.len());
    // The index holds exactly the table's items, each under its current key.
    let table: BTreeSet<(String, String)> = pairs(&c, None).await.into_iter().collect();
    let index = pairs(&c, Some("by_g")).await;
    assert_eq!(index.len(), table.len(), "one index entry per item");
    assert_eq!(index.into_iter().collect::<BTreeSet<_>>(), table.clone());
    // The stream: one INSERT per item, one MODIFY per moved item, nothing else.
    let arn = c
        .describe_table()
        .table_name("crash")
        .send()
        .await
        .unwrap()
        .table
        .unwrap()
        .latest_stream_arn
        .unwrap();
    let sc = streams_client(&format!("http://127.0.0.1:{port}"));
    let mut events: HashMap<String, (usize, usize)> = HashMap::new();
    for r in read_stream(&sc, &arn).await {
        let k = r.dynamodb().unwrap().keys().unwrap()["pk"]
            .as_s()
            .unwrap()
            .clone();
        let e = events.entry(k).or_default();
        match r.event_name().unwrap() {
            OperationType::Insert => e.0 += 1,
            OperationType::Modify => e.1 += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        events.len(),
        table.len(),
        "a record for every item, none for others"
    );
    for (pk, g) in &table {
        let moved = usize::from(g == "g1");
        assert_eq!(events.get(pk), Some(&(1, moved)), "records of {pk}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Transfers between accounts run as transactions while the server is killed with SIGKILL:
/// after each restart the total is unchanged (a transaction is one batch: all or nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_all_or_nothing_across_sigkill() {
    use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
    let dir = tempfile::tempdir().unwrap();
    let accounts = 10;
    let mut committed_total = 0;
    for round in 0..3 {
        let port = crate::harness::free_port("127.0.0.1");
        let mut child = spawn(dir.path(), port);
        wait_ready(port).await;
        let c = client_for(&format!("http://127.0.0.1:{port}"), "a", "b");
        if round == 0 {
            c.create_table()
                .table_name("bank")
                .billing_mode(BillingMode::PayPerRequest)
                .key_schema(key("pk", KeyType::Hash))
                .attribute_definitions(attr("pk", ScalarAttributeType::S))
                .send()
                .await
                .unwrap();
            for i in 0..accounts {
                c.put_item()
                    .table_name("bank")
                    .item("pk", s(&format!("a{i}")))
                    .item("balance", AttributeValue::N("100".into()))
                    .send()
                    .await
                    .unwrap();
            }
        } else {
            // After the crash: the money is all there.
            let scan = c
                .scan()
                .table_name("bank")
                .consistent_read(true)
                .send()
                .await
                .unwrap();
            let total: i64 = scan
                .items()
                .iter()
                .map(|i| i["balance"].as_n().unwrap().parse::<i64>().unwrap())
                .sum();
            assert_eq!(
                total,
                100 * accounts,
                "round {round}: a transaction was torn"
            );
        }
        let acked = Arc::new(Mutex::new(0u64));
        let mut writers = Vec::new();
        for w in 0..8u64 {
            let c = c.clone();
            let acked = acked.clone();
            writers.push(tokio::spawn(async move {
                for j in 0u64.. {
                    let from = (w + j) % accounts as u64;
                    let to = (w * 3 + j * 7 + 1) % accounts as u64;
                    if from == to {
                        continue;
                    }
                    let step = |pk: u64, delta: i64| {
                        TransactWriteItem::builder()
                            .update(
                                Update::builder()
                                    .table_name("bank")
                                    .key("pk", s(&format!("a{pk}")))
                                    .update_expression("SET balance = balance + :d")
                                    .expression_attribute_values(
                                        ":d",
                                        AttributeValue::N(delta.to_string()),
                                    )
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                    };
                    let res = c
                        .transact_write_items()
                        .transact_items(step(from, -3))
                        .transact_items(step(to, 3))
                        .send()
                        .await;
                    match res {
                        Ok(_) => *acked.lock().unwrap() += 1,
                        Err(_) => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500 + 200 * round as u64)).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        for w in writers {
            let _ = w.await;
        }
        committed_total += *acked.lock().unwrap();
    }
    assert!(committed_total > 50, "transfers ran ({committed_total})");
    let port = crate::harness::free_port("127.0.0.1");
    let mut child = spawn(dir.path(), port);
    wait_ready(port).await;
    let c = client_for(&format!("http://127.0.0.1:{port}"), "a", "b");
    let scan = c
        .scan()
        .table_name("bank")
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let total: i64 = scan
        .items()
        .iter()
        .map(|i| i["balance"].as_n().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 100 * accounts, "a transaction was torn");
    child.kill().unwrap();
    child.wait().unwrap();
}
