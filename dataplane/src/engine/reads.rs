//! Query and Scan: range reads over the item key space, or over one secondary index's entries,
//! with DynamoDB's paging rules — `Limit` counts items evaluated and the 1 MB page limit
//! applies to data read, both before the filter.

use tabula_core::expr::{Condition, KeyCondition, Projection, SortKeyCondition};
use tabula_core::keyenc::{self, prefix_end};
use tabula_core::{AttributeValue, Item};
use tabula_storage::Space;

use super::{
    ConsumedCapacity, Engine, IndexDef, IndexKind, KeySchema, ProjectionType, Table, read_units,
};
use crate::error::{ApiError, ApiResult};

/// The 1 MB of data one Query or Scan page reads at most.
pub const PAGE_BYTES: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Select {
    #[default]
    AllAttributes,
    /// What the index holds (the default for a read through an index).
    AllProjectedAttributes,
    SpecificAttributes,
    Count,
}

pub struct QueryInput {
    pub table: String,
    pub index: Option<String>,
    pub key_condition: KeyCondition,
    pub filter: Option<Condition>,
    pub projection: Option<Projection>,
    pub forward: bool,
    pub limit: Option<usize>,
    pub exclusive_start_key: Option<Item>,
    pub consistent: bool,
    pub select: Select,
}

pub struct ScanInput {
    pub table: String,
    pub index: Option<String>,
    pub filter: Option<Condition>,
    pub projection: Option<Projection>,
    pub limit: Option<usize>,
    pub exclusive_start_key: Option<Item>,
    pub consistent: bool,
    pub select: Select,
    /// (segment, total segments)
    pub segment: Option<(u32, u32)>,
}

#[derive(Debug, Default)]
pub struct ReadPage {
    pub items: Vec<Item>,
    pub count: usize,
    pub scanned_count: usize,
    pub last_evaluated_key: Option<Item>,
    pub consumed: ConsumedCapacity,
}

/// Key range `[start, end)` of every key starting with `prefix`.
pub(crate) fn prefix_range(prefix: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let end = prefix_end(&prefix).unwrap_or_else(|| vec![0xFF; prefix.len() + 1]);
    (prefix, end)
}

/// What a Query or Scan reads: the table's items, or the entries of one of its indexes.
struct Target<'a> {
    table: &'a Table,
    index: Option<&'a IndexDef>,
}

