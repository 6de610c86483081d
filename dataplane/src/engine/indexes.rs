//! Secondary indexes: their definitions, the entries an item write adds and removes, and the
//! key space a read through an index covers.
//!
//! An index entry is keyed `table_id | index_no | index key | table key` (see
//! `keyenc::index_entry_key`) and holds the item's projection, sealed like an item. Every
//! item write computes the entries to remove (the old item's) and to add (the new item's) and
//! commits them in the same batch as the item, so an index never disagrees with its table,
//! also across a crash. Items lacking an index key attribute have no entry (sparse indexes).

use serde::{Deserialize, Serialize};
use tabula_core::value::{MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES};
use tabula_core::{AttributeValue, Item, keyenc};
use tabula_storage::{SealedWrite, Space};

use std::sync::Arc;

use super::{Engine, KeySchema, Table, Throughput};
use crate::error::{ApiError, ApiResult};

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum IndexKind {
    Global,
    Local,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ProjectionType {
    All,
    KeysOnly,
    Include,
}

impl ProjectionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectionType::All => "ALL",
            ProjectionType::KeysOnly => "KEYS_ONLY",
            ProjectionType::Include => "INCLUDE",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexProjection {
    pub kind: ProjectionType,
    /// The attributes an INCLUDE projection copies besides the keys.
    #[serde(default)]
    pub non_key: Vec<String>,
}

/// One secondary index as the table definition persists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub kind: IndexKind,
    /// Names the index's key space; never reused within a table, so entries of a deleted
    /// index can never be mistaken for a new one's.
    pub index_no: u16,
    pub key_schema: KeySchema,
    pub projection: IndexProjection,
    /// A global index's own provisioned throughput (PROVISIONED tables only).
    #[serde(default)]
    pub throughput: Option<Throughput>,
    /// True while a global index added by UpdateTable is being filled from the table.
    #[serde(default)]
    pub backfilling: bool,
}

impl IndexDef {
    /// The index key of an item, or `None` when the item lacks one of its attributes (then
    /// the item has no entry in this index).
    fn key_of<'a>(
        &self,
        item: &'a Item,
    ) -> Option<(&'a AttributeValue, Option<&'a AttributeValue>)> {
        let hash = item.get(&self.key_schema.hash)?;
        let range = match &self.key_schema.range {
            Some(r) => Some(item.get(r)?),
            None => None,
        };
        Some((hash, range))
    }

    fn key_names(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.key_schema.hash).chain(self.key_schema.range.iter())
    }
}

