//! DynamoDB Streams: change records written with the changes, and the Streams API over them.
//!
//! A table with a stream gets one record per item change that actually changed the item, in
//! the same RocksDB batch as the change (so the stream never misses or invents a change, also
//! across a crash). Storage numbers records at commit, in commit order, with sequence numbers
//! that follow the clock in microseconds; so per-item order is exact and a reader at position
//! N has seen every record below N.
//!
//! Shards are ranges of sequence numbers: shard `k` of a stream holds the records numbered in
//! `[k·R, (k+1)·R)`, R being the stream's shard duration in microseconds (4 hours unless
//! configured), and its parent is shard `k-1`. A shard is closed once the store's clock has
//! passed its end — no later commit can land in it — so a consumer that reads a closed shard
//! to its end and then its child (the KCL pattern) sees every record exactly once. Records
//! older than the retention period (24 hours unless configured) are trimmed.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tabula_core::{Item, keyenc};
use tabula_storage::{SealedWrite, Store};

use super::{Engine, KeySchema, Table};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::protocol::values::{item_to_json, parse_item};

/// How long a shard iterator stays valid.
const ITERATOR_TTL: Duration = Duration::from_secs(15 * 60);
/// Records GetRecords returns at most.
pub const MAX_RECORDS: usize = 1000;
/// Bytes of records one GetRecords returns at most (about).
const MAX_RECORD_BYTES: usize = 1 << 20;

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum StreamViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl StreamViewType {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamViewType::KeysOnly => "KEYS_ONLY",
            StreamViewType::NewImage => "NEW_IMAGE",
            StreamViewType::OldImage => "OLD_IMAGE",
            StreamViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }

    pub fn parse(s: &str) -> Option<StreamViewType> {
        Some(match s {
            "KEYS_ONLY" => StreamViewType::KeysOnly,
            "NEW_IMAGE" => StreamViewType::NewImage,
            "OLD_IMAGE" => StreamViewType::OldImage,
            "NEW_AND_OLD_IMAGES" => StreamViewType::NewAndOldImages,
            _ => return None,
        })
    }
}

/// One stream of a table (each enabling starts a new one, with its own ARN).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamDef {
    pub stream_no: u16,
    /// The ARN's last part: the creation time, `2026-11-26T02:42:11.010`.
    pub label: String,
    pub view_type: StreamViewType,
    pub created_ms: u64,
    pub disabled_ms: Option<u64>,
    /// The last sequence number of a disabled stream: its shards end there.
    #[serde(default)]
    pub disabled_seq: Option<u64>,
    /// R: the sequence-number width of one shard, in microseconds of clock.
    pub shard_micros: u64,
}

impl StreamDef {
    fn prefix(&self, table_id: u32) -> Vec<u8> {
        let mut p = keyenc::table_prefix(table_id);
        p.extend_from_slice(&self.stream_no.to_be_bytes());
        p
    }

    fn first_shard(&self) -> u64 {
        self.created_ms * 1000 / self.shard_micros
    }

    /// The first sequence number past shard `k` (a disabled stream's last shard ends where
    /// the stream was disabled).
    fn shard_end(&self, k: u64) -> u64 {
        let end = (k + 1) * self.shard_micros;
        match self.disabled_seq {
            Some(d) => end.min(d + 1),
            None => end,
        }
    }
}

/// The stream records are written to now, if the table has an enabled stream.
pub fn current_stream(table: &Table) -> Option<&StreamDef> {
    current_stream_of(&table.def)
}

