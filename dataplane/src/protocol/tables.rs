//! Table operations on the wire: CreateTable, DeleteTable, DescribeTable, ListTables,
//! UpdateTable, TagResource, UntagResource, ListTagsOfResource, UpdateTimeToLive,
//! DescribeTimeToLive.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use super::{Constraints, Request};
use crate::engine::{
    BillingMode, CreateTableInput, Engine, IndexDef, IndexKind, IndexProjection, IndexUpdate,
    KeySchema, MAX_GSIS, ProjectionType, StreamViewType, TableDescription, TableStatus, Throughput,
    UpdateTableInput,
};
use crate::error::{ApiError, ApiResult};

/// Features of CreateTable/UpdateTable not built yet: refused clearly rather than ignored.
const UNSUPPORTED_TABLE_FIELDS: &[&str] = &["ReplicaUpdates", "OnDemandThroughput"];

fn refuse_unsupported(req: Request<'_>) -> ApiResult<()> {
    for f in UNSUPPORTED_TABLE_FIELDS {
        if req.has(f) {
            return Err(ApiError::validation(format!(
                "{f} is not supported by Tabula yet"
            )));
        }
    }
    Ok(())
}

fn billing_mode(value: Option<&str>, c: &mut Constraints) -> Option<BillingMode> {
    match value? {
        "PROVISIONED" => Some(BillingMode::Provisioned),
        "PAY_PER_REQUEST" => Some(BillingMode::PayPerRequest),
        other => {
            c.enum_value(other, "billingMode", "[PROVISIONED, PAY_PER_REQUEST]");
            None
        }
    }
}

/// Most capacity units a `ProvisionedThroughput` may name; DynamoDB refuses more as out of
/// bounds (before any account or table limit).
const MAX_CAPACITY_UNITS: i64 = 1_000_000_000_000;

fn throughput(req: Request<'_>, c: &mut Constraints) -> ApiResult<Option<Throughput>> {
    throughput_at(req, "provisionedThroughput", c)
}

/// `ProvisionedThroughput` of a table (`path` "provisionedThroughput") or of an index.
fn throughput_at(
    req: Request<'_>,
    path: &str,
    c: &mut Constraints,
) -> ApiResult<Option<Throughput>> {
    let Some(pt) = req.object("ProvisionedThroughput")? else {
        return Ok(None);
    };
    let pt = Request(pt);
    let mut units = |field: &str, path: &str| -> ApiResult<u64> {
        match pt.int(field)? {
            None => {
                c.not_null(false, path);
                Ok(0)
            }
            Some(v) if v < 1 => {
                c.push(
                    Some(&v.to_string()),
                    path,
                    "Member must have value greater than or equal to 1",
                );
                Ok(0)
            }
            Some(v) if v > MAX_CAPACITY_UNITS => Err(ApiError::validation(format!(
                "Given value {v} for {field} is out of bounds"
            ))),
            Some(v) => Ok(v as u64),
        }
    };
    let read = units("ReadCapacityUnits", &format!("{path}.readCapacityUnits"))?;
    let write = units("WriteCapacityUnits", &format!("{path}.writeCapacityUnits"))?;
    Ok(Some(Throughput { read, write }))
}

fn tags(list: Option<&Vec<Value>>) -> ApiResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for t in list.into_iter().flatten() {
        let Value::Object(t) = t else {
            return Err(ApiError::serialization("Tags must be objects"));
        };
        let t = Request(t);
        let key = t.str("Key")?;
        let value = t.str("Value")?;
        let mut c = Constraints::default();
        c.not_null(key.is_some(), "tags.member.key");
        c.not_null(value.is_some(), "tags.member.value");
        c.finish()?;
        let key = key.unwrap_or_default();
        check_tag_key(key)?;
        let value = value.unwrap_or_default();
        // The API's limit on a tag value.
        if value.chars().count() > 256 {
            let mut c = Constraints::default();
            c.push(
                Some(value),
                "tags.member.value",
                "Member must have length less than or equal to 256",
            );
            c.finish()?;
        }
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

/// A tag key as TagResource and UntagResource take it: 1 to 128 characters.
fn check_tag_key_length(key: &str) -> ApiResult<()> {
    let len = key.chars().count();
    if len == 0 || len > 128 {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Tag keys must be between 1 and 128 characters",
        ));
    }
    Ok(())
}

