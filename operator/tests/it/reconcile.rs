//! Reconcile against the in-memory Kubernetes API (`fake_api`, a mock) and a real data-plane
//! process booted from the StatefulSet and Secret the operator itself wrote: create, status,
//! spec update, missing Secret, unreachable data plane, conflict, deletion with and without
//! protection.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};
use tabula_operator::builders::Settings;
use tabula_operator::crd::Table;
use tabula_operator::dataplane::DataPlane;
use tabula_operator::metrics::Metrics;
use tabula_operator::reconcile::{Context, Error, error_policy, reconcile};

use crate::boot::{boot_pod, client, free_port};
use crate::fake_api::FakeApi;
use crate::support::example_table;

const TABLE: &str = "/apis/tabula.dev/v1alpha1/namespaces/shop/tables/orders";
const STS: &str = "/apis/apps/v1/namespaces/shop/statefulsets/orders";
const SECRET: &str = "/api/v1/namespaces/shop/secrets/orders-master-key";
const REPLICATION_SECRET: &str = "/api/v1/namespaces/shop/secrets/orders-replication-tls";

/// The Secrets a pod mounts, as the operator stored them.
fn pod_secrets(api: &FakeApi, extra: &[&str]) -> Vec<Secret> {
    [SECRET, REPLICATION_SECRET]
        .iter()
        .chain(extra)
        .map(|p| serde_json::from_value(api.get(p).expect("secret stored")).expect("Secret"))
        .collect()
}
const CONFIG: &str = "/api/v1/namespaces/shop/configmaps/orders-config";
const STANDARD_CLASS: &str = "/apis/storage.k8s.io/v1/storageclasses/standard";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/shop/events/";

fn context(api: &FakeApi, data_plane_port: u16) -> Arc<Context> {
    context_at(api, format!("http://127.0.0.1:{data_plane_port}"))
}

fn context_at(api: &FakeApi, url: String) -> Arc<Context> {
    let pod_url = url.clone();
    context_with(api, url, Box::new(move |_, _| pod_url.clone()))
}

/// A context reaching the table at `url` and its replicas as `pods` says.
fn context_with(
    api: &FakeApi,
    url: String,
    pods: tabula_operator::reconcile::PodEndpoint,
) -> Arc<Context> {
    Arc::new(Context {
        client: api.client(),
        settings: Settings::default(),
        dataplane: DataPlane::default(),
        endpoint_for: Box::new(move |_| url.clone()),
        pod_endpoint_for: pods,
        reporter: Reporter {
            controller: "tabula-operator".into(),
            instance: None,
        },
        metrics: Metrics::default(),
        backoff: Default::default(),
        status_writes: Default::default(),
    })
}

/// Stores a one-replica version of the example Table, as `kubectl apply` would.
fn stored_table(api: &FakeApi, edit: impl FnOnce(&mut Table)) {
    let mut t = example_table();
    t.metadata.uid = None;
    t.spec.cluster.replicas = 1;
    edit(&mut t);
    let mut v = serde_json::to_value(&t).expect("json");
    v["metadata"]["generation"] = json!(1);
    api.put(TABLE, v);
    // The example names StorageClass "standard"; the cluster has it.
    api.put(
        STANDARD_CLASS,
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path"}),
    );
}

fn current(api: &FakeApi) -> Table {
    serde_json::from_value(api.get(TABLE).expect("table stored")).expect("Table")
}

async fn pass(api: &FakeApi, ctx: &Arc<Context>) -> Action {
    reconcile(Arc::new(current(api)), ctx.clone())
        .await
        .expect("reconcile")
}

fn condition(api: &FakeApi, type_: &str) -> (String, String) {
    let t = current(api);
    let c = t
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .cloned()
        .expect("condition");
    (c.status, c.reason)
}

fn event_reasons(api: &FakeApi) -> Vec<String> {
    api.list(EVENTS)
        .iter()
        .filter_map(|e| e["reason"].as_str().map(String::from))
        .collect()
}

/// What the StatefulSet controller would report once the pods run.
fn pods_ready(api: &FakeApi, n: i32) {
    api.edit(
        STS,
        json!({"status": {"replicas": n, "readyReplicas": n, "updatedReplicas": n}}),
    );
}

