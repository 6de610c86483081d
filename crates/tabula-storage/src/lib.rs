//! Tabula's storage: the only crate that touches RocksDB.
//!
//! One RocksDB per node. Column families:
//! - `meta`: the format marker, the table catalog (one record per table name) and the id counter.
//! - `items`: item bodies under the key layout of `tabula_core::keyenc`, sealed with the
//!   table's data key (see `crypto`).
//! - `index`: secondary-index entries, `table_id | index_no | index key | table key`, each
//!   holding the item's projection sealed under the same data key. An item and its index
//!   entries are always written in one batch, so an index never disagrees with its table.
//!
//! Every write goes through one `WriteBatch` with `sync = true`: RocksDB groups concurrent
//! synced writers into one WAL fsync (group commit), so an acknowledged write survives
//! `kill -9` while throughput stays high under concurrency.
//!
//! Neighbours: `tabula-core` provides values, key encoding and the item codec; the data plane's
//! engine decides what to write and holds the per-item locks that make read-modify-write atomic.

pub mod crypto;
pub mod mutation;
mod raftlog;
pub mod snapshot;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options,
    ReadOptions, WriteBatch, WriteOptions,
};
use tabula_core::codec;
use tabula_core::keyenc::KEY_FORMAT_VERSION;
use tabula_core::value::Item;

pub use crypto::{DataKey, MasterKey};
pub use mutation::Mutation;
pub use raftlog::LogEntry;

const CF_META: &str = "meta";
const CF_ITEMS: &str = "items";
const CF_INDEX: &str = "index";
const CF_STREAM: &str = "stream";
/// The Raft log of a replicated node (see `raftlog`); empty on a single node.
const CF_LOG: &str = "raftlog";
const ALL_CFS: [&str; 5] = [CF_META, CF_ITEMS, CF_INDEX, CF_STREAM, CF_LOG];
const META_STREAM_SEQ_FLOOR: &[u8] = b"stream_seq_floor";
/// Replicated nodes: the last stream sequence number assigned, exactly (every replica must
/// number the same records the same way, also after a restart).
const META_STREAM_SEQ_LAST: &[u8] = b"stream_seq_last";
/// Replicated nodes: the Raft state the applied mutations reach (written in their batches).
const META_RAFT_APPLIED: &[u8] = b"raft/applied";
/// How far ahead of the last assigned stream sequence number the persisted floor is kept:
/// after a restart numbering resumes above it without scanning the records.
const STREAM_SEQ_STEP: u64 = 10_000_000;

const META_FORMAT: &[u8] = b"format";
/// Never holds a value: `Store::warm_wal` writes its tombstone to make a flush switch files.
const META_WAL_WARM: &[u8] = b"wal_warm";
const META_NEXT_TABLE_ID: &[u8] = b"next_table_id";
const META_TABLE_PREFIX: &[u8] = b"table/";
/// Deleted tables whose streams stay readable for their retention: `dead/<table_id>`.
const META_DEAD_PREFIX: &[u8] = b"dead/";
/// Deleted tables whose items and index entries are still to be removed: `purge/<table_id>`
/// (the value says whether the streams are kept).
const META_PURGE_PREFIX: &[u8] = b"purge/";
/// How far each stream was trimmed: `trim/<table_id | stream_no>` → the last trimmed sequence
/// number (so an iterator into trimmed records is refused after a restart too).
const META_TRIM_PREFIX: &[u8] = b"trim/";
/// ClientRequestToken records: `token/<token>` (see [`Space::Token`]).
const META_TOKEN_PREFIX: &[u8] = b"token/";

/// Spare write-ahead log files RocksDB keeps for reuse.
const WAL_SPARE_FILES: usize = 4;
/// Log files `Store::warm_wal` writes, to leave the one in use and a spare written. The
/// second switch takes the file the first one retired if the flush in between has released
/// it by then (RocksDB may release it only just after the flush returns); a third round
/// covers a late one.
const WARM_WAL_FILES: usize = 3;

/// Shared block cache for item SSTs.
const BLOCK_CACHE_BYTES: usize = 256 << 20;

/// Write-ahead log kept at most before RocksDB flushes the column families that still hold
/// the oldest log file. The column families share one log, and the small ones (the catalog,
/// counters, the Raft state) fill their memtables so slowly that they would pin every log
/// file written since they last flushed: RocksDB's default bound is four times all the
/// memtables (gigabytes here), which a restart after a crash replays in full, and the pinned
/// files are never recycled (so every group commit's fsync also writes the growing file's
/// inode). Four memtables' worth bounds both.
const MAX_TOTAL_WAL_BYTES: u64 = 256 << 20;