/// A tag key as TagResource takes it: as long as `check_tag_key_length` allows, and not in
/// the `aws:` namespace, which is reserved for AWS (its wording here is Tabula's own).
fn check_tag_key(key: &str) -> ApiResult<()> {
    check_tag_key_length(key)?;
    if key.starts_with("aws:") {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Tag keys starting with aws: are reserved for AWS use",
        ));
    }
    Ok(())
}

/// `AttributeDefinitions` as (name, type), member constraints collected into `c`.
fn attribute_definitions(
    list: Option<&Vec<Value>>,
    c: &mut Constraints,
) -> ApiResult<Vec<(String, String)>> {
    name_enum_pairs(
        list,
        "AttributeDefinitions",
        "attributeDefinitions",
        ("AttributeType", "attributeType"),
        &["S", "N", "B"],
        "[B, N, S]",
        c,
    )
}

/// A list of `{AttributeName, <field>}` objects (attribute definitions, key schema elements)
/// as (name, value) pairs; a missing member or a value outside `allowed` is a constraint
/// error under `path`.
fn name_enum_pairs(
    list: Option<&Vec<Value>>,
    what: &str,
    path: &str,
    (field, field_path): (&str, &str),
    allowed: &[&str],
    enum_set: &str,
    c: &mut Constraints,
) -> ApiResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, e) in list.into_iter().flatten().enumerate() {
        let Value::Object(e) = e else {
            return Err(ApiError::serialization(format!(
                "{what} elements must be objects"
            )));
        };
        let e = Request(e);
        let an = e.str("AttributeName")?;
        let value = e.str(field)?;
        let member = format!("{path}.{}.member", i + 1);
        c.not_null(an.is_some(), &format!("{member}.attributeName"));
        // The API's length constraint on a key or attribute-definition name: 1 to 255.
        if let Some(name) = an {
            if name.is_empty() {
                c.push(
                    Some(name),
                    &format!("{member}.attributeName"),
                    "Member must have length greater than or equal to 1",
                );
            } else if name.len() > 255 {
                c.push(
                    Some(name),
                    &format!("{member}.attributeName"),
                    "Member must have length less than or equal to 255",
                );
            }
        }
        c.not_null(value.is_some(), &format!("{member}.{field_path}"));
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            c.enum_value(v, &format!("{member}.{field_path}"), enum_set);
        }
        out.push((
            an.unwrap_or_default().to_string(),
            value.unwrap_or_default().to_string(),
        ));
    }
    Ok(out)
}

/// The elements of a `KeySchema` list (table or index) as (name, key type), with the
/// member constraints reported under `path`.
fn key_schema_elements(
    list: Option<&Vec<Value>>,
    path: &str,
    c: &mut Constraints,
) -> ApiResult<Vec<(String, String)>> {
    let out = name_enum_pairs(
        list,
        "KeySchema",
        path,
        ("KeyType", "keyType"),
        &["HASH", "RANGE"],
        "[HASH, RANGE]",
        c,
    )?;
    if let Some(ks) = list
        && (ks.is_empty() || ks.len() > 2)
    {
        // DynamoDB shows the list as its Java objects print.
        let shown: Vec<String> = ks
            .iter()
            .map(|e| {
                format!(
                    "KeySchemaElement(attributeName={}, keyType={})",
                    e["AttributeName"].as_str().unwrap_or("null"),
                    e["KeyType"].as_str().unwrap_or("null")
                )
            })
            .collect();
        c.push(
            Some(&format!("[{}]", shown.join(", "))),
            path,
            if ks.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 2"
            },
        );
    }
    Ok(out)
}

/// A key schema from its elements: HASH first, then an optional RANGE on another attribute.
fn key_schema(elems: &[(String, String)]) -> ApiResult<KeySchema> {
    let hash = match elems.first() {
        Some((n, t)) if t == "HASH" => n.clone(),
        _ => {
            return Err(ApiError::validation(
                "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
            ));
        }
    };
    let range = match elems.get(1) {
        None => None,
        Some((n, t)) if t == "RANGE" => {
            if *n == hash {
                return Err(ApiError::validation(
                    "Invalid KeySchema: Some index key attribute have no definition",
                ));
            }
            Some(n.clone())
        }
        Some(_) => {
            return Err(ApiError::validation(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
            ));
        }
    };
    Ok(KeySchema { hash, range })
}

/// An index definition as parsed, before the checks that need the whole table.
struct ParsedIndex {
    name: String,
    kind: IndexKind,
    key_elems: Vec<(String, String)>,
    projection: Option<(Option<String>, Option<Vec<String>>)>,
    throughput: Option<Throughput>,
}

