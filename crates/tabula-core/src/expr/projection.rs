//! Applying a projection: the result holds only the requested paths, nested maps keep only the
//! requested keys, and projected list elements are packed in index order (`l[3], l[1]` gives a
//! two-element list). Paths that do not exist are left out.

use std::collections::BTreeMap;

use super::ast::{Path, PathElem, Projection};
use super::eval::lookup;
use crate::value::{AttributeValue, Item};

/// The part of a value selected so far.
enum Picked {
    Whole(AttributeValue),
    Map(BTreeMap<String, Picked>),
    List(BTreeMap<usize, Picked>),
}

impl Picked {
    fn into_value(self) -> AttributeValue {
        match self {
            Picked::Whole(v) => v,
            Picked::Map(m) => {
                AttributeValue::M(m.into_iter().map(|(k, v)| (k, v.into_value())).collect())
            }
            Picked::List(l) => AttributeValue::L(l.into_values().map(Picked::into_value).collect()),
        }
    }
}

/// Records `value` (found at `rest` below `slot`) into `slot`.
fn pick(slot: &mut Option<Picked>, source: &AttributeValue, rest: &[PathElem]) {
    let Some((first, rest)) = rest.split_first() else {
        *slot = Some(Picked::Whole(source.clone()));
        return;
    };
    match (first, source) {
        (PathElem::Attr(name), AttributeValue::M(m)) => {
            let Some(child) = m.get(name) else { return };
            if slot.is_none() {
                *slot = Some(Picked::Map(BTreeMap::new()));
            }
            if let Some(Picked::Map(picked)) = slot {
                let mut entry = picked.remove(name);
                pick(&mut entry, child, rest);
                if let Some(e) = entry {
                    picked.insert(name.clone(), e);
                }
            }
        }
        (PathElem::Index(i), AttributeValue::L(l)) => {
            let Some(child) = l.get(*i) else { return };
            if slot.is_none() {
                *slot = Some(Picked::List(BTreeMap::new()));
            }
            if let Some(Picked::List(picked)) = slot {
                let mut entry = picked.remove(i);
                pick(&mut entry, child, rest);
                if let Some(e) = entry {
                    picked.insert(*i, e);
                }
            }
        }
        _ => {}
    }
}

impl Projection {
    /// A projection of the given top-level attributes (legacy AttributesToGet).
    pub fn of_attributes(names: &[String]) -> Projection {
        Projection {
            paths: names.iter().map(|n| Path::attr(n)).collect(),
        }
    }

    /// A projection of arbitrary document paths (the paths an update touched, for
    /// `ReturnValues: UPDATED_OLD / UPDATED_NEW`).
    pub fn of_paths(paths: Vec<Path>) -> Projection {
        Projection { paths }
    }

    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// The top-level attributes the projection reads (for index projections and Select).
    pub fn top_level_attrs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for path in &self.paths {
            if let Some(name) = path.top_level()
                && !out.iter().any(|n| n == name)
            {
                out.push(name.to_string());
            }
        }
        out
    }

    pub fn apply(&self, item: &Item) -> Item {
        let mut picked: BTreeMap<String, Picked> = BTreeMap::new();
        for path in &self.paths {
            let Some((PathElem::Attr(name), rest)) = path.0.split_first() else {
                continue;
            };
            let Some(source) = item.get(name) else {
                continue;
            };
            if lookup(item, path).is_none() {
                continue;
            }
            let mut entry = picked.remove(name);
            pick(&mut entry, source, rest);
            if let Some(e) = entry {
                picked.insert(name.clone(), e);
            }
        }
        picked
            .into_iter()
            .map(|(k, v)| (k, v.into_value()))
            .collect()
    }
}
