//! Table lifecycle: CreateTable, DeleteTable, DescribeTable, ListTables, UpdateTable and tags.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tabula_core::ScalarType;
use tabula_storage::{Space, StorageError, Store, TableHandle};

use super::{Engine, IndexDef, IndexKind, IndexUpdate, StreamDef, StreamViewType, Table};
use crate::error::{ApiError, ApiResult, ErrorKind};

/// Version of the engine's table-definition record.
const TABLE_DEF_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeySchema {
    pub hash: String,
    pub range: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Throughput {
    pub read: u64,
    pub write: u64,
}

/// Everything the engine persists about a table (JSON, versioned, inside the storage catalog).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableDef {
    pub version: u32,
    pub name: String,
    #[serde(skip)]
    pub table_id: u32,
    pub table_uuid: String,
    pub key_schema: KeySchema,
    /// Attribute name → "S" | "N" | "B".
    pub attribute_definitions: Vec<(String, String)>,
    pub billing_mode: BillingMode,
    pub throughput: Throughput,
    pub created_ms: u64,
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub last_increase_ms: Option<u64>,
    #[serde(default)]
    pub last_decrease_ms: Option<u64>,
    #[serde(default)]
    pub decreases_today: u64,
    #[serde(default)]
    pub billing_mode_changed_ms: Option<u64>,
    /// Global and local secondary indexes, in the order DescribeTable lists them.
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
    /// The `index_no` the next index gets (numbers are never reused within a table).
    #[serde(default)]
    pub next_index_no: u16,
    /// The attribute holding each item's expiry (epoch seconds) while TTL is enabled.
    #[serde(default)]
    pub ttl_attribute: Option<String>,
    /// The table's streams, oldest first; the last one is current unless disabled.
    #[serde(default)]
    pub streams: Vec<StreamDef>,
    #[serde(default)]
    pub next_stream_no: u16,
}

impl TableDef {
    pub fn attribute_type(&self, name: &str) -> Option<ScalarType> {
        self.attribute_definitions
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, t)| ScalarType::parse(t))
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn decode(bytes: &[u8], table_id: u32) -> ApiResult<TableDef> {
        let mut def: TableDef = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::internal(format!("corrupt table definition: {e}")))?;
        if def.version != TABLE_DEF_VERSION {
            return Err(ApiError::internal(format!(
                "table definition version {} is not supported by this build",
                def.version
            )));
        }
        def.table_id = table_id;
        Ok(def)
    }
}

pub struct CreateTableInput {
    pub name: String,
    pub key_schema: KeySchema,
    pub attribute_definitions: Vec<(String, String)>,
    pub billing_mode: BillingMode,
    pub throughput: Option<Throughput>,
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
    /// Validated by the protocol layer; `index_no` is assigned here.
    pub indexes: Vec<IndexDef>,
    /// The view type of the table's stream, if it has one.
    pub stream: Option<StreamViewType>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableStatus {
    Creating,
    Active,
    Updating,
    Deleting,
}

impl TableStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TableStatus::Creating => "CREATING",
            TableStatus::Active => "ACTIVE",
            TableStatus::Updating => "UPDATING",
            TableStatus::Deleting => "DELETING",
        }
    }
}

/// DescribeTable's answer, before rendering.
pub struct TableDescription {
    pub def: TableDef,
    pub status: TableStatus,
    pub arn: String,
    pub item_count: u64,
    pub size_bytes: u64,
    /// ItemCount and IndexSizeBytes per `index_no`, counted with the table's.
    pub index_counts: BTreeMap<u16, (u64, u64)>,
    /// The index this UpdateTable deleted, shown once more as DELETING.
    pub deleted_index: Option<IndexDef>,
}

#[derive(Default)]
pub struct UpdateTableInput {
    pub name: String,
    pub billing_mode: Option<BillingMode>,
    pub throughput: Option<Throughput>,
    pub deletion_protection: Option<bool>,
    pub attribute_definitions: Option<Vec<(String, String)>>,
    pub index_updates: Vec<IndexUpdate>,
    /// `Some(Some(view))` enables a stream, `Some(None)` disables it.
    pub stream: Option<Option<StreamViewType>>,
}

/// The last count of a table's items and bytes.
#[derive(Default)]
pub(crate) struct StatsEntry {
    items: u64,
    bytes: u64,
    indexes: BTreeMap<u16, (u64, u64)>,
    counted: Option<Instant>,
    counting: bool,
}

