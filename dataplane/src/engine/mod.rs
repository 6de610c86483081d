//! The table engine: DynamoDB semantics on top of storage. It receives typed requests (never
//! JSON, never HTTP), validates them against the table's schema, runs read-modify-write under a
//! per-item lock so conditional writes and updates are atomic, and hands atomic batches to
//! storage.
//!
//! Neighbours: `protocol` builds the typed requests and renders the typed results;
//! `tabula_storage` persists; `tabula_core::expr` parses and evaluates expressions.

pub(crate) mod cache;
mod commit;
mod indexes;
mod items;
mod log;
mod reads;
mod streams;
mod tables;
mod transactions;
mod ttl;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tabula_core::value::{MAX_ITEM_SIZE, MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES};
use tabula_core::{AttributeValue, Item, ScalarType, keyenc};
use tabula_storage::{Store, TableHandle};

pub use indexes::*;
pub use items::*;
pub(crate) use log::blocking;
pub use log::{Proposed, Replicator};
pub use reads::*;
pub use streams::*;
pub use tables::*;
pub use transactions::*;
pub use ttl::*;

use crate::error::{ApiError, ApiResult};

/// Number of lock stripes for item read-modify-write.
const LOCK_STRIPES: usize = 4096;

/// Server-wide settings the engine reports (ARNs, limits).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub region: String,
    pub account: String,
    /// How old a table's ItemCount/TableSizeBytes may get before DescribeTable starts a
    /// background recount (DynamoDB itself refreshes them about every six hours).
    pub stats_interval: Duration,
    /// Time between sweeps deleting expired items of tables with TTL enabled.
    pub ttl_sweep_interval: Duration,
    /// How long stream records are kept (DynamoDB: 24 hours).
    pub stream_retention: Duration,
    /// The span of one stream shard; new streams roll over to a new shard this often
    /// (DynamoDB: about every 4 hours).
    pub stream_shard_duration: Duration,
    /// The most bytes an item collection of a table with local indexes may hold (DynamoDB:
    /// 10 GB; lowered by tests).
    pub item_collection_limit: u64,
    /// Bytes of decoded items GetItem keeps in memory (0: no cache).
    pub item_cache_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            region: "us-east-1".into(),
            account: "000000000000".into(),
            stats_interval: Duration::from_secs(300),
            ttl_sweep_interval: Duration::from_secs(60),
            stream_retention: Duration::from_secs(24 * 3600),
            stream_shard_duration: Duration::from_secs(4 * 3600),
            item_collection_limit: 10 << 30,
            item_cache_bytes: 64 << 20,
        }
    }
}

/// An open table: its definition and its storage handle.
pub struct Table {
    pub def: TableDef,
    pub handle: Arc<TableHandle>,
}

/// The open tables by name. Readers take the map's read lock for a moment; a change (create,
/// delete, a new definition) first takes the change lock, which it holds until the change is
/// durable (replicated: committed by a quorum), and writes the map only to install the result,
/// so readers never wait on a disk or a network.
#[derive(Default)]
pub(crate) struct Catalog {
    map: RwLock<HashMap<String, Arc<Table>>>,
    change: Mutex<()>,
}

/// A catalog change in progress: holds the change lock; reads see the catalog as it is (no
/// one else changes it meanwhile); `insert`/`remove` install at once.
pub(crate) struct CatalogChange<'a> {
    _guard: std::sync::MutexGuard<'a, ()>,
    catalog: &'a Catalog,
    view: HashMap<String, Arc<Table>>,
}

impl Catalog {
    pub fn read(
        &self,
    ) -> std::sync::LockResult<std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Table>>>> {
        self.map.read()
    }

    /// Starts a change (the name mirrors `RwLock::write`, so callers read alike).
    pub fn write(&self) -> std::sync::LockResult<CatalogChange<'_>> {
        let guard = log::blocking(|| self.change.lock().unwrap_or_else(|p| p.into_inner()));
        let view = self.map.read().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(CatalogChange {
            _guard: guard,
            catalog: self,
            view,
        })
    }
}