impl Table {
    /// The named index, or DynamoDB's error for a Query/Scan naming an index the table lacks.
    pub fn index(&self, name: &str) -> ApiResult<&IndexDef> {
        self.def
            .indexes
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "The table does not have the specified index: {name}"
                ))
            })
    }

    /// Whether `attr` is copied into `index`: the table's keys, the index's keys, and for
    /// INCLUDE the listed attributes (for ALL, everything).
    pub fn projects(&self, index: &IndexDef, attr: &str) -> bool {
        let ks = &self.def.key_schema;
        if attr == ks.hash || ks.range.as_deref() == Some(attr) {
            return true;
        }
        if index.key_names().any(|k| k == attr) {
            return true;
        }
        match index.projection.kind {
            ProjectionType::All => true,
            ProjectionType::KeysOnly => false,
            ProjectionType::Include => index.projection.non_key.iter().any(|a| a == attr),
        }
    }

    /// The part of an item an index entry holds.
    fn project(&self, index: &IndexDef, item: &Item) -> Item {
        if index.projection.kind == ProjectionType::All {
            return item.clone();
        }
        item.iter()
            .filter(|(name, _)| self.projects(index, name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The storage key of an item's entry in `index`, if it has one. `item` always carries
    /// the table key (every stored item does).
    pub(crate) fn index_entry_key(&self, index: &IndexDef, item: &Item) -> Option<Vec<u8>> {
        let (ih, ir) = index.key_of(item)?;
        // An item whose index key has another type, or is empty, is not in the index (writes
        // refuse such items, but an index added later meets the items already there).
        let fits = |name: &str, v: &AttributeValue| {
            v.scalar_type().is_some()
                && v.scalar_type() == self.def.attribute_type(name)
                && !matches!(v, AttributeValue::S(s) if s.is_empty())
                && !matches!(v, AttributeValue::B(b) if b.is_empty())
        };
        if !fits(&index.key_schema.hash, ih)
            || index
                .key_schema
                .range
                .as_deref()
                .zip(ir)
                .is_some_and(|(n, v)| !fits(n, v))
        {
            return None;
        }
        let ks = &self.def.key_schema;
        let th = item.get(&ks.hash)?;
        let tr = match &ks.range {
            Some(r) => Some(item.get(r)?),
            None => None,
        };
        Some(keyenc::index_entry_key(
            self.handle.table_id,
            index.index_no,
            (ih, ir),
            (th, tr),
        ))
    }

    /// The attributes `LastEvaluatedKey` carries for a read through `index`: the table key
    /// and the index key.
    pub fn index_key_attributes(&self, index: &IndexDef, item: &Item) -> Item {
        let mut out = self.key_attributes(item);
        for name in index.key_names() {
            if let Some(v) = item.get(name) {
                out.insert(name.clone(), v.clone());
            }
        }
        out
    }

    /// Refuses an item whose index key attributes have the wrong type or an empty or
    /// oversized value, as DynamoDB does before writing anything. `by_update` words the
    /// empty-value error as UpdateItem does.
    pub fn check_index_keys(&self, item: &Item, by_update: bool) -> ApiResult<()> {
        let ks = &self.def.key_schema;
        for index in &self.def.indexes {
            for (pos, name) in index.key_names().enumerate() {
                if *name == ks.hash || ks.range.as_ref() == Some(name) {
                    continue; // checked as a table key
                }
                let Some(v) = item.get(name) else { continue };
                let expected = self.def.attribute_type(name);
                if v.scalar_type() != expected {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values were invalid: Type mismatch for Index Key {name} Expected: {} Actual: {} IndexName: {}",
                        expected.map(|t| t.as_str()).unwrap_or("S"),
                        v.type_name(),
                        index.name
                    )));
                }
                let len = match v {
                    AttributeValue::S(s) => s.len(),
                    AttributeValue::B(b) => b.len(),
                    _ => 1,
                };
                if len == 0 && by_update {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty {} value.",
                        if matches!(v, AttributeValue::S(_)) {
                            "string"
                        } else {
                            "binary"
                        }
                    )));
                }
                if len == 0 {
                    return Err(ApiError::validation(format!(
                        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {} value. IndexName: {}, IndexKey: {name}",
                        if matches!(v, AttributeValue::S(_)) {
                            "string"
                        } else {
                            "binary"
                        },
                        index.name
                    )));
                }
                let limit = if pos == 0 {
                    MAX_PARTITION_KEY_BYTES
                } else {
                    MAX_SORT_KEY_BYTES
                };
                if len > limit {
                    return Err(super::key_too_large(pos == 0));
                }
            }
        }
        Ok(())
    }
}

impl Table {
    /// Whether the table has a local index (then DynamoDB keeps its item collections under
    /// 10 GB and reports their size).
    pub(crate) fn has_local_indexes(&self) -> bool {
        self.def.indexes.iter().any(|i| i.kind == IndexKind::Local)
    }

    /// The key of the size counter of the item collection `item` belongs to.
    fn collection_key(&self, item: &Item) -> Option<Vec<u8>> {
        let pk = item.get(&self.def.key_schema.hash)?;
        Some(keyenc::index_partition_prefix(
            self.handle.table_id,
            keyenc::COLLECTION_COUNTERS,
            pk,
        ))
    }

    /// Bytes an item adds to its item collection: itself and its local-index entries.
    fn collection_bytes(&self, item: &Item) -> i64 {
        let mut n = tabula_core::value::item_size(item) as i64;
        for i in self
            .def
            .indexes
            .iter()
            .filter(|i| i.kind == IndexKind::Local)
        {
            if self.index_entry_key(i, item).is_some() {
                n += tabula_core::value::item_size(&self.project(i, item)) as i64;
            }
        }
        n
    }
}