#[tokio::test]
async fn a_new_table_gets_its_children_then_its_dynamodb_table_then_ready() {
    let api = FakeApi::default();
    let port = free_port();
    let ctx = context(&api, port);
    stored_table(&api, |_| {});

    // First pass: finalizer, key, children; pods not ready yet.
    let action = pass(&api, &ctx).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    let table = current(&api);
    assert!(
        table
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == "tabula.dev/finalizer")
    );
    for kind in [
        "/api/v1/namespaces/shop/services/orders",
        "/api/v1/namespaces/shop/services/orders-peers",
        "/apis/policy/v1/namespaces/shop/poddisruptionbudgets/orders",
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/orders",
        CONFIG,
        STS,
    ] {
        let obj = api.get(kind).unwrap_or_else(|| panic!("{kind} applied"));
        assert_eq!(
            obj["metadata"]["ownerReferences"][0]["kind"], "Table",
            "{kind}"
        );
    }
    let secret: Secret =
        serde_json::from_value(api.get(SECRET).expect("key created")).expect("Secret");
    assert_eq!(
        secret.data.as_ref().expect("data")["master-key"].0.len(),
        32
    );
    assert_eq!(
        condition(&api, "Ready"),
        ("False".into(), "QuorumNotReady".into())
    );
    assert_eq!(
        current(&api).status.and_then(|s| s.table_status),
        Some("CREATING".into())
    );

    // A second pass never replaces the key.
    pass(&api, &ctx).await;
    let again: Secret = serde_json::from_value(api.get(SECRET).expect("key")).expect("Secret");
    assert_eq!(again.data, secret.data);

    // The pods start from what the operator applied (its StatefulSet, ConfigMap and Secret).
    let sts: StatefulSet = serde_json::from_value(api.get(STS).expect("sts")).expect("StatefulSet");
    let cm: ConfigMap = serde_json::from_value(api.get(CONFIG).expect("cm")).expect("ConfigMap");
    let root = tempfile::tempdir().expect("temp dir");
    let _pod = boot_pod(&sts, 0, &[cm], &pod_secrets(&api, &[]), root.path(), port);
    pods_ready(&api, 1);

    // CreateTable answers CREATING, as DynamoDB does; the next look finds it ACTIVE.
    let action = pass(&api, &ctx).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    assert_eq!(
        condition(&api, "Ready"),
        ("False".into(), "TableNotActive".into())
    );
    assert!(event_reasons(&api).contains(&"TableCreated".to_string()));
    let action = pass(&api, &ctx).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(60)));
    assert_eq!(
        condition(&api, "Ready"),
        ("True".into(), "TableActive".into())
    );
    assert_eq!(condition(&api, "Degraded").0, "False");
    let status = current(&api).status.expect("status");
    assert_eq!(status.table_status.as_deref(), Some("ACTIVE"));
    assert_eq!(
        status.endpoint.as_deref(),
        Some("http://orders.shop.svc.cluster.local:8000")
    );
    assert_eq!(status.observed_generation, Some(1));
    let sdk = client(port);
    let desc = sdk
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .expect("describe");
    let key: Vec<String> = desc
        .table()
        .expect("table")
        .key_schema()
        .iter()
        .map(|k| k.attribute_name().to_string())
        .collect();
    assert_eq!(key, ["pk", "sk"], "the data plane has the declared table");

    // A spec change becomes UpdateTable; fields the spec omits are left alone.
    api.edit(
        TABLE,
        json!({"metadata": {"generation": 2}, "spec": {
            "billingMode": "PROVISIONED",
            "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 6}}}),
    );
    pass(&api, &ctx).await;
    let desc = sdk
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .expect("describe");
    let pt = desc
        .table()
        .and_then(|t| t.provisioned_throughput())
        .expect("throughput");
    assert_eq!(
        (pt.read_capacity_units(), pt.write_capacity_units()),
        (Some(5), Some(6))
    );
    assert!(event_reasons(&api).contains(&"TableUpdated".to_string()));
    assert_eq!(
        current(&api).status.and_then(|s| s.observed_generation),
        Some(2)
    );
    let arn = desc
        .table()
        .and_then(|t| t.table_arn())
        .expect("arn")
        .to_string();
    let tags = sdk
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("tags");
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("team", "shop")], "spec.tags reached the table");

    // A global index added to the spec is created on the live table and filled from it;
    // removed from the spec, it is deleted.
    sdk.put_item()
        .table_name("orders")
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
        .item("sk", aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
        .item(
            "state",
            aws_sdk_dynamodb::types::AttributeValue::S("open".into()),
        )
        .send()
        .await
        .expect("put");
    api.edit(
        TABLE,
        json!({"metadata": {"generation": 3}, "spec": {
            "attributeDefinitions": [
                {"attributeName": "pk", "attributeType": "S"},
                {"attributeName": "sk", "attributeType": "N"},
                {"attributeName": "state", "attributeType": "S"}],
            "globalSecondaryIndexes": [{
                "indexName": "by_state",
                "keySchema": [{"attributeName": "state", "keyType": "HASH"}],
                "projection": {"projectionType": "KEYS_ONLY"},
                "provisionedThroughput": {"readCapacityUnits": 1, "writeCapacityUnits": 1}}]}}),
    );
    pass(&api, &ctx).await;
    assert!(event_reasons(&api).contains(&"IndexesUpdated".to_string()));
    let mut found = 0;
    for _ in 0..200 {
        let q = sdk
            .query()
            .table_name("orders")
            .index_name("by_state")
            .key_condition_expression("#s = :s")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(
                ":s",
                aws_sdk_dynamodb::types::AttributeValue::S("open".into()),
            )
            .send()
            .await;
        if let Ok(out) = q {
            found = out.count;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(found, 1, "the new index holds the existing item");
    // The status lists the index; once it is ACTIVE the table is looked at on the slow period.
    let action = pass(&api, &ctx).await;
    let indexes = current(&api)
        .status
        .map(|s| s.global_secondary_indexes)
        .unwrap_or_default();
    assert_eq!(indexes.len(), 1);
    assert_eq!(
        (
            indexes[0].index_name.as_str(),
            indexes[0].index_status.as_str()
        ),
        ("by_state", "ACTIVE")
    );
    assert_eq!(action, Action::requeue(Duration::from_secs(60)));
    // Its throughput follows the spec too.
    api.edit(
        TABLE,
        json!({"metadata": {"generation": 4}, "spec": {
            "globalSecondaryIndexes": [{
                "indexName": "by_state",
                "keySchema": [{"attributeName": "state", "keyType": "HASH"}],
                "projection": {"projectionType": "KEYS_ONLY"},
                "provisionedThroughput": {"readCapacityUnits": 3, "writeCapacityUnits": 4}}]}}),
    );
    pass(&api, &ctx).await;
    let gsi = |sdk: aws_sdk_dynamodb::Client| async move {
        sdk.describe_table()
            .table_name("orders")
            .send()
            .await
            .expect("describe")
            .table
            .expect("table")
            .global_secondary_indexes
            .unwrap_or_default()
    };
    let now = gsi(sdk.clone()).await;
    let pt = now[0].provisioned_throughput().expect("index throughput");
    assert_eq!(
        (pt.read_capacity_units(), pt.write_capacity_units()),
        (Some(3), Some(4))
    );
    api.edit(
        TABLE,
        json!({"metadata": {"generation": 5}, "spec": {"globalSecondaryIndexes": []}}),
    );
    pass(&api, &ctx).await;
    assert!(gsi(sdk.clone()).await.is_empty(), "the index is gone");
    assert_eq!(condition(&api, "Degraded").0, "False");

    // Time to live follows the spec.
    api.edit(
        TABLE,
        json!({"metadata": {"generation": 6},
               "spec": {"timeToLive": {"attributeName": "expires", "enabled": true}}}),
    );
    pass(&api, &ctx).await;
    let ttl = sdk
        .describe_time_to_live()
        .table_name("orders")
        .send()
        .await
        .expect("describe ttl")
        .time_to_live_description
        .expect("description");
    assert_eq!(ttl.attribute_name.as_deref(), Some("expires"));
    assert_eq!(condition(&api, "Degraded").0, "False");

    // So does the stream.
    api.edit(
        TABLE,
        json!({"metadata": {"generation": 7},
               "spec": {"streamSpecification": {"streamEnabled": true, "streamViewType": "NEW_IMAGE"}}}),
    );
    pass(&api, &ctx).await;
    let desc = sdk
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    assert!(desc.latest_stream_arn().is_some(), "the table has a stream");
    assert_eq!(
        current(&api)
            .status
            .and_then(|s| s.latest_stream_arn)
            .as_deref(),
        desc.latest_stream_arn(),
        "the status names the stream for consumers"
    );
    assert_eq!(condition(&api, "Degraded").0, "False");

    // A setting the data plane refuses is Degraded with its answer; the table keeps serving,
    // so Ready stays True. (A global index on a PROVISIONED table needs its own throughput;
    // the CRD cannot know the billing mode the table will have, the data plane does.)
    api.edit(
        TABLE,
        json!({"metadata": {"generation": 8}, "spec": {
            "globalSecondaryIndexes": [{
                "indexName": "by_state",
                "keySchema": [{"attributeName": "state", "keyType": "HASH"}],
                "projection": {"projectionType": "ALL"}}]}}),
    );
    pass(&api, &ctx).await;
    assert_eq!(
        condition(&api, "Degraded"),
        ("True".into(), "DataPlaneRejectedSpec".into())
    );
    assert_eq!(condition(&api, "Ready").0, "True");
    let message = current(&api)
        .status
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Degraded"))
        .map(|c| c.message)
        .unwrap_or_default();
    assert!(message.contains("ProvisionedThroughput"), "{message}");
    assert_eq!(ctx.metrics.reconciles(), 12);
}

#[tokio::test]
async fn a_missing_key_secret_is_reported_not_crashed_on() {
    let api = FakeApi::default();
    let ctx = context(&api, free_port());
    stored_table(&api, |t| {
        t.spec.cluster.encryption_key_secret = Some(tabula_operator::crd::SecretKeyRef {
            name: "vault-key".into(),
            key: None,
        });
    });
    pass(&api, &ctx).await;
    assert_eq!(
        condition(&api, "Degraded"),
        ("True".into(), "MasterKeySecretMissing".into())
    );
    assert!(api.get(STS).is_none(), "no pods that could not start");
    assert!(event_reasons(&api).contains(&"MasterKeySecretMissing".to_string()));

    // Once the Secret exists the table proceeds.
    api.put(
        "/api/v1/namespaces/shop/secrets/vault-key",
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "vault-key", "namespace": "shop"},
               "data": {"master-key": "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo="}}),
    );
    pass(&api, &ctx).await;
    assert!(api.get(STS).is_some());
    assert_eq!(condition(&api, "Degraded").0, "False");
    assert!(
        api.get(SECRET).is_none(),
        "the user's key is used, none generated"
    );
}

