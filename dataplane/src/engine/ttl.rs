//! Time to live: UpdateTimeToLive / DescribeTimeToLive, and the sweeper that deletes items
//! whose expiry has passed (the same background thread also trims stream records past their
//! retention).
//!
//! The expiry is a Number attribute holding epoch seconds. As in DynamoDB, an item is deleted
//! only when that value is in the past but not more than five years in the past (older values
//! are taken for a mistake and ignored); items whose attribute is missing or not a Number are
//! never deleted; expired items stay readable until the sweeper reaches them, so readers that
//! care filter on the attribute.
//!
//! The sweeper walks each TTL table a chunk at a time; for every candidate it takes the
//! item's lock, reads the item again and deletes it (with its index entries, in one batch)
//! only if it is still expired, so a concurrent write that extends the expiry always wins.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tabula_core::{AttributeValue, Item, keyenc};
use tabula_storage::{SealedWrite, Store};

use super::{Engine, Table};
use crate::error::{ApiError, ApiResult};

/// Items the sweeper examines per step (and per lock set).
const SWEEP_CHUNK: usize = 256;
/// Expiries further in the past than this are ignored, as DynamoDB does.
const MAX_PAST_SECS: i64 = 5 * 365 * 24 * 3600;

/// DescribeTimeToLive's answer: the attribute while TTL is enabled.
pub struct TimeToLive {
    pub attribute: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::not_found("Cannot do operations on a non-existent table")
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether `item` has expired under the TTL attribute `attr` at `now` (epoch seconds).
pub fn expired(item: &Item, attr: &str, now: i64) -> bool {
    let Some(AttributeValue::N(n)) = item.get(attr) else {
        return false;
    };
    let Some(secs) = whole_seconds(n) else {
        return false;
    };
    secs <= now && secs >= now - MAX_PAST_SECS
}

/// A number of seconds truncated to whole seconds; `None` beyond i64 (such values are far in
/// the future or the past, and never expire).
fn whole_seconds(n: &tabula_core::Number) -> Option<i64> {
    if let Some(v) = n.to_i64() {
        return Some(v);
    }
    let e = n.exponent();
    if e < 0 {
        return Some(0);
    }
    if e > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for idx in 0..=e as usize {
        let d = n.digits().get(idx).copied().unwrap_or(0);
        v = v.checked_mul(10)?.checked_add(i64::from(d))?;
    }
    Some(if n.is_negative() { -v } else { v })
}

impl Engine {
    pub fn describe_time_to_live(&self, table: &str) -> ApiResult<TimeToLive> {
        let t = self.table(table).map_err(|_| not_found())?;
        Ok(TimeToLive {
            attribute: t.def.ttl_attribute.clone(),
        })
    }

    /// Enables or disables TTL. Unlike DynamoDB, a change takes effect at once and may be
    /// followed by another right away (DynamoDB refuses a second change within an hour while
    /// it reconfigures its fleet; a single server has nothing to wait for).
    pub fn update_time_to_live(
        &self,
        table: &str,
        enabled: bool,
        attribute: &str,
    ) -> ApiResult<()> {
        let mut tables = self.tables.write().unwrap_or_else(|p| p.into_inner());
        let current = tables.get(table).cloned().ok_or_else(not_found)?;
        let mut def = current.def.clone();
        match (&def.ttl_attribute, enabled) {
            (Some(a), _) if a != attribute => {
                return Err(ApiError::validation(format!(
                    "TimeToLive is active on a different AttributeName: current AttributeName is {a}"
                )));
            }
            (Some(_), true) => {
                return Err(ApiError::validation("TimeToLive is already enabled"));
            }
            (None, false) => {
                return Err(ApiError::validation("TimeToLive is already disabled"));
            }
            _ => {}
        }
        def.ttl_attribute = enabled.then(|| attribute.to_string());
        self.log
            .catalog(tabula_storage::Mutation::UpdateDefinition {
                name: table.to_string(),
                definition: def.encode(),
            })?;
        tables.insert(
            table.to_string(),
            Arc::new(Table {
                def,
                handle: current.handle.clone(),
            }),
        );
        Ok(())
    }

