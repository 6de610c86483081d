//! Replays `testdata/oracle.tsv`: expressions run against AWS's DynamoDB implementation
//! (DynamoDB Local) with the answers it gave, so every message and result here is DynamoDB's
//! observed behaviour. Each line is `kind<TAB>expression<TAB>answer`, where kind is `cond`
//! (evaluated against `fixture_item`), `update` (applied to it), `proj` or `query` (key schema
//! pk: S, sk: N). Values and names come from `fixture_values` / `fixture_names`; only those the
//! expression mentions are passed, as the oracle run did.

use std::collections::HashMap;

use super::super::*;
use crate::number::Number;
use crate::value::{AttributeValue, Item, ScalarType};

const CASES: &str = include_str!("../testdata/oracle.tsv");

/// Known, deliberate differences from the oracle; see the module docs of `expr`.
/// - DynamoDB Local answers "Internal server error" for `a.:v`; a syntax error is better.
/// - DynamoDB Local says "Query condition missed key schema element" without the name; the
///   DynamoDB service names the missing element ("...: pk"), and so do we.
/// - When three or more paths overlap, DynamoDB's message sometimes names a path that is not
///   part of the overlap; we name the two overlapping paths.
const KNOWN_DIFFERENCES: &[&str] = &[
    "a.:v = :v",
    "REMOVE a, a ADD b :zz",
    "SET a = :v, b = :n, a.c = :v",
    "REMOVE a.b, a.c, a.b.d",
    "a[0], a[1], a",
    "a.b, a.c, a.b.d",
    "sk = :n",
    "pk = :v AND x = :n",
    "x = :v",
    "x = :v AND y = :n",
];

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(v).unwrap_or_else(|_| Number::zero()))
}

