//! The Raft log of a replicated node, in the same RocksDB as the data it replicates (column
//! family `raftlog`, keys are big-endian log indexes), plus the small Raft state kept in
//! `meta` under `raft/` (vote, purged position, applied position).
//!
//! Appends are written at once (readable, so the leader replicates them while its own disk
//! catches up) and made durable by [`Store::sync_wal`], which the caller runs before it says
//! it has them. Applying an entry to the store is not synced; the log and the data share one
//! WAL, so the next sync carries it to disk too, and after a crash whatever was lost is
//! applied again from the log (the applied position is written in the applied batches
//! themselves).
//!
//! Entries are opaque bytes here: the data plane's replication module owns their encoding.

use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};

use crate::{CF_LOG, CF_META, Result, StorageError, Store};

/// One log entry: its index and its encoded bytes.
pub type LogEntry = (u64, Vec<u8>);

const RAFT_META_PREFIX: &[u8] = b"raft/";

impl Store {
    /// Appends entries (ascending indexes); durable once `sync` (or a later [`Store::sync_wal`])
    /// returns.
    pub fn log_append(&self, entries: &[LogEntry], sync: bool) -> Result<()> {
        let cf = self.cf(CF_LOG)?;
        let mut b = WriteBatch::default();
        for (index, bytes) in entries {
            b.put_cf(cf, index.to_be_bytes(), bytes);
        }
        self.write(b, sync)
    }

    /// Makes everything written so far durable (one fsync of the write-ahead log).
    pub fn sync_wal(&self) -> Result<()> {
        Ok(self.db.flush_wal(true)?)
    }

    /// The entries with indexes in `[from, to)`, in order.
    pub fn log_range(&self, from: u64, to: u64) -> Result<Vec<LogEntry>> {
        let cf = self.cf(CF_LOG)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(from.to_be_bytes().to_vec());
        ro.set_iterate_upper_bound(to.to_be_bytes().to_vec());
        let mut out = Vec::new();
        for kv in self.db.iterator_cf_opt(cf, ro, IteratorMode::Start) {
            let (k, v) = kv?;
            out.push((log_index(&k)?, v.to_vec()));
        }
        Ok(out)
    }

    /// The last entry of the log, if any.
    pub fn log_last(&self) -> Result<Option<LogEntry>> {
        let cf = self.cf(CF_LOG)?;
        match self.db.iterator_cf(cf, IteratorMode::End).next() {
            Some(kv) => {
                let (k, v) = kv?;
                Ok(Some((log_index(&k)?, v.to_vec())))
            }
            None => Ok(None),
        }
    }

    /// Removes the entries at `from` and after (a new leader overwrote them), durably.
    pub fn log_truncate(&self, from: u64) -> Result<()> {
        let cf = self.cf(CF_LOG)?;
        let mut b = WriteBatch::default();
        b.delete_range_cf(cf, &from.to_be_bytes()[..], &[0xffu8; 9][..]);
        self.write(b, true)
    }

    /// Removes the entries up to `upto` (included) and records `purged` (the encoded id of
    /// the last purged entry) under `raft/purged` in the same batch.
    pub fn log_purge(&self, upto: u64, purged: &[u8]) -> Result<()> {
        let mut b = WriteBatch::default();
        b.delete_range_cf(
            self.cf(CF_LOG)?,
            0u64.to_be_bytes(),
            upto.saturating_add(1).to_be_bytes(),
        );
        b.put_cf(self.cf(CF_META)?, b"raft/purged", purged);
        self.write(b, true)
    }

    /// A piece of Raft state (`raft/<name>` in `meta`).
    pub fn raft_state(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let key = [RAFT_META_PREFIX, name.as_bytes()].concat();
        Ok(self.db.get_cf(self.cf(CF_META)?, key)?)
    }

    /// The applied position the last applied batch wrote (see `commit_writes`' marker).
    pub fn raft_applied(&self) -> Result<Option<Vec<u8>>> {
        Ok(self
            .db
            .get_cf(self.cf(CF_META)?, crate::META_RAFT_APPLIED)?)
    }

    /// Stores a piece of Raft state durably.
    pub fn set_raft_state(&self, name: &str, value: &[u8]) -> Result<()> {
        let mut b = WriteBatch::default();
        b.put_cf(
            self.cf(CF_META)?,
            [RAFT_META_PREFIX, name.as_bytes()].concat(),
            value,
        );
        self.write(b, true)
    }

