//! Tabula's data plane: a DynamoDB-compatible server on RocksDB.
//!
//! Request path (one module per stage, data flows one way):
//! `http` (hyper, TLS) → `auth` (SigV4) → `protocol` (X-Amz-Target → typed request, JSON shapes)
//! → `engine` (validation, read-modify-write, conditions) → `tabula_storage` (RocksDB, sealed
//! item bodies) → `protocol` (JSON response) → `http` (x-amz-crc32, request id).
//!
//! `main.rs` is a thin shell over [`Server`]; tests start the same server in-process.

pub mod auth;
pub mod engine;
pub mod error;
pub mod http;
pub mod protocol;
pub mod replication;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tabula_storage::{MasterKey, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::auth::Credentials;
use crate::engine::{Engine, EngineConfig};

/// What `--wal-file-mb` defaults to: about what a log file holds when RocksDB moves on to the
/// next (the items memtable's 64 MB).
pub const DEFAULT_WAL_FILE_MB: usize = 64;

/// Everything needed to start a server.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// `None`: local mode, any access key is accepted (like DynamoDB Local).
    pub credentials: Option<Credentials>,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `None`: a key is generated into the data directory (local mode only).
    pub master_key_file: Option<PathBuf>,
    pub region: String,
    /// See `EngineConfig::stats_interval`.
    pub stats_interval: std::time::Duration,
    /// See `EngineConfig::ttl_sweep_interval`.
    pub ttl_sweep_interval: std::time::Duration,
    /// See `EngineConfig::stream_retention`.
    pub stream_retention: std::time::Duration,
    /// See `EngineConfig::stream_shard_duration`.
    pub stream_shard_duration: std::time::Duration,
    /// See `EngineConfig::item_collection_limit`.
    pub item_collection_limit: u64,
    /// See `EngineConfig::item_cache_bytes`.
    pub item_cache_bytes: usize,
    /// Bytes the write-ahead log files are written to at start (`Store::warm_wal`); 0 skips
    /// it (`Config::local`: tests start many servers).
    pub wal_file_bytes: usize,
    /// `Some`: this node is one replica of a replicated table (`--node-id`, `--peers`).
    pub replica: Option<replication::ReplicaConfig>,
}

impl Config {
    pub fn local(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: "127.0.0.1:0".into(),
            data_dir: data_dir.into(),
            credentials: None,
            tls: None,
            master_key_file: None,
            region: "us-east-1".into(),
            stats_interval: EngineConfig::default().stats_interval,
            ttl_sweep_interval: EngineConfig::default().ttl_sweep_interval,
            stream_retention: EngineConfig::default().stream_retention,
            stream_shard_duration: EngineConfig::default().stream_shard_duration,
            item_collection_limit: EngineConfig::default().item_collection_limit,
            item_cache_bytes: EngineConfig::default().item_cache_bytes,
            wal_file_bytes: 0,
            replica: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("data directory {dir}: {message}")]
    DataDir { dir: PathBuf, message: String },
    #[error("master key: {0}")]
    MasterKey(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("replication: {0}")]
    Replication(String),
}

