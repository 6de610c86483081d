//! DynamoDB JSON attribute values (`{"S": "x"}`, `{"N": "1"}`, ...) to and from core values,
//! with the validation DynamoDB applies to every value a client sends.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};
use tabula_core::value::MAX_NESTING_DEPTH;
use tabula_core::{AttributeValue, Item, Number, NumberError};

use crate::engine::TOO_DEEP;
use crate::error::{ApiError, ApiResult, ErrorKind};

const EMPTY: &str =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
const MULTIPLE: &str = "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes";

pub fn parse_value(v: &Value) -> ApiResult<AttributeValue> {
    parse_value_at(v, 0)
}

fn parse_value_at(v: &Value, depth: usize) -> ApiResult<AttributeValue> {
    if depth > MAX_NESTING_DEPTH {
        return Err(ApiError::validation(TOO_DEEP));
    }
    let Value::Object(map) = v else {
        return Err(ApiError::serialization(format!(
            "Unexpected value type in payload: expected an AttributeValue object, got {}",
            json_kind(v)
        )));
    };
    let mut entries = map
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "S" | "N" | "B" | "BOOL" | "NULL" | "SS" | "NS" | "BS" | "L" | "M"
            )
        })
        .filter(|(_, v)| !v.is_null());
    let Some((tag, inner)) = entries.next() else {
        return Err(ApiError::validation(EMPTY));
    };
    if entries.next().is_some() {
        return Err(ApiError::validation(MULTIPLE));
    }
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(string(inner, "S")?),
        "N" => AttributeValue::N(number(inner)?),
        "B" => AttributeValue::B(binary(inner)?),
        "BOOL" => AttributeValue::Bool(
            inner
                .as_bool()
                .ok_or_else(|| type_error("BOOL", inner, "a boolean"))?,
        ),
        "NULL" => match inner.as_bool() {
            Some(true) => AttributeValue::Null,
            Some(false) => {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Null attribute value types must have the value of true",
                ));
            }
            None => return Err(type_error("NULL", inner, "a boolean")),
        },
        "SS" => {
            let items = array(inner, "SS")?
                .iter()
                .map(|e| string(e, "SS"))
                .collect::<ApiResult<Vec<_>>>()?;
            if items.is_empty() {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: An string set  may not be empty",
                ));
            }
            check_string_duplicates(&items)?;
            AttributeValue::Ss(items)
        }
        "NS" => {
            let items = array(inner, "NS")?
                .iter()
                .map(number)
                .collect::<ApiResult<Vec<_>>>()?;
            if items.is_empty() {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: An number set  may not be empty",
                ));
            }
            // Numbers are compared by value ("1" and "1.0" are duplicates); DynamoDB words this
            // case without the list.
            let mut seen = HashSet::with_capacity(items.len());
            if !items.iter().all(|n| seen.insert(n.clone())) {
                return Err(ApiError::validation("Input collection contains duplicates"));
            }
            AttributeValue::Ns(items)
        }
        "BS" => {
            let sent = array(inner, "BS")?;
            let items = sent.iter().map(binary).collect::<ApiResult<Vec<_>>>()?;
            if items.is_empty() {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Binary sets should not be empty",
                ));
            }
            let mut seen = HashSet::with_capacity(items.len());
            if !items.iter().all(|b| seen.insert(b.clone())) {
                // DynamoDB lists the set as sent (base64), with no space before "of".
                let shown: Vec<&str> = sent.iter().filter_map(Value::as_str).collect();
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Input collection [{}]of type BS contains duplicates.",
                    shown.join(", ")
                )));
            }
            AttributeValue::Bs(items)
        }
        "L" => AttributeValue::L(
            array(inner, "L")?
                .iter()
                .map(|e| parse_value_at(e, depth + 1))
                .collect::<ApiResult<Vec<_>>>()?,
        ),
        "M" => {
            let Value::Object(m) = inner else {
                return Err(type_error("M", inner, "an object"));
            };
            let mut out = BTreeMap::new();
            for (k, e) in m {
                check_attribute_name(k)?;
                out.insert(k.clone(), parse_value_at(e, depth + 1)?);
            }
            AttributeValue::M(out)
        }
        _ => return Err(ApiError::validation(EMPTY)),
    })
}

