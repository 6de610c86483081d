//! Pure builders: a `Table` (and the operator's settings) in, the Kubernetes objects that run it
//! out. No I/O here; reconcile applies what these return, and unit tests check them field by
//! field and against one full expected YAML per kind (`tests/golden/`).
//!
//! Children of table `orders`:
//! - StatefulSet `orders` (pods `orders-0..`), one volume claim `data` per pod;
//! - Service `orders` (the DynamoDB endpoint, port 8000) and headless Service `orders-peers`
//!   (stable pod DNS names for peers);
//! - PodDisruptionBudget `orders` (keeps a quorum), ConfigMap `orders-config`, NetworkPolicy
//!   `orders`, and Secret `orders-master-key` when the user names no key Secret.

mod network;
mod statefulset;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

pub use network::network_policy;
pub use statefulset::statefulset;

use crate::crd::Table;
use crate::labels;

/// The data plane's DynamoDB API port.
pub const API_PORT: i32 = 8000;
/// The data plane's internal port (replication and forwarding between replicas).
pub const INTERNAL_PORT: i32 = 8001;
/// Where the pods mount their volume.
pub const DATA_DIR: &str = "/var/lib/tabula";
/// Key name inside a master-key Secret when the user does not say.
pub const DEFAULT_MASTER_KEY_KEY: &str = "master-key";

/// Operator-wide settings the builders need.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Data-plane image for tables that do not name one.
    pub default_image: String,
    /// Region reported in table ARNs.
    pub region: String,
    /// Cluster DNS suffix (`cluster.local`).
    pub cluster_domain: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            default_image: "ghcr.io/tabula-dev/tabula:0.1.0".into(),
            region: "us-east-1".into(),
            cluster_domain: "cluster.local".into(),
        }
    }
}

/// Names of a table's children.
pub struct Names {
    pub table: String,
    pub statefulset: String,
    pub client_service: String,
    pub peer_service: String,
    pub config_map: String,
    pub master_key_secret: String,
    pub replication_tls_secret: String,
}

impl Names {
    pub fn of(table: &Table) -> Names {
        let n = table.metadata.name.clone().unwrap_or_default();
        Names {
            statefulset: n.clone(),
            client_service: n.clone(),
            peer_service: format!("{n}-peers"),
            config_map: format!("{n}-config"),
            master_key_secret: format!("{n}-master-key"),
            replication_tls_secret: format!("{n}-replication-tls"),
            table: n,
        }
    }
}

/// The Secret and key holding the table's master key: the user's, or the generated one.
pub fn master_key_ref(table: &Table) -> (String, String) {
    match &table.spec.cluster.encryption_key_secret {
        Some(r) => (
            r.name.clone(),
            r.key
                .clone()
                .unwrap_or_else(|| DEFAULT_MASTER_KEY_KEY.to_string()),
        ),
        None => (
            Names::of(table).master_key_secret,
            DEFAULT_MASTER_KEY_KEY.to_string(),
        ),
    }
}

/// Labels every child carries.
pub fn common_labels(table: &Table, component: &str) -> BTreeMap<String, String> {
    let name = table.metadata.name.clone().unwrap_or_default();
    BTreeMap::from([
        (labels::NAME.to_string(), "tabula".to_string()),
        (labels::INSTANCE.to_string(), name.clone()),
        (labels::COMPONENT.to_string(), component.to_string()),
        (
            labels::MANAGED_BY.to_string(),
            "tabula-operator".to_string(),
        ),
        (labels::PART_OF.to_string(), "tabula".to_string()),
        (labels::TABLE.to_string(), name),
    ])
}

/// The labels that select a table's data-plane pods (stable for the StatefulSet's lifetime).
pub fn pod_selector(table: &Table) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            labels::TABLE.to_string(),
            table.metadata.name.clone().unwrap_or_default(),
        ),
        (labels::COMPONENT.to_string(), "data".to_string()),
    ])
}

