//! `tabula-bench`: closed-loop benchmark of the data plane.
//!
//! Starts a Tabula server (credentials on, so every request's SigV4 signature is verified,
//! durable fsync'd writes) and a trivial HTTP echo server in this process, then drives both with
//! the same lean HTTP/1.1 client: N connections, one request in flight each, every request
//! SigV4-signed. The echo server is the ceiling (client + HTTP + loopback cost), measured again
//! right before each workload; each workload is reported as a ratio to the ceiling measured
//! just before it, with p50/p99 latency.
//!
//! Workloads: PutItem (random key of the key space, 100-byte value), GetItem, mixed 50/50,
//! Query of a 10-item partition, PutItem on a table with two global secondary indexes (what
//! indexes cost a write), Query of 10 items through a global secondary index, and a
//! TransactWriteItems updating two random items. `put-3r` runs PutItem against the leader of
//! three replicas started in this process (127.0.0.1–3, Raft over loopback gRPC): replicated
//! durable writes next to the single node's, on the same machine.
//!
//!   cargo run --release -p tabula-dataplane --bin tabula-bench -- --secs 10

/// mimalloc: the request path allocates many small, short-lived buffers (JSON values, item
/// maps); glibc malloc showed up as ~12% of CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tabula_dataplane::auth::{self, Credentials};
use tabula_dataplane::{Config, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser, Debug, Clone)]
struct Args {
    /// Requests in flight (one per connection).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Keys in the table (GetItem/PutItem pick uniformly among them).
    #[arg(long, default_value_t = 100_000)]
    keys: usize,
    /// Seconds per workload.
    #[arg(long, default_value_t = 8)]
    secs: u64,
    /// Seconds each workload runs unmeasured first (caches, connections, allocator).
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// Megabytes the servers pre-write their write-ahead log files to at start (the server's
    /// `--wal-file-mb`; 0 measures durable writes appending to a growing file).
    #[arg(long, default_value_t = tabula_dataplane::DEFAULT_WAL_FILE_MB)]
    wal_file_mb: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Workloads to run (comma-separated: get, put, mixed, query, put-gsi, query-gsi, txn,
    /// put-3r); the echo ceiling always runs.
    #[arg(
        long,
        default_value = "get,put,mixed,query,put-gsi,query-gsi,txn,put-3r",
        value_delimiter = ','
    )]
    workloads: Vec<String>,
}

const ACCESS_KEY: &str = "BENCHKEY";
const SECRET: &str = "bench-secret";

#[derive(Clone, Copy, Debug)]
enum Workload {
    Echo,
    Put,
    Get,
    Mixed,
    Query,
    PutGsi,
    QueryGsi,
    Transaction,
}

struct Result {
    ops: f64,
    /// Process CPU time (all threads: client, server, echo) per operation, in microseconds:
    /// steadier than throughput on a shared machine, and what a change to the request path
    /// moves first.
    cpu_us: f64,
    p50_us: u64,
    p99_us: u64,
    errors: u64,
}

/// A keep-alive HTTP/1.1 connection speaking just enough of the protocol.
struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(s),
            host: addr.to_string(),
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends one signed DynamoDB request and returns the status code.
    async fn call(&mut self, op: &str, body: &[u8]) -> std::io::Result<u16> {
        let target = format!("DynamoDB_20120810.{op}");
        let date = auth::amz_date_now();
        let authz = auth::sign_request(
            ACCESS_KEY,
            SECRET,
            "us-east-1",
            &date,
            &self.host,
            &target,
            body,
        );
        self.buf.clear();
        self.buf.extend_from_slice(
            format!(
                "POST / HTTP/1.1\r\nhost: {}\r\nx-amz-date: {date}\r\nx-amz-target: {target}\r\n\
                 authorization: {authz}\r\ncontent-type: application/x-amz-json-1.0\r\n\
                 content-length: {}\r\n\r\n",
                self.host,
                body.len()
            )
            .as_bytes(),
        );
        self.buf.extend_from_slice(body);
        self.stream.get_mut().write_all(&self.buf).await?;
        // Read the head.
        let mut head = Vec::with_capacity(512);
        loop {
            let b = self.stream.read_u8().await?;
            head.push(b);
            if head.ends_with(b"\r\n\r\n") {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head);
        let status: u16 = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let len = text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).await?;
        Ok(status)
    }
}