/// `GlobalSecondaryIndexes` or `LocalSecondaryIndexes` of CreateTable, with the member
/// constraints (names, key schemas, projections) collected into `c`.
fn index_list(
    req: Request<'_>,
    kind: IndexKind,
    c: &mut Constraints,
) -> ApiResult<Option<Vec<ParsedIndex>>> {
    let (field, path) = match kind {
        IndexKind::Global => ("GlobalSecondaryIndexes", "globalSecondaryIndexes"),
        IndexKind::Local => ("LocalSecondaryIndexes", "localSecondaryIndexes"),
    };
    let Some(list) = req.array(field)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let Value::Object(o) = v else {
            return Err(ApiError::serialization(format!(
                "{field} elements must be objects"
            )));
        };
        let member = format!("{path}.{}.member", i + 1);
        out.push(parse_index(Request(o), kind, &member, c)?);
    }
    Ok(Some(out))
}

/// One index definition (of CreateTable, or an UpdateTable `Create`), member constraints
/// reported under `member`.
fn parse_index(
    o: Request<'_>,
    kind: IndexKind,
    member: &str,
    c: &mut Constraints,
) -> ApiResult<ParsedIndex> {
    let name = o.str("IndexName")?;
    match name {
        Some(n) => c.index_name(n, &format!("{member}.indexName")),
        None => c.not_null(false, &format!("{member}.indexName")),
    }
    let ks = o.array("KeySchema")?;
    c.not_null(ks.is_some(), &format!("{member}.keySchema"));
    let key_elems = key_schema_elements(ks, &format!("{member}.keySchema"), c)?;
    let projection = match o.object("Projection")? {
        None => {
            c.not_null(false, &format!("{member}.projection"));
            None
        }
        Some(p) => {
            let p = Request(p);
            let kind = p.str("ProjectionType")?;
            if let Some(k) = kind
                && !matches!(k, "ALL" | "KEYS_ONLY" | "INCLUDE")
            {
                c.enum_value(
                    k,
                    &format!("{member}.projection.projectionType"),
                    "[ALL, INCLUDE, KEYS_ONLY]",
                );
            }
            let non_key = match p.array("NonKeyAttributes")? {
                None => None,
                Some(list) => {
                    let mut names = Vec::new();
                    for n in list {
                        names.push(
                            n.as_str()
                                .ok_or_else(|| {
                                    ApiError::serialization("NonKeyAttributes must be strings")
                                })?
                                .to_string(),
                        );
                    }
                    let path = format!("{member}.projection.nonKeyAttributes");
                    if names.is_empty() {
                        c.push(
                            Some("[]"),
                            &path,
                            "Member must have length greater than or equal to 1",
                        );
                    } else if names.len() > MAX_NON_KEY_PER_INDEX {
                        c.push(
                            Some(&format!("[{}]", names.join(", "))),
                            &path,
                            "Member must have length less than or equal to 20",
                        );
                    }
                    // Each projected name is 1 to 255 bytes long (DynamoDB Local's text).
                    if names.iter().any(|n| n.is_empty() || n.len() > 255) {
                        return Err(ApiError::validation(
                            "Names of key attributes and attributes projected into an index must be between 1 and 255 characters, inclusive",
                        ));
                    }
                    Some(names)
                }
            };
            Some((kind.map(str::to_string), non_key))
        }
    };
    let throughput = throughput_at(o, &format!("{member}.provisionedThroughput"), c)?;
    Ok(ParsedIndex {
        name: name.unwrap_or_default().to_string(),
        kind,
        key_elems,
        projection,
        throughput,
    })
}

