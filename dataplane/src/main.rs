//! `tabula-dataplane`: the DynamoDB-compatible server. A thin shell over the library.

/// mimalloc: the request path allocates many small, short-lived buffers (JSON values, item
/// maps); glibc malloc showed up as ~12% of CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use clap::Parser;
use tabula_dataplane::auth::Credentials;
use tabula_dataplane::{Config, Server};

/// Tabula data plane: a DynamoDB-compatible server (AWS JSON 1.0 API) storing tables in
/// RocksDB, with item bodies encrypted at rest (AES-256-GCM).
///
/// Any DynamoDB client works with only the endpoint changed, e.g.
/// `aws dynamodb list-tables --endpoint-url http://127.0.0.1:8000`.
#[derive(Parser, Debug)]
#[command(name = "tabula-dataplane", version)]
struct Args {
    /// Address and port to serve the DynamoDB API on.
    #[arg(long, default_value = "127.0.0.1:8000", env = "TABULA_LISTEN")]
    listen: String,

    /// Directory holding the database (created if missing).
    #[arg(long, default_value = "./tabula-data", env = "TABULA_DATA_DIR")]
    data_dir: PathBuf,

    /// File listing accepted credentials, one `ACCESS_KEY_ID SECRET_ACCESS_KEY` per line.
    /// Every request must then be SigV4-signed by a listed key. Without it (local mode) any
    /// access key is accepted, as DynamoDB Local does.
    #[arg(long, env = "TABULA_CREDENTIALS")]
    credentials: Option<PathBuf>,

    /// PEM certificate chain; with --tls-key, serves HTTPS.
    #[arg(long, requires = "tls_key", env = "TABULA_TLS_CERT")]
    tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert", env = "TABULA_TLS_KEY")]
    tls_key: Option<PathBuf>,

    /// Master key (32 bytes raw, 64 hex characters, or base64) that wraps each table's data
    /// key. Without it a key is generated into the data directory (local use only).
    #[arg(long, env = "TABULA_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,

    /// Region reported in table ARNs.
    #[arg(long, default_value = "us-east-1", env = "TABULA_REGION")]
    region: String,

    /// Seconds a table's ItemCount/TableSizeBytes (DescribeTable) may age before a background
    /// recount; like DynamoDB's, these figures are approximate.
    #[arg(long, default_value_t = 300, env = "TABULA_STATS_INTERVAL_SECS")]
    stats_interval_secs: u64,

    /// Seconds between sweeps that delete items whose time-to-live has passed (tables with
    /// TTL enabled). DynamoDB deletes expired items within a few days; lower it for tests.
    #[arg(long, default_value_t = 60, env = "TABULA_TTL_SWEEP_INTERVAL_SECS")]
    ttl_sweep_interval_secs: u64,

    /// Megabytes of decoded items GetItem keeps in memory (0 turns the cache off). The cache
    /// never serves a value older than the last acknowledged write.
    #[arg(long, default_value_t = 64, env = "TABULA_ITEM_CACHE_MB")]
    item_cache_mb: usize,

    /// Megabytes the write-ahead log file in use, and a spare, are written to at start
    /// (0 turns it off). Durable writes then overwrite blocks already written instead of
    /// growing a file, which makes each fsync cheaper; costs three times this in sequential
    /// writes at each start.
    #[arg(long, default_value_t = tabula_dataplane::DEFAULT_WAL_FILE_MB, env = "TABULA_WAL_FILE_MB")]
    wal_file_mb: usize,

    /// Seconds stream records are kept (DynamoDB: 24 hours).
    #[arg(long, default_value_t = 86_400, env = "TABULA_STREAM_RETENTION_SECS")]
    stream_retention_secs: u64,

    /// Seconds one stream shard spans before the stream rolls over to a child shard
    /// (DynamoDB: about 4 hours). Applies to streams enabled from now on.
    #[arg(long, default_value_t = 14_400, env = "TABULA_STREAM_SHARD_SECS")]
    stream_shard_secs: u64,

