//! The binary with `--credentials FILE`: the file's keys (in its accepted forms) and only
//! they sign requests, a replayed old signature is refused, and a malformed file stops the
//! server at start with the line named.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::harness::{client_for, code, wait_listening};

const FILE: &str = "# keys of the orders team\nAKIDONE secretone\n\n  AKIDTWO:secrettwo  \nAKIDTHREE,secretthree\n";

/// A ListTables request signed by `key`/`secret` at `amz_date`, sent over raw HTTP (the SDK
/// always signs with the current time); returns the status and the error type.
fn signed_at(addr: &str, key: &str, secret: &str, amz_date: &str) -> (u16, String) {
    let target = "DynamoDB_20120810.ListTables";
    let body = b"{}";
    let auth = tabula_dataplane::auth::sign_request(
        key,
        secret,
        "us-east-1",
        amz_date,
        addr,
        target,
        body,
    );
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Date: {amz_date}\r\nX-Amz-Target: {target}\r\nAuthorization: {auth}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().unwrap();
    let json: serde_json::Value = resp
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or_default();
    let kind = json["__type"]
        .as_str()
        .unwrap_or("")
        .rsplit('#')
        .next()
        .unwrap_or("");
    (status, kind.to_string())
}

#[tokio::test]
async fn the_binary_accepts_exactly_the_keys_of_its_credentials_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(&file, FILE).unwrap();
    let port = crate::harness::free_port("127.0.0.1");
    let addr = format!("127.0.0.1:{port}");
    let _server = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_tabula-dataplane"))
            .args(["--listen", &addr, "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--credentials")
            .arg(&file)
            .args(["--wal-file-mb", "0", "--log", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening("127.0.0.1", port).await;
    let endpoint = format!("http://{addr}");
    for (key, secret) in [
        ("AKIDONE", "secretone"),
        ("AKIDTWO", "secrettwo"),
        ("AKIDTHREE", "secretthree"),
    ] {
        let c = client_for(&endpoint, key, secret);
        assert!(c.list_tables().send().await.is_ok(), "{key} is listed");
    }
    let err = client_for(&endpoint, "AKIDTWO", "secretone")
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidSignatureException");
    let err = client_for(&endpoint, "AKIDFOUR", "secretone")
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "UnrecognizedClientException");
    // The raw signer itself works with the current time, and the same request signed long
    // ago (a replay) is refused.
    let now = tabula_dataplane::auth::amz_date_now();
    assert_eq!(
        signed_at(&addr, "AKIDONE", "secretone", &now),
        (200, String::new())
    );
    assert_eq!(
        signed_at(&addr, "AKIDONE", "secretone", "20200101T000000Z"),
        (400, "InvalidSignatureException".to_string())
    );
}

/// The server process, killed however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_malformed_credentials_file_stops_the_binary_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials");
    std::fs::write(&file, "AKIDONE secretone\nAKIDTWO\n").unwrap();
    let (code, stderr) = start_expecting_exit(dir.path(), &file);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("credentials file line 2"), "{stderr}");
    let (code, stderr) = start_expecting_exit(dir.path(), &dir.path().join("absent"));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot read credentials file"), "{stderr}");
}

/// Starts the binary with `--credentials file`, expecting it to exit at once; returns its
/// exit code and standard error. A binary that starts serving instead is killed after 20 s
/// and fails the test (rather than hanging it).
fn start_expecting_exit(dir: &std::path::Path, file: &std::path::Path) -> (Option<i32>, String) {
    let port = crate::harness::free_port("127.0.0.1");
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_tabula-dataplane"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.join("data"))
            .arg("--credentials")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the binary did not exit: it accepted the credentials file"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        e.read_to_string(&mut stderr).unwrap();
    }
    (status.code(), stderr)
}
