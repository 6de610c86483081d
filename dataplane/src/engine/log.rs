//! Where the engine's changes go. A single node applies them to its store at once (item writes
//! through the group committer); a replicated node proposes them to its Raft log and returns
//! once a quorum holds them and this node has applied them (see `crate::replication`).
//!
//! Every change the engine makes goes through [`Log`]: item writes (single items,
//! transactions, TTL deletes, index backfills) and catalog changes (tables, definitions,
//! purges, stream trims). Reads go to the store directly.

use std::sync::Arc;

use tabula_storage::{Mutation, SealedWrite, StorageError, Store};
use tokio::sync::oneshot;

use super::commit::Committer;
use crate::error::{ApiError, ApiResult};

/// A proposal's outcome: `Ok` once committed and applied here; a storage rejection
/// (`TableExists`, `TableNotFound`, `Rejected`) as every replica decided it; anything else
/// (no leader, this node lost leadership, shutting down) as `Rejected` with the reason.
pub type Proposed = oneshot::Receiver<Result<(), StorageError>>;

/// What a replicated node offers the engine.
pub trait Replicator: Send + Sync + 'static {
    /// Proposes mutations (one log entry). The receiver resolves when the entry is committed
    /// and applied on this node, or failed.
    fn propose(&self, mutations: Vec<Mutation>) -> Proposed;
    /// Whether this node leads and has applied every entry of earlier leaders, so what it
    /// reads is current and it may decide writes.
    fn may_write(&self) -> bool;
}

pub(crate) enum Log {
    Local {
        store: Arc<Store>,
        committer: Committer,
    },
    Replicated(Arc<dyn Replicator>),
}

impl Log {
    pub fn replicated(&self) -> bool {
        matches!(self, Log::Replicated(_))
    }

    /// Whether this node may start writes of its own (background work: sweeps, backfills,
    /// purges run on the leader only).
    pub fn may_write(&self) -> bool {
        match self {
            Log::Local { .. } => true,
            Log::Replicated(r) => r.may_write(),
        }
    }

    /// Commits item writes atomically and durably.
    pub async fn write(&self, writes: Vec<SealedWrite>) -> ApiResult<()> {
        match self {
            Log::Local { committer, .. } => committer.commit(writes).await,
            Log::Replicated(r) => {
                let outcome = r.propose(vec![Mutation::Writes(writes)]).await;
                flatten(outcome).map_err(ApiError::from)
            }
        }
    }

    /// `write` from a thread that may block (background work).
    pub fn write_blocking(&self, writes: Vec<SealedWrite>) -> tabula_storage::Result<()> {
        match self {
            Log::Local { store, .. } => {
                let all: Vec<&SealedWrite> = writes.iter().collect();
                store.commit(&all)
            }
            Log::Replicated(r) => wait(r.propose(vec![Mutation::Writes(writes)])),
        }
    }

    /// Applies a catalog change (blocking: catalog changes are rare, and are made under the
    /// catalog's change lock).
    pub fn catalog(&self, m: Mutation) -> tabula_storage::Result<()> {
        match self {
            Log::Local { store, .. } => store.apply_catalog(&m, None, true),
            Log::Replicated(r) => wait(r.propose(vec![m])),
        }
    }
}

fn flatten(
    outcome: Result<Result<(), StorageError>, oneshot::error::RecvError>,
) -> Result<(), StorageError> {
    outcome.unwrap_or_else(|_| {
        Err(StorageError::Unavailable(
            "the replication task stopped".into(),
        ))
    })
}

/// Waits for a proposal from synchronous code: a plain thread blocks; a runtime worker lets
/// the runtime move its other tasks away first (the Raft tasks must keep running).
fn wait(proposed: Proposed) -> tabula_storage::Result<()> {
    flatten(blocking(|| match tokio::runtime::Handle::try_current() {
        Ok(h) => h.block_on(proposed),
        Err(_) => proposed.blocking_recv(),
    }))
}

/// Runs `f`, which blocks, without starving the async runtime: on a worker thread of a
/// multi-threaded runtime the worker's tasks move to another thread first.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
