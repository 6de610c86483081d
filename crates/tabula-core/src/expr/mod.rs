//! DynamoDB expressions: parsing, validation with DynamoDB's exact messages, and evaluation.
//! Pure functions on `AttributeValue`s; the data plane's protocol module fills the inputs from
//! JSON and its engine calls these while executing a request.
//!
//! Pipeline: `lexer` → `parser` (raw trees) → `resolve` (reserved words, function names,
//! `#name`/`:value` substitution, operand checks) → resolved trees in `ast`, which `eval`,
//! `update`, `projection` and `key` execute. `legacy` converts the pre-expression parameters
//! (Expected, KeyConditions, QueryFilter/ScanFilter, AttributeUpdates, AttributesToGet) into
//! the same trees.
//!
//! # API
//!
//! ```text
//! enum ExprKind { Condition, Filter, KeyCondition, Update, Projection }
//! struct ExprError { pub message: String }          // always a ValidationException
//!
//! Resolver::new(names: Option<&HashMap<String, String>>,
//!               values: Option<&HashMap<String, AttributeValue>>) -> Resolver
//! Resolver::condition(&mut self, kind: ExprKind, text: &str) -> Result<Condition, ExprError>
//! Resolver::update(&mut self, text: &str) -> Result<UpdateExpr, ExprError>
//! Resolver::projection(&mut self, text: &str) -> Result<Projection, ExprError>
//! Resolver::check_maps(&self) -> Result<(), ExprError>  // also run by every parse and finish
//! Resolver::finish(self) -> Result<(), ExprError>       // unused #names / :values
//!
//! Condition::evaluate(&self, item: &Item) -> Result<bool, ExprError>
//! UpdateExpr::apply(&self, item: &mut Item) -> Result<(), ExprError>
//! UpdateExpr::top_level_attrs(&self) -> Vec<String>
//! Projection::apply(&self, item: &Item) -> Item
//! Projection::paths(&self) -> &[Path]
//! Projection::top_level_attrs(&self) -> Vec<String>
//! Projection::of_attributes(names: &[String]) -> Projection
//! key_condition(cond: &Condition, hash_key: &str, range_key: Option<&str>)
//!     -> Result<KeyCondition, ExprError>
//! KeyCondition::check_types(&self, ScalarType, Option<ScalarType>) -> Result<(), ExprError>
//! KeyCondition::check_not_empty(&self, hash_key: &str, range_key: Option<&str>)
//!     -> Result<(), ExprError>
//! SortKeyCondition::matches(&self, v: &AttributeValue) -> bool
//! values_equal(a: &AttributeValue, b: &AttributeValue) -> bool
//!
//! legacy::expected(&BTreeMap<String, ExpectedAttributeValue>, Option<&str>) -> Result<Condition, _>
//! legacy::filter(&BTreeMap<String, legacy::Condition>, Option<&str>) -> Result<Condition, _>
//! legacy::key_conditions(&BTreeMap<String, legacy::Condition>, &str, Option<&str>)
//!     -> Result<KeyCondition, _>
//! legacy::attribute_updates(&BTreeMap<String, AttributeValueUpdate>) -> Result<UpdateExpr, _>
//! legacy::attributes_to_get(&[String]) -> Result<Projection, _>
//! ```
//!
//! Behaviour and messages were checked against AWS's own implementation (DynamoDB Local);
//! `testdata/oracle.tsv` holds those observations and `tests/oracle.rs` replays them.
//!
//! Parse errors carry the "Invalid ConditionExpression: " (etc.) prefix; errors found while
//! applying an update to an item ("The provided expression refers to an attribute that does
//! not exist in the item", ...) do not, exactly as DynamoDB words them.

mod ast;
mod eval;
mod key;
pub mod legacy;
mod lexer;
mod parser;
mod projection;
pub mod reserved;
mod resolve;
mod update;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fmt;

pub use ast::{
    CompareOp, Condition, Operand, Path, PathElem, Projection, UpdateAction, UpdateExpr,
    UpdateValue,
};
pub use eval::values_equal;
pub use key::{KeyCondition, SortKeyCondition, key_condition};