    /// This replica's id, with --peers: the node is one replica of a replicated table (a Raft
    /// group of the --peers nodes). Without --peers the node runs alone.
    #[arg(long, env = "TABULA_NODE_ID", requires = "peers")]
    node_id: Option<u64>,

    /// The pod's name, in a StatefulSet (`NAME-ORDINAL`): with --peers and no --node-id, the
    /// replica's id is its ordinal + 1 (the operator's peer list numbers pods that way).
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,

    /// Address and port of this replica's internal gRPC service (replication, forwarding).
    /// Default: this node's address in --peers.
    #[arg(long, env = "TABULA_INTERNAL_LISTEN", requires = "peers")]
    internal_listen: Option<String>,

    /// Every replica's internal address, this node's included:
    /// `1=HOST:PORT,2=HOST:PORT,3=HOST:PORT`. Writes are acknowledged once a majority of them
    /// holds them durably; any replica accepts any request (followers forward writes and
    /// strongly consistent reads to the leader).
    /// Without --node-id the node runs alone (and says so).
    #[arg(long, env = "TABULA_PEERS")]
    peers: Option<String>,

    /// Replicas: take a snapshot of the data every this many log entries, and drop the
    /// entries it covers from the log (keeping the last quarter of them for replicas that
    /// lag a little). A replica too far behind, or with an empty volume, is sent the
    /// snapshot. Snapshots are files in DATA_DIR/snapshots.
    #[arg(long, default_value_t = tabula_dataplane::replication::DEFAULT_SNAPSHOT_ENTRIES, env = "TABULA_SNAPSHOT_ENTRIES", value_parser = clap::value_parser!(u64).range(8..))]
    snapshot_entries: u64,

    /// Mutual TLS between the replicas: this replica's certificate (PEM), presented to peers
    /// as server and as client. With --internal-tls-key and --internal-tls-ca.
    #[arg(long, env = "TABULA_INTERNAL_TLS_CERT", requires_all = ["internal_tls_key", "internal_tls_ca"], value_name = "FILE")]
    internal_tls_cert: Option<PathBuf>,

