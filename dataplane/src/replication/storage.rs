//! openraft's two storage traits over the node's one RocksDB store: the log (`raftlog` column
//! family, synced appends) and the state machine (the tables themselves, applied unsynced with
//! the applied position in each batch — see `tabula_storage::raftlog`).
//!
//! Snapshots (`tabula_storage::snapshot`) are files in `<data dir>/snapshots/`: the one in
//! force is named by `raft/snapshot` in the store (its openraft metadata); files being built
//! or received end in `.part` until they are complete and synced. A replica installing a
//! snapshot marks it under `raft/installing` first, and finishes the job when it restarts
//! after a crash part way.

// openraft's traits fix the error type (`openraft::StorageError`, a large enum).
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    AnyError, Entry, EntryPayload, LogId, OptionalSend, RaftLogReader, RaftSnapshotBuilder,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use tabula_storage::snapshot::SnapshotStats;
use tabula_storage::{Mutation, SealedWrite, Space, Store};

use crate::engine::cache::ItemCache;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

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
    /// Appended entries waiting for the WAL sync that makes them durable (see `syncer`).
    flushes: std::sync::mpsc::Sender<LogFlushed<TypeConfig>>,
}

impl LogStore {
    pub fn new(store: Arc<Store>) -> LogStore {
        let (flushes, pending) = std::sync::mpsc::channel();
        let s = store.clone();
        std::thread::Builder::new()
            .name("tabula-log-sync".into())
            .spawn(move || syncer(&s, &pending))
            .expect("spawn the log sync thread");
        LogStore { store, flushes }
    }
}

/// Makes appended entries durable: one WAL sync for every append that arrived meanwhile, then
/// tells openraft they are flushed (a follower acknowledges, a leader counts itself, only
/// then). Runs on a thread of its own, so a leader sends new entries to its followers while
/// its own disk syncs them.
fn syncer(store: &Store, pending: &std::sync::mpsc::Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = pending.recv() {
        let mut batch = vec![first];
        batch.extend(pending.try_iter());
        let synced = store.sync_wal();
        for done in batch {
            let io = synced
                .as_ref()
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string()));
            done.log_io_completed(io);
        }
    }
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
        // Written (and readable) now, durable once the sync thread says so.
        self.store.log_append(&batch, false).map_err(write_err)?;
        self.flushes
            .send(callback)
            .map_err(|_| write_err("the log sync thread stopped"))
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

/// The applied position a snapshot stands for, as the store records it.
fn snapshot_marker(meta: &Meta) -> SResult<Vec<u8>> {
    encode(&(meta.last_log_id, meta.last_membership.clone()))
}

/// What the state machine tells the engine after applying an entry: the catalog changed (or
/// a snapshot replaced the whole state), so the engine reloads its tables and how far each
/// stream was trimmed (a trim is a catalog change).
#[derive(Debug)]
pub struct CatalogChanged;

/// The applied position: the last applied entry and the membership in force.
type AppliedState = (
    Option<LogId<NodeId>>,
    StoredMembership<NodeId, openraft::BasicNode>,
);

type Meta = SnapshotMeta<NodeId, openraft::BasicNode>;

/// The tables, as the applied log leaves them.
pub struct StateMachine {
    pub store: Arc<Store>,
    applied: AppliedState,
    notify: mpsc::UnboundedSender<CatalogChanged>,
    /// The log index of the last catalog change applied (see `Replica::catalog_applied`).
    catalog_applied: Arc<AtomicU64>,
    snapshots: Snapshots,
    /// The file a snapshot being received is written to.
    receiving: Option<PathBuf>,
    /// The engine's item cache: the items an entry writes leave it as the entry is applied.
    cache: Option<Arc<ItemCache>>,
}

