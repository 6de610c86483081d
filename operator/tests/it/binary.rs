//! The `tabula-operator` binary itself, against the in-memory Kubernetes API (a mock) served
//! over HTTP through a kubeconfig: it takes the leader Lease, lists and watches Tables, applies a
//! Table's children and writes its status, serves /readyz and /metrics, and stops cleanly on
//! SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::boot::{free_port, http};
use crate::fake_api::FakeApi;
use crate::support::example_table;

const TABLE: &str = "/apis/tabula.dev/v1alpha1/namespaces/shop/tables/orders";
const STS: &str = "/apis/apps/v1/namespaces/shop/statefulsets/orders";
const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/tabula-system/leases/tabula-operator";

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, &format!("GET {path} HTTP/1.1\r\n"), "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_binary_leads_reconciles_reports_and_stops_cleanly() {
    let api = FakeApi::default();
    let addr = api.serve().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters: [{{name: fake, cluster: {{server: \"http://{addr}\"}}}}]\n\
             users: [{{name: test, user: {{token: test-token}}}}]\n\
             contexts: [{{name: fake, context: {{cluster: fake, user: test, namespace: default}}}}]\n"
        ),
    )
    .expect("kubeconfig");
    let mut t = example_table();
    t.metadata.uid = None;
    t.spec.cluster.replicas = 1;
    api.put(TABLE, serde_json::to_value(&t).expect("json"));
    api.put(
        "/apis/storage.k8s.io/v1/storageclasses/standard",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path"}),
    );

    let metrics_port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tabula-operator"))
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAMESPACE", "tabula-system")
        .env("POD_NAME", "tabula-operator-0")
        .env("TABULA_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
        .env("TABULA_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the operator");

    let deadline = Instant::now() + Duration::from_secs(30);
    let reconciled = loop {
        let status_written = api
            .get(TABLE)
            .is_some_and(|t| t["status"]["conditions"].is_array());
        if api.get(STS).is_some() && status_written {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let lease = api.get(LEASE);
    let ready = http_get(metrics_port, "/readyz");
    let metrics = http_get(metrics_port, "/metrics");

    // SIGTERM: the controller drains and the process exits 0.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    assert!(
        reconciled,
        "the Table was reconciled: StatefulSet applied, status written"
    );
    let table = api.get(TABLE).expect("table");
    assert!(
        table["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "tabula.dev/finalizer"))
    );
    assert_eq!(
        lease.as_ref().map(|l| l["spec"]["holderIdentity"].clone()),
        Some(json!("tabula-operator-0")),
        "leader Lease held: {lease:?}"
    );
    assert_eq!(ready.map(|r| r.0), Some(200));
    let metrics = metrics.map(|m| m.1).unwrap_or_default();
    let count: f64 = metrics
        .lines()
        .find(|l| l.starts_with("tabula_operator_reconciles_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(count >= 1.0, "reconciles counted:\n{metrics}");
    assert!(
        exit.is_some_and(|s| s.success()),
        "graceful exit on SIGTERM: {exit:?}"
    );
}