fn put_body(table: &str, key: usize, value: &str) -> Vec<u8> {
    format!(
        r#"{{"TableName":"{table}","Item":{{"pk":{{"S":"key{key:08}"}},"v":{{"S":"{value}"}}}}}}"#
    )
    .into_bytes()
}

/// A put into `benchg`, whose two global indexes key on `a` (ALL) and `b` (KEYS_ONLY).
fn put_gsi_body(key: usize, value: &str) -> Vec<u8> {
    format!(
        r#"{{"TableName":"benchg","Item":{{"pk":{{"S":"key{key:08}"}},"a":{{"S":"a{:05}"}},"b":{{"S":"b{:05}"}},"v":{{"S":"{value}"}}}}}}"#,
        key % 10_000,
        key % 9_973
    )
    .into_bytes()
}

/// A TransactWriteItems incrementing a counter on two items.
fn transaction_body(a: usize, b: usize) -> Vec<u8> {
    let update = |k: usize| {
        format!(
            r#"{{"Update":{{"TableName":"bench","Key":{{"pk":{{"S":"key{k:08}"}}}},"UpdateExpression":"ADD n :one","ExpressionAttributeValues":{{":one":{{"N":"1"}}}}}}}}"#
        )
    };
    format!(r#"{{"TransactItems":[{},{}]}}"#, update(a), update(b)).into_bytes()
}

/// A Query of one 10-item group through `benchq`'s global index `by_g`.
fn query_gsi_body(group: usize) -> Vec<u8> {
    format!(
        r#"{{"TableName":"benchq","IndexName":"by_g","KeyConditionExpression":"g = :g","ExpressionAttributeValues":{{":g":{{"S":"grp{group:07}"}}}}}}"#
    )
    .into_bytes()
}

fn get_body(table: &str, key: usize) -> Vec<u8> {
    format!(r#"{{"TableName":"{table}","Key":{{"pk":{{"S":"key{key:08}"}}}}}}"#).into_bytes()
}

fn query_body(table: &str, partition: usize) -> Vec<u8> {
    format!(
        r#"{{"TableName":"{table}","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{{":p":{{"S":"part{partition:07}"}}}}}}"#
    )
    .into_bytes()
}

/// xorshift: cheap per-connection randomness, no shared state.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn run(addr: &str, workload: Workload, args: &Args) -> Result {
    let stop = Arc::new(AtomicBool::new(false));
    let value = "v".repeat(args.value_bytes);
    let mut tasks = Vec::new();
    for c in 0..args.concurrency {
        let stop = stop.clone();
        let addr = addr.to_string();
        let value = value.clone();
        let keys = args.keys;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await.expect("connect");
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            let mut rng =
                0x9E37_79B9_7F4A_7C15u64 ^ (c as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407);
            while !stop.load(Ordering::Relaxed) {
                let r = next(&mut rng) as usize;
                let key = r % keys;
                let (op, body) = match workload {
                    Workload::Echo => ("GetItem", get_body("bench", key)),
                    Workload::Put => ("PutItem", put_body("bench", key, &value)),
                    Workload::Get => ("GetItem", get_body("bench", key)),
                    Workload::Mixed if r & (1 << 20) == 0 => ("GetItem", get_body("bench", key)),
                    Workload::Mixed => ("PutItem", put_body("bench", key, &value)),
                    Workload::Query => ("Query", query_body("benchq", key % (keys / 10).max(1))),
                    Workload::PutGsi => ("PutItem", put_gsi_body(key, &value)),
                    Workload::QueryGsi => ("Query", query_gsi_body(key % (keys / 10).max(1))),
                    Workload::Transaction => (
                        "TransactWriteItems",
                        transaction_body(key, (key + 1 + (r >> 32) % (keys - 1).max(1)) % keys),
                    ),
                };
                let t = Instant::now();
                match conn.call(op, &body).await {
                    Ok(200) => lat.push(t.elapsed().as_micros() as u32),
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = Conn::open(&addr).await.expect("reconnect");
                    }
                }
            }
            (lat, errors)
        }));
    }
    let started = Instant::now();
    let cpu_before = process_cpu_secs();
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    stop.store(true, Ordering::Relaxed);
    let cpu = process_cpu_secs() - cpu_before;
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("worker");
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as u64
    };
    Result {
        ops: all.len() as f64 / elapsed,
        cpu_us: cpu * 1e6 / all.len().max(1) as f64,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors,
    }
}

