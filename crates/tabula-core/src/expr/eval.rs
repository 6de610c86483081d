//! Evaluation of conditions against an item, with DynamoDB's rules: a missing attribute makes
//! every test false except `<>`, `attribute_not_exists` and negations; ordering comparisons
//! work only between two strings, two numbers or two binaries; equality is deep and treats sets
//! as unordered.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::ExprError;
use super::ast::{CompareOp, Condition, Operand, Path, PathElem};
use crate::number::Number;
use crate::value::{AttributeValue, Item};

/// The value at `path`, if every step exists and has the right type.
pub(crate) fn lookup<'a>(item: &'a Item, path: &Path) -> Option<&'a AttributeValue> {
    let mut elems = path.0.iter();
    let mut current = match elems.next()? {
        PathElem::Attr(name) => item.get(name)?,
        PathElem::Index(_) => return None,
    };
    for elem in elems {
        current = match (elem, current) {
            (PathElem::Attr(name), AttributeValue::M(m)) => m.get(name)?,
            (PathElem::Index(i), AttributeValue::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Set equality in O(n log n): sets can hold tens of thousands of elements.
fn same_elements<T: Ord>(a: &[T], b: &[T]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut x: Vec<&T> = a.iter().collect();
    let mut y: Vec<&T> = b.iter().collect();
    x.sort();
    y.sort();
    x == y
}

/// Deep equality as DynamoDB defines it: same type, numbers by value, sets in any order.
pub fn values_equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::Ss(x), V::Ss(y)) => same_elements(x, y),
        (V::Ns(x), V::Ns(y)) => same_elements(x, y),
        (V::Bs(x), V::Bs(y)) => same_elements(x, y),
        (V::L(x), V::L(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (V::M(x), V::M(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Order of two strings (by UTF-8 bytes), two numbers or two binaries; `None` for anything else.
pub(crate) fn compare_scalars(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// DynamoDB's `size()`: string length in UTF-16 code units (DynamoDB counts like Java's
/// `String.length()`), binary length in bytes, and element counts for sets, lists and maps.
/// Numbers, booleans and nulls have no size.
pub(crate) fn size_of(value: &AttributeValue) -> Option<usize> {
    match value {
        AttributeValue::S(s) => Some(s.encode_utf16().count()),
        AttributeValue::B(b) => Some(b.len()),
        AttributeValue::Ss(v) => Some(v.len()),
        AttributeValue::Ns(v) => Some(v.len()),
        AttributeValue::Bs(v) => Some(v.len()),
        AttributeValue::L(v) => Some(v.len()),
        AttributeValue::M(m) => Some(m.len()),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => None,
    }
}

fn operand_value<'a>(item: &'a Item, op: &'a Operand) -> Option<Cow<'a, AttributeValue>> {
    match op {
        Operand::Path(p) => lookup(item, p).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(inner) => {
            let value = operand_value(item, inner)?;
            let size = size_of(&value)?;
            Some(Cow::Owned(AttributeValue::N(Number::from_i64(
                i64::try_from(size).unwrap_or(i64::MAX),
            ))))
        }
    }
}

/// Result of `a op b` where both values exist.
pub(crate) fn compare(a: &AttributeValue, op: CompareOp, b: &AttributeValue) -> bool {
    match op {
        CompareOp::Eq => values_equal(a, b),
        CompareOp::Ne => !values_equal(a, b),
        CompareOp::Lt => compare_scalars(a, b) == Some(Ordering::Less),
        CompareOp::Le => matches!(
            compare_scalars(a, b),
            Some(Ordering::Less | Ordering::Equal)
        ),
        CompareOp::Gt => compare_scalars(a, b) == Some(Ordering::Greater),
        CompareOp::Ge => matches!(
            compare_scalars(a, b),
            Some(Ordering::Greater | Ordering::Equal)
        ),
    }
}

pub(crate) fn begins_with(value: &AttributeValue, prefix: &AttributeValue) -> bool {
    match (value, prefix) {
        (AttributeValue::S(s), AttributeValue::S(p)) => s.starts_with(p.as_str()),
        (AttributeValue::B(s), AttributeValue::B(p)) => s.starts_with(p),
        _ => false,
    }
}

pub(crate) fn contains(haystack: &AttributeValue, needle: &AttributeValue) -> bool {
    match (haystack, needle) {
        (AttributeValue::S(s), AttributeValue::S(n)) => s.contains(n.as_str()),
        (AttributeValue::B(s), AttributeValue::B(n)) => {
            n.is_empty() || s.windows(n.len()).any(|w| w == n.as_slice())
        }
        (AttributeValue::Ss(set), AttributeValue::S(n)) => set.contains(n),
        (AttributeValue::Ns(set), AttributeValue::N(n)) => set.contains(n),
        (AttributeValue::Bs(set), AttributeValue::B(n)) => set.contains(n),
        (AttributeValue::L(list), n) => list.iter().any(|e| values_equal(e, n)),
        _ => false,
    }
}

impl Condition {
    /// Evaluates the condition against `item` (an empty map when the item does not exist).
    pub fn evaluate(&self, item: &Item) -> Result<bool, ExprError> {
        Ok(self.holds(item))
    }

    fn holds(&self, item: &Item) -> bool {
        let value = |op| operand_value(item, op);
        match self {
            Condition::True => true,
            Condition::Compare(a, op, b) => match (value(a), value(b)) {
                (Some(x), Some(y)) => compare(&x, *op, &y),
                _ => *op == CompareOp::Ne,
            },
            Condition::Between(x, low, high) => match (value(x), value(low), value(high)) {
                (Some(x), Some(low), Some(high)) => {
                    matches!(
                        compare_scalars(&x, &low),
                        Some(Ordering::Greater | Ordering::Equal)
                    ) && matches!(
                        compare_scalars(&x, &high),
                        Some(Ordering::Less | Ordering::Equal)
                    )
                }
                _ => false,
            },
            Condition::In(x, list) => match value(x) {
                Some(x) => list
                    .iter()
                    .any(|op| value(op).is_some_and(|v| values_equal(&x, &v))),
                None => false,
            },
            Condition::AttributeExists(p) => lookup(item, p).is_some(),
            Condition::AttributeNotExists(p) => lookup(item, p).is_none(),
            Condition::AttributeType(x, t) => match (value(x), value(t)) {
                (Some(v), Some(t)) => t.as_s() == Some(v.type_name()),
                _ => false,
            },
            Condition::BeginsWith(a, b) => match (value(a), value(b)) {
                (Some(a), Some(b)) => begins_with(&a, &b),
                _ => false,
            },
            Condition::Contains(a, b) => match (value(a), value(b)) {
                (Some(a), Some(b)) => contains(&a, &b),
                _ => false,
            },
            Condition::NotContains(a, b) => match (value(a), value(b)) {
                (Some(a), Some(b)) => !contains(&a, &b),
                _ => false,
            },
            Condition::And(a, b) => a.holds(item) && b.holds(item),
            Condition::Or(a, b) => a.holds(item) || b.holds(item),
            Condition::Not(c) => !c.holds(item),
        }
    }
}