/// The checks DynamoDB makes on a new table's indexes, in its order; returns the definitions
/// (their `index_no` is assigned by the engine).
fn check_indexes(
    table: &KeySchema,
    gsis: Option<Vec<ParsedIndex>>,
    lsis: Option<Vec<ParsedIndex>>,
    mode: BillingMode,
) -> ApiResult<Vec<IndexDef>> {
    let bad =
        |m: String| ApiError::validation(format!("One or more parameter values were invalid: {m}"));
    if gsis.as_ref().is_some_and(|l| l.is_empty()) {
        return Err(bad("List of GlobalSecondaryIndexes is empty".into()));
    }
    if lsis.as_ref().is_some_and(|l| l.is_empty()) {
        return Err(bad("List of LocalSecondaryIndexes is empty".into()));
    }
    let gsis = gsis.unwrap_or_default();
    let lsis = lsis.unwrap_or_default();
    if lsis.len() > MAX_LSIS {
        return Err(bad(format!(
            "Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSIS}"
        )));
    }
    if gsis.len() > MAX_GSIS {
        return Err(bad(format!(
            "GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSIS}"
        )));
    }
    let mut out: Vec<IndexDef> = Vec::new();
    let mut projected_total = 0usize;
    for p in lsis.into_iter().chain(gsis) {
        if out.iter().any(|i| i.name == p.name) {
            return Err(bad(format!("Duplicate index name: {}", p.name)));
        }
        let ks = key_schema(&p.key_elems)?;
        if p.kind == IndexKind::Local {
            if table.range.is_none() {
                return Err(bad(
                    "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex".into(),
                ));
            }
            if ks.hash != table.hash {
                return Err(bad(format!(
                    "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                    p.name, ks.hash, table.hash
                )));
            }
            if ks.range.is_none() {
                return Err(bad(format!(
                    "Index KeySchema does not have a range key for index: {}",
                    p.name
                )));
            }
        }
        let (kind, non_key) = p.projection.unwrap_or_default();
        let kind = match kind.as_deref() {
            Some("ALL") => ProjectionType::All,
            Some("KEYS_ONLY") => ProjectionType::KeysOnly,
            Some("INCLUDE") => ProjectionType::Include,
            _ => return Err(bad("Unknown ProjectionType: null".into())),
        };
        let non_key = match (kind, non_key) {
            (ProjectionType::Include, None) => {
                return Err(bad(
                    "ProjectionType is INCLUDE, but NonKeyAttributes is not specified".into(),
                ));
            }
            (ProjectionType::Include, Some(list)) => {
                let mut seen = std::collections::HashSet::new();
                if let Some(dup) = list.iter().find(|a| !seen.insert(a.as_str())) {
                    return Err(bad(format!("Duplicate element in NonKeyAttributes: {dup}")));
                }
                list
            }
            (other, Some(_)) => {
                return Err(bad(format!(
                    "ProjectionType is {}, but NonKeyAttributes is specified",
                    other.as_str()
                )));
            }
            (_, None) => Vec::new(),
        };
        projected_total += non_key.len();
        if projected_total > MAX_PROJECTED_ATTRIBUTES {
            return Err(bad(format!(
                "The sum of the number of NonKeyAttributes across all secondary indexes exceeds the limit of {MAX_PROJECTED_ATTRIBUTES}"
            )));
        }
        if p.kind == IndexKind::Global {
            match (mode, p.throughput) {
                (BillingMode::Provisioned, None) => {
                    return Err(bad(format!(
                        "ProvisionedThroughput is not specified for index: {}",
                        p.name
                    )));
                }
                (BillingMode::PayPerRequest, Some(_)) => {
                    return Err(bad(format!(
                        "ProvisionedThroughput should not be specified for index: {} when BillingMode is PAY_PER_REQUEST",
                        p.name
                    )));
                }
                _ => {}
            }
        }
        out.push(IndexDef {
            name: p.name,
            kind: p.kind,
            index_no: 0,
            key_schema: ks,
            projection: IndexProjection { kind, non_key },
            throughput: p.throughput,
            backfilling: false,
        });
    }
    Ok(out)
}

/// DynamoDB's per-table limit on local indexes (global ones: `engine::MAX_GSIS`).
const MAX_LSIS: usize = 5;
/// NonKeyAttributes one INCLUDE projection may name.
const MAX_NON_KEY_PER_INDEX: usize = 20;
/// Attributes all of a table's INCLUDE projections may name together.
const MAX_PROJECTED_ATTRIBUTES: usize = 100;

