//! Legacy conditional parameters.

use std::collections::BTreeMap;

use super::super::legacy::{self, AttributeValueUpdate, ExpectedAttributeValue};
use super::support::*;
use crate::value::{AttributeValue, Item};

fn sample() -> Item {
    item(&[
        ("s", s("str")),
        ("n", n("5")),
        ("ss", ss(&["a", "b"])),
        ("l", l(vec![s("x")])),
    ])
}

fn expected(
    entries: Vec<(&str, ExpectedAttributeValue)>,
    op: Option<&str>,
) -> Result<bool, String> {
    let map: BTreeMap<String, ExpectedAttributeValue> = entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let c = legacy::expected(&map, op).map_err(|e| e.message)?;
    c.evaluate(&sample()).map_err(|e| e.message)
}

fn with_op(op: &str, args: Vec<AttributeValue>) -> ExpectedAttributeValue {
    ExpectedAttributeValue {
        comparison_operator: Some(op.to_string()),
        attribute_value_list: Some(args),
        ..Default::default()
    }
}

fn value(v: AttributeValue) -> ExpectedAttributeValue {
    ExpectedAttributeValue {
        value: Some(v),
        ..Default::default()
    }
}

#[test]
fn expected_value_and_exists_forms() {
    assert_eq!(expected(vec![("s", value(s("str")))], None), Ok(true));
    assert_eq!(expected(vec![("s", value(s("no")))], None), Ok(false));
    let absent = ExpectedAttributeValue {
        exists: Some(false),
        ..Default::default()
    };
    assert_eq!(expected(vec![("nope", absent.clone())], None), Ok(true));
    assert_eq!(expected(vec![("s", absent)], None), Ok(false));
    assert_eq!(expected(vec![], None), Ok(true));
}

#[test]
fn expected_validation_messages() {
    let exists_true = ExpectedAttributeValue {
        exists: Some(true),
        ..Default::default()
    };
    assert_eq!(
        expected(vec![("s", exists_true)], None).err().as_deref(),
        Some(
            "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: s"
        )
    );
    let false_with_value = ExpectedAttributeValue {
        exists: Some(false),
        value: Some(s("x")),
        ..Default::default()
    };
    assert_eq!(
        expected(vec![("s", false_with_value)], None)
            .err()
            .as_deref(),
        Some(
            "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: s"
        )
    );
    let mut both = with_op("EQ", vec![s("x")]);
    both.exists = Some(true);
    assert_eq!(
        expected(vec![("s", both)], None).err().as_deref(),
        Some(
            "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: s"
        )
    );
    let no_args = ExpectedAttributeValue {
        comparison_operator: Some("EQ".to_string()),
        ..Default::default()
    };
    assert_eq!(
        expected(vec![("s", no_args)], None).err().as_deref(),
        Some(
            "One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: s"
        )
    );
    assert_eq!(
        expected(vec![("s", with_op("EQ", vec![]))], None)
            .err()
            .as_deref(),
        Some(
            "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator"
        )
    );
    assert_eq!(
        expected(vec![("s", with_op("LT", vec![ss(&["a"])]))], None)
            .err()
            .as_deref(),
        Some(
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for SS AttributeValue type"
        )
    );
    assert_eq!(
        expected(vec![("s", with_op("eq", vec![s("x")]))], None)
            .err()
            .as_deref(),
        Some("Comparison type does not exist in DynamoDB")
    );
    assert_eq!(
        expected(vec![("s", with_op("BETWEEN", vec![s("z"), s("a")]))], None)
            .err()
            .as_deref(),
        Some(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"
        )
    );
    assert_eq!(
        expected(vec![("s", with_op("IN", vec![s("z"), n("1")]))], None)
            .err()
            .as_deref(),
        Some(
            "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type"
        )
    );
    assert_eq!(
        expected(vec![("s", value(s("str")))], Some("OR"))
            .err()
            .as_deref(),
        Some(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements"
        )
    );
}

#[test]
fn expected_comparison_operators_evaluate_like_dynamodb() {
    let cases = [
        ("s", "EQ", vec![s("str")], true),
        ("nope", "NE", vec![s("a")], true),
        ("n", "GE", vec![n("5")], true),
        ("n", "LT", vec![n("5")], false),
        ("s", "LT", vec![n("5")], false),
        ("s", "NOT_NULL", vec![], true),
        ("nope", "NULL", vec![], true),
        ("s", "CONTAINS", vec![s("tr")], true),
        ("ss", "CONTAINS", vec![s("a")], true),
        ("l", "CONTAINS", vec![s("x")], true),
        ("nope", "NOT_CONTAINS", vec![s("a")], false),
        ("ss", "NOT_CONTAINS", vec![s("c")], true),
        ("s", "BEGINS_WITH", vec![s("st")], true),
        ("s", "IN", vec![s("x"), s("str")], true),
        ("n", "BETWEEN", vec![n("1"), n("5")], true),
        ("ss", "EQ", vec![ss(&["b", "a"])], true),
    ];
    for (attr, op, args, want) in cases {
        assert_eq!(
            expected(vec![(attr, with_op(op, args))], None),
            Ok(want),
            "{attr} {op}"
        );
    }
}