#[tokio::test]
async fn a_missing_storage_class_holds_the_pods_back() {
    let api = FakeApi::default();
    let ctx = context(&api, free_port());
    stored_table(&api, |t| {
        t.spec.cluster.storage.storage_class_name = Some("encrypted-gp3".into());
    });
    pass(&api, &ctx).await;
    assert_eq!(
        condition(&api, "Degraded"),
        ("True".into(), "StorageClassMissing".into())
    );
    assert!(api.get(STS).is_none());
    api.put(
        "/apis/storage.k8s.io/v1/storageclasses/encrypted-gp3",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "encrypted-gp3"}, "provisioner": "ebs.csi.aws.com"}),
    );
    pass(&api, &ctx).await;
    assert!(api.get(STS).is_some());
}

#[tokio::test]
async fn an_unreachable_data_plane_is_degraded_and_retried() {
    let api = FakeApi::default();
    let ctx = context(&api, free_port()); // nothing listens there
    stored_table(&api, |_| {});
    pass(&api, &ctx).await;
    pods_ready(&api, 1);
    let action = pass(&api, &ctx).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(10)));
    assert_eq!(
        condition(&api, "Degraded"),
        ("True".into(), "DataPlaneUnreachable".into())
    );
    assert_eq!(condition(&api, "Ready").0, "False");
}

