//! Crash safety: the real server process is killed with SIGKILL during a write load and
//! restarted on the same data directory; every acknowledged write must be there, and no item
//! may be partially written.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::harness::{client_for, create_table, s};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tabula-dataplane"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .args(["--log", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server")
}

async fn wait_ready(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server did not start on port {port}");
}

/// The body written for a key: several attributes derived from it, so a torn write shows.
fn body_for(key: &str) -> HashMap<String, AttributeValue> {
    let mut m = HashMap::new();
    m.insert("pk".to_string(), s(key));
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
    for round in 0..3 {
        let port = free_port();
        let mut child = spawn(dir.path(), port);
        wait_ready(port).await;
        let c = client_for(&format!("http://127.0.0.1:{port}"), "a", "b");
        if round == 0 {
            create_table(&c, "crash", None).await;
        }
        let mut writers = Vec::new();
        for w in 0..16 {
            let c = c.clone();
            let acked = acked.clone();
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
                        Ok(_) => acked.lock().unwrap().push(key),
                        Err(_) => return,
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
    assert!(
        acked.len() > 100,
        "the load wrote something ({} acks)",
        acked.len()
    );

    let port = free_port();
    let mut child = spawn(dir.path(), port);
    wait_ready(port).await;
    let c = client_for(&format!("http://127.0.0.1:{port}"), "a", "b");
    // Every acknowledged write is there, whole.
    for key in &acked {
        let got = c
            .get_item()
            .table_name("crash")
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.item.as_ref(),
            Some(&body_for(key)),
            "acknowledged write {key} lost or torn"
        );
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
            assert_eq!(item, &body_for(key), "partial item {key}");
            total += 1;
        }
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    assert!(total >= acked.len());
    child.kill().unwrap();
    child.wait().unwrap();
}