type Counts = (u64, u64, BTreeMap<u16, (u64, u64)>);

/// Counts a table's items and bytes, and each index's entries and bytes.
fn count_items(
    store: &Store,
    handle: &TableHandle,
    indexes: &[u16],
    stop: &std::sync::atomic::AtomicBool,
) -> tabula_storage::Result<Counts> {
    let count = |space, prefix: Vec<u8>| -> tabula_storage::Result<(u64, u64)> {
        let (start, end) = super::reads::prefix_range(prefix);
        let (mut count, mut size) = (0u64, 0u64);
        store.scan_in(space, handle, &start, &end, true, |_, item| {
            count += 1;
            size += tabula_core::value::item_size(&item) as u64;
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(tabula_storage::StorageError::Corrupt(
                    "count stopped: the engine is stopping".into(),
                ));
            }
            Ok(true)
        })?;
        Ok((count, size))
    };
    let (items, bytes) = count(
        Space::Items,
        tabula_core::keyenc::table_prefix(handle.table_id),
    )?;
    let mut per_index = BTreeMap::new();
    for no in indexes {
        per_index.insert(
            *no,
            count(
                Space::Index,
                tabula_core::keyenc::index_prefix(handle.table_id, *no),
            )?,
        );
    }
    Ok((items, bytes, per_index))
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn random_uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