#[tokio::test]
async fn a_conflicting_write_is_an_error_for_the_retry_policy() {
    let api = FakeApi::default();
    let ctx = context(&api, free_port());
    stored_table(&api, |_| {});
    let stale = Arc::new(current(&api));
    // Someone else changes the Table after the controller's cache saw it.
    api.edit(TABLE, json!({"metadata": {"labels": {"team": "shop"}}}));
    let err = reconcile(stale.clone(), ctx.clone())
        .await
        .expect_err("a stale object must not win");
    assert_eq!(
        error_policy(stale.clone(), &err, ctx.clone()),
        Action::requeue(Duration::from_secs(2)),
        "retried soon, then backing off"
    );
    match err {
        Error::Kube(kube::Error::Api(e)) => assert_eq!(e.code, 409),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The retry, with the fresh object, goes through.
    pass(&api, &ctx).await;
    assert!(current(&api).metadata.finalizers.is_some());
}

#[tokio::test]
async fn deletion_waits_for_protection_to_be_lifted() {
    let api = FakeApi::default();
    let ctx = context(&api, free_port());
    stored_table(&api, |t| t.spec.deletion_protection_enabled = Some(true));
    pass(&api, &ctx).await;
    api.edit(
        TABLE,
        json!({"metadata": {"deletionTimestamp": "2026-11-26T01:00:00Z"}}),
    );

    pass(&api, &ctx).await;
    let t = current(&api);
    assert!(
        t.metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == "tabula.dev/finalizer")
    );
    assert_eq!(
        condition(&api, "Degraded"),
        ("True".into(), "DeletionProtected".into())
    );
    assert!(event_reasons(&api).contains(&"DeletionProtected".to_string()));

    api.edit(TABLE, json!({"spec": {"deletionProtectionEnabled": false}}));
    let action = pass(&api, &ctx).await;
    assert_eq!(action, Action::await_change());
    assert!(
        api.get(TABLE).is_none(),
        "finalizer removed: the API server lets it go"
    );
    assert!(
        api.get(SECRET).is_some(),
        "Retain keeps the key the retained volumes need"
    );
}

