//! Snapshots of a replica's state: what the Raft log has produced (items, index entries and
//! counters, stream records, the catalog), without the replica's own Raft bookkeeping.
//!
//! A snapshot is taken from a RocksDB snapshot (a consistent point-in-time view, like a
//! checkpoint, but without flushing or hard-linking files) and written as one file, so it can
//! be kept beside the store and streamed to another replica in chunks:
//!
//! ```text
//! "TABULA-SNAPSHOT\0"  version (u8)
//! { space (u8, 1 meta / 2 items / 3 index / 4 stream)  key len (u32)  key  value len (u32)  value }*
//! 0 (u8)  records (u64)  CRC-32 of every byte before it (u32)
//! ```
//!
//! Records come in key order per space, so the receiver builds one SST file per column
//! family in a single pass and ingests them: RocksDB's bulk load, no write-ahead log, no
//! memtable. The file is checked completely (record count and CRC) before the receiver's
//! state is touched.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rocksdb::{IngestExternalFileOptions, IteratorMode, Options, SstFileWriter, WriteBatch};

use crate::{
    CF_INDEX, CF_ITEMS, CF_META, CF_STREAM, META_RAFT_APPLIED, Result, StorageError, Store,
};

const MAGIC: &[u8; 16] = b"TABULA-SNAPSHOT\0";
/// Version of the snapshot file layout.
const SNAPSHOT_VERSION: u8 = 1;
/// The column families a snapshot carries, with their tags in the file.
const SPACES: [(u8, &str); 4] = [(1, CF_META), (2, CF_ITEMS), (3, CF_INDEX), (4, CF_STREAM)];
/// Largest key or value a snapshot record may hold (a stream record carries two item images
/// of up to 400 KB; anything near this is a corrupt length, not data).
const MAX_RECORD_BYTES: usize = 16 << 20;
/// Marks a snapshot installation in progress (see [`Store::install_snapshot`]): the
/// caller's description of the snapshot (`raft_state("installing")`).
pub const META_INSTALLING: &[u8] = b"raft/installing";
/// The snapshot in force, as the caller describes it (`raft_state("snapshot")`).
pub const META_SNAPSHOT: &[u8] = b"raft/snapshot";

/// Whether a `meta` key belongs to this replica rather than to the replicated state: its Raft
/// bookkeeping (`raft/…`) and the format marker. Snapshots and digests leave them out.
pub(crate) fn replica_local(key: &[u8]) -> bool {
    key.starts_with(b"raft/") || key == crate::META_FORMAT
}

/// What a snapshot file held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotStats {
    pub records: u64,
    pub bytes: u64,
}

struct Crc<W> {
    inner: W,
    crc: crc32fast::Hasher,
    bytes: u64,
}

impl<W: Write> Crc<W> {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.crc.update(b);
        self.bytes += b.len() as u64;
        self.inner.write_all(b)
    }
}

impl<R: Read> Crc<R> {
    fn take(&mut self, buf: &mut [u8]) -> Result<()> {
        self.inner
            .read_exact(buf)
            .map_err(|e| corrupt(format!("truncated ({e})")))?;
        self.crc.update(buf);
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn take_vec(&mut self) -> Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.take(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_RECORD_BYTES {
            return Err(corrupt(format!("a record of {len} bytes")));
        }
        let mut v = vec![0u8; len];
        self.take(&mut v)?;
        Ok(v)
    }
}

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(format!("snapshot file: {what}"))
}