#[test]
fn conditional_operator_joins_with_and_or_or() {
    let two = || vec![("s", value(s("str"))), ("n", value(n("1")))];
    assert_eq!(expected(two(), None), Ok(false));
    assert_eq!(expected(two(), Some("AND")), Ok(false));
    assert_eq!(expected(two(), Some("OR")), Ok(true));
    // One entry is too few to join; none at all is refused before the operator is even
    // checked against AND/OR.
    let one = || vec![("s", value(s("str")))];
    assert_eq!(
        expected(one(), Some("OR")),
        Err(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements"
                .into()
        )
    );
    for op in ["AND", "XOR"] {
        assert_eq!(
            expected(vec![], Some(op)),
            Err(legacy::NO_CONDITIONS_TO_JOIN.into()),
            "{op}"
        );
        assert_eq!(
            legacy::filter(&BTreeMap::new(), Some(op))
                .err()
                .map(|e| e.message),
            Some(legacy::NO_CONDITIONS_TO_JOIN.into())
        );
    }
}

#[test]
fn scan_filter_requires_a_known_operator() {
    let mut f = BTreeMap::new();
    f.insert(
        "s".to_string(),
        legacy::Condition {
            comparison_operator: "XX".to_string(),
            attribute_value_list: vec![s("a")],
        },
    );
    assert_eq!(
        legacy::filter(&f, None).err().map(|e| e.message).as_deref(),
        Some("Comparison type does not exist in DynamoDB")
    );
    f.insert(
        "s".to_string(),
        legacy::Condition {
            comparison_operator: "BEGINS_WITH".to_string(),
            attribute_value_list: vec![s("st")],
        },
    );
    let c = legacy::filter(&f, None).expect("valid");
    assert_eq!(c.evaluate(&sample()), Ok(true));
}

fn kc(op: &str, args: Vec<AttributeValue>) -> legacy::Condition {
    legacy::Condition {
        comparison_operator: op.to_string(),
        attribute_value_list: args,
    }
}

#[test]
fn key_conditions_convert_and_validate() {
    let mut k = BTreeMap::new();
    k.insert("pk".to_string(), kc("EQ", vec![s("a")]));
    k.insert("sk".to_string(), kc("BEGINS_WITH", vec![s("x")]));
    let out = legacy::key_conditions(&k, "pk", Some("sk")).expect("valid");
    assert_eq!(out.partition_value, s("a"));
    assert_eq!(
        out.sort,
        Some(super::super::SortKeyCondition::BeginsWith(s("x")))
    );

    k.insert("sk".to_string(), kc("IN", vec![s("x")]));
    assert_eq!(
        legacy::key_conditions(&k, "pk", Some("sk"))
            .err()
            .map(|e| e.message)
            .as_deref(),
        Some("Attempted conditional constraint is not an indexable operation")
    );
    let empty = BTreeMap::new();
    assert_eq!(
        legacy::key_conditions(&empty, "pk", Some("sk"))
            .err()
            .map(|e| e.message)
            .as_deref(),
        Some("Conditions must be at least length 1")
    );
    let mut only_sort = BTreeMap::new();
    only_sort.insert("sk".to_string(), kc("EQ", vec![s("x")]));
    assert_eq!(
        legacy::key_conditions(&only_sort, "pk", Some("sk"))
            .err()
            .map(|e| e.message)
            .as_deref(),
        Some("Query condition missed key schema element: pk")
    );
    let mut gt = BTreeMap::new();
    gt.insert("pk".to_string(), kc("GT", vec![s("x")]));
    assert_eq!(
        legacy::key_conditions(&gt, "pk", None)
            .err()
            .map(|e| e.message)
            .as_deref(),
        Some("Query key condition not supported")
    );
}

fn updates(
    entries: Vec<(&str, Option<&str>, Option<AttributeValue>)>,
) -> BTreeMap<String, AttributeValueUpdate> {
    entries
        .into_iter()
        .map(|(k, action, value)| {
            (
                k.to_string(),
                AttributeValueUpdate {
                    action: action.map(str::to_string),
                    value,
                },
            )
        })
        .collect()
}

#[test]
fn attribute_updates_put_add_delete() {
    let u = legacy::attribute_updates(&updates(vec![
        ("p", None, Some(s("v"))),
        ("s", Some("DELETE"), None),
        ("n", Some("ADD"), Some(n("2"))),
        ("l", Some("ADD"), Some(l(vec![s("y")]))),
        ("ss", Some("DELETE"), Some(ss(&["a"]))),
    ]))
    .expect("valid");
    let mut it = sample();
    u.apply(&mut it).expect("applies");
    assert_eq!(
        it,
        item(&[
            ("p", s("v")),
            ("n", n("7")),
            ("l", l(vec![s("x"), s("y")])),
            ("ss", ss(&["b"])),
        ])
    );
}

#[test]
fn attribute_updates_messages() {
    let err = |e: Vec<(&str, Option<&str>, Option<AttributeValue>)>| {
        legacy::attribute_updates(&updates(e))
            .err()
            .map(|e| e.message)
    };
    assert_eq!(
        err(vec![("x", Some("PUT"), None)]).as_deref(),
        Some(
            "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
        )
    );
    assert_eq!(
        err(vec![("x", Some("ADD"), Some(s("q")))]).as_deref(),
        Some(
            "One or more parameter values were invalid: ADD action is not supported for the type STRING"
        )
    );
    assert_eq!(
        err(vec![("x", Some("DELETE"), Some(s("q")))]).as_deref(),
        Some(
            "One or more parameter values were invalid: DELETE action with value is not supported for the type STRING"
        )
    );
    let u = legacy::attribute_updates(&updates(vec![("ss", Some("ADD"), Some(ns(&["1"])))]))
        .expect("valid");
    let mut it = sample();
    assert_eq!(
        u.apply(&mut it).err().map(|e| e.message).as_deref(),
        Some("Type mismatch for attribute to update")
    );
}