    /// The private key of --internal-tls-cert (PEM).
    #[arg(
        long,
        env = "TABULA_INTERNAL_TLS_KEY",
        requires = "internal_tls_cert",
        value_name = "FILE"
    )]
    internal_tls_key: Option<PathBuf>,

    /// The CA (PEM) that signs every replica's certificate: peers must present a certificate
    /// it signed, and are checked against it.
    #[arg(
        long,
        env = "TABULA_INTERNAL_TLS_CA",
        requires = "internal_tls_cert",
        value_name = "FILE"
    )]
    internal_tls_ca: Option<PathBuf>,

    /// The name every peer's certificate must carry (default: the peer's host in --peers).
    #[arg(
        long,
        env = "TABULA_INTERNAL_TLS_SERVER_NAME",
        requires = "internal_tls_cert"
    )]
    internal_tls_server_name: Option<String>,

    /// Instead of serving: make a running group's voters exactly these replicas
    /// (`ID=HOST:PORT,...`, internal addresses), then exit. New replicas are brought up to
    /// date as learners before they vote; removed ones leave the group. Sent to the replica
    /// whose internal address --via gives (any replica; it passes the change to the leader).
    #[arg(long, requires = "via", value_name = "PEERS")]
    change_members: Option<String>,

    /// A replica's internal address, for --change-members.
    #[arg(long, value_name = "HOST:PORT")]
    via: Option<String>,

    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `tabula_dataplane=debug`. The
    /// Raft library's own logging is off unless named (`info,openraft=info`): it logs an
    /// error for every retry while a replica is down; leader changes and a stopped
    /// replication are logged by Tabula itself.
    #[arg(long, default_value = "info,openraft=off", env = "TABULA_LOG")]
    log: String,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let internal_tls = match (
        &args.internal_tls_cert,
        &args.internal_tls_key,
        &args.internal_tls_ca,
    ) {
        (Some(cert), Some(key), Some(ca)) => {
            match tabula_dataplane::replication::network::InternalTls::load(
                cert,
                key,
                ca,
                args.internal_tls_server_name.clone(),
            ) {
                Ok(tls) => Some(tls),
                Err(e) => {
                    eprintln!("tabula-dataplane: {e}");
                    std::process::exit(2);
                }
            }
        }
        _ => None,
    };
    if let (Some(list), Some(via)) = (&args.change_members, &args.via) {
        use tabula_dataplane::replication::{ReplicaConfig, members, network};
        if let Some(tls) = internal_tls.clone() {
            network::use_internal_tls(tls);
        }
        let result = match ReplicaConfig::parse_peers(list) {
            Ok(peers) => members::call(via, &members::MembersRequest::Set(peers), 0).await,
            Err(e) => Err(format!("--change-members: {e}")),
        };
        match result {
            Ok(reply) => {
                println!(
                    "{}",
                    serde_json::json!({"voters": reply.voters, "learners": reply.learners})
                );
                return;
            }
            Err(e) => {
                eprintln!("tabula-dataplane: {e}");
                std::process::exit(1);
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let credentials = match &args.credentials {
        Some(path) => match Credentials::load(path) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("tabula-dataplane: {e}");
                std::process::exit(2);
            }
        },
        None => {
            tracing::warn!(
                "no --credentials given: accepting any access key without checking signatures (local mode)"
            );
            None
        }
    };
    let node_id = args.node_id.or_else(|| {
        let ordinal: u64 = args.pod_name.as_ref()?.rsplit_once('-')?.1.parse().ok()?;
        Some(ordinal + 1)
    });
    let replica = match (node_id, &args.peers) {
        (Some(node_id), Some(peers)) => {
            let peers = match tabula_dataplane::replication::ReplicaConfig::parse_peers(peers) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("tabula-dataplane: --peers: {e}");
                    std::process::exit(2);
                }
            };
            // A replica that already belongs to a group may be missing from a shorter, newer
            // list (the group is being scaled down): it then listens where it is told.
            let Some(internal_listen) = args
                .internal_listen
                .clone()
                .or_else(|| peers.get(&node_id).cloned())
            else {
                eprintln!("tabula-dataplane: --peers does not list --node-id {node_id}");
                std::process::exit(2);
            };
            Some(tabula_dataplane::replication::ReplicaConfig {
                node_id,
                internal_listen,
                peers,
                snapshot_entries: args.snapshot_entries,
                tls: internal_tls.clone(),
            })
        }
        (None, Some(_)) => {
            tracing::warn!(
                "--peers (TABULA_PEERS) given without --node-id (or a StatefulSet pod name): running as a single node, not replicated"
            );
            None
        }
        _ => None,
    };
    let config = Config {
        listen: args.listen.clone(),
        data_dir: args.data_dir.clone(),
        credentials,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()),
        master_key_file: args.master_key_file.clone(),
        region: args.region.clone(),
        stats_interval: std::time::Duration::from_secs(args.stats_interval_secs),
        ttl_sweep_interval: std::time::Duration::from_secs(args.ttl_sweep_interval_secs.max(1)),
        stream_retention: std::time::Duration::from_secs(args.stream_retention_secs.max(1)),
        stream_shard_duration: std::time::Duration::from_secs(args.stream_shard_secs.max(1)),
        item_collection_limit: tabula_dataplane::engine::EngineConfig::default()
            .item_collection_limit,
        item_cache_bytes: args.item_cache_mb << 20,
        wal_file_bytes: args.wal_file_mb << 20,
        replica,
    };
    let server = match Server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tabula-dataplane: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!(endpoint = %server.endpoint(), data_dir = %args.data_dir.display(), "serving the DynamoDB API");
    let mut sigterm = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tabula-dataplane: cannot install SIGTERM handler: {e}");
            std::process::exit(1);
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm.recv() => {}
    }
    tracing::info!("shutting down");
    server.shutdown().await;
}