pub fn current_stream_of(def: &super::TableDef) -> Option<&StreamDef> {
    def.streams.last().filter(|s| s.disabled_ms.is_none())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `2026-11-26T02:42:11.010` for a time in milliseconds since the epoch (UTC).
pub fn stream_label(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// The stream record for an item changing from `old` to `new`, or `None` when the table has
/// no enabled stream or nothing changed. `by_ttl` marks deletes by the TTL sweeper.
pub(crate) fn stream_record(
    store: &Store,
    table: &Table,
    old: Option<&Item>,
    new: Option<&Item>,
    by_ttl: bool,
) -> tabula_storage::Result<Option<SealedWrite>> {
    let Some(stream) = current_stream(table) else {
        return Ok(None);
    };
    let event = match (old, new) {
        (None, None) => return Ok(None),
        (Some(o), Some(n)) if o == n => return Ok(None),
        (None, Some(_)) => "INSERT",
        (Some(_), Some(_)) => "MODIFY",
        (Some(_), None) => "REMOVE",
    };
    let keys = table.key_attributes(new.or(old).unwrap_or(&Item::new()));
    let mut record = json!({ "e": event, "k": item_to_json(&keys) });
    let view = stream.view_type;
    if matches!(
        view,
        StreamViewType::NewImage | StreamViewType::NewAndOldImages
    ) && let Some(n) = new
    {
        record["n"] = item_to_json(n);
    }
    if matches!(
        view,
        StreamViewType::OldImage | StreamViewType::NewAndOldImages
    ) && let Some(o) = old
    {
        record["o"] = item_to_json(o);
    }
    if by_ttl {
        record["ttl"] = json!(true);
    }
    let bytes = serde_json::to_vec(&record).unwrap_or_default();
    Ok(Some(store.prepare_stream_record(
        &table.handle,
        stream.prefix(table.handle.table_id),
        &bytes,
    )?))
}

/// A page of ListStreams: (ARN, table, label) per stream, and the last ARN when more remain.
pub type StreamPage = (Vec<(String, String, String)>, Option<String>);

/// A shard as DescribeStream lists it.
pub struct ShardInfo {
    pub id: String,
    pub parent: Option<String>,
    pub start: u64,
    pub end: Option<u64>,
}

pub struct StreamDescription {
    pub arn: String,
    pub label: String,
    pub enabled: bool,
    pub view_type: StreamViewType,
    pub created_ms: u64,
    pub table: String,
    pub key_schema: KeySchema,
    pub shards: Vec<ShardInfo>,
    pub last_evaluated_shard: Option<String>,
}

/// One record as GetRecords renders it.
pub struct StreamRecord {
    pub seq: u64,
    pub body: Value,
}

/// A decoded shard iterator.
struct Iter {
    table: String,
    table_id: u32,
    stream_no: u16,
    shard: u64,
    position: u64,
    issued_ms: u64,
}

impl Iter {
    fn encode(&self) -> String {
        let text = format!(
            "1|{}|{}|{}|{}|{}|{}",
            self.table_id, self.stream_no, self.shard, self.position, self.issued_ms, self.table
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    fn decode(s: &str) -> Option<Iter> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(7, '|');
        if parts.next()? != "1" {
            return None;
        }
        Some(Iter {
            table_id: parts.next()?.parse().ok()?,
            stream_no: parts.next()?.parse().ok()?,
            shard: parts.next()?.parse().ok()?,
            position: parts.next()?.parse().ok()?,
            issued_ms: parts.next()?.parse().ok()?,
            table: parts.next()?.to_string(),
        })
    }
}

pub enum IteratorType {
    TrimHorizon,
    Latest,
    AtSequenceNumber(u64),
    AfterSequenceNumber(u64),
    /// The first record at or after a time (microseconds since the epoch; sequence numbers
    /// follow the clock, so this is a position).
    AtTimestamp(u64),
}

fn stream_not_found(arn: &str) -> ApiError {
    ApiError::not_found(format!(
        "Requested resource not found: Stream: {arn} not found"
    ))
}

impl Engine {
    pub fn stream_arn(&self, table: &str, label: &str) -> String {
        format!("{}/stream/{label}", self.arn(table))
    }

    /// Records that a stream (`table_id | stream_no`, as its records' keys begin) was trimmed
    /// up to `last` (the marks the store keeps, read when the catalog is loaded).
    pub fn note_trimmed(&self, stream: &[u8], last: u64) {
        let (Some(table), Some(no)) = (stream.get(..4), stream.get(4..6)) else {
            return;
        };
        let table_id = u32::from_be_bytes([table[0], table[1], table[2], table[3]]);
        let stream_no = u16::from_be_bytes([no[0], no[1]]);
        let mut marks = self.stream_trims.lock().unwrap_or_else(|p| p.into_inner());
        let mark = marks.entry((table_id, stream_no)).or_default();
        *mark = (*mark).max(last);
    }

    /// The largest sequence number trimmed from a stream so far (0: none).
    fn trim_mark(&self, table_id: u32, stream_no: u16) -> u64 {
        self.stream_trims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(table_id, stream_no))
            .copied()
            .unwrap_or(0)
    }

    /// The retention horizon as a sequence number: records below it are past retention.
    fn trim_horizon(&self) -> u64 {
        now_ms().saturating_sub(self.config.stream_retention.as_millis() as u64) * 1000
    }

    /// Whether a stream still exists for the Streams API (enabled, or disabled within the
    /// retention period).
    fn stream_alive(&self, s: &StreamDef) -> bool {
        s.disabled_ms
            .is_none_or(|d| d + self.config.stream_retention.as_millis() as u64 > now_ms())
    }

    /// Finds a stream by ARN.
    fn stream_by_arn(&self, arn: &str) -> ApiResult<(Arc<Table>, StreamDef)> {
        let prefix = self.arn("");
        let rest = arn
            .strip_prefix(prefix.as_str())
            .ok_or_else(|| stream_not_found(arn))?;
        let (table, label) = rest
            .split_once("/stream/")
            .ok_or_else(|| stream_not_found(arn))?;
        self.stream_tables()
            .into_iter()
            .filter(|t| t.def.name == table)
            .find_map(|t| {
                let s = t
                    .def
                    .streams
                    .iter()
                    .find(|s| s.label == label && self.stream_alive(s))
                    .cloned()?;
                Some((t, s))
            })
            .ok_or_else(|| stream_not_found(arn))
    }

    /// Every table whose streams the Streams API can reach: the live tables and the deleted
    /// ones whose streams are still within retention.
    fn stream_tables(&self) -> Vec<Arc<Table>> {
        let mut v = self.live_tables();
        v.extend(
            self.graveyard
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .cloned(),
        );
        v
    }

    fn shard_id(&self, arn: &str, k: u64) -> String {
        format!(
            "shardId-{k:020}-{:08x}",
            keyenc::fnv1a32(format!("{arn}#{k}").as_bytes())
        )
    }

    fn parse_shard_id(&self, arn: &str, id: &str) -> Option<u64> {
        let k: u64 = id.strip_prefix("shardId-")?.get(..20)?.parse().ok()?;
        (self.shard_id(arn, k) == id).then_some(k)
    }

    /// The last shard number of a stream as of now (its current shard, or the one it was
    /// disabled in).
    fn last_shard(&self, s: &StreamDef, clock: u64) -> u64 {
        let end = match (s.disabled_seq, s.disabled_ms) {
            (Some(seq), _) => seq.min(clock),
            (None, Some(ms)) => (ms * 1000).min(clock),
            (None, None) => clock,
        };
        (end / s.shard_micros).max(s.first_shard())
    }

    /// Whether shard `k` can receive no more records: the store's clock has passed its end,
    /// or the stream is disabled (a write racing the disabling may still land a record
    /// numbered after the stream's end; it is outside every shard and never shown).
    fn shard_closed(&self, s: &StreamDef, k: u64, clock: u64) -> bool {
        s.disabled_ms.is_some() || clock >= (k + 1) * s.shard_micros
    }

    /// (ARN, table, label) of the streams, a page at a time, and the last ARN when more remain.
    pub fn list_streams(
        &self,
        table: Option<&str>,
        limit: usize,
        exclusive_start: Option<&str>,
    ) -> ApiResult<StreamPage> {
        let mut tables: Vec<Arc<Table>> = self
            .stream_tables()
            .into_iter()
            .filter(|t| table.is_none_or(|n| t.def.name == n))
            .collect();
        tables.sort_by(|a, b| {
            (&a.def.name, a.handle.table_id).cmp(&(&b.def.name, b.handle.table_id))
        });
        let mut all = Vec::new();
        for t in tables {
            for s in t.def.streams.iter().filter(|s| self.stream_alive(s)) {
                all.push((
                    self.stream_arn(&t.def.name, &s.label),
                    t.def.name.clone(),
                    s.label.clone(),
                ));
            }
        }
        let start = match exclusive_start {
            Some(arn) => all
                .iter()
                .position(|(a, _, _)| a == arn)
                .map(|p| p + 1)
                .unwrap_or(0),
            None => 0,
        };
        let rest: Vec<_> = all.into_iter().skip(start).collect();
        if rest.len() > limit {
            let page: Vec<_> = rest.into_iter().take(limit).collect();
            let last = page.last().map(|(a, _, _)| a.clone());
            Ok((page, last))
        } else {
            Ok((rest, None))
        }
    }

    /// DescribeStream; `children_of` restricts the shards to the children of one shard.
    pub fn describe_stream(
        &self,
        arn: &str,
        limit: usize,
        exclusive_start_shard: Option<&str>,
        children_of: Option<&str>,
    ) -> ApiResult<StreamDescription> {
        let (t, s) = self.stream_by_arn(arn)?;
        let clock = self.store.stream_clock();
        let first = s.first_shard().max(self.trim_horizon() / s.shard_micros);
        let last = self.last_shard(&s, clock);
        let mut shards = Vec::new();
        let mut k = first;
        let mut last = last;
        if let Some(parent) = children_of {
            let p = self
                .parse_shard_id(arn, parent)
                .ok_or_else(|| ApiError::validation(format!("Invalid ShardId: {parent}")))?;
            k = k.max(p + 1);
            last = last.min(p + 1);
        }
        if let Some(start) = exclusive_start_shard {
            let after = self
                .parse_shard_id(arn, start)
                .ok_or_else(|| ApiError::validation(format!("Invalid ShardId: {start}")))?;
            k = k.max(after + 1);
        }
        let mut last_evaluated = None;
        while k <= last {
            if shards.len() == limit {
                last_evaluated = shards.last().map(|s: &ShardInfo| s.id.clone());
                break;
            }
            shards.push(ShardInfo {
                id: self.shard_id(arn, k),
                parent: (k > s.first_shard()).then(|| self.shard_id(arn, k - 1)),
                start: (k * s.shard_micros).max(s.created_ms * 1000),
                end: self
                    .shard_closed(&s, k, clock)
                    .then(|| s.shard_end(k).saturating_sub(1).max(k * s.shard_micros)),
            });
            k += 1;
        }
        Ok(StreamDescription {
            arn: arn.to_string(),
            label: s.label.clone(),
            enabled: s.disabled_ms.is_none(),
            view_type: s.view_type,
            created_ms: s.created_ms,
            table: t.def.name.clone(),
            key_schema: t.def.key_schema.clone(),
            shards,
            last_evaluated_shard: last_evaluated,
        })
    }

    pub fn get_shard_iterator(
        &self,
        arn: &str,
        shard_id: &str,
        kind: IteratorType,
    ) -> ApiResult<String> {
        let (t, s) = self.stream_by_arn(arn)?;
        let clock = self.store.stream_clock();
        let k = self
            .parse_shard_id(arn, shard_id)
            .filter(|k| *k >= s.first_shard() && *k <= self.last_shard(&s, clock))
            .ok_or_else(|| {
                ApiError::not_found("Requested resource not found: Shard does not exist")
            })?;
        let (lo, hi) = (k * s.shard_micros, s.shard_end(k).max(k * s.shard_micros));
        let horizon = self.trim_horizon();
        let in_shard = |n: u64| {
            if n < lo || n >= hi {
                return Err(ApiError::validation(format!(
                    "Invalid SequenceNumber {n:021} for ShardId {shard_id}"
                )));
            }
            if n < horizon {
                return Err(trimmed());
            }
            Ok(n)
        };
        if let IteratorType::AtTimestamp(micros) = kind
            && micros > now_ms() * 1000
        {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: The timestamp of an AT_TIMESTAMP iterator cannot be in the future",
            ));
        }
        let mark = self.trim_mark(t.handle.table_id, s.stream_no);
        let position = match kind {
            IteratorType::TrimHorizon => lo.max(mark + 1),
            IteratorType::Latest => clock.clamp(lo, hi),
            IteratorType::AtSequenceNumber(n) => in_shard(n)?,
            IteratorType::AfterSequenceNumber(n) => in_shard(n)? + 1,
            IteratorType::AtTimestamp(micros) => micros.clamp(lo, hi).max(mark + 1),
        };
        Ok(Iter {
            table: t.def.name.clone(),
            table_id: t.handle.table_id,
            stream_no: s.stream_no,
            shard: k,
            position,
            issued_ms: now_ms(),
        }
        .encode())
    }

    /// Records from an iterator's position, and the iterator to continue with (`None` once
    /// a closed shard has been read to its end).
    pub fn get_records(
        &self,
        iterator: &str,
        limit: usize,
    ) -> ApiResult<(Vec<StreamRecord>, Option<String>)> {
        let it =
            Iter::decode(iterator).ok_or_else(|| ApiError::validation("Invalid ShardIterator"))?;
        if now_ms().saturating_sub(it.issued_ms) > ITERATOR_TTL.as_millis() as u64 {
            return Err(ApiError::new(
                ErrorKind::ExpiredIterator,
                "Iterator expired. The iterator was created at time ".to_string()
                    + &stream_label(it.issued_ms)
                    + " while right now it is "
                    + &stream_label(now_ms())
                    + " which is further in the future than the tolerated delay of 900000 milliseconds.",
            ));
        }
        let t = self
            .stream_tables()
            .into_iter()
            .find(|t| t.handle.table_id == it.table_id)
            .ok_or_else(|| ApiError::not_found("Requested resource not found"))?;
        let s = t
            .def
            .streams
            .iter()
            .find(|s| s.stream_no == it.stream_no && self.stream_alive(s))
            .cloned()
            .ok_or_else(|| ApiError::not_found("Requested resource not found"))?;
        // Records this iterator would have returned were trimmed meanwhile.
        if it.position <= self.trim_mark(it.table_id, it.stream_no) {
            return Err(trimmed());
        }
        // The clock first: if it has passed the shard's end, every record of the shard is
        // committed and visible to the scan below.
        let clock = self.store.stream_clock();
        let closed = self.shard_closed(&s, it.shard, clock);
        let hi = s.shard_end(it.shard);
        let arn = self.stream_arn(&t.def.name, &s.label);
        let mut records = Vec::new();
        let mut bytes = 0usize;
        let mut next = it.position;
        let limit = limit.clamp(1, MAX_RECORDS);
        let region = self.config.region.clone();
        self.store.scan_stream(
            &t.handle,
            &s.prefix(t.handle.table_id),
            it.position,
            hi,
            |seq, raw| {
                let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                bytes += raw.len();
                records.push(StreamRecord {
                    seq,
                    body: render(&body, seq, s.view_type, &region, &arn),
                });
                next = seq + 1;
                Ok(records.len() < limit && bytes < MAX_RECORD_BYTES)
            },
        )?;
        let done = closed && (records.len() < limit && bytes < MAX_RECORD_BYTES);
        let next_iterator = (!done).then(|| {
            Iter {
                position: next,
                issued_ms: now_ms(),
                ..it
            }
            .encode()
        });
        Ok((records, next_iterator))
    }
}

