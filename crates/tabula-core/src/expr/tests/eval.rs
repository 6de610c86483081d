//! Condition evaluation semantics.

use super::support::*;
use crate::value::{AttributeValue, Item};

fn sample() -> Item {
    item(&[
        ("s", s("str")),
        ("n", n("5")),
        ("b", AttributeValue::B(vec![0, 1, 2])),
        ("ss", ss(&["a", "b"])),
        ("ns", ns(&["1", "2"])),
        ("l", l(vec![s("x"), n("2"), m(&[("q", s("w"))])])),
        ("m", m(&[("k", n("1")), ("sub1", m(&[("deep", s("d"))]))])),
        ("t", AttributeValue::Bool(true)),
        ("z", AttributeValue::Null),
        ("u", s("h\u{e9}llo\u{1F600}")),
    ])
}

#[test]
fn comparisons_between_same_scalar_types() {
    let it = sample();
    assert!(holds("s = :v", &[(":v", s("str"))], &it));
    assert!(holds("s < :v", &[(":v", s("t"))], &it));
    assert!(holds("n > :v", &[(":v", n("4.99"))], &it));
    assert!(holds("n >= :v", &[(":v", n("5.0"))], &it));
    assert!(holds(
        "b > :v",
        &[(":v", AttributeValue::B(vec![0, 1]))],
        &it
    ));
    assert!(
        !holds("n < :v", &[(":v", s("9"))], &it),
        "N vs S never orders"
    );
}

#[test]
fn missing_attributes_make_comparisons_false_except_not_equal() {
    let it = sample();
    let v = [(":v", s("x"))];
    assert!(!holds("nope = :v", &v, &it));
    assert!(!holds("nope < :v", &v, &it));
    assert!(holds("nope <> :v", &v, &it));
    assert!(holds("NOT nope = :v", &v, &it));
    assert!(!holds("nope BETWEEN :v AND :v", &v, &it));
    assert!(!holds("nope IN (:v)", &v, &it));
}

#[test]
fn equality_is_deep_and_sets_ignore_order() {
    let it = sample();
    assert!(holds("ss = :v", &[(":v", ss(&["b", "a"]))], &it));
    assert!(holds("ns = :v", &[(":v", ns(&["2", "1.0"]))], &it));
    assert!(holds(
        "l = :v",
        &[(":v", l(vec![s("x"), n("2.00"), m(&[("q", s("w"))])]))],
        &it
    ));
    assert!(!holds("l = :v", &[(":v", l(vec![n("2"), s("x")]))], &it));
    assert!(holds("t = :v", &[(":v", AttributeValue::Bool(true))], &it));
    assert!(holds("z = :v", &[(":v", AttributeValue::Null)], &it));
    assert!(
        holds("s <> :v", &[(":v", n("1"))], &it),
        "different types are unequal"
    );
}

#[test]
fn between_is_inclusive() {
    let it = sample();
    assert!(holds(
        "n BETWEEN :a AND :b",
        &[(":a", n("5")), (":b", n("5"))],
        &it
    ));
    assert!(holds(
        "s BETWEEN :a AND :b",
        &[(":a", s("a")), (":b", s("str"))],
        &it
    ));
    assert!(!holds(
        "n BETWEEN :a AND :b",
        &[(":a", n("6")), (":b", n("7"))],
        &it
    ));
}

#[test]
fn in_matches_any_listed_value() {
    let it = sample();
    assert!(holds(
        "n IN (:a, :b)",
        &[(":a", s("5")), (":b", n("5"))],
        &it
    ));
    assert!(!holds("n IN (:a)", &[(":a", s("5"))], &it));
}

#[test]
fn nested_paths_and_list_indexes_resolve() {
    let it = sample();
    assert!(holds("m.sub1.deep = :v", &[(":v", s("d"))], &it));
    assert!(holds("l[2].q = :v", &[(":v", s("w"))], &it));
    assert!(!holds("l[3] = :v", &[(":v", s("w"))], &it));
    assert!(!holds("s.x = :v", &[(":v", s("w"))], &it));
    assert!(holds("attribute_exists(l[1])", &[], &it));
    assert!(holds("attribute_not_exists(m.nope)", &[], &it));
}

