//! Random input never panics: every parser answers Ok or an ExprError.

use proptest::prelude::*;

use super::super::*;
use super::oracle::fixture_item;
use super::support::*;

/// Fragments that make random strings look like expressions often enough to reach deep paths.
const PIECES: &[&str] = &[
    "a",
    "b",
    ".",
    "[",
    "]",
    "0",
    "1",
    "(",
    ")",
    ",",
    "=",
    "<>",
    "<",
    ">=",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    ":v",
    ":n",
    ":l",
    "#a",
    "size",
    "contains",
    "begins_with",
    "attribute_exists",
    "attribute_type",
    "if_not_exists",
    "list_append",
    "+",
    "-",
    " ",
    "$",
    "é",
    "year",
    "99999999999",
];

fn run_everything(text: &str) {
    let vals = values(&[(":v", s("x")), (":n", n("1")), (":l", l(vec![s("q")]))]);
    let nm = names(&[("#a", "a")]);
    let it = fixture_item();
    for kind in [
        ExprKind::Condition,
        ExprKind::Filter,
        ExprKind::KeyCondition,
    ] {
        let mut r = Resolver::new(Some(&nm), Some(&vals));
        if let Ok(c) = r.condition(kind, text) {
            let _ = c.evaluate(&it);
            let _ = key_condition(&c, "a", Some("b"));
        }
        let _ = r.finish();
    }
    let mut r = Resolver::new(Some(&nm), Some(&vals));
    if let Ok(u) = r.update(text) {
        let mut copy = it.clone();
        let _ = u.apply(&mut copy);
        let _ = u.top_level_attrs();
    }
    let mut r = Resolver::new(Some(&nm), Some(&vals));
    if let Ok(p) = r.projection(text) {
        let _ = p.apply(&it);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,80}") {
        run_everything(&text);
    }

    #[test]
    fn random_token_soup_never_panics(parts in proptest::collection::vec(0..PIECES.len(), 0..40)) {
        let text: Vec<&str> = parts.iter().map(|i| PIECES[*i]).collect();
        run_everything(&text.join(" "));
        run_everything(&text.concat());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["(", "NOT ", "size(", "if_not_exists(a, "] {
        let text = format!("{}a = :v", open.repeat(2000));
        run_everything(&text);
    }
}

const OPERATORS: &[&str] = &[
    "EQ",
    "NE",
    "LE",
    "LT",
    "GE",
    "GT",
    "NOT_NULL",
    "NULL",
    "CONTAINS",
    "NOT_CONTAINS",
    "BEGINS_WITH",
    "IN",
    "BETWEEN",
    "eq",
    "",
    "XX",
];

fn sample_value(i: usize) -> crate::value::AttributeValue {
    use crate::value::AttributeValue;
    match i % 8 {
        0 => s("a"),
        1 => n("1"),
        2 => AttributeValue::B(vec![1]),
        3 => ss(&["a"]),
        4 => l(vec![s("x")]),
        5 => m(&[]),
        6 => AttributeValue::Null,
        _ => s(""),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_legacy_conditions_never_panic(
        entries in proptest::collection::vec(
            (0..4usize, 0..OPERATORS.len(), proptest::collection::vec(0..8usize, 0..4), any::<bool>()),
            0..5,
        ),
        conditional in 0..4usize,
    ) {
        use std::collections::BTreeMap;
        let attrs = ["pk", "sk", "s", "n"];
        let mut expected = BTreeMap::new();
        let mut filter = BTreeMap::new();
        let mut updates = BTreeMap::new();
        for (attr, op, args, flag) in &entries {
            let list: Vec<_> = args.iter().map(|i| sample_value(*i)).collect();
            expected.insert(attrs[*attr].to_string(), legacy::ExpectedAttributeValue {
                value: flag.then(|| sample_value(args.len())),
                exists: (!flag).then_some(args.is_empty()),
                comparison_operator: (op % 3 != 0).then(|| OPERATORS[*op].to_string()),
                attribute_value_list: (!list.is_empty()).then(|| list.clone()),
            });
            filter.insert(attrs[*attr].to_string(), legacy::Condition {
                comparison_operator: OPERATORS[*op].to_string(),
                attribute_value_list: list.clone(),
            });
            updates.insert(attrs[*attr].to_string(), legacy::AttributeValueUpdate {
                action: [None, Some("PUT"), Some("ADD"), Some("DELETE")][args.len() % 4].map(str::to_string),
                value: list.first().cloned(),
            });
        }
        let op = [None, Some("AND"), Some("OR"), Some("XOR")][conditional];
        let it = fixture_item();
        if let Ok(c) = legacy::expected(&expected, op) {
            let _ = c.evaluate(&it);
        }
        if let Ok(c) = legacy::filter(&filter, op) {
            let _ = c.evaluate(&it);
        }
        let _ = legacy::key_conditions(&filter, "pk", Some("sk"));
        if let Ok(u) = legacy::attribute_updates(&updates) {
            let mut copy = it.clone();
            let _ = u.apply(&mut copy);
        }
    }
}