#[tokio::test]
async fn the_delete_policy_takes_the_generated_key_with_the_volumes() {
    let api = FakeApi::default();
    let ctx = context(&api, free_port());
    stored_table(&api, |t| {
        t.spec.cluster.pvc_retention_policy = tabula_operator::crd::PvcRetentionPolicy::Delete;
    });
    pass(&api, &ctx).await;
    assert!(api.get(SECRET).is_some());
    let sts = api.get(STS).expect("sts");
    assert_eq!(
        sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"],
        Value::from("Delete")
    );
    api.edit(
        TABLE,
        json!({"metadata": {"deletionTimestamp": "2026-11-26T01:00:00Z"}}),
    );
    pass(&api, &ctx).await;
    assert!(api.get(TABLE).is_none());
    assert!(api.get(SECRET).is_none());
}

/// A self-signed certificate for localhost (openssl, as the data plane's TLS test does).
fn localhost_certificate(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed (Debian base image)");
    assert!(ok.success());
    (
        std::fs::read(cert).expect("cert"),
        std::fs::read(key).expect("key"),
    )
}

#[tokio::test]
async fn a_tls_table_is_created_over_https_trusting_its_own_certificate() {
    use base64::Engine as _;
    let api = FakeApi::default();
    let port = free_port();
    let ctx = context_at(&api, format!("https://localhost:{port}"));
    stored_table(&api, |t| {
        t.spec.cluster.tls_secret_name = Some("orders-tls".into())
    });

    pass(&api, &ctx).await;
    assert_eq!(
        condition(&api, "Degraded"),
        ("True".into(), "TlsSecretMissing".into())
    );
    assert!(api.get(STS).is_none());

    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = localhost_certificate(dir.path());
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    api.put(
        "/api/v1/namespaces/shop/secrets/orders-tls",
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": "orders-tls", "namespace": "shop"},
               "data": {"tls.crt": b64(&cert), "tls.key": b64(&key)}}),
    );
    pass(&api, &ctx).await;
    let sts: StatefulSet = serde_json::from_value(api.get(STS).expect("sts")).expect("StatefulSet");
    let cm: ConfigMap = serde_json::from_value(api.get(CONFIG).expect("cm")).expect("ConfigMap");
    let secrets = pod_secrets(&api, &["/api/v1/namespaces/shop/secrets/orders-tls"]);
    let root = tempfile::tempdir().expect("temp dir");
    let _pod = boot_pod(&sts, 0, &[cm], &secrets, root.path(), port);
    pods_ready(&api, 1);
    pass(&api, &ctx).await;
    assert!(
        event_reasons(&api).contains(&"TableCreated".to_string()),
        "CreateTable went over HTTPS: {:?}",
        current(&api).status
    );
    pass(&api, &ctx).await;
    assert_eq!(
        condition(&api, "Ready"),
        ("True".into(), "TableActive".into())
    );
    assert_eq!(
        current(&api).status.and_then(|s| s.endpoint),
        Some("https://orders.shop.svc.cluster.local:8000".into())
    );
}

/// A pod object as the StatefulSet controller and scheduler leave it: on `node`, Ready.
fn put_pod(api: &FakeApi, ordinal: usize, node: &str) {
    api.put(
        &format!("/api/v1/namespaces/shop/pods/orders-{ordinal}"),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": format!("orders-{ordinal}"), "namespace": "shop",
                            "labels": {"app.kubernetes.io/instance": "orders"}},
               "spec": {"nodeName": node, "containers": []},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
    );
}

