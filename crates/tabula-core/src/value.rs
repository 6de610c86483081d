//! Attribute values and items: the ten DynamoDB types, DynamoDB's size accounting and the
//! type names used in error messages. The JSON wire shape lives in the data plane's protocol
//! module; nothing here knows about JSON.

use std::collections::BTreeMap;

use crate::number::Number;

/// An item: attribute name → value. Ordered so that encodings and responses are stable.
pub type Item = BTreeMap<String, AttributeValue>;

/// One DynamoDB attribute value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Vec<u8>>),
    L(Vec<AttributeValue>),
    M(BTreeMap<String, AttributeValue>),
}

/// The scalar types a key attribute may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }

    pub fn parse(s: &str) -> Option<ScalarType> {
        match s {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }
}

impl AttributeValue {
    /// DynamoDB's short type name: S, N, B, BOOL, NULL, SS, NS, BS, L, M.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null => "NULL",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
            AttributeValue::L(_) => "L",
            AttributeValue::M(_) => "M",
        }
    }

    pub fn scalar_type(&self) -> Option<ScalarType> {
        match self {
            AttributeValue::S(_) => Some(ScalarType::S),
            AttributeValue::N(_) => Some(ScalarType::N),
            AttributeValue::B(_) => Some(ScalarType::B),
            _ => None,
        }
    }

    /// Size in bytes as DynamoDB counts it for the value alone (the attribute name is added by
    /// the caller): strings and binaries by length, numbers by significant digits, one byte for
    /// BOOL and NULL, and three bytes of overhead plus one byte per element for L and M.
    pub fn size(&self) -> usize {
        match self {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.size(),
            AttributeValue::B(b) => b.len(),
            AttributeValue::Bool(_) | AttributeValue::Null => 1,
            AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
            AttributeValue::Ns(v) => v.iter().map(Number::size).sum(),
            AttributeValue::Bs(v) => v.iter().map(Vec::len).sum(),
            AttributeValue::L(v) => 3 + v.iter().map(|e| e.size() + 1).sum::<usize>(),
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>()
            }
        }
    }

    /// Levels the value spans: 1 for a scalar or a set, one more than its deepest element for
    /// a list or a map (an empty one spans 1).
    pub fn levels(&self) -> usize {
        let below = match self {
            AttributeValue::L(v) => v.iter().map(AttributeValue::levels).max(),
            AttributeValue::M(m) => m.values().map(AttributeValue::levels).max(),
            _ => None,
        };
        1 + below.unwrap_or(0)
    }

    pub fn as_s(&self) -> Option<&str> {
        match self {
            AttributeValue::S(s) => Some(s),
            _ => None,
        }
    }
}

/// Size of a whole item as DynamoDB counts it against the 400 KB limit and capacity units.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// The 400 KB item size limit.
pub const MAX_ITEM_SIZE: usize = 400 * 1024;
/// Longest partition key value, in bytes.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// Longest sort key value, in bytes.
pub const MAX_SORT_KEY_BYTES: usize = 1024;
/// Deepest nesting of lists and maps DynamoDB accepts in a request value: 32 lists or maps
/// around a scalar (an expression attribute value may be that deep; a stored item one level
/// less, see `MAX_ITEM_LEVELS`). Also the most elements a document path may have.
pub const MAX_NESTING_DEPTH: usize = 32;
/// Levels an attribute of a stored item may span, its own value included: 31 lists or maps
/// around a scalar, not 32.
pub const MAX_ITEM_LEVELS: usize = 32;

/// Whether some attribute of `item` spans more levels than a stored item may.
pub fn item_too_deep(item: &Item) -> bool {
    item.values().any(|v| v.levels() > MAX_ITEM_LEVELS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(levels: usize) -> AttributeValue {
        (0..levels).fold(AttributeValue::S("v".into()), |v, _| {
            AttributeValue::M(BTreeMap::from([("x".to_string(), v)]))
        })
    }

    #[test]
    fn levels_count_the_value_itself_and_its_deepest_element() {
        assert_eq!(AttributeValue::Null.levels(), 1);
        assert_eq!(AttributeValue::Ss(vec!["a".into()]).levels(), 1);
        assert_eq!(AttributeValue::L(vec![]).levels(), 1);
        assert_eq!(maps(3).levels(), 4);
        let uneven = AttributeValue::L(vec![maps(1), AttributeValue::Bool(true), maps(5)]);
        assert_eq!(uneven.levels(), 7);
    }

    #[test]
    fn an_item_may_hold_31_maps_around_a_scalar_but_not_32() {
        let item = |levels| Item::from([("a".to_string(), maps(levels))]);
        assert!(!item_too_deep(&item(31)));
        assert!(item_too_deep(&item(32)));
        assert!(!item_too_deep(&Item::new()));
    }
}
