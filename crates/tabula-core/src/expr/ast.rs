//! The resolved expression trees: every `#name` is replaced by the attribute name it stands
//! for and every `:value` by its value, so evaluation needs nothing but the item.

use std::fmt;

use crate::value::AttributeValue;

/// One step of a document path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElem {
    /// A top-level attribute or a map key.
    Attr(String),
    /// A list element.
    Index(usize),
}

/// A document path such as `a.b[2].c`, with names resolved.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<PathElem>);

impl Path {
    /// A path naming one top-level attribute.
    pub fn attr(name: &str) -> Path {
        Path(vec![PathElem::Attr(name.to_string())])
    }

    /// The top-level attribute the path starts from.
    pub fn top_level(&self) -> Option<&str> {
        match self.0.first() {
            Some(PathElem::Attr(name)) => Some(name),
            _ => None,
        }
    }
}

/// DynamoDB's rendering of a path in messages: `[a, b, [0]]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, elem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match elem {
                PathElem::Attr(name) => f.write_str(name)?,
                PathElem::Index(idx) => write!(f, "[{idx}]")?,
            }
        }
        f.write_str("]")
    }
}

/// A value-producing operand of a condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    Path(Path),
    Value(AttributeValue),
    /// `size(operand)`: a number, or no value when the operand has no size.
    Size(Box<Operand>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    /// The operator that gives the same result with the operands swapped (`:v < a` is `a > :v`).
    pub fn swapped(self) -> CompareOp {
        match self {
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::Le => CompareOp::Ge,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::Ge => CompareOp::Le,
            other => other,
        }
    }
}

/// A parsed ConditionExpression, FilterExpression or KeyConditionExpression, or a legacy
/// Expected / QueryFilter / ScanFilter / KeyConditions map converted into the same shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Compare(Operand, CompareOp, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    AttributeExists(Path),
    AttributeNotExists(Path),
    /// `attribute_type(operand, :t)`; the type name is checked at parse time. DynamoDB accepts
    /// any operand first, not only a path.
    AttributeType(Operand, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    /// The legacy NOT_CONTAINS operator: true only when the attribute exists and does not
    /// contain the operand (unlike `NOT contains(...)`, which is true for a missing attribute).
    NotContains(Operand, Operand),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    /// Always true: an empty legacy Expected/QueryFilter map.
    True,
}

/// A value computed for `SET path = ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateValue {
    Path(Path),
    Value(AttributeValue),
    IfNotExists(Path, Box<UpdateValue>),
    ListAppend(Box<UpdateValue>, Box<UpdateValue>),
    Plus(Box<UpdateValue>, Box<UpdateValue>),
    Minus(Box<UpdateValue>, Box<UpdateValue>),
}

/// One action of an update, in the order written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateAction {
    Set(Path, UpdateValue),
    Remove(Path),
    /// Adds a number, adds elements to a set, or (legacy AttributeUpdates only) appends a list.
    Add(Path, AttributeValue),
    /// Removes elements from a set.
    Delete(Path, AttributeValue),
}

impl UpdateAction {
    pub fn path(&self) -> &Path {
        match self {
            UpdateAction::Set(p, _)
            | UpdateAction::Remove(p)
            | UpdateAction::Add(p, _)
            | UpdateAction::Delete(p, _) => p,
        }
    }
}

/// A parsed UpdateExpression (or legacy AttributeUpdates).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UpdateExpr {
    pub actions: Vec<UpdateAction>,
    /// Built from legacy AttributeUpdates, which words type errors differently.
    pub(crate) legacy: bool,
}

/// A parsed ProjectionExpression (or legacy AttributesToGet).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Projection {
    pub(crate) paths: Vec<Path>,
}

impl Operand {
    fn collect_attrs(&self, out: &mut Vec<String>) {
        match self {
            Operand::Path(p) => {
                if let Some(a) = p.top_level() {
                    out.push(a.to_string());
                }
            }
            Operand::Value(_) => {}
            Operand::Size(inner) => inner.collect_attrs(out),
        }
    }
}

impl Condition {
    /// The top-level attributes the condition reads, in first-use order, without duplicates
    /// (Query refuses filters on key attributes).
    pub fn top_level_attrs(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_attrs(&mut out);
        let mut seen = std::collections::HashSet::new();
        out.retain(|a| seen.insert(a.clone()));
        out
    }

    fn collect_attrs(&self, out: &mut Vec<String>) {
        match self {
            Condition::Compare(a, _, b)
            | Condition::AttributeType(a, b)
            | Condition::BeginsWith(a, b)
            | Condition::Contains(a, b)
            | Condition::NotContains(a, b) => {
                a.collect_attrs(out);
                b.collect_attrs(out);
            }
            Condition::Between(a, b, c) => {
                a.collect_attrs(out);
                b.collect_attrs(out);
                c.collect_attrs(out);
            }
            Condition::In(a, list) => {
                a.collect_attrs(out);
                for o in list {
                    o.collect_attrs(out);
                }
            }
            Condition::AttributeExists(p) | Condition::AttributeNotExists(p) => {
                if let Some(a) = p.top_level() {
                    out.push(a.to_string());
                }
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.collect_attrs(out);
                b.collect_attrs(out);
            }
            Condition::Not(a) => a.collect_attrs(out),
            Condition::True => {}
        }
    }
}