pub(super) fn create_table(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    refuse_unsupported(req)?;
    let mut c = Constraints::default();
    let name = req.str("TableName")?;
    if name.is_none() {
        return Err(ApiError::validation(
            "The parameter 'TableName' is required but was not present in the request",
        ));
    }
    c.table_name(name, "tableName");
    let ks = req.array("KeySchema")?;
    let ads = req.array("AttributeDefinitions")?;
    c.not_null(ks.is_some(), "keySchema");
    c.not_null(ads.is_some(), "attributeDefinitions");
    let key_elems = key_schema_elements(ks, "keySchema", &mut c)?;
    let defs = attribute_definitions(ads, &mut c)?;
    let mode = billing_mode(req.str("BillingMode")?, &mut c);
    let tp = throughput(req, &mut c)?;
    let gsis = index_list(req, IndexKind::Global, &mut c)?;
    let lsis = index_list(req, IndexKind::Local, &mut c)?;
    c.finish()?;

    let bad =
        |m: &str| ApiError::validation(format!("One or more parameter values were invalid: {m}"));
    let KeySchema { hash, range } = key_schema(&key_elems)?;
    let mut seen = std::collections::HashSet::new();
    for (n, _) in &defs {
        if !seen.insert(n.as_str()) {
            return Err(bad(&format!("Attribute Name is duplicated: {n}")));
        }
    }
    let mut keys: Vec<&String> = std::iter::once(&hash).chain(range.iter()).collect();
    let missing: Vec<&&String> = keys
        .iter()
        .filter(|k| !defs.iter().any(|(n, _)| n == **k))
        .collect();
    if !missing.is_empty() {
        let names: Vec<&str> = defs.iter().map(|(n, _)| n.as_str()).collect();
        return Err(bad(&format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            keys.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            names.join(", ")
        )));
    }
    let mode = mode.unwrap_or(BillingMode::Provisioned);
    let table_ks = KeySchema {
        hash: hash.clone(),
        range: range.clone(),
    };
    let indexes = check_indexes(&table_ks, gsis, lsis, mode)?;
    for index in &indexes {
        let ks = &index.key_schema;
        let index_keys: Vec<&String> = std::iter::once(&ks.hash).chain(ks.range.iter()).collect();
        let missing: Vec<&&String> = index_keys
            .iter()
            .filter(|k| !defs.iter().any(|(n, _)| n == **k))
            .collect();
        if !missing.is_empty() {
            let names: Vec<&str> = defs.iter().map(|(n, _)| n.as_str()).collect();
            return Err(bad(&format!(
                "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                index_keys
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                names.join(", ")
            )));
        }
        for k in index_keys {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    if defs.len() != keys.len() {
        return Err(bad(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    match (mode, tp) {
        (BillingMode::Provisioned, None) => {
            return Err(bad(
                "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(bad(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        _ => {}
    }
    let desc = engine.create_table(CreateTableInput {
        name: name.unwrap_or_default().to_string(),
        key_schema: KeySchema { hash, range },
        attribute_definitions: defs,
        billing_mode: mode,
        throughput: tp,
        deletion_protection: req.bool("DeletionProtectionEnabled")?.unwrap_or(false),
        tags: tags(req.array("Tags")?)?,
        indexes,
        stream: stream_specification(req, true)?.flatten(),
    })?;
    Ok(json!({ "TableDescription": description_json(&desc) }))
}

pub(super) fn describe_table(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let name = req.table_name()?;
    let desc = engine.describe_table(&name)?;
    Ok(json!({ "Table": description_json(&desc) }))
}

pub(super) fn delete_table(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let name = req.table_name()?;
    let desc = engine.delete_table(&name)?;
    Ok(json!({ "TableDescription": description_json(&desc) }))
}

pub(super) fn list_tables(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let mut c = Constraints::default();
    let limit = req.int("Limit")?;
    if let Some(l) = limit {
        if l < 1 {
            c.push(
                Some(&l.to_string()),
                "limit",
                "Member must have value greater than or equal to 1",
            );
        } else if l > 100 {
            c.push(
                Some(&l.to_string()),
                "limit",
                "Member must have value less than or equal to 100",
            );
        }
    }
    let start = req.str("ExclusiveStartTableName")?;
    if let Some(s) = start {
        c.table_name(Some(s), "exclusiveStartTableName");
    }
    c.finish()?;
    let (names, last) = engine.list_tables(start, limit.unwrap_or(100) as usize);
    let mut out = json!({ "TableNames": names });
    if let Some(last) = last {
        out["LastEvaluatedTableName"] = Value::String(last);
    }
    Ok(out)
}

pub(super) fn update_table(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    refuse_unsupported(req)?;
    if req.has("SSESpecification") {
        return Err(ApiError::validation(
            "SSESpecification updates are not supported by Tabula: item bodies are always encrypted at rest",
        ));
    }
    let name = req.table_name()?;
    let mut c = Constraints::default();
    let mode = billing_mode(req.str("BillingMode")?, &mut c);
    let tp = throughput(req, &mut c)?;
    let defs = match req.array("AttributeDefinitions")? {
        Some(list) => Some(attribute_definitions(Some(list), &mut c)?),
        None => None,
    };
    let updates = index_updates(req, &mut c)?;
    c.finish()?;
    let mut index_updates = Vec::new();
    if let Some(updates) = updates {
        let current = engine.table_definition(&name)?;
        let mode = mode.unwrap_or(current.billing_mode);
        for u in updates {
            index_updates.push(match u {
                ParsedUpdate::Create(p) => {
                    let mut checked =
                        check_indexes(&current.key_schema, Some(vec![p]), None, mode)?;
                    IndexUpdate::Create(checked.remove(0))
                }
                ParsedUpdate::Delete(name) => IndexUpdate::Delete(name),
                ParsedUpdate::Update(name, throughput) => IndexUpdate::Update { name, throughput },
            });
        }
    }
    let desc = engine.update_table(UpdateTableInput {
        name,
        billing_mode: mode,
        throughput: tp,
        deletion_protection: req.bool("DeletionProtectionEnabled")?,
        attribute_definitions: defs,
        index_updates,
        stream: stream_specification(req, false)?,
    })?;
    Ok(json!({ "TableDescription": description_json(&desc) }))
}

/// `StreamSpecification`: `Some(Some(view))` to enable a stream, `Some(None)` to disable.
fn stream_specification(
    req: Request<'_>,
    creating: bool,
) -> ApiResult<Option<Option<StreamViewType>>> {
    let Some(spec) = req.object("StreamSpecification")? else {
        return Ok(None);
    };
    let spec = Request(spec);
    let enabled = spec.bool("StreamEnabled")?;
    let view = spec.str("StreamViewType")?;
    let mut c = Constraints::default();
    c.not_null(enabled.is_some(), "streamSpecification.streamEnabled");
    if let Some(v) = view
        && StreamViewType::parse(v).is_none()
    {
        c.enum_value(
            v,
            "streamSpecification.streamViewType",
            "[NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]",
        );
    }
    c.finish()?;
    let bad =
        |m: &str| ApiError::validation(format!("One or more parameter values were invalid: {m}"));
    match (
        enabled.unwrap_or(false),
        view.and_then(StreamViewType::parse),
    ) {
        (true, Some(v)) => Ok(Some(Some(v))),
        (true, None) if creating => Err(bad(
            "Table is being created with a stream enabled, UpdateViewType is required",
        )),
        (true, None) => Err(bad(
            "If stream is being enabled then UpdateViewType is required",
        )),
        (false, None) => Ok(Some(None)),
        (false, Some(_)) if creating => Err(bad(
            "Table is being created with a stream disabled, UpdateViewType should not be specified",
        )),
        (false, Some(_)) => Err(bad(
            "If stream is being disabled, then UpdateViewType must not be specified",
        )),
    }
}

/// One entry of `GlobalSecondaryIndexUpdates`, parsed.
enum ParsedUpdate {
    Create(ParsedIndex),
    Delete(String),
    Update(String, Throughput),
}

/// `GlobalSecondaryIndexUpdates`: each entry is exactly one of Create, Update or Delete, and
/// one request creates or deletes at most one index (DynamoDB's limit).
fn index_updates(req: Request<'_>, c: &mut Constraints) -> ApiResult<Option<Vec<ParsedUpdate>>> {
    let Some(list) = req.array("GlobalSecondaryIndexUpdates")? else {
        return Ok(None);
    };
    if list.is_empty() {
        return Err(ApiError::validation("Nothing to update"));
    }
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let Value::Object(o) = v else {
            return Err(ApiError::serialization(
                "GlobalSecondaryIndexUpdates elements must be objects",
            ));
        };
        let o = Request(o);
        let member = format!("globalSecondaryIndexUpdates.{}.member", i + 1);
        let given = ["Create", "Update", "Delete"]
            .into_iter()
            .filter(|f| o.has(f))
            .count();
        if given == 0 {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
            ));
        }
        if given > 1 {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object",
            ));
        }
        if let Some(create) = o.object("Create")? {
            out.push(ParsedUpdate::Create(parse_index(
                Request(create),
                IndexKind::Global,
                &format!("{member}.create"),
                c,
            )?));
        } else if let Some(delete) = o.object("Delete")? {
            let name = Request(delete).str("IndexName")?;
            match name {
                Some(n) => c.index_name(n, &format!("{member}.delete.indexName")),
                None => c.not_null(false, &format!("{member}.delete.indexName")),
            }
            out.push(ParsedUpdate::Delete(name.unwrap_or_default().to_string()));
        } else if let Some(update) = o.object("Update")? {
            let update = Request(update);
            let name = update.str("IndexName")?;
            match name {
                Some(n) => c.index_name(n, &format!("{member}.update.indexName")),
                None => c.not_null(false, &format!("{member}.update.indexName")),
            }
            let tp = throughput_at(update, &format!("{member}.update.provisionedThroughput"), c)?;
            c.not_null(
                tp.is_some(),
                &format!("{member}.update.provisionedThroughput"),
            );
            out.push(ParsedUpdate::Update(
                name.unwrap_or_default().to_string(),
                tp.unwrap_or_default(),
            ));
        }
    }
    let mut named = HashSet::new();
    for u in &out {
        let name = match u {
            ParsedUpdate::Create(p) => p.name.as_str(),
            ParsedUpdate::Delete(n) | ParsedUpdate::Update(n, _) => n.as_str(),
        };
        if !named.insert(name) {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Only one global secondary index update per index is allowed simultaneously. Index: {name}"
            )));
        }
    }
    let online = out
        .iter()
        .filter(|u| !matches!(u, ParsedUpdate::Update(..)))
        .count();
    if online > 1 {
        return Err(ApiError::new(
            crate::error::ErrorKind::LimitExceeded,
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
        ));
    }
    Ok(Some(out))
}

