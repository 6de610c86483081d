//! The DynamoDB API requests reconcile sends to a table's data plane, built from the spec.
//! Pure: JSON bodies in the DynamoDB shapes (the data plane speaks the DynamoDB API, so no
//! private admin protocol is needed for table lifecycle).
//!
//! A spec field the user omitted is never sent as a change: UpdateTable carries only fields that
//! are set in the spec and differ from what DescribeTable reports.

use serde_json::{Map, Value, json};

use crate::crd::{GlobalSecondaryIndex, KeySchemaElement, KeyType, ProjectionType, Table};

fn key_schema(k: &[KeySchemaElement]) -> Value {
    Value::Array(
        k.iter()
            .map(|e| {
                json!({
                    "AttributeName": e.attribute_name,
                    "KeyType": match e.key_type { KeyType::Hash => "HASH", KeyType::Range => "RANGE" },
                })
            })
            .collect(),
    )
}

fn projection(p: &crate::crd::Projection) -> Value {
    let mut m = Map::new();
    m.insert(
        "ProjectionType".into(),
        json!(match p.projection_type {
            ProjectionType::All => "ALL",
            ProjectionType::KeysOnly => "KEYS_ONLY",
            ProjectionType::Include => "INCLUDE",
        }),
    );
    if let Some(n) = &p.non_key_attributes {
        m.insert("NonKeyAttributes".into(), json!(n));
    }
    Value::Object(m)
}

fn throughput(t: &crate::crd::ProvisionedThroughput) -> Value {
    json!({"ReadCapacityUnits": t.read_capacity_units, "WriteCapacityUnits": t.write_capacity_units})
}

fn attribute_definitions(table: &Table) -> Value {
    Value::Array(
        table
            .spec
            .attribute_definitions
            .iter()
            .map(|a| {
                json!({
                    "AttributeName": a.attribute_name,
                    "AttributeType": match a.attribute_type {
                        crate::crd::ScalarAttributeType::S => "S",
                        crate::crd::ScalarAttributeType::N => "N",
                        crate::crd::ScalarAttributeType::B => "B",
                    },
                })
            })
            .collect(),
    )
}

fn global_index(i: &GlobalSecondaryIndex) -> Value {
    let mut o = json!({
        "IndexName": i.index_name,
        "KeySchema": key_schema(&i.key_schema),
        "Projection": projection(&i.projection),
    });
    if let (Some(t), Some(obj)) = (&i.provisioned_throughput, o.as_object_mut()) {
        obj.insert("ProvisionedThroughput".into(), throughput(t));
    }
    o
}

/// CreateTable for the table the spec declares. Billing mode defaults to PAY_PER_REQUEST.
pub fn create_table_request(table: &Table) -> Value {
    let s = &table.spec;
    let mut m = Map::new();
    m.insert("TableName".into(), json!(table.table_name()));
    m.insert("AttributeDefinitions".into(), attribute_definitions(table));
    m.insert("KeySchema".into(), key_schema(&s.key_schema));
    m.insert(
        "BillingMode".into(),
        json!(
            s.billing_mode
                .map(|b| b.as_str())
                .unwrap_or("PAY_PER_REQUEST")
        ),
    );
    if let Some(t) = &s.provisioned_throughput {
        m.insert("ProvisionedThroughput".into(), throughput(t));
    }
    if let Some(p) = s.deletion_protection_enabled {
        m.insert("DeletionProtectionEnabled".into(), json!(p));
    }
    if let Some(tags) = &s.tags {
        m.insert(
            "Tags".into(),
            Value::Array(
                tags.iter()
                    .map(|t| json!({"Key": t.key, "Value": t.value}))
                    .collect(),
            ),
        );
    }
    if let Some(g) = &s.global_secondary_indexes
        && !g.is_empty()
    {
        m.insert(
            "GlobalSecondaryIndexes".into(),
            Value::Array(g.iter().map(global_index).collect()),
        );
    }
    if let Some(l) = &s.local_secondary_indexes {
        m.insert(
            "LocalSecondaryIndexes".into(),
            Value::Array(
                l.iter()
                    .map(|i| {
                        json!({
                            "IndexName": i.index_name,
                            "KeySchema": key_schema(&i.key_schema),
                            "Projection": projection(&i.projection),
                        })
                    })
                    .collect(),
            ),
        );
    }
    if let Some(st) = &s.stream_specification {
        let mut o = Map::new();
        o.insert("StreamEnabled".into(), json!(st.stream_enabled));
        if let Some(v) = st.stream_view_type {
            o.insert(
                "StreamViewType".into(),
                serde_json::to_value(v).unwrap_or(Value::Null),
            );
        }
        m.insert("StreamSpecification".into(), Value::Object(o));
    }
    Value::Object(m)
}

