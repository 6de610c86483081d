//! The DynamoDB API requests reconcile sends to a table's data plane, built from the spec.
//! Pure: JSON bodies in the DynamoDB shapes (the data plane speaks the DynamoDB API, so no
//! private admin protocol is needed for table lifecycle).
//!
//! A spec field the user omitted is never sent as a change: UpdateTable carries only fields that
//! are set in the spec and differ from what DescribeTable reports.

use serde_json::{Map, Value, json};

use crate::crd::{KeySchemaElement, KeyType, ProjectionType, Table};

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

/// CreateTable for the table the spec declares. Billing mode defaults to PAY_PER_REQUEST.
pub fn create_table_request(table: &Table) -> Value {
    let s = &table.spec;
    let mut m = Map::new();
    m.insert("TableName".into(), json!(table.table_name()));
    m.insert(
        "AttributeDefinitions".into(),
        Value::Array(
            s.attribute_definitions
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
        ),
    );
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
    if let Some(g) = &s.global_secondary_indexes {
        m.insert(
            "GlobalSecondaryIndexes".into(),
            Value::Array(
                g.iter()
                    .map(|i| {
                        let mut o = json!({
                            "IndexName": i.index_name,
                            "KeySchema": key_schema(&i.key_schema),
                            "Projection": projection(&i.projection),
                        });
                        if let (Some(t), Some(obj)) = (&i.provisioned_throughput, o.as_object_mut())
                        {
                            obj.insert("ProvisionedThroughput".into(), throughput(t));
                        }
                        o
                    })
                    .collect(),
            ),
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
    if m.is_empty() {
        return None;
    }
    m.insert("TableName".into(), json!(table.table_name()));
    Some(Value::Object(m))
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
}