fn check_string_duplicates(items: &[String]) -> ApiResult<()> {
    let mut seen = HashSet::with_capacity(items.len());
    if items.iter().all(|e| seen.insert(e)) {
        return Ok(());
    }
    let shown: Vec<&str> = items.iter().map(String::as_str).collect();
    Err(ApiError::validation(format!(
        "One or more parameter values were invalid: Input collection [{}] contains duplicates.",
        shown.join(", ")
    )))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(field: &str, v: &Value, expected: &str) -> ApiError {
    ApiError::serialization(format!(
        "Unexpected value type in payload: {field} must be {expected}, got {}",
        json_kind(v)
    ))
}

fn string(v: &Value, field: &str) -> ApiResult<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| type_error(field, v, "a string"))
}

fn array<'a>(v: &'a Value, field: &str) -> ApiResult<&'a Vec<Value>> {
    v.as_array().ok_or_else(|| type_error(field, v, "an array"))
}

fn number(v: &Value) -> ApiResult<Number> {
    let s = v.as_str().ok_or_else(|| type_error("N", v, "a string"))?;
    Number::parse(s).map_err(|e| match e {
        // DynamoDB names the text it could not read (nothing for an empty one).
        NumberError::NotANumber if s.is_empty() => {
            ApiError::validation("The parameter cannot be converted to a numeric value")
        }
        NumberError::NotANumber => ApiError::validation(format!(
            "The parameter cannot be converted to a numeric value: {s}"
        )),
        e => e.into(),
    })
}

fn binary(v: &Value) -> ApiResult<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| type_error("B", v, "a string"))?;
    B64.decode(s.as_bytes()).map_err(|e| {
        ApiError::serialization(format!("Base64 encoded value could not be decoded: {e}"))
    })
}

/// An item (`{"attr": {"S": ...}, ...}`).
pub fn parse_item(v: &Value) -> ApiResult<Item> {
    let Value::Object(m) = v else {
        return Err(type_error("Item", v, "an object"));
    };
    parse_item_map(m)
}

pub fn parse_item_map(m: &Map<String, Value>) -> ApiResult<Item> {
    let mut out = Item::new();
    for (k, e) in m {
        check_attribute_name(k)?;
        out.insert(k.clone(), parse_value(e)?);
    }
    Ok(out)
}

/// Longest attribute name DynamoDB accepts, in bytes (names must be under 64 KB).
pub const MAX_ATTRIBUTE_NAME_BYTES: usize = 65535;

/// DynamoDB's rules for an attribute name (of an item, or a key inside a map): at least one
/// byte, less than 64 KB.
pub fn check_attribute_name(name: &str) -> ApiResult<()> {
    if name.is_empty() {
        return Err(ApiError::validation("Empty attribute name"));
    }
    if name.len() > MAX_ATTRIBUTE_NAME_BYTES {
        return Err(ApiError::validation(
            "Attribute name is too large, must be less than 65536 bytes",
        ));
    }
    Ok(())
}

/// Longest placeholder (`:value` or `#name`) DynamoDB accepts, in bytes.
pub const MAX_PLACEHOLDER_BYTES: usize = 255;

/// `ExpressionAttributeValues`.
pub fn parse_value_map(v: &Value) -> ApiResult<HashMap<String, AttributeValue>> {
    let Value::Object(m) = v else {
        return Err(type_error("ExpressionAttributeValues", v, "an object"));
    };
    let mut out = HashMap::with_capacity(m.len());
    for (k, e) in m {
        if k.len() > MAX_PLACEHOLDER_BYTES {
            return Err(ApiError::validation(
                "ExpressionAttributeValues contains invalid key: The expression attribute map contains a key that is too long;",
            ));
        }
        // DynamoDB names the placeholder whose value it refuses.
        let v = parse_value(e).map_err(|mut err| {
            if err.kind == ErrorKind::Validation {
                err.message = format!(
                    "ExpressionAttributeValues contains invalid value: {} for key {k}",
                    err.message
                );
            }
            err
        })?;
        out.insert(k.clone(), v);
    }
    Ok(out)
}

pub fn value_to_json(v: &AttributeValue) -> Value {
    serde_json::to_value(ValueJson(v)).unwrap_or(Value::Null)
}

pub fn item_to_json(item: &BTreeMap<String, AttributeValue>) -> Value {
    serde_json::to_value(ItemJson(item)).unwrap_or(Value::Null)
}