/// UpdateTable bringing the data-plane table (`described`: DescribeTable's `Table` object) to
/// the spec, or `None` when every field the spec sets already matches.
pub fn update_table_request(table: &Table, described: &Value) -> Option<Value> {
    let s = &table.spec;
    let mut m = Map::new();
    let current_mode = described
        .pointer("/BillingModeSummary/BillingMode")
        .and_then(Value::as_str)
        .unwrap_or("PROVISIONED");
    if let Some(mode) = s.billing_mode
        && mode.as_str() != current_mode
    {
        m.insert("BillingMode".into(), json!(mode.as_str()));
    }
    if let Some(t) = &s.provisioned_throughput {
        let rcu = described
            .pointer("/ProvisionedThroughput/ReadCapacityUnits")
            .and_then(Value::as_i64);
        let wcu = described
            .pointer("/ProvisionedThroughput/WriteCapacityUnits")
            .and_then(Value::as_i64);
        if rcu != Some(t.read_capacity_units) || wcu != Some(t.write_capacity_units) {
            m.insert("ProvisionedThroughput".into(), throughput(t));
        }
    }
    if let Some(p) = s.deletion_protection_enabled {
        let current = described
            .get("DeletionProtectionEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if p != current {
            m.insert("DeletionProtectionEnabled".into(), json!(p));
        }
    }
    if let Some(st) = &s.stream_specification {
        let enabled = described
            .pointer("/StreamSpecification/StreamEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let view = described
            .pointer("/StreamSpecification/StreamViewType")
            .cloned();
        let wanted_view = st
            .stream_view_type
            .and_then(|v| serde_json::to_value(v).ok());
        if enabled != st.stream_enabled || (st.stream_enabled && view != wanted_view) {
            m.insert("StreamSpecification".into(), stream_specification(st));
        }
    }
    if m.is_empty() {
        return None;
    }
    m.insert("TableName".into(), json!(table.table_name()));
    Some(Value::Object(m))
}

fn stream_specification(st: &crate::crd::StreamSpecification) -> Value {
    let mut o = Map::new();
    o.insert("StreamEnabled".into(), json!(st.stream_enabled));
    if let Some(v) = st.stream_view_type {
        o.insert(
            "StreamViewType".into(),
            serde_json::to_value(v).unwrap_or(Value::Null),
        );
    }
    Value::Object(o)
}

/// Whether a described index (`described`: one entry of DescribeTable's
/// `GlobalSecondaryIndexes`) has the key schema and projection the spec declares.
fn same_shape(described: &Value, wanted: &GlobalSecondaryIndex) -> bool {
    let sorted = |v: Option<&Value>| {
        let mut names: Vec<String> = v
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    };
    let want = projection(&wanted.projection);
    let have = described.get("Projection");
    described.get("KeySchema") == Some(&key_schema(&wanted.key_schema))
        && have.and_then(|p| p.get("ProjectionType")) == want.get("ProjectionType")
        && sorted(have.and_then(|p| p.get("NonKeyAttributes")))
            == sorted(want.get("NonKeyAttributes"))
}

/// The next UpdateTable that moves the table's global secondary indexes (`described`:
/// DescribeTable's `Table` object) toward `spec.globalSecondaryIndexes`: first a deletion
/// (of an index the spec no longer names, or whose key schema or projection changed — an
/// index cannot be altered, so it is rebuilt), then a creation (DynamoDB creates or deletes
/// one index per request), then throughput changes. `None` when they match, and while an
/// index is still being created or deleted (the next reconcile continues). Without
/// `globalSecondaryIndexes` in the spec the indexes are left alone; `[]` removes them all.
pub fn index_update_request(table: &Table, described: &Value) -> Option<Value> {
    let wanted = table.spec.global_secondary_indexes.as_ref()?;
    let current: Vec<&Value> = described
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    if current
        .iter()
        .any(|g| g.get("IndexStatus").and_then(Value::as_str) != Some("ACTIVE"))
    {
        return None;
    }
    let name_of = |g: &Value| {
        g.get("IndexName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let request = |updates: Vec<Value>, with_definitions: bool| {
        let mut m = Map::new();
        m.insert("TableName".into(), json!(table.table_name()));
        if with_definitions {
            m.insert("AttributeDefinitions".into(), attribute_definitions(table));
        }
        m.insert("GlobalSecondaryIndexUpdates".into(), Value::Array(updates));
        Some(Value::Object(m))
    };
    for g in &current {
        let name = name_of(g);
        let keep = wanted
            .iter()
            .find(|w| w.index_name == name)
            .is_some_and(|w| same_shape(g, w));
        if !keep {
            return request(vec![json!({"Delete": {"IndexName": name}})], false);
        }
    }
    if let Some(missing) = wanted
        .iter()
        .find(|w| !current.iter().any(|g| name_of(g) == w.index_name))
    {
        return request(vec![json!({"Create": global_index(missing)})], true);
    }
    let updates: Vec<Value> = wanted
        .iter()
        .filter_map(|w| {
            let t = w.provisioned_throughput.as_ref()?;
            let g = current.iter().find(|g| name_of(g) == w.index_name)?;
            let rcu = g
                .pointer("/ProvisionedThroughput/ReadCapacityUnits")
                .and_then(Value::as_i64);
            let wcu = g
                .pointer("/ProvisionedThroughput/WriteCapacityUnits")
                .and_then(Value::as_i64);
            (rcu != Some(t.read_capacity_units) || wcu != Some(t.write_capacity_units)).then(
                || json!({"Update": {"IndexName": w.index_name, "ProvisionedThroughput": throughput(t)}}),
            )
        })
        .collect();
    if updates.is_empty() {
        return None;
    }
    request(updates, false)
}

/// TagResource and UntagResource bodies bringing the table's tags (`listed`: the answer of
/// ListTagsOfResource) to `spec.tags`; nothing when the spec names no tags.
pub fn tag_requests(table: &Table, arn: &str, listed: &Value) -> (Option<Value>, Option<Value>) {
    let Some(wanted) = &table.spec.tags else {
        return (None, None);
    };
    let current: std::collections::BTreeMap<&str, &str> = listed
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t.get("Key")?.as_str()?, t.get("Value")?.as_str()?)))
        .collect();
    let add: Vec<Value> = wanted
        .iter()
        .filter(|t| current.get(t.key.as_str()) != Some(&t.value.as_str()))
        .map(|t| json!({"Key": t.key, "Value": t.value}))
        .collect();
    let remove: Vec<&str> = current
        .keys()
        .filter(|k| !wanted.iter().any(|t| t.key == **k))
        .copied()
        .collect();
    (
        (!add.is_empty()).then(|| json!({"ResourceArn": arn, "Tags": add})),
        (!remove.is_empty()).then(|| json!({"ResourceArn": arn, "TagKeys": remove})),
    )
}