/// The tasks tying a replica's Raft to its engine: catalog changes applied from the log are
/// loaded into the engine, and a replica that becomes a ready leader takes over the
/// background work.
fn start_replica_tasks(
    replica: &Arc<replication::Replica>,
    engine: &Arc<Engine>,
    mut applied: tokio::sync::mpsc::UnboundedReceiver<replication::CatalogChanged>,
) {
    let e = engine.clone();
    let r = replica.clone();
    tokio::spawn(async move {
        while applied.recv().await.is_some() {
            // One reload covers every change announced meanwhile.
            while applied.try_recv().is_ok() {}
            // Everything applied up to this index is in the store the reload reads.
            let upto = r.catalog_applied();
            let e = e.clone();
            match tokio::task::spawn_blocking(move || e.reload_catalog()).await {
                Ok(Ok(())) => r.catalog_loaded(upto),
                Ok(Err(err)) => {
                    tracing::error!(error = %err, "cannot reload the catalog after a replicated change")
                }
                Err(err) => tracing::error!(error = %err, "catalog reload task failed"),
            }
        }
    });
    let e = engine.clone();
    let r = replica.clone();
    let mut metrics = replica.raft.metrics();
    tokio::spawn(async move {
        // The term whose takeover work ran: once per term this node becomes a ready leader.
        let mut handled = None;
        // What the log last said about the group (openraft's own logging is off by default:
        // it logs an error for every failed retry while a peer is down).
        let mut known_leader = None;
        let mut stopped = false;
        loop {
            let (leader, term, running) = {
                let m = metrics.borrow();
                (m.current_leader, m.current_term, m.running_state.clone())
            };
            if leader != known_leader {
                known_leader = leader;
                match leader {
                    Some(l) => {
                        tracing::info!(node = r.id, leader = l, term, "replica group leader")
                    }
                    None => tracing::info!(node = r.id, term, "replica group has no leader"),
                }
            }
            if let Err(e) = running
                && !stopped
            {
                stopped = true;
                if matches!(e, openraft::error::Fatal::Stopped) {
                    tracing::info!(node = r.id, "replication stopped");
                } else {
                    tracing::error!(node = r.id, error = %e, "replication stopped: this replica no longer takes part in its group");
                }
            }
            if let Some(term) = r.writer_term()
                && handled != Some(term)
            {
                handled = Some(term);
                let e = e.clone();
                tracing::info!(node = r.id, term, "leading: taking over background work");
                let _ = tokio::task::spawn_blocking(move || e.leader_started()).await;
            }
            tokio::select! {
                changed = metrics.changed() => if changed.is_err() { break },
                // Readiness also waits on the catalog reload, which metrics do not show.
                _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
            }
        }
    });
}

/// How long a stopping server waits for the requests it is answering.
const HTTP_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    pub addr: SocketAddr,
    pub tls: bool,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    engine: Arc<Engine>,
    replica: Option<Arc<replication::Replica>>,
}