impl Engine {
    pub fn create_table(&self, input: CreateTableInput) -> ApiResult<TableDescription> {
        let mut indexes = input.indexes;
        for (i, index) in indexes.iter_mut().enumerate() {
            index.index_no = i as u16 + 1;
            index.backfilling = false;
        }
        let def = TableDef {
            version: TABLE_DEF_VERSION,
            name: input.name.clone(),
            table_id: 0,
            table_uuid: random_uuid(),
            key_schema: input.key_schema,
            attribute_definitions: input.attribute_definitions,
            billing_mode: input.billing_mode,
            throughput: input.throughput.unwrap_or_default(),
            created_ms: now_ms(),
            deletion_protection: input.deletion_protection,
            tags: input.tags,
            last_increase_ms: None,
            last_decrease_ms: None,
            decreases_today: 0,
            billing_mode_changed_ms: None,
            next_index_no: indexes.len() as u16 + 1,
            indexes,
            ttl_attribute: None,
            streams: Vec::new(),
            next_stream_no: 1,
        };
        let mut def = def;
        if let Some(view) = input.stream {
            self.add_stream(&mut def, view)?;
        }
        let def = def;
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        if tables.contains_key(&input.name) {
            return Err(table_in_use(&input.name));
        }
        let record = self.store.new_table_record(&input.name, def.encode())?;
        match self
            .log
            .catalog(tabula_storage::Mutation::CreateTable(record.clone()))
        {
            Ok(()) => {}
            Err(StorageError::TableExists(_)) => return Err(table_in_use(&input.name)),
            Err(e) => return Err(e.into()),
        }
        let handle = self.store.handle(&record)?;
        let mut def = def;
        def.table_id = record.table_id;
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).insert(
            record.table_id,
            StatsEntry {
                counted: Some(Instant::now()),
                ..StatsEntry::default()
            },
        );
        tables.insert(
            input.name.clone(),
            Arc::new(Table {
                def: def.clone(),
                handle,
            }),
        );
        Ok(TableDescription {
            arn: self.arn(&def.name),
            def,
            status: TableStatus::Creating,
            item_count: 0,
            size_bytes: 0,
            index_counts: BTreeMap::new(),
            deleted_index: None,
        })
    }

    /// Starts a new stream on `def`.
    fn add_stream(&self, def: &mut TableDef, view: StreamViewType) -> ApiResult<()> {
        let created_ms = now_ms();
        let no = def.next_stream_no.max(1);
        def.next_stream_no = no.checked_add(1).ok_or_else(|| {
            ApiError::new(
                ErrorKind::LimitExceeded,
                "Subscriber limit exceeded: this table has used up its stream numbers; re-create the table to enable a stream",
            )
        })?;
        def.streams.push(StreamDef {
            stream_no: no,
            label: super::stream_label(created_ms),
            view_type: view,
            created_ms,
            disabled_ms: None,
            disabled_seq: None,
            shard_micros: (self.config.stream_shard_duration.as_micros() as u64).max(1_000),
        });
        Ok(())
    }

    /// A copy of a table's definition.
    pub fn table_definition(&self, name: &str) -> ApiResult<TableDef> {
        Ok(self.table(name)?.def.clone())
    }

    /// The key schema a Query reads by: the table's, or the named index's (the protocol
    /// needs it to check key conditions and filters).
    pub fn describe_key_schema(&self, name: &str, index: Option<&str>) -> ApiResult<KeySchema> {
        let table = self.table(name)?;
        match index {
            None => Ok(table.def.key_schema.clone()),
            Some(i) => Ok(table.index(i)?.key_schema.clone()),
        }
    }

    pub fn describe_table(&self, name: &str) -> ApiResult<TableDescription> {
        let table = self.table(name).map_err(|_| describe_not_found(name))?;
        let (item_count, size_bytes, index_counts) = self.table_stats(&table);
        Ok(TableDescription {
            def: table.def.clone(),
            status: TableStatus::Active,
            arn: self.arn(name),
            item_count,
            size_bytes,
            index_counts,
            deleted_index: None,
        })
    }

    /// ItemCount and TableSizeBytes as last counted. Like DynamoDB's (refreshed about every
    /// six hours) they are approximate: a figure older than `stats_interval` starts a recount
    /// on a background thread and is answered as it is, so DescribeTable never scans a table
    /// inline and never holds the table map while counting.
    fn table_stats(&self, table: &Table) -> Counts {
        let id = table.handle.table_id;
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let entry = stats.entry(id).or_default();
        let answer = (entry.items, entry.bytes, entry.indexes.clone());
        let stale = entry
            .counted
            .is_none_or(|t| t.elapsed() >= self.config.stats_interval);
        if !stale || entry.counting {
            return answer;
        }
        entry.counting = true;
        drop(stats);
        let store = self.store.clone();
        let handle = table.handle.clone();
        let shared = self.stats.clone();
        let indexes: Vec<u16> = table.def.indexes.iter().map(|i| i.index_no).collect();
        let stop = self.background.stop.clone();
        // A background thread the engine joins when it stops (the count stops early then).
        self.background.spawn("tabula-stats", move || {
            {
                let counted = count_items(&store, &handle, &indexes, &stop);
                let mut stats = shared.lock().unwrap_or_else(|p| p.into_inner());
                // The table may have been deleted meanwhile: then its entry is gone and stays so.
                if let Some(e) = stats.get_mut(&id) {
                    e.counting = false;
                    match counted {
                        Ok((items, bytes, indexes)) => {
                            e.items = items;
                            e.bytes = bytes;
                            e.indexes = indexes;
                            e.counted = Some(Instant::now());
                        }
                        Err(err) => {
                            tracing::warn!(table_id = id, error = %err, "table recount failed")
                        }
                    }
                }
            }
        });
        answer
    }

    pub fn delete_table(&self, name: &str) -> ApiResult<TableDescription> {
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        let table = tables
            .get(name)
            .cloned()
            .ok_or_else(|| describe_not_found(name))?;
        if table.def.deletion_protection {
            return Err(ApiError::validation(format!(
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first. (Table: {})",
                self.arn(name)
            )));
        }
        let (item_count, size_bytes, index_counts) = self.table_stats(&table);
        // A table with streams leaves them readable (DISABLED) for their retention period.
        let table_id = if table.def.streams.is_empty() {
            self.log.catalog(tabula_storage::Mutation::DropTable {
                name: name.to_string(),
                tombstone: None,
            })?;
            table.handle.table_id
        } else {
            let mut def = table.def.clone();
            if let Some(s) = def.streams.last_mut().filter(|s| s.disabled_ms.is_none()) {
                s.disabled_ms = Some(now_ms());
                s.disabled_seq = Some(self.store.stream_clock().saturating_sub(1));
            }
            self.log.catalog(tabula_storage::Mutation::DropTable {
                name: name.to_string(),
                tombstone: Some(def.encode()),
            })?;
            let id = table.handle.table_id;
            self.graveyard
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .push(Arc::new(Table {
                    def,
                    handle: table.handle.clone(),
                }));
            id
        };
        // Its cached items can never be asked for again (table ids are not reused): free them.
        if let Some(cache) = &self.cache {
            cache.clear();
        }
        // The items and index entries go once no write to the table can be in flight
        // (writes re-check the table under their item lock; the barrier waits for those that
        // passed before it was removed).
        let log = self.log.clone();
        let locks = self.locks.clone();
        self.background.spawn("tabula-purge", move || {
            super::write_barrier(&locks);
            if let Err(e) = log.catalog(tabula_storage::Mutation::PurgeTableData(table_id)) {
                tracing::warn!(table_id, error = %e, "cannot purge a deleted table's data; retried at the next start");
            }
        });
        tables.remove(name);
        self.stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&table.handle.table_id);
        Ok(TableDescription {
            def: table.def.clone(),
            status: TableStatus::Deleting,
            arn: self.arn(name),
            item_count,
            size_bytes,
            index_counts,
            deleted_index: None,
        })
    }

    /// Table names in order, starting after `exclusive_start`; the second value is the last
    /// name returned when more remain.
    pub fn list_tables(
        &self,
        exclusive_start: Option<&str>,
        limit: usize,
    ) -> (Vec<String>, Option<String>) {
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<&String> = tables.keys().collect();
        names.sort();
        let rest: Vec<String> = names
            .into_iter()
            .filter(|n| exclusive_start.is_none_or(|s| n.as_str() > s))
            .cloned()
            .collect();
        if rest.len() > limit {
            let page: Vec<String> = rest[..limit].to_vec();
            let last = page.last().cloned();
            (page, last)
        } else {
            (rest, None)
        }
    }

    pub fn update_table(&self, input: UpdateTableInput) -> ApiResult<TableDescription> {
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        let table = tables
            .get(&input.name)
            .cloned()
            .ok_or_else(|| describe_not_found(&input.name))?;
        let mut def = table.def.clone();
        let mut changed = false;
        // DynamoDB wants the throughput with every PROVISIONED, a switch or a re-send; a
        // PAY_PER_REQUEST re-sent is accepted and changes nothing.
        if input.billing_mode == Some(BillingMode::Provisioned) && input.throughput.is_none() {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
            ));
        }
        let switched = input.billing_mode.is_some_and(|m| m != def.billing_mode);
        if let Some(mode) = input.billing_mode
            && switched
        {
            def.billing_mode = mode;
            def.billing_mode_changed_ms = Some(now_ms());
            if mode == BillingMode::PayPerRequest {
                def.throughput = Throughput::default();
            }
            changed = true;
        }
        if let Some(tp) = input.throughput {
            if def.billing_mode == BillingMode::PayPerRequest {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            if tp != def.throughput {
                if tp.read > def.throughput.read || tp.write > def.throughput.write {
                    def.last_increase_ms = Some(now_ms());
                }
                if tp.read < def.throughput.read || tp.write < def.throughput.write {
                    def.last_decrease_ms = Some(now_ms());
                    def.decreases_today += 1;
                }
                def.throughput = tp;
                changed = true;
            } else if !switched {
                return Err(ApiError::validation(format!(
                    "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {}. Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                    def.throughput.read, tp.read, def.throughput.write, tp.write
                )));
            }
        }
        if let Some(p) = input.deletion_protection
            && p != def.deletion_protection
        {
            def.deletion_protection = p;
            changed = true;
        }
        let mut backfill = None;
        let mut deleted_index = None;
        match input.stream {
            None => {}
            Some(Some(view)) => {
                if super::current_stream_of(&def).is_some() {
                    return Err(ApiError::validation(format!(
                        "Table already has an enabled stream: TableName: {}",
                        def.name
                    )));
                }
                self.add_stream(&mut def, view)?;
                changed = true;
            }
            Some(None) => {
                let name = def.name.clone();
                let Some(s) = def.streams.last_mut().filter(|s| s.disabled_ms.is_none()) else {
                    return Err(ApiError::validation(format!(
                        "Table has no stream to disable: TableName: {name}"
                    )));
                };
                s.disabled_ms = Some(now_ms());
                // Its shards close now: records numbered from here on are not the stream's.
                s.disabled_seq = Some(self.store.stream_clock().saturating_sub(1));
                changed = true;
            }
        }
        for update in input.index_updates {
            match update {
                IndexUpdate::Create(index) => {
                    backfill = Some(create_index(
                        &mut def,
                        index,
                        input.attribute_definitions.as_deref().unwrap_or_default(),
                    )?);
                }
                IndexUpdate::Delete(name) => {
                    deleted_index = Some(delete_index(&mut def, &name)?);
                }
                IndexUpdate::Update { name, throughput } => {
                    update_index(&mut def, &name, throughput)?;
                }
            }
            changed = true;
        }
        if !changed && input.deletion_protection.is_none() && input.billing_mode.is_none() {
            return Err(ApiError::validation(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required",
            ));
        }
        if changed {
            self.log
                .catalog(tabula_storage::Mutation::UpdateDefinition {
                    name: input.name.clone(),
                    definition: def.encode(),
                })?;
            let installed = Arc::new(Table {
                def: def.clone(),
                handle: table.handle.clone(),
            });
            tables.insert(input.name.clone(), installed.clone());
            // The new definition is installed before the backfill touches an item, so every
            // write from now on maintains the new index (see `Engine::lock_item`).
            if let Some(index_no) = backfill {
                self.start_backfill(&installed, index_no);
            }
            if let Some(d) = &deleted_index {
                self.drop_index_later(table.handle.table_id, d.index_no);
            }
        }
        drop(tables);
        let (item_count, size_bytes, index_counts) = self.table_stats(&table);
        Ok(TableDescription {
            arn: self.arn(&input.name),
            def,
            status: if changed {
                TableStatus::Updating
            } else {
                TableStatus::Active
            },
            item_count,
            size_bytes,
            index_counts,
            deleted_index,
        })
    }

    /// Finds the table a DynamoDB ARN names (TagResource & co.).
    fn table_by_arn(&self, arn: &str) -> ApiResult<Arc<Table>> {
        let prefix = format!(
            "arn:aws:dynamodb:{}:{}:table/",
            self.config.region, self.config.account
        );
        let name = arn.strip_prefix(&prefix).ok_or_else(|| {
            if arn.starts_with("arn:") {
                ApiError::not_found(format!(
                    "Requested resource not found: ResourcArn: {arn} not found"
                ))
            } else {
                ApiError::validation(format!(
                    "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
                ))
            }
        })?;
        self.table(name).map_err(|_| {
            ApiError::not_found(format!(
                "Requested resource not found: ResourcArn: {arn} not found"
            ))
        })
    }

    pub fn tag_resource(&self, arn: &str, tags: BTreeMap<String, String>) -> ApiResult<()> {
        self.modify_tags(arn, |t| {
            t.extend(tags);
            if t.len() > 50 {
                return Err(ApiError::new(
                    ErrorKind::LimitExceeded,
                    "Too many tags: a table can have at most 50 tags",
                ));
            }
            Ok(())
        })
    }

    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        self.modify_tags(arn, |t| {
            for k in keys {
                t.remove(k);
            }
            Ok(())
        })
    }

    fn modify_tags(
        &self,
        arn: &str,
        f: impl FnOnce(&mut BTreeMap<String, String>) -> ApiResult<()>,
    ) -> ApiResult<()> {
        let table = self.table_by_arn(arn)?;
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        let mut def = table.def.clone();
        f(&mut def.tags)?;
        self.log
            .catalog(tabula_storage::Mutation::UpdateDefinition {
                name: def.name.clone(),
                definition: def.encode(),
            })?;
        tables.insert(
            def.name.clone(),
            Arc::new(Table {
                def,
                handle: table.handle.clone(),
            }),
        );
        Ok(())
    }

    pub fn list_tags(&self, arn: &str) -> ApiResult<BTreeMap<String, String>> {
        Ok(self.table_by_arn(arn)?.def.tags.clone())
    }
}