fn m(entries: &[(&str, AttributeValue)]) -> AttributeValue {
    AttributeValue::M(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

pub(crate) fn fixture_item() -> Item {
    let AttributeValue::M(item) = m(&[
        ("pk", s("a")),
        ("s", s("str")),
        ("n", n("5")),
        ("l", AttributeValue::L(vec![s("x"), s("y"), s("z")])),
        ("m", m(&[("k", n("1")), ("mm", m(&[]))])),
        ("ss", AttributeValue::Ss(vec!["a".into(), "b".into()])),
        (
            "ns",
            AttributeValue::Ns(vec![Number::from_i64(1), Number::from_i64(2)]),
        ),
        ("b", AttributeValue::B(vec![0, 1, 2])),
        ("bs", AttributeValue::Bs(vec![vec![0]])),
        ("t", AttributeValue::Bool(true)),
        ("z", AttributeValue::Null),
        ("e", s("")),
        ("u", s("h\u{e9}llo\u{20ac}\u{1F600}")),
        ("ln", AttributeValue::L(vec![n("1"), m(&[("q", s("w"))])])),
    ]) else {
        return Item::new();
    };
    item
}

fn fixture_values() -> HashMap<String, AttributeValue> {
    let ss = |v: &[&str]| AttributeValue::Ss(v.iter().map(|e| e.to_string()).collect());
    let ns = |v: &[i64]| AttributeValue::Ns(v.iter().map(|e| Number::from_i64(*e)).collect());
    [
        (":s", s("str")),
        (":v", s("x")),
        (":e", s("")),
        (":a", s("a")),
        (":st", s("st")),
        (":n", n("1")),
        (":n5", n("5")),
        (":n2", n("2")),
        (":n8", n("8")),
        (":n3", n("3")),
        (":big", n("9.9e125")),
        (":b", AttributeValue::B(vec![0, 1, 2])),
        (":b0", AttributeValue::B(vec![0])),
        (":ss", ss(&["a", "b"])),
        (":ss2", ss(&["a", "c"])),
        (":ssb", ss(&["b", "a"])),
        (":ns", ns(&[1])),
        (":ns12", ns(&[2, 1])),
        (":bs", AttributeValue::Bs(vec![vec![0]])),
        (":l", AttributeValue::L(vec![s("q")])),
        (":l2", AttributeValue::L(vec![s("x"), s("y"), s("z")])),
        (":m", m(&[])),
        (":mk", m(&[("k", n("1")), ("mm", m(&[]))])),
        (":t", AttributeValue::Bool(true)),
        (":f", AttributeValue::Bool(false)),
        (":z", AttributeValue::Null),
        (":tS", s("S")),
        (":tN", s("N")),
        (":tL", s("L")),
        (":tM", s("M")),
        (":tSS", s("SS")),
        (":tNULL", s("NULL")),
        (":tBOOL", s("BOOL")),
        (":tB", s("B")),
        (":tNS", s("NS")),
        (":tBS", s("BS")),
        (":y", s("y")),
        (":w", s("w")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn fixture_names() -> HashMap<String, String> {
    [
        ("#a", "s"),
        ("#b", "m"),
        ("#n", "n"),
        ("#l", "l"),
        ("#k", "k"),
        ("#y", "year"),
        ("#pk", "pk"),
        ("#dot", "a.b"),
        ("#s", "sk"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The `:tokens` or `#tokens` an expression mentions (same rule as the oracle script).
fn mentioned(text: &str, sigil: char) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == sigil {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j > i + 1 {
                out.push(chars[i..j].iter().collect());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((v >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The canonical text the oracle script writes for a value.
pub(crate) fn canon(v: &AttributeValue) -> String {
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v.join(",")
    };
    match v {
        AttributeValue::S(x) => format!("S({x})"),
        AttributeValue::N(x) => format!("N({x})"),
        AttributeValue::B(x) => format!("B({})", base64(x)),
        AttributeValue::Bool(x) => format!("BOOL({x})"),
        AttributeValue::Null => "NULL".to_string(),
        AttributeValue::Ss(x) => format!("SS({})", sorted(x.clone())),
        AttributeValue::Ns(x) => {
            format!("NS({})", sorted(x.iter().map(|e| e.to_string()).collect()))
        }
        AttributeValue::Bs(x) => format!("BS({})", sorted(x.iter().map(|e| base64(e)).collect())),
        AttributeValue::L(x) => format!("L[{}]", x.iter().map(canon).collect::<Vec<_>>().join(",")),
        AttributeValue::M(x) => format!(
            "M{{{}}}",
            x.iter()
                .map(|(k, e)| format!("{k}:{}", canon(e)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

pub(crate) fn canon_item(item: &Item) -> String {
    format!(
        "{{{}}}",
        item.iter()
            .map(|(k, e)| format!("{k}:{}", canon(e)))
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn run(kind: &str, text: &str) -> String {
    let all_values = fixture_values();
    let all_names = fixture_names();
    let values: HashMap<String, AttributeValue> = mentioned(text, ':')
        .into_iter()
        .filter_map(|k| all_values.get(&k).map(|v| (k, v.clone())))
        .collect();
    let names: HashMap<String, String> = mentioned(text, '#')
        .into_iter()
        .filter_map(|k| all_names.get(&k).map(|v| (k, v.clone())))
        .collect();
    let mut resolver = Resolver::new(
        (!names.is_empty()).then_some(&names),
        (!values.is_empty()).then_some(&values),
    );
    let item = fixture_item();
    let outcome = match kind {
        "cond" => resolver
            .condition(ExprKind::Condition, text)
            .and_then(|c| c.evaluate(&item))
            .map(|b| format!("OK {b}")),
        "update" => resolver.update(text).and_then(|u| {
            let mut updated = item.clone();
            u.apply(&mut updated)?;
            Ok(format!("OK {}", canon_item(&updated)))
        }),
        "proj" => resolver
            .projection(text)
            .map(|p| format!("OK {}", canon_item(&p.apply(&item)))),
        "query" => resolver
            .condition(ExprKind::KeyCondition, text)
            .and_then(|c| key_condition(&c, "pk", Some("sk")))
            .and_then(|k| {
                k.check_types(ScalarType::S, Some(ScalarType::N))?;
                k.check_not_empty("pk", Some("sk"))
            })
            .map(|_| "OK".to_string()),
        other => Ok(format!("unknown kind {other}")),
    };
    match outcome {
        Ok(s) => s,
        Err(e) => format!("ERR {}", e.message),
    }
}

#[test]
fn every_oracle_case_matches_dynamodb() {
    let mut failures = Vec::new();
    let mut count = 0;
    for line in CASES.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(kind), Some(text), Some(expected)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        count += 1;
        if KNOWN_DIFFERENCES.contains(&text) {
            continue;
        }
        let got = run(kind, text);
        if got != expected {
            failures.push(format!(
                "{kind} [{text}]\n   want: {expected}\n    got: {got}"
            ));
        }
    }
    assert!(count > 0);
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