/// The collection counter and the change in bytes an item change makes to it (tables with
/// local indexes only; `None` when nothing changes).
pub(crate) fn collection_change(
    table: &Table,
    old: Option<&Item>,
    new: Option<&Item>,
) -> Option<(Vec<u8>, i64)> {
    if !table.has_local_indexes() {
        return None;
    }
    let key = new.or(old).and_then(|i| table.collection_key(i))?;
    let delta = new.map(|i| table.collection_bytes(i)).unwrap_or(0)
        - old.map(|i| table.collection_bytes(i)).unwrap_or(0);
    (delta != 0).then_some((key, delta))
}

/// The counter write for `delta`, refused when the collection (with `pending` bytes more from
/// earlier changes of the same request) would pass `limit`.
pub(crate) fn collection_checked(
    store: &tabula_storage::Store,
    key: Vec<u8>,
    delta: i64,
    pending: i64,
    limit: u64,
) -> ApiResult<SealedWrite> {
    if delta > 0
        && store
            .counter(&key)?
            .saturating_add(pending)
            .saturating_add(delta)
            > limit as i64
    {
        return Err(ApiError::new(
            crate::error::ErrorKind::ItemCollectionSizeLimitExceeded,
            "Item collection size limit exceeded: an item collection of a table with local secondary indexes is limited to 10 GB",
        ));
    }
    Ok(store.counter_delta(key, delta))
}

/// What `ItemCollectionMetrics` reports: the partition key, and the collection's size as a
/// range of gigabytes.
pub struct CollectionMetrics {
    pub key: Item,
    pub size_gb: (f64, f64),
}

impl Engine {
    /// ItemCollectionMetrics for the item collection `item` (an item or a key) belongs to:
    /// its items plus their local-index entries, as the collection's counter has them. `None`
    /// unless the table has a local index (DynamoDB reports item collections only then).
    pub fn item_collection_metrics(
        &self,
        table: &str,
        item: &Item,
    ) -> ApiResult<Option<CollectionMetrics>> {
        let table = self.table(table)?;
        let locals: Vec<&IndexDef> = table
            .def
            .indexes
            .iter()
            .filter(|i| i.kind == IndexKind::Local)
            .collect();
        let hash = &table.def.key_schema.hash;
        let (false, Some(pk)) = (locals.is_empty(), item.get(hash)) else {
            return Ok(None);
        };
        let key = table.collection_key(item).unwrap_or_default();
        let bytes = self.store.counter(&key)?.max(0) as u64;
        let low = (bytes as f64 / f64::from(1u32 << 30)).floor();
        Ok(Some(CollectionMetrics {
            key: Item::from([(hash.clone(), pk.clone())]),
            size_gb: (low, low + 1.0),
        }))
    }
}

/// Write units per secondary index: name → (global?, units).
pub(crate) type IndexUnits = std::collections::BTreeMap<String, (bool, f64)>;