impl<'a> Target<'a> {
    /// Resolves `IndexName` and refuses what DynamoDB refuses on indexes.
    fn resolve(table: &'a Table, index: Option<&str>, consistent: bool) -> ApiResult<Target<'a>> {
        let index = match index {
            None => None,
            Some(name) => {
                let index = table.index(name)?;
                if index.kind == IndexKind::Global && consistent {
                    return Err(ApiError::validation(
                        "Consistent reads are not supported on global secondary indexes",
                    ));
                }
                if index.backfilling {
                    return Err(ApiError::validation(format!(
                        "Cannot read from backfilling global secondary index: {name}"
                    )));
                }
                Some(index)
            }
        };
        Ok(Target { table, index })
    }

    fn space(&self) -> Space {
        match self.index {
            None => Space::Items,
            Some(_) => Space::Index,
        }
    }

    fn key_schema(&self) -> &KeySchema {
        self.index
            .map(|i| &i.key_schema)
            .unwrap_or(&self.table.def.key_schema)
    }

    fn prefix(&self) -> Vec<u8> {
        let id = self.table.handle.table_id;
        match self.index {
            None => keyenc::table_prefix(id),
            Some(i) => keyenc::index_prefix(id, i.index_no),
        }
    }

    fn partition_prefix(&self, pk: &AttributeValue) -> Vec<u8> {
        let id = self.table.handle.table_id;
        match self.index {
            None => keyenc::partition_prefix(id, pk),
            Some(i) => keyenc::index_partition_prefix(id, i.index_no, pk),
        }
    }

    /// The storage key an `ExclusiveStartKey` names, checked against the schema: exactly the
    /// table key, plus the index key for a read through an index.
    fn start_key(&self, esk: &Item) -> Option<Vec<u8>> {
        let Some(index) = self.index else {
            let key = self.table.key_from_key_param(esk).ok()?;
            return Some(self.table.storage_key(&key));
        };
        let def = &self.table.def;
        let mut names: Vec<&String> = std::iter::once(&def.key_schema.hash)
            .chain(def.key_schema.range.iter())
            .collect();
        for n in std::iter::once(&index.key_schema.hash).chain(index.key_schema.range.iter()) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        if esk.len() != names.len() {
            return None;
        }
        for n in names {
            let v = esk.get(n)?;
            if v.scalar_type()? != def.attribute_type(n)? {
                return None;
            }
        }
        self.table.index_entry_key(index, esk)
    }

    /// The attributes of `LastEvaluatedKey` for an item read through this target.
    fn last_key(&self, item: &Item) -> Item {
        match self.index {
            None => self.table.key_attributes(item),
            Some(i) => self.table.index_key_attributes(i, item),
        }
    }

    /// Whether the read must fetch each item from the table because the request needs
    /// attributes the index does not hold. Only a local index can (DynamoDB fetches them
    /// from the table in the same partition); on a global index asking for attributes it
    /// does not project is an error, and so is a Query filter on unprojected attributes.
    fn needs_fetch(
        &self,
        select: Select,
        projection: Option<&Projection>,
        filter: Option<&Condition>,
        is_query: bool,
    ) -> ApiResult<bool> {
        let Some(index) = self.index else {
            return Ok(false);
        };
        if index.projection.kind == ProjectionType::All {
            return Ok(false);
        }
        let outside = |attrs: Vec<String>| -> Vec<String> {
            attrs
                .into_iter()
                .filter(|a| !self.table.projects(index, a))
                .collect()
        };
        let global = index.kind == IndexKind::Global;
        if global && select == Select::AllAttributes {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                index.name
            )));
        }
        let projected_out = projection
            .map(|p| outside(p.top_level_attrs()))
            .unwrap_or_default();
        if global && !projected_out.is_empty() {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Global secondary index {} does not project [{}]",
                index.name,
                projected_out.join(", ")
            )));
        }
        let filtered_out = filter
            .map(|f| outside(f.top_level_attrs()))
            .unwrap_or_default();
        if is_query && !filtered_out.is_empty() {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Secondary index {} does not project one or more filter attributes: [{}]",
                index.name,
                filtered_out.join(", ")
            )));
        }
        Ok(!global
            && (select == Select::AllAttributes
                || !projected_out.is_empty()
                || !filtered_out.is_empty()))
    }
}

/// Key range of the items whose sort key satisfies `cond`, within one partition.
fn sort_range(prefix: &[u8], cond: Option<&SortKeyCondition>) -> (Vec<u8>, Vec<u8>) {
    let with = |v: &AttributeValue| {
        let mut k = prefix.to_vec();
        keyenc::encode_scalar(&mut k, v);
        k
    };
    let start = prefix.to_vec();
    let end = prefix_end(prefix).unwrap_or_else(|| vec![0xFF; prefix.len() + 1]);
    // Past every key that starts with `k`. Key encodings are self-delimiting, so on a table
    // that is just past the item with sort key `v`, and on an index past every entry with
    // index sort key `v` (entries append the table key after it).
    let past = |k: Vec<u8>| prefix_end(&k).unwrap_or_else(|| end.clone());
    match cond {
        None => (start, end),
        Some(SortKeyCondition::Eq(v)) => (with(v), past(with(v))),
        Some(SortKeyCondition::Lt(v)) => (start, with(v)),
        Some(SortKeyCondition::Le(v)) => (start, past(with(v))),
        Some(SortKeyCondition::Gt(v)) => (past(with(v)), end),
        Some(SortKeyCondition::Ge(v)) => (with(v), end),
        Some(SortKeyCondition::Between(a, b)) => (with(a), past(with(b))),
        Some(SortKeyCondition::BeginsWith(v)) => {
            let mut p = prefix.to_vec();
            p.extend(keyenc::begins_with_prefix(v).unwrap_or_default());
            let e = prefix_end(&p).unwrap_or(end);
            (p, e)
        }
    }
}

