//! Replication: the replicas of a table (the pods of its StatefulSet) keep one Raft log with
//! openraft, and each applies it to its own RocksDB store.
//!
//! - **Writes**: the leader decides each write as a single node does (item locks, conditions
//!   read from its store), then proposes the resulting mutations (sealed item bodies, index
//!   entries, stream records, catalog changes) as one log entry, and answers once a quorum
//!   holds the entry durably and the leader has applied it. The leader decides writes only
//!   once it has applied every entry of earlier leaders, so it reads what they committed.
//! - **Reads**: any replica serves eventually consistent reads from its store. Strongly
//!   consistent reads go to the leader, which confirms its leadership with a quorum first
//!   (openraft's read index) and waits until it has applied that far.
//! - **Any replica accepts any request**: a follower forwards writes and strongly consistent
//!   reads to the leader over the internal gRPC service (`tabula_proto::Replica`).
//! - **Stream records** are numbered from the proposer's clock stamped into the entry, so
//!   every replica numbers them alike.
//!
//! - **Snapshots**: every `--snapshot-entries` entries a replica writes a snapshot of its
//!   store (see `storage`) and drops the log entries before it, but for a margin; a replica
//!   that needs entries no longer in the leader's log (far behind, or an empty volume) is
//!   sent the snapshot in chunks and installs it.
//!
//! - **Membership** (`members`): a replica starting with an empty disk joins its group (as
//!   a learner until caught up); the voters change by joint consensus.
//! - **Stopping**: a leader that is stopped (SIGTERM: a rolling update, a drained node) first
//!   hands its leadership to an up-to-date voter (`Replica::hand_over`), so the group does
//!   not wait out an election timeout.
//! - **Mutual TLS** between replicas when configured (`network::InternalTls`).

pub mod members;
pub mod network;
mod storage;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{BasicNode, Raft, ServerState};
use serde::{Deserialize, Serialize};
use tabula_proto::{ForwardRequest, ReplicaClient};
use tabula_storage::{Mutation, StorageError, Store};
use tokio::sync::{mpsc, oneshot, watch};
use tonic::transport::Channel;

use crate::engine::{Proposed, Replicator};
use crate::error::{ApiError, ErrorKind};
use crate::protocol::Operation;

pub use storage::CatalogChanged;

pub type NodeId = u64;

openraft::declare_raft_types!(
    /// The replicas' Raft: entries carry [`Proposal`]s; applying one yields an [`Outcome`]
    /// per part.
    pub TypeConfig:
        D = Proposal,
        R = Vec<Outcome>,
        NodeId = NodeId,
        Node = BasicNode,
        SnapshotData = tokio::fs::File,
);

/// One log entry's data: the changes of one or more requests (group commit: while one entry
/// is being replicated, the requests arriving meanwhile are gathered into the next), and the
/// proposer's clock (µs), which numbers the entry's stream records on every replica.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub stamp: u64,
    pub parts: Vec<Part>,
}

/// One request's changes in an entry, with the term in which the proposer decided them (read
/// the items they change). A part that ends up in the log under another term is refused when
/// applied: its decision may rest on reads older than writes an intervening leader committed.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub term: u64,
    pub mutations: Vec<Mutation>,
}

impl Part {
    fn is_catalog(&self) -> bool {
        self.mutations.iter().any(Mutation::is_catalog)
    }
}

/// Version of the proposal encoding.
const PROPOSAL_FORMAT: u8 = 2;

impl Serialize for Proposal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut b = vec![PROPOSAL_FORMAT];
        b.extend_from_slice(&self.stamp.to_be_bytes());
        b.extend_from_slice(&(self.parts.len() as u32).to_be_bytes());
        for part in &self.parts {
            let m = tabula_storage::mutation::encode(&part.mutations);
            b.extend_from_slice(&part.term.to_be_bytes());
            b.extend_from_slice(&(m.len() as u32).to_be_bytes());
            b.extend_from_slice(&m);
        }
        s.serialize_bytes(&b)
    }
}

impl<'de> Deserialize<'de> for Proposal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Proposal, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Proposal;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an encoded proposal")
            }
            fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Proposal, E> {
                if b.first() != Some(&PROPOSAL_FORMAT) {
                    return Err(E::custom(format!(
                        "proposal format {:?}, this build reads {PROPOSAL_FORMAT}",
                        b.first()
                    )));
                }
                let take = |at: &mut usize, n: usize| -> Result<&[u8], E> {
                    let s = b
                        .get(*at..*at + n)
                        .ok_or_else(|| E::custom("short proposal"))?;
                    *at += n;
                    Ok(s)
                };
                let mut at = 1;
                let word = |s: &[u8]| u64::from_be_bytes(s.try_into().unwrap_or([0; 8]));
                let half = |s: &[u8]| u32::from_be_bytes(s.try_into().unwrap_or([0; 4]));
                let stamp = word(take(&mut at, 8)?);
                let n = half(take(&mut at, 4)?) as usize;
                let mut parts = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    let term = word(take(&mut at, 8)?);
                    let len = half(take(&mut at, 4)?) as usize;
                    let mutations =
                        tabula_storage::mutation::decode(take(&mut at, len)?).map_err(E::custom)?;
                    parts.push(Part { term, mutations });
                }
                if at != b.len() {
                    return Err(E::custom("trailing bytes in a proposal"));
                }
                Ok(Proposal { stamp, parts })
            }
            fn visit_byte_buf<E: serde::de::Error>(self, b: Vec<u8>) -> Result<Proposal, E> {
                self.visit_bytes(&b)
            }
        }
        d.deserialize_byte_buf(Visit)
    }
}

tokio::task_local! {
    /// The term in which the request being served was admitted as a write (the leader was
    /// ready in that term): proposals made while serving it carry this term.
    pub static DECIDED_TERM: u64;
}

