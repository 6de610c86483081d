//! Mutations: every change the engine makes to a store, as a value. A single node applies them
//! at once; a replicated table puts them in its Raft log first, so every replica applies the
//! same bytes in the same order (item bodies are sealed before they enter the log: the log
//! holds nothing in the clear that the store itself does not).
//!
//! The encoding is this crate's own (a version byte, then tagged, length-prefixed fields), so
//! a log written by one build is read by the next or refused with a clear error.

use crate::{Result, SealedWrite, Space, StorageError, TableRecord};

/// Version of the mutation encoding.
const MUTATION_FORMAT: u8 = 1;

/// One change to a store.
#[derive(Clone, Debug, PartialEq)]
pub enum Mutation {
    /// Item, index-entry, counter and stream-record writes committed atomically. Stream
    /// records take their sequence numbers when applied.
    Writes(Vec<SealedWrite>),
    /// A new catalog record. Its id must be the store's next table id and its name free
    /// (checked when applied: the proposer read both before the record entered the log).
    CreateTable(TableRecord),
    /// Replaces a table's engine-owned definition.
    UpdateDefinition { name: String, definition: Vec<u8> },
    /// Removes a table's catalog record and records (`purge/<id>`) that its data is to be
    /// removed by [`Mutation::PurgeTableData`], which the engine proposes once no write to the
    /// table can still be in flight (a crash in between leaves the record for the next start).
    /// With a tombstone (the engine's final definition of the table) its stream records and
    /// data key are kept under a `dead/` record until [`Mutation::PurgeDead`], so the streams
    /// stay readable.
    DropTable {
        name: String,
        tombstone: Option<Vec<u8>>,
    },
    /// Removes a dropped table's items and index entries (and its stream records unless they
    /// are kept), then its `purge/` record; nothing if already purged.
    PurgeTableData(u32),
    /// Forgets a deleted table for good: its stream records and its `dead/` record.
    PurgeDead(u32),
    /// Removes every entry of a deleted secondary index (`table_id | index_no`).
    DropIndexEntries(Vec<u8>),
    /// Deletes a stream's records numbered below `before`.
    TrimStream { stream: Vec<u8>, before: u64 },
}

impl Mutation {
    /// Whether this changes the catalog (applied on its own, never batched with others).
    pub fn is_catalog(&self) -> bool {
        !matches!(self, Mutation::Writes(_))
    }
}

/// Encodes mutations (one proposal) for a log entry.
pub fn encode(mutations: &[Mutation]) -> Vec<u8> {
    let mut w = Vec::with_capacity(64);
    w.push(MUTATION_FORMAT);
    put_u32(&mut w, mutations.len() as u32);
    for m in mutations {
        match m {
            Mutation::Writes(writes) => {
                w.push(1);
                put_u32(&mut w, writes.len() as u32);
                for x in writes {
                    w.push(match x.space {
                        Space::Items => 0,
                        Space::Index => 1,
                        Space::Stream => 2,
                        Space::Token => 3,
                    });
                    w.push(u8::from(x.merge));
                    put_bytes(&mut w, &x.key);
                    put_opt(&mut w, x.value.as_deref());
                }
            }
            Mutation::CreateTable(r) => {
                w.push(2);
                put_bytes(&mut w, r.name.as_bytes());
                put_u32(&mut w, r.table_id);
                put_bytes(&mut w, &r.wrapped_key);
                put_bytes(&mut w, &r.definition);
            }
            Mutation::UpdateDefinition { name, definition } => {
                w.push(3);
                put_bytes(&mut w, name.as_bytes());
                put_bytes(&mut w, definition);
            }
            Mutation::DropTable { name, tombstone } => {
                w.push(4);
                put_bytes(&mut w, name.as_bytes());
                put_opt(&mut w, tombstone.as_deref());
            }
            Mutation::PurgeTableData(id) => {
                w.push(5);
                put_u32(&mut w, *id);
            }
            Mutation::PurgeDead(id) => {
                w.push(6);
                put_u32(&mut w, *id);
            }
            Mutation::DropIndexEntries(prefix) => {
                w.push(7);
                put_bytes(&mut w, prefix);
            }
            Mutation::TrimStream { stream, before } => {
                w.push(8);
                put_bytes(&mut w, stream);
                w.extend_from_slice(&before.to_be_bytes());
            }
        }
    }
    w
}

