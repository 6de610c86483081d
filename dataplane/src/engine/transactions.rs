//! TransactWriteItems and TransactGetItems.
//!
//! A write transaction takes the locks of all its items (stripes in ascending order, so two
//! transactions never wait on each other in a cycle, and single-item writes hold one stripe
//! at a time), reads every item under them, checks every condition, and — only if all pass —
//! commits every change, with the index entries, as one batch. Single-item writes take the
//! same locks, so transactions are serializable against them; readers see a transaction all
//! at once or not at all (one RocksDB batch). A read transaction reads from one RocksDB
//! snapshot, which has the same all-or-nothing view.
//!
//! `ClientRequestToken` makes a write transaction idempotent for ten minutes: the same token
//! with the same request answers the first call's result without writing again; with another
//! request it is an IdempotentParameterMismatchException. A finished transaction's token is
//! recorded in the same batch (log entry) as its writes, so a restart, or a new leader after a
//! failover, still answers a retry with the first result instead of writing twice (the AWS
//! SDKs fill in a token and retry on their own). Calls in progress are known only to the node
//! running them. The sweeper forgets records older than ten minutes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tabula_core::Item;
use tabula_core::expr::{Condition, Projection, UpdateExpr};

use super::{
    ConsumedCapacity, Engine, Table, check_new_item, check_update_depth, check_update_size,
    read_units, write_units,
};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::protocol::values::item_to_json;

/// The most bytes of items one write transaction may carry.
const MAX_TRANSACTION_BYTES: usize = 4 << 20;

/// How long a ClientRequestToken is remembered.
const TOKEN_TTL: Duration = Duration::from_secs(600);

/// What one action of a write transaction does.
pub enum TransactOp {
    ConditionCheck,
    /// The item to write (its key is taken from it).
    Put(Item),
    Delete,
    Update(UpdateExpr),
}

pub struct TransactAction {
    pub table: String,
    /// The item's key (for `Put`, the item itself).
    pub key: Item,
    pub op: TransactOp,
    pub condition: Option<Condition>,
    pub return_old_on_failure: bool,
}

/// A write transaction's answer: the capacity it consumed, per table.
#[derive(Clone, Debug, Default)]
pub struct TransactWriteOutput {
    pub consumed: Vec<ConsumedCapacity>,
}

pub struct TransactGet {
    pub table: String,
    pub key: Item,
    pub projection: Option<Projection>,
}

#[derive(Debug, Default)]
pub struct TransactGetOutput {
    pub items: Vec<Option<Item>>,
    pub consumed: Vec<ConsumedCapacity>,
}

/// Version of a stored token record.
const TOKEN_RECORD_VERSION: u8 = 1;

/// A stored token record: version, when it was written (ms since the epoch), the request's
/// fingerprint, and the answer (its consumed capacity, as JSON).
fn encode_token_record(fingerprint: &str, out: &TransactWriteOutput) -> Vec<u8> {
    let consumed: Vec<Value> = out
        .consumed
        .iter()
        .map(|c| {
            json!({"t": c.table, "r": c.read_units, "w": c.write_units,
                   "i": c.indexes.iter().map(|(k, (g, u))| (k.clone(), json!([g, u])))
                        .collect::<serde_json::Map<String, Value>>()})
        })
        .collect();
    let mut b = vec![TOKEN_RECORD_VERSION];
    b.extend_from_slice(&now_ms().to_be_bytes());
    b.extend_from_slice(&(fingerprint.len() as u32).to_be_bytes());
    b.extend_from_slice(fingerprint.as_bytes());
    b.extend_from_slice(Value::Array(consumed).to_string().as_bytes());
    b
}

