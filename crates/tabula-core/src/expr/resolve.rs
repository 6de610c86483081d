//! Semantic checks on raw parse trees and their conversion into resolved trees.
//!
//! DynamoDB checks in two walks over the tree, and the order decides which message a user sees
//! when an expression has several problems: first function names and reserved words, in text
//! order; then, in text order and children before parents, names and values are resolved and
//! every operator and function checks its operands.

use super::ast::{
    CompareOp, Condition, Operand, Path, PathElem, Projection, UpdateAction, UpdateExpr,
    UpdateValue,
};
use super::parser::{ArithOp, RawAction, RawCond, RawElem, RawOperand, RawPath};
use super::reserved::is_reserved;
use super::{ExprKind, Resolver};
use crate::value::{AttributeValue, MAX_NESTING_DEPTH};

/// Most operands DynamoDB accepts in `IN (...)`.
const MAX_IN_OPERANDS: usize = 100;
/// Most operators and functions in one expression.
const MAX_OPERATORS: usize = 300;

const CONDITION_FUNCTIONS: [&str; 6] = [
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
];
const UPDATE_FUNCTIONS: [&str; 2] = ["if_not_exists", "list_append"];

/// The type names `attribute_type` accepts, in the order DynamoDB lists them in its message.
const TYPE_NAMES_MESSAGE: &str = "{N,BS,L,B,NULL,M,S,SS,NS,BOOL}";
const TYPE_NAMES: [&str; 10] = ["N", "BS", "L", "B", "NULL", "M", "S", "SS", "NS", "BOOL"];

type Check<T> = Result<T, String>;

// ---- walk 1: function names and reserved words ----

pub(crate) fn check_names_cond(cond: &RawCond, kind: ExprKind) -> Check<()> {
    match cond {
        RawCond::Compare(_, a, b) => {
            check_names_operand(a, kind)?;
            check_names_operand(b, kind)
        }
        RawCond::Between(a, b, c) => {
            check_names_operand(a, kind)?;
            check_names_operand(b, kind)?;
            check_names_operand(c, kind)
        }
        RawCond::In(a, list) => {
            check_names_operand(a, kind)?;
            list.iter().try_for_each(|op| check_names_operand(op, kind))
        }
        RawCond::Call(op) => check_names_operand(op, kind),
        RawCond::Not(c) | RawCond::Paren(c) => check_names_cond(c, kind),
        RawCond::And(a, b) | RawCond::Or(a, b) => {
            check_names_cond(a, kind)?;
            check_names_cond(b, kind)
        }
    }
}

pub(crate) fn check_names_operand(op: &RawOperand, kind: ExprKind) -> Check<()> {
    match op {
        RawOperand::Path(path) => check_reserved(path),
        RawOperand::Value(_) => Ok(()),
        RawOperand::Paren(inner) => check_names_operand(inner, kind),
        RawOperand::Arith(_, a, b) => {
            check_names_operand(a, kind)?;
            check_names_operand(b, kind)
        }
        RawOperand::Call(name, args) => {
            let is_condition = CONDITION_FUNCTIONS.contains(&name.as_str());
            let is_update = UPDATE_FUNCTIONS.contains(&name.as_str());
            if !is_condition && !is_update {
                return Err(format!("Invalid function name; function: {name}"));
            }
            if kind == ExprKind::Update && !is_update {
                return Err(format!(
                    "The function is not allowed in an update expression; function: {name}"
                ));
            }
            if kind != ExprKind::Update && !is_condition {
                return Err(format!(
                    "The function is not allowed in a condition expression; function: {name}"
                ));
            }
            args.iter().try_for_each(|a| check_names_operand(a, kind))
        }
    }
}

pub(crate) fn check_reserved(path: &RawPath) -> Check<()> {
    for elem in &path.0 {
        if let RawElem::Ident(name) = elem
            && is_reserved(name)
        {
            return Err(format!(
                "Attribute name is a reserved keyword; reserved keyword: {name}"
            ));
        }
    }
    Ok(())
}

