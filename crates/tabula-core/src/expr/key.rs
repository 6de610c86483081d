//! Key conditions of a Query: checks a parsed KeyConditionExpression against the key schema and
//! turns it into the partition value plus an optional sort-key range, which is all the storage
//! layer needs to seek.

use std::cmp::Ordering;

use super::ExprError;
use super::ast::{CompareOp, Condition, Operand, Path, PathElem};
use super::eval::{begins_with, compare_scalars};
use crate::value::{AttributeValue, ScalarType};

/// A Query's key condition: one partition key value and at most one sort-key test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCondition {
    pub partition_value: AttributeValue,
    pub sort: Option<SortKeyCondition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKeyCondition {
    Eq(AttributeValue),
    Lt(AttributeValue),
    Le(AttributeValue),
    Gt(AttributeValue),
    Ge(AttributeValue),
    /// Inclusive on both ends.
    Between(AttributeValue, AttributeValue),
    BeginsWith(AttributeValue),
}

impl SortKeyCondition {
    /// True when a sort key value satisfies the condition. Values of another type never do.
    pub fn matches(&self, v: &AttributeValue) -> bool {
        let cmp = |bound: &AttributeValue| compare_scalars(v, bound);
        match self {
            SortKeyCondition::Eq(b) => cmp(b) == Some(Ordering::Equal),
            SortKeyCondition::Lt(b) => cmp(b) == Some(Ordering::Less),
            SortKeyCondition::Le(b) => matches!(cmp(b), Some(Ordering::Less | Ordering::Equal)),
            SortKeyCondition::Gt(b) => cmp(b) == Some(Ordering::Greater),
            SortKeyCondition::Ge(b) => {
                matches!(cmp(b), Some(Ordering::Greater | Ordering::Equal))
            }
            SortKeyCondition::Between(low, high) => {
                matches!(cmp(low), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(high), Some(Ordering::Less | Ordering::Equal))
            }
            SortKeyCondition::BeginsWith(prefix) => begins_with(v, prefix),
        }
    }

    /// The values the condition compares against.
    pub fn values(&self) -> Vec<&AttributeValue> {
        match self {
            SortKeyCondition::Eq(v)
            | SortKeyCondition::Lt(v)
            | SortKeyCondition::Le(v)
            | SortKeyCondition::Gt(v)
            | SortKeyCondition::Ge(v)
            | SortKeyCondition::BeginsWith(v) => vec![v],
            SortKeyCondition::Between(a, b) => vec![a, b],
        }
    }
}

impl KeyCondition {
    /// Checks the condition's values against the key attribute types of the table or index.
    pub fn check_types(
        &self,
        hash_type: ScalarType,
        range_type: Option<ScalarType>,
    ) -> Result<(), ExprError> {
        let mismatch = || {
            ExprError::new(
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            )
        };
        if self.partition_value.scalar_type() != Some(hash_type) {
            return Err(mismatch());
        }
        if let Some(sort) = &self.sort {
            for v in sort.values() {
                if v.scalar_type().is_none() || v.scalar_type() != range_type {
                    return Err(mismatch());
                }
            }
        }
        Ok(())
    }

    /// Rejects empty string or binary key values, naming the attribute as DynamoDB does.
    pub fn check_not_empty(
        &self,
        hash_key: &str,
        range_key: Option<&str>,
    ) -> Result<(), ExprError> {
        fn empty_kind(v: &AttributeValue) -> Option<&'static str> {
            match v {
                AttributeValue::S(s) if s.is_empty() => Some("string"),
                AttributeValue::B(b) if b.is_empty() => Some("binary"),
                _ => None,
            }
        }
        let message = |kind: &str, key: &str| {
            ExprError::new(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {key}"
            ))
        };
        if let Some(kind) = empty_kind(&self.partition_value) {
            return Err(message(kind, hash_key));
        }
        if let (Some(sort), Some(range_key)) = (&self.sort, range_key)
            && let Some(kind) = sort.values().into_iter().find_map(empty_kind)
        {
            return Err(message(kind, range_key));
        }
        Ok(())
    }
}

/// One test on one key attribute, as found in the expression.
struct KeyTest<'c> {
    attr: &'c str,
    test: SortKeyCondition,
}

fn invalid_operator(op: &str) -> ExprError {
    ExprError::new(format!(
        "Invalid operator used in KeyConditionExpression: {op}"
    ))
}

fn key_attr(path: &Path) -> Result<&str, ExprError> {
    match path.0.as_slice() {
        [PathElem::Attr(name)] => Ok(name),
        [PathElem::Attr(name), ..] => Err(ExprError::new(format!(
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: {name}"
        ))),
        _ => Err(ExprError::new("Query key condition not supported")),
    }
}

fn value_of(op: &Operand) -> Result<&AttributeValue, ExprError> {
    match op {
        Operand::Value(v) => Ok(v),
        Operand::Size(_) => Err(ExprError::new(
            "KeyConditionExpressions cannot contain nested operations",
        )),
        Operand::Path(_) => Err(ExprError::new("Query key condition not supported")),
    }
}

