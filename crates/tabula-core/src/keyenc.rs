//! Order-preserving, self-delimiting encoding of key values, and the item key layout from
//! DESIGN.md: `table_id | hash32(pk) | enc(pk) | enc(sk)`.
//!
//! Byte order of encodings equals DynamoDB's key order: strings by UTF-8 bytes, binaries by
//! unsigned bytes, numbers numerically. Because each encoding is self-delimiting, a partition's
//! items form one contiguous key range sorted by sort key, so Query is a prefix scan; because
//! the hash comes first, Scan segments are hash ranges.
//!
//! The layout is a persisted format: `KEY_FORMAT_VERSION` is recorded by the storage crate in
//! the database and checked on open.

use crate::number::Number;
use crate::value::AttributeValue;

/// Version of the key layout below. Storage refuses to open a database written with another.
pub const KEY_FORMAT_VERSION: u32 = 1;

const TAG_S: u8 = 0x01;
const TAG_N: u8 = 0x02;
const TAG_B: u8 = 0x03;

const NUM_NEGATIVE: u8 = 0x01;
const NUM_ZERO: u8 = 0x02;
const NUM_POSITIVE: u8 = 0x03;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyDecodeError {
    #[error("corrupt key encoding: {0}")]
    Corrupt(&'static str),
}

/// Appends the encoding of a scalar key value. Non-scalar values are not keys; the caller
/// validates types before encoding, and they encode as nothing.
pub fn encode_scalar(out: &mut Vec<u8>, v: &AttributeValue) {
    match v {
        AttributeValue::S(s) => {
            out.push(TAG_S);
            encode_bytes(out, s.as_bytes());
        }
        AttributeValue::B(b) => {
            out.push(TAG_B);
            encode_bytes(out, b);
        }
        AttributeValue::N(n) => {
            out.push(TAG_N);
            encode_number(out, n);
        }
        _ => {}
    }
}

/// The encoding of every S or B value that starts with `v` begins with these bytes (the tag and
/// the escaped bytes, without the terminator): `begins_with` on a sort key is a prefix range.
pub fn begins_with_prefix(v: &AttributeValue) -> Option<Vec<u8>> {
    let (tag, bytes) = match v {
        AttributeValue::S(s) => (TAG_S, s.as_bytes()),
        AttributeValue::B(b) => (TAG_B, b.as_slice()),
        _ => return None,
    };
    let mut out = vec![tag];
    for &byte in bytes {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    Some(out)
}

/// The smallest byte string greater than every string starting with `prefix`, if any.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Escapes 0x00 as 0x00 0xFF and terminates with 0x00 0x01, so that a shorter value that is a
/// prefix of a longer one sorts first and the end of the value is unambiguous.
fn encode_bytes(out: &mut Vec<u8>, b: &[u8]) {
    for &byte in b {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    out.push(0x00);
    out.push(0x01);
}

/// Sign class, then the exponent (biased, big-endian), then the digits as 1..=10 terminated by
/// 0x00; for negative numbers everything after the class byte is bit-inverted, which reverses
/// the order as it must.
fn encode_number(out: &mut Vec<u8>, n: &Number) {
    if n.is_zero() {
        out.push(NUM_ZERO);
        return;
    }
    let negative = n.is_negative();
    out.push(if negative { NUM_NEGATIVE } else { NUM_POSITIVE });
    let start = out.len();
    let biased = (n.exponent() + 0x8000) as u16;
    out.extend_from_slice(&biased.to_be_bytes());
    out.extend(n.digits().iter().map(|d| d + 1));
    out.push(0x00);
    if negative {
        for b in &mut out[start..] {
            *b = !*b;
        }
    }
}

/// Decodes one scalar from the front of `input`, returning it and the remaining bytes.
pub fn decode_scalar(input: &[u8]) -> Result<(AttributeValue, &[u8]), KeyDecodeError> {
    let (&tag, rest) = input
        .split_first()
        .ok_or(KeyDecodeError::Corrupt("empty key"))?;
    match tag {
        TAG_S => {
            let (bytes, rest) = decode_bytes(rest)?;
            let s = String::from_utf8(bytes).map_err(|_| KeyDecodeError::Corrupt("utf-8"))?;
            Ok((AttributeValue::S(s), rest))
        }
        TAG_B => {
            let (bytes, rest) = decode_bytes(rest)?;
            Ok((AttributeValue::B(bytes), rest))
        }
        TAG_N => {
            let (n, rest) = decode_number(rest)?;
            Ok((AttributeValue::N(n), rest))
        }
        _ => Err(KeyDecodeError::Corrupt("unknown key tag")),
    }
}

fn decode_bytes(input: &[u8]) -> Result<(Vec<u8>, &[u8]), KeyDecodeError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == 0 {
            match input.get(i + 1) {
                Some(0xFF) => {
                    out.push(0);
                    i += 2;
                }
                Some(0x01) => return Ok((out, &input[i + 2..])),
                _ => return Err(KeyDecodeError::Corrupt("bad escape")),
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    Err(KeyDecodeError::Corrupt("unterminated bytes"))
}

fn decode_number(input: &[u8]) -> Result<(Number, &[u8]), KeyDecodeError> {
    let (&class, rest) = input
        .split_first()
        .ok_or(KeyDecodeError::Corrupt("empty number"))?;
    if class == NUM_ZERO {
        return Ok((Number::zero(), rest));
    }
    let negative = match class {
        NUM_NEGATIVE => true,
        NUM_POSITIVE => false,
        _ => return Err(KeyDecodeError::Corrupt("number class")),
    };
    let flip = |b: u8| if negative { !b } else { b };
    if rest.len() < 3 {
        return Err(KeyDecodeError::Corrupt("short number"));
    }
    let biased = u16::from_be_bytes([flip(rest[0]), flip(rest[1])]);
    let exponent = i32::from(biased) - 0x8000;
    let mut digits = Vec::new();
    let mut i = 2;
    loop {
        let b = flip(
            *rest
                .get(i)
                .ok_or(KeyDecodeError::Corrupt("unterminated number"))?,
        );
        i += 1;
        if b == 0 {
            break;
        }
        digits.push(b - 1);
    }
    let n = Number::from_normalized(negative, digits, exponent)
        .map_err(|_| KeyDecodeError::Corrupt("number out of range"))?;
    Ok((n, &rest[i..]))
}

/// 32-bit FNV-1a over the partition key's type and encoded bytes. Stable forever: it decides
/// where items live on disk and, later, which partition owns them.
pub fn hash32(pk: &AttributeValue) -> u32 {
    let mut buf = Vec::with_capacity(32);
    encode_scalar(&mut buf, pk);
    fnv1a32(&buf)
}

/// 32-bit FNV-1a: the partition hash of `hash32`, also good for spreading keys over stripes.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Key prefix of all items of one table.
pub fn table_prefix(table_id: u32) -> Vec<u8> {
    table_id.to_be_bytes().to_vec()
}

/// Key prefix of one partition (all items sharing a partition key).
pub fn partition_prefix(table_id: u32, pk: &AttributeValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    out.extend_from_slice(&table_id.to_be_bytes());
    out.extend_from_slice(&hash32(pk).to_be_bytes());
    encode_scalar(&mut out, pk);
    out
}

/// Full item key.
pub fn item_key(table_id: u32, pk: &AttributeValue, sk: Option<&AttributeValue>) -> Vec<u8> {
    let mut out = partition_prefix(table_id, pk);
    if let Some(sk) = sk {
        encode_scalar(&mut out, sk);
    }
    out
}

/// Key prefix of all entries of one secondary index: `table_id | index_no`. Index entries live
/// in their own key space (storage's `index` column family), so this cannot meet an item key.
pub fn index_prefix(table_id: u32, index_no: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(6);
    out.extend_from_slice(&table_id.to_be_bytes());
    out.extend_from_slice(&index_no.to_be_bytes());
    out
}

/// Key prefix of one index partition (all entries sharing an index partition key), laid out
/// like an item partition so a Query on an index is the same prefix scan as on a table.
pub fn index_partition_prefix(table_id: u32, index_no: u16, pk: &AttributeValue) -> Vec<u8> {
    let mut out = index_prefix(table_id, index_no);
    out.extend_from_slice(&hash32(pk).to_be_bytes());
    encode_scalar(&mut out, pk);
    out
}

/// The index number reserved for item-collection size counters (tables with local indexes):
/// `index_partition_prefix(table_id, COLLECTION_COUNTERS, pk)` holds the size of `pk`'s items
/// and their local-index entries. Real indexes are numbered from 1 and never reach it.
pub const COLLECTION_COUNTERS: u16 = u16::MAX;

/// Full index entry key: the index key, then the table key that makes entries with equal
/// index keys distinct (index keys need not be unique). Encodings are self-delimiting, so
/// entries sort by index sort key, then by table key.
pub fn index_entry_key(
    table_id: u32,
    index_no: u16,
    index_key: (&AttributeValue, Option<&AttributeValue>),
    table_key: (&AttributeValue, Option<&AttributeValue>),
) -> Vec<u8> {
    let mut out = index_partition_prefix(table_id, index_no, index_key.0);
    for v in index_key
        .1
        .into_iter()
        .chain([table_key.0])
        .chain(table_key.1)
    {
        encode_scalar(&mut out, v);
    }
    out
}

/// Splits an item key back into its hash, partition key and sort key.
pub fn decode_item_key(
    key: &[u8],
    has_sort_key: bool,
) -> Result<(u32, AttributeValue, Option<AttributeValue>), KeyDecodeError> {
    if key.len() < 8 {
        return Err(KeyDecodeError::Corrupt("short item key"));
    }
    let hash = u32::from_be_bytes([key[4], key[5], key[6], key[7]]);
    let (pk, rest) = decode_scalar(&key[8..])?;
    let sk = if has_sort_key {
        let (sk, rest) = decode_scalar(rest)?;
        if !rest.is_empty() {
            return Err(KeyDecodeError::Corrupt("trailing bytes"));
        }
        Some(sk)
    } else {
        None
    };
    Ok((hash, pk, sk))
}

/// Encodes a bare scalar (no tag) for comparisons of key values in sort order.
pub fn scalar_sort_bytes(v: &AttributeValue) -> Vec<u8> {
    let mut out = Vec::new();
    encode_scalar(&mut out, v);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn num(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }

    fn enc(v: &AttributeValue) -> Vec<u8> {
        scalar_sort_bytes(v)
    }

    #[test]
    fn number_encoding_orders_numerically() {
        let vals = [
            "-1e100", "-12.5", "-12", "-1.25", "-1", "-0.5", "0", "1e-130", "0.5", "1", "1.25",
            "12", "12.5", "99", "100", "1e100",
        ];
        for w in vals.windows(2) {
            assert!(enc(&num(w[0])) < enc(&num(w[1])), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn string_encoding_orders_by_bytes_and_prefix_first() {
        let vals = ["", "a", "a\u{0}", "a\u{0}b", "ab", "b", "\u{e9}"];
        for w in vals.windows(2) {
            let a = AttributeValue::S(w[0].into());
            let b = AttributeValue::S(w[1].into());
            assert!(enc(&a) < enc(&b), "{:?} < {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn item_key_round_trips() {
        let pk = AttributeValue::S("user#1".into());
        let sk = num("-3.25");
        let key = item_key(7, &pk, Some(&sk));
        let (h, p, s) = decode_item_key(&key, true).unwrap();
        assert_eq!(h, hash32(&pk));
        assert_eq!(p, pk);
        assert_eq!(s, Some(sk));
        assert!(key.starts_with(&partition_prefix(7, &pk)));
    }

    #[test]
    fn index_entries_sort_by_index_key_then_table_key() {
        let s = |v: &str| AttributeValue::S(v.into());
        let g = s("gold");
        let a = index_entry_key(3, 1, (&g, Some(&num("5"))), (&s("u2"), None));
        let b = index_entry_key(3, 1, (&g, Some(&num("5"))), (&s("u10"), None));
        let c = index_entry_key(3, 1, (&g, Some(&num("40"))), (&s("u1"), None));
        assert!(b < a && a < c);
        let p = index_partition_prefix(3, 1, &g);
        assert!(a.starts_with(&p) && c.starts_with(&p));
        assert!(p.starts_with(&index_prefix(3, 1)));
        assert!(!p.starts_with(&index_prefix(3, 2)));
    }

    proptest! {
        #[test]
        fn number_order_matches_encoding(a in -1_000_000i64..1_000_000, b in -1_000_000i64..1_000_000, ea in -20i32..20, eb in -20i32..20) {
            let na = Number::parse(&format!("{a}e{ea}")).unwrap();
            let nb = Number::parse(&format!("{b}e{eb}")).unwrap();
            let ka = enc(&AttributeValue::N(na.clone()));
            let kb = enc(&AttributeValue::N(nb.clone()));
            prop_assert_eq!(na.cmp(&nb), ka.cmp(&kb));
            let (back, rest) = decode_scalar(&ka).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back, AttributeValue::N(na));
        }

        #[test]
        fn bytes_order_matches_encoding(a in proptest::collection::vec(any::<u8>(), 0..8), b in proptest::collection::vec(any::<u8>(), 0..8)) {
            let ka = enc(&AttributeValue::B(a.clone()));
            let kb = enc(&AttributeValue::B(b.clone()));
            prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
            let mut two = ka.clone();
            two.extend_from_slice(&kb);
            let (x, rest) = decode_scalar(&two).unwrap();
            let (y, rest) = decode_scalar(rest).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(x, AttributeValue::B(a));
            prop_assert_eq!(y, AttributeValue::B(b));
        }
    }
}