use crate::value::AttributeValue;
use parser::{ParseError, Parser};

/// Longest expression text DynamoDB accepts, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4096;

/// Which request parameter an expression came from; it names the parameter in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExprKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExprKind {
    /// The request parameter name: "ConditionExpression", ...
    pub fn parameter(self) -> &'static str {
        match self {
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Update => "UpdateExpression",
            ExprKind::Projection => "ProjectionExpression",
        }
    }
}

/// An invalid expression or a failed update. Always a DynamoDB `ValidationException`;
/// `message` is DynamoDB's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub message: String,
}

impl ExprError {
    pub fn new(message: impl Into<String>) -> ExprError {
        ExprError {
            message: message.into(),
        }
    }

    fn invalid(kind: ExprKind, detail: &str) -> ExprError {
        ExprError::new(format!("Invalid {}: {detail}", kind.parameter()))
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}

/// Resolves `#names` and `:values` for all expressions of one request and remembers which
/// were used, so that `finish` can reject unused ones as DynamoDB does.
pub struct Resolver<'a> {
    names: Option<&'a HashMap<String, String>>,
    values: Option<&'a HashMap<String, AttributeValue>>,
    used_names: HashSet<String>,
    used_values: HashSet<String>,
}

fn valid_key(key: &str, sigil: char) -> bool {
    let mut chars = key.chars();
    chars.next() == Some(sigil)
        && key.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<'a> Resolver<'a> {
    pub fn new(
        names: Option<&'a HashMap<String, String>>,
        values: Option<&'a HashMap<String, AttributeValue>>,
    ) -> Resolver<'a> {
        Resolver {
            names,
            values,
            used_names: HashSet::new(),
            used_values: HashSet::new(),
        }
    }

    /// Rejects empty maps and malformed keys ("ExpressionAttributeNames must not be empty",
    /// "ExpressionAttributeValues contains invalid key: Syntax error; key: \"x\"", ...).
    pub fn check_maps(&self) -> Result<(), ExprError> {
        if let Some(names) = self.names {
            if names.is_empty() {
                return Err(ExprError::new("ExpressionAttributeNames must not be empty"));
            }
            let mut keys: Vec<&String> = names.keys().collect();
            keys.sort();
            for key in keys {
                if !valid_key(key, '#') {
                    return Err(ExprError::new(format!(
                        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
                    )));
                }
                if names.get(key).is_some_and(|v| v.is_empty()) {
                    return Err(ExprError::new(format!(
                        "ExpressionAttributeNames contains invalid value: Empty attribute name for key {key}"
                    )));
                }
            }
        }
        if let Some(values) = self.values {
            if values.is_empty() {
                return Err(ExprError::new(
                    "ExpressionAttributeValues must not be empty",
                ));
            }
            let mut keys: Vec<&String> = values.keys().collect();
            keys.sort();
            for key in keys {
                if !valid_key(key, ':') {
                    return Err(ExprError::new(format!(
                        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
                    )));
                }
            }
        }
        Ok(())
    }

    fn check_text(kind: ExprKind, text: &str) -> Result<(), ExprError> {
        if text.is_empty() {
            return Err(ExprError::invalid(kind, "The expression can not be empty;"));
        }
        if text.len() > MAX_EXPRESSION_BYTES {
            return Err(ExprError::invalid(
                kind,
                &format!(
                    "Expression size has exceeded the maximum allowed size; expression size: {}",
                    text.len()
                ),
            ));
        }
        Ok(())
    }

    fn parse_error(kind: ExprKind, parser: &Parser<'_>, e: ParseError) -> ExprError {
        match e {
            ParseError::Syntax(index) => ExprError::invalid(kind, &parser.syntax_message(index)),
            ParseError::Message(m) => ExprError::invalid(kind, &m),
        }
    }

    /// Parses a ConditionExpression, FilterExpression or KeyConditionExpression (`kind` names
    /// it in messages; key-schema rules are checked separately by `key_condition`).
    pub fn condition(&mut self, kind: ExprKind, text: &str) -> Result<Condition, ExprError> {
        self.check_maps()?;
        Self::check_text(kind, text)?;
        let mut parser = Parser::new(text);
        let raw = parser
            .parse_condition()
            .map_err(|e| Self::parse_error(kind, &parser, e))?;
        let invalid = |m: String| ExprError::invalid(kind, &m);
        resolve::check_names_cond(&raw, kind).map_err(invalid)?;
        resolve::check_operator_count(resolve::count_operators(&raw)).map_err(invalid)?;
        self.convert_cond(&raw).map_err(invalid)
    }

    pub fn update(&mut self, text: &str) -> Result<UpdateExpr, ExprError> {
        let kind = ExprKind::Update;
        self.check_maps()?;
        Self::check_text(kind, text)?;
        let mut parser = Parser::new(text);
        let raw = parser
            .parse_update()
            .map_err(|e| Self::parse_error(kind, &parser, e))?;
        let invalid = |m: String| ExprError::invalid(kind, &m);
        for action in &raw {
            match action {
                parser::RawAction::Set(path, value) => {
                    resolve::check_reserved(path).map_err(invalid)?;
                    resolve::check_names_operand(value, kind).map_err(invalid)?;
                }
                parser::RawAction::Remove(path)
                | parser::RawAction::Add(path, _)
                | parser::RawAction::Delete(path, _) => {
                    resolve::check_reserved(path).map_err(invalid)?;
                }
            }
        }
        self.convert_update(&raw).map_err(invalid)
    }

    pub fn projection(&mut self, text: &str) -> Result<Projection, ExprError> {
        let kind = ExprKind::Projection;
        self.check_maps()?;
        Self::check_text(kind, text)?;
        let mut parser = Parser::new(text);
        let raw = parser
            .parse_projection()
            .map_err(|e| Self::parse_error(kind, &parser, e))?;
        let invalid = |m: String| ExprError::invalid(kind, &m);
        for path in &raw {
            resolve::check_reserved(path).map_err(invalid)?;
        }
        self.convert_projection(&raw).map_err(invalid)
    }

    /// Fails when the request defined names or values that no expression used.
    pub fn finish(self) -> Result<(), ExprError> {
        self.check_maps()?;
        if let Some(names) = self.names {
            let unused: Vec<&str> = names
                .keys()
                .filter(|k| !self.used_names.contains(*k))
                .map(String::as_str)
                .collect();
            if !unused.is_empty() {
                return Err(ExprError::new(format!(
                    "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                    java_hash_set_order(unused).join(", ")
                )));
            }
        }
        if let Some(values) = self.values {
            let unused: Vec<&str> = values
                .keys()
                .filter(|k| !self.used_values.contains(*k))
                .map(String::as_str)
                .collect();
            if !unused.is_empty() {
                return Err(ExprError::new(format!(
                    "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                    java_hash_set_order(unused).join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// Orders keys as DynamoDB lists them in "unused" messages: the iteration order of a Java
/// `HashSet<String>` filled one key at a time (bucket by the spread `String.hashCode()`, table
/// doubling past a 0.75 load factor). Keys sharing a bucket are ordered by name, since the
/// order they arrived in the request is not known here.
fn java_hash_set_order(mut keys: Vec<&str>) -> Vec<&str> {
    fn java_hash(s: &str) -> u32 {
        let h = s.encode_utf16().fold(0i32, |h, unit| {
            h.wrapping_mul(31).wrapping_add(i32::from(unit))
        });
        let h = h as u32;
        h ^ (h >> 16)
    }
    let mut capacity: usize = 16;
    while keys.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let mask = (capacity - 1) as u32;
    keys.sort_by(|a, b| {
        (java_hash(a) & mask)
            .cmp(&(java_hash(b) & mask))
            .then_with(|| a.cmp(b))
    });
    keys
}