impl CatalogChange<'_> {
    pub fn get(&self, name: &str) -> Option<&Arc<Table>> {
        self.view.get(name)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.view.contains_key(name)
    }

    pub fn insert(&mut self, name: String, table: Arc<Table>) {
        self.view.insert(name.clone(), table.clone());
        self.catalog
            .map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, table);
    }

    pub fn remove(&mut self, name: &str) {
        self.view.remove(name);
        self.catalog
            .map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// Replaces the whole catalog (a replica reloading what its log applied).
    pub fn replace(&mut self, all: HashMap<String, Arc<Table>>) {
        self.view = all.clone();
        *self.catalog.map.write().unwrap_or_else(|p| p.into_inner()) = all;
    }
}

pub struct Engine {
    /// Background work (index backfills and drops), stopped and joined when the engine goes.
    background: Background,
    store: Arc<Store>,
    config: EngineConfig,
    tables: Arc<Catalog>,
    /// Striped item locks, held from the read of a read-modify-write until its commit.
    /// Whoever holds several (index backfill) takes them in stripe order.
    locks: Arc<Vec<tokio::sync::Mutex<()>>>,
    /// Where changes go: this store, or the replicated log.
    log: Arc<log::Log>,
    /// Deleted tables whose streams are still readable (see `streams::Graveyard`).
    graveyard: Arc<streams::Graveyard>,
    /// Decoded items for GetItem (see `cache`).
    cache: Option<Arc<cache::ItemCache>>,
    /// How far each stream has been trimmed (see `streams::TrimMarks`).
    stream_trims: Arc<streams::TrimMarks>,
    /// ClientRequestTokens of recent write transactions.
    tokens: transactions::Tokens,
    /// ItemCount/TableSizeBytes per table id, recounted in the background when stale.
    stats: Arc<Mutex<HashMap<u32, tables::StatsEntry>>>,
}

impl Engine {
    /// Opens the engine over a store, loading the table catalog. Fails when the catalog cannot
    /// be read, e.g. because the master key does not unwrap the tables' data keys.
    pub fn new(store: Store, config: EngineConfig) -> Result<Engine, String> {
        let cache = Engine::item_cache(&config);
        Engine::open(Arc::new(store), config, None, cache)
    }

    /// Opens the engine of one replica: every change goes through `replicator`'s log, and
    /// background work runs only while this node leads (see [`Engine::leader_started`]).
    /// `cache` is the item cache the replica's state machine invalidates as it applies the
    /// log (see [`Engine::item_cache`]).
    pub(crate) fn new_replicated(
        store: Arc<Store>,
        config: EngineConfig,
        replicator: Arc<dyn Replicator>,
        cache: Option<Arc<cache::ItemCache>>,
    ) -> Result<Engine, String> {
        Engine::open(store, config, Some(replicator), cache)
    }

    /// The item cache an engine with `config` uses (`None`: off). A replica's is made before
    /// its engine: its state machine drops the keys each applied entry writes, on every
    /// replica, so writes decided elsewhere never leave a stale item behind.
    pub(crate) fn item_cache(config: &EngineConfig) -> Option<Arc<cache::ItemCache>> {
        cache::ItemCache::new(config.item_cache_bytes, LOCK_STRIPES)
    }

