//! openraft's two storage traits over the node's one RocksDB store: the log (`raftlog` column
//! family, synced appends) and the state machine (the tables themselves, applied unsynced with
//! the applied position in each batch — see `tabula_storage::raftlog`).

// openraft's traits fix the error type (`openraft::StorageError`, a large enum).
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    AnyError, Entry, EntryPayload, LogId, OptionalSend, RaftLogReader, RaftSnapshotBuilder,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use tabula_storage::{Mutation, SealedWrite, Store};
use tokio::sync::mpsc;

use super::{NodeId, Outcome, TypeConfig};

type SResult<T> = Result<T, StorageError<NodeId>>;

fn read_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageIOError::read(AnyError::error(e.to_string())).into()
}

fn write_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageIOError::write(AnyError::error(e.to_string())).into()
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> SResult<T> {
    bincode::deserialize(bytes).map_err(read_err)
}

fn encode<T: serde::Serialize>(value: &T) -> SResult<Vec<u8>> {
    bincode::serialize(value).map_err(write_err)
}

/// The Raft log.
#[derive(Clone)]
pub struct LogStore {
    pub store: Arc<Store>,
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> SResult<Vec<Entry<TypeConfig>>> {
        let from = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let to = match range.end_bound() {
            Bound::Included(&i) => i.saturating_add(1),
            Bound::Excluded(&i) => i,
            Bound::Unbounded => u64::MAX,
        };
        let raw = self.store.log_range(from, to).map_err(read_err)?;
        raw.iter().map(|(_, bytes)| decode(bytes)).collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> SResult<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId<NodeId>> =
            match self.store.raft_state("purged").map_err(read_err)? {
                Some(b) => Some(decode(&b)?),
                None => None,
            };
        let last_log_id = match self.store.log_last().map_err(read_err)? {
            Some((_, bytes)) => Some(decode::<Entry<TypeConfig>>(&bytes)?.log_id),
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> SResult<()> {
        self.store
            .set_raft_state("vote", &encode(vote)?)
            .map_err(write_err)
    }

    async fn read_vote(&mut self) -> SResult<Option<Vote<NodeId>>> {
        match self.store.raft_state("vote").map_err(read_err)? {
            Some(b) => Ok(Some(decode(&b)?)),
            None => Ok(None),
        }
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> SResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = Vec::new();
        for e in entries {
            batch.push((e.log_id.index, encode(&e)?));
        }
        // A synced write: keep it off the runtime's workers so heartbeats are not held up.
        let result = crate::engine::blocking(|| self.store.log_append(&batch));
        let io = result
            .as_ref()
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()));
        callback.log_io_completed(io);
        result.map_err(write_err)
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> SResult<()> {
        self.store.log_truncate(log_id.index).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> SResult<()> {
        self.store
            .log_purge(log_id.index, &encode(&log_id)?)
            .map_err(write_err)
    }
}

/// What the state machine tells the engine after applying an entry proposed elsewhere.
#[derive(Debug)]
pub enum Applied {
    /// The catalog changed: the engine reloads its tables.
    Catalog,
    /// A stream (`table_id | stream_no`) was trimmed up to the record numbered `last`: an
    /// iterator below it must get TrimmedDataAccessException on this replica too.
    Trimmed { stream: Vec<u8>, last: u64 },
}

/// The applied position: the last applied entry and the membership in force.
type AppliedState = (
    Option<LogId<NodeId>>,
    StoredMembership<NodeId, openraft::BasicNode>,
);

/// The tables, as the applied log leaves them.
pub struct StateMachine {
    pub store: Arc<Store>,
    applied: AppliedState,
    notify: mpsc::UnboundedSender<Applied>,
    /// The log index of the last catalog change applied (see `Replica::catalog_applied`).
    catalog_applied: Arc<AtomicU64>,
}

impl StateMachine {
    pub fn open(
        store: Arc<Store>,
        notify: mpsc::UnboundedSender<Applied>,
        catalog_applied: Arc<AtomicU64>,
    ) -> SResult<Self> {
        let applied = match store.raft_applied().map_err(read_err)? {
            Some(b) => decode(&b)?,
            None => (None, StoredMembership::default()),
        };
        Ok(StateMachine {
            store,
            applied,
            notify,
            catalog_applied,
        })
    }

    fn marker(&self) -> SResult<Vec<u8>> {
        encode(&self.applied)
    }

    /// Writes only the applied position (an entry that changes no data, or was refused).
    fn record_position(&self, marker: &[u8]) -> SResult<()> {
        self.store
            .commit_writes(&[], None, Some(marker), false)
            .map_err(write_err)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = NoSnapshots;

    async fn applied_state(&mut self) -> SResult<AppliedState> {
        Ok(self.applied.clone())
    }

    async fn apply<I>(&mut self, entries: I) -> SResult<Vec<Vec<Outcome>>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        let mut catalog_changed = false;
        for entry in entries {
            self.applied.0 = Some(entry.log_id);
            let outcome = match entry.payload {
                EntryPayload::Blank => {
                    let marker = self.marker()?;
                    self.record_position(&marker)?;
                    Vec::new()
                }
                EntryPayload::Membership(m) => {
                    self.applied.1 = StoredMembership::new(Some(entry.log_id), m);
                    let marker = self.marker()?;
                    self.record_position(&marker)?;
                    Vec::new()
                }
                EntryPayload::Normal(proposal) => {
                    let marker = self.marker()?;
                    let term = entry.log_id.leader_id.get_term();
                    let single = proposal.parts.len() == 1;
                    // Every check depends only on the entry, so replicas agree. The accepted
                    // parts' item writes go in one batch with the position: a crash never
                    // leaves part of an entry applied.
                    let mut outcomes = Vec::with_capacity(proposal.parts.len());
                    let mut writes: Vec<&SealedWrite> = Vec::new();
                    let mut catalog: Option<&Mutation> = None;
                    for part in &proposal.parts {
                        let changes: Vec<&Mutation> =
                            part.mutations.iter().filter(|m| m.is_catalog()).collect();
                        if part.term != term {
                            outcomes.push(Outcome::Stale);
                        } else if !changes.is_empty()
                            && (!single || changes.len() > 1 || part.mutations.len() > 1)
                        {
                            outcomes.push(Outcome::Rejected(
                                "a catalog change travels alone in its log entry".into(),
                            ));
                        } else if let Some(m) = changes.first() {
                            catalog = Some(m);
                            outcomes.push(Outcome::Done);
                        } else {
                            for m in &part.mutations {
                                if let Mutation::Writes(w) = m {
                                    writes.extend(w.iter());
                                }
                            }
                            outcomes.push(Outcome::Done);
                        }
                    }
                    match catalog {
                        None => {
                            self.store
                                .commit_writes(&writes, Some(proposal.stamp), Some(&marker), false)
                                .map_err(write_err)?;
                        }
                        Some(m) => {
                            catalog_changed = true;
                            let trimmed = match m {
                                Mutation::TrimStream { stream, before } => self
                                    .store
                                    .last_stream_seq(stream, *before)
                                    .map_err(read_err)?
                                    .map(|last| (stream.clone(), last)),
                                _ => None,
                            };
                            if let Some((stream, last)) = trimmed {
                                let _ = self.notify.send(Applied::Trimmed { stream, last });
                            }
                            if let Err(e) = self.store.apply_catalog(m, Some(&marker), false) {
                                let rejected =
                                    Outcome::rejection(&e).ok_or_else(|| write_err(&e))?;
                                self.record_position(&marker)?;
                                outcomes = vec![rejected];
                            }
                            // Only once the change is in the store (a reload reads it).
                            self.catalog_applied
                                .fetch_max(entry.log_id.index, Ordering::SeqCst);
                        }
                    }
                    outcomes
                }
            };
            out.push(outcome);
        }
        if catalog_changed {
            let _ = self.notify.send(Applied::Catalog);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        NoSnapshots
    }

    async fn begin_receiving_snapshot(&mut self) -> SResult<Box<std::io::Cursor<Vec<u8>>>> {
        Err(write_err("snapshots are not supported yet"))
    }

    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        _snapshot: Box<std::io::Cursor<Vec<u8>>>,
    ) -> SResult<()> {
        Err(write_err("snapshots are not supported yet"))
    }

    async fn get_current_snapshot(&mut self) -> SResult<Option<Snapshot<TypeConfig>>> {
        Ok(None)
    }
}

/// Snapshots are not built yet: the log is never compacted (`SnapshotPolicy::Never`), so a
/// lagging or new replica catches up from the whole log.
pub struct NoSnapshots;

impl RaftSnapshotBuilder<TypeConfig> for NoSnapshots {
    async fn build_snapshot(&mut self) -> SResult<Snapshot<TypeConfig>> {
        Err(write_err("snapshots are not supported yet"))
    }
}