pub(crate) fn count_operators(cond: &RawCond) -> usize {
    fn operand(op: &RawOperand) -> usize {
        match op {
            RawOperand::Path(_) | RawOperand::Value(_) => 0,
            RawOperand::Paren(inner) => operand(inner),
            RawOperand::Arith(_, a, b) => 1 + operand(a) + operand(b),
            RawOperand::Call(_, args) => 1 + args.iter().map(operand).sum::<usize>(),
        }
    }
    match cond {
        RawCond::Compare(_, a, b) => 1 + operand(a) + operand(b),
        RawCond::Between(a, b, c) => 1 + operand(a) + operand(b) + operand(c),
        RawCond::In(a, list) => 1 + operand(a) + list.iter().map(operand).sum::<usize>(),
        RawCond::Call(op) => operand(op),
        RawCond::Not(c) => 1 + count_operators(c),
        RawCond::Paren(c) => count_operators(c),
        RawCond::And(a, b) | RawCond::Or(a, b) => 1 + count_operators(a) + count_operators(b),
    }
}

pub(crate) fn check_operator_count(count: usize) -> Check<()> {
    if count > MAX_OPERATORS {
        // DynamoDB stops counting at the first operator past the limit.
        return Err(format!(
            "The expression contains too many operators; operator count: {}",
            MAX_OPERATORS + 1
        ));
    }
    Ok(())
}

// ---- walk 2: resolution and operand checks ----

fn incorrect_operand_type(function: &str, type_name: &str) -> String {
    format!(
        "Incorrect operand type for operator or function; operator or function: {function}, operand type: {type_name}"
    )
}

fn wrong_operand_count(function: &str, count: usize) -> String {
    format!(
        "Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"
    )
}

fn needs_path(function: &str) -> String {
    format!("Operator or function requires a document path; operator or function: {function}")
}

fn not_allowed_here(function: &str) -> String {
    format!(
        "The function is not allowed to be used this way in an expression; function: {function}"
    )
}