/// Adds a global index to `def` (backfilling); returns its `index_no`.
fn create_index(
    def: &mut TableDef,
    mut index: IndexDef,
    attribute_definitions: &[(String, String)],
) -> ApiResult<u16> {
    if let Some(existing) = def.indexes.iter().find(|i| i.name == index.name) {
        return Err(if existing.backfilling {
            ApiError::new(
                ErrorKind::ResourceInUse,
                "Attempt to change a resource which is still in use: Index is being created.",
            )
        } else {
            ApiError::validation("Attempting to create an index which already exists")
        });
    }
    if def
        .indexes
        .iter()
        .filter(|i| i.kind == IndexKind::Global)
        .count()
        >= MAX_GSIS
    {
        return Err(ApiError::new(
            ErrorKind::LimitExceeded,
            format!(
                "Subscriber limit exceeded: The number of global secondary indexes per table cannot exceed {MAX_GSIS}"
            ),
        ));
    }
    // A Create comes with AttributeDefinitions (DynamoDB refuses one without); a key attribute
    // the table already defines may be left out of them.
    if attribute_definitions.is_empty() {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: AttributeDefinitions is not specified for index: {}",
            index.name
        )));
    }
    let ks = &index.key_schema;
    for key in std::iter::once(&ks.hash).chain(ks.range.iter()) {
        let given = attribute_definitions.iter().find(|(n, _)| n == key);
        match (def.attribute_type(key), given) {
            (Some(t), Some((_, g))) if t.as_str() != g => {
                return Err(ApiError::validation(
                    "invalid attribute, SchemaElement redefined should be of same type as previously defined",
                ));
            }
            (Some(_), _) => {}
            (None, Some((n, t))) => def.attribute_definitions.push((n.clone(), t.clone())),
            (None, None) => {
                let names: Vec<&str> = attribute_definitions
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect();
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                    std::iter::once(ks.hash.as_str())
                        .chain(ks.range.as_deref())
                        .collect::<Vec<_>>()
                        .join(", "),
                    names.join(", ")
                )));
            }
        }
    }
    def.attribute_definitions.sort();
    index.index_no = def.next_index_no.max(1);
    // Index numbers are never reused; the last one is reserved for the collection counters.
    if index.index_no == tabula_core::keyenc::COLLECTION_COUNTERS {
        return Err(ApiError::new(
            ErrorKind::LimitExceeded,
            "Subscriber limit exceeded: this table has used up its index numbers; re-create the table to add indexes",
        ));
    }
    index.backfilling = true;
    def.next_index_no = index.index_no + 1;
    let no = index.index_no;
    def.indexes.push(index);
    Ok(no)
}