/// Decodes what [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<Vec<Mutation>> {
    let mut r = Reader { b: bytes, at: 0 };
    let version = r.u8()?;
    if version != MUTATION_FORMAT {
        return Err(StorageError::UnsupportedFormat(format!(
            "mutation format {version}, this build reads {MUTATION_FORMAT}"
        )));
    }
    let n = r.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        out.push(match r.u8()? {
            1 => {
                let count = r.u32()? as usize;
                let mut writes = Vec::with_capacity(count.min(4096));
                for _ in 0..count {
                    let space = match r.u8()? {
                        0 => Space::Items,
                        1 => Space::Index,
                        2 => Space::Stream,
                        3 => Space::Token,
                        s => return Err(corrupt(&format!("space {s}"))),
                    };
                    let merge = r.u8()? == 1;
                    let key = r.bytes()?.to_vec();
                    let value = r.opt()?;
                    writes.push(SealedWrite {
                        space,
                        key,
                        value,
                        merge,
                    });
                }
                Mutation::Writes(writes)
            }
            2 => Mutation::CreateTable(TableRecord {
                name: r.string()?,
                table_id: r.u32()?,
                wrapped_key: r.bytes()?.to_vec(),
                definition: r.bytes()?.to_vec(),
            }),
            3 => Mutation::UpdateDefinition {
                name: r.string()?,
                definition: r.bytes()?.to_vec(),
            },
            4 => Mutation::DropTable {
                name: r.string()?,
                tombstone: r.opt()?,
            },
            5 => Mutation::PurgeTableData(r.u32()?),
            6 => Mutation::PurgeDead(r.u32()?),
            7 => Mutation::DropIndexEntries(r.bytes()?.to_vec()),
            8 => Mutation::TrimStream {
                stream: r.bytes()?.to_vec(),
                before: r.u64()?,
            },
            t => return Err(corrupt(&format!("mutation tag {t}"))),
        });
    }
    if r.at != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(out)
}

fn corrupt(what: &str) -> StorageError {
    StorageError::Corrupt(format!("mutation: {what}"))
}

fn put_u32(w: &mut Vec<u8>, n: u32) {
    w.extend_from_slice(&n.to_be_bytes());
}

fn put_bytes(w: &mut Vec<u8>, b: &[u8]) {
    put_u32(w, b.len() as u32);
    w.extend_from_slice(b);
}

fn put_opt(w: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            w.push(1);
            put_bytes(w, b);
        }
        None => w.push(0),
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| corrupt("truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt("name is not UTF-8"))
    }
    fn opt(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(match self.u8()? {
            0 => None,
            1 => Some(self.bytes()?.to_vec()),
            t => return Err(corrupt(&format!("option tag {t}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mutation_round_trips() {
        let all = vec![
            Mutation::Writes(vec![
                SealedWrite {
                    space: Space::Items,
                    key: b"k1".to_vec(),
                    value: Some(b"sealed".to_vec()),
                    merge: false,
                },
                SealedWrite {
                    space: Space::Index,
                    key: b"c".to_vec(),
                    value: Some(7i64.to_be_bytes().to_vec()),
                    merge: true,
                },
                SealedWrite {
                    space: Space::Stream,
                    key: b"s".to_vec(),
                    value: None,
                    merge: false,
                },
                SealedWrite {
                    space: Space::Token,
                    key: b"token-1".to_vec(),
                    value: Some(b"record".to_vec()),
                    merge: false,
                },
            ]),
            Mutation::CreateTable(TableRecord {
                name: "T".into(),
                table_id: 9,
                wrapped_key: vec![1, 2, 3],
                definition: vec![4, 5],
            }),
            Mutation::UpdateDefinition {
                name: "T".into(),
                definition: vec![6],
            },
            Mutation::DropTable {
                name: "T".into(),
                tombstone: Some(vec![7]),
            },
            Mutation::DropTable {
                name: "U".into(),
                tombstone: None,
            },
            Mutation::PurgeTableData(3),
            Mutation::PurgeDead(4),
            Mutation::DropIndexEntries(vec![0, 0, 0, 1, 0, 2]),
            Mutation::TrimStream {
                stream: vec![9],
                before: u64::MAX - 1,
            },
        ];
        assert_eq!(decode(&encode(&all)).expect("decodes"), all);
    }

    #[test]
    fn damaged_encodings_are_errors_not_panics() {
        let bytes = encode(&[Mutation::UpdateDefinition {
            name: "T".into(),
            definition: vec![1, 2, 3],
        }]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut other = bytes.clone();
        other[0] = 99;
        assert!(matches!(
            decode(&other),
            Err(StorageError::UnsupportedFormat(_))
        ));
    }
}
