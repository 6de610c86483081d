//! The StatefulSet of a table's data-plane pods.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapEnvSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvFromSource, EnvVar, EnvVarSource, HTTPGetAction, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodAffinityTerm, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext,
    TopologySpreadConstraint, Volume, VolumeMount, VolumeResourceRequirements,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{
    API_PORT, DATA_DIR, INTERNAL_PORT, Names, Settings, child_meta, common_labels, config_hash,
    config_map, master_key_ref, pod_selector, replication_server_name,
};
use crate::crd::{PodAntiAffinityType, PvcRetentionPolicy, Table};
use crate::labels;

/// UID/GID the data plane runs as (distroless `nonroot`).
const RUN_AS: i64 = 65532;
const MASTER_KEY_DIR: &str = "/etc/tabula/master-key";
const TLS_DIR: &str = "/etc/tabula/tls";
const REPLICATION_TLS_DIR: &str = "/etc/tabula/replication-tls";

pub fn statefulset(table: &Table, settings: &Settings) -> StatefulSet {
    let names = Names::of(table);
    let cluster = &table.spec.cluster;
    let mut pod_labels = common_labels(table, "data");
    pod_labels.extend(pod_selector(table));
    let mut annotations = cluster.pod_annotations.clone().unwrap_or_default();
    annotations.insert(
        labels::CONFIG_HASH.to_string(),
        config_hash(&config_map(table, settings)),
    );
    StatefulSet {
        metadata: child_meta(table, &names.statefulset, "data"),
        spec: Some(StatefulSetSpec {
            replicas: Some(cluster.replicas),
            service_name: Some(names.peer_service.clone()),
            selector: LabelSelector {
                match_labels: Some(pod_selector(table)),
                ..LabelSelector::default()
            },
            // Replicas of one table must start together (a quorum needs several of them), so
            // pods are not created one by one; rolling updates still go one pod at a time.
            pod_management_policy: Some("Parallel".into()),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(
                        match cluster.pvc_retention_policy {
                            PvcRetentionPolicy::Retain => "Retain",
                            PvcRetentionPolicy::Delete => "Delete",
                        }
                        .into(),
                    ),
                    // Scaling down first removes the replicas that go from the replica group
                    // (reconcile): their data is then stale, and a pod that comes back at
                    // that ordinal must join afresh (from a snapshot), so the volume goes too.
                    when_scaled: Some("Delete".into()),
                },
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(table, settings)),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    labels: Some(pod_selector(table)),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    storage_class_name: cluster.storage.storage_class_name.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            cluster.storage.size.clone(),
                        )])),
                        ..VolumeResourceRequirements::default()
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            }]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

