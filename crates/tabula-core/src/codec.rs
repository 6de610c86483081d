//! Compact binary encoding of whole items, used for item bodies at rest (before sealing) and
//! anywhere an item crosses a process boundary. Starts with a version byte; an unknown version
//! is an error, never a guess.

use std::collections::BTreeMap;

use crate::number::Number;
use crate::value::{AttributeValue, Item};

pub const ITEM_FORMAT_VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("unknown item format version {0}")]
    UnknownVersion(u8),
    #[error("corrupt item encoding: {0}")]
    Corrupt(&'static str),
}

pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(ITEM_FORMAT_VERSION);
    put_varint(&mut out, item.len() as u64);
    for (k, v) in item {
        put_bytes(&mut out, k.as_bytes());
        encode_value(&mut out, v);
    }
    out
}

pub fn decode_item(input: &[u8]) -> Result<Item, CodecError> {
    let (&version, rest) = input.split_first().ok_or(CodecError::Corrupt("empty"))?;
    if version != ITEM_FORMAT_VERSION {
        return Err(CodecError::UnknownVersion(version));
    }
    let mut r = Reader { buf: rest };
    let map = r.map()?;
    if !r.buf.is_empty() {
        return Err(CodecError::Corrupt("trailing bytes"));
    }
    Ok(map)
}

const T_S: u8 = 1;
const T_N: u8 = 2;
const T_B: u8 = 3;
const T_BOOL_FALSE: u8 = 4;
const T_BOOL_TRUE: u8 = 5;
const T_NULL: u8 = 6;
const T_SS: u8 = 7;
const T_NS: u8 = 8;
const T_BS: u8 = 9;
const T_L: u8 = 10;
const T_M: u8 = 11;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_number(out: &mut Vec<u8>, n: &Number) {
    // Numbers are stored in their canonical text form: compact enough, and trivially exact.
    put_bytes(out, n.to_string().as_bytes());
}

fn encode_value(out: &mut Vec<u8>, v: &AttributeValue) {
    match v {
        AttributeValue::S(s) => {
            out.push(T_S);
            put_bytes(out, s.as_bytes());
        }
        AttributeValue::N(n) => {
            out.push(T_N);
            put_number(out, n);
        }
        AttributeValue::B(b) => {
            out.push(T_B);
            put_bytes(out, b);
        }
        AttributeValue::Bool(b) => out.push(if *b { T_BOOL_TRUE } else { T_BOOL_FALSE }),
        AttributeValue::Null => out.push(T_NULL),
        AttributeValue::Ss(v) => {
            out.push(T_SS);
            put_varint(out, v.len() as u64);
            for s in v {
                put_bytes(out, s.as_bytes());
            }
        }
        AttributeValue::Ns(v) => {
            out.push(T_NS);
            put_varint(out, v.len() as u64);
            for n in v {
                put_number(out, n);
            }
        }
        AttributeValue::Bs(v) => {
            out.push(T_BS);
            put_varint(out, v.len() as u64);
            for b in v {
                put_bytes(out, b);
            }
        }
        AttributeValue::L(v) => {
            out.push(T_L);
            put_varint(out, v.len() as u64);
            for e in v {
                encode_value(out, e);
            }
        }
        AttributeValue::M(m) => {
            out.push(T_M);
            put_varint(out, m.len() as u64);
            for (k, e) in m {
                put_bytes(out, k.as_bytes());
                encode_value(out, e);
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, CodecError> {
        let (&b, rest) = self
            .buf
            .split_first()
            .ok_or(CodecError::Corrupt("truncated"))?;
        self.buf = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Corrupt("varint"))
    }

    fn len(&mut self) -> Result<usize, CodecError> {
        let n = self.varint()? as usize;
        if n > self.buf.len() {
            return Err(CodecError::Corrupt("length"));
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.len()?;
        let (b, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(b)
    }

    fn string(&mut self) -> Result<String, CodecError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| CodecError::Corrupt("utf-8"))
    }

    fn number(&mut self) -> Result<Number, CodecError> {
        let s = std::str::from_utf8(self.bytes()?).map_err(|_| CodecError::Corrupt("utf-8"))?;
        Number::parse(s).map_err(|_| CodecError::Corrupt("number"))
    }

    fn map(&mut self) -> Result<BTreeMap<String, AttributeValue>, CodecError> {
        let n = self.len()?;
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.value()?;
            m.insert(k, v);
        }
        Ok(m)
    }

    fn value(&mut self) -> Result<AttributeValue, CodecError> {
        Ok(match self.byte()? {
            T_S => AttributeValue::S(self.string()?),
            T_N => AttributeValue::N(self.number()?),
            T_B => AttributeValue::B(self.bytes()?.to_vec()),
            T_BOOL_FALSE => AttributeValue::Bool(false),
            T_BOOL_TRUE => AttributeValue::Bool(true),
            T_NULL => AttributeValue::Null,
            T_SS => {
                let n = self.len()?;
                AttributeValue::Ss((0..n).map(|_| self.string()).collect::<Result<_, _>>()?)
            }
            T_NS => {
                let n = self.len()?;
                AttributeValue::Ns((0..n).map(|_| self.number()).collect::<Result<_, _>>()?)
            }
            T_BS => {
                let n = self.len()?;
                AttributeValue::Bs(
                    (0..n)
                        .map(|_| self.bytes().map(<[u8]>::to_vec))
                        .collect::<Result<_, _>>()?,
                )
            }
            T_L => {
                let n = self.len()?;
                AttributeValue::L((0..n).map(|_| self.value()).collect::<Result<_, _>>()?)
            }
            T_M => AttributeValue::M(self.map()?),
            _ => return Err(CodecError::Corrupt("type tag")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        let mut inner = BTreeMap::new();
        inner.insert("x".to_string(), AttributeValue::Null);
        let mut item = Item::new();
        item.insert("s".into(), AttributeValue::S("héllo".into()));
        item.insert(
            "n".into(),
            AttributeValue::N(Number::parse("-12.5e-3").unwrap()),
        );
        item.insert("b".into(), AttributeValue::B(vec![0, 1, 255]));
        item.insert("t".into(), AttributeValue::Bool(true));
        item.insert("f".into(), AttributeValue::Bool(false));
        item.insert(
            "ss".into(),
            AttributeValue::Ss(vec!["a".into(), "b".into()]),
        );
        item.insert("ns".into(), AttributeValue::Ns(vec![Number::from_i64(3)]));
        item.insert("bs".into(), AttributeValue::Bs(vec![vec![1], vec![]]));
        item.insert(
            "l".into(),
            AttributeValue::L(vec![AttributeValue::M(inner.clone())]),
        );
        item.insert("m".into(), AttributeValue::M(inner));
        let enc = encode_item(&item);
        assert_eq!(decode_item(&enc).unwrap(), item);
    }

    #[test]
    fn unknown_version_is_an_error() {
        assert_eq!(decode_item(&[9, 0]), Err(CodecError::UnknownVersion(9)));
        assert!(decode_item(&[1, 5]).is_err());
    }
}
