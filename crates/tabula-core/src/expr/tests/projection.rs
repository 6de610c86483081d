//! Applying projections.

use super::super::*;
use super::support::*;
use crate::value::Item;

fn sample() -> Item {
    item(&[
        ("s", s("str")),
        ("n", n("5")),
        ("l", l(vec![s("x"), s("y"), s("z")])),
        ("m", m(&[("k", n("1")), ("mm", m(&[("q", s("w"))]))])),
    ])
}

fn project(text: &str, it: &Item) -> Item {
    let mut r = Resolver::new(None, None);
    match r.projection(text) {
        Ok(p) => p.apply(it),
        Err(e) => panic!("{text}: {}", e.message),
    }
}

#[test]
fn projection_keeps_only_requested_top_level_attributes() {
    assert_eq!(project("s, nope", &sample()), item(&[("s", s("str"))]));
}

#[test]
fn projection_of_nested_map_keys_keeps_structure() {
    assert_eq!(
        project("m.mm.q, m.k", &sample()),
        item(&[("m", m(&[("k", n("1")), ("mm", m(&[("q", s("w"))]))]))])
    );
    assert_eq!(
        project("m.k.z", &sample()),
        Item::new(),
        "path through a number"
    );
}

#[test]
fn projected_list_elements_are_packed_in_index_order() {
    assert_eq!(
        project("l[2], l[0], l[7]", &sample()),
        item(&[("l", l(vec![s("x"), s("z")]))])
    );
    assert_eq!(project("l[0].x", &sample()), Item::new());
}

#[test]
fn attributes_to_get_projects_top_level_names() {
    let p = legacy::attributes_to_get(&["n".to_string(), "l".to_string()]).expect("valid");
    assert_eq!(
        p.apply(&sample()),
        item(&[("n", n("5")), ("l", l(vec![s("x"), s("y"), s("z")]))])
    );
    assert_eq!(
        legacy::attributes_to_get(&["a".to_string(), "a".to_string()])
            .err()
            .map(|e| e.message)
            .as_deref(),
        Some("Cannot have two attributes with the same name")
    );
}