fn put_node(api: &FakeApi, name: &str, zone: &str) {
    api.put(
        &format!("/api/v1/nodes/{name}"),
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}}}),
    );
}

/// Three replicas booted from what the operator applied: the status lists each pod with its
/// zone and role (one leader), and ZoneLossSafe follows where the pods run. Scaling the
/// Table down to one replica first shrinks the replica group through the data plane, then
/// the StatefulSet: the remaining replica is then a group of one and takes writes alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_report_zones_and_roles_and_a_scale_down_shrinks_the_group_first() {
    use crate::boot::{PodNet, start_pod};
    use tabula_operator::status::ZONE_LOSS_SAFE;

    let api = FakeApi::default();
    stored_table(&api, |t| t.spec.cluster.replicas = 3);
    let net = PodNet::new(3);
    let urls: Vec<String> = net
        .api
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let pod_urls = urls.clone();
    let ctx = context_with(
        &api,
        urls[0].clone(),
        Box::new(move |_, i| pod_urls[i].clone()),
    );
    pass(&api, &ctx).await;
    let sts: StatefulSet = serde_json::from_value(api.get(STS).expect("sts")).expect("StatefulSet");
    assert_eq!(sts.spec.as_ref().and_then(|s| s.replicas), Some(3));
    let cm: ConfigMap = serde_json::from_value(api.get(CONFIG).expect("cm")).expect("ConfigMap");
    let root = tempfile::tempdir().expect("temp dir");
    let cms = [cm];
    let secrets = pod_secrets(&api, &[]);
    let mut pods: Vec<Option<crate::boot::LocalPod>> = (0..3)
        .map(|i| Some(start_pod(&sts, i, &cms, &secrets, root.path(), &net)))
        .collect();
    for p in pods.iter().flatten() {
        p.wait_ready();
    }
    for (i, zone) in ["a", "b", "c"].iter().enumerate() {
        put_node(&api, &format!("node-{zone}"), zone);
        put_pod(&api, i, &format!("node-{zone}"));
    }
    pods_ready(&api, 3);
    pass(&api, &ctx).await;
    pass(&api, &ctx).await;
    assert_eq!(condition(&api, "Ready").0, "True");
    assert_eq!(
        condition(&api, ZONE_LOSS_SAFE),
        ("True".into(), "SpreadOverZones".into())
    );
    let status = current(&api).status.expect("status");
    let zones: Vec<Option<&str>> = status
        .replica_statuses
        .iter()
        .map(|r| r.zone.as_deref())
        .collect();
    assert_eq!(zones, [Some("a"), Some("b"), Some("c")]);
    let leaders = status
        .replica_statuses
        .iter()
        .filter(|r| r.role.as_deref() == Some("leader"))
        .count();
    assert_eq!(leaders, 1, "{:?}", status.replica_statuses);
    assert!(
        status
            .replica_statuses
            .iter()
            .all(|r| r.applied_index.is_some() && r.lag.is_some())
    );

    // The third pod is rescheduled into zone a: two zones left.
    put_node(&api, "node-a2", "a");
    put_pod(&api, 2, "node-a2");
    pass(&api, &ctx).await;
    assert_eq!(
        condition(&api, ZONE_LOSS_SAFE),
        ("False".into(), "TooFewZones".into())
    );

    // Scale down to one replica: the group shrinks first, then the StatefulSet.
    api.edit(
        TABLE,
        json!({"metadata": {"generation": 2}, "spec": {"cluster": {"replicas": 1}}}),
    );
    pass(&api, &ctx).await;
    assert!(
        event_reasons(&api).contains(&"ReplicaGroupShrunk".to_string()),
        "{:?} {:?}",
        event_reasons(&api),
        current(&api).status.map(|s| s.conditions)
    );
    let sts: StatefulSet = serde_json::from_value(api.get(STS).expect("sts")).expect("StatefulSet");
    assert_eq!(sts.spec.as_ref().and_then(|s| s.replicas), Some(1));
    let st = crate::boot::replica_status(net.api[0]).expect("status");
    assert_eq!(st["voters"], json!([1]), "{st}");
    // The StatefulSet controller removes the other pods; the last one writes alone.
    pods[1] = None;
    pods[2] = None;
    client(net.api[0])
        .put_item()
        .table_name("orders")
        .item(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("solo".into()),
        )
        .item("sk", aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
        .send()
        .await
        .expect("a write with the group shrunk to one");
}