    /// Whether anything of a replicated node was ever written here (a log entry or a vote).
    pub fn has_raft_state(&self) -> Result<bool> {
        let meta = self.cf(CF_META)?;
        let mut it = self.db.iterator_cf(
            meta,
            IteratorMode::From(RAFT_META_PREFIX, Direction::Forward),
        );
        let any_meta = match it.next() {
            Some(kv) => kv?.0.starts_with(RAFT_META_PREFIX),
            None => false,
        };
        Ok(any_meta || self.log_last()?.is_some())
    }
}

impl Store {
    /// A digest of everything the log's entries produce: items, index entries and counters,
    /// stream records, and the catalog (FNV-1a over keys and values in order). Replicas
    /// that applied the same entries hold the same bytes (bodies are sealed once, by the
    /// proposer), so equal positions must give equal digests.
    pub fn digest(&self) -> Result<u64> {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in (bytes.len() as u64).to_be_bytes().iter().chain(bytes) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        let snapshot = self.db.snapshot();
        for name in [crate::CF_ITEMS, crate::CF_INDEX, crate::CF_STREAM, CF_META] {
            let cf = self.cf(name)?;
            for kv in snapshot.iterator_cf(cf, IteratorMode::Start) {
                let (k, v) = kv?;
                // The Raft bookkeeping differs per replica by design.
                if name == CF_META && crate::snapshot::replica_local(&k) {
                    continue;
                }
                eat(&k);
                eat(&v);
            }
        }
        Ok(h)
    }
}

fn log_index(k: &[u8]) -> Result<u64> {
    <[u8; 8]>::try_from(k)
        .map(u64::from_be_bytes)
        .map_err(|_| StorageError::Corrupt("Raft log key is not 8 bytes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MasterKey;

    #[test]
    fn log_appends_reads_truncates_and_purges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            Store::open_replicated(dir.path(), MasterKey::from_bytes(&[7; 32])).expect("open");
        assert!(!store.has_raft_state().expect("state"));
        let entries: Vec<LogEntry> = (1..=5).map(|i| (i, vec![i as u8])).collect();
        store.log_append(&entries, false).expect("append");
        store.sync_wal().expect("sync");
        assert_eq!(
            store.log_range(2, 4).expect("range"),
            entries[1..3].to_vec()
        );
        assert_eq!(store.log_last().expect("last"), Some((5, vec![5])));
        store.log_truncate(4).expect("truncate");
        assert_eq!(store.log_last().expect("last"), Some((3, vec![3])));
        store.log_purge(2, b"p").expect("purge");
        assert_eq!(store.log_range(0, 100).expect("range"), vec![(3, vec![3])]);
        assert_eq!(
            store.raft_state("purged").expect("purged"),
            Some(b"p".to_vec())
        );
        store.set_raft_state("vote", b"v").expect("vote");
        assert!(store.has_raft_state().expect("state"));
        drop(store);
        let store =
            Store::open_replicated(dir.path(), MasterKey::from_bytes(&[7; 32])).expect("reopen");
        assert_eq!(store.raft_state("vote").expect("vote"), Some(b"v".to_vec()));
        assert_eq!(store.log_range(0, 100).expect("range"), vec![(3, vec![3])]);
    }

    /// A column family written once (here the Raft state) must not pin the write-ahead log:
    /// past the bound, RocksDB flushes it and the old log files are released.
    #[test]
    fn a_rarely_written_column_family_does_not_pin_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bound = 1 << 20;
        let store = Store::open_tuned(dir.path(), MasterKey::from_bytes(&[7; 32]), true, bound)
            .expect("open");
        store.set_raft_state("vote", b"v").expect("vote");
        let min_log = |store: &Store| {
            store
                .db
                .property_int_value("rocksdb.min-log-number-to-keep")
                .expect("property")
                .expect("a value")
        };
        let first = min_log(&store);
        // 4 MB of log entries, four times the bound, in 100 KB entries.
        for i in 1..=40u64 {
            store
                .log_append(&[(i, vec![i as u8; 100 << 10])], false)
                .expect("append");
        }
        store.sync_wal().expect("sync");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while min_log(&store) == first {
            assert!(
                std::time::Instant::now() < deadline,
                "the first log file is still needed after writing 4x the bound"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        drop(store);
        let store =
            Store::open_replicated(dir.path(), MasterKey::from_bytes(&[7; 32])).expect("reopen");
        assert_eq!(store.raft_state("vote").expect("vote"), Some(b"v".to_vec()));
        assert_eq!(store.log_range(40, 41).expect("range").len(), 1);
    }
}