    fn open(
        store: Arc<Store>,
        config: EngineConfig,
        replicator: Option<Arc<dyn Replicator>>,
        cache: Option<Arc<cache::ItemCache>>,
    ) -> Result<Engine, String> {
        let log = match replicator {
            Some(r) => log::Log::Replicated(r),
            None => log::Log::Local {
                store: store.clone(),
                committer: commit::Committer::start(store.clone()),
            },
        };
        let engine = Engine {
            background: Background::default(),
            log: Arc::new(log),
            store,
            config,
            tables: Arc::default(),
            locks: Arc::new(
                (0..LOCK_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
            ),
            stats: Arc::default(),
            tokens: transactions::Tokens::default(),
            stream_trims: Arc::default(),
            cache,
            graveyard: Arc::default(),
        };
        engine.reload_catalog()?;
        if !engine.log.replicated() {
            // Data of tables deleted just before a stop (nothing writes yet: purge at once).
            for id in engine.store.pending_purges().map_err(|e| e.to_string())? {
                engine
                    .log
                    .catalog(tabula_storage::Mutation::PurgeTableData(id))
                    .map_err(|e| e.to_string())?;
            }
            engine.resume_backfills();
            engine.resume_index_drops();
        }
        engine.start_ttl_sweeper();
        Ok(engine)
    }

    /// A replica became the leader and has applied everything earlier leaders committed:
    /// it takes over the background work they may have left (purges of deleted tables,
    /// index backfills, removals of deleted indexes' entries).
    pub fn leader_started(&self) {
        if let Err(e) = self.reload_catalog() {
            tracing::error!(error = %e, "cannot reload the catalog");
        }
        match self.store.pending_purges() {
            Ok(ids) => {
                for id in ids {
                    if let Err(e) = self
                        .log
                        .catalog(tabula_storage::Mutation::PurgeTableData(id))
                    {
                        tracing::warn!(table_id = id, error = %e, "cannot purge a deleted table's data; retried when a leader next starts");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list deleted tables' data"),
        }
        self.resume_backfills();
        self.resume_index_drops();
    }

    /// Reloads the catalog from the store: a replica calls this after its log applied a
    /// catalog change proposed by another node.
    pub fn reload_catalog(&self) -> Result<(), String> {
        let mut change = self.tables.write().unwrap_or_else(|p| p.into_inner());
        let (tables, dead) = self.read_catalog()?;
        change.replace(tables);
        *self.graveyard.write().unwrap_or_else(|p| p.into_inner()) = dead;
        // How far each stream was trimmed (applied trims, also those before a restart or a
        // snapshot): iterators below are refused.
        for (stream, last) in self.store.trim_marks().map_err(|e| e.to_string())? {
            self.note_trimmed(&stream, last);
        }
        Ok(())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The tables and the deleted tables (with readable streams) the store holds.
    #[allow(clippy::type_complexity)]
    fn read_catalog(&self) -> Result<(HashMap<String, Arc<Table>>, Vec<Arc<Table>>), String> {
        let mut tables = HashMap::new();
        for record in self.store.list_tables().map_err(|e| e.to_string())? {
            let def = TableDef::decode(&record.definition, record.table_id)
                .map_err(|e| format!("table {}: {}", record.name, e.message))?;
            let handle = self
                .store
                .handle(&record)
                .map_err(|e| format!("table {}: {e}", record.name))?;
            tables.insert(record.name.clone(), Arc::new(Table { def, handle }));
        }
        let mut graveyard = Vec::new();
        for record in self.store.list_dead().map_err(|e| e.to_string())? {
            let def = TableDef::decode(&record.definition, record.table_id)
                .map_err(|e| format!("deleted table {}: {}", record.name, e.message))?;
            let handle = self
                .store
                .handle(&record)
                .map_err(|e| format!("deleted table {}: {e}", record.name))?;
            graveyard.push(Arc::new(Table { def, handle }));
        }
        Ok((tables, graveyard))
    }

    /// Every live table, as the catalog has them now.
    pub(crate) fn live_tables(&self) -> Vec<Arc<Table>> {
        self.tables
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub(crate) fn table(&self, name: &str) -> ApiResult<Arc<Table>> {
        self.tables
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::table_not_found(name))
    }

    /// Locks the stripe owning an item key for a read-modify-write, and returns the table's
    /// definition as it is now that the lock is held. Index changes install a new definition
    /// before they touch any item, so a write that holds the lock maintains every index the
    /// backfill may already have passed; a table deleted (or re-created) meanwhile is gone.
    async fn lock_item(
        &self,
        table: &Table,
        key: &[u8],
    ) -> ApiResult<(tokio::sync::MutexGuard<'_, ()>, Arc<Table>)> {
        let guard = self.locks[stripe(key)].lock().await;
        let current = self.table(&table.def.name)?;
        if current.handle.table_id != table.handle.table_id {
            return Err(ApiError::table_not_found(&table.def.name));
        }
        Ok((guard, current))
    }

    pub fn arn(&self, table: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{}",
            self.config.region, self.config.account, table
        )
    }
}

/// Threads doing background work for the engine. Dropping this asks them to stop and waits,
/// so a stopped engine leaves no thread holding the store (a restart on the same directory
/// would otherwise find the database still locked).
#[derive(Default)]
pub(crate) struct Background {
    pub stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Background {
    pub fn spawn(&self, name: &str, work: impl FnOnce() + Send + 'static) {
        match std::thread::Builder::new().name(name.into()).spawn(work) {
            Ok(t) => {
                let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
                threads.retain(|t| !t.is_finished());
                threads.push(t);
            }
            Err(e) => {
                tracing::error!(error = %e, thread = name, "cannot start a background thread; the work resumes at the next start")
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let threads = std::mem::take(self.threads.get_mut().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// What one item change writes, for one batch.
pub(crate) struct ItemChange {
    pub writes: Vec<tabula_storage::SealedWrite>,
    /// The item-collection counter and its delta (tables with local indexes); the caller
    /// checks it against the limit and adds the counter write.
    pub collection: Option<(Vec<u8>, i64)>,
    /// The write units the change costs each secondary index.
    pub index_units: indexes::IndexUnits,
}

/// Everything an item change from `old` to `new` writes besides its collection counter: the
/// item (or its deletion), its index entries and its stream record. Every item write (single
/// item, transaction, TTL delete) goes through here. `by_ttl` marks a TTL delete in the
/// stream.
pub(crate) fn item_change(
    store: &Store,
    table: &Table,
    skey: Vec<u8>,
    old: Option<&Item>,
    new: Option<&Item>,
    by_ttl: bool,
) -> tabula_storage::Result<ItemChange> {
    let mut writes = vec![store.prepare(&table.handle, skey, new)?];
    let (index_writes, index_units) = indexes::index_writes(store, table, old, new)?;
    writes.extend(index_writes);
    writes.extend(streams::stream_record(store, table, old, new, by_ttl)?);
    Ok(ItemChange {
        writes,
        collection: indexes::collection_change(table, old, new),
        index_units,
    })
}

/// The lock stripe of an item key.
fn stripe(key: &[u8]) -> usize {
    keyenc::fnv1a32(key) as usize % LOCK_STRIPES
}

/// The distinct stripes of several item keys, in ascending order: whoever holds more than
/// one item lock takes them in this order, so lock holders never wait on each other in a
/// cycle (single-item writes hold one at a time).
fn ordered_stripes<'k>(keys: impl IntoIterator<Item = &'k [u8]>) -> Vec<usize> {
    let mut stripes: Vec<usize> = keys.into_iter().map(stripe).collect();
    stripes.sort_unstable();
    stripes.dedup();
    stripes
}

/// Waits until every write that started before now has committed: takes and releases each
/// item lock in turn (from a plain thread). A writer holds its item's lock from reading the
/// table definition to its commit, so after a definition change plus this barrier, every
/// write in flight under the old definition is done.
fn write_barrier(locks: &[tokio::sync::Mutex<()>]) {
    for l in locks {
        drop(l.blocking_lock());
    }
}

/// Takes the locks of several items from a plain (non-async) thread: backfills, the TTL
/// sweeper.
fn lock_items_blocking<'l, 'k>(
    locks: &'l [tokio::sync::Mutex<()>],
    keys: impl IntoIterator<Item = &'k [u8]>,
) -> Vec<tokio::sync::MutexGuard<'l, ()>> {
    ordered_stripes(keys)
        .into_iter()
        .map(|s| locks[s].blocking_lock())
        .collect()
}

/// A validated primary key of one item.
#[derive(Clone, Debug)]
pub struct PrimaryKey {
    pub hash: AttributeValue,
    pub range: Option<AttributeValue>,
}

impl Table {
    pub fn storage_key(&self, key: &PrimaryKey) -> Vec<u8> {
        keyenc::item_key(self.handle.table_id, &key.hash, key.range.as_ref())
    }

    /// Extracts and validates a `Key` parameter: exactly the key attributes, right types.
    pub fn key_from_key_param(&self, key: &Item) -> ApiResult<PrimaryKey> {
        let ks = &self.def.key_schema;
        let expected = 1 + usize::from(ks.range.is_some());
        if key.len() != expected {
            return Err(ApiError::validation(
                "The provided key element does not match the schema",
            ));
        }
        let hash = key.get(&ks.hash).ok_or_else(|| {
            ApiError::validation("The provided key element does not match the schema")
        })?;
        let range = match &ks.range {
            Some(r) => Some(key.get(r).ok_or_else(|| {
                ApiError::validation("The provided key element does not match the schema")
            })?),
            None => None,
        };
        self.check_key_value(&ks.hash, hash, true, false)?;
        if let (Some(name), Some(v)) = (&ks.range, range) {
            self.check_key_value(name, v, false, false)?;
        }
        Ok(PrimaryKey {
            hash: hash.clone(),
            range: range.cloned(),
        })
    }

    /// Extracts and validates the key of a whole item (PutItem).
    pub fn key_from_item(&self, item: &Item) -> ApiResult<PrimaryKey> {
        let ks = &self.def.key_schema;
        let get = |name: &str| {
            item.get(name).ok_or_else(|| {
                ApiError::validation(format!(
                    "One or more parameter values were invalid: Missing the key {name} in the item"
                ))
            })
        };
        let hash = get(&ks.hash)?;
        self.check_key_value(&ks.hash, hash, true, true)?;
        let range = match &ks.range {
            Some(r) => {
                let v = get(r)?;
                self.check_key_value(r, v, false, true)?;
                Some(v.clone())
            }
            None => None,
        };
        Ok(PrimaryKey {
            hash: hash.clone(),
            range,
        })
    }

    fn check_key_value(
        &self,
        name: &str,
        v: &AttributeValue,
        is_hash: bool,
        in_item: bool,
    ) -> ApiResult<()> {
        let expected = self.def.attribute_type(name).unwrap_or(ScalarType::S);
        if v.scalar_type() != Some(expected) {
            if in_item {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for key {name} expected: {} actual: {}",
                    expected.as_str(),
                    v.type_name()
                )));
            }
            return Err(ApiError::validation(
                "The provided key element does not match the schema",
            ));
        }
        let len = match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::B(b) => b.len(),
            _ => 1,
        };
        check_key_not_empty(name, v)?;
        let limit = if is_hash {
            MAX_PARTITION_KEY_BYTES
        } else {
            MAX_SORT_KEY_BYTES
        };
        if len > limit {
            return Err(key_too_large(is_hash));
        }
        Ok(())
    }

    /// The key attributes of an item, as `LastEvaluatedKey` and friends carry them.
    pub fn key_attributes(&self, item: &Item) -> Item {
        let ks = &self.def.key_schema;
        let mut out = Item::new();
        for name in std::iter::once(&ks.hash).chain(ks.range.iter()) {
            if let Some(v) = item.get(name) {
                out.insert(name.clone(), v.clone());
            }
        }
        out
    }
}

/// Refuses an empty string or binary as the value of key attribute `name` (in an item, a key,
/// or a Query's key condition), in DynamoDB's words.
pub(crate) fn check_key_not_empty(name: &str, v: &AttributeValue) -> ApiResult<()> {
    let kind = match v {
        AttributeValue::S(s) if s.is_empty() => "string",
        AttributeValue::B(b) if b.is_empty() => "binary",
        _ => return Ok(()),
    };
    Err(ApiError::validation(format!(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {name}"
    )))
}

/// DynamoDB's answer to a key value over its size limit (2048 bytes for a partition key, 1024
/// for a sort key; the same for an index key). The missing space in "of2048" is DynamoDB's.
pub(crate) fn key_too_large(hash: bool) -> ApiError {
    ApiError::validation(if hash {
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
    } else {
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    })
}

/// DynamoDB's answer to a value nested deeper than it accepts: in a request (an item, an
/// expression attribute value, a condition's operand), and for an item to be stored.
pub const TOO_DEEP: &str = "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit";
/// DynamoDB's answer when an update's result would be nested too deep.
pub const UPDATE_TOO_DEEP: &str = "Nesting Levels have exceeded supported limits";

/// Refuses an update whose result `new` nests too deep in an attribute the update touched.
/// Attributes it left alone are not judged again: an item stored before the limit was
/// enforced exactly (one level deeper) stays updatable.
pub fn check_update_depth(new: &Item, update: &tabula_core::expr::UpdateExpr) -> ApiResult<()> {
    let too_deep = update.top_level_attrs().into_iter().any(|a| {
        new.get(&a)
            .is_some_and(|v| v.levels() > tabula_core::value::MAX_ITEM_LEVELS)
    });
    if too_deep {
        return Err(ApiError::validation(UPDATE_TOO_DEEP));
    }
    Ok(())
}

/// Refuses an item given whole (PutItem, a batch or transaction put) that nests deeper or
/// weighs more than DynamoDB allows.
pub fn check_new_item(item: &Item) -> ApiResult<()> {
    if tabula_core::value::item_too_deep(item) {
        return Err(ApiError::validation(TOO_DEEP));
    }
    check_size(item, "Item size has exceeded the maximum allowed size")
}

/// The size check for an update's result, in DynamoDB's words for that case (its depth is
/// `check_update_depth`'s).
pub fn check_update_size(item: &Item) -> ApiResult<()> {
    check_size(
        item,
        "Item size to update has exceeded the maximum allowed size",
    )
}

fn check_size(item: &Item, message: &str) -> ApiResult<()> {
    if tabula_core::value::item_size(item) > MAX_ITEM_SIZE {
        return Err(ApiError::validation(message));
    }
    Ok(())
}

/// Read capacity units for `bytes` read: 4 KB units, halved for eventually consistent reads.
pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write capacity units for an item of `bytes`: 1 KB units.
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// What `ReturnConsumedCapacity` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CapacityDetail {
    #[default]
    None,
    Total,
    Indexes,
}

/// Capacity one request consumed on one table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsumedCapacity {
    pub table: String,
    pub read_units: f64,
    pub write_units: f64,
    /// Units consumed on the table's secondary indexes: name → (global?, units).
    pub indexes: std::collections::BTreeMap<String, (bool, f64)>,
}

impl ConsumedCapacity {
    /// Adds another request's consumption on the same table.
    pub fn add(&mut self, other: &ConsumedCapacity) {
        self.read_units += other.read_units;
        self.write_units += other.write_units;
        for (name, (global, units)) in &other.indexes {
            self.indexes.entry(name.clone()).or_insert((*global, 0.0)).1 += units;
        }
    }

    /// The units on the table itself.
    pub fn table_units(&self) -> f64 {
        self.read_units + self.write_units
    }

    /// The table's and its indexes' units together (`CapacityUnits`).
    pub fn total(&self) -> f64 {
        self.table_units() + self.indexes.values().map(|(_, u)| u).sum::<f64>()
    }
}