pub(super) fn update_time_to_live(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let name = req.table_name()?;
    let spec = req.object("TimeToLiveSpecification")?;
    let mut c = Constraints::default();
    c.not_null(spec.is_some(), "timeToLiveSpecification");
    let (mut attribute, mut enabled) = (None, None);
    if let Some(spec) = spec {
        let spec = Request(spec);
        attribute = spec.str("AttributeName")?;
        enabled = spec.bool("Enabled")?;
        c.not_null(enabled.is_some(), "timeToLiveSpecification.enabled");
        match attribute {
            None => c.not_null(false, "timeToLiveSpecification.attributeName"),
            Some("") => c.push(
                Some(""),
                "timeToLiveSpecification.attributeName",
                "Member must have length greater than or equal to 1",
            ),
            Some(a) if a.len() > 255 => c.push(
                Some(a),
                "timeToLiveSpecification.attributeName",
                "Member must have length less than or equal to 255",
            ),
            Some(_) => {}
        }
    }
    c.finish()?;
    let (attribute, enabled) = (attribute.unwrap_or_default(), enabled.unwrap_or_default());
    engine.update_time_to_live(&name, enabled, attribute)?;
    Ok(json!({
        "TimeToLiveSpecification": {"AttributeName": attribute, "Enabled": enabled}
    }))
}