/// DynamoDB's (Java) rendering of a value inside messages: `AttributeValue: {N:1}`.
pub(crate) fn describe_value(value: &AttributeValue) -> String {
    fn inner(value: &AttributeValue) -> String {
        let buffer =
            |b: &Vec<u8>| format!("java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]", b.len());
        match value {
            AttributeValue::S(s) => format!("S:{s}"),
            AttributeValue::N(n) => format!("N:{n}"),
            AttributeValue::B(b) => format!("B:{}", buffer(b)),
            AttributeValue::Bool(b) => format!("BOOL:{b}"),
            AttributeValue::Null => "NULL:true".to_string(),
            AttributeValue::Ss(v) => format!("SS:[{}]", v.join(", ")),
            AttributeValue::Ns(v) => format!(
                "NS:[{}]",
                v.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            AttributeValue::Bs(v) => format!(
                "BS:[{}]",
                v.iter().map(buffer).collect::<Vec<_>>().join(", ")
            ),
            AttributeValue::L(v) => format!(
                "L:[{}]",
                v.iter()
                    .map(|e| format!("{{{}}}", inner(e)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            AttributeValue::M(m) => format!(
                "M:{{{}}}",
                m.iter()
                    .map(|(k, e)| format!("{k}={{{}}}", inner(e)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    format!("AttributeValue: {{{}}}", inner(value))
}

/// The long type names used by the ADD and DELETE checks.
pub(crate) fn long_type_name(value: &AttributeValue) -> &'static str {
    match value {
        AttributeValue::S(_) => "STRING",
        AttributeValue::N(_) => "NUMBER",
        AttributeValue::B(_) => "BINARY",
        AttributeValue::Bool(_) => "BOOLEAN",
        AttributeValue::Null => "NULL",
        AttributeValue::Ss(_) => "STRING_SET",
        AttributeValue::Ns(_) => "NUMBER_SET",
        AttributeValue::Bs(_) => "BINARY_SET",
        AttributeValue::L(_) => "LIST",
        AttributeValue::M(_) => "MAP",
    }
}

fn unparen(op: &RawOperand) -> &RawOperand {
    match op {
        RawOperand::Paren(inner) => unparen(inner),
        other => other,
    }
}

/// The type an operand is known to have before evaluation, for operand checks.
fn static_type(op: &Operand) -> Option<&'static str> {
    match op {
        Operand::Value(v) => Some(v.type_name()),
        Operand::Size(_) => Some("N"),
        Operand::Path(_) => None,
    }
}

fn ensure_distinct(function: &str, first: &Operand, rest: &[&Operand]) -> Check<()> {
    if let Operand::Path(p) = first
        && rest.iter().any(|o| matches!(o, Operand::Path(q) if q == p))
    {
        return Err(format!(
            "The first operand must be distinct from the remaining operands for this operator or function; operator: {function}, first operand: {p}"
        ));
    }
    Ok(())
}

fn ensure_orderable(function: &str, op: &Operand) -> Check<()> {
    match static_type(op) {
        Some(t) if !matches!(t, "S" | "N" | "B") => Err(incorrect_operand_type(function, t)),
        _ => Ok(()),
    }
}

impl Resolver<'_> {
    pub(crate) fn resolve_path(&mut self, raw: &RawPath) -> Check<Path> {
        let mut elems = Vec::with_capacity(raw.0.len());
        for elem in &raw.0 {
            elems.push(match elem {
                RawElem::Ident(name) => PathElem::Attr(name.clone()),
                RawElem::Name(name) => PathElem::Attr(self.lookup_name(name)?),
                RawElem::Index(i) => PathElem::Index(*i),
            });
        }
        if elems.len() > MAX_NESTING_DEPTH {
            return Err(format!(
                "The document path has too many nesting levels; nesting levels: {}",
                elems.len()
            ));
        }
        Ok(Path(elems))
    }

    fn lookup_name(&mut self, name: &str) -> Check<String> {
        match self.names.and_then(|m| m.get(name)) {
            Some(resolved) => {
                self.used_names.insert(name.to_string());
                Ok(resolved.clone())
            }
            None => Err(format!(
                "An expression attribute name used in the document path is not defined; attribute name: {name}"
            )),
        }
    }

    pub(crate) fn lookup_value(&mut self, name: &str) -> Check<AttributeValue> {
        match self.values.and_then(|m| m.get(name)) {
            Some(value) => {
                self.used_values.insert(name.to_string());
                Ok(value.clone())
            }
            None => Err(format!(
                "An expression attribute value used in expression is not defined; attribute value: {name}"
            )),
        }
    }

    pub(crate) fn convert_cond(&mut self, raw: &RawCond) -> Check<Condition> {
        Ok(match raw {
            RawCond::Paren(c) => self.convert_cond(c)?,
            RawCond::Not(c) => Condition::Not(Box::new(self.convert_cond(c)?)),
            RawCond::And(a, b) => {
                let a = self.convert_cond(a)?;
                Condition::And(Box::new(a), Box::new(self.convert_cond(b)?))
            }
            RawCond::Or(a, b) => {
                let a = self.convert_cond(a)?;
                Condition::Or(Box::new(a), Box::new(self.convert_cond(b)?))
            }
            RawCond::Compare(op, a, b) => {
                let a = self.convert_operand(a)?;
                let b = self.convert_operand(b)?;
                if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                    ensure_orderable(op.symbol(), &a)?;
                    ensure_orderable(op.symbol(), &b)?;
                }
                ensure_distinct(op.symbol(), &a, &[&b])?;
                Condition::Compare(a, *op, b)
            }
            RawCond::Between(x, low, high) => {
                let x = self.convert_operand(x)?;
                let low = self.convert_operand(low)?;
                let high = self.convert_operand(high)?;
                for op in [&x, &low, &high] {
                    ensure_orderable("BETWEEN", op)?;
                }
                ensure_distinct("BETWEEN", &x, &[&low, &high])?;
                if let (Operand::Value(lv), Operand::Value(hv)) = (&low, &high) {
                    check_between_bounds(lv, hv)?;
                }
                Condition::Between(x, low, high)
            }
            RawCond::In(x, list) => {
                if list.len() > MAX_IN_OPERANDS {
                    return Err(format!(
                        "The IN operator is provided with too many operands; number of operands: {}",
                        list.len()
                    ));
                }
                let x = self.convert_operand(x)?;
                let mut ops = Vec::with_capacity(list.len());
                for op in list {
                    ops.push(self.convert_operand(op)?);
                }
                let refs: Vec<&Operand> = ops.iter().collect();
                ensure_distinct("IN", &x, &refs)?;
                Condition::In(x, ops)
            }
            RawCond::Call(call) => self.convert_bool_function(unparen(call))?,
        })
    }

    fn convert_bool_function(&mut self, call: &RawOperand) -> Check<Condition> {
        let RawOperand::Call(name, args) = call else {
            return Err("Syntax error; token: \"<EOF>\", near: \"\"".to_string());
        };
        let name = name.as_str();
        let arity = match name {
            "attribute_exists" | "attribute_not_exists" => 1,
            "attribute_type" | "begins_with" | "contains" => 2,
            _ => return Err(not_allowed_here(name)),
        };
        if args.len() != arity {
            return Err(wrong_operand_count(name, args.len()));
        }
        let mut ops = Vec::with_capacity(arity);
        for arg in args {
            ops.push(self.convert_operand(arg)?);
        }
        let mut ops = ops.into_iter();
        let (Some(first), second) = (ops.next(), ops.next()) else {
            return Err(wrong_operand_count(name, 0));
        };
        match (name, second) {
            ("attribute_exists", None) => match first {
                Operand::Path(p) => Ok(Condition::AttributeExists(p)),
                _ => Err(needs_path(name)),
            },
            ("attribute_not_exists", None) => match first {
                Operand::Path(p) => Ok(Condition::AttributeNotExists(p)),
                _ => Err(needs_path(name)),
            },
            ("attribute_type", Some(second)) => {
                match &second {
                    Operand::Value(AttributeValue::S(t)) => {
                        if !TYPE_NAMES.contains(&t.as_str()) {
                            return Err(format!(
                                "Invalid attribute type name found; type: {t}, valid types: {TYPE_NAMES_MESSAGE}"
                            ));
                        }
                    }
                    Operand::Path(_) => {
                        ensure_distinct(name, &first, &[&second])?;
                        return Err(incorrect_operand_type(
                            name,
                            "{BS,DOUBLESET,NULL,L,M,SS,DECIMAL,N,INTSET,BOOL,FLOAT,HD,INT,DECIMALSET,HDS,DOUBLE,B,NS,DICT,FS,S}",
                        ));
                    }
                    other => {
                        return Err(incorrect_operand_type(
                            name,
                            static_type(other).unwrap_or("N"),
                        ));
                    }
                }
                Ok(Condition::AttributeType(first, second))
            }
            ("begins_with", Some(second)) => {
                for op in [&first, &second] {
                    if let Some(t) = static_type(op)
                        && t != "S"
                        && t != "B"
                    {
                        return Err(incorrect_operand_type(name, t));
                    }
                }
                ensure_distinct(name, &first, &[&second])?;
                Ok(Condition::BeginsWith(first, second))
            }
            ("contains", Some(second)) => {
                ensure_distinct(name, &first, &[&second])?;
                Ok(Condition::Contains(first, second))
            }
            _ => Err(wrong_operand_count(name, args.len())),
        }
    }

    fn convert_operand(&mut self, raw: &RawOperand) -> Check<Operand> {
        match raw {
            RawOperand::Path(p) => Ok(Operand::Path(self.resolve_path(p)?)),
            RawOperand::Value(v) => Ok(Operand::Value(self.lookup_value(v)?)),
            RawOperand::Paren(inner) => self.convert_operand(inner),
            RawOperand::Call(name, args) => {
                if name != "size" {
                    return Err(not_allowed_here(name));
                }
                if args.len() != 1 {
                    return Err(wrong_operand_count(name, args.len()));
                }
                let mut inner = None;
                for arg in args {
                    inner = Some(self.convert_operand(arg)?);
                }
                let Some(inner) = inner else {
                    return Err(wrong_operand_count(name, 0));
                };
                if let Some(t) = static_type(&inner)
                    && matches!(t, "N" | "BOOL" | "NULL")
                {
                    return Err(incorrect_operand_type(name, t));
                }
                Ok(Operand::Size(Box::new(inner)))
            }
            RawOperand::Arith(op, _, _) => Err(not_allowed_here(match op {
                ArithOp::Plus => "+",
                ArithOp::Minus => "-",
            })),
        }
    }

    pub(crate) fn convert_update(&mut self, raw: &[RawAction]) -> Check<UpdateExpr> {
        // DynamoDB resolves every name and checks overlapping paths before it looks at values.
        let mut targets = Vec::with_capacity(raw.len());
        for action in raw {
            let (RawAction::Set(path, _)
            | RawAction::Remove(path)
            | RawAction::Add(path, _)
            | RawAction::Delete(path, _)) = action;
            targets.push(self.resolve_path(path)?);
            if let RawAction::Set(_, value) = action {
                self.resolve_operand_names(value)?;
            }
        }
        let refs: Vec<&Path> = targets.iter().collect();
        check_overlaps(&refs)?;
        let mut actions = Vec::with_capacity(raw.len());
        for action in raw {
            actions.push(match action {
                RawAction::Set(path, value) => {
                    let path = self.resolve_path(path)?;
                    UpdateAction::Set(path, self.convert_update_value(value, false)?)
                }
                RawAction::Remove(path) => UpdateAction::Remove(self.resolve_path(path)?),
                RawAction::Add(path, value) => {
                    let path = self.resolve_path(path)?;
                    let value = self.lookup_value(value)?;
                    if !matches!(
                        value,
                        AttributeValue::N(_)
                            | AttributeValue::Ss(_)
                            | AttributeValue::Ns(_)
                            | AttributeValue::Bs(_)
                    ) {
                        return Err(format!(
                            "Incorrect operand type for operator or function; operator: ADD, operand type: {}, typeSet: ALLOWED_FOR_ADD_OPERAND",
                            long_type_name(&value)
                        ));
                    }
                    UpdateAction::Add(path, value)
                }
                RawAction::Delete(path, value) => {
                    let path = self.resolve_path(path)?;
                    let value = self.lookup_value(value)?;
                    if !matches!(
                        value,
                        AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_)
                    ) {
                        return Err(format!(
                            "Incorrect operand type for operator or function; operator: DELETE, operand type: {}, typeSet: ALLOWED_FOR_DELETE_OPERAND",
                            long_type_name(&value)
                        ));
                    }
                    UpdateAction::Delete(path, value)
                }
            });
        }
        Ok(UpdateExpr {
            actions,
            legacy: false,
        })
    }

    fn resolve_operand_names(&mut self, raw: &RawOperand) -> Check<()> {
        match raw {
            RawOperand::Path(p) => self.resolve_path(p).map(|_| ()),
            RawOperand::Value(_) => Ok(()),
            RawOperand::Paren(inner) => self.resolve_operand_names(inner),
            RawOperand::Arith(_, a, b) => {
                self.resolve_operand_names(a)?;
                self.resolve_operand_names(b)
            }
            RawOperand::Call(_, args) => {
                args.iter().try_for_each(|a| self.resolve_operand_names(a))
            }
        }
    }

    fn convert_update_value(&mut self, raw: &RawOperand, in_function: bool) -> Check<UpdateValue> {
        match raw {
            RawOperand::Path(p) => Ok(UpdateValue::Path(self.resolve_path(p)?)),
            RawOperand::Value(v) => Ok(UpdateValue::Value(self.lookup_value(v)?)),
            RawOperand::Paren(inner) => self.convert_update_value(inner, in_function),
            RawOperand::Arith(op, a, b) => {
                let symbol = match op {
                    ArithOp::Plus => "+",
                    ArithOp::Minus => "-",
                };
                let a = self.convert_update_value(a, true)?;
                let b = self.convert_update_value(b, true)?;
                for operand in [&a, &b] {
                    if let UpdateValue::Value(v) = operand
                        && !matches!(v, AttributeValue::N(_))
                    {
                        return Err(incorrect_operand_type(symbol, v.type_name()));
                    }
                }
                Ok(match op {
                    ArithOp::Plus => UpdateValue::Plus(Box::new(a), Box::new(b)),
                    ArithOp::Minus => UpdateValue::Minus(Box::new(a), Box::new(b)),
                })
            }
            RawOperand::Call(name, args) => match name.as_str() {
                "if_not_exists" => {
                    if args.len() != 2 {
                        return Err(wrong_operand_count(name, args.len()));
                    }
                    let (Some(first), Some(second)) = (args.first(), args.get(1)) else {
                        return Err(wrong_operand_count(name, args.len()));
                    };
                    let RawOperand::Path(path) = unparen(first) else {
                        return Err(needs_path(name));
                    };
                    let path = self.resolve_path(path)?;
                    let fallback = self.convert_update_value(second, true)?;
                    Ok(UpdateValue::IfNotExists(path, Box::new(fallback)))
                }
                "list_append" => {
                    if in_function {
                        return Err(not_allowed_here(name));
                    }
                    if args.len() != 2 {
                        return Err(wrong_operand_count(name, args.len()));
                    }
                    let (Some(first), Some(second)) = (args.first(), args.get(1)) else {
                        return Err(wrong_operand_count(name, args.len()));
                    };
                    let a = self.convert_update_value(first, true)?;
                    let b = self.convert_update_value(second, true)?;
                    for operand in [&a, &b] {
                        if let UpdateValue::Value(v) = operand
                            && !matches!(v, AttributeValue::L(_))
                        {
                            return Err(incorrect_operand_type(name, v.type_name()));
                        }
                    }
                    Ok(UpdateValue::ListAppend(Box::new(a), Box::new(b)))
                }
                other => Err(format!(
                    "The function is not allowed in an update expression; function: {other}"
                )),
            },
        }
    }

    pub(crate) fn convert_projection(&mut self, raw: &[RawPath]) -> Check<Projection> {
        let mut paths = Vec::with_capacity(raw.len());
        for path in raw {
            paths.push(self.resolve_path(path)?);
        }
        let refs: Vec<&Path> = paths.iter().collect();
        check_overlaps(&refs)?;
        Ok(Projection { paths })
    }
}

pub(crate) fn check_between_bounds(low: &AttributeValue, high: &AttributeValue) -> Check<()> {
    if low.type_name() != high.type_name() {
        return Err(format!(
            "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: {}, upper bound operand: {}",
            describe_value(low),
            describe_value(high)
        ));
    }
    if super::eval::compare_scalars(low, high) == Some(std::cmp::Ordering::Greater) {
        return Err(format!(
            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: {}, upper bound operand: {}",
            describe_value(low),
            describe_value(high)
        ));
    }
    Ok(())
}

/// Rejects two paths where one is a prefix of the other ("overlap") or where one indexes a
/// list and the other a map at the same place ("conflict"), as DynamoDB does for update and
/// projection expressions.
pub(crate) fn check_overlaps(paths: &[&Path]) -> Check<()> {
    for (i, later) in paths.iter().enumerate() {
        for earlier in &paths[..i] {
            let mut relation = "overlap";
            for (a, b) in earlier.0.iter().zip(later.0.iter()) {
                match (a, b) {
                    _ if a == b => continue,
                    (PathElem::Attr(_), PathElem::Attr(_))
                    | (PathElem::Index(_), PathElem::Index(_)) => {
                        relation = "";
                    }
                    _ => relation = "conflict",
                }
                break;
            }
            if !relation.is_empty() {
                return Err(format!(
                    "Two document paths {relation} with each other; must remove or rewrite one of these paths; path one: {earlier}, path two: {later}"
                ));
            }
        }
    }
    Ok(())
}