/// Removes a global index from `def`, with the attribute definitions only it used.
fn delete_index(def: &mut TableDef, name: &str) -> ApiResult<IndexDef> {
    refuse_local_index(def, name, "delete")?;
    let pos = def
        .indexes
        .iter()
        .position(|i| i.name == name && i.kind == IndexKind::Global)
        .ok_or_else(|| ApiError::not_found("Requested resource not found"))?;
    let index = def.indexes.remove(pos);
    let used = |n: &str| {
        let ks = &def.key_schema;
        ks.hash == n
            || ks.range.as_deref() == Some(n)
            || def
                .indexes
                .iter()
                .any(|i| i.key_schema.hash == n || i.key_schema.range.as_deref() == Some(n))
    };
    let kept: Vec<(String, String)> = def
        .attribute_definitions
        .iter()
        .filter(|(n, _)| used(n))
        .cloned()
        .collect();
    def.attribute_definitions = kept;
    Ok(index)
}

/// Changes a global index's provisioned throughput.
fn update_index(def: &mut TableDef, name: &str, throughput: Throughput) -> ApiResult<()> {
    refuse_local_index(def, name, "update")?;
    let on_demand = def.billing_mode == BillingMode::PayPerRequest;
    let index = def
        .indexes
        .iter_mut()
        .find(|i| i.name == name && i.kind == IndexKind::Global)
        .ok_or_else(|| ApiError::not_found("Requested resource not found"))?;
    if on_demand {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
        )));
    }
    index.throughput = Some(throughput);
    Ok(())
}

/// GlobalSecondaryIndexUpdates act on global indexes only; naming a local one is an error of
/// its own (`action`: "delete" or "update").
fn refuse_local_index(def: &TableDef, name: &str, action: &str) -> ApiResult<()> {
    if def
        .indexes
        .iter()
        .any(|i| i.name == name && i.kind == IndexKind::Local)
    {
        return Err(ApiError::validation(format!(
            "Cannot {action} an index that is not a GlobalSecondaryIndex: {name}"
        )));
    }
    Ok(())
}

/// Global secondary indexes a table may have.
pub const MAX_GSIS: usize = 20;

fn table_in_use(name: &str) -> ApiError {
    ApiError::new(
        ErrorKind::ResourceInUse,
        format!("Table already exists: {name}"),
    )
}

fn describe_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "Requested resource not found: Table: {name} not found"
    ))
}
