//! The Table CRD: generated files are fresh, and the CEL rules accept good specs and reject bad
//! ones with their messages (evaluated offline with kube's CEL implementation, as the API server
//! would on `kubectl apply`).

use tabula_operator::crd::{BillingMode, PvcRetentionPolicy, Table};

use crate::support::{example_table, repo_path, table_from_yaml};

#[test]
fn checked_in_crds_match_the_rust_types() {
    for (file, yaml) in tabula_operator::crd_files() {
        for dir in ["crds", "charts/tabula/crds"] {
            let on_disk = std::fs::read_to_string(repo_path(dir).join(file)).unwrap_or_default();
            assert!(
                on_disk == yaml,
                "{dir}/{file} is stale: run `cargo run -p tabula-operator --bin crdgen`"
            );
        }
    }
}

#[test]
fn the_example_manifest_is_valid() {
    let t = example_table();
    t.validate_cel().expect("example passes the CEL rules");
    assert_eq!(t.table_name(), "orders");
    assert_eq!(t.spec.billing_mode, Some(BillingMode::PayPerRequest));
}

fn minimal(spec_extra: &str) -> Table {
    table_from_yaml(&format!(
        r#"
apiVersion: tabula.dev/v1alpha1
kind: Table
metadata: {{name: t1, namespace: default}}
spec:
  attributeDefinitions: [{{attributeName: pk, attributeType: S}}, {{attributeName: sk, attributeType: N}}]
  keySchema: [{{attributeName: pk, keyType: HASH}}, {{attributeName: sk, keyType: RANGE}}]
{spec_extra}
"#
    ))
}

fn rejects(t: &Table, message: &str) {
    let err = t
        .validate_cel()
        .expect_err("the CEL rules must reject this spec");
    let text = format!("{err:?}");
    assert!(text.contains(message), "expected {message:?} in {text}");
}

#[test]
fn omitted_cluster_settings_get_their_defaults() {
    let t = minimal("");
    t.validate_cel().expect("minimal spec is valid");
    assert_eq!(t.spec.cluster.replicas, 3);
    assert_eq!(t.spec.cluster.storage.size.0, "10Gi");
    assert_eq!(
        t.spec.cluster.pvc_retention_policy,
        PvcRetentionPolicy::Retain
    );
    assert_eq!(t.spec.billing_mode, None, "omitted means leave alone");
    assert_eq!(t.table_name(), "t1");
}

#[test]
fn key_attributes_must_be_declared() {
    let t = table_from_yaml(
        r#"
apiVersion: tabula.dev/v1alpha1
kind: Table
metadata: {name: t2}
spec:
  attributeDefinitions: [{attributeName: pk, attributeType: S}]
  keySchema: [{attributeName: pk, keyType: HASH}, {attributeName: missing, keyType: RANGE}]
"#,
    );
    rejects(
        &t,
        "every keySchema attribute must be declared in attributeDefinitions",
    );
}

#[test]
fn attribute_definitions_must_be_unique() {
    let t = table_from_yaml(
        r#"
apiVersion: tabula.dev/v1alpha1
kind: Table
metadata: {name: t3}
spec:
  attributeDefinitions: [{attributeName: pk, attributeType: S}, {attributeName: pk, attributeType: N}]
  keySchema: [{attributeName: pk, keyType: HASH}]
"#,
    );
    rejects(&t, "attributeDefinitions must not name an attribute twice");
}