pub(super) fn describe_time_to_live(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let name = req.table_name()?;
    let ttl = engine.describe_time_to_live(&name)?;
    Ok(match ttl.attribute {
        Some(a) => json!({
            "TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": a}
        }),
        None => json!({ "TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"} }),
    })
}

fn resource_arn(req: Request<'_>) -> ApiResult<String> {
    let arn = req.str("ResourceArn")?;
    let mut c = Constraints::default();
    c.not_null(arn.is_some(), "resourceArn");
    c.finish()?;
    Ok(arn.unwrap_or_default().to_string())
}

pub(super) fn tag_resource(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let arn = resource_arn(req)?;
    let mut c = Constraints::default();
    c.not_null(req.has("Tags"), "tags");
    c.finish()?;
    engine.tag_resource(&arn, tags(req.array("Tags")?)?)?;
    Ok(json!({}))
}

pub(super) fn untag_resource(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let arn = resource_arn(req)?;
    let mut keys = Vec::new();
    let list = req.array("TagKeys")?;
    let mut c = Constraints::default();
    c.not_null(list.is_some(), "tagKeys");
    c.finish()?;
    for k in list.into_iter().flatten() {
        let k = k
            .as_str()
            .ok_or_else(|| ApiError::serialization("TagKeys must be strings"))?;
        check_tag_key_length(k)?;
        keys.push(k.to_string());
    }
    engine.untag_resource(&arn, &keys)?;
    Ok(json!({}))
}

pub(super) fn list_tags(engine: &Engine, req: Request<'_>) -> ApiResult<Value> {
    let arn = resource_arn(req)?;
    let tags = engine.list_tags(&arn)?;
    let list: Vec<Value> = tags
        .into_iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({ "Tags": list }))
}