/// What applying an entry decided, the same on every replica.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Done,
    TableExists(String),
    TableNotFound(String),
    Rejected(String),
    /// Proposed in another term than the one it entered the log in (see [`Part`]).
    Stale,
}

impl Outcome {
    /// The outcome of a storage rejection; `None` for a real failure (I/O, corruption).
    fn rejection(e: &StorageError) -> Option<Outcome> {
        match e {
            StorageError::TableExists(n) => Some(Outcome::TableExists(n.clone())),
            StorageError::TableNotFound(n) => Some(Outcome::TableNotFound(n.clone())),
            StorageError::Rejected(m) => Some(Outcome::Rejected(m.clone())),
            _ => None,
        }
    }

    fn into_result(self) -> Result<(), StorageError> {
        match self {
            Outcome::Done => Ok(()),
            Outcome::TableExists(n) => Err(StorageError::TableExists(n)),
            Outcome::TableNotFound(n) => Err(StorageError::TableNotFound(n)),
            Outcome::Rejected(m) => Err(StorageError::Rejected(m)),
            Outcome::Stale => Err(StorageError::Unavailable(
                "leadership changed while the write was decided; retry".into(),
            )),
        }
    }
}

/// How this node takes part.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    pub node_id: NodeId,
    /// Where this node serves the internal gRPC service.
    pub internal_listen: String,
    /// Every replica's internal address, this node's included.
    pub peers: BTreeMap<NodeId, String>,
    /// A snapshot every this many log entries (see `--snapshot-entries`).
    pub snapshot_entries: u64,
    /// Mutual TLS between the replicas (see `--internal-tls-cert`).
    pub tls: Option<network::InternalTls>,
}

/// Log entries between two snapshots unless `--snapshot-entries` says otherwise. An entry
/// carries one catalog change or up to `MAX_PARTS` writes, so this is some seconds to minutes
/// of heavy writing, and the log it lets grow is bounded by a few hundred MB.
pub const DEFAULT_SNAPSHOT_ENTRIES: u64 = 20_000;

impl ReplicaConfig {
    /// Parses `--peers 1=host:port,2=host:port,...`.
    pub fn parse_peers(s: &str) -> Result<BTreeMap<NodeId, String>, String> {
        let mut peers = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, addr) = part
                .split_once('=')
                .ok_or_else(|| format!("peer `{part}` is not ID=HOST:PORT"))?;
            let id: NodeId = id
                .trim()
                .parse()
                .map_err(|_| format!("peer id `{id}` is not a number"))?;
            if peers.insert(id, addr.trim().to_string()).is_some() {
                return Err(format!("peer id {id} is listed twice"));
            }
        }
        if peers.is_empty() {
            return Err("--peers lists no replica".into());
        }
        Ok(peers)
    }
}

/// Where a request is served (see [`route`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Any replica, from its own store (eventually consistent reads, descriptions).
    Local,
    /// The leader, after confirming its leadership (strongly consistent reads).
    Linearizable,
    /// The leader, once it may write (writes, catalog changes, streams).
    Leader,
}

/// Where `op` with `body` must be served.
pub fn route(op: Operation, body: &[u8]) -> Route {
    match op {
        Operation::GetItem | Operation::Query | Operation::Scan | Operation::BatchGetItem => {
            if consistent_read(body) {
                Route::Linearizable
            } else {
                Route::Local
            }
        }
        Operation::TransactGetItems => Route::Linearizable,
        Operation::DescribeTable
        | Operation::ListTables
        | Operation::ListTagsOfResource
        | Operation::DescribeEndpoints
        | Operation::DescribeLimits
        | Operation::DescribeTimeToLive => Route::Local,
        _ => Route::Leader,
    }
}

