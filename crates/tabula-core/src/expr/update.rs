//! Applying an update to an item. Every value an action reads comes from the item as it was
//! before the update (`SET a = b, b = a` swaps), list indexes refer to the original list, and
//! actions touch disjoint paths (the parser rejects overlaps), so applying SET, ADD and DELETE
//! in order and then REMOVE from the highest list index down gives DynamoDB's result.

use std::collections::HashSet;
use std::hash::Hash;

use super::ExprError;
use super::ast::{Path, PathElem, UpdateAction, UpdateExpr, UpdateValue};
use super::eval::lookup;
use crate::number::NumberError;
use crate::value::{AttributeValue, Item};

const MISSING_ATTRIBUTE: &str =
    "The provided expression refers to an attribute that does not exist in the item";
const WRONG_TYPE: &str = "An operand in the update expression has an incorrect data type";
const LEGACY_WRONG_TYPE: &str = "Type mismatch for attribute to update";
const INVALID_PATH: &str =
    "The document path provided in the update expression is invalid for update";

fn err(message: &str) -> ExprError {
    ExprError::new(message)
}

/// The messages DynamoDB gives when arithmetic in an update leaves the number range.
pub(crate) fn arithmetic_error(e: NumberError) -> ExprError {
    match e {
        NumberError::TooManyDigits => err("DynamoDB only supports precision up to 38 digits"),
        other => ExprError::new(other.to_string()),
    }
}

fn evaluate(original: &Item, value: &UpdateValue) -> Result<AttributeValue, ExprError> {
    Ok(match value {
        UpdateValue::Value(v) => v.clone(),
        UpdateValue::Path(p) => lookup(original, p)
            .cloned()
            .ok_or_else(|| err(MISSING_ATTRIBUTE))?,
        UpdateValue::IfNotExists(p, fallback) => {
            // DynamoDB evaluates the fallback even when it is not needed: a fallback path
            // that does not exist is an error either way.
            let fallback = evaluate(original, fallback)?;
            match lookup(original, p) {
                Some(v) => v.clone(),
                None => fallback,
            }
        }
        UpdateValue::ListAppend(a, b) => {
            let a = evaluate(original, a)?;
            let b = evaluate(original, b)?;
            match (a, b) {
                (AttributeValue::L(mut a), AttributeValue::L(b)) => {
                    a.extend(b);
                    AttributeValue::L(a)
                }
                _ => return Err(err(WRONG_TYPE)),
            }
        }
        UpdateValue::Plus(a, b) | UpdateValue::Minus(a, b) => {
            let a = evaluate(original, a)?;
            let b = evaluate(original, b)?;
            let (AttributeValue::N(a), AttributeValue::N(b)) = (a, b) else {
                return Err(err(WRONG_TYPE));
            };
            let result = if matches!(value, UpdateValue::Plus(..)) {
                a.add(&b)
            } else {
                a.sub(&b)
            };
            AttributeValue::N(result.map_err(arithmetic_error)?)
        }
    })
}

/// The container that holds the last element of `path`, which must exist.
fn parent_mut<'a>(item: &'a mut Item, path: &Path) -> Result<&'a mut AttributeValue, ExprError> {
    let Some((PathElem::Attr(first), rest)) = path.0.split_first() else {
        return Err(err(INVALID_PATH));
    };
    let mut current = item.get_mut(first).ok_or_else(|| err(INVALID_PATH))?;
    for elem in rest.iter().take(rest.len().saturating_sub(1)) {
        current = match (elem, current) {
            (PathElem::Attr(name), AttributeValue::M(m)) => m.get_mut(name),
            (PathElem::Index(i), AttributeValue::L(l)) => l.get_mut(*i),
            _ => None,
        }
        .ok_or_else(|| err(INVALID_PATH))?;
    }
    Ok(current)
}

/// Writes `value` at `path`: replaces an existing value, adds a map key, or replaces a list
/// element (an index past the end appends).
fn set_at(item: &mut Item, path: &Path, value: AttributeValue) -> Result<(), ExprError> {
    match path.0.as_slice() {
        [PathElem::Attr(name)] => {
            item.insert(name.clone(), value);
            Ok(())
        }
        [.., last] => match (last, parent_mut(item, path)?) {
            (PathElem::Attr(name), AttributeValue::M(m)) => {
                m.insert(name.clone(), value);
                Ok(())
            }
            (PathElem::Index(i), AttributeValue::L(l)) => {
                match l.get_mut(*i) {
                    Some(slot) => *slot = value,
                    None => l.push(value),
                }
                Ok(())
            }
            _ => Err(err(INVALID_PATH)),
        },
        [] => Err(err(INVALID_PATH)),
    }
}

fn remove_at(item: &mut Item, path: &Path) -> Result<(), ExprError> {
    match path.0.as_slice() {
        [PathElem::Attr(name)] => {
            item.remove(name);
            Ok(())
        }
        [.., last] => match (last, parent_mut(item, path)?) {
            (PathElem::Attr(name), AttributeValue::M(m)) => {
                m.remove(name);
                Ok(())
            }
            (PathElem::Index(i), AttributeValue::L(l)) => {
                if *i < l.len() {
                    l.remove(*i);
                }
                Ok(())
            }
            _ => Err(err(INVALID_PATH)),
        },
        [] => Err(err(INVALID_PATH)),
    }
}

