//! Key conditions of Query.

use super::super::*;
use super::support::*;
use crate::value::{AttributeValue, ScalarType};

fn key(text: &str, vals: &[(&str, AttributeValue)]) -> Result<KeyCondition, String> {
    let vals = values(vals);
    let mut r = Resolver::new(None, (!vals.is_empty()).then_some(&vals));
    let c = r
        .condition(ExprKind::KeyCondition, text)
        .map_err(|e| e.message)?;
    key_condition(&c, "pk", Some("sk")).map_err(|e| e.message)
}

#[test]
fn partition_equality_alone_or_with_one_sort_test() {
    let v = [(":p", s("a")), (":s", n("1")), (":t", n("9"))];
    assert_eq!(
        key("pk = :p", &v),
        Ok(KeyCondition {
            partition_value: s("a"),
            sort: None
        })
    );
    let k = key("sk BETWEEN :s AND :t AND :p = pk", &v).expect("valid");
    assert_eq!(k.partition_value, s("a"));
    assert_eq!(k.sort, Some(SortKeyCondition::Between(n("1"), n("9"))));
    let k = key("pk = :p AND :s < sk", &v).expect("valid");
    assert_eq!(k.sort, Some(SortKeyCondition::Gt(n("1"))), "operands swap");
}

#[test]
fn key_condition_rejects_what_dynamodb_rejects() {
    let v = [(":p", s("a")), (":s", n("1"))];
    let cases = [
        (
            "pk = :p OR sk = :s",
            "Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            "pk = :p AND sk <> :s",
            "Invalid operator used in KeyConditionExpression: <>",
        ),
        (
            "pk = :p AND attribute_exists(sk)",
            "Invalid operator used in KeyConditionExpression: attribute_exists",
        ),
        (
            "pk = :p AND size(sk) = :s",
            "KeyConditionExpressions cannot contain nested operations",
        ),
        ("pk < :p", "Query key condition not supported"),
        ("sk = :s", "Query condition missed key schema element: pk"),
        (
            "pk = :p AND pk = :p",
            "KeyConditionExpressions must only contain one condition per key",
        ),
        (
            "pk = :p AND sk = :s AND x = :s",
            "Conditions can be of length 1 or 2 only",
        ),
        (
            "pk.x = :p",
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: pk",
        ),
        (
            "pk = x",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(key(text, &v).err().as_deref(), Some(message), "{text}");
    }
}

#[test]
fn key_value_types_must_match_the_schema() {
    let k = key("pk = :p AND sk > :s", &[(":p", n("1")), (":s", n("1"))]).expect("valid");
    assert_eq!(
        k.check_types(ScalarType::S, Some(ScalarType::N))
            .err()
            .map(|e| e.message)
            .as_deref(),
        Some(
            "One or more parameter values were invalid: Condition parameter type does not match schema type"
        )
    );
    assert!(k.check_types(ScalarType::N, Some(ScalarType::N)).is_ok());
}

#[test]
fn sort_key_conditions_match_values() {
    let between = SortKeyCondition::Between(n("1"), n("3"));
    assert!(between.matches(&n("1")));
    assert!(between.matches(&n("3")));
    assert!(!between.matches(&n("3.1")));
    assert!(!between.matches(&s("2")));
    let prefix = SortKeyCondition::BeginsWith(s("ab"));
    assert!(prefix.matches(&s("abc")));
    assert!(!prefix.matches(&s("b")));
    assert!(SortKeyCondition::Lt(s("b")).matches(&s("a")));
    assert!(
        SortKeyCondition::Ge(AttributeValue::B(vec![1])).matches(&AttributeValue::B(vec![1, 0]))
    );
}
