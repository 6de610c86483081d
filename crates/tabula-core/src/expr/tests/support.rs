//! Small builders shared by the unit tests.

use std::collections::{BTreeMap, HashMap};

use super::super::*;
use crate::number::Number;
use crate::value::{AttributeValue, Item};

pub(crate) fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

pub(crate) fn n(v: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(v).unwrap_or_else(|_| Number::zero()))
}

pub(crate) fn ss(v: &[&str]) -> AttributeValue {
    AttributeValue::Ss(v.iter().map(|e| e.to_string()).collect())
}

pub(crate) fn ns(v: &[&str]) -> AttributeValue {
    AttributeValue::Ns(
        v.iter()
            .map(|e| Number::parse(e).unwrap_or_else(|_| Number::zero()))
            .collect(),
    )
}

pub(crate) fn l(v: Vec<AttributeValue>) -> AttributeValue {
    AttributeValue::L(v)
}

pub(crate) fn m(entries: &[(&str, AttributeValue)]) -> AttributeValue {
    AttributeValue::M(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

pub(crate) fn item(entries: &[(&str, AttributeValue)]) -> Item {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub(crate) fn values(entries: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub(crate) fn names(entries: &[(&str, &str)]) -> HashMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Parses a condition with the given values (no names) and returns it or the message.
pub(crate) fn cond(text: &str, vals: &[(&str, AttributeValue)]) -> Result<Condition, String> {
    let vals = values(vals);
    let mut r = Resolver::new(None, (!vals.is_empty()).then_some(&vals));
    r.condition(ExprKind::Condition, text)
        .map_err(|e| e.message)
}

/// Evaluates a condition against an item; panics on a parse error (test helper).
pub(crate) fn holds(text: &str, vals: &[(&str, AttributeValue)], it: &Item) -> bool {
    match cond(text, vals) {
        Ok(c) => c.evaluate(it).unwrap_or(false),
        Err(e) => panic!("{text}: {e}"),
    }
}

pub(crate) fn cond_err(text: &str, vals: &[(&str, AttributeValue)]) -> String {
    match cond(text, vals) {
        Ok(c) => panic!("{text} parsed: {c:?}"),
        Err(e) => e,
    }
}

pub(crate) fn update(text: &str, vals: &[(&str, AttributeValue)]) -> Result<UpdateExpr, String> {
    let vals = values(vals);
    let mut r = Resolver::new(None, (!vals.is_empty()).then_some(&vals));
    r.update(text).map_err(|e| e.message)
}

/// Applies an update to a copy of `it` and returns the result or the message.
pub(crate) fn applied(
    text: &str,
    vals: &[(&str, AttributeValue)],
    it: &Item,
) -> Result<Item, String> {
    let u = update(text, vals)?;
    let mut out = it.clone();
    u.apply(&mut out).map_err(|e| e.message)?;
    Ok(out)
}