impl Engine {
    pub fn query(&self, input: QueryInput) -> ApiResult<ReadPage> {
        let table = self.table(&input.table)?;
        let target = Target::resolve(&table, input.index.as_deref(), input.consistent)?;
        let ks = target.key_schema();
        let kc = &input.key_condition;
        let hash_type = table.def.attribute_type(&ks.hash);
        if kc.partition_value.scalar_type() != hash_type {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ));
        }
        super::check_key_not_empty(&ks.hash, &kc.partition_value)?;
        if let Some(sort) = &kc.sort {
            let range_type = ks.range.as_ref().and_then(|r| table.def.attribute_type(r));
            if !sort.values().iter().all(|v| v.scalar_type() == range_type) {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Condition parameter type does not match schema type",
                ));
            }
            if let Some(range) = &ks.range {
                for v in sort.values() {
                    super::check_key_not_empty(range, v)?;
                }
            }
            if let SortKeyCondition::Between(a, b) = sort
                && keyenc::scalar_sort_bytes(a) > keyenc::scalar_sort_bytes(b)
            {
                return Err(ApiError::validation(format!(
                    "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {{{}}}, upper bound operand: AttributeValue: {{{}}}",
                    show_value(a),
                    show_value(b)
                )));
            }
            if matches!(sort, SortKeyCondition::BeginsWith(AttributeValue::N(_))) {
                return Err(ApiError::validation(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                ));
            }
        }
        let prefix = target.partition_prefix(&kc.partition_value);
        let (mut start, mut end) = sort_range(&prefix, kc.sort.as_ref());
        if let Some(esk) = &input.exclusive_start_key {
            let invalid = || ApiError::validation("The provided starting key is invalid");
            let k = target.start_key(esk).ok_or_else(invalid)?;
            // A start key must lie inside what the key condition selects.
            if esk.get(&ks.hash) != Some(&kc.partition_value) {
                return Err(ApiError::validation(
                    "The provided starting key is outside query boundaries based on provided conditions",
                ));
            }
            if let (Some(sort), Some(range)) = (&kc.sort, &ks.range)
                && !esk.get(range).is_some_and(|v| sort.matches(v))
            {
                return Err(ApiError::validation(
                    "The provided starting key does not match the range key predicate",
                ));
            }
            if input.forward {
                let mut after = k;
                after.push(0);
                start = start.max(after);
            } else {
                end = end.min(k);
            }
        }
        let fetch = target.needs_fetch(
            input.select,
            input.projection.as_ref(),
            input.filter.as_ref(),
            true,
        )?;
        self.read_range(
            &target,
            start,
            end,
            input.forward,
            &ReadOptions {
                filter: input.filter.as_ref(),
                projection: input.projection.as_ref(),
                limit: input.limit,
                consistent: input.consistent,
                select: input.select,
                check: kc.sort.as_ref(),
                fetch,
            },
        )
    }

    pub fn scan(&self, input: ScanInput) -> ApiResult<ReadPage> {
        let table = self.table(&input.table)?;
        let target = Target::resolve(&table, input.index.as_deref(), input.consistent)?;
        let prefix = target.prefix();
        let (mut start, mut end) = match input.segment {
            None => prefix_range(prefix),
            Some((segment, total)) => {
                let lo = (u64::from(segment) << 32) / u64::from(total);
                let hi = (u64::from(segment + 1) << 32) / u64::from(total);
                let mut s = prefix.clone();
                s.extend_from_slice(&(lo as u32).to_be_bytes());
                let e = if hi > u64::from(u32::MAX) {
                    prefix_range(prefix).1
                } else {
                    let mut e = prefix;
                    e.extend_from_slice(&(hi as u32).to_be_bytes());
                    e
                };
                (s, e)
            }
        };
        if let Some(esk) = &input.exclusive_start_key {
            let mut k = target.start_key(esk).ok_or_else(|| {
                ApiError::validation("The provided starting key is invalid: The provided key element does not match the schema")
            })?;
            if k < start || k >= end {
                let (segment, total) = input.segment.unwrap_or((0, 1));
                return Err(ApiError::validation(format!(
                    "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: {total} Segment: {segment}"
                )));
            }
            k.push(0);
            start = k;
            if start > end {
                end = start.clone();
            }
        }
        let fetch = target.needs_fetch(
            input.select,
            input.projection.as_ref(),
            input.filter.as_ref(),
            false,
        )?;
        self.read_range(
            &target,
            start,
            end,
            true,
            &ReadOptions {
                filter: input.filter.as_ref(),
                projection: input.projection.as_ref(),
                limit: input.limit,
                consistent: input.consistent,
                select: input.select,
                check: None,
                fetch,
            },
        )
    }

    fn read_range(
        &self,
        target: &Target<'_>,
        start: Vec<u8>,
        end: Vec<u8>,
        forward: bool,
        opts: &ReadOptions<'_>,
    ) -> ApiResult<ReadPage> {
        let mut page = ReadPage::default();
        let mut bytes = 0usize;
        // Bytes a local-index read fetched from the table.
        let mut fetched = 0usize;
        // The key of the last item evaluated (the LastEvaluatedKey if the page ends there). An
        // item that goes into the page whole leaves it `None`: its key is taken from the page
        // at the end, if needed, instead of from every item.
        let mut last_item: Option<Item> = None;
        let mut stopped_early = false;
        let mut error = None;
        let table = target.table;
        let range_name = target.key_schema().range.clone();
        self.store.scan_in(
            target.space(),
            &table.handle,
            &start,
            &end,
            forward,
            |_, item| {
                if let (Some(check), Some(name)) = (opts.check, &range_name)
                    && !item.get(name).is_some_and(|v| check.matches(v))
                {
                    return Ok(true);
                }
                if page.scanned_count >= opts.limit.unwrap_or(usize::MAX) || bytes >= PAGE_BYTES {
                    stopped_early = true;
                    return Ok(false);
                }
                bytes += tabula_core::value::item_size(&item);
                let last = opts.fetch.then(|| target.last_key(&item));
                // A local index read that needs attributes the index lacks reads the item
                // from the table (the entry and the item are written in one batch, so the
                // item exists unless it was deleted after the iterator's snapshot).
                let item = if opts.fetch {
                    let key = table.key_attributes(&item);
                    let Ok(pk) = table.key_from_key_param(&key) else {
                        return Ok(true);
                    };
                    match self.store.get(&table.handle, &table.storage_key(&pk))? {
                        Some(full) => {
                            fetched += tabula_core::value::item_size(&full);
                            full
                        }
                        None => return Ok(true),
                    }
                } else {
                    item
                };
                page.scanned_count += 1;
                let keep = match opts.filter {
                    Some(f) => match f.evaluate(&item) {
                        Ok(k) => k,
                        Err(e) => {
                            error = Some(ApiError::validation(e.message));
                            return Ok(false);
                        }
                    },
                    None => true,
                };
                let whole = keep && opts.select != Select::Count && opts.projection.is_none();
                last_item = match last {
                    Some(key) => Some(key),
                    None if whole => None,
                    None => Some(target.last_key(&item)),
                };
                if keep {
                    page.count += 1;
                    if opts.select != Select::Count {
                        page.items.push(match opts.projection {
                            Some(p) => p.apply(&item),
                            None => item,
                        });
                    }
                }
                Ok(true)
            },
        )?;
        if let Some(e) = error {
            return Err(e);
        }
        // DynamoDB does not look ahead: a page that ended on the limit carries a
        // LastEvaluatedKey even when nothing follows.
        let hit_limit = opts.limit.is_some_and(|l| page.scanned_count >= l);
        if stopped_early || hit_limit || bytes >= PAGE_BYTES {
            page.last_evaluated_key =
                last_item.or_else(|| page.items.last().map(|i| target.last_key(i)));
        }
        // Read through an index, the index pays for what was read there and the table for
        // what a local index fetched from it.
        page.consumed = match target.index {
            None => ConsumedCapacity {
                table: table.def.name.clone(),
                read_units: read_units(bytes, opts.consistent),
                ..ConsumedCapacity::default()
            },
            Some(index) => ConsumedCapacity {
                table: table.def.name.clone(),
                read_units: if fetched > 0 {
                    read_units(fetched, opts.consistent)
                } else {
                    0.0
                },
                write_units: 0.0,
                indexes: [(
                    index.name.clone(),
                    (
                        index.kind == IndexKind::Global,
                        read_units(bytes, opts.consistent),
                    ),
                )]
                .into_iter()
                .collect(),
            },
        };
        Ok(page)
    }
}

struct ReadOptions<'a> {
    filter: Option<&'a Condition>,
    projection: Option<&'a Projection>,
    limit: Option<usize>,
    consistent: bool,
    select: Select,
    check: Option<&'a SortKeyCondition>,
    /// Read each item from the table (a local index read needing unprojected attributes).
    fetch: bool,
}

fn show_value(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) => format!("S:{s}"),
        AttributeValue::N(n) => format!("N:{n}"),
        AttributeValue::B(b) => format!("B:{}", hex::encode(b)),
        other => other.type_name().to_string(),
    }
}
