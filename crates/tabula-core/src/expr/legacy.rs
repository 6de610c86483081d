//! The legacy conditional parameters (Expected, KeyConditions, QueryFilter, ScanFilter,
//! AttributeUpdates, AttributesToGet), converted into the same trees as expressions so the
//! engine has one code path. The input structs mirror the JSON shapes; the protocol module
//! fills them in. Messages are DynamoDB's ("One or more parameter values were invalid: ...").

use std::collections::BTreeMap;

use super::ast::Condition as ConditionTree;
use super::ast::{CompareOp, Operand, Path, Projection, UpdateAction, UpdateExpr};
use super::key::{KeyCondition, SortKeyCondition};
use super::resolve::long_type_name;
use super::{ExprError, eval};
use crate::value::AttributeValue;

/// One entry of `Expected`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpectedAttributeValue {
    pub value: Option<AttributeValue>,
    pub exists: Option<bool>,
    pub comparison_operator: Option<String>,
    pub attribute_value_list: Option<Vec<AttributeValue>>,
}

/// One entry of `KeyConditions`, `QueryFilter` or `ScanFilter`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    /// An unknown name is answered with "Comparison type does not exist in DynamoDB".
    pub comparison_operator: String,
    /// Empty when the request left it out.
    pub attribute_value_list: Vec<AttributeValue>,
}

/// One entry of `AttributeUpdates`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeValueUpdate {
    /// PUT (the default), ADD or DELETE.
    pub action: Option<String>,
    pub value: Option<AttributeValue>,
}

fn invalid(detail: impl AsRef<str>) -> ExprError {
    ExprError::new(format!(
        "One or more parameter values were invalid: {}",
        detail.as_ref()
    ))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    Eq,
    Ne,
    Le,
    Lt,
    Ge,
    Gt,
    NotNull,
    Null,
    Contains,
    NotContains,
    BeginsWith,
    In,
    Between,
}

impl Operator {
    fn parse(name: &str) -> Option<Operator> {
        Some(match name {
            "EQ" => Operator::Eq,
            "NE" => Operator::Ne,
            "LE" => Operator::Le,
            "LT" => Operator::Lt,
            "GE" => Operator::Ge,
            "GT" => Operator::Gt,
            "NOT_NULL" => Operator::NotNull,
            "NULL" => Operator::Null,
            "CONTAINS" => Operator::Contains,
            "NOT_CONTAINS" => Operator::NotContains,
            "BEGINS_WITH" => Operator::BeginsWith,
            "IN" => Operator::In,
            "BETWEEN" => Operator::Between,
            _ => return None,
        })
    }

    fn takes_arguments(self) -> bool {
        !matches!(self, Operator::Null | Operator::NotNull)
    }
}

fn unknown_operator() -> ExprError {
    ExprError::new("Comparison type does not exist in DynamoDB")
}

fn is_scalar(v: &AttributeValue) -> bool {
    matches!(
        v,
        AttributeValue::S(_) | AttributeValue::N(_) | AttributeValue::B(_)
    )
}