    pub(crate) fn start_ttl_sweeper(&self) {
        let sweeper = Sweeper {
            store: self.store.clone(),
            log: self.log.clone(),
            tables: self.tables.clone(),
            locks: self.locks.clone(),
            stop: self.background.stop.clone(),
            interval: self.config.ttl_sweep_interval,
            stream_retention: self.config.stream_retention,
            stream_trims: self.stream_trims.clone(),
            graveyard: self.graveyard.clone(),
            cache: self.cache.clone(),
        };
        self.background.spawn("tabula-ttl", move || sweeper.run());
    }
}

struct Sweeper {
    store: Arc<Store>,
    log: Arc<super::log::Log>,
    tables: Arc<super::Catalog>,
    locks: Arc<Vec<tokio::sync::Mutex<()>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    interval: Duration,
    stream_retention: Duration,
    stream_trims: Arc<super::streams::TrimMarks>,
    graveyard: Arc<super::streams::Graveyard>,
    cache: Option<Arc<super::cache::ItemCache>>,
}

impl Sweeper {
    fn stopping(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn run(self) {
        loop {
            // Sleep in short steps so that a stopping engine is not held up.
            let wake = std::time::Instant::now() + self.interval;
            while std::time::Instant::now() < wake {
                if self.stopping() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50).min(self.interval));
            }
            let tables: Vec<Arc<Table>> = self
                .tables
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .filter(|t| t.def.ttl_attribute.is_some())
                .cloned()
                .collect();
            // Sweeps and trims are the leader's work (a replica applies them from its log).
            if !self.log.may_write() {
                continue;
            }
            super::streams::trim_streams(
                &self.store,
                &self.log,
                &self.tables,
                &self.graveyard,
                &self.stream_trims,
                self.stream_retention,
            );
            if let Err(e) = super::transactions::forget_expired_tokens(&self.store, &self.log) {
                tracing::warn!(error = %e, "forgetting expired ClientRequestTokens failed; retried at the next sweep");
            }
            for t in tables {
                match self.sweep(&t) {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(table = %t.def.name, deleted = n, "TTL sweep"),
                    Err(e) => {
                        tracing::warn!(table = %t.def.name, error = %e, "TTL sweep failed; retried at the next sweep")
                    }
                }
                if self.stopping() {
                    return;
                }
            }
        }
    }

    /// The table as it is now, if it is still the same table with TTL on `attr`.
    fn current(&self, table: &Table, attr: &str) -> Option<Arc<Table>> {
        let tables = self.tables.read().unwrap_or_else(|p| p.into_inner());
        let t = tables.get(&table.def.name)?;
        (t.handle.table_id == table.handle.table_id && t.def.ttl_attribute.as_deref() == Some(attr))
            .then(|| t.clone())
    }

    /// One pass over a table; returns how many items it deleted.
    fn sweep(&self, table: &Table) -> tabula_storage::Result<usize> {
        let Some(attr) = table.def.ttl_attribute.clone() else {
            return Ok(0);
        };
        let (mut cursor, end) =
            super::reads::prefix_range(keyenc::table_prefix(table.handle.table_id));
        let mut deleted = 0;
        loop {
            if self.stopping() {
                return Ok(deleted);
            }
            let now = now_secs();
            let mut candidates = Vec::new();
            let mut last = None;
            let mut seen = 0;
            self.store
                .scan(&table.handle, &cursor, &end, true, |k, item| {
                    seen += 1;
                    last = Some(k.to_vec());
                    if expired(&item, &attr, now) {
                        candidates.push(k.to_vec());
                    }
                    Ok(seen < SWEEP_CHUNK)
                })?;
            let Some(last) = last else {
                return Ok(deleted);
            };
            cursor = last;
            cursor.push(0);
            if candidates.is_empty() {
                continue;
            }
            let guards =
                super::lock_items_blocking(&self.locks, candidates.iter().map(Vec::as_slice));
            // Under the locks: the definition as it is now (indexes may have changed), and
            // each item as it is now.
            let Some(current) = self.current(table, &attr) else {
                return Ok(deleted);
            };
            let mut deleted_keys: Vec<Vec<u8>> = Vec::new();
            let mut writes: Vec<SealedWrite> = Vec::new();
            for k in candidates {
                let Some(item) = self.store.get(&current.handle, &k)? else {
                    continue;
                };
                if !expired(&item, &attr, now_secs()) {
                    continue;
                }
                deleted_keys.push(k.clone());
                // The stream shows the delete as the TTL service's (`by_ttl`).
                let change = super::item_change(&self.store, &current, k, Some(&item), None, true)?;
                writes.extend(change.writes);
                // A delete only shrinks its collection: no limit to check.
                if let Some((key, delta)) = change.collection {
                    writes.push(self.store.counter_delta(key, delta));
                }
                deleted += 1;
            }
            let mark = self
                .cache
                .as_ref()
                .map(|c| c.begin_writes(deleted_keys.iter().map(Vec::as_slice)));
            self.log.write_blocking(writes)?;
            drop(mark);
            drop(guards);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabula_core::Number;

    fn with_exp(v: AttributeValue) -> Item {
        Item::from([("exp".to_string(), v)])
    }

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).expect("number"))
    }

    #[test]
    fn expiry_follows_dynamodb_rules() {
        let now = 1_800_000_000;
        assert!(expired(&with_exp(n("1799999999")), "exp", now));
        assert!(expired(&with_exp(n("1800000000")), "exp", now));
        assert!(expired(&with_exp(n("1799999999.75")), "exp", now));
        assert!(!expired(&with_exp(n("1800000001")), "exp", now));
        // More than five years in the past: ignored.
        assert!(!expired(&with_exp(n("1")), "exp", now));
        assert!(!expired(&with_exp(n("-5")), "exp", now));
        // Far future, beyond any integer type.
        assert!(!expired(&with_exp(n("1e100")), "exp", now));
        // Not a number, or missing.
        assert!(!expired(
            &with_exp(AttributeValue::S("1".into())),
            "exp",
            now
        ));
        assert!(!expired(&Item::new(), "exp", now));
    }
}
