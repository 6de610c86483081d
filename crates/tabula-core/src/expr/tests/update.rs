//! Applying update expressions.

use super::support::*;
use crate::value::{AttributeValue, Item};

fn sample() -> Item {
    item(&[
        ("s", s("str")),
        ("n", n("5")),
        ("l", l(vec![s("x"), s("y"), s("z")])),
        ("m", m(&[("k", n("1")), ("mm", m(&[]))])),
        ("ss", ss(&["a", "b"])),
        ("ns", ns(&["1", "2"])),
    ])
}

const WRONG_TYPE: &str = "An operand in the update expression has an incorrect data type";
const MISSING: &str =
    "The provided expression refers to an attribute that does not exist in the item";
const BAD_PATH: &str = "The document path provided in the update expression is invalid for update";

#[test]
fn set_writes_values_paths_and_sums() {
    let it = sample();
    let out = applied(
        "SET a = :v, b = s, c = n + :one, d = n - :one",
        &[(":v", s("x")), (":one", n("1"))],
        &it,
    )
    .expect("applies");
    assert_eq!(out.get("a"), Some(&s("x")));
    assert_eq!(out.get("b"), Some(&s("str")));
    assert_eq!(out.get("c"), Some(&n("6")));
    assert_eq!(out.get("d"), Some(&n("4")));
}

#[test]
fn set_reads_the_item_as_it_was_before_the_update() {
    let it = item(&[("a", s("1")), ("b", s("2"))]);
    let out = applied("SET a = b, b = a", &[], &it).expect("applies");
    assert_eq!(out.get("a"), Some(&s("2")));
    assert_eq!(out.get("b"), Some(&s("1")));
}

#[test]
fn set_on_missing_source_or_wrong_types_fails() {
    let it = sample();
    assert_eq!(
        applied("SET a = nope", &[], &it).err().as_deref(),
        Some(MISSING)
    );
    assert_eq!(
        applied("SET a = s + :one", &[(":one", n("1"))], &it)
            .err()
            .as_deref(),
        Some(WRONG_TYPE)
    );
    assert_eq!(
        applied("SET a = list_append(s, :l)", &[(":l", l(vec![]))], &it)
            .err()
            .as_deref(),
        Some(WRONG_TYPE)
    );
}

#[test]
fn number_overflow_in_updates_uses_dynamodb_messages() {
    let it = sample();
    let big = [(":b", n("9.9e125"))];
    assert_eq!(
        applied("SET a = :b + :b", &big, &it).err().as_deref(),
        Some(
            "Number overflow. Attempting to store a number with magnitude larger than supported range"
        )
    );
    assert_eq!(
        applied("ADD n :b", &big, &it).err().as_deref(),
        Some("DynamoDB only supports precision up to 38 digits")
    );
}

#[test]
fn if_not_exists_and_list_append() {
    let it = sample();
    let v = [(":v", s("new")), (":l", l(vec![s("q")]))];
    let out = applied(
        "SET a = if_not_exists(s, :v), b = if_not_exists(nope, :v), l = list_append(:l, l)",
        &v,
        &it,
    )
    .expect("applies");
    assert_eq!(out.get("a"), Some(&s("str")));
    assert_eq!(out.get("b"), Some(&s("new")));
    assert_eq!(out.get("l"), Some(&l(vec![s("q"), s("x"), s("y"), s("z")])));
}

#[test]
fn set_list_index_beyond_end_appends_in_index_order() {
    let it = sample();
    let out = applied(
        "SET l[9] = :b, l[5] = :a",
        &[(":a", s("a")), (":b", s("b"))],
        &it,
    )
    .expect("applies");
    assert_eq!(
        out.get("l"),
        Some(&l(vec![s("x"), s("y"), s("z"), s("a"), s("b")]))
    );
}

#[test]
fn set_nested_requires_existing_parent_of_right_type() {
    let it = sample();
    let v = [(":v", s("v"))];
    let out = applied("SET m.mm.z = :v, m.fresh = :v", &v, &it).expect("applies");
    assert_eq!(
        out.get("m"),
        Some(&m(&[
            ("k", n("1")),
            ("mm", m(&[("z", s("v"))])),
            ("fresh", s("v"))
        ]))
    );
    assert_eq!(
        applied("SET nope.x = :v", &v, &it).err().as_deref(),
        Some(BAD_PATH)
    );
    assert_eq!(
        applied("SET s[0] = :v", &v, &it).err().as_deref(),
        Some(BAD_PATH)
    );
    assert_eq!(
        applied("SET l.x = :v", &v, &it).err().as_deref(),
        Some(BAD_PATH)
    );
}

#[test]
fn remove_list_elements_shifts_and_uses_original_indexes() {
    let it = sample();
    let out = applied("REMOVE l[0], l[1]", &[], &it).expect("applies");
    assert_eq!(out.get("l"), Some(&l(vec![s("z")])));
    let out = applied("REMOVE l[10], nope, m.nope", &[], &it).expect("applies");
    assert_eq!(out, it, "removing what is not there changes nothing");
    assert_eq!(
        applied("REMOVE nope.x", &[], &it).err().as_deref(),
        Some(BAD_PATH)
    );
}

#[test]
fn add_creates_sums_and_unions() {
    let it = sample();
    let v = [
        (":one", n("1")),
        (":s", ss(&["b", "c"])),
        (":ns", ns(&["3"])),
    ];
    let out =
        applied("ADD n :one, fresh :one, ss :s, newset :s, ns :ns", &v, &it).expect("applies");
    assert_eq!(out.get("n"), Some(&n("6")));
    assert_eq!(out.get("fresh"), Some(&n("1")));
    assert_eq!(out.get("ss"), Some(&ss(&["a", "b", "c"])));
    assert_eq!(out.get("newset"), Some(&ss(&["b", "c"])));
    assert_eq!(out.get("ns"), Some(&ns(&["1", "2", "3"])));
    assert_eq!(
        applied("ADD s :one", &v, &it).err().as_deref(),
        Some(WRONG_TYPE)
    );
    assert_eq!(
        applied("ADD ss :ns", &v, &it).err().as_deref(),
        Some(WRONG_TYPE)
    );
}

#[test]
fn delete_removes_set_elements_and_drops_empty_sets() {
    let it = sample();
    let out = applied("DELETE ss :a", &[(":a", ss(&["a", "q"]))], &it).expect("applies");
    assert_eq!(out.get("ss"), Some(&ss(&["b"])));
    let out = applied("DELETE ss :a", &[(":a", ss(&["a", "b"]))], &it).expect("applies");
    assert!(!out.contains_key("ss"), "no empty sets are stored");
    let out = applied("DELETE nope :a", &[(":a", ss(&["a"]))], &it).expect("applies");
    assert_eq!(out, it);
    assert_eq!(
        applied("DELETE s :a", &[(":a", ss(&["a"]))], &it)
            .err()
            .as_deref(),
        Some(WRONG_TYPE)
    );
}

#[test]
fn failed_update_leaves_item_unchanged() {
    let mut it = sample();
    let before = it.clone();
    let u = update("SET a = :v, b = nope", &[(":v", s("x"))]).expect("parses");
    assert!(u.apply(&mut it).is_err());
    assert_eq!(it, before);
}

#[test]
fn update_of_a_missing_item_starts_from_empty() {
    let out = applied(
        "SET a = :v ADD c :one",
        &[(":v", s("x")), (":one", n("1"))],
        &Item::new(),
    )
    .expect("applies");
    assert_eq!(out, item(&[("a", s("x")), ("c", n("1"))]));
    let _ = AttributeValue::Null;
}