/// The index entries to remove and to write when an item changes from `old` to `new`
/// (`None` meaning absent), and the write units that costs each index as DynamoDB counts
/// them: an entry added or removed costs its projection's units, a moved entry both, a
/// rewritten entry the larger, an unchanged one nothing (and is not written). Indexes that
/// cost nothing are left out of the units.
pub(crate) fn index_writes(
    store: &tabula_storage::Store,
    table: &Table,
    old: Option<&Item>,
    new: Option<&Item>,
) -> tabula_storage::Result<(Vec<SealedWrite>, IndexUnits)> {
    let mut out = Vec::new();
    let mut units = IndexUnits::new();
    let cost = |item: &Item| super::write_units(tabula_core::value::item_size(item));
    for index in &table.def.indexes {
        let old_key = old.and_then(|i| table.index_entry_key(index, i));
        let new_key = new.and_then(|i| table.index_entry_key(index, i));
        let old_p = old
            .filter(|_| old_key.is_some())
            .map(|i| table.project(index, i));
        let new_p = new
            .filter(|_| new_key.is_some())
            .map(|i| table.project(index, i));
        let same_key = old_key.is_some() && old_key == new_key;
        let units_here = match (&old_p, &new_p) {
            (Some(o), Some(n)) if same_key && o == n => 0.0,
            (Some(o), Some(n)) if same_key => cost(o).max(cost(n)),
            _ => old_p.as_ref().map(cost).unwrap_or(0.0) + new_p.as_ref().map(cost).unwrap_or(0.0),
        };
        if units_here == 0.0 {
            continue; // no entry, or an unchanged one
        }
        units.insert(
            index.name.clone(),
            (index.kind == IndexKind::Global, units_here),
        );
        if let Some(o) = old_key
            && !same_key
        {
            out.push(store.prepare_in(Space::Index, &table.handle, o, None)?);
        }
        if let (Some(n), Some(projected)) = (new_key, new_p) {
            out.push(store.prepare_in(Space::Index, &table.handle, n, Some(&projected))?);
        }
    }
    Ok((out, units))
}

/// One entry of UpdateTable's `GlobalSecondaryIndexUpdates`.
pub enum IndexUpdate {
    /// A new global index (validated by the protocol layer, `index_no` assigned here), with
    /// the attribute definitions the request gave for its keys.
    Create(IndexDef),
    Delete(String),
    Update {
        name: String,
        throughput: Throughput,
    },
}

/// Entries one backfill step writes under one set of locks.
const BACKFILL_CHUNK: usize = 128;