#[test]
fn attribute_type_matches_type_names() {
    let it = sample();
    for (attr, t) in [
        ("s", "S"),
        ("n", "N"),
        ("b", "B"),
        ("ss", "SS"),
        ("ns", "NS"),
        ("l", "L"),
        ("m", "M"),
        ("t", "BOOL"),
        ("z", "NULL"),
    ] {
        assert!(
            holds(&format!("attribute_type({attr}, :t)"), &[(":t", s(t))], &it),
            "{attr}"
        );
    }
    assert!(!holds("attribute_type(s, :t)", &[(":t", s("N"))], &it));
    assert!(!holds("attribute_type(nope, :t)", &[(":t", s("S"))], &it));
}

#[test]
fn begins_with_works_on_strings_and_binaries() {
    let it = sample();
    assert!(holds("begins_with(s, :p)", &[(":p", s("st"))], &it));
    assert!(holds("begins_with(s, :p)", &[(":p", s(""))], &it));
    assert!(!holds("begins_with(s, :p)", &[(":p", s("tr"))], &it));
    assert!(holds(
        "begins_with(b, :p)",
        &[(":p", AttributeValue::B(vec![0, 1]))],
        &it
    ));
    assert!(!holds("begins_with(l, :p)", &[(":p", s("x"))], &it));
}

#[test]
fn contains_searches_strings_sets_and_lists() {
    let it = sample();
    assert!(holds("contains(s, :v)", &[(":v", s("tr"))], &it));
    assert!(holds("contains(ss, :v)", &[(":v", s("a"))], &it));
    assert!(!holds("contains(ss, :v)", &[(":v", s("c"))], &it));
    assert!(holds("contains(ns, :v)", &[(":v", n("2"))], &it));
    assert!(holds("contains(l, :v)", &[(":v", n("2"))], &it));
    assert!(holds(
        "contains(l, :v)",
        &[(":v", m(&[("q", s("w"))]))],
        &it
    ));
    assert!(holds(
        "contains(b, :v)",
        &[(":v", AttributeValue::B(vec![1, 2]))],
        &it
    ));
    assert!(!holds("contains(n, :v)", &[(":v", n("5"))], &it));
    assert!(!holds("contains(ss, :v)", &[(":v", ss(&["a"]))], &it));
}

#[test]
fn size_counts_utf16_units_bytes_and_elements() {
    let it = sample();
    let eq = |text: &str, k: &str| holds(text, &[(":k", n(k))], &it);
    assert!(eq("size(s) = :k", "3"));
    assert!(eq("size(u) = :k", "7"), "h é l l o + one surrogate pair");
    assert!(eq("size(b) = :k", "3"));
    assert!(eq("size(ss) = :k", "2"));
    assert!(eq("size(l) = :k", "3"));
    assert!(eq("size(m) = :k", "2"));
    assert!(!eq("size(n) = :k", "1"), "numbers have no size");
    assert!(!eq("size(nope) = :k", "0"));
    assert!(holds("size(s) < size(l) OR size(s) = size(l)", &[], &it));
}

#[test]
fn logical_operators_combine() {
    let it = sample();
    let v = [(":a", s("str")), (":b", n("0"))];
    assert!(holds("s = :a AND NOT n = :b", &v, &it));
    assert!(holds("n = :b OR s = :a", &v, &it));
    assert!(!holds("(n = :b OR s = :a) AND n = :b", &v, &it));
}

#[test]
fn conditions_on_a_missing_item_see_an_empty_map() {
    let empty = Item::new();
    assert!(holds("attribute_not_exists(pk)", &[], &empty));
    assert!(!holds("attribute_exists(pk)", &[], &empty));
}