impl Server {
    /// Opens the data directory, binds the listener and starts serving in the background.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| StartError::DataDir {
            dir: config.data_dir.clone(),
            message: e.to_string(),
        })?;
        let (master, admin_key) = load_master_key(&config)?;
        let data_dir_error = |message: String| StartError::DataDir {
            dir: config.data_dir.clone(),
            message,
        };
        let db = config.data_dir.join("db");
        let store = match &config.replica {
            None => Store::open(&db, master),
            Some(_) => Store::open_replicated(&db, master),
        }
        .map_err(|e| data_dir_error(e.to_string()))?;
        if config.wal_file_bytes > 0 {
            let started = std::time::Instant::now();
            store
                .warm_wal(config.wal_file_bytes)
                .map_err(|e| data_dir_error(e.to_string()))?;
            tracing::info!(
                mb = config.wal_file_bytes >> 20,
                ms = started.elapsed().as_millis() as u64,
                "write-ahead log files written in advance (--wal-file-mb)"
            );
        }
        let engine_config = EngineConfig {
            region: config.region.clone(),
            stats_interval: config.stats_interval,
            ttl_sweep_interval: config.ttl_sweep_interval,
            stream_retention: config.stream_retention,
            stream_shard_duration: config.stream_shard_duration,
            item_collection_limit: config.item_collection_limit,
            item_cache_bytes: config.item_cache_bytes,
            ..EngineConfig::default()
        };
        let (engine, replica) = match &config.replica {
            None => (
                Engine::new(store, engine_config).map_err(data_dir_error)?,
                None,
            ),
            Some(rc) => {
                let store = Arc::new(store);
                let cache = Engine::item_cache(&engine_config);
                let (replica, applied) = replication::Replica::start(
                    rc,
                    store.clone(),
                    &config.data_dir.join("snapshots"),
                    cache.clone(),
                )
                .await
                .map_err(StartError::Replication)?;
                let engine = Engine::new_replicated(store, engine_config, replica.clone(), cache)
                    .map_err(data_dir_error)?;
                (engine, Some((replica, applied)))
            }
        };
        let engine = Arc::new(engine);
        let tls = match &config.tls {
            Some((cert, key)) => Some(tls_acceptor(cert, key)?),
            None => None,
        };
        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen.clone(),
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen.clone(),
            source,
        })?;
        let shared = Arc::new(http::Shared {
            engine: engine.clone(),
            credentials: config.credentials.clone(),
            replica: replica.as_ref().map(|(r, _)| r.clone()),
            admin_key,
        });
        let replica = match replica {
            Some((replica, applied)) => {
                start_replica_tasks(&replica, &engine, applied);
                let forward_to: Arc<http::Shared> = shared.clone();
                let forward: replication::network::Forwarder =
                    Arc::new(move |target: String, body: bytes::Bytes, hops: u32| {
                        let shared = forward_to.clone();
                        Box::pin(async move { http::answer(&shared, &target, body, hops).await })
                    });
                replica.set_forwarder(forward);
                Some(replica)
            }
            None => None,
        };
        let (tx, rx) = watch::channel(false);
        let has_tls = tls.is_some();
        let task = tokio::spawn(http::serve(listener, tls, shared, rx));
        Ok(Server {
            addr,
            tls: has_tls,
            shutdown: tx,
            task,
            engine,
            replica,
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The endpoint URL clients use.
    pub fn endpoint(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Stops the server: stops accepting, lets in-flight requests finish (bounded), and
    /// waits. A replica that leads hands its leadership over first (bounded by
    /// `replication::HAND_OVER`), while it still serves: requests arriving meanwhile are
    /// held, then passed to the new leader.
    pub async fn shutdown(self) {
        if let Some(r) = &self.replica {
            r.hand_over(replication::HAND_OVER).await;
        }
        let _ = self.shutdown.send(true);
        // In-flight requests finish first, within a bound (a pod's grace period is 30 s).
        let mut task = self.task;
        if tokio::time::timeout(HTTP_DRAIN, &mut task).await.is_err() {
            tracing::warn!("requests still unanswered after {HTTP_DRAIN:?}; stopping anyway");
            task.abort();
        }
        if let Some(r) = &self.replica {
            r.shutdown().await;
        }
    }

    /// This node's replica, when it is one.
    pub fn replica(&self) -> Option<&Arc<replication::Replica>> {
        self.replica.as_ref()
    }

    /// Waits until the server stops (it only stops through `shutdown`).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Reads the master key: 32 raw bytes, 64 hex characters, or base64 of 32 bytes (the forms a
/// Kubernetes Secret mount or a script produces). Without a file, local mode keeps a generated
/// key in the data directory — convenient, but it sits beside the data it protects. Also
/// returns the administrative key derived from it (`tabula_core::admin`).
fn load_master_key(config: &Config) -> Result<(MasterKey, [u8; 32]), StartError> {
    let (path, generated) = match &config.master_key_file {
        Some(p) => (p.clone(), false),
        None => (config.data_dir.join("master.key"), true),
    };
    if generated && !path.exists() {
        let key = MasterKey::generate_bytes();
        write_private(&path, hex::encode(key).as_bytes())
            .map_err(|e| StartError::MasterKey(format!("cannot write {}: {e}", path.display())))?;
        tracing::warn!(
            path = %path.display(),
            "no --master-key-file given: generated a master key inside the data directory; \
             use --master-key-file (a Kubernetes Secret) in production"
        );
    }
    let raw = std::fs::read(&path)
        .map_err(|e| StartError::MasterKey(format!("cannot read {}: {e}", path.display())))?;
    let key = tabula_core::admin::decode_master_key(&raw).ok_or_else(|| {
        StartError::MasterKey(format!(
            "{} must hold 32 raw bytes, 64 hex characters or base64 of 32 bytes",
            path.display()
        ))
    })?;
    Ok((
        MasterKey::from_bytes(&key),
        tabula_core::admin::admin_key(&key),
    ))
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, StartError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| StartError::Tls(format!("cannot read {}: {e}", p.display())))
    };
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StartError::Tls(format!("bad certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(StartError::Tls(format!(
            "no certificate in {}",
            cert.display()
        )));
    }
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| StartError::Tls(format!("bad key PEM: {e}")))?
        .ok_or_else(|| StartError::Tls(format!("no private key in {}", key.display())))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| StartError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| StartError::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