/// Metadata for a child: name, namespace, labels, and the Table as controlling owner so that
/// Kubernetes garbage-collects children with their Table.
pub fn child_meta(table: &Table, name: &str, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: table.metadata.namespace.clone(),
        labels: Some(common_labels(table, component)),
        owner_references: owner_reference(table).map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

fn owner_reference(table: &Table) -> Option<OwnerReference> {
    let mut o = table.controller_owner_ref(&())?;
    o.block_owner_deletion = Some(true);
    Some(o)
}

/// Members needed for a majority of `replicas`.
pub fn quorum(replicas: i32) -> i32 {
    replicas / 2 + 1
}

/// HTTPS for a table with a TLS Secret, else HTTP.
fn scheme(table: &Table) -> &'static str {
    if table.spec.cluster.tls_secret_name.is_some() {
        "https"
    } else {
        "http"
    }
}

/// The DynamoDB endpoint clients in the cluster use.
pub fn endpoint(table: &Table, settings: &Settings) -> String {
    format!(
        "{}://{}.{}.svc.{}:{API_PORT}",
        scheme(table),
        Names::of(table).client_service,
        table.metadata.namespace.clone().unwrap_or_default(),
        settings.cluster_domain
    )
}

/// The DynamoDB endpoint of one replica (pod `ordinal`), under the headless Service: the
/// operator asks each replica for its place in the group there.
pub fn pod_endpoint(table: &Table, ordinal: usize, settings: &Settings) -> String {
    let names = Names::of(table);
    format!(
        "{}://{}-{ordinal}.{}.{}.svc.{}:{API_PORT}",
        scheme(table),
        names.statefulset,
        names.peer_service,
        table.metadata.namespace.clone().unwrap_or_default(),
        settings.cluster_domain
    )
}