#[test]
fn the_hash_key_comes_first_and_the_range_key_second() {
    let t = table_from_yaml(
        r#"
apiVersion: tabula.dev/v1alpha1
kind: Table
metadata: {name: t4}
spec:
  attributeDefinitions: [{attributeName: pk, attributeType: S}, {attributeName: sk, attributeType: S}]
  keySchema: [{attributeName: sk, keyType: RANGE}, {attributeName: pk, keyType: HASH}]
"#,
    );
    rejects(&t, "the first keySchema element must be the HASH key");
    let t = table_from_yaml(
        r#"
apiVersion: tabula.dev/v1alpha1
kind: Table
metadata: {name: t5}
spec:
  attributeDefinitions: [{attributeName: pk, attributeType: S}, {attributeName: sk, attributeType: S}]
  keySchema: [{attributeName: pk, keyType: HASH}, {attributeName: sk, keyType: HASH}]
"#,
    );
    rejects(&t, "the second keySchema element must be the RANGE key");
}

#[test]
fn billing_mode_and_throughput_must_agree() {
    rejects(
        &minimal("  billingMode: PROVISIONED"),
        "billingMode PROVISIONED needs provisionedThroughput",
    );
    rejects(
        &minimal(
            "  billingMode: PAY_PER_REQUEST\n  provisionedThroughput: {readCapacityUnits: 1, writeCapacityUnits: 1}",
        ),
        "provisionedThroughput cannot be set with billingMode PAY_PER_REQUEST",
    );
    minimal(
        "  billingMode: PROVISIONED\n  provisionedThroughput: {readCapacityUnits: 5, writeCapacityUnits: 5}",
    )
    .validate_cel()
    .expect("provisioned with throughput is valid");
}

#[test]
fn stream_and_projection_rules_are_checked() {
    rejects(
        &minimal("  streamSpecification: {streamEnabled: true}"),
        "streamViewType is required when streamEnabled is true",
    );
    rejects(
        &minimal(
            "  globalSecondaryIndexes:\n  - indexName: by-sk\n    keySchema: [{attributeName: sk, keyType: HASH}]\n    projection: {projectionType: ALL, nonKeyAttributes: [a]}",
        ),
        "nonKeyAttributes is only allowed with projectionType INCLUDE",
    );
}

#[test]
fn unknown_enum_values_are_refused_by_the_schema() {
    let r: Result<Table, _> = serde_yaml::from_str(
        r#"
apiVersion: tabula.dev/v1alpha1
kind: Table
metadata: {name: t6}
spec:
  attributeDefinitions: [{attributeName: pk, attributeType: STRING}]
  keySchema: [{attributeName: pk, keyType: HASH}]
"#,
    );
    assert!(r.is_err(), "attributeType STRING is not S/N/B");
    let crd = std::fs::read_to_string(repo_path("crds/tabula.dev_tables.yaml")).expect("crd");
    assert!(crd.contains("- PAY_PER_REQUEST") && crd.contains("- PROVISIONED"));
}

#[test]
fn key_schema_table_name_and_storage_are_immutable() {
    let old =
        minimal("  tableName: orders\n  cluster: {storage: {size: 10Gi, storageClassName: fast}}");
    let mut changed_key = old.clone();
    changed_key.spec.key_schema.truncate(1);
    let err = changed_key
        .validate_cel_update(&old)
        .expect_err("keySchema change is refused");
    assert!(format!("{err:?}").contains("keySchema is immutable"));

    let mut renamed = old.clone();
    renamed.spec.table_name = Some("orders2".into());
    let err = renamed
        .validate_cel_update(&old)
        .expect_err("rename refused");
    assert!(format!("{err:?}").contains("tableName is immutable"));

    let mut resized = old.clone();
    resized.spec.cluster.storage.size.0 = "20Gi".into();
    let err = resized
        .validate_cel_update(&old)
        .expect_err("resize refused");
    assert!(format!("{err:?}").contains("storage size is immutable"));

    let mut rebilled = old.clone();
    rebilled.spec.billing_mode = Some(BillingMode::Provisioned);
    rebilled.spec.provisioned_throughput = Some(tabula_operator::crd::ProvisionedThroughput {
        read_capacity_units: 5,
        write_capacity_units: 5,
    });
    rebilled
        .validate_cel_update(&old)
        .expect("billing mode may change");
}