fn seconds(ms: u64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn key_schema_json(ks: &KeySchema) -> Vec<Value> {
    let mut out = vec![json!({"AttributeName": ks.hash, "KeyType": "HASH"})];
    if let Some(r) = &ks.range {
        out.push(json!({"AttributeName": r, "KeyType": "RANGE"}));
    }
    out
}

/// `GlobalSecondaryIndexes` and `LocalSecondaryIndexes` of a table description.
fn indexes_json(d: &TableDescription, out: &mut Value) {
    let (mut global, mut local) = (Vec::new(), Vec::new());
    for index in &d.def.indexes {
        let counts = d
            .index_counts
            .get(&index.index_no)
            .copied()
            .unwrap_or_default();
        let status = match d.status {
            TableStatus::Creating => "CREATING",
            TableStatus::Deleting => "DELETING",
            _ if index.backfilling => "CREATING",
            _ => "ACTIVE",
        };
        let v = index_json(index, &d.arn, Some(counts), status);
        match index.kind {
            IndexKind::Local => local.push(v),
            IndexKind::Global => global.push(v),
        }
    }
    // The index this UpdateTable deleted, once more, as DELETING (without counts).
    if let Some(index) = &d.deleted_index {
        let deleting = IndexDef {
            backfilling: false,
            ..index.clone()
        };
        global.push(index_json(&deleting, &d.arn, None, "DELETING"));
    }
    if !local.is_empty() {
        out["LocalSecondaryIndexes"] = Value::Array(local);
    }
    if !global.is_empty() {
        out["GlobalSecondaryIndexes"] = Value::Array(global);
    }
}

/// One index of a table description; a global one also carries `status`, Backfilling and its
/// throughput.
fn index_json(
    index: &IndexDef,
    table_arn: &str,
    counts: Option<(u64, u64)>,
    status: &str,
) -> Value {
    let mut projection = json!({ "ProjectionType": index.projection.kind.as_str() });
    if !index.projection.non_key.is_empty() {
        projection["NonKeyAttributes"] = json!(index.projection.non_key);
    }
    let mut v = json!({
        "IndexName": index.name,
        "KeySchema": key_schema_json(&index.key_schema),
        "Projection": projection,
        "IndexArn": format!("{table_arn}/index/{}", index.name),
    });
    if let Some((count, size)) = counts {
        v["IndexSizeBytes"] = json!(size);
        v["ItemCount"] = json!(count);
    }
    if index.kind == IndexKind::Global {
        v["IndexStatus"] = json!(status);
        if index.backfilling {
            v["Backfilling"] = json!(true);
        }
        let tp = index.throughput.unwrap_or_default();
        v["ProvisionedThroughput"] = json!({
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": tp.read,
            "WriteCapacityUnits": tp.write,
        });
    }
    v
}

pub(crate) fn description_json(d: &TableDescription) -> Value {
    let def = &d.def;
    let key_schema = key_schema_json(&def.key_schema);
    let attrs: Vec<Value> = def
        .attribute_definitions
        .iter()
        .map(|(n, t)| json!({"AttributeName": n, "AttributeType": t}))
        .collect();
    let mut pt = json!({
        "NumberOfDecreasesToday": def.decreases_today,
        "ReadCapacityUnits": def.throughput.read,
        "WriteCapacityUnits": def.throughput.write,
    });
    if let Some(ms) = def.last_increase_ms {
        pt["LastIncreaseDateTime"] = seconds(ms);
    }
    if let Some(ms) = def.last_decrease_ms {
        pt["LastDecreaseDateTime"] = seconds(ms);
    }
    let mut out = json!({
        "AttributeDefinitions": attrs,
        "TableName": def.name,
        "KeySchema": key_schema,
        "TableStatus": d.status.as_str(),
        "CreationDateTime": seconds(def.created_ms),
        "ProvisionedThroughput": pt,
        "TableSizeBytes": d.size_bytes,
        "ItemCount": d.item_count,
        "TableArn": d.arn,
        "TableId": def.table_uuid,
        "DeletionProtectionEnabled": def.deletion_protection,
    });
    if def.billing_mode == BillingMode::PayPerRequest {
        let mut summary = json!({ "BillingMode": "PAY_PER_REQUEST" });
        summary["LastUpdateToPayPerRequestDateTime"] =
            seconds(def.billing_mode_changed_ms.unwrap_or(def.created_ms));
        out["BillingModeSummary"] = summary;
    } else if def.billing_mode_changed_ms.is_some() {
        out["BillingModeSummary"] = json!({ "BillingMode": "PROVISIONED" });
    }
    indexes_json(d, &mut out);
    if let Some(s) = crate::engine::current_stream_of(def) {
        out["StreamSpecification"] =
            json!({"StreamEnabled": true, "StreamViewType": s.view_type.as_str()});
    }
    if let Some(s) = def.streams.last() {
        out["LatestStreamLabel"] = json!(s.label);
        out["LatestStreamArn"] = json!(format!("{}/stream/{}", d.arn, s.label));
    }
    out
}