/// A stored token record: when it was written (ms), the fingerprint and the answer. `None`
/// for a record this build cannot read (then it is ignored, as if expired).
fn decode_token_record(b: &[u8]) -> Option<(u64, String, TransactWriteOutput)> {
    if b.first() != Some(&TOKEN_RECORD_VERSION) {
        return None;
    }
    let at = u64::from_be_bytes(b.get(1..9)?.try_into().ok()?);
    let len = u32::from_be_bytes(b.get(9..13)?.try_into().ok()?) as usize;
    let fingerprint = String::from_utf8(b.get(13..13 + len)?.to_vec()).ok()?;
    let consumed: Vec<Value> = serde_json::from_slice(b.get(13 + len..)?).ok()?;
    let consumed = consumed
        .iter()
        .map(|c| ConsumedCapacity {
            table: c["t"].as_str().unwrap_or_default().to_string(),
            read_units: c["r"].as_f64().unwrap_or(0.0),
            write_units: c["w"].as_f64().unwrap_or(0.0),
            indexes: c["i"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                (
                                    v[0].as_bool().unwrap_or(false),
                                    v[1].as_f64().unwrap_or(0.0),
                                ),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    Some((at, fingerprint, TransactWriteOutput { consumed }))
}

/// Deletes the token records older than [`TOKEN_TTL`] (and those this build cannot read):
/// one batch for all of them, through the log.
pub(crate) fn forget_expired_tokens(
    store: &tabula_storage::Store,
    log: &super::log::Log,
) -> tabula_storage::Result<usize> {
    let expired: Vec<_> = store
        .token_records()?
        .into_iter()
        .filter(|(_, r)| decode_token_record(r).is_none_or(|(at, _, _)| record_expired(at)))
        .map(|(token, _)| store.token_write(&token, None))
        .collect();
    let n = expired.len();
    if n > 0 {
        log.write_blocking(expired)?;
    }
    Ok(n)
}

/// Whether a token record written at `at` (ms since the epoch) is older than [`TOKEN_TTL`].
fn record_expired(at: u64) -> bool {
    now_ms().saturating_sub(at) >= TOKEN_TTL.as_millis() as u64
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The idempotency record of one ClientRequestToken.
enum TokenState {
    Running,
    Done(TransactWriteOutput),
}

/// Recent ClientRequestTokens: each with the fingerprint of its request and its state,
/// expired after [`TOKEN_TTL`] in arrival order, and at most [`MAX_TOKENS`] of them.
#[derive(Default)]
pub(crate) struct Tokens {
    inner: std::sync::Mutex<TokenMap>,
}

#[derive(Default)]
struct TokenMap {
    entries: HashMap<String, (String, TokenState, Instant)>,
    order: std::collections::VecDeque<(Instant, String)>,
}

/// Tokens remembered at most (the oldest are forgotten first beyond it).
const MAX_TOKENS: usize = 100_000;

impl Tokens {
    /// Registers a token for a new call: `Ok(Some(out))` replays a finished one, `Ok(None)`
    /// lets the call run (and `finish` must follow). `stored` is the token's record in the
    /// store, if any (a call finished here before a restart, or on another replica).
    fn begin(
        &self,
        token: &str,
        fingerprint: &str,
        stored: Option<(u64, String, TransactWriteOutput)>,
    ) -> ApiResult<Option<TransactWriteOutput>> {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.expire();
        if !m.entries.contains_key(token)
            && let Some((at, f, out)) = stored
            && !record_expired(at)
        {
            if f != fingerprint {
                return Err(ApiError::new(
                    ErrorKind::IdempotentParameterMismatch,
                    "Client token has been used with different parameters",
                ));
            }
            return Ok(Some(out));
        }
        match m.entries.get(token) {
            Some((f, _, _)) if f != fingerprint => Err(ApiError::new(
                ErrorKind::IdempotentParameterMismatch,
                "Client token has been used with different parameters",
            )),
            Some((_, TokenState::Done(out), _)) => Ok(Some(out.clone())),
            Some((_, TokenState::Running, _)) => Err(ApiError::new(
                ErrorKind::TransactionInProgress,
                "Transaction with the same client request token is in progress",
            )),
            None => {
                let now = Instant::now();
                m.entries.insert(
                    token.to_string(),
                    (fingerprint.to_string(), TokenState::Running, now),
                );
                m.order.push_back((now, token.to_string()));
                Ok(None)
            }
        }
    }

    /// Records a call's end: a success is replayed to later calls; a failure changed
    /// nothing, so the token may be used again.
    fn finish(&self, token: &str, result: &ApiResult<TransactWriteOutput>) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(out) => {
                if let Some(e) = m.entries.get_mut(token) {
                    e.1 = TokenState::Done(out.clone());
                }
            }
            Err(_) => {
                m.entries.remove(token);
            }
        }
    }
}

impl TokenMap {
    fn expire(&mut self) {
        while let Some((at, token)) = self.order.front().cloned() {
            if at.elapsed() < TOKEN_TTL && self.entries.len() < MAX_TOKENS {
                break;
            }
            self.order.pop_front();
            // Only the entry this arrival made (a token may have come back since).
            if self.entries.get(&token).is_some_and(|e| e.2 == at) {
                self.entries.remove(&token);
            }
        }
    }
}

/// One action's outcome before commit: a reason for the cancellation list, or the write.
enum Outcome {
    Fails(Value),
    Invalid(ApiError),
    Passes(Option<Option<Item>>),
}

fn reason_none() -> Value {
    json!({"Code": "None"})
}

/// A key error DynamoDB answers for the whole request rather than as a cancellation reason:
/// empty key values.
fn is_top_level(e: &ApiError) -> bool {
    e.message.contains("cannot contain an empty")
}

/// Cancels with one ValidationError reason at `at` and `None` for every other action (DynamoDB
/// reports only the first validation error of a transaction).
fn cancelled_by_validation(count: usize, at: usize, e: ApiError) -> ApiError {
    cancelled_at(count, at, "ValidationError", e)
}

/// Cancels with one reason (`code`, and the error's message) at `at` and `None` for every
/// other action.
fn cancelled_at(count: usize, at: usize, code: &str, e: ApiError) -> ApiError {
    let reasons = (0..count)
        .map(|i| {
            if i == at {
                json!({"Code": code, "Message": e.message})
            } else {
                reason_none()
            }
        })
        .collect();
    cancelled(reasons)
}

fn cancelled(reasons: Vec<Value>) -> ApiError {
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r.get("Code").and_then(Value::as_str).unwrap_or("None"))
        .collect();
    let mut e = ApiError::new(
        ErrorKind::TransactionCanceled,
        format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
    );
    e.cancellation_reasons = Some(reasons);
    e
}

/// Adds `units` for `table` to a per-table capacity list.
fn charge(list: &mut Vec<ConsumedCapacity>, table: &str, read: f64, write: f64) {
    charge_all(
        list,
        ConsumedCapacity {
            table: table.to_string(),
            read_units: read,
            write_units: write,
            ..ConsumedCapacity::default()
        },
    );
}

/// Adds one action's consumption to a per-table capacity list.
fn charge_all(list: &mut Vec<ConsumedCapacity>, c: ConsumedCapacity) {
    match list.iter_mut().find(|x| x.table == c.table) {
        Some(x) => x.add(&c),
        None => list.push(c),
    }
}

impl Engine {
    /// Runs a write transaction. `token` is the ClientRequestToken with a fingerprint of the
    /// rest of the request.
    pub async fn transact_write(
        &self,
        actions: Vec<TransactAction>,
        token: Option<(String, String)>,
    ) -> ApiResult<TransactWriteOutput> {
        let Some((token, fingerprint)) = token else {
            return self.transact_write_once(actions, None).await;
        };
        let stored = self
            .store
            .token_record(&token)
            .map_err(ApiError::from)?
            .and_then(|r| decode_token_record(&r));
        if let Some(replay) = self.tokens.begin(&token, &fingerprint, stored)? {
            return Ok(replay);
        }
        // Writes run as tasks of their own (see `http`), so this always gets to `finish`.
        let result = self
            .transact_write_once(actions, Some((&token, &fingerprint)))
            .await;
        self.tokens.finish(&token, &result);
        result
    }

    /// One run of a write transaction; with a token (and the request's fingerprint), the
    /// token's record is committed with the writes.
    async fn transact_write_once(
        &self,
        actions: Vec<TransactAction>,
        token: Option<(&str, &str)>,
    ) -> ApiResult<TransactWriteOutput> {
        // Static checks first: tables, keys, sizes, one action per item. A bad key is a
        // cancellation reason, except for an empty key value (an error for the request).
        let mut resolved: Vec<(Arc<Table>, Vec<u8>)> = Vec::with_capacity(actions.len());
        let mut first_invalid: Option<(usize, ApiError)> = None;
        let total: usize = actions
            .iter()
            .map(|a| match &a.op {
                TransactOp::Put(item) => tabula_core::value::item_size(item),
                _ => tabula_core::value::item_size(&a.key),
            })
            .sum();
        if total > MAX_TRANSACTION_BYTES {
            return Err(ApiError::validation(format!(
                "Transaction payload size cannot exceed 4MB. Payload Size: {total}"
            )));
        }
        for (i, a) in actions.iter().enumerate() {
            let table = self.table(&a.table)?;
            let key = match &a.op {
                TransactOp::Put(item) => {
                    check_new_item(item)?;
                    table.key_from_item(item).and_then(|k| {
                        table.check_index_keys(item, false)?;
                        Ok(k)
                    })
                }
                _ => table.key_from_key_param(&a.key),
            };
            let key = match key {
                Ok(k) => k,
                Err(e) if is_top_level(&e) => return Err(e),
                Err(e) => {
                    if first_invalid.is_none() {
                        first_invalid = Some((i, e));
                    }
                    continue;
                }
            };
            let skey = table.storage_key(&key);
            if resolved
                .iter()
                .any(|(t, k)| t.handle.table_id == table.handle.table_id && *k == skey)
            {
                return Err(ApiError::validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            resolved.push((table, skey));
        }
        if let Some((at, e)) = first_invalid {
            return Err(cancelled_by_validation(actions.len(), at, e));
        }
        let stripes = super::ordered_stripes(resolved.iter().map(|(_, k)| k.as_slice()));
        let mut guards = Vec::with_capacity(stripes.len());
        for s in stripes {
            guards.push(self.locks[s].lock().await);
        }

        // Under the locks: each item as it is now, each condition, each new item.
        let mut reasons = Vec::with_capacity(actions.len());
        let mut failed = false;
        let mut plans = Vec::with_capacity(actions.len());
        for (i, (a, (t, skey))) in actions.iter().zip(&resolved).enumerate() {
            let table = self.table(&a.table)?;
            if table.handle.table_id != t.handle.table_id {
                return Err(ApiError::table_not_found(&a.table));
            }
            let old = self.store.get(&table.handle, skey)?;
            let outcome = evaluate(&table, a, old.as_ref())?;
            match outcome {
                Outcome::Invalid(e) => {
                    return Err(cancelled_by_validation(actions.len(), i, e));
                }
                Outcome::Fails(reason) => {
                    failed = true;
                    reasons.push(reason);
                }
                Outcome::Passes(new) => {
                    reasons.push(reason_none());
                    plans.push((table, skey.clone(), old, new));
                }
            }
        }
        if failed {
            return Err(cancelled(reasons));
        }

        let mut writes = Vec::new();
        let mut written_keys: Vec<Vec<u8>> = Vec::new();
        let mut consumed = Vec::new();
        // Bytes the transaction's earlier actions add to each item collection.
        let mut pending: HashMap<Vec<u8>, i64> = HashMap::new();
        for (i, ((table, skey, old, new), a)) in plans.into_iter().zip(&actions).enumerate() {
            let size = old
                .as_ref()
                .map(tabula_core::value::item_size)
                .unwrap_or(0)
                .max(
                    new.as_ref()
                        .and_then(|n| n.as_ref())
                        .map(tabula_core::value::item_size)
                        .unwrap_or(0),
                );
            match new {
                None => charge(&mut consumed, &a.table, 2.0 * read_units(size, true), 0.0),
                Some(new) => {
                    written_keys.push(skey.clone());
                    let change = super::item_change(
                        &self.store,
                        &table,
                        skey,
                        old.as_ref(),
                        new.as_ref(),
                        false,
                    )?;
                    // A transaction costs twice the units, on the table and on each index.
                    let mut indexes = change.index_units;
                    for (_, units) in indexes.values_mut() {
                        *units *= 2.0;
                    }
                    charge_all(
                        &mut consumed,
                        ConsumedCapacity {
                            table: a.table.clone(),
                            read_units: 0.0,
                            write_units: 2.0 * write_units(size),
                            indexes,
                        },
                    );
                    writes.extend(change.writes);
                    if let Some((key, delta)) = change.collection {
                        let before = pending.get(&key).copied().unwrap_or(0);
                        match super::indexes::collection_checked(
                            &self.store,
                            key.clone(),
                            delta,
                            before,
                            self.config.item_collection_limit,
                        ) {
                            Ok(w) => {
                                writes.push(w);
                                pending.insert(key, before + delta);
                            }
                            Err(e) if e.kind == ErrorKind::ItemCollectionSizeLimitExceeded => {
                                return Err(cancelled_at(
                                    actions.len(),
                                    i,
                                    "ItemCollectionSizeLimitExceeded",
                                    e,
                                ));
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        let mark = self
            .cache
            .as_ref()
            .map(|c| c.begin_writes(written_keys.iter().map(Vec::as_slice)));
        let out = TransactWriteOutput { consumed };
        if let Some((token, fingerprint)) = token {
            writes.push(
                self.store
                    .token_write(token, Some(encode_token_record(fingerprint, &out))),
            );
        }
        if !writes.is_empty() {
            self.log.write(writes).await?;
        }
        drop(mark);
        drop(guards);
        Ok(out)
    }

    /// Reads several items as of one instant.
    pub fn transact_get(&self, gets: Vec<TransactGet>) -> ApiResult<TransactGetOutput> {
        let mut resolved: Vec<(Arc<Table>, Vec<u8>)> = Vec::with_capacity(gets.len());
        for (i, g) in gets.iter().enumerate() {
            let table = self.table(&g.table)?;
            let key = match table.key_from_key_param(&g.key) {
                Ok(k) => k,
                Err(e) if is_top_level(&e) => return Err(e),
                Err(e) => return Err(cancelled_by_validation(gets.len(), i, e)),
            };
            let skey = table.storage_key(&key);
            if resolved
                .iter()
                .any(|(t, k)| t.handle.table_id == table.handle.table_id && *k == skey)
            {
                return Err(ApiError::validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            resolved.push((table, skey));
        }
        let reads: Vec<(&tabula_storage::TableHandle, &[u8])> = resolved
            .iter()
            .map(|(t, k)| (t.handle.as_ref(), k.as_slice()))
            .collect();
        let found = self.store.get_consistent(&reads)?;
        let mut out = TransactGetOutput::default();
        for (g, item) in gets.iter().zip(found) {
            let size = item
                .as_ref()
                .map(tabula_core::value::item_size)
                .unwrap_or(0);
            charge(
                &mut out.consumed,
                &g.table,
                2.0 * read_units(size, true),
                0.0,
            );
            out.items.push(match (&g.projection, item) {
                (Some(p), Some(i)) => Some(p.apply(&i)),
                (_, i) => i,
            });
        }
        Ok(out)
    }
}

/// Checks one action against its item as it is now (`old`). A failed condition, or a new
/// item DynamoDB would refuse, becomes a cancellation reason; `Passes(None)` writes nothing
/// (a condition check, or a delete of an absent item), `Passes(Some(new))` writes `new`.
fn evaluate(table: &Table, a: &TransactAction, old: Option<&Item>) -> ApiResult<Outcome> {
    if let Some(c) = &a.condition {
        let empty = Item::new();
        let ok = c
            .evaluate(old.unwrap_or(&empty))
            .map_err(|e| ApiError::validation(e.message))?;
        if !ok {
            // DynamoDB words a failed ConditionCheck with a final period.
            let message = match a.op {
                TransactOp::ConditionCheck => "The conditional request failed.",
                _ => "The conditional request failed",
            };
            let mut reason = json!({
                "Code": "ConditionalCheckFailed",
                "Message": message,
            });
            if a.return_old_on_failure
                && let Some(old) = old
            {
                reason["Item"] = item_to_json(old);
            }
            return Ok(Outcome::Fails(reason));
        }
    }
    let validation = Outcome::Invalid;
    let new = match &a.op {
        TransactOp::ConditionCheck => return Ok(Outcome::Passes(None)),
        TransactOp::Delete => {
            if old.is_none() {
                return Ok(Outcome::Passes(None));
            }
            None
        }
        TransactOp::Put(item) => Some(item.clone()),
        TransactOp::Update(u) => {
            let ks = &table.def.key_schema;
            if let Some(attr) = u
                .top_level_attrs()
                .into_iter()
                .find(|attr| *attr == ks.hash || ks.range.as_deref() == Some(attr.as_str()))
            {
                // A cancellation reason, as DynamoDB Local answers it (the update's target
                // depends on the table's schema, like a wrongly typed key).
                return Ok(validation(ApiError::validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {attr}. This attribute is part of the key"
                ))));
            }
            let mut new = old.cloned().unwrap_or_else(|| a.key.clone());
            if let Err(e) = u.apply(&mut new) {
                return Ok(validation(ApiError::validation(e.message)));
            }
            // A result nested too deep fails the whole request, as DynamoDB (Local) answers
            // it, not as a cancellation reason.
            check_update_depth(&new, u)?;
            if let Err(e) = check_update_size(&new) {
                return Ok(validation(e));
            }
            Some(new)
        }
    };
    if let Some(n) = &new
        && let Err(e) = table.check_index_keys(n, matches!(a.op, TransactOp::Update(_)))
    {
        if is_top_level(&e) {
            return Err(e);
        }
        return Ok(validation(e));
    }
    Ok(Outcome::Passes(Some(new)))
}

#[cfg(test)]
mod token_tests {
    use super::*;

    /// Token records round-trip, and the sweep forgets only those older than ten minutes
    /// (and unreadable ones), through the log.
    #[test]
    fn expired_token_records_are_forgotten_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(
            tabula_storage::Store::open(
                dir.path(),
                tabula_storage::MasterKey::from_bytes(&[3; 32]),
            )
            .expect("open"),
        );
        let out = TransactWriteOutput {
            consumed: vec![ConsumedCapacity {
                table: "t".into(),
                read_units: 0.0,
                write_units: 2.0,
                indexes: [("g".to_string(), (true, 2.0))].into(),
            }],
        };
        let fresh = encode_token_record("fp", &out);
        let (at, fp, back) = decode_token_record(&fresh).expect("decodes");
        assert_eq!((fp.as_str(), back.consumed), ("fp", out.consumed.clone()));
        assert!(now_ms() - at < 1000);
        let mut old = fresh.clone();
        let stale = (now_ms() - TOKEN_TTL.as_millis() as u64 - 1).to_be_bytes();
        old[1..9].copy_from_slice(&stale);
        let writes = [
            store.token_write("fresh", Some(fresh)),
            store.token_write("old", Some(old)),
            store.token_write("garbled", Some(vec![99, 1, 2])),
        ];
        store
            .commit(&writes.iter().collect::<Vec<_>>())
            .expect("write");
        let log = super::super::log::Log::Local {
            store: store.clone(),
            committer: super::super::commit::Committer::start(store.clone()),
        };
        assert_eq!(forget_expired_tokens(&store, &log).expect("sweep"), 2);
        let left: Vec<String> = store
            .token_records()
            .expect("records")
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(left, ["fresh"]);
    }
}