impl Store {
    /// Writes the replicated state as it is now to `out` (created, synced). `taken` runs as
    /// soon as the point-in-time view is fixed, before any byte is written: the caller may
    /// let writes go on from there.
    pub fn export_snapshot(&self, out: &Path, taken: impl FnOnce()) -> Result<SnapshotStats> {
        let view = self.db.snapshot();
        taken();
        let file = File::create(out)?;
        let mut w = Crc {
            inner: BufWriter::with_capacity(1 << 20, file),
            crc: crc32fast::Hasher::new(),
            bytes: 0,
        };
        w.put(MAGIC)?;
        w.put(&[SNAPSHOT_VERSION])?;
        let mut records = 0u64;
        for (tag, name) in SPACES {
            let cf = self.cf(name)?;
            for kv in view.iterator_cf(cf, IteratorMode::Start) {
                let (k, v) = kv?;
                if name == CF_META && replica_local(&k) {
                    continue;
                }
                w.put(&[tag])?;
                w.put(&(k.len() as u32).to_be_bytes())?;
                w.put(&k)?;
                w.put(&(v.len() as u32).to_be_bytes())?;
                w.put(&v)?;
                records += 1;
            }
        }
        w.put(&[0])?;
        w.put(&records.to_be_bytes())?;
        let crc = w.crc.clone().finalize();
        w.put(&crc.to_be_bytes())?;
        let bytes = w.bytes;
        let file = w.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(SnapshotStats { records, bytes })
    }

    /// Replaces the replicated state by the snapshot in `file`. `marker` is the applied Raft
    /// state the snapshot stands for, `described` the caller's description of the snapshot.
    /// The file is read and checked completely before anything here changes. Then
    /// [`META_INSTALLING`] is set to `described` in the batch that clears the old state, and
    /// the last batch writes `marker`, makes `described` the snapshot in force
    /// ([`META_SNAPSHOT`]) and clears the mark. A crash in between leaves the mark: installing
    /// the same file again finishes the job (every step is idempotent).
    pub fn install_snapshot(
        &self,
        file: &Path,
        marker: &[u8],
        described: &[u8],
    ) -> Result<SnapshotStats> {
        let work = file.with_extension("ingest");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)?;
        let result = self.install_from(file, &work, marker, described);
        let _ = std::fs::remove_dir_all(&work);
        result
    }

    fn install_from(
        &self,
        file: &Path,
        work: &Path,
        marker: &[u8],
        described: &[u8],
    ) -> Result<SnapshotStats> {
        let (stats, ssts) = build_ssts(file, work)?;
        // Nothing written by another writer may interleave: the caller (the replica's state
        // machine) is the only writer of a replica.
        let _guard = self.catalog_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut clear = WriteBatch::default();
        clear.put_cf(self.cf(CF_META)?, META_INSTALLING, described);
        for (_, name) in SPACES {
            let cf = self.cf(name)?;
            if name == CF_META {
                for kv in self.db.iterator_cf(cf, IteratorMode::Start) {
                    let (k, _) = kv?;
                    if !replica_local(&k) {
                        clear.delete_cf(cf, k);
                    }
                }
                continue;
            }
            let first = self.db.iterator_cf(cf, IteratorMode::Start).next();
            let last = self.db.iterator_cf(cf, IteratorMode::End).next();
            if let (Some(first), Some(last)) = (first, last) {
                let (first, last) = (first?.0, last?.0);
                let mut end = last.to_vec();
                end.push(0);
                clear.delete_range_cf(cf, &first[..], &end[..]);
            }
        }
        self.write(clear, true)?;
        let mut opts = IngestExternalFileOptions::default();
        opts.set_move_files(true);
        for (name, path) in &ssts {
            self.db
                .ingest_external_file_cf_opts(self.cf(name)?, &opts, vec![path.clone()])?;
        }
        let mut done = WriteBatch::default();
        let meta = self.cf(CF_META)?;
        done.put_cf(meta, META_RAFT_APPLIED, marker);
        done.put_cf(meta, META_SNAPSHOT, described);
        done.delete_cf(meta, META_INSTALLING);
        self.write(done, true)?;
        // In-memory state derived from the store.
        self.handles
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let last = self.stream_seq_persisted()?;
        *self.stream_seq.lock().unwrap_or_else(|p| p.into_inner()) = (last, last);
        Ok(stats)
    }
}