fn pod_spec(table: &Table, settings: &Settings) -> PodSpec {
    let names = Names::of(table);
    let cluster = &table.spec.cluster;
    let (key_secret, key_name) = master_key_ref(table);
    let mut volumes = vec![
        Volume {
            name: "master-key".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(key_secret),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "replication-tls".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(names.replication_tls_secret.clone()),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tmp".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        VolumeMount {
            name: "data".into(),
            mount_path: DATA_DIR.into(),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "master-key".into(),
            mount_path: MASTER_KEY_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "replication-tls".into(),
            mount_path: REPLICATION_TLS_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        },
    ];
    let mut args = vec![
        "--listen".to_string(),
        format!("0.0.0.0:{API_PORT}"),
        "--data-dir".to_string(),
        format!("{DATA_DIR}/data"),
        "--master-key-file".to_string(),
        format!("{MASTER_KEY_DIR}/{key_name}"),
        // Replication and forwarding between the replicas (their addresses are the
        // ConfigMap's TABULA_PEERS; each pod's id is its ordinal + 1, from POD_NAME).
        "--internal-listen".to_string(),
        format!("0.0.0.0:{INTERNAL_PORT}"),
        // Mutual TLS between the replicas, with the table's own CA.
        "--internal-tls-cert".to_string(),
        format!("{REPLICATION_TLS_DIR}/tls.crt"),
        "--internal-tls-key".to_string(),
        format!("{REPLICATION_TLS_DIR}/tls.key"),
        "--internal-tls-ca".to_string(),
        format!("{REPLICATION_TLS_DIR}/ca.crt"),
        "--internal-tls-server-name".to_string(),
        replication_server_name(table, settings),
    ];
    let scheme = if let Some(tls) = &cluster.tls_secret_name {
        volumes.push(Volume {
            name: "tls".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(tls.clone()),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "tls".into(),
            mount_path: TLS_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        args.extend([
            "--tls-cert".to_string(),
            format!("{TLS_DIR}/tls.crt"),
            "--tls-key".to_string(),
            format!("{TLS_DIR}/tls.key"),
        ]);
        "HTTPS"
    } else {
        "HTTP"
    };
    // Liveness and startup: the process answers (and its replication runs). Readiness: the
    // replica is also up to date with its group, so a rolling update moves to the next pod
    // only once the restarted one has caught up.
    let probe = |path: &str, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("dynamodb".into()),
            scheme: Some(scheme.into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(failures),
        ..Probe::default()
    };
    let container = Container {
        name: "dataplane".into(),
        image: Some(
            cluster
                .image
                .clone()
                .unwrap_or_else(|| settings.default_image.clone()),
        ),
        command: Some(vec!["/usr/local/bin/tabula-dataplane".into()]),
        args: Some(args),
        env: Some(vec![
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
        ]),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: names.config_map.clone(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        }]),
        ports: Some(vec![
            ContainerPort {
                name: Some("dynamodb".into()),
                container_port: API_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("internal".into()),
                container_port: INTERNAL_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        // Opening a large RocksDB can take a while: the startup probe gives it five minutes
        // before liveness takes over.
        startup_probe: Some(probe("/", 5, 60)),
        liveness_probe: Some(probe("/", 10, 3)),
        readiness_probe: Some(probe("/tabula/ready", 5, 2)),
        resources: Some(cluster.resources.clone().unwrap_or_else(default_resources)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    PodSpec {
        containers: vec![container],
        volumes: Some(volumes),
        // The data plane never calls the Kubernetes API.
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(30),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            fs_group_change_policy: Some("OnRootMismatch".into()),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        topology_spread_constraints: Some(vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: labels::ZONE.into(),
            when_unsatisfiable: "DoNotSchedule".into(),
            label_selector: Some(LabelSelector {
                match_labels: Some(pod_selector(table)),
                ..LabelSelector::default()
            }),
            ..TopologySpreadConstraint::default()
        }]),
        affinity: Some(affinity(table)),
        node_selector: cluster.node_selector.clone(),
        tolerations: cluster.tolerations.clone(),
        priority_class_name: cluster.priority_class_name.clone(),
        ..PodSpec::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn default_resources() -> ResourceRequirements {
    let q = |s: &str| Quantity(s.into());
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), q("250m")),
            ("memory".to_string(), q("512Mi")),
        ])),
        limits: Some(BTreeMap::from([
            ("cpu".to_string(), q("1")),
            ("memory".to_string(), q("1Gi")),
        ])),
        ..ResourceRequirements::default()
    }
}

/// Host anti-affinity between the table's pods and, with `zones`, a node affinity to those
/// zones — merged with the user's own affinity: their pod (anti-)affinity terms are kept, and
/// the zone requirement is ANDed into each of their required node-selector terms.
fn affinity(table: &Table) -> Affinity {
    let cluster = &table.spec.cluster;
    let user = cluster.affinity.clone().unwrap_or_default();
    let term = PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some(pod_selector(table)),
            ..LabelSelector::default()
        }),
        topology_key: labels::HOSTNAME.into(),
        ..PodAffinityTerm::default()
    };
    let mut anti = user.pod_anti_affinity.unwrap_or_default();
    match cluster.pod_anti_affinity_type {
        PodAntiAffinityType::Required => anti
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .insert(0, term),
        PodAntiAffinityType::Preferred => anti
            .preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .insert(
                0,
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: term,
                },
            ),
    }
    let mut node = user.node_affinity;
    if let Some(zones) = cluster.zones.as_ref().filter(|z| !z.is_empty()) {
        let zone_req = NodeSelectorRequirement {
            key: labels::ZONE.into(),
            operator: "In".into(),
            values: Some(zones.clone()),
        };
        let na = node.get_or_insert_with(NodeAffinity::default);
        let required = na
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_with(|| NodeSelector {
                node_selector_terms: Vec::new(),
            });
        if required.node_selector_terms.is_empty() {
            required
                .node_selector_terms
                .push(NodeSelectorTerm::default());
        }
        for t in &mut required.node_selector_terms {
            t.match_expressions
                .get_or_insert_with(Vec::new)
                .push(zone_req.clone());
        }
    }
    Affinity {
        node_affinity: node,
        pod_affinity: user.pod_affinity,
        pod_anti_affinity: Some(anti),
    }
}