/// Version of the catalog record layout.
const TABLE_RECORD_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("data directory was written by an unsupported format: {0}")]
    UnsupportedFormat(String),
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("encryption: {0}")]
    Crypto(String),
    #[error("table already exists: {0}")]
    TableExists(String),
    #[error("table not found: {0}")]
    TableNotFound(String),
    /// A mutation the store's current state does not allow (decided the same way on every
    /// replica).
    #[error("rejected: {0}")]
    Rejected(String),
    /// A replicated node could not commit a change (no leader, leadership lost meanwhile):
    /// the change may or may not have been applied; the client may retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A table as the catalog keeps it. `definition` is owned by the engine (its own versioned
/// encoding); storage keeps it next to the table's id and wrapped data key.
#[derive(Clone, Debug, PartialEq)]
pub struct TableRecord {
    pub name: String,
    pub table_id: u32,
    pub wrapped_key: Vec<u8>,
    pub definition: Vec<u8>,
}

impl TableRecord {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.definition.len());
        out.push(TABLE_RECORD_VERSION);
        out.extend_from_slice(&self.table_id.to_be_bytes());
        out.extend_from_slice(&(self.wrapped_key.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.wrapped_key);
        out.extend_from_slice(&self.definition);
        out
    }

    fn decode(name: &str, b: &[u8]) -> Result<TableRecord> {
        let corrupt = || StorageError::Corrupt(format!("catalog record for {name}"));
        if b.first() != Some(&TABLE_RECORD_VERSION) {
            return Err(StorageError::UnsupportedFormat(format!(
                "catalog record version {:?} for table {name}",
                b.first()
            )));
        }
        if b.len() < 9 {
            return Err(corrupt());
        }
        let table_id = u32::from_be_bytes([b[1], b[2], b[3], b[4]]);
        let klen = u32::from_be_bytes([b[5], b[6], b[7], b[8]]) as usize;
        let wrapped_key = b.get(9..9 + klen).ok_or_else(corrupt)?.to_vec();
        let definition = b[9 + klen..].to_vec();
        Ok(TableRecord {
            name: name.to_string(),
            table_id,
            wrapped_key,
            definition,
        })
    }
}

/// An open table: its id and its unwrapped data key.
pub struct TableHandle {
    pub table_id: u32,
    key: DataKey,
}

/// Which key space a write or a scan addresses: the items themselves, or the entries of the
/// tables' secondary indexes (`table_id | index_no | index key | table key`, a column family
/// of its own so an index can be dropped with one range delete).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Items,
    Index,
    /// Change-stream records, `table_id | stream_no | sequence number`. A record's key is
    /// completed at commit: the store gives it the next sequence number.
    Stream,
    /// ClientRequestToken records, `token/<token>` in `meta`: what a finished idempotent
    /// transaction answered, written in its own batch so every replica knows it.
    Token,
}

impl Space {
    fn cf_name(self) -> &'static str {
        match self {
            Space::Items => CF_ITEMS,
            Space::Index => CF_INDEX,
            Space::Stream => CF_STREAM,
            Space::Token => CF_META,
        }
    }
}

/// An item or index-entry write ready to commit: the space, the storage key and the sealed
/// body (`None` deletes).
#[derive(Clone, Debug, PartialEq)]
pub struct SealedWrite {
    pub space: Space,
    pub key: Vec<u8>,
    value: Option<Vec<u8>>,
    /// A counter delta (an i64, summed by RocksDB's merge) rather than a value to store.
    merge: bool,
}

pub struct Store {
    db: DB,
    master: MasterKey,
    /// Open handles by table id.
    handles: RwLock<HashMap<u32, Arc<TableHandle>>>,
    /// Serialises catalog changes (id allocation, create/delete) — rare operations.
    catalog_lock: std::sync::Mutex<()>,
    /// Serialises the commits that carry stream records, and holds the last stream sequence
    /// number and the persisted floor: records become visible in sequence order.
    stream_seq: std::sync::Mutex<(u64, u64)>,
    /// A replica of a replicated table: stream records are numbered from the stamps their log
    /// entries carry, never from this node's clock (see `commit_writes`).
    replicated: bool,
}

impl Store {
    pub fn open(dir: &Path, master: MasterKey) -> Result<Store> {
        Store::open_with(dir, master, false)
    }

    /// Opens the store of one replica of a replicated node (see `replicated`).
    pub fn open_replicated(dir: &Path, master: MasterKey) -> Result<Store> {
        Store::open_with(dir, master, true)
    }

    fn open_with(dir: &Path, master: MasterKey, replicated: bool) -> Result<Store> {
        Store::open_tuned(dir, master, replicated, MAX_TOTAL_WAL_BYTES)
    }