/// An item as DynamoDB JSON, serialised straight from the item: the item-heavy reads write
/// their responses with it instead of building a `serde_json::Value` tree first (which cost
/// a tenth of a Query's CPU). `item_to_json` is this, as a `Value`.
pub struct ItemJson<'a>(pub &'a BTreeMap<String, AttributeValue>);

/// One attribute value as DynamoDB JSON (`{"S": "x"}`).
pub struct ValueJson<'a>(pub &'a AttributeValue);

/// A list of items as a JSON array.
pub struct ItemsJson<'a>(pub &'a [Item]);

impl serde::Serialize for ItemJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, ValueJson(v))))
    }
}

impl serde::Serialize for ItemsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ItemJson))
    }
}

impl serde::Serialize for ValueJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        /// Numbers are strings on the wire, written from their canonical form.
        struct Num<'a>(&'a Number);
        impl serde::Serialize for Num<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self.0)
            }
        }
        /// Binary values are base64 strings.
        struct Bin<'a>(&'a Vec<u8>);
        impl serde::Serialize for Bin<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&B64.encode(self.0))
            }
        }
        let mut m = s.serialize_map(Some(1))?;
        match self.0 {
            AttributeValue::S(v) => m.serialize_entry("S", v)?,
            AttributeValue::N(n) => m.serialize_entry("N", &Num(n))?,
            AttributeValue::B(b) => m.serialize_entry("B", &Bin(b))?,
            AttributeValue::Bool(b) => m.serialize_entry("BOOL", b)?,
            AttributeValue::Null => m.serialize_entry("NULL", &true)?,
            AttributeValue::Ss(v) => m.serialize_entry("SS", v)?,
            AttributeValue::Ns(v) => m.serialize_entry("NS", &Seq(v, Num))?,
            AttributeValue::Bs(v) => m.serialize_entry("BS", &Seq(v, Bin))?,
            AttributeValue::L(v) => m.serialize_entry("L", &Seq(v, ValueJson))?,
            AttributeValue::M(v) => m.serialize_entry("M", &ItemJson(v))?,
        }
        m.end()
    }
}

/// A slice serialised as a JSON array of `wrap(element)`.
struct Seq<'a, T, F>(&'a [T], F);

impl<'a, T, F, W> serde::Serialize for Seq<'a, T, F>
where
    F: Fn(&'a T) -> W,
    W: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(&self.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_round_trip_through_json() {
        let v = json!({"M": {"a": {"L": [{"N": "1.50"}, {"SS": ["x", "y"]}, {"B": "AAE="}, {"NULL": true}, {"BOOL": false}, {"NS": ["-0.10", "2E+3"]}, {"BS": ["AAE=", "Ag=="]}, {"S": "quote \" and é"}]}}});
        let parsed = parse_value(&v).unwrap();
        let expected = json!({"M": {"a": {"L": [{"N": "1.5"}, {"SS": ["x", "y"]}, {"B": "AAE="}, {"NULL": true}, {"BOOL": false}, {"NS": ["-0.1", "2000"]}, {"BS": ["AAE=", "Ag=="]}, {"S": "quote \" and é"}]}}});
        assert_eq!(value_to_json(&parsed), expected);
        // The bytes the item reads write parse back to the same JSON.
        let written = serde_json::to_vec(&ValueJson(&parsed)).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&written).unwrap(), expected);
    }

    #[test]
    fn invalid_values_get_dynamodb_messages() {
        let msg = |v: Value| parse_value(&v).unwrap_err().message;
        assert_eq!(msg(json!({})), EMPTY);
        assert_eq!(msg(json!({"S": "a", "N": "1"})), MULTIPLE);
        assert!(msg(json!({"SS": []})).contains("may not be empty"));
        assert!(msg(json!({"NS": ["1", "1.0"]})).contains("contains duplicates"));
        assert!(msg(json!({"NULL": false})).contains("must have the value of true"));
        assert_eq!(
            msg(json!({"N": "abc"})),
            "The parameter cannot be converted to a numeric value: abc"
        );
        assert_eq!(
            msg(json!({"N": ""})),
            "The parameter cannot be converted to a numeric value"
        );
        assert_eq!(
            msg(json!({"NS": ["1", " 2"]})),
            "The parameter cannot be converted to a numeric value:  2"
        );
        let mut deep = json!({"S": "x"});
        for _ in 0..40 {
            deep = json!({"L": [deep]});
        }
        assert_eq!(msg(deep), TOO_DEEP);
    }
}