/// UpdateTimeToLive bringing the table (`described`: DescribeTimeToLive's answer) to
/// `spec.timeToLive`; nothing when the spec does not mention TTL or it already matches.
pub fn ttl_request(table: &Table, described: &Value) -> Option<Value> {
    let ttl = table.spec.time_to_live.as_ref()?;
    let d = described.get("TimeToLiveDescription");
    let enabled = matches!(
        d.and_then(|d| d.get("TimeToLiveStatus"))
            .and_then(Value::as_str),
        Some("ENABLED" | "ENABLING")
    );
    let attr = d
        .and_then(|d| d.get("AttributeName"))
        .and_then(Value::as_str);
    if enabled == ttl.enabled && (!ttl.enabled || attr == Some(ttl.attribute_name.as_str())) {
        return None;
    }
    Some(json!({
        "TableName": table.table_name(),
        "TimeToLiveSpecification": {"AttributeName": ttl.attribute_name, "Enabled": ttl.enabled},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{BillingMode, ProvisionedThroughput};

    fn table() -> Table {
        serde_yaml::from_str(
            r#"
apiVersion: tabula.dev/v1alpha1
kind: Table
metadata: {name: orders, namespace: shop}
spec:
  attributeDefinitions: [{attributeName: pk, attributeType: S}, {attributeName: sk, attributeType: N}]
  keySchema: [{attributeName: pk, keyType: HASH}, {attributeName: sk, keyType: RANGE}]
  tags: [{key: team, value: shop}]
"#,
        )
        .expect("table")
    }

    #[test]
    fn create_table_carries_the_declared_definition() {
        let r = create_table_request(&table());
        assert_eq!(
            r,
            json!({
                "TableName": "orders",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"}
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"}
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "Tags": [{"Key": "team", "Value": "shop"}]
            })
        );
    }

    fn with_gsis(yaml: &str) -> Table {
        let mut t = table();
        t.spec.global_secondary_indexes = Some(serde_yaml::from_str(yaml).expect("gsis"));
        t
    }

    fn described_gsi(name: &str, hash: &str, status: &str, projection: Value) -> Value {
        json!({"IndexName": name, "IndexStatus": status, "Projection": projection,
               "KeySchema": [{"AttributeName": hash, "KeyType": "HASH"}]})
    }

    #[test]
    fn global_indexes_change_one_at_a_time_deletions_first() {
        let spec = with_gsis(
            "[{indexName: by_a, keySchema: [{attributeName: a, keyType: HASH}], projection: {projectionType: INCLUDE, nonKeyAttributes: [y, x]}},
              {indexName: by_b, keySchema: [{attributeName: b, keyType: HASH}], projection: {projectionType: ALL}}]",
        );
        let all = json!({"ProjectionType": "ALL"});
        let include = json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x", "y"]});
        // An index the spec dropped goes first, alone.
        let d = json!({"GlobalSecondaryIndexes": [
            described_gsi("by_a", "a", "ACTIVE", include.clone()),
            described_gsi("old", "o", "ACTIVE", all.clone())]});
        let r = index_update_request(&spec, &d).expect("update");
        assert_eq!(
            r["GlobalSecondaryIndexUpdates"],
            json!([{"Delete": {"IndexName": "old"}}])
        );
        assert!(r.get("AttributeDefinitions").is_none());
        // Then the missing one is created, with the attribute definitions.
        let d = json!({"GlobalSecondaryIndexes": [described_gsi("by_a", "a", "ACTIVE", include.clone())]});
        let r = index_update_request(&spec, &d).expect("update");
        assert_eq!(
            r["GlobalSecondaryIndexUpdates"][0]["Create"]["IndexName"],
            "by_b"
        );
        assert!(r["AttributeDefinitions"].is_array());
        // Nothing happens while an index is still being built.
        let d = json!({"GlobalSecondaryIndexes": [
            described_gsi("by_a", "a", "ACTIVE", include.clone()),
            described_gsi("by_b", "b", "CREATING", all.clone())]});
        assert_eq!(index_update_request(&spec, &d), None);
        // In shape (NonKeyAttributes in any order): nothing to do.
        let d = json!({"GlobalSecondaryIndexes": [
            described_gsi("by_a", "a", "ACTIVE", include),
            described_gsi("by_b", "b", "ACTIVE", all.clone())]});
        assert_eq!(index_update_request(&spec, &d), None);
        // A reshaped index is rebuilt: deleted first.
        let d = json!({"GlobalSecondaryIndexes": [
            described_gsi("by_a", "a", "ACTIVE", all.clone()),
            described_gsi("by_b", "b", "ACTIVE", all)]});
        let r = index_update_request(&spec, &d).expect("update");
        assert_eq!(
            r["GlobalSecondaryIndexUpdates"],
            json!([{"Delete": {"IndexName": "by_a"}}])
        );
        // Without the field, indexes are left alone.
        assert_eq!(index_update_request(&table(), &d), None);
    }

    #[test]
    fn omitted_fields_never_become_changes() {
        let described = json!({
            "BillingModeSummary": {"BillingMode": "PROVISIONED"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 7, "WriteCapacityUnits": 9},
            "DeletionProtectionEnabled": true
        });
        assert_eq!(update_table_request(&table(), &described), None);
    }

    #[test]
    fn set_fields_that_differ_become_one_update() {
        let mut t = table();
        t.spec.billing_mode = Some(BillingMode::Provisioned);
        t.spec.provisioned_throughput = Some(ProvisionedThroughput {
            read_capacity_units: 5,
            write_capacity_units: 5,
        });
        t.spec.deletion_protection_enabled = Some(true);
        let described = json!({
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
            "DeletionProtectionEnabled": false
        });
        assert_eq!(
            update_table_request(&t, &described),
            Some(json!({
                "TableName": "orders",
                "BillingMode": "PROVISIONED",
                "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
                "DeletionProtectionEnabled": true
            }))
        );
        let converged = json!({
            "BillingModeSummary": {"BillingMode": "PROVISIONED"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
            "DeletionProtectionEnabled": true
        });
        assert_eq!(update_table_request(&t, &converged), None);
    }

    #[test]
    fn a_stream_change_is_part_of_the_update() {
        let mut t = table();
        t.spec.stream_specification = Some(crate::crd::StreamSpecification {
            stream_enabled: true,
            stream_view_type: Some(crate::crd::StreamViewType::NewImage),
        });
        let without = json!({"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}});
        assert_eq!(
            update_table_request(&t, &without),
            Some(json!({"TableName": "orders",
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}}))
        );
        let with =
            json!({"StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}});
        assert_eq!(update_table_request(&t, &with), None);
    }

    #[test]
    fn tags_are_synced_only_when_the_spec_names_them() {
        let listed =
            json!({"Tags": [{"Key": "team", "Value": "old"}, {"Key": "cost", "Value": "x"}]});
        let (add, remove) = tag_requests(&table(), "arn:t", &listed);
        assert_eq!(
            add,
            Some(json!({"ResourceArn": "arn:t", "Tags": [{"Key": "team", "Value": "shop"}]}))
        );
        assert_eq!(
            remove,
            Some(json!({"ResourceArn": "arn:t", "TagKeys": ["cost"]}))
        );
        let synced = json!({"Tags": [{"Key": "team", "Value": "shop"}]});
        assert_eq!(tag_requests(&table(), "arn:t", &synced), (None, None));
        let mut untagged = table();
        untagged.spec.tags = None;
        assert_eq!(tag_requests(&untagged, "arn:t", &listed), (None, None));
    }

    #[test]
    fn ttl_is_updated_only_when_it_differs() {
        let mut t = table();
        assert_eq!(ttl_request(&t, &json!({})), None, "omitted: left alone");
        t.spec.time_to_live = Some(crate::crd::TimeToLiveSpecification {
            attribute_name: "expires".into(),
            enabled: true,
        });
        let off = json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}});
        assert_eq!(
            ttl_request(&t, &off),
            Some(json!({"TableName": "orders",
                "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": true}}))
        );
        let on = json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}});
        assert_eq!(ttl_request(&t, &on), None);
    }
}