impl StateMachine {
    /// Opens the state machine over `store`, keeping snapshots in `snapshot_dir`. Finishes
    /// a snapshot installation a crash interrupted.
    pub fn open(
        store: Arc<Store>,
        snapshot_dir: &Path,
        notify: mpsc::UnboundedSender<CatalogChanged>,
        catalog_applied: Arc<AtomicU64>,
        cache: Option<Arc<ItemCache>>,
    ) -> SResult<Self> {
        std::fs::create_dir_all(snapshot_dir).map_err(write_err)?;
        let snapshots = Snapshots {
            store: store.clone(),
            dir: snapshot_dir.to_path_buf(),
            lock: Arc::default(),
        };
        // First finish an installation a crash interrupted (its file is not yet the one in
        // force), then clear out what else a crash left.
        if let Some(b) = store.raft_state("installing").map_err(read_err)? {
            let meta: Meta = decode(&b)?;
            tracing::warn!(snapshot = %meta.snapshot_id, "finishing a snapshot installation a crash interrupted");
            store
                .install_snapshot(
                    &snapshots.path(&meta.snapshot_id),
                    &snapshot_marker(&meta)?,
                    &b,
                )
                .map_err(write_err)?;
        }
        snapshots.remove_stale(None);
        let applied = match store.raft_applied().map_err(read_err)? {
            Some(b) => decode(&b)?,
            None => (None, StoredMembership::default()),
        };
        Ok(StateMachine {
            store,
            applied,
            notify,
            catalog_applied,
            snapshots,
            receiving: None,
            cache,
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
    type SnapshotBuilder = SnapshotBuilder;

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
                            // Cached items these writes change are dropped, and no read
                            // refills one with the old value meanwhile (see `cache`).
                            let _mark = self.cache.as_ref().map(|c| {
                                c.begin_writes(
                                    writes
                                        .iter()
                                        .filter(|w| w.space == Space::Items)
                                        .map(|w| w.key.as_slice()),
                                )
                            });
                            self.store
                                .commit_writes(&writes, Some(proposal.stamp), Some(&marker), false)
                                .map_err(write_err)?;
                        }
                        Some(m) => {
                            catalog_changed = true;
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
            let _ = self.notify.send(CatalogChanged);
        }
        Ok(out)
    }

    /// Fixes a point-in-time view of the store now, between two applies, so the snapshot
    /// stands exactly for the applied position; the file is written meanwhile by a thread of
    /// its own while applies go on.
    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        let (last_log_id, membership) = self.applied.clone();
        let snapshot_id = format!(
            "{}-{}-{}",
            last_log_id.map_or(0, |l| l.leader_id.get_term()),
            last_log_id.map_or(0, |l| l.index),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros())
        );
        let meta = Meta {
            last_log_id,
            last_membership: membership,
            snapshot_id,
        };
        let part = self.snapshots.part(&meta.snapshot_id);
        let (taken_tx, taken_rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let store = self.store.clone();
        let file = part.clone();
        std::thread::spawn(move || {
            let result = store.export_snapshot(&file, move || {
                let _ = taken_tx.send(());
            });
            let _ = done_tx.send(result);
        });
        // The view is fixed once `taken` ran (or the export failed before it did).
        let _ = taken_rx.await;
        SnapshotBuilder {
            snapshots: self.snapshots.clone(),
            meta,
            part,
            done,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> SResult<Box<tokio::fs::File>> {
        let part = self.snapshots.part(&format!(
            "receiving-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros())
        ));
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&part)
            .await
            .map_err(write_err)?;
        if let Some(old) = self.receiving.replace(part) {
            let _ = std::fs::remove_file(old);
        }
        Ok(Box::new(file))
    }

    /// Replaces this replica's state by a snapshot its leader sent.
    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<tokio::fs::File>,
    ) -> SResult<()> {
        let mut file = *snapshot;
        file.flush().await.map_err(write_err)?;
        file.sync_all().await.map_err(write_err)?;
        drop(file);
        let part = self
            .receiving
            .take()
            .ok_or_else(|| write_err("a snapshot was installed that was not being received"))?;
        let snapshots = self.snapshots.clone();
        let stats = crate::engine::blocking(|| snapshots.install(meta, &part))?;
        tracing::info!(
            snapshot = %meta.snapshot_id,
            records = stats.records,
            bytes = stats.bytes,
            "installed a snapshot from the leader"
        );
        self.applied = (meta.last_log_id, meta.last_membership.clone());
        if let Some(cache) = &self.cache {
            cache.clear();
        }
        if let Some(l) = meta.last_log_id {
            self.catalog_applied.fetch_max(l.index, Ordering::SeqCst);
        }
        let _ = self.notify.send(CatalogChanged);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> SResult<Option<Snapshot<TypeConfig>>> {
        self.snapshots.current().await
    }
}

/// The snapshot files of one replica.
#[derive(Clone)]
struct Snapshots {
    store: Arc<Store>,
    dir: PathBuf,
    /// Serialises adopting a snapshot (a build finishing, an install) and removing old files.
    lock: Arc<Mutex<()>>,
}

impl Snapshots {
    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.snap"))
    }