/// What a backfill needs, detached from the engine so it can run on its own thread.
pub(crate) struct Backfill {
    pub store: std::sync::Arc<tabula_storage::Store>,
    pub log: std::sync::Arc<super::log::Log>,
    pub tables: std::sync::Arc<super::Catalog>,
    pub locks: std::sync::Arc<Vec<tokio::sync::Mutex<()>>>,
    pub table: String,
    pub table_id: u32,
    pub index_no: u16,
    pub stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Backfill {
    /// The table as it is now, if it is still the same table and the index is still
    /// being backfilled (it may have been deleted meanwhile: then the backfill stops).
    fn current(&self) -> Option<std::sync::Arc<Table>> {
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        let t = tables.get(&self.table)?;
        (t.handle.table_id == self.table_id
            && t.def
                .indexes
                .iter()
                .any(|i| i.index_no == self.index_no && i.backfilling))
        .then(|| t.clone())
    }

    /// Writes the index entry of every item, a chunk at a time: the chunk's item locks are
    /// taken in stripe order, each item is read again under its lock and its entry written
    /// in one batch. A concurrent write holds the same lock and, because the index was
    /// installed first, maintains the entry itself; so the index ends exactly right. Then
    /// the index turns ACTIVE. Entry writes are idempotent, so a backfill cut short by a
    /// crash simply runs again at the next start.
    pub fn run(self) {
        // Writes that read the definition before the index was installed finish first;
        // every later write maintains the index itself.
        super::write_barrier(&self.locks);
        let (mut cursor, end) = super::reads::prefix_range(keyenc::table_prefix(self.table_id));
        loop {
            if self.stop.load(std::sync::atomic::Ordering::Relaxed) {
                tracing::info!(table = %self.table, "index backfill paused by shutdown; it resumes at the next start");
                return;
            }
            let Some(table) = self.current() else {
                tracing::info!(table = %self.table, "index backfill stopped: index or table gone");
                return;
            };
            let Some(index) = table
                .def
                .indexes
                .iter()
                .find(|i| i.index_no == self.index_no)
            else {
                return;
            };
            let mut keys = Vec::new();
            let scanned = self.store.scan(&table.handle, &cursor, &end, true, |k, _| {
                keys.push(k.to_vec());
                Ok(keys.len() < BACKFILL_CHUNK)
            });
            if let Err(e) = scanned {
                tracing::error!(table = %self.table, error = %e, "index backfill cannot read the table; it resumes at the next start");
                return;
            }
            let Some(last) = keys.last() else { break };
            cursor = last.clone();
            cursor.push(0);
            let guards = super::lock_items_blocking(&self.locks, keys.iter().map(Vec::as_slice));
            // The table or the index may have gone while the locks were awaited.
            if self.current().is_none() {
                return;
            }
            let result = (|| -> tabula_storage::Result<()> {
                let mut writes = Vec::new();
                for k in keys {
                    let Some(item) = self.store.get(&table.handle, &k)? else {
                        continue;
                    };
                    if let Some(ek) = table.index_entry_key(index, &item) {
                        let projected = table.project(index, &item);
                        writes.push(self.store.prepare_in(
                            Space::Index,
                            &table.handle,
                            ek,
                            Some(&projected),
                        )?);
                    }
                }
                self.log.write_blocking(writes)
            })();
            drop(guards);
            if let Err(e) = result {
                tracing::error!(table = %self.table, error = %e, "index backfill failed; it resumes at the next start");
                return;
            }
        }
        // Done: the index becomes ACTIVE, unless it was deleted in the meantime.
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        let Some(table) = tables.get(&self.table).cloned() else {
            return;
        };
        if table.handle.table_id != self.table_id {
            return;
        }
        let mut def = table.def.clone();
        let Some(index) = def.indexes.iter_mut().find(|i| i.index_no == self.index_no) else {
            return;
        };
        index.backfilling = false;
        let name = index.name.clone();
        let m = tabula_storage::Mutation::UpdateDefinition {
            name: def.name.clone(),
            definition: def.encode(),
        };
        if let Err(e) = self.log.catalog(m) {
            tracing::error!(table = %self.table, error = %e, "cannot record the finished backfill; it runs again at the next start");
            return;
        }
        tables.insert(
            def.name.clone(),
            std::sync::Arc::new(Table {
                def,
                handle: table.handle.clone(),
            }),
        );
        tracing::info!(table = %self.table, index = %name, "index backfill finished: index ACTIVE");
    }
}

impl Engine {
    pub(crate) fn start_backfill(&self, table: &Table, index_no: u16) {
        let job = Backfill {
            store: self.store.clone(),
            log: self.log.clone(),
            tables: self.tables.clone(),
            locks: self.locks.clone(),
            table: table.def.name.clone(),
            table_id: table.handle.table_id,
            index_no,
            stop: self.background.stop.clone(),
        };
        self.background.spawn("tabula-backfill", move || job.run());
    }

    /// Restarts the backfills a previous run left unfinished.
    pub(crate) fn resume_backfills(&self) {
        for t in self.live_tables() {
            for i in t.def.indexes.iter().filter(|i| i.backfilling) {
                self.start_backfill(&t, i.index_no);
            }
        }
    }

    /// Removes the entries of indexes deleted before a stop or a change of leader whose
    /// removal (`drop_index_later`) never ran: numbers a table has entries under that none
    /// of its indexes has any more. Numbers are never reused, so nothing reads them; called
    /// when no write of an older definition can still be running (a single node's start, a
    /// new leader that applied everything earlier leaders committed).
    pub(crate) fn resume_index_drops(&self) {
        for t in self.live_tables() {
            let table_id = t.handle.table_id;
            let numbers = match self.store.index_numbers(table_id) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(table = %t.def.name, error = %e, "cannot list index entries");
                    continue;
                }
            };
            let orphans = numbers.into_iter().filter(|no| {
                *no < t.def.next_index_no
                    && *no != keyenc::COLLECTION_COUNTERS
                    && !t.def.indexes.iter().any(|i| i.index_no == *no)
            });
            for no in orphans {
                tracing::info!(table = %t.def.name, index_no = no, "removing the entries of a deleted index");
                drop_index_entries(&self.log, table_id, no);
            }
        }
    }

    /// Removes a deleted index's entries in the background, after a grace period that lets
    /// writes which read the old definition finish (their entries would otherwise outlive
    /// the range delete; under a retired index number they are never read either way).
    pub(crate) fn drop_index_later(&self, table_id: u32, index_no: u16) {
        let log = self.log.clone();
        let locks = self.locks.clone();
        self.background.spawn("tabula-drop-index", move || {
            // Writes that still maintain the index (they read the definition before it was
            // removed) finish first, so none writes an entry after the range delete.
            super::write_barrier(&locks);
            drop_index_entries(&log, table_id, index_no);
        });
    }
}