/// Flattens the top-level conjunction into single tests, rejecting every other operator.
fn collect<'c>(cond: &'c Condition, out: &mut Vec<KeyTest<'c>>) -> Result<(), ExprError> {
    match cond {
        Condition::And(a, b) => {
            collect(a, out)?;
            collect(b, out)
        }
        Condition::Or(..) => Err(invalid_operator("OR")),
        Condition::Not(..) => Err(invalid_operator("NOT")),
        Condition::In(..) => Err(invalid_operator("IN")),
        Condition::AttributeExists(_) => Err(invalid_operator("attribute_exists")),
        Condition::AttributeNotExists(_) => Err(invalid_operator("attribute_not_exists")),
        Condition::AttributeType(..) => Err(invalid_operator("attribute_type")),
        Condition::Contains(..) | Condition::NotContains(..) => Err(invalid_operator("contains")),
        Condition::True => Err(ExprError::new("Query key condition not supported")),
        Condition::Compare(a, op, b) => {
            if *op == CompareOp::Ne {
                return Err(invalid_operator("<>"));
            }
            if matches!(a, Operand::Size(_)) || matches!(b, Operand::Size(_)) {
                return Err(ExprError::new(
                    "KeyConditionExpressions cannot contain nested operations",
                ));
            }
            let (path, op, value) = match (a, b) {
                (Operand::Path(p), v) => (p, *op, v),
                (v, Operand::Path(p)) => (p, op.swapped(), v),
                _ => return Err(ExprError::new("Query key condition not supported")),
            };
            if matches!(value, Operand::Path(_)) {
                return Err(ExprError::new(
                    "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
                ));
            }
            let attr = key_attr(path)?;
            let value = value_of(value)?.clone();
            let test = match op {
                CompareOp::Eq => SortKeyCondition::Eq(value),
                CompareOp::Lt => SortKeyCondition::Lt(value),
                CompareOp::Le => SortKeyCondition::Le(value),
                CompareOp::Gt => SortKeyCondition::Gt(value),
                CompareOp::Ge => SortKeyCondition::Ge(value),
                CompareOp::Ne => return Err(invalid_operator("<>")),
            };
            out.push(KeyTest { attr, test });
            Ok(())
        }
        Condition::Between(x, low, high) => {
            let Operand::Path(path) = x else {
                return Err(ExprError::new("Query key condition not supported"));
            };
            let attr = key_attr(path)?;
            let test = SortKeyCondition::Between(value_of(low)?.clone(), value_of(high)?.clone());
            out.push(KeyTest { attr, test });
            Ok(())
        }
        Condition::BeginsWith(x, prefix) => {
            let Operand::Path(path) = x else {
                return Err(ExprError::new("Query key condition not supported"));
            };
            let attr = key_attr(path)?;
            let test = SortKeyCondition::BeginsWith(value_of(prefix)?.clone());
            out.push(KeyTest { attr, test });
            Ok(())
        }
    }
}

/// Checks a parsed KeyConditionExpression (or converted legacy KeyConditions) against the key
/// schema of the table or index being queried.
pub fn key_condition(
    cond: &Condition,
    hash_key: &str,
    range_key: Option<&str>,
) -> Result<KeyCondition, ExprError> {
    let mut tests = Vec::new();
    collect(cond, &mut tests)?;
    for (i, t) in tests.iter().enumerate() {
        if tests[..i].iter().any(|u| u.attr == t.attr) {
            return Err(ExprError::new(
                "KeyConditionExpressions must only contain one condition per key",
            ));
        }
    }
    if tests.len() > 2 {
        return Err(ExprError::new("Conditions can be of length 1 or 2 only"));
    }
    // A table (or index) without a sort key takes one condition only, whatever the second
    // one names.
    if range_key.is_none() && tests.len() == 2 {
        return Err(ExprError::new("Query key condition not supported"));
    }
    let missed =
        |name: &str| ExprError::new(format!("Query condition missed key schema element: {name}"));
    let mut partition = None;
    let mut sort = None;
    for t in tests {
        let slot = if t.attr == hash_key {
            &mut partition
        } else if Some(t.attr) == range_key {
            &mut sort
        } else {
            // An attribute outside the key schema: DynamoDB reports the key element the
            // condition fails to cover.
            let name = if partition.is_none() {
                hash_key
            } else {
                range_key.unwrap_or(t.attr)
            };
            return Err(missed(name));
        };
        *slot = Some(t.test);
    }
    let partition_value = match partition {
        Some(SortKeyCondition::Eq(v)) => v,
        Some(_) => return Err(ExprError::new("Query key condition not supported")),
        None => return Err(missed(hash_key)),
    };
    Ok(KeyCondition {
        partition_value,
        sort,
    })
}