/// Whether a read asks for ConsistentRead (BatchGetItem: for any of its tables). A body that
/// does not parse is served locally, where it gets its error.
fn consistent_read(body: &[u8]) -> bool {
    // Most reads do not ask: skip parsing (the protocol layer parses the body anyway).
    const KEY: &[u8] = b"ConsistentRead";
    if !body.windows(KEY.len()).any(|w| w == KEY) {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let yes =
        |v: &serde_json::Value| v.get("ConsistentRead") == Some(&serde_json::Value::Bool(true));
    yes(&v)
        || v.get("RequestItems")
            .and_then(|r| r.as_object())
            .is_some_and(|tables| tables.values().any(yes))
}

/// This node's replica: its Raft and its peers.
pub struct Replica {
    pub id: NodeId,
    pub raft: Raft<TypeConfig>,
    peers: BTreeMap<NodeId, String>,
    clients: Mutex<HashMap<NodeId, ReplicaClient<Channel>>>,
    stop: watch::Sender<bool>,
    /// Log index of the last catalog change applied to the store, and of the last one the
    /// engine has loaded: a leader decides nothing until the engine's catalog caught up.
    catalog_applied: Arc<AtomicU64>,
    catalog_loaded: AtomicU64,
    /// Answers forwarded requests once the HTTP side exists (see [`Replica::set_forwarder`]).
    forwarder: Arc<OnceLock<network::Forwarder>>,
    /// Parts waiting to be gathered into the next log entry (see [`Replica::gather`]).
    queue: mpsc::UnboundedSender<Waiting>,
    /// See `network::Service::vote_floor`; kept in the store too (`raft/vote_floor`), so a
    /// replica that restarts while it is being rebuilt still does not vote.
    vote_floor: Arc<AtomicU64>,
    store: Arc<Store>,
    /// The last term in which this node was a ready leader (see `background_term`).
    ready_term: AtomicU64,
    /// Set while this leader hands its leadership over (see `hand_over`): it admits no more
    /// writes.
    handing_over: AtomicBool,
    /// Set once this replica is stopping: it does not campaign when asked to (see
    /// `network::Service::stopping`).
    stopping: Arc<AtomicBool>,
    /// Writes this leader admitted and has not answered yet (see `wait_writer`).
    admitted: Arc<AtomicUsize>,
    /// The internal service's task, which ends once the service stopped.
    served: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The term this node last became a ready leader in, and when (see `move_leadership`).
    leading_since: Mutex<Option<(u64, tokio::time::Instant)>>,
}

/// A write admitted by this leader, counted until it is dropped (when the write is answered):
/// a hand-over waits for the writes admitted before it.
pub struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A part waiting for its entry, and where its outcome goes.
type Waiting = (Part, oneshot::Sender<Result<(), StorageError>>, Admitted);

/// Most parts one entry gathers, and most entries in flight at once (group commit: while
/// these are replicated, the next entry fills up).
const MAX_PARTS: usize = 256;
const ENTRIES_IN_FLIGHT: usize = 2;

/// How long a request waits for a leader to be elected (or to finish taking over) before
/// it is answered ServiceUnavailable.
const LEADER_WAIT: Duration = Duration::from_secs(3);

/// Raft timers (ms). The heartbeat interval is also the AppendEntries timeout: room for a
/// synced append of a batch. A follower that heard from its leader within the longest
/// election timeout refuses to vote for another (openraft's leader lease).
const HEARTBEAT_MS: u64 = 150;
const ELECTION_MIN_MS: u64 = 500;
const ELECTION_MAX_MS: u64 = 1000;

/// How long a stopping leader tries to hand its leadership over before it stops anyway.
pub const HAND_OVER: Duration = Duration::from_secs(5);

/// How long a replica that handed its leadership over goes on serving forwarded requests,
/// so that each replica has heard from the new leader (its first entry) before this one
/// stops answering.
const HANDED_OVER_GRACE: Duration = Duration::from_millis(2 * HEARTBEAT_MS);

/// How long a stopping replica waits for the forwarded requests it is answering.
const DRAIN: Duration = Duration::from_secs(10);

/// The internal address of replica `id` as the group's membership records it.
fn node_addr(m: &openraft::RaftMetrics<NodeId, BasicNode>, id: NodeId) -> Option<String> {
    m.membership_config
        .membership()
        .get_node(&id)
        .map(|n| n.addr.clone())
}

/// Asks the replica at `addr` whether it belongs to a group and how long its log is (the
/// `Joined` RPC); `None` if it does not answer within a second.
async fn ask_joined(addr: &str) -> Option<(bool, Option<u64>)> {
    let ask = async {
        let mut c = ReplicaClient::new(network::channel(addr).ok()?);
        let reply = c
            .joined(tabula_proto::RaftMessage::default())
            .await
            .ok()?
            .into_inner();
        bincode::deserialize::<(bool, Option<u64>)>(&reply.payload).ok()
    };
    tokio::time::timeout(Duration::from_secs(1), ask)
        .await
        .ok()
        .flatten()
}

/// What became of a forwarded request.
pub enum Forwarded {
    /// The leader's answer: HTTP status and body.
    Answer(u16, Bytes),
    /// The request was not delivered and leadership moved meanwhile (the leader could not be
    /// reached and another one was elected, or it moved to or from this replica): route the
    /// request again.
    LeaderMoved,
}

/// How far behind its leader's log a follower may be and still be ready (a few entries are
/// always in flight under load).
const READY_LAG: u64 = 256;

/// How long a forwarded request may take at the leader.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// Most times a request is forwarded (leadership moving while it travels).
const MAX_HOPS: u32 = 3;

/// Largest gRPC message either side accepts (a forwarded BatchWriteItem may carry 16 MB; a
/// Raft batch holds up to `max_payload_entries` entries of up to a few MB).
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

impl Replica {
    /// Opens this node's Raft over `store` and serves the internal gRPC service at once (so
    /// the leader reaches a restarted replica before its election timer runs out). A group
    /// whose replicas are all fresh is bootstrapped by the replica with the lowest id, once
    /// every peer answered that it is fresh too; a replica that lost its disk therefore waits
    /// to be brought up to date by the existing group instead of founding another.
    /// Returns the replica and the channel on which applied catalog changes are announced.
    pub(crate) async fn start(
        config: &ReplicaConfig,
        store: Arc<Store>,
        snapshot_dir: &std::path::Path,
        cache: Option<Arc<crate::engine::cache::ItemCache>>,
    ) -> Result<(Arc<Replica>, mpsc::UnboundedReceiver<CatalogChanged>), String> {
        if let Some(tls) = &config.tls {
            network::use_internal_tls(tls.clone());
        }
        // The internal service's server, over mutual TLS when configured: unusable TLS
        // material refuses the start.
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = &config.tls {
            server = server
                .tls_config(tls.server())
                .map_err(|e| format!("internal TLS: {e}"))?;
        }
        let fresh = !store.has_raft_state().map_err(|e| e.to_string())?;
        // A new replica finds its group through the list, so it must be on it; one that
        // belongs to a group already knows the members from its log.
        if fresh && !config.peers.contains_key(&config.node_id) {
            return Err(format!(
                "--peers does not list this node's id {}",
                config.node_id
            ));
        }
        // The vote floor: a fresh replica refuses votes until it knows where it stands
        // (recorded before Raft can write anything, so a restart keeps refusing).
        let floor = if fresh {
            store
                .set_raft_state("vote_floor", &u64::MAX.to_be_bytes())
                .map_err(|e| e.to_string())?;
            u64::MAX
        } else {
            store
                .raft_state("vote_floor")
                .map_err(|e| e.to_string())?
                .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                .map_or(0, u64::from_be_bytes)
        };
        let floor_store = store.clone();
        let listener = tokio::net::TcpListener::bind(&config.internal_listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.internal_listen))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let raft_config = openraft::Config {
            cluster_name: "tabula".into(),
            heartbeat_interval: HEARTBEAT_MS,
            election_timeout_min: ELECTION_MIN_MS,
            election_timeout_max: ELECTION_MAX_MS,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(config.snapshot_entries),
            // Entries a snapshot covers that stay in the log: a replica a little behind
            // catches up from the log, one further behind is sent the snapshot.
            max_in_snapshot_log_to_keep: config.snapshot_entries / 4,
            max_payload_entries: 64,
            ..Default::default()
        }
        .validate()
        .map_err(|e| e.to_string())?;
        let log = storage::LogStore::new(store.clone());
        let catalog_applied = Arc::new(AtomicU64::new(0));
        let sm =
            storage::StateMachine::open(store, snapshot_dir, tx, catalog_applied.clone(), cache)
                .map_err(|e| e.to_string())?;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            network::Network,
            log,
            sm,
        )
        .await
        .map_err(|e| format!("cannot start Raft: {e}"))?;
        let (stop, _) = watch::channel(false);
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(Replica::gather(raft.clone(), waiting));
        let replica = Arc::new(Replica {
            id: config.node_id,
            raft,
            peers: config.peers.clone(),
            clients: Mutex::default(),
            stop,
            catalog_applied,
            catalog_loaded: AtomicU64::new(0),
            forwarder: Arc::default(),
            vote_floor: Arc::new(AtomicU64::new(floor)),
            queue,
            store: floor_store,
            ready_term: AtomicU64::new(0),
            handing_over: AtomicBool::new(false),
            stopping: Arc::default(),
            admitted: Arc::default(),
            served: Mutex::default(),
            leading_since: Mutex::default(),
        });
        replica.serve(listener, server);
        // A fresh replica, or one that restarted before it found its group.
        if floor == u64::MAX {
            let r = replica.clone();
            tokio::spawn(async move { r.find_group().await });
        }
        Ok((replica, rx))
    }

    /// Group commit: gathers the parts waiting into one log entry (a catalog change travels
    /// alone), with at most `ENTRIES_IN_FLIGHT` entries being replicated at a time, and
    /// hands each part its outcome.
    async fn gather(raft: Raft<TypeConfig>, mut waiting: mpsc::UnboundedReceiver<Waiting>) {
        let slots = Arc::new(tokio::sync::Semaphore::new(ENTRIES_IN_FLIGHT));
        let mut held: Option<Waiting> = None;
        loop {
            let first = match held.take() {
                Some(w) => w,
                None => match waiting.recv().await {
                    Some(w) => w,
                    None => return,
                },
            };
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let mut batch = vec![first];
            if !batch[0].0.is_catalog() {
                while batch.len() < MAX_PARTS {
                    match waiting.try_recv() {
                        Ok(w) if w.0.is_catalog() => {
                            held = Some(w);
                            break;
                        }
                        Ok(w) => batch.push(w),
                        Err(_) => break,
                    }
                }
            }
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros() as u64)
                .unwrap_or(0);
            let (parts, replies): (Vec<Part>, Vec<_>) =
                batch.into_iter().map(|(p, r, a)| (p, (r, a))).unzip();
            let raft = raft.clone();
            tokio::spawn(async move {
                let outcome = raft.client_write(Proposal { stamp, parts }).await;
                drop(slot);
                match outcome {
                    Ok(r) => {
                        let mut outcomes = r.data.into_iter();
                        for (reply, _admitted) in replies {
                            let o = outcomes.next().unwrap_or(Outcome::Rejected(
                                "the entry's outcome is missing".into(),
                            ));
                            let _ = reply.send(o.into_result());
                        }
                    }
                    Err(e) => {
                        let message = match e {
                            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => format!(
                                "this replica is no longer the leader (leader: {:?})",
                                f.leader_id
                            ),
                            e => e.to_string(),
                        };
                        for (reply, _admitted) in replies {
                            let _ = reply.send(Err(StorageError::Unavailable(message.clone())));
                        }
                    }
                }
            });
        }
    }

    /// Sets the vote floor, durably first.
    fn set_vote_floor(&self, floor: u64) {
        if let Err(e) = self
            .store
            .set_raft_state("vote_floor", &floor.to_be_bytes())
        {
            tracing::error!(error = %e, "cannot record the vote floor; this replica keeps refusing votes");
            return;
        }
        self.vote_floor.store(floor, Ordering::SeqCst);
    }

    /// A replica that starts with an empty disk finds out where it stands, asking every
    /// peer whether it belongs to a group and how long its log is:
    /// - a peer has a log: the group exists; this replica asks to be brought up to date
    ///   (`members::MembersRequest::Join`) and votes only once it has applied as far as the
    ///   leader's log reached then;
    /// - every peer answered and none has more than the founding entry: nothing was ever
    ///   committed, so this replica may vote; the lowest id founds the group once every peer
    ///   answered that it belongs to none.
    async fn find_group(&self) {
        let mut stop = self.stop.subscribe();
        let own = self.peers.get(&self.id).cloned().unwrap_or_default();
        let mut floor_known = false;
        loop {
            let mut all_answered = true;
            let mut all_fresh = true;
            let mut with_log = None;
            let mut longest = 0;
            for (id, addr) in &self.peers {
                if *id == self.id {
                    continue;
                }
                match ask_joined(addr).await {
                    Some((joined, last)) => {
                        all_fresh &= !joined;
                        longest = longest.max(last.unwrap_or(0));
                        if joined && last.is_some_and(|l| l >= 1) {
                            with_log = Some((*id, addr.clone()));
                        }
                    }
                    _ => all_answered = false,
                }
            }
            if let Some((peer, addr)) = with_log {
                // With every peer's answer, the longest log among them holds every entry ever
                // committed (a commit needs a majority, and all answered): once this replica
                // has applied that far it may vote, even before its join is through (its
                // leader may die first, and the others may need its vote).
                if all_answered && !floor_known {
                    floor_known = true;
                    self.set_vote_floor(longest.max(1));
                }
                // Ask the leader this replica already hears from, else the peer.
                let leader = {
                    let m = self.raft.metrics();
                    let m = m.borrow();
                    m.current_leader.and_then(|l| node_addr(&m, l))
                };
                let join = members::MembersRequest::Join {
                    id: self.id,
                    addr: own.clone(),
                };
                match members::call(leader.as_deref().unwrap_or(&addr), &join, 0).await {
                    Ok(reply) => {
                        tracing::info!(
                            peer,
                            votes_from = reply.last_log_index,
                            "joined the replica group; voting once caught up"
                        );
                        if !floor_known {
                            self.set_vote_floor(reply.last_log_index.max(1));
                        }
                        return;
                    }
                    Err(e) => tracing::info!(peer, error = %e, "asking to join the replica group"),
                }
            } else if all_answered {
                self.set_vote_floor(0);
                let lowest = self.peers.keys().next().copied();
                if all_fresh && lowest == Some(self.id) {
                    let members: BTreeMap<NodeId, BasicNode> = self
                        .peers
                        .iter()
                        .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
                        .collect();
                    match self.raft.initialize(members).await {
                        Ok(()) => {
                            tracing::info!(node = self.id, "bootstrapped a new replica group")
                        }
                        Err(e) => tracing::info!(error = %e, "replica group not bootstrapped here"),
                    }
                }
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Serves the internal gRPC service on `listener` until [`Replica::shutdown`].
    fn serve(&self, listener: tokio::net::TcpListener, mut builder: tonic::transport::Server) {
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let service = network::Service {
            raft: self.raft.clone(),
            forward: self.forwarder.clone(),
            vote_floor: self.vote_floor.clone(),
            stopping: self.stopping.clone(),
        };
        let mut stop = self.stop.subscribe();
        let served = tokio::spawn(async move {
            let served = builder
                .add_service(
                    tabula_proto::ReplicaServer::new(service)
                        .max_decoding_message_size(MAX_MESSAGE_BYTES)
                        .max_encoding_message_size(MAX_MESSAGE_BYTES),
                )
                .serve_with_incoming_shutdown(incoming, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "internal gRPC service stopped");
            }
        });
        *self.served.lock().unwrap_or_else(|p| p.into_inner()) = Some(served);
    }

    /// Installs what answers forwarded requests (the HTTP side, which needs the engine).
    pub fn set_forwarder(&self, forward: network::Forwarder) {
        let _ = self.forwarder.set(forward);
    }

    /// The engine loaded the catalog as of log index `index` (see `catalog_applied`).
    pub fn catalog_loaded(&self, index: u64) {
        self.catalog_loaded.fetch_max(index, Ordering::SeqCst);
    }

    /// The log index of the last catalog change applied (read before reloading).
    pub fn catalog_applied(&self) -> u64 {
        self.catalog_applied.load(Ordering::SeqCst)
    }

    fn catalog_current(&self) -> bool {
        self.catalog_loaded.load(Ordering::SeqCst) >= self.catalog_applied.load(Ordering::SeqCst)
    }

    /// Stops serving the group, then Raft. Requests forwarded here that are still being
    /// answered (a replica that just handed its leadership over passes them on to the new
    /// leader) are finished first, within `DRAIN`.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let served = self.served.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(served) = served
            && tokio::time::timeout(DRAIN, served).await.is_err()
        {
            tracing::warn!(
                node = self.id,
                "requests forwarded here were still unanswered after {DRAIN:?}; stopping anyway"
            );
        }
        let _ = self.raft.shutdown().await;
    }

    /// Hands this replica's leadership to an up-to-date voter before it stops, so the group
    /// need not wait out an election timeout (about 1.5 s without writes) first:
    ///
    /// 1. New writes are held (they go to the new leader once it is known; see
    ///    `wait_writer`), and this replica stops campaigning.
    /// 2. Once every write admitted before is answered and a voter holds every entry of the
    ///    log, that voter is asked to campaign (`MembersRequest::Campaign`). Its log is as
    ///    long as this leader's, so this leader votes for it, which with three voters is a
    ///    quorum. With more voters the others' votes are needed too, and they refuse while
    ///    they still hear from this leader (openraft's leader lease): heartbeats stop first
    ///    and the lease is left to run out.
    ///
    /// Returns the new leader; `None` if this replica does not lead, leads alone, every
    /// up-to-date voter refused or could not be reached (the whole group is stopping), or
    /// the group did not move within `within` (it then leads on, and once stopped the
    /// others elect a leader by themselves, as after a crash).
    pub async fn hand_over(&self, within: Duration) -> Option<NodeId> {
        // A replica that stops is no candidate for another's hand-over either (the whole
        // group may be stopping).
        self.stopping.store(true, Ordering::SeqCst);
        let m = self.raft.metrics().borrow().clone();
        if m.state != ServerState::Leader {
            return None;
        }
        let others: Vec<NodeId> = m
            .membership_config
            .membership()
            .voter_ids()
            .filter(|v| *v != self.id)
            .collect();
        if others.is_empty() {
            return None;
        }
        let began = tokio::time::Instant::now();
        self.handing_over.store(true, Ordering::SeqCst);
        let runtime = self.raft.runtime_config();
        runtime.elect(false);
        // The old leader's vote and the new one's are a quorum only of three voters; during
        // a membership change (two configurations, each needing its own majority) the
        // others' votes are taken to be needed too.
        let joint = m.membership_config.membership().get_joint_config().len() > 1;
        let voters = others.len() + 1;
        let votes_needed = if joint { usize::MAX } else { voters / 2 + 1 };
        if votes_needed > 2 {
            runtime.heartbeat(false);
        }
        let moved = self
            .move_leadership(&others, votes_needed, began + within)
            .await;
        match moved {
            Some(to) => {
                tracing::info!(
                    node = self.id,
                    to,
                    took_ms = began.elapsed().as_millis() as u64,
                    "handed leadership over before stopping"
                );
                tokio::time::sleep(HANDED_OVER_GRACE).await;
            }
            None => {
                runtime.elect(true);
                runtime.heartbeat(true);
                self.handing_over.store(false, Ordering::SeqCst);
                tracing::warn!(
                    node = self.id,
                    "could not hand leadership over (no up-to-date voter could take over within {within:?}); the others elect a leader once this replica stops"
                );
            }
        }
        moved
    }

    /// The waiting part of `hand_over`: the new leader, once this replica follows one.
    async fn move_leadership(
        &self,
        others: &[NodeId],
        votes_needed: usize,
        deadline: tokio::time::Instant,
    ) -> Option<NodeId> {
        let mut metrics = self.raft.metrics();
        // The term in which a voter was last asked to campaign, the voters that refused,
        // and since when nothing went to the followers (the log and the applied position
        // stand still, no request is being answered: with heartbeats stopped, the followers
        // have heard nothing since about then).
        let mut asked: Option<(u64, tokio::time::Instant)> = None;
        let mut refused: Vec<NodeId> = Vec::new();
        let mut seen = None;
        let mut quiet_since = tokio::time::Instant::now();
        let lease = Duration::from_millis(ELECTION_MAX_MS + HEARTBEAT_MS + 100);
        // This leader's own vote refuses a candidate until its lease, counted from when it
        // took over, ran out: a leader of less than a second cannot hand over at once.
        let term = self.raft.metrics().borrow().current_term;
        let took_over = match *self.leading_since.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((t, at)) if t == term => at,
            _ => tokio::time::Instant::now(),
        };
        loop {
            let m = metrics.borrow_and_update().clone();
            if let Some(leader) = m.current_leader
                && leader != self.id
            {
                return Some(leader);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return None;
            }
            let last = m.last_log_index;
            let busy = self.admitted.load(Ordering::SeqCst) != 0;
            let progress = Some((last, m.last_applied.map(|l| l.index)));
            if busy || seen != progress {
                seen = progress;
                quiet_since = now;
            }
            let lease_over =
                now >= took_over + lease && (votes_needed <= 2 || now >= quiet_since + lease);
            // The voter asked is elected within a round of votes; if not (it stopped too,
            // say), this replica waits no longer: the others elect a leader by themselves.
            if let Some((_, at)) = asked
                && m.state != ServerState::Leader
                && now >= at + Duration::from_millis(ELECTION_MAX_MS)
            {
                return None;
            }
            let settled = m.state == ServerState::Leader
                && asked.is_none_or(|(t, _)| t != m.current_term)
                && !busy
                && m.last_applied.map(|l| l.index) == last;
            // The voters that hold every entry of this leader's log; one that refused is not
            // asked again.
            let matched: Vec<NodeId> = match (&m.replication, settled) {
                (Some(r), true) => others
                    .iter()
                    .copied()
                    .filter(|id| r.get(id).is_some_and(|l| l.map(|l| l.index) == last))
                    .collect(),
                _ => Vec::new(),
            };
            // Every voter that could take over refused or could not be reached (the whole
            // group is stopping, say): no use waiting.
            if !matched.is_empty() && matched.iter().all(|id| refused.contains(id)) {
                return None;
            }
            let target = matched.into_iter().find(|id| !refused.contains(id));
            if let Some(to) = target
                && lease_over
                && let Some(addr) = node_addr(&m, to)
            {
                let campaign = members::MembersRequest::Campaign {
                    term: m.current_term,
                };
                let call = members::call(&addr, &campaign, 0);
                match tokio::time::timeout(Duration::from_secs(1), call).await {
                    Ok(Ok(_)) => asked = Some((m.current_term, now)),
                    Ok(Err(e)) => {
                        tracing::debug!(to, error = %e, "hand-over: campaign refused");
                        refused.push(to);
                    }
                    Err(_) => {
                        tracing::debug!(to, "hand-over: campaign request timed out");
                        refused.push(to);
                    }
                }
            }
            let _ = tokio::time::timeout(Duration::from_millis(20), metrics.changed()).await;
        }
    }

    /// The term in which this node is a ready leader: it leads, has applied every entry of
    /// earlier leaders, and its engine has loaded every catalog change applied; none while
    /// it hands its leadership over.
    pub fn writer_term(&self) -> Option<u64> {
        if self.handing_over.load(Ordering::SeqCst) {
            return None;
        }
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let term = (Replica::writer(&m) && self.catalog_current()).then_some(m.current_term)?;
        if self.ready_term.fetch_max(term, Ordering::SeqCst) < term {
            *self.leading_since.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((term, tokio::time::Instant::now()));
        }
        Some(term)
    }

    /// The term for background work (sweeps, backfills, purges): that of a ready leader, or
    /// — while this leader's catalog reload is pending — the current term if this node was
    /// a ready leader earlier in it. In its own term only this node changes the catalog, and
    /// it updates its tables as it does, so what a background task read under the catalog's
    /// change lock is current; waiting for the reload there would wait for itself (the
    /// reload needs that lock).
    fn background_term(&self) -> Option<u64> {
        if let Some(term) = self.writer_term() {
            return Some(term);
        }
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        (Replica::writer(&m)
            && self.ready_term.load(Ordering::SeqCst) == m.current_term
            && !self.handing_over.load(Ordering::SeqCst))
        .then_some(m.current_term)
    }

    /// Whether this node leads and has applied every entry of earlier leaders (the entry its
    /// own term began with is applied).
    fn writer(m: &openraft::RaftMetrics<NodeId, BasicNode>) -> bool {
        m.state == ServerState::Leader
            && m.last_applied
                .is_some_and(|l| l.leader_id.get_term() == m.current_term)
    }

    /// This replica's role and progress, as `GET /tabula/replica` shows them.
    pub fn status(&self) -> serde_json::Value {
        let m = self.raft.metrics().borrow().clone();
        let role = match m.state {
            ServerState::Leader => "leader",
            ServerState::Follower => "follower",
            ServerState::Candidate => "candidate",
            ServerState::Learner => "learner",
            ServerState::Shutdown => "shutdown",
        };
        serde_json::json!({
            "nodeId": self.id,
            "role": role,
            "leaderId": m.current_leader,
            "term": m.current_term,
            "lastLogIndex": m.last_log_index,
            "appliedIndex": m.last_applied.map(|l| l.index),
            "snapshotIndex": m.snapshot.map(|l| l.index),
            "purgedIndex": m.purged.map(|l| l.index),
            "ready": Replica::writer(&m) && self.catalog_current(),
            "running": m.running_state.is_ok(),
            "voters": m.membership_config.membership().voter_ids().collect::<Vec<_>>(),
            "learners": m.membership_config.membership().learner_ids().collect::<Vec<_>>(),
            "rebuilding": self.vote_floor.load(Ordering::SeqCst) > m.last_applied.map_or(0, |l| l.index),
        })
    }

    /// Whether this replica is up to date with its group: it runs, votes (not being rebuilt),
    /// knows a leader, and — as a follower — has applied to within `READY_LAG` entries of the
    /// leader's log; a leader must be ready to write.
    pub async fn caught_up(&self) -> Result<(), String> {
        let m = self.raft.metrics().borrow().clone();
        if let Err(e) = &m.running_state {
            return Err(format!("replication stopped: {e}"));
        }
        let applied = m.last_applied.map_or(0, |l| l.index);
        if self.vote_floor.load(Ordering::SeqCst) > applied {
            return Err("being rebuilt from the group".into());
        }
        let Some(leader) = m.current_leader else {
            return Err("no leader known".into());
        };
        if leader == self.id {
            return if Replica::writer(&m) && self.catalog_current() {
                Ok(())
            } else {
                Err("the leader is taking over".into())
            };
        }
        let addr = node_addr(&m, leader).ok_or("the leader's address is unknown")?;
        let leader_last = ask_joined(&addr)
            .await
            .ok_or("the leader did not answer")?
            .1
            .unwrap_or(0);
        if applied + READY_LAG < leader_last {
            return Err(format!(
                "applied {applied} of the leader's {leader_last} log entries"
            ));
        }
        Ok(())
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// Waits (bounded) until this node may write; the term it writes in and the write's
    /// place among those admitted (keep it until the write is answered), or `None` if it is
    /// not the leader (any more: a hand-over holds writes here until it is done) or does not
    /// get there in time.
    pub async fn wait_writer(&self) -> Option<(u64, Admitted)> {
        let start = tokio::time::Instant::now();
        loop {
            // Counted before the check: a hand-over, which sets its flag before it waits
            // for the count to drop to zero, either sees this write or is seen by it.
            let admitted = self.admit();
            if let Some(term) = self.writer_term() {
                return Some((term, admitted));
            }
            drop(admitted);
            // A write held by a hand-over waits as long as the hand-over may take.
            let wait = if self.handing_over.load(Ordering::SeqCst) {
                HAND_OVER
            } else {
                LEADER_WAIT
            };
            if !self.is_leader() || start.elapsed() >= wait {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Counts a request this leader admits (a write, a strongly consistent read, background
    /// work) until the returned guard is dropped.
    fn admit(&self) -> Admitted {
        self.admitted.fetch_add(1, Ordering::SeqCst);
        Admitted(self.admitted.clone())
    }

    /// Waits (bounded) until this replica's state shows it no longer leads: openraft
    /// answers ForwardToLeader before its metrics show the step-down.
    async fn wait_stepped_down(&self, within: Duration) {
        let mut m = self.raft.metrics();
        let _ = tokio::time::timeout(within, m.wait_for(|m| m.state != ServerState::Leader)).await;
    }

    /// Confirms leadership with a quorum and waits until this node has applied as far as
    /// the cluster had committed: a read after this sees every write acknowledged before it.
    /// `Ok(false)`: this node does not lead (any more); the read goes to the leader.
    pub async fn ensure_linearizable(&self) -> Result<bool, ApiError> {
        // Counted like a write: confirming leadership sends the followers a heartbeat,
        // which a hand-over to one of more than three voters must not be interrupted by
        // (it renews their lease on this leader). A read arriving during a hand-over waits
        // for the next leader.
        let admitted = self.admit();
        if self.handing_over.load(Ordering::SeqCst) {
            drop(admitted);
            self.wait_stepped_down(HAND_OVER).await;
            return Ok(false);
        }
        match self.raft.ensure_linearizable().await {
            Ok(_) => {}
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => {
                self.wait_stepped_down(LEADER_WAIT).await;
                return Ok(false);
            }
            Err(e) => return Err(ApiError::new(ErrorKind::ServiceUnavailable, format!("{e}"))),
        }
        drop(admitted);
        // The engine's catalog must be as current as the store it reads.
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        while !self.catalog_current() {
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::new(
                    ErrorKind::ServiceUnavailable,
                    "the leader is still loading its catalog",
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(true)
    }

    /// The current leader's id and internal address, waiting (bounded) for one to be known.
    async fn leader(&self) -> Option<(NodeId, String)> {
        let mut m = self.raft.metrics();
        let known = tokio::time::timeout(LEADER_WAIT, m.wait_for(|m| m.current_leader.is_some()))
            .await
            .ok()?
            .ok()?
            .current_leader?;
        let addr = node_addr(&self.raft.metrics().borrow(), known);
        Some((known, addr.or_else(|| self.peers.get(&known).cloned())?))
    }

    /// Sends a request to the leader and returns its answer (HTTP status and body).
    pub async fn forward(
        &self,
        target: &str,
        body: Bytes,
        hops: u32,
    ) -> Result<Forwarded, ApiError> {
        let unavailable = |m: String| ApiError::new(ErrorKind::ServiceUnavailable, m);
        if hops >= MAX_HOPS {
            return Err(unavailable("no stable leader to take the request".into()));
        }
        let (leader, addr) = self
            .leader()
            .await
            .ok_or_else(|| unavailable("no leader elected".into()))?;
        if leader == self.id {
            // Leadership is moving: away from this replica (a hand-over), or to it (it won
            // an election but is not leading yet). Route the request again once it settles.
            let mut m = self.raft.metrics();
            let moved = tokio::time::timeout(
                LEADER_WAIT,
                m.wait_for(|m| {
                    m.current_leader.is_some_and(|l| l != self.id) || m.state == ServerState::Leader
                }),
            )
            .await;
            if !matches!(moved, Ok(Ok(_))) {
                return Err(unavailable("leadership is changing".into()));
            }
            return Ok(Forwarded::LeaderMoved);
        }
        let client = {
            let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            match clients.get(&leader) {
                Some(c) => c.clone(),
                None => {
                    let c = ReplicaClient::new(network::channel(&addr).map_err(unavailable)?)
                        .max_decoding_message_size(MAX_MESSAGE_BYTES)
                        .max_encoding_message_size(MAX_MESSAGE_BYTES);
                    clients.insert(leader, c.clone());
                    c
                }
            }
        };
        let mut request = tonic::Request::new(ForwardRequest {
            target: target.to_string(),
            body: body.to_vec(),
            hops: hops + 1,
        });
        request.set_timeout(FORWARD_TIMEOUT);
        let reply = match client.clone().forward(request).await {
            Ok(reply) => reply.into_inner(),
            // The leader could not even be connected to (it died, or its pod is gone): the
            // request was not delivered, so it is safe to send it again once another leader
            // is elected (about a second) instead of failing the client's request.
            Err(s) if s.message().contains("tcp connect error") => {
                let mut m = self.raft.metrics();
                let moved = tokio::time::timeout(
                    LEADER_WAIT,
                    m.wait_for(|m| m.current_leader.is_some_and(|l| l != leader)),
                )
                .await;
                if !matches!(moved, Ok(Ok(_))) {
                    return Err(unavailable(format!("leader {leader} is unreachable")));
                }
                return Ok(Forwarded::LeaderMoved);
            }
            Err(s) => {
                return Err(unavailable(format!(
                    "leader {leader} did not answer: {}",
                    s.message()
                )));
            }
        };
        Ok(Forwarded::Answer(
            u16::try_from(reply.status).unwrap_or(500),
            Bytes::from(reply.body),
        ))
    }
}

impl Replicator for Replica {
    fn propose(&self, mutations: Vec<Mutation>) -> Proposed {
        let (tx, rx) = oneshot::channel();
        // Counted until answered, before the term is checked (see `wait_writer`): a
        // hand-over waits for background work admitted before it too.
        let admitted = self.admit();
        // The term the request was admitted in; background work (sweeps, backfills, purges)
        // decides in the term this node is a ready leader of now, waiting briefly while the
        // leader finishes taking over or reloads a catalog change it just applied (a backfill
        // starts right after the UpdateTable that adds its index); none while it hands its
        // leadership over (the work is taken up by the next leader).
        let term = DECIDED_TERM.try_with(|t| *t).ok().or_else(|| {
            crate::engine::blocking(|| {
                let deadline = std::time::Instant::now() + LEADER_WAIT;
                loop {
                    if let Some(term) = self.background_term() {
                        return Some(term);
                    }
                    if !self.is_leader()
                        || self.handing_over.load(Ordering::SeqCst)
                        || std::time::Instant::now() >= deadline
                    {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        });
        match term {
            Some(term) => {
                // The gathering task outlives a client that hangs up.
                if let Err(mpsc::error::SendError((_, tx, _))) =
                    self.queue.send((Part { term, mutations }, tx, admitted))
                {
                    let _ = tx.send(Err(StorageError::Unavailable(
                        "replication is shutting down".into(),
                    )));
                }
            }
            None => {
                let _ = tx.send(Err(StorageError::Unavailable(
                    "this replica is not a ready leader".into(),
                )));
            }
        }
        rx
    }

    fn may_write(&self) -> bool {
        self.writer_term().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_round_trip_and_damage_is_an_error() {
        let p = Proposal {
            stamp: 1_700_000_000_000_000,
            parts: vec![
                Part {
                    term: 3,
                    mutations: vec![Mutation::PurgeDead(7)],
                },
                Part {
                    term: 4,
                    mutations: vec![Mutation::Writes(Vec::new())],
                },
            ],
        };
        let bytes = bincode::serialize(&p).expect("encode");
        assert_eq!(bincode::deserialize::<Proposal>(&bytes).expect("decode"), p);
        for cut in 1..bytes.len() {
            assert!(bincode::deserialize::<Proposal>(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn peers_parse_and_reject_mistakes() {
        let peers = ReplicaConfig::parse_peers("1=a:1, 2=b:2,3=c:3").expect("parses");
        assert_eq!(peers.len(), 3);
        assert_eq!(peers[&2], "b:2");
        assert!(ReplicaConfig::parse_peers("1=a:1,1=b:2").is_err());
        assert!(ReplicaConfig::parse_peers("x=a:1").is_err());
        assert!(ReplicaConfig::parse_peers("a:1").is_err());
        assert!(ReplicaConfig::parse_peers("").is_err());
    }

    #[test]
    fn only_plain_reads_are_served_locally() {
        assert_eq!(
            route(Operation::GetItem, br#"{"TableName":"t"}"#),
            Route::Local
        );
        assert_eq!(
            route(Operation::GetItem, br#"{"ConsistentRead":true}"#),
            Route::Linearizable
        );
        assert_eq!(
            route(
                Operation::BatchGetItem,
                br#"{"RequestItems":{"a":{},"b":{"ConsistentRead":true}}}"#
            ),
            Route::Linearizable
        );
        assert_eq!(route(Operation::PutItem, b"{}"), Route::Leader);
        assert_eq!(route(Operation::GetRecords, b"{}"), Route::Leader);
        assert_eq!(route(Operation::DescribeTable, b"{}"), Route::Local);
    }
}