/// Checks the argument count and types of one comparison and builds its condition.
fn comparison(
    attr: &str,
    name: &str,
    op: Operator,
    args: &[AttributeValue],
) -> Result<ConditionTree, ExprError> {
    let count_ok = match op {
        Operator::Null | Operator::NotNull => args.is_empty(),
        Operator::Between => args.len() == 2,
        Operator::In => !args.is_empty(),
        _ => args.len() == 1,
    };
    if !count_ok {
        return Err(invalid(format!(
            "Invalid number of argument(s) for the {name} ComparisonOperator"
        )));
    }
    for v in args {
        let allowed = match op {
            Operator::Eq | Operator::Ne | Operator::Null | Operator::NotNull => true,
            Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge => is_scalar(v),
            Operator::In | Operator::Between => is_scalar(v),
            Operator::BeginsWith => matches!(v, AttributeValue::S(_) | AttributeValue::B(_)),
            Operator::Contains | Operator::NotContains => !matches!(
                v,
                AttributeValue::Ss(_)
                    | AttributeValue::Ns(_)
                    | AttributeValue::Bs(_)
                    | AttributeValue::L(_)
                    | AttributeValue::M(_)
            ),
        };
        if !allowed {
            return Err(invalid(format!(
                "ComparisonOperator {name} is not valid for {} AttributeValue type",
                v.type_name()
            )));
        }
    }
    if matches!(op, Operator::In | Operator::Between)
        && args
            .windows(2)
            .any(|w| w[0].type_name() != w[1].type_name())
    {
        return Err(invalid(
            "AttributeValues inside AttributeValueList must be of same type",
        ));
    }
    let path = Path::attr(attr);
    let target = || Operand::Path(path.clone());
    let arg = |i: usize| Operand::Value(args.get(i).cloned().unwrap_or(AttributeValue::Null));
    let compare = |cmp| ConditionTree::Compare(target(), cmp, arg(0));
    Ok(match op {
        Operator::Eq => compare(CompareOp::Eq),
        Operator::Ne => compare(CompareOp::Ne),
        Operator::Lt => compare(CompareOp::Lt),
        Operator::Le => compare(CompareOp::Le),
        Operator::Gt => compare(CompareOp::Gt),
        Operator::Ge => compare(CompareOp::Ge),
        Operator::NotNull => ConditionTree::AttributeExists(path),
        Operator::Null => ConditionTree::AttributeNotExists(path),
        Operator::Contains => ConditionTree::Contains(target(), arg(0)),
        Operator::NotContains => ConditionTree::NotContains(target(), arg(0)),
        Operator::BeginsWith => ConditionTree::BeginsWith(target(), arg(0)),
        Operator::In => ConditionTree::In(target(), (0..args.len()).map(arg).collect()),
        Operator::Between => {
            if let (Some(low), Some(high)) = (args.first(), args.get(1))
                && eval::compare_scalars(low, high) == Some(std::cmp::Ordering::Greater)
            {
                return Err(ExprError::new(
                    "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
                ));
            }
            ConditionTree::Between(target(), arg(0), arg(1))
        }
    })
}

/// DynamoDB's answer to a `ConditionalOperator` with no `Expected`, `QueryFilter` or
/// `ScanFilter` entries to join (whatever its value).
pub const NO_CONDITIONS_TO_JOIN: &str =
    "ConditionalOperator cannot be used without Filter or Expected";

/// Joins conditions with AND or OR as `ConditionalOperator` says.
fn combine(
    parts: Vec<ConditionTree>,
    conditional_operator: Option<&str>,
) -> Result<ConditionTree, ExprError> {
    if conditional_operator.is_some() && parts.is_empty() {
        return Err(ExprError::new(NO_CONDITIONS_TO_JOIN));
    }
    let or = match conditional_operator {
        None | Some("AND") => false,
        Some("OR") => true,
        Some(other) => {
            return Err(ExprError::new(format!(
                "1 validation error detected: Value '{other}' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [AND, OR]"
            )));
        }
    };
    if conditional_operator.is_some() && parts.len() < 2 {
        return Err(ExprError::new(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        ));
    }
    Ok(balanced(parts, or).unwrap_or(ConditionTree::True))
}

/// Joins conditions into a balanced tree, so that a map with many entries cannot make
/// evaluation (or dropping the tree) recurse deeply.
fn balanced(mut parts: Vec<ConditionTree>, or: bool) -> Option<ConditionTree> {
    if parts.len() <= 1 {
        return parts.pop();
    }
    let right = parts.split_off(parts.len() / 2);
    let (Some(a), Some(b)) = (balanced(parts, or), balanced(right, or)) else {
        return None;
    };
    Some(if or {
        ConditionTree::Or(Box::new(a), Box::new(b))
    } else {
        ConditionTree::And(Box::new(a), Box::new(b))
    })
}