/// Removes every entry of index `index_no` of table `table_id` (a range delete through the
/// log); a failure is logged, and the next takeover's `resume_index_drops` tries again.
fn drop_index_entries(log: &super::log::Log, table_id: u32, index_no: u16) {
    let prefix = keyenc::index_prefix(table_id, index_no);
    if let Err(e) = log.catalog(tabula_storage::Mutation::DropIndexEntries(prefix)) {
        tracing::warn!(error = %e, "cannot remove a deleted index's entries");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Operation, dispatch};

    async fn call(engine: &Engine, op: Operation, body: serde_json::Value) -> serde_json::Value {
        dispatch(engine, op, body.to_string().as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{op:?}: {e}"))
            .into_value()
    }

    fn gsi(name: &str, attr: &str) -> serde_json::Value {
        serde_json::json!({
            "IndexName": name,
            "KeySchema": [{"AttributeName": attr, "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        })
    }

    /// The entries of an index whose deletion was committed but whose removal never ran (a
    /// stop or a change of leader in between) are removed when the engine next takes over;
    /// the entries of the index that stays are kept.
    #[tokio::test]
    async fn a_deleted_indexs_leftover_entries_are_removed_on_takeover() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = tabula_storage::Store::open(
            dir.path(),
            tabula_storage::MasterKey::from_bytes(&[5; 32]),
        )
        .expect("open");
        let engine = Engine::new(store, super::super::EngineConfig::default()).expect("engine");
        call(
            &engine,
            Operation::CreateTable,
            serde_json::json!({
                "TableName": "tbl",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "a", "AttributeType": "S"},
                    {"AttributeName": "b", "AttributeType": "S"},
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [gsi("by_a", "a"), gsi("by_b", "b")],
            }),
        )
        .await;
        for i in 0..20 {
            call(
                &engine,
                Operation::PutItem,
                serde_json::json!({"TableName": "tbl", "Item": {
                    "pk": {"S": format!("k{i}")}, "a": {"S": "x"}, "b": {"S": "y"},
                }}),
            )
            .await;
        }
        let t = engine.table("tbl").expect("table");
        let no = |name: &str| {
            t.def
                .indexes
                .iter()
                .find(|i| i.name == name)
                .expect("index")
                .index_no
        };
        let (ga, gb) = (no("by_a"), no("by_b"));
        let table_id = t.handle.table_id;
        assert_eq!(
            engine.store.index_numbers(table_id).expect("list"),
            [ga, gb]
        );
        // What a stop right after UpdateTable deleted `ga` leaves: the definition without
        // it is committed, its entries are still there.
        let mut def = t.def.clone();
        def.indexes.retain(|i| i.index_no != ga);
        engine
            .log
            .catalog(tabula_storage::Mutation::UpdateDefinition {
                name: "tbl".into(),
                definition: def.encode(),
            })
            .expect("update");
        engine.reload_catalog().expect("reload");
        assert_eq!(
            engine.store.index_numbers(table_id).expect("list"),
            [ga, gb]
        );
        engine.resume_index_drops();
        assert_eq!(engine.store.index_numbers(table_id).expect("list"), [gb]);
        let found = call(
            &engine,
            Operation::Query,
            serde_json::json!({
                "TableName": "tbl", "IndexName": "by_b",
                "KeyConditionExpression": "b = :b",
                "ExpressionAttributeValues": {":b": {"S": "y"}},
            }),
        )
        .await;
        assert_eq!(found["Count"], 20);
        // Nothing else is taken for a leftover.
        engine.resume_index_drops();
        assert_eq!(engine.store.index_numbers(table_id).expect("list"), [gb]);
    }
}