    fn part(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }

    fn meta(&self) -> SResult<Option<Meta>> {
        match self.store.raft_state("snapshot").map_err(read_err)? {
            Some(b) => Ok(Some(decode(&b)?)),
            None => Ok(None),
        }
    }

    /// Makes the complete file `part` the snapshot in force, unless a later one already is
    /// (then `part` is removed); removes the files of the others. Returns whether it was
    /// adopted.
    fn adopt(&self, meta: &Meta, part: &Path) -> SResult<bool> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self
            .meta()?
            .is_some_and(|c| c.last_log_id > meta.last_log_id)
        {
            let _ = std::fs::remove_file(part);
            return Ok(false);
        }
        std::fs::rename(part, self.path(&meta.snapshot_id)).map_err(write_err)?;
        self.sync_dir()?;
        self.store
            .set_raft_state("snapshot", &encode(meta)?)
            .map_err(write_err)?;
        self.remove_stale(Some(&meta.snapshot_id));
        Ok(true)
    }

    /// Replaces the store's state by the received snapshot file `part` (complete, synced),
    /// which becomes the snapshot in force. Marked under `raft/installing` until done (see
    /// `StateMachine::open`).
    fn install(&self, meta: &Meta, part: &Path) -> SResult<SnapshotStats> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.path(&meta.snapshot_id);
        std::fs::rename(part, &path).map_err(write_err)?;
        self.sync_dir()?;
        let stats = self
            .store
            .install_snapshot(&path, &snapshot_marker(meta)?, &encode(meta)?)
            .map_err(write_err)?;
        self.remove_stale(Some(&meta.snapshot_id));
        Ok(stats)
    }

    /// Removes every complete snapshot file but `keep`'s; with no `keep` (at start, before
    /// anything is built or received), also the partial ones a crash left, and only those
    /// complete files the store does not name.
    fn remove_stale(&self, keep: Option<&str>) {
        let current = match keep {
            Some(id) => Some(id.to_string()),
            None => self.meta().ok().flatten().map(|m| m.snapshot_id),
        };
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let stale = match name.rsplit_once('.') {
                Some((id, "snap")) => current.as_deref() != Some(id),
                Some((_, "part" | "ingest")) => keep.is_none(),
                _ => false,
            };
            if stale {
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }

    /// The snapshot in force, its file opened under the lock (an adopt or install meanwhile
    /// may remove the file it replaces; an open file stays readable).
    async fn current(&self) -> SResult<Option<Snapshot<TypeConfig>>> {
        let opened = crate::engine::blocking(|| -> SResult<_> {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            let Some(meta) = self.meta()? else {
                return Ok(None);
            };
            let file = std::fs::File::open(self.path(&meta.snapshot_id)).map_err(read_err)?;
            Ok(Some((meta, file)))
        })?;
        Ok(opened.map(|(meta, file)| Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        }))
    }

    /// Makes the renames in the snapshot directory durable before the store names the file.
    fn sync_dir(&self) -> SResult<()> {
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(write_err)
    }
}