async fn start_echo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(body)))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// Loads the key space with a few connections (not measured).
async fn load(addr: &str, args: &Args) {
    let value = "v".repeat(args.value_bytes);
    let workers = 32;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let addr = addr.to_string();
        let value = value.clone();
        let keys = args.keys;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await.expect("connect");
            let mut k = w;
            while k < keys {
                let st = conn.call("PutItem", &put_body("bench", k, &value)).await.expect("load put");
                assert_eq!(st, 200, "load put failed");
                let body = format!(
                    r#"{{"TableName":"benchq","Item":{{"pk":{{"S":"part{:07}"}},"sk":{{"N":"{}"}},"g":{{"S":"grp{:07}"}},"v":{{"S":"{value}"}}}}}}"#,
                    k / 10,
                    k % 10,
                    k / 10
                );
                let st = conn.call("PutItem", body.as_bytes()).await.expect("load query item");
                assert_eq!(st, 200, "load query item failed");
                k += workers;
            }
        }));
    }
    for t in tasks {
        t.await.expect("loader");
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile_dir();
    let mut creds = Credentials::default();
    creds.insert(ACCESS_KEY, SECRET);
    let mut config = Config::local(&dir);
    config.credentials = Some(creds.clone());
    config.wal_file_bytes = args.wal_file_mb << 20;
    let server = Server::start(config).await.expect("start server");
    let addr = server.addr.to_string();
    let echo = start_echo().await;

    let mut admin = Conn::open(&addr).await.expect("connect");
    for (table, schema) in [
        ("bench", BENCH_SCHEMA),
        (
            "benchq",
            r#""KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"N"},{"AttributeName":"g","AttributeType":"S"}],"GlobalSecondaryIndexes":[{"IndexName":"by_g","KeySchema":[{"AttributeName":"g","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}]"#,
        ),
        (
            "benchg",
            r#""KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"a","AttributeType":"S"},{"AttributeName":"b","AttributeType":"S"}],"GlobalSecondaryIndexes":[{"IndexName":"by_a","KeySchema":[{"AttributeName":"a","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}},{"IndexName":"by_b","KeySchema":[{"AttributeName":"b","KeyType":"HASH"}],"Projection":{"ProjectionType":"KEYS_ONLY"}}]"#,
        ),
    ] {
        create_table(&mut admin, table, schema).await;
    }
    eprintln!("loading {} keys (+{} query items)...", args.keys, args.keys);
    let t = Instant::now();
    load(&addr, &args).await;
    eprintln!("loaded in {:.1}s", t.elapsed().as_secs_f64());

    println!(
        "tabula-bench: {} in flight, {} keys, {}-byte values, {}s per workload, SigV4-signed, fsync'd writes",
        args.concurrency, args.keys, args.value_bytes, args.secs
    );
    println!(
        "{:<22} {:>10} {:>9} {:>9} {:>8} {:>7} {:>10} {:>10}",
        "workload", "ops/s", "p50 ms", "p99 ms", "ratio", "errors", "cpu us/op", "cpu ratio"
    );
    // The ceiling is measured again right before each workload (for half as long): this
    // machine's neighbours move throughput by ±25% within a minute, so a ratio is taken
    // against the echo of the same moment rather than one measured at the start.
    let echo_args = Args {
        secs: args.secs.div_ceil(2).max(2),
        ..args.clone()
    };
    // `cpu ratio` is the ceiling's CPU per request over the workload's: what the throughput
    // ratio comes to when both saturate the machine's cores. A throughput ratio well below it
    // means the workload leaves cores idle (waiting on fsync, say) rather than running short of
    // them.
    let print = |name: &str, r: &Result, ceiling: &Result| {
        println!(
            "{:<22} {:>10.0} {:>9.3} {:>9.3} {:>7.2}x {:>7} {:>10.1} {:>9.2}x",
            name,
            r.ops,
            r.p50_us as f64 / 1000.0,
            r.p99_us as f64 / 1000.0,
            r.ops / ceiling.ops,
            r.errors,
            r.cpu_us,
            ceiling.cpu_us / r.cpu_us
        );
    };
    let first_echo = run(&echo, Workload::Echo, &echo_args).await;
    print("echo (ceiling)", &first_echo, &first_echo);
    let mut ceiling = Some(first_echo);
    for (key, name, w) in [
        ("get", "GetItem", Workload::Get),
        ("put", "PutItem (durable)", Workload::Put),
        ("mixed", "mixed 50/50", Workload::Mixed),
        ("query", "Query (10 items)", Workload::Query),
        ("put-gsi", "PutItem, 2 GSIs", Workload::PutGsi),
        ("query-gsi", "Query GSI (10 items)", Workload::QueryGsi),
        ("txn", "TransactWrite, 2 items", Workload::Transaction),
    ] {
        if !args.workloads.iter().any(|x| x == key) {
            continue;
        }
        let echo_now = match ceiling.take() {
            Some(e) => e,
            None => run(&echo, Workload::Echo, &echo_args).await,
        };
        let r = measure(&addr, w, &args).await;
        print(name, &r, &echo_now);
    }
    server.shutdown().await;
    if args.workloads.iter().any(|x| x == "put-3r") {
        let (replicas, leader) =
            start_replicas(&dir.join("replicas"), &creds, args.wal_file_mb << 20).await;
        let mut admin = Conn::open(&leader).await.expect("connect to the leader");
        create_table(&mut admin, "bench", BENCH_SCHEMA).await;
        let echo_now = run(&echo, Workload::Echo, &echo_args).await;
        let r = measure(&leader, Workload::Put, &args).await;
        print("PutItem, 3 replicas", &r, &echo_now);
        for s in replicas {
            s.shutdown().await;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The key schema of table `bench` (PutItem and GetItem workloads).
const BENCH_SCHEMA: &str = r#""KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}]"#;

/// Creates an on-demand table with `schema` (the KeySchema and attribute JSON members).
async fn create_table(admin: &mut Conn, table: &str, schema: &str) {
    let body = format!(r#"{{"TableName":"{table}","BillingMode":"PAY_PER_REQUEST",{schema}}}"#);
    assert_eq!(
        admin
            .call("CreateTable", body.as_bytes())
            .await
            .expect("create"),
        200
    );
}

/// Runs `w` unmeasured for the warm-up, then measured.
async fn measure(addr: &str, w: Workload, args: &Args) -> Result {
    if args.warmup_secs > 0 {
        let warm = Args {
            secs: args.warmup_secs,
            ..args.clone()
        };
        run(addr, w, &warm).await;
    }
    run(addr, w, args).await
}

/// Starts three replicas of one Raft group in this process, on 127.0.0.1, .2 and .3, and
/// returns them with the API address of the leader once it is ready to write.
async fn start_replicas(
    dir: &std::path::Path,
    creds: &Credentials,
    wal_file_bytes: usize,
) -> (Vec<Server>, String) {
    use tabula_dataplane::replication::ReplicaConfig;
    std::fs::create_dir_all(dir).expect("replica dir");
    let key = dir.join("master.key");
    std::fs::write(&key, "22".repeat(32)).expect("master key");
    let mut peers = std::collections::BTreeMap::new();
    for id in 1..=3u64 {
        let ip = format!("127.0.0.{id}");
        let port = std::net::TcpListener::bind((ip.as_str(), 0))
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        peers.insert(id, format!("{ip}:{port}"));
    }
    let mut servers = Vec::new();
    for (id, internal) in &peers {
        let mut config = Config::local(dir.join(format!("replica{id}")));
        config.listen = format!("127.0.0.{id}:0");
        config.credentials = Some(creds.clone());
        config.master_key_file = Some(key.clone());
        config.wal_file_bytes = wal_file_bytes;
        config.replica = Some(ReplicaConfig {
            node_id: *id,
            internal_listen: internal.clone(),
            peers: peers.clone(),
            snapshot_entries: tabula_dataplane::replication::DEFAULT_SNAPSHOT_ENTRIES,
            tls: None,
        });
        servers.push(Server::start(config).await.expect("start replica"));
    }
    loop {
        let ready = servers.iter().position(|s| {
            s.replica()
                .is_some_and(|r| r.status()["ready"] == serde_json::Value::Bool(true))
        });
        if let Some(i) = ready {
            let addr = servers[i].addr.to_string();
            return (servers, addr);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CPU seconds this process has used (user + system, all threads), from `/proc/self/stat`
/// (clock ticks of 1/100 s); 0 where that file does not exist.
fn process_cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) are space-separated; utime and
    // stime are the 14th and 15th fields of the whole line.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn tempfile_dir() -> std::path::PathBuf {
    let base = std::env::var_os("TABULA_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join(format!("tabula-bench-{}", std::process::id()))
}