/// Converts `Expected` (+ `ConditionalOperator`) into a condition.
pub fn expected(
    expected: &BTreeMap<String, ExpectedAttributeValue>,
    conditional_operator: Option<&str>,
) -> Result<ConditionTree, ExprError> {
    let mut parts = Vec::with_capacity(expected.len());
    for (attr, e) in expected {
        let part = match &e.comparison_operator {
            None => {
                if e.attribute_value_list.is_some() {
                    return Err(invalid(format!(
                        "AttributeValueList can only be used with a ComparisonOperator for Attribute: {attr}"
                    )));
                }
                match (e.exists, &e.value) {
                    (Some(false), Some(_)) => {
                        return Err(invalid(format!(
                            "Value cannot be used when Exists is false for Attribute: {attr}"
                        )));
                    }
                    (Some(false), None) => ConditionTree::AttributeNotExists(Path::attr(attr)),
                    (exists, None) => {
                        let word = if exists == Some(true) { "true" } else { "null" };
                        return Err(invalid(format!(
                            "Value must be provided when Exists is {word} for Attribute: {attr}"
                        )));
                    }
                    (_, Some(v)) => ConditionTree::Compare(
                        Operand::Path(Path::attr(attr)),
                        CompareOp::Eq,
                        Operand::Value(v.clone()),
                    ),
                }
            }
            Some(name) => {
                if e.exists.is_some() {
                    return Err(invalid(format!(
                        "Exists and ComparisonOperator cannot be used together for Attribute: {attr}"
                    )));
                }
                if e.value.is_some() && e.attribute_value_list.is_some() {
                    return Err(invalid(format!(
                        "Value and AttributeValueList cannot be used together for Attribute: {attr}"
                    )));
                }
                let args: Vec<AttributeValue> = match (&e.value, &e.attribute_value_list) {
                    (Some(v), _) => vec![v.clone()],
                    (None, Some(list)) => list.clone(),
                    (None, None) => Vec::new(),
                };
                let op = Operator::parse(name);
                if e.value.is_none()
                    && e.attribute_value_list.is_none()
                    && op.is_none_or(Operator::takes_arguments)
                {
                    return Err(invalid(format!(
                        "Value or AttributeValueList must be used with ComparisonOperator: {name} for Attribute: {attr}"
                    )));
                }
                let op = op.ok_or_else(unknown_operator)?;
                comparison(attr, name, op, &args)?
            }
        };
        parts.push(part);
    }
    combine(parts, conditional_operator)
}

/// Converts `QueryFilter` or `ScanFilter` (+ `ConditionalOperator`) into a condition.
pub fn filter(
    filter: &BTreeMap<String, Condition>,
    conditional_operator: Option<&str>,
) -> Result<ConditionTree, ExprError> {
    let mut parts = Vec::with_capacity(filter.len());
    for (attr, c) in filter {
        let name = c.comparison_operator.as_str();
        let op = Operator::parse(name).ok_or_else(unknown_operator)?;
        parts.push(comparison(attr, name, op, &c.attribute_value_list)?);
    }
    combine(parts, conditional_operator)
}

