//! Query and Scan: range reads over the item key space with DynamoDB's paging rules — `Limit`
//! counts items evaluated and the 1 MB page limit applies to data read, both before the filter.

use tabula_core::expr::{Condition, KeyCondition, Projection, SortKeyCondition};
use tabula_core::keyenc::{self, prefix_end};
use tabula_core::{AttributeValue, Item};

use super::{ConsumedCapacity, Engine, Table, read_units};
use crate::error::{ApiError, ApiResult};

/// The 1 MB of data one Query or Scan page reads at most.
pub const PAGE_BYTES: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Select {
    #[default]
    AllAttributes,
    SpecificAttributes,
    Count,
}

pub struct QueryInput {
    pub table: String,
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

/// Key range `[start, end)` of a whole table.
pub(crate) fn table_range(table_id: u32) -> (Vec<u8>, Vec<u8>) {
    let start = keyenc::table_prefix(table_id);
    let end = prefix_end(&start).unwrap_or_else(|| vec![0xFF; 5]);
    (start, end)
}

/// Key range of the items whose sort key satisfies `cond`, within one partition.
fn sort_range(prefix: &[u8], cond: Option<&SortKeyCondition>) -> (Vec<u8>, Vec<u8>) {
    let with = |v: &AttributeValue| {
        let mut k = prefix.to_vec();
        keyenc::encode_scalar(&mut k, v);
        k
    };
    // The successor of an exact key: all item keys in a partition have the same shape, so
    // appending a zero byte gives the smallest key greater than `k`.
    let after = |mut k: Vec<u8>| {
        k.push(0);
        k
    };
    let start = prefix.to_vec();
    let end = prefix_end(prefix).unwrap_or_else(|| vec![0xFF; prefix.len() + 1]);
    match cond {
        None => (start, end),
        Some(SortKeyCondition::Eq(v)) => (with(v), after(with(v))),
        Some(SortKeyCondition::Lt(v)) => (start, with(v)),
        Some(SortKeyCondition::Le(v)) => (start, after(with(v))),
        Some(SortKeyCondition::Gt(v)) => (after(with(v)), end),
        Some(SortKeyCondition::Ge(v)) => (with(v), end),
        Some(SortKeyCondition::Between(a, b)) => (with(a), after(with(b))),
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
        let ks = &table.def.key_schema;
        let kc = &input.key_condition;
        let hash_type = table.def.attribute_type(&ks.hash);
        if kc.partition_value.scalar_type() != hash_type {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ));
        }
        if let Some(sort) = &kc.sort {
            let range_type = ks.range.as_ref().and_then(|r| table.def.attribute_type(r));
            let ok = match sort {
                SortKeyCondition::Between(a, b) => {
                    a.scalar_type() == range_type && b.scalar_type() == range_type
                }
                SortKeyCondition::Eq(v)
                | SortKeyCondition::Lt(v)
                | SortKeyCondition::Le(v)
                | SortKeyCondition::Gt(v)
                | SortKeyCondition::Ge(v)
                | SortKeyCondition::BeginsWith(v) => v.scalar_type() == range_type,
            };
            if !ok {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Condition parameter type does not match schema type",
                ));
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
        let prefix = keyenc::partition_prefix(table.handle.table_id, &kc.partition_value);
        let (mut start, mut end) = sort_range(&prefix, kc.sort.as_ref());
        if let Some(esk) = &input.exclusive_start_key {
            let invalid = || ApiError::validation("The provided starting key is invalid");
            let key = table.key_from_key_param(esk).map_err(|_| invalid())?;
            if key.hash != kc.partition_value {
                return Err(invalid());
            }
            let k = table.storage_key(&key);
            if input.forward {
                let mut after = k;
                after.push(0);
                start = start.max(after);
            } else {
                end = end.min(k);
            }
        }
        self.read_range(
            &table,
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
            },
        )
    }

    pub fn scan(&self, input: ScanInput) -> ApiResult<ReadPage> {
        let table = self.table(&input.table)?;
        let id = table.handle.table_id;
        let (mut start, mut end) = match input.segment {
            None => table_range(id),
            Some((segment, total)) => {
                let lo = (u64::from(segment) << 32) / u64::from(total);
                let hi = (u64::from(segment + 1) << 32) / u64::from(total);
                let mut s = keyenc::table_prefix(id);
                s.extend_from_slice(&(lo as u32).to_be_bytes());
                let e = if hi > u64::from(u32::MAX) {
                    table_range(id).1
                } else {
                    let mut e = keyenc::table_prefix(id);
                    e.extend_from_slice(&(hi as u32).to_be_bytes());
                    e
                };
                (s, e)
            }
        };
        if let Some(esk) = &input.exclusive_start_key {
            let key = table.key_from_key_param(esk).map_err(|_| {
                ApiError::validation("The provided starting key is invalid: The provided key element does not match the schema")
            })?;
            let mut k = table.storage_key(&key);
            if k < start || k >= end {
                return Err(ApiError::validation(
                    "The provided Exclusive start key does not map to the provided segment",
                ));
            }
            k.push(0);
            start = k;
            if start > end {
                end = start.clone();
            }
        }
        self.read_range(
            &table,
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
            },
        )
    }

    fn read_range(
        &self,
        table: &Table,
        start: Vec<u8>,
        end: Vec<u8>,
        forward: bool,
        opts: &ReadOptions<'_>,
    ) -> ApiResult<ReadPage> {
        let mut page = ReadPage::default();
        let mut bytes = 0usize;
        let mut last_item: Option<Item> = None;
        let mut stopped_early = false;
        let mut error = None;
        let range_name = table.def.key_schema.range.clone();
        self.store
            .scan(&table.handle, &start, &end, forward, |_, item| {
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
                last_item = Some(table.key_attributes(&item));
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
            })?;
        if let Some(e) = error {
            return Err(e);
        }
        // DynamoDB does not look ahead: a page that ended on the limit carries a
        // LastEvaluatedKey even when nothing follows.
        let hit_limit = opts.limit.is_some_and(|l| page.scanned_count >= l);
        if stopped_early || hit_limit || bytes >= PAGE_BYTES {
            page.last_evaluated_key = last_item;
        }
        page.consumed = ConsumedCapacity {
            table: table.def.name.clone(),
            read_units: read_units(bytes, opts.consistent),
            write_units: 0.0,
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
}

fn show_value(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) => format!("S:{s}"),
        AttributeValue::N(n) => format!("N:{n}"),
        AttributeValue::B(b) => format!("B:{}", hex::encode(b)),
        other => other.type_name().to_string(),
    }
}