/// A snapshot being written (see `StateMachine::get_snapshot_builder`).
pub struct SnapshotBuilder {
    snapshots: Snapshots,
    meta: Meta,
    part: PathBuf,
    done: oneshot::Receiver<tabula_storage::Result<SnapshotStats>>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> SResult<Snapshot<TypeConfig>> {
        let done = (&mut self.done)
            .await
            .map_err(|_| write_err("the snapshot thread stopped"))?;
        let stats = match done {
            Ok(stats) => stats,
            Err(e) => {
                let _ = std::fs::remove_file(&self.part);
                return Err(write_err(e));
            }
        };
        tracing::info!(
            snapshot = %self.meta.snapshot_id,
            records = stats.records,
            bytes = stats.bytes,
            "built a snapshot"
        );
        let (snapshots, meta, part) = (&self.snapshots, &self.meta, &self.part);
        crate::engine::blocking(|| snapshots.adopt(meta, part))?;
        // The snapshot in force: this one, or a later one installed meanwhile.
        self.snapshots
            .current()
            .await?
            .ok_or_else(|| read_err("no snapshot after building one"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabula_storage::MasterKey;

    /// A replica killed after it began replacing its state by a snapshot (the mark set, the
    /// old state cleared) finishes the installation when it opens again, from the file that
    /// is not yet the snapshot in force — rather than deleting that file as stale.
    #[test]
    fn an_interrupted_snapshot_installation_is_finished_at_start() {
        let key = || MasterKey::from_bytes(&[5; 32]);
        let a_dir = tempfile::tempdir().expect("tempdir");
        let a = Store::open_replicated(a_dir.path(), key()).expect("open");
        let record = a.new_table_record("T", b"def".to_vec()).expect("record");
        a.apply_catalog(&Mutation::CreateTable(record), None, true)
            .expect("create");
        let b_dir = tempfile::tempdir().expect("tempdir");
        let snapshots = b_dir.path().join("snapshots");
        std::fs::create_dir_all(&snapshots).expect("dir");
        let meta = Meta {
            last_log_id: Some(LogId::new(openraft::CommittedLeaderId::new(2, 1), 7)),
            last_membership: StoredMembership::default(),
            snapshot_id: "2-7-1".into(),
        };
        a.export_snapshot(&snapshots.join("2-7-1.snap"), || {})
            .expect("export");
        // An older snapshot in force, and a leftover partial file.
        std::fs::write(snapshots.join("1-3-0.snap"), b"old").expect("old");
        std::fs::write(snapshots.join("x.part"), b"partial").expect("part");
        let b = Arc::new(Store::open_replicated(b_dir.path(), key()).expect("open"));
        let older = Meta {
            snapshot_id: "1-3-0".into(),
            ..meta.clone()
        };
        b.set_raft_state("snapshot", &encode(&older).expect("encode"))
            .expect("older");
        b.set_raft_state("installing", &encode(&meta).expect("encode"))
            .expect("mark");
        let (tx, _rx) = mpsc::unbounded_channel();
        let sm = StateMachine::open(b.clone(), &snapshots, tx, Arc::default(), None).expect("open");
        assert_eq!(sm.applied.0, meta.last_log_id);
        assert_eq!(b.digest().expect("digest"), a.digest().expect("digest"));
        assert_eq!(b.raft_state("installing").expect("mark"), None);
        let in_force: Meta =
            decode(&b.raft_state("snapshot").expect("read").expect("set")).expect("decode");
        assert_eq!(in_force.snapshot_id, "2-7-1");
        let mut files: Vec<String> = std::fs::read_dir(&snapshots)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, ["2-7-1.snap"]);
    }
}