fn trimmed() -> ApiError {
    ApiError::new(
        ErrorKind::TrimmedDataAccess,
        "The operation attempted to read past the oldest stream record in a shard.",
    )
}

/// The GetRecords form of a stored record.
fn render(body: &Value, seq: u64, view: StreamViewType, region: &str, arn: &str) -> Value {
    let size = |v: Option<&Value>| -> usize {
        v.and_then(|v| parse_item(v).ok())
            .map(|i| tabula_core::value::item_size(&i))
            .unwrap_or(0)
    };
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": (seq / 1_000_000) as f64,
        "Keys": body.get("k").cloned().unwrap_or(Value::Null),
        "SequenceNumber": format!("{seq:021}"),
        "SizeBytes": size(body.get("k")) + size(body.get("n")) + size(body.get("o")),
        "StreamViewType": view.as_str(),
    });
    if let Some(n) = body.get("n") {
        dynamodb["NewImage"] = n.clone();
    }
    if let Some(o) = body.get("o") {
        dynamodb["OldImage"] = o.clone();
    }
    let mut out = json!({
        "eventID": format!("{:08x}{:016x}", keyenc::fnv1a32(arn.as_bytes()), seq),
        "eventName": body.get("e").cloned().unwrap_or(Value::Null),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
    });
    if body.get("ttl").and_then(Value::as_bool) == Some(true) {
        out["userIdentity"] = json!({
            "PrincipalId": "dynamodb.amazonaws.com",
            "Type": "Service",
        });
    }
    out
}