    /// `open_with`, with the write-ahead log bound given (tests use a small one).
    fn open_tuned(
        dir: &Path,
        master: MasterKey,
        replicated: bool,
        max_total_wal_bytes: u64,
    ) -> Result<Store> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.increase_parallelism(2);
        opts.set_keep_log_file_num(4);
        // A write-ahead log file that is no longer needed is kept for reuse instead of being
        // deleted: appending to a file that grows makes every fdatasync also write the
        // inode (its size, its extents), while overwriting blocks written before is a pure
        // data write (see `warm_wal`). RocksDB before 9.1 silently turned this off under
        // point-in-time recovery (our recovery mode); 9.1 made them work together. Reuse
        // forbids writes with the WAL disabled (`disableWAL`), which Tabula never makes.
        opts.set_recycle_log_file_num(WAL_SPARE_FILES);
        opts.set_max_total_wal_size(max_total_wal_bytes);
        opts.set_level_compaction_dynamic_level_bytes(true);
        // Point reads (GetItem, the read half of every conditional write) dominate: a Bloom
        // filter per SST skips files that cannot hold the key, a block cache keeps hot blocks
        // decoded, and the in-block hash index finds a key without a binary search.
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&Cache::new_lru_cache(BLOCK_CACHE_BYTES));
        table.set_bloom_filter(10.0, false);
        let mut items_opts = opts.clone();
        items_opts.set_block_based_table_factory(&table);
        // Counters (item-collection sizes) live beside the index entries and are updated
        // with merges: concurrent writers add deltas without reading.
        let mut index_opts = items_opts.clone();
        index_opts.set_merge_operator_associative("tabula_add_i64", add_i64);
        let cfs = [
            ColumnFamilyDescriptor::new(CF_META, opts.clone()),
            ColumnFamilyDescriptor::new(CF_ITEMS, items_opts.clone()),
            ColumnFamilyDescriptor::new(CF_INDEX, index_opts),
            ColumnFamilyDescriptor::new(CF_STREAM, items_opts),
            ColumnFamilyDescriptor::new(CF_LOG, opts.clone()),
        ];
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        let mut store = Store {
            db,
            master,
            handles: RwLock::new(HashMap::new()),
            catalog_lock: std::sync::Mutex::new(()),
            stream_seq: std::sync::Mutex::new((0, 0)),
            replicated,
        };
        let floor = store.stream_seq_persisted()?;
        *store
            .stream_seq
            .get_mut()
            .unwrap_or_else(|p| p.into_inner()) = (floor, floor);
        store.check_format()?;
        Ok(store)
    }

    /// The stream sequence number persisted: a replica's last one exactly, a single node's
    /// floor.
    fn stream_seq_persisted(&self) -> Result<u64> {
        let key = if self.replicated {
            META_STREAM_SEQ_LAST
        } else {
            META_STREAM_SEQ_FLOOR
        };
        Ok(match self.db.get_cf(self.cf(CF_META)?, key)? {
            Some(v) if v.len() == 8 => u64::from_be_bytes(v[..8].try_into().unwrap_or([0; 8])),
            _ => 0,
        })
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StorageError::Corrupt(format!("missing column family {name}")))
    }

    fn sync_write(&self, batch: WriteBatch) -> Result<()> {
        self.write(batch, true)
    }

    /// Writes a batch, synced or not. Unsynced batches are those a replica applies from its
    /// Raft log: the log itself is durable, and a lost tail is applied again after a crash
    /// (the applied position is written in the same batches).
    fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// Records the key format on a new database; refuses a database written with another.
    fn check_format(&self) -> Result<()> {
        let meta = self.cf(CF_META)?;
        match self.db.get_cf(meta, META_FORMAT)? {
            None => {
                let mut b = WriteBatch::default();
                b.put_cf(meta, META_FORMAT, KEY_FORMAT_VERSION.to_be_bytes());
                self.sync_write(b)
            }
            Some(v) if v.as_slice() == KEY_FORMAT_VERSION.to_be_bytes() => Ok(()),
            Some(v) => Err(StorageError::UnsupportedFormat(format!(
                "key format {v:?}, this build reads {KEY_FORMAT_VERSION}"
            ))),
        }
    }

    /// All catalog records, in table-name order.
    pub fn list_tables(&self) -> Result<Vec<TableRecord>> {
        let mut out = Vec::new();
        self.meta_records(META_TABLE_PREFIX, |name, v| {
            out.push(TableRecord::decode(&String::from_utf8_lossy(name), v)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Visits the `meta` records under `prefix` in key order: the key after the prefix, and
    /// the value.
    fn meta_records(
        &self,
        prefix: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let iter = self.db.iterator_cf(
            self.cf(CF_META)?,
            IteratorMode::From(prefix, Direction::Forward),
        );
        for kv in iter {
            let (k, v) = kv?;
            let Some(rest) = k.strip_prefix(prefix) else {
                break;
            };
            visit(rest, &v)?;
        }
        Ok(())
    }

    pub fn table_record(&self, name: &str) -> Result<Option<TableRecord>> {
        let meta = self.cf(CF_META)?;
        let key = [META_TABLE_PREFIX, name.as_bytes()].concat();
        match self.db.get_cf(meta, key)? {
            Some(v) => Ok(Some(TableRecord::decode(name, &v)?)),
            None => Ok(None),
        }
    }

    /// A catalog record for a new table: the next table id and a fresh data key wrapped by
    /// the master key. Nothing is written: [`Mutation::CreateTable`] does that, and refuses
    /// the record if another table took the id or the name first.
    pub fn new_table_record(&self, name: &str, definition: Vec<u8>) -> Result<TableRecord> {
        let next = self.next_table_id()?;
        let data_key = DataKey::generate();
        Ok(TableRecord {
            name: name.to_string(),
            table_id: next,
            wrapped_key: self.master.wrap(&data_key, next)?,
            definition,
        })
    }

    fn next_table_id(&self) -> Result<u32> {
        Ok(
            match self.db.get_cf(self.cf(CF_META)?, META_NEXT_TABLE_ID)? {
                Some(v) if v.len() == 4 => u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                _ => 1,
            },
        )
    }

    /// Tables dropped but not yet purged (see [`Mutation::DropTable`]).
    pub fn pending_purges(&self) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        self.meta_records(META_PURGE_PREFIX, |id, _| {
            if let Ok(b) = <[u8; 4]>::try_from(id) {
                out.push(u32::from_be_bytes(b));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The deleted tables whose streams are kept (see [`Mutation::DropTable`]).
    pub fn list_dead(&self) -> Result<Vec<TableRecord>> {
        let mut out = Vec::new();
        self.meta_records(META_DEAD_PREFIX, |_, v| {
            let corrupt = || StorageError::Corrupt("dead table record".into());
            let len = v
                .get(..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
                .ok_or_else(corrupt)? as usize;
            let name = String::from_utf8_lossy(v.get(4..4 + len).ok_or_else(corrupt)?).into_owned();
            out.push(TableRecord::decode(&name, &v[4 + len..])?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Applies one catalog mutation (anything but [`Mutation::Writes`]) as one batch, with
    /// `marker` (a replica's applied Raft state) written in the same batch. Rejections
    /// (`TableExists`, `TableNotFound`, `Rejected`) depend only on the store's state, so every
    /// replica decides alike; they write nothing.
    pub fn apply_catalog(&self, m: &Mutation, marker: Option<&[u8]>, sync: bool) -> Result<()> {
        let _guard = self.catalog_lock.lock().unwrap_or_else(|p| p.into_inner());
        let meta = self.cf(CF_META)?;
        let mut b = WriteBatch::default();
        let mut forget_handle = None;
        let table_key = |name: &str| [META_TABLE_PREFIX, name.as_bytes()].concat();
        match m {
            Mutation::Writes(_) => {
                return Err(StorageError::Rejected(
                    "item writes are not a catalog change".into(),
                ));
            }
            Mutation::CreateTable(record) => {
                if self.table_record(&record.name)?.is_some() {
                    return Err(StorageError::TableExists(record.name.clone()));
                }
                let next = self.next_table_id()?;
                if record.table_id != next {
                    return Err(StorageError::Rejected(format!(
                        "table id {} was taken (next is {next})",
                        record.table_id
                    )));
                }
                b.put_cf(meta, META_NEXT_TABLE_ID, (next + 1).to_be_bytes());
                b.put_cf(meta, table_key(&record.name), record.encode());
            }
            Mutation::UpdateDefinition { name, definition } => {
                let mut record = self
                    .table_record(name)?
                    .ok_or_else(|| StorageError::TableNotFound(name.clone()))?;
                record.definition = definition.clone();
                b.put_cf(meta, table_key(name), record.encode());
            }
            Mutation::DropTable { name, tombstone } => {
                let record = self
                    .table_record(name)?
                    .ok_or_else(|| StorageError::TableNotFound(name.clone()))?;
                b.delete_cf(meta, table_key(name));
                b.put_cf(
                    meta,
                    [META_PURGE_PREFIX, &record.table_id.to_be_bytes()[..]].concat(),
                    [u8::from(tombstone.is_some())],
                );
                if let Some(definition) = tombstone {
                    let dead = TableRecord {
                        definition: definition.clone(),
                        ..record.clone()
                    };
                    let mut value = (name.len() as u32).to_be_bytes().to_vec();
                    value.extend_from_slice(name.as_bytes());
                    value.extend_from_slice(&dead.encode());
                    b.put_cf(
                        meta,
                        [META_DEAD_PREFIX, &record.table_id.to_be_bytes()[..]].concat(),
                        value,
                    );
                }
            }
            Mutation::PurgeTableData(table_id) => {
                let marker_key = [META_PURGE_PREFIX, &table_id.to_be_bytes()[..]].concat();
                // Already purged: nothing to do (but a replica still records its position).
                if let Some(keep_streams) = self.db.get_cf(meta, &marker_key)? {
                    let end = table_end(*table_id)?;
                    let mut spaces = vec![Space::Items, Space::Index];
                    if keep_streams.first() != Some(&1) {
                        spaces.push(Space::Stream);
                        forget_trims(&mut b, meta, *table_id, end);
                        forget_handle = Some(*table_id);
                    }
                    for space in spaces {
                        b.delete_range_cf(
                            self.cf(space.cf_name())?,
                            table_id.to_be_bytes(),
                            end.to_be_bytes(),
                        );
                    }
                    b.delete_cf(meta, marker_key);
                }
            }
            Mutation::PurgeDead(table_id) => {
                let end = table_end(*table_id)?;
                b.delete_cf(
                    meta,
                    [META_DEAD_PREFIX, &table_id.to_be_bytes()[..]].concat(),
                );
                b.delete_range_cf(
                    self.cf(CF_STREAM)?,
                    table_id.to_be_bytes(),
                    end.to_be_bytes(),
                );
                forget_trims(&mut b, meta, *table_id, end);
                forget_handle = Some(*table_id);
            }
            Mutation::DropIndexEntries(prefix) => {
                let Some(end) = tabula_core::keyenc::prefix_end(prefix) else {
                    return Err(StorageError::Rejected(
                        "index prefix has no successor".into(),
                    ));
                };
                b.delete_range_cf(self.cf(CF_INDEX)?, &prefix[..], &end[..]);
            }
            Mutation::TrimStream { stream, before } => {
                if let Some(last) = self.last_stream_seq(stream, *before)? {
                    let key = [META_TRIM_PREFIX, &stream[..]].concat();
                    let earlier = self
                        .db
                        .get_cf(meta, &key)?
                        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                        .map_or(0, u64::from_be_bytes);
                    b.put_cf(meta, key, last.max(earlier).to_be_bytes());
                }
                b.delete_range_cf(
                    self.cf(CF_STREAM)?,
                    stream.clone(),
                    [&stream[..], &before.to_be_bytes()[..]].concat(),
                );
            }
        }
        if let Some(marker) = marker {
            b.put_cf(meta, META_RAFT_APPLIED, marker);
        }
        self.write(b, sync)?;
        if let Some(id) = forget_handle {
            self.handles
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
        Ok(())
    }

    /// Opens (and caches) the handle for a table record.
    pub fn handle(&self, record: &TableRecord) -> Result<Arc<TableHandle>> {
        if let Some(h) = self
            .handles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&record.table_id)
        {
            return Ok(h.clone());
        }
        let key = self.master.unwrap(&record.wrapped_key, record.table_id)?;
        let h = Arc::new(TableHandle {
            table_id: record.table_id,
            key,
        });
        self.handles
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(record.table_id, h.clone());
        Ok(h)
    }

    pub fn get(&self, table: &TableHandle, key: &[u8]) -> Result<Option<Item>> {
        let items = self.cf(CF_ITEMS)?;
        match self.db.get_pinned_cf(items, key)? {
            Some(v) => Ok(Some(open_item(table, key, &v)?)),
            None => Ok(None),
        }
    }

    /// Reads several items of (possibly) several tables as of one instant: a RocksDB
    /// snapshot, so a batch committed meanwhile is seen entirely or not at all.
    pub fn get_consistent(&self, reads: &[(&TableHandle, &[u8])]) -> Result<Vec<Option<Item>>> {
        let items = self.cf(CF_ITEMS)?;
        let snapshot = self.db.snapshot();
        let mut out = Vec::with_capacity(reads.len());
        for (table, key) in reads {
            out.push(match snapshot.get_cf(items, key)? {
                Some(v) => Some(open_item(table, key, &v)?),
                None => None,
            });
        }
        Ok(out)
    }

    /// Prepares one item write outside any lock: encodes and seals the item so that the commit
    /// itself only copies bytes.
    pub fn prepare(
        &self,
        table: &TableHandle,
        key: Vec<u8>,
        item: Option<&Item>,
    ) -> Result<SealedWrite> {
        self.prepare_in(Space::Items, table, key, item)
    }

    /// Prepares a write in either space. Index entries are sealed under the table's data key
    /// like items (the entry key is the authenticated data), so an index holds no attribute
    /// value in the clear beyond its key bytes.
    pub fn prepare_in(
        &self,
        space: Space,
        table: &TableHandle,
        key: Vec<u8>,
        item: Option<&Item>,
    ) -> Result<SealedWrite> {
        let value = match item {
            Some(item) => Some(table.key.seal(&key, &codec::encode_item(item))?),
            None => None,
        };
        Ok(SealedWrite {
            space,
            key,
            value,
            merge: false,
        })
    }

    /// A write recording (or, with `None`, forgetting) a ClientRequestToken's record.
    pub fn token_write(&self, token: &str, record: Option<Vec<u8>>) -> SealedWrite {
        SealedWrite {
            space: Space::Token,
            key: token.as_bytes().to_vec(),
            value: record,
            merge: false,
        }
    }

    /// The record of a ClientRequestToken, if one was written.
    pub fn token_record(&self, token: &str) -> Result<Option<Vec<u8>>> {
        let key = [META_TOKEN_PREFIX, token.as_bytes()].concat();
        Ok(self.db.get_cf(self.cf(CF_META)?, key)?)
    }

    /// How far each stream was trimmed: the stream (`table_id | stream_no`) and the last
    /// sequence number trimmed from it.
    pub fn trim_marks(&self) -> Result<Vec<(Vec<u8>, u64)>> {
        let mut out = Vec::new();
        self.meta_records(META_TRIM_PREFIX, |stream, v| {
            if let Ok(b) = <[u8; 8]>::try_from(v) {
                out.push((stream.to_vec(), u64::from_be_bytes(b)));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every ClientRequestToken record: the token and its record.
    pub fn token_records(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        self.meta_records(META_TOKEN_PREFIX, |token, v| {
            out.push((String::from_utf8_lossy(token).into_owned(), v.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }

    /// A write adding `delta` to the counter at `key` (in the index space).
    pub fn counter_delta(&self, key: Vec<u8>, delta: i64) -> SealedWrite {
        SealedWrite {
            space: Space::Index,
            key,
            value: Some(delta.to_be_bytes().to_vec()),
            merge: true,
        }
    }

    /// The counter at `key` (0 if never written).
    pub fn counter(&self, key: &[u8]) -> Result<i64> {
        Ok(self
            .db
            .get_cf(self.cf(CF_INDEX)?, key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(i64::from_be_bytes)
            .unwrap_or(0))
    }

    /// Commits many prepared writes (possibly from many requests) as one atomic, synced batch:
    /// the engine's committer calls this once per group of concurrent writes.
    pub fn commit(&self, writes: &[&SealedWrite]) -> Result<()> {
        self.commit_writes(writes, None, None, true)
    }

    /// `commit`, generalised for replicas applying their log: `stamp` (the proposer's clock,
    /// carried by the log entry) numbers stream records instead of this node's clock, and
    /// `marker` (the applied Raft state) is written in the same batch.
    pub fn commit_writes(
        &self,
        writes: &[&SealedWrite],
        stamp: Option<u64>,
        marker: Option<&[u8]>,
        sync: bool,
    ) -> Result<()> {
        let items = self.cf(CF_ITEMS)?;
        let index = self.cf(CF_INDEX)?;
        let stream = self.cf(CF_STREAM)?;
        let mut b = WriteBatch::default();
        let has_stream = writes.iter().any(|w| w.space == Space::Stream);
        // Stream records take their sequence numbers here, under the lock, and the batch is
        // written before the lock is released: numbers are handed out in commit order and a
        // reader never sees a record before one with a smaller number.
        let mut guard = if has_stream {
            Some(self.stream_seq.lock().unwrap_or_else(|p| p.into_inner()))
        } else {
            None
        };
        // Numbers are taken on a copy, kept only once the batch is durable: a failed write
        // must not leave an advanced floor in memory that was never persisted.
        let mut seq = guard.as_deref().copied();
        for w in writes {
            match (w.space, &w.value, seq.as_mut()) {
                (Space::Stream, Some(v), Some(state)) => {
                    let n = match stamp {
                        Some(t) if self.replicated => t.max(state.0 + 1),
                        _ => next_stream_seq(state.0),
                    };
                    state.0 = n;
                    let mut key = w.key.clone();
                    key.extend_from_slice(&n.to_be_bytes());
                    b.put_cf(stream, key, v);
                    if self.replicated {
                        b.put_cf(self.cf(CF_META)?, META_STREAM_SEQ_LAST, n.to_be_bytes());
                    } else if n >= state.1 {
                        state.1 = n + STREAM_SEQ_STEP;
                        b.put_cf(
                            self.cf(CF_META)?,
                            META_STREAM_SEQ_FLOOR,
                            state.1.to_be_bytes(),
                        );
                    }
                }
                (Space::Stream, _, _) => {}
                (Space::Token, value, _) => {
                    let key = [META_TOKEN_PREFIX, &w.key].concat();
                    match value {
                        Some(v) => b.put_cf(self.cf(CF_META)?, key, v),
                        None => b.delete_cf(self.cf(CF_META)?, key),
                    }
                }
                (space, value, _) => {
                    let cf = if space == Space::Items { items } else { index };
                    match value {
                        Some(v) if w.merge => b.merge_cf(cf, &w.key, v),
                        Some(v) => b.put_cf(cf, &w.key, v),
                        None => b.delete_cf(cf, &w.key),
                    }
                }
            }
        }
        if let Some(marker) = marker {
            b.put_cf(self.cf(CF_META)?, META_RAFT_APPLIED, marker);
        }
        let result = self.write(b, sync);
        if let (Ok(()), Some(g), Some(s)) = (&result, guard.as_mut(), seq) {
            **g = s;
        }
        drop(guard);
        result
    }

    /// A stream sequence number no later commit can go below: with it, a reader decides that
    /// a shard (a range of sequence numbers) can receive no more records.
    pub fn stream_clock(&self) -> u64 {
        let mut state = self.stream_seq.lock().unwrap_or_else(|p| p.into_inner());
        if self.replicated {
            // Replicas number records from their log's stamps, so no clock reading bounds
            // what comes next: only the numbers already given out do.
            return state.0 + 1;
        }
        let c = next_stream_seq(state.0);
        // Reserve it: later commits number above it even if the wall clock steps back, so a
        // shard a reader saw closed stays closed.
        state.0 = state.0.max(c - 1);
        c
    }

    /// Prepares a stream record of `stream` (`table_id | stream_no`); the sequence number is
    /// added at commit. The record is sealed under the table's data key with the stream as
    /// authenticated data.
    pub fn prepare_stream_record(
        &self,
        table: &TableHandle,
        stream: Vec<u8>,
        record: &[u8],
    ) -> Result<SealedWrite> {
        let value = table.key.seal(&stream, record)?;
        Ok(SealedWrite {
            space: Space::Stream,
            key: stream,
            value: Some(value),
            merge: false,
        })
    }

    /// The records of `stream` with sequence numbers in `[from, to)`, in order, decrypted;
    /// `visit` returns `false` to stop.
    pub fn scan_stream(
        &self,
        table: &TableHandle,
        stream: &[u8],
        from: u64,
        to: u64,
        mut visit: impl FnMut(u64, Vec<u8>) -> Result<bool>,
    ) -> Result<()> {
        let cf = self.cf(CF_STREAM)?;
        let key = |n: u64| [stream, &n.to_be_bytes()[..]].concat();
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(key(from));
        ro.set_iterate_upper_bound(key(to));
        for kv in self.db.iterator_cf_opt(cf, ro, IteratorMode::Start) {
            let (k, v) = kv?;
            let n = k
                .get(stream.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StorageError::Corrupt("short stream record key".into()))?;
            if !visit(n, table.key.open(stream, &v)?)? {
                break;
            }
        }
        Ok(())
    }

    /// The sequence number of the last record of `stream` below `to`, if any.
    pub fn last_stream_seq(&self, stream: &[u8], to: u64) -> Result<Option<u64>> {
        let cf = self.cf(CF_STREAM)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(stream.to_vec());
        ro.set_iterate_upper_bound([stream, &to.to_be_bytes()[..]].concat());
        match self.db.iterator_cf_opt(cf, ro, IteratorMode::End).next() {
            Some(kv) => {
                let (k, _) = kv?;
                Ok(k.get(stream.len()..)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes))
            }
            None => Ok(None),
        }
    }

    /// Items with keys in `[start, end)`, ascending or descending, decrypted. The callback
    /// returns `false` to stop early (page limits).
    pub fn scan(
        &self,
        table: &TableHandle,
        start: &[u8],
        end: &[u8],
        forward: bool,
        visit: impl FnMut(&[u8], Item) -> Result<bool>,
    ) -> Result<()> {
        self.scan_in(Space::Items, table, start, end, forward, visit)
    }

    /// `scan` over either space (index entries decode to their projected items).
    pub fn scan_in(
        &self,
        space: Space,
        table: &TableHandle,
        start: &[u8],
        end: &[u8],
        forward: bool,
        mut visit: impl FnMut(&[u8], Item) -> Result<bool>,
    ) -> Result<()> {
        let items = self.cf(space.cf_name())?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(start.to_vec());
        ro.set_iterate_upper_bound(end.to_vec());
        // The raw iterator lends each key and value instead of copying both into boxes.
        let mut it = self.db.raw_iterator_cf_opt(items, ro);
        if forward {
            it.seek_to_first();
        } else {
            it.seek_to_last();
        }
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let item = open_item(table, k, v)?;
            if !visit(k, item)? {
                return Ok(());
            }
            if forward {
                it.next();
            } else {
                it.prev();
            }
        }
        it.status()?;
        Ok(())
    }

    /// The index numbers under which `table_id` has entries (or counters) in the index
    /// space, ascending: one seek per number found.
    pub fn index_numbers(&self, table_id: u32) -> Result<Vec<u16>> {
        let cf = self.cf(CF_INDEX)?;
        let table = table_id.to_be_bytes();
        let mut found = Vec::new();
        let mut from = 0u32;
        while let Ok(no) = u16::try_from(from) {
            let mut ro = ReadOptions::default();
            if let Some(end) = tabula_core::keyenc::prefix_end(&table) {
                ro.set_iterate_upper_bound(end);
            }
            let start = tabula_core::keyenc::index_prefix(table_id, no);
            let mode = IteratorMode::From(&start, rocksdb::Direction::Forward);
            let Some(kv) = self.db.iterator_cf_opt(cf, ro, mode).next() else {
                break;
            };
            let (k, _) = kv?;
            let Some(no) = k.get(4..6).and_then(|b| <[u8; 2]>::try_from(b).ok()) else {
                break;
            };
            let no = u16::from_be_bytes(no);
            found.push(no);
            from = u32::from(no) + 1;
        }
        Ok(found)
    }

    /// Makes the write-ahead log in use, and a spare for the next one, files already
    /// written to `bytes_per_file`, so group commits overwrite blocks instead of growing a
    /// file. A synced append that grows a file costs the filesystem an inode write as well
    /// (ext4 and XFS alike): measured here, fdatasync of a 2.4 KB append took ~180 us and
    /// ~75 us of CPU on a growing file against ~115 us and ~55 us on a written one.
    ///
    /// RocksDB reuses only log files it retired itself, so this writes log-only records
    /// (which recovery skips and no memtable holds) until the current file reaches the size,
    /// then switches to a new file by flushing: the retired file joins the spares, and the
    /// next switch takes it. Recovery tells a reused file's stale records from new ones by the
    /// log number every record carries. Costs `WARM_WAL_FILES * bytes_per_file` of sequential
    /// writes at each open; 0 does nothing.
    pub fn warm_wal(&self, bytes_per_file: usize) -> Result<()> {
        if bytes_per_file == 0 {
            return Ok(());
        }
        const BLOB: usize = 1 << 20;
        let meta = self.cf(CF_META)?;
        let all = ALL_CFS
            .iter()
            .map(|name| self.cf(name))
            .collect::<Result<Vec<_>>>()?;
        let blob = vec![0u8; BLOB];
        for _ in 0..WARM_WAL_FILES {
            let mut left = bytes_per_file;
            while left > 0 {
                // Batches of up to 4 MB.
                let mut b = WriteBatch::default();
                let mut batched = 0;
                while left > 0 && batched < 4 * BLOB {
                    let n = left.min(BLOB);
                    b.put_log_data(&blob[..n]);
                    left -= n;
                    batched += n;
                }
                self.write(b, false)?;
            }
            // A flush switches files only if some memtable holds something: a tombstone of
            // a key nobody uses is enough.
            let mut b = WriteBatch::default();
            b.delete_cf(meta, META_WAL_WARM);
            self.write(b, true)?;
            self.db
                .flush_cfs_opt(&all, &rocksdb::FlushOptions::default())?;
        }
        Ok(())
    }

    /// Flushes memtables and compacts everything (used by tests and by backups).
    pub fn flush_and_compact(&self) -> Result<()> {
        for name in ALL_CFS {
            let cf = self.cf(name)?;
            self.db.flush_cf(cf)?;
            self.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        }
        self.db.flush_wal(true)?;
        Ok(())
    }
}

/// Deletes the trim marks of the streams of table `table_id` (`end` is the next table id).
fn forget_trims(b: &mut WriteBatch, meta: &rocksdb::ColumnFamily, table_id: u32, end: u32) {
    b.delete_range_cf(
        meta,
        [META_TRIM_PREFIX, &table_id.to_be_bytes()[..]].concat(),
        [META_TRIM_PREFIX, &end.to_be_bytes()[..]].concat(),
    );
}

/// The first table id after `table_id` (the end of its key range).
fn table_end(table_id: u32) -> Result<u32> {
    table_id
        .checked_add(1)
        .ok_or_else(|| StorageError::Corrupt("table id space exhausted".into()))
}

/// RocksDB merge operator of the counters: the sum of big-endian i64 operands.
fn add_i64(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &rocksdb::MergeOperands,
) -> Option<Vec<u8>> {
    let read = |b: &[u8]| <[u8; 8]>::try_from(b).map(i64::from_be_bytes).unwrap_or(0);
    let mut sum = existing.map(read).unwrap_or(0);
    for op in operands {
        sum = sum.saturating_add(read(op));
    }
    Some(sum.to_be_bytes().to_vec())
}

/// The next stream sequence number after `last`: the current time in microseconds, or
/// `last + 1` when that is not larger (so numbers only grow, and a restart — which resumes
/// above the persisted floor — never reuses one).
fn next_stream_seq(last: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    now.max(last + 1)
}

fn open_item(table: &TableHandle, key: &[u8], sealed: &[u8]) -> Result<Item> {
    let plain = table.key.open(key, sealed)?;
    codec::decode_item(&plain).map_err(|e| StorageError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod wal_tests;
