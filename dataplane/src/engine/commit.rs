//! Group commit. Item writes are prepared (encoded, sealed) by the request tasks, then handed
//! to one committer thread that drains every write waiting, applies them as one RocksDB
//! `WriteBatch` with a single WAL fsync, and answers each request. Under load one fsync
//! acknowledges many writes, and a request costs one channel send and one wake-up instead of a
//! blocking-pool thread of its own.
//!
//! Atomicity of read-modify-write is not the committer's job: the engine holds the item's lock
//! from the read until the commit is acknowledged.

use std::sync::Arc;
use std::sync::mpsc;

use tabula_storage::{SealedWrite, Store};
use tokio::sync::oneshot;

use crate::error::{ApiError, ApiResult};

/// Most writes one batch carries; the rest wait for the next fsync.
const MAX_GROUP: usize = 512;

struct Pending {
    writes: Vec<SealedWrite>,
    done: oneshot::Sender<Result<(), String>>,
}

pub(crate) struct Committer {
    tx: Option<mpsc::Sender<Pending>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Stopping the engine closes the channel and waits for the thread, so the store (and its
/// RocksDB lock) is released before `Drop` returns — a restart on the same directory, or the
/// process exiting, never races a still-open database.
impl Drop for Committer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Committer {
    pub fn start(store: Arc<Store>) -> Committer {
        let (tx, rx) = mpsc::channel::<Pending>();
        let spawned = std::thread::Builder::new()
            .name("tabula-commit".into())
            .spawn(move || run(store, rx));
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                // Without the thread every write fails with an internal error (reported by
                // `commit`), which is loud and safe.
                tracing::error!(error = %e, "cannot start the commit thread");
                None
            }
        };
        Committer {
            tx: Some(tx),
            thread,
        }
    }

    /// Durably applies `writes` atomically; returns once they are on disk.
    pub async fn commit(&self, writes: Vec<SealedWrite>) -> ApiResult<()> {
        let (done, wait) = oneshot::channel();
        self.tx
            .as_ref()
            .ok_or_else(|| ApiError::internal("engine is shutting down"))?
            .send(Pending { writes, done })
            .map_err(|_| ApiError::internal("commit thread is gone"))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ApiError::internal(e)),
            Err(_) => Err(ApiError::internal("commit thread dropped a write")),
        }
    }
}

fn run(store: Arc<Store>, rx: mpsc::Receiver<Pending>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let all: Vec<&SealedWrite> = group.iter().flat_map(|p| p.writes.iter()).collect();
        let result = store.commit(&all).map_err(|e| e.to_string());
        for p in group {
            let _ = p.done.send(result.clone());
        }
    }
}