type Tables = super::Catalog;

/// Per stream (`table_id`, `stream_no`): the largest sequence number trimming removed. An
/// iterator at or below it would miss records: GetRecords answers TrimmedDataAccessException.
pub(crate) type TrimMarks = std::sync::Mutex<std::collections::HashMap<(u32, u16), u64>>;

/// Deleted tables whose streams stay readable until their retention passes.
pub(crate) type Graveyard = std::sync::RwLock<Vec<Arc<Table>>>;

/// Removes stream records past the retention period, and forgets streams disabled for longer
/// (run by the engine's background thread, with the TTL sweep).
/// Deletes a table's stream records older than `horizon_ms` and records how far each stream
/// was trimmed (see [`TrimMarks`]).
fn trim_table_streams(
    store: &Store,
    log: &super::log::Log,
    t: &Table,
    marks: &TrimMarks,
    horizon_ms: u64,
) {
    for s in &t.def.streams {
        let prefix = s.prefix(t.handle.table_id);
        let trimmed = store
            .last_stream_seq(&prefix, horizon_ms * 1000)
            .and_then(|last| {
                if last.is_some() {
                    log.catalog(tabula_storage::Mutation::TrimStream {
                        stream: prefix.clone(),
                        before: horizon_ms * 1000,
                    })?;
                }
                Ok(last)
            });
        match trimmed {
            Ok(Some(last)) => {
                let mut m = marks.lock().unwrap_or_else(|p| p.into_inner());
                let mark = m.entry((t.handle.table_id, s.stream_no)).or_default();
                *mark = (*mark).max(last);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(table = %t.def.name, error = %e, "cannot trim a stream"),
        }
    }
}

pub(crate) fn trim_streams(
    store: &Store,
    log: &super::log::Log,
    tables: &Tables,
    graveyard: &Graveyard,
    marks: &TrimMarks,
    retention: Duration,
) {
    let horizon_ms = now_ms().saturating_sub(retention.as_millis() as u64);
    // Deleted tables: trim like the others, and forget them once every stream has passed
    // its retention.
    let dead: Vec<Arc<Table>> = graveyard.read().unwrap_or_else(|p| p.into_inner()).clone();
    for t in dead {
        let expired = t
            .def
            .streams
            .iter()
            .all(|s| s.disabled_ms.is_none_or(|d| d < horizon_ms));
        if expired {
            match log.catalog(tabula_storage::Mutation::PurgeDead(t.handle.table_id)) {
                Ok(()) => graveyard
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|g| g.handle.table_id != t.handle.table_id),
                Err(e) => {
                    tracing::warn!(table = %t.def.name, error = %e, "cannot purge a deleted table's streams")
                }
            }
            continue;
        }
        trim_table_streams(store, log, &t, marks, horizon_ms);
    }
    let list: Vec<Arc<Table>> = tables
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .filter(|t| !t.def.streams.is_empty())
        .cloned()
        .collect();
    for t in list {
        trim_table_streams(store, log, &t, marks, horizon_ms);
        // Streams disabled for longer than the retention period are forgotten.
        if t.def
            .streams
            .iter()
            .any(|s| s.disabled_ms.is_some_and(|d| d < horizon_ms))
        {
            let mut map = tables.write().unwrap_or_else(|p| p.into_inner());
            let Some(current) = map.get(&t.def.name).cloned() else {
                continue;
            };
            if current.handle.table_id != t.handle.table_id {
                continue;
            }
            let mut def = current.def.clone();
            def.streams
                .retain(|s| s.disabled_ms.is_none_or(|d| d >= horizon_ms));
            let m = tabula_storage::Mutation::UpdateDefinition {
                name: def.name.clone(),
                definition: def.encode(),
            };
            if log.catalog(m).is_ok() {
                map.insert(
                    def.name.clone(),
                    Arc::new(Table {
                        def,
                        handle: current.handle.clone(),
                    }),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_utc_timestamps_with_milliseconds() {
        assert_eq!(stream_label(0), "1970-01-01T00:00:00.000");
        assert_eq!(stream_label(1_795_660_931_010), "2026-11-26T02:42:11.010");
        assert_eq!(stream_label(951_782_400_000), "2000-02-29T00:00:00.000");
    }
}