/// Union of two sets of the same type, keeping the existing order and appending new elements.
fn union<T: Eq + Hash + Clone>(existing: &[T], added: &[T]) -> Vec<T> {
    let mut seen: HashSet<&T> = existing.iter().collect();
    let mut out = existing.to_vec();
    for e in added {
        if seen.insert(e) {
            out.push(e.clone());
        }
    }
    out
}

fn difference<T: Eq + Hash + Clone>(existing: &[T], removed: &[T]) -> Vec<T> {
    let removed: HashSet<&T> = removed.iter().collect();
    existing
        .iter()
        .filter(|e| !removed.contains(e))
        .cloned()
        .collect()
}

/// ADD: sums numbers, unions sets, appends lists (legacy AttributeUpdates only); creates the
/// attribute when it is missing.
fn add_value(
    existing: Option<&AttributeValue>,
    added: &AttributeValue,
) -> Result<AttributeValue, ExprError> {
    use AttributeValue as V;
    let Some(existing) = existing else {
        return Ok(added.clone());
    };
    Ok(match (existing, added) {
        (V::N(a), V::N(b)) => V::N(a.add(b).map_err(arithmetic_error)?),
        (V::Ss(a), V::Ss(b)) => V::Ss(union(a, b)),
        (V::Ns(a), V::Ns(b)) => V::Ns(union(a, b)),
        (V::Bs(a), V::Bs(b)) => V::Bs(union(a, b)),
        (V::L(a), V::L(b)) => V::L(a.iter().chain(b).cloned().collect()),
        _ => return Err(err(WRONG_TYPE)),
    })
}

/// DELETE: removes elements from a set; `None` when nothing is left (DynamoDB stores no empty
/// sets, so the attribute goes away).
fn delete_value(
    existing: &AttributeValue,
    removed: &AttributeValue,
) -> Result<Option<AttributeValue>, ExprError> {
    use AttributeValue as V;
    let result = match (existing, removed) {
        (V::Ss(a), V::Ss(b)) => V::Ss(difference(a, b)),
        (V::Ns(a), V::Ns(b)) => V::Ns(difference(a, b)),
        (V::Bs(a), V::Bs(b)) => V::Bs(difference(a, b)),
        _ => return Err(err(WRONG_TYPE)),
    };
    let empty = match &result {
        V::Ss(v) => v.is_empty(),
        V::Ns(v) => v.is_empty(),
        V::Bs(v) => v.is_empty(),
        _ => false,
    };
    Ok(if empty { None } else { Some(result) })
}

/// What to do at one path once every new value is known.
enum Write {
    Put(AttributeValue),
    Remove,
}

impl UpdateExpr {
    /// Applies the update to `item` (empty when the item does not exist yet). On error the item
    /// is left unchanged.
    pub fn apply(&self, item: &mut Item) -> Result<(), ExprError> {
        self.apply_inner(item).map_err(|e| {
            if self.legacy && e.message == WRONG_TYPE {
                err(LEGACY_WRONG_TYPE)
            } else {
                e
            }
        })
    }

    fn apply_inner(&self, item: &mut Item) -> Result<(), ExprError> {
        let original: &Item = item;
        let mut writes: Vec<(&Path, Write)> = Vec::with_capacity(self.actions.len());
        let mut removals: Vec<&Path> = Vec::new();
        for action in &self.actions {
            match action {
                UpdateAction::Set(path, value) => {
                    writes.push((path, Write::Put(evaluate(original, value)?)));
                }
                UpdateAction::Remove(path) => removals.push(path),
                UpdateAction::Add(path, value) => {
                    let result = add_value(lookup(original, path), value)?;
                    writes.push((path, Write::Put(result)));
                }
                UpdateAction::Delete(path, value) => {
                    match lookup(original, path) {
                        Some(existing) => {
                            let write = match delete_value(existing, value)? {
                                Some(v) => Write::Put(v),
                                None => Write::Remove,
                            };
                            writes.push((path, write));
                        }
                        // Nothing to delete from; the path must still be reachable.
                        None if !parent_reachable(original, path) => {
                            return Err(err(INVALID_PATH));
                        }
                        None => {}
                    }
                }
            }
        }
        // DynamoDB applies writes in path order: appends past the end of a list land in index
        // order whatever order they were written in.
        writes.sort_by(|a, b| a.0.cmp(b.0));
        let mut updated = item.clone();
        for (path, write) in writes {
            match write {
                Write::Put(value) => set_at(&mut updated, path, value)?,
                Write::Remove => removals.push(path),
            }
        }
        // Highest list index first, so earlier removals do not shift later ones.
        removals.sort_by(|a, b| b.cmp(a));
        for path in removals {
            remove_at(&mut updated, path)?;
        }
        *item = updated;
        Ok(())
    }

    /// The top-level attributes the update writes or removes, in first-mention order: for the
    /// key-attribute check and for ReturnValues UPDATED_OLD / UPDATED_NEW.
    pub fn top_level_attrs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for action in &self.actions {
            if let Some(name) = action.path().top_level()
                && !out.iter().any(|n| n == name)
            {
                out.push(name.to_string());
            }
        }
        out
    }
}

/// True when the container that would hold the last element of `path` exists.
fn parent_reachable(item: &Item, path: &Path) -> bool {
    let Some((last, parent)) = path.0.split_last() else {
        return false;
    };
    if parent.is_empty() {
        return true;
    }
    matches!(
        (last, lookup(item, &Path(parent.to_vec()))),
        (PathElem::Attr(_), Some(AttributeValue::M(_)))
            | (PathElem::Index(_), Some(AttributeValue::L(_)))
    )
}