/// The client Service: the table's DynamoDB endpoint, balanced over ready pods.
pub fn client_service(table: &Table) -> Service {
    let names = Names::of(table);
    Service {
        metadata: child_meta(table, &names.client_service, "client"),
        spec: Some(ServiceSpec {
            selector: Some(pod_selector(table)),
            ports: Some(vec![api_port()]),
            type_: Some("ClusterIP".into()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The headless Service behind the StatefulSet: stable DNS names `<pod>.<name>-peers` for the
/// replicas to find each other, published before pods are ready (peers must reach a
/// starting replica).
pub fn peer_service(table: &Table) -> Service {
    let names = Names::of(table);
    Service {
        metadata: child_meta(table, &names.peer_service, "peers"),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(pod_selector(table)),
            ports: Some(vec![
                api_port(),
                ServicePort {
                    name: Some("internal".into()),
                    port: INTERNAL_PORT,
                    target_port: Some(IntOrString::String("internal".into())),
                    protocol: Some("TCP".into()),
                    ..ServicePort::default()
                },
            ]),
            publish_not_ready_addresses: Some(true),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn api_port() -> ServicePort {
    ServicePort {
        name: Some("dynamodb".into()),
        port: API_PORT,
        target_port: Some(IntOrString::String("dynamodb".into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

/// The PodDisruptionBudget: voluntary disruptions (drains, upgrades) may take down only the
/// pods a quorum can spare — 1 of 3, 2 of 5. A single-replica table allows none, so draining
/// its node waits for an operator decision rather than taking the table offline.
pub fn pod_disruption_budget(table: &Table) -> PodDisruptionBudget {
    let replicas = table.spec.cluster.replicas.max(1);
    PodDisruptionBudget {
        metadata: child_meta(table, &Names::of(table).statefulset, "data"),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(replicas - quorum(replicas))),
            selector: Some(LabelSelector {
                match_labels: Some(pod_selector(table)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// Settings the data-plane pods read from their environment (the data plane's flags have
/// `TABULA_*` environment twins). A change rolls the pods through the config-hash annotation.
pub fn config_map(table: &Table, settings: &Settings) -> ConfigMap {
    let names = Names::of(table);
    ConfigMap {
        metadata: child_meta(table, &names.config_map, "data"),
        data: Some(BTreeMap::from([
            ("TABULA_REGION".to_string(), settings.region.clone()),
            ("TABULA_LOG".to_string(), "info,openraft=off".to_string()),
            ("TABULA_STATS_INTERVAL_SECS".to_string(), "300".to_string()),
            ("TABULA_PEERS".to_string(), peers(table, settings)),
        ])),
        ..ConfigMap::default()
    }
}

/// Every replica's internal (replication) address, `N=HOST:PORT` by ordinal, through the headless
/// Service's stable pod names: the value of the data plane's `--peers` (env `TABULA_PEERS`).
/// Zone replication reads it; a single-node data plane ignores it.
pub fn peers(table: &Table, settings: &Settings) -> String {
    let names = Names::of(table);
    let ns = table.metadata.namespace.clone().unwrap_or_default();
    (0..table.spec.cluster.replicas.max(1))
        .map(|i| {
            format!(
                "{}={}-{i}.{}.{ns}.svc.{}:{INTERNAL_PORT}",
                i + 1,
                names.statefulset,
                names.peer_service,
                settings.cluster_domain
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The generated master-key Secret. `key` is 32 random bytes chosen by the caller (reconcile
/// creates this Secret once and never updates it).
pub fn master_key_secret(table: &Table, key: &[u8; 32]) -> Secret {
    let names = Names::of(table);
    let mut meta = child_meta(table, &names.master_key_secret, "master-key");
    // The key must outlive an accidental Table deletion as long as the volumes do: no owner
    // reference, so garbage collection never removes it with the Table.
    meta.owner_references = None;
    Secret {
        metadata: meta,
        type_: Some("Opaque".into()),
        immutable: Some(true),
        data: Some(BTreeMap::from([(
            DEFAULT_MASTER_KEY_KEY.to_string(),
            ByteString(key.to_vec()),
        )])),
        ..Secret::default()
    }
}

/// The name every replica's certificate carries and is checked against by its peers: the
/// headless Service's DNS name (the certificate also covers `*.` it, the pods' names).
pub fn replication_server_name(table: &Table, settings: &Settings) -> String {
    format!(
        "{}.{}.svc.{}",
        Names::of(table).peer_service,
        table.metadata.namespace.clone().unwrap_or_default(),
        settings.cluster_domain
    )
}

/// The replication Secret: the table's CA (`ca.crt`) and the certificate and key every
/// replica presents to its peers (`tls.crt`, `tls.key`). Reconcile creates it once with
/// fresh material (`certs::replication_tls`) and never updates it; it goes with the Table.
pub fn replication_tls_secret(table: &Table, tls: &crate::certs::ReplicationTls) -> Secret {
    let names = Names::of(table);
    Secret {
        metadata: child_meta(table, &names.replication_tls_secret, "replication-tls"),
        type_: Some("kubernetes.io/tls".into()),
        immutable: Some(true),
        data: Some(BTreeMap::from([
            (
                "ca.crt".to_string(),
                ByteString(tls.ca_pem.clone().into_bytes()),
            ),
            (
                "tls.crt".to_string(),
                ByteString(tls.cert_pem.clone().into_bytes()),
            ),
            (
                "tls.key".to_string(),
                ByteString(tls.key_pem.clone().into_bytes()),
            ),
        ])),
        ..Secret::default()
    }
}

/// A stable digest of a ConfigMap's data (FNV-1a 64, hex), for the pod-template annotation.
/// The peer list is left out: scaling changes it, and running replicas need not restart for
/// that (they know the members from their log; only a new replica reads the list, to find
/// its group).
pub fn config_hash(cm: &ConfigMap) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in cm
        .data
        .iter()
        .flatten()
        .filter(|(k, _)| *k != "TABULA_PEERS")
    {
        for b in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}