/// Reads a snapshot file, writing one SST per column family into `work`; checks the record
/// count and the CRC.
fn build_ssts(file: &Path, work: &Path) -> Result<(SnapshotStats, Vec<(&'static str, PathBuf)>)> {
    let mut r = Crc {
        inner: BufReader::with_capacity(1 << 20, File::open(file)?),
        crc: crc32fast::Hasher::new(),
        bytes: 0,
    };
    let mut magic = [0u8; 16];
    r.take(&mut magic)?;
    if &magic != MAGIC {
        return Err(corrupt("not a Tabula snapshot"));
    }
    let mut version = [0u8; 1];
    r.take(&mut version)?;
    if version[0] != SNAPSHOT_VERSION {
        return Err(StorageError::UnsupportedFormat(format!(
            "snapshot version {}, this build reads {SNAPSHOT_VERSION}",
            version[0]
        )));
    }
    let mut opts = Options::default();
    opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
    let mut ssts = Vec::new();
    let mut writer: Option<(u8, SstFileWriter)> = None;
    let mut records = 0u64;
    let mut previous: Option<Vec<u8>> = None;
    let finish_current = |writer: &mut Option<(u8, SstFileWriter)>| -> Result<()> {
        if let Some((_, mut w)) = writer.take() {
            w.finish()?;
        }
        Ok(())
    };
    loop {
        let mut tag = [0u8; 1];
        r.take(&mut tag)?;
        if tag[0] == 0 {
            finish_current(&mut writer)?;
            break;
        }
        let Some(&(_, name)) = SPACES.iter().find(|(t, _)| *t == tag[0]) else {
            return Err(corrupt(format!("unknown space {}", tag[0])));
        };
        match &writer {
            Some((t, _)) if *t == tag[0] => {}
            Some((t, _)) if *t > tag[0] => return Err(corrupt("spaces out of order")),
            _ => {
                finish_current(&mut writer)?;
                if ssts.iter().any(|(n, _)| *n == name) {
                    return Err(corrupt("a space appears twice"));
                }
                let path = work.join(format!("{name}.sst"));
                let w = SstFileWriter::create(&opts);
                w.open(&path)?;
                ssts.push((name, path));
                writer = Some((tag[0], w));
                previous = None;
            }
        }
        let key = r.take_vec()?;
        let value = r.take_vec()?;
        if previous.as_ref().is_some_and(|p| *p >= key) {
            return Err(corrupt("keys out of order"));
        }
        if let Some((_, w)) = writer.as_mut() {
            w.put(&key, &value)?;
        }
        previous = Some(key);
        records += 1;
    }
    let mut count = [0u8; 8];
    r.take(&mut count)?;
    let expected = r.crc.clone().finalize();
    let mut crc = [0u8; 4];
    r.inner
        .read_exact(&mut crc)
        .map_err(|e| corrupt(format!("truncated ({e})")))?;
    if u64::from_be_bytes(count) != records {
        return Err(corrupt("record count does not match"));
    }
    if u32::from_be_bytes(crc) != expected {
        return Err(corrupt("checksum does not match"));
    }
    let bytes = r.bytes + 4;
    Ok((SnapshotStats { records, bytes }, ssts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MasterKey, Mutation, SealedWrite, Space};

    fn store(dir: &Path) -> Store {
        Store::open_replicated(dir, MasterKey::from_bytes(&[9; 32])).expect("open")
    }

    fn put(store: &Store, key: &[u8], value: &[u8]) {
        let w = SealedWrite {
            space: Space::Items,
            key: key.to_vec(),
            value: Some(value.to_vec()),
            merge: false,
        };
        store
            .commit_writes(&[&w], None, Some(b"pos"), true)
            .expect("write");
    }

    #[test]
    fn a_snapshot_replaces_the_state_and_keeps_the_replicas_own() {
        let a_dir = tempfile::tempdir().expect("tempdir");
        let a = store(a_dir.path());
        let record = a
            .new_table_record("T", b"definition".to_vec())
            .expect("record");
        a.apply_catalog(&Mutation::CreateTable(record), None, true)
            .expect("create");
        for i in 0..500u32 {
            put(&a, &i.to_be_bytes(), format!("value {i}").as_bytes());
        }
        a.set_raft_state("vote", b"a's vote").expect("vote");
        let file = a_dir.path().join("one.snap");
        let mut taken = false;
        let stats = a.export_snapshot(&file, || taken = true).expect("export");
        assert!(taken);
        // Writes after the view do not reach the file.
        put(&a, b"later", b"not in the snapshot");
        assert_eq!(
            stats.records,
            500 + 2,
            "500 items, one table, the id counter"
        );

        let b_dir = tempfile::tempdir().expect("tempdir");
        let b = store(b_dir.path());
        put(&b, b"stale", b"only on b");
        b.set_raft_state("vote", b"b's vote").expect("vote");
        let copy = b_dir.path().join("copy.snap");
        std::fs::copy(&file, &copy).expect("copy");
        assert_eq!(
            b.install_snapshot(&copy, b"applied at 7", b"snapshot 7")
                .expect("install"),
            stats
        );
        assert_eq!(b.list_tables().expect("tables").len(), 1);
        assert_eq!(
            b.raft_applied().expect("applied"),
            Some(b"applied at 7".to_vec())
        );
        assert_eq!(
            b.raft_state("vote").expect("vote"),
            Some(b"b's vote".to_vec())
        );
        assert_eq!(b.raft_state("installing").expect("mark"), None);
        assert_eq!(
            b.raft_state("snapshot").expect("snapshot"),
            Some(b"snapshot 7".to_vec())
        );
        // b now holds what a held at the snapshot: same digest once a drops its later write.
        let later = SealedWrite {
            space: Space::Items,
            key: b"later".to_vec(),
            value: None,
            merge: false,
        };
        a.commit_writes(&[&later], None, Some(b"pos"), true)
            .expect("delete");
        assert_eq!(b.digest().expect("digest"), a.digest().expect("digest"));
        // Installing again (a crash part way) gives the same state.
        b.install_snapshot(&copy, b"applied at 7", b"snapshot 7")
            .expect("again");
        assert_eq!(
            b.raft_state("snapshot").expect("snapshot"),
            Some(b"snapshot 7".to_vec())
        );
        assert_eq!(b.digest().expect("digest"), a.digest().expect("digest"));
        drop(b);
        let b = store(b_dir.path());
        assert_eq!(b.digest().expect("digest"), a.digest().expect("digest"));
    }

    #[test]
    fn a_damaged_snapshot_is_refused_and_changes_nothing() {
        let a_dir = tempfile::tempdir().expect("tempdir");
        let a = store(a_dir.path());
        for i in 0..50u32 {
            put(&a, &i.to_be_bytes(), b"v");
        }
        let file = a_dir.path().join("s.snap");
        a.export_snapshot(&file, || {}).expect("export");
        let good = std::fs::read(&file).expect("read");
        let b_dir = tempfile::tempdir().expect("tempdir");
        let b = store(b_dir.path());
        put(&b, b"mine", b"kept");
        let before = b.digest().expect("digest");
        let bad = b_dir.path().join("bad.snap");
        let mut flipped = good.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x40;
        for (what, bytes) in [
            ("flipped byte", flipped),
            ("truncated", good[..good.len() - 9].to_vec()),
            ("not a snapshot", b"hello".to_vec()),
        ] {
            std::fs::write(&bad, &bytes).expect("write");
            assert!(
                b.install_snapshot(&bad, b"m", b"d").is_err(),
                "{what} was installed"
            );
            assert_eq!(
                b.digest().expect("digest"),
                before,
                "{what} changed the store"
            );
        }
    }
}