/// Converts `KeyConditions` into a key condition for the given key schema.
pub fn key_conditions(
    conditions: &BTreeMap<String, Condition>,
    hash_key: &str,
    range_key: Option<&str>,
) -> Result<KeyCondition, ExprError> {
    if conditions.is_empty() {
        return Err(ExprError::new("Conditions must be at least length 1"));
    }
    if conditions.len() > 2 {
        return Err(ExprError::new("Conditions can be of length 1 or 2 only"));
    }
    let mut partition = None;
    let mut sort = None;
    for (attr, c) in conditions {
        let name = c.comparison_operator.as_str();
        let op = Operator::parse(name).ok_or_else(unknown_operator)?;
        // Validates counts, types and BETWEEN bounds with the usual messages.
        comparison(attr, name, op, &c.attribute_value_list)?;
        let args = &c.attribute_value_list;
        let first = || args.first().cloned().unwrap_or(AttributeValue::Null);
        if attr == hash_key {
            if op != Operator::Eq {
                return Err(ExprError::new("Query key condition not supported"));
            }
            partition = Some(first());
            continue;
        }
        if Some(attr.as_str()) != range_key {
            let missing = if conditions.contains_key(hash_key) {
                range_key.unwrap_or(attr)
            } else {
                hash_key
            };
            return Err(ExprError::new(format!(
                "Query condition missed key schema element: {missing}"
            )));
        }
        sort = Some(match op {
            Operator::Eq => SortKeyCondition::Eq(first()),
            Operator::Lt => SortKeyCondition::Lt(first()),
            Operator::Le => SortKeyCondition::Le(first()),
            Operator::Gt => SortKeyCondition::Gt(first()),
            Operator::Ge => SortKeyCondition::Ge(first()),
            Operator::BeginsWith => SortKeyCondition::BeginsWith(first()),
            Operator::Between => SortKeyCondition::Between(
                first(),
                args.get(1).cloned().unwrap_or(AttributeValue::Null),
            ),
            Operator::Null | Operator::NotNull => {
                return Err(ExprError::new(
                    "Only scalar types can be used as Range Key values",
                ));
            }
            Operator::Ne | Operator::In | Operator::Contains | Operator::NotContains => {
                return Err(ExprError::new(
                    "Attempted conditional constraint is not an indexable operation",
                ));
            }
        });
    }
    let Some(partition_value) = partition else {
        return Err(ExprError::new(format!(
            "Query condition missed key schema element: {hash_key}"
        )));
    };
    Ok(KeyCondition {
        partition_value,
        sort,
    })
}

/// Converts `AttributeUpdates` into an update. PUT (the default) sets, DELETE without a value
/// removes, DELETE with a set value removes elements, ADD adds numbers, set elements or list
/// elements.
pub fn attribute_updates(
    updates: &BTreeMap<String, AttributeValueUpdate>,
) -> Result<UpdateExpr, ExprError> {
    let mut actions = Vec::with_capacity(updates.len());
    for (attr, u) in updates {
        let path = Path::attr(attr);
        let action = u.action.as_deref().unwrap_or("PUT");
        let action = match (action, &u.value) {
            ("PUT" | "ADD", None) => {
                return Err(invalid(
                    "Only DELETE action is allowed when no attribute value is specified",
                ));
            }
            ("PUT", Some(v)) => UpdateAction::Set(path, super::ast::UpdateValue::Value(v.clone())),
            ("DELETE", None) => UpdateAction::Remove(path),
            ("DELETE", Some(v)) => {
                if !matches!(
                    v,
                    AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                ) {
                    return Err(invalid(format!(
                        "DELETE action with value is not supported for the type {}",
                        long_type_name(v)
                    )));
                }
                UpdateAction::Delete(path, v.clone())
            }
            ("ADD", Some(v)) => {
                if !matches!(
                    v,
                    AttributeValue::N(_)
                        | AttributeValue::Ss(_)
                        | AttributeValue::Ns(_)
                        | AttributeValue::Bs(_)
                        | AttributeValue::L(_)
                ) {
                    return Err(invalid(format!(
                        "ADD action is not supported for the type {}",
                        long_type_name(v)
                    )));
                }
                UpdateAction::Add(path, v.clone())
            }
            _ => {
                return Err(ExprError::new(
                    "Member must satisfy enum value set: [ADD, DELETE, PUT]",
                ));
            }
        };
        actions.push(action);
    }
    Ok(UpdateExpr {
        actions,
        legacy: true,
    })
}

/// Converts `AttributesToGet` into a projection of top-level attributes.
pub fn attributes_to_get(names: &[String]) -> Result<Projection, ExprError> {
    if names.is_empty() {
        return Err(ExprError::new(
            "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(ExprError::new(
                "Cannot have two attributes with the same name",
            ));
        }
    }
    Ok(Projection::of_attributes(names))
}
