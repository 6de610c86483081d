//! Builders: one full expected YAML per kind (tests/golden/), then the behaviours that matter
//! one by one — zone spread, host anti-affinity, quorum-keeping PDB, hardened pods, keys, TLS.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, NodeSelector, NodeSelectorTerm, PodSpec};
use tabula_operator::builders::{self, Settings};
use tabula_operator::crd::{PodAntiAffinityType, PvcRetentionPolicy, SecretKeyRef};

use crate::support::{assert_golden, example_table};

fn pod(sts: &StatefulSet) -> &PodSpec {
    sts.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec")
}

fn args(sts: &StatefulSet) -> Vec<String> {
    pod(sts).containers[0].args.clone().unwrap_or_default()
}

#[test]
fn every_child_matches_its_expected_yaml() {
    let t = example_table();
    let s = Settings::default();
    assert_golden("statefulset", &builders::statefulset(&t, &s));
    assert_golden("client-service", &builders::client_service(&t));
    assert_golden("peer-service", &builders::peer_service(&t));
    assert_golden("poddisruptionbudget", &builders::pod_disruption_budget(&t));
    assert_golden("configmap", &builders::config_map(&t, &s));
    assert_golden("networkpolicy", &builders::network_policy(&t));
    assert_golden("secret", &builders::master_key_secret(&t, &[7u8; 32]));
    let material = tabula_operator::certs::ReplicationTls {
        ca_pem: "CA PEM".into(),
        cert_pem: "CERT PEM".into(),
        key_pem: "KEY PEM".into(),
    };
    assert_golden(
        "replication-tls-secret",
        &builders::replication_tls_secret(&t, &material),
    );
}

/// The generated replication certificates: the replica certificate is signed by the table's
/// CA, names the headless Service (and, by wildcard, each pod under it) and serves as both
/// server and client certificate; each table gets its own CA.
#[test]
fn replication_certificates_are_per_table_and_name_the_peer_service() {
    let t = example_table();
    let s = Settings::default();
    let a = tabula_operator::certs::replication_tls(&t, &s).expect("generated");
    let b = tabula_operator::certs::replication_tls(&t, &s).expect("generated");
    assert_ne!(a.ca_pem, b.ca_pem, "a fresh CA each time");
    for pem in [&a.ca_pem, &a.cert_pem] {
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    }
    assert!(a.key_pem.contains("PRIVATE KEY"));
    let server = builders::replication_server_name(&t, &s);
    assert_eq!(server, "orders-peers.shop.svc.cluster.local");
    // The data plane's own check: a rustls server with this certificate and client
    // verification against the CA accepts a client presenting the same certificate.
    let der = |pem: &str| {
        rustls_pemfile::certs(&mut pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM")
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in der(&a.ca_pem) {
        roots.add(c).expect("CA");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        std::sync::Arc::new(roots.clone()),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let key = rustls_pemfile::private_key(&mut a.key_pem.as_bytes())
        .expect("PEM")
        .expect("a key");
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(der(&a.cert_pem), key.clone_key())
        .expect("server config");
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(der(&a.cert_pem), key)
        .expect("client config");
    for name in [server.clone(), format!("orders-2.{server}")] {
        let mut client = rustls::ClientConnection::new(
            std::sync::Arc::new(client_config.clone()),
            name.clone().try_into().expect("name"),
        )
        .expect("client");
        let mut srv = rustls::ServerConnection::new(std::sync::Arc::new(server_config.clone()))
            .expect("server");
        // Drive the handshake in memory.
        for _ in 0..10 {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).expect("client writes");
            srv.read_tls(&mut buf.as_slice()).expect("server reads");
            srv.process_new_packets()
                .expect("server accepts the client");
            let mut buf = Vec::new();
            srv.write_tls(&mut buf).expect("server writes");
            client.read_tls(&mut buf.as_slice()).expect("client reads");
            client
                .process_new_packets()
                .unwrap_or_else(|e| panic!("client accepts the server as {name}: {e}"));
            if !client.is_handshaking() && !srv.is_handshaking() {
                break;
            }
        }
        assert!(!client.is_handshaking() && !srv.is_handshaking(), "{name}");
        assert!(
            srv.peer_certificates().is_some(),
            "the client was authenticated"
        );
    }
}

#[test]
fn children_are_owned_by_the_table_except_the_master_key() {
    let t = example_table();
    let sts = builders::statefulset(&t, &Settings::default());
    let owner = &sts.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("Table", "orders", Some(true))
    );
    assert_eq!(owner.uid, "6f1c2a9e-0000-4000-8000-000000000001");
    let secret = builders::master_key_secret(&t, &[1u8; 32]);
    assert!(
        secret.metadata.owner_references.is_none(),
        "deleting a Table must not garbage-collect the key its retained volumes need"
    );
    assert_eq!(secret.immutable, Some(true));
    assert_eq!(secret.data.expect("data")["master-key"].0.len(), 32);
}

#[test]
fn pods_spread_over_zones_and_avoid_sharing_a_host() {
    let t = example_table();
    let sts = builders::statefulset(&t, &Settings::default());
    let p = pod(&sts);
    let spread = &p.topology_spread_constraints.as_ref().expect("spread")[0];
    assert_eq!(spread.topology_key, "topology.kubernetes.io/zone");
    assert_eq!(spread.max_skew, 1);
    assert_eq!(spread.when_unsatisfiable, "DoNotSchedule");
    let anti = p
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .expect("anti-affinity");
    let req = anti
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .expect("required");
    assert_eq!(req[0].topology_key, "kubernetes.io/hostname");

    let mut soft = t.clone();
    soft.spec.cluster.pod_anti_affinity_type = PodAntiAffinityType::Preferred;
    let sts = builders::statefulset(&soft, &Settings::default());
    let anti = pod(&sts)
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .expect("anti-affinity");
    assert!(
        anti.required_during_scheduling_ignored_during_execution
            .is_none()
    );
    assert_eq!(
        anti.preferred_during_scheduling_ignored_during_execution
            .as_ref()
            .expect("preferred")[0]
            .pod_affinity_term
            .topology_key,
        "kubernetes.io/hostname"
    );
}

#[test]
fn zones_become_a_node_affinity_anded_with_the_users_terms() {
    let mut t = example_table();
    t.spec.cluster.zones = Some(vec!["eu-1a".into(), "eu-1b".into(), "eu-1c".into()]);
    let sts = builders::statefulset(&t, &Settings::default());
    let terms = &pod(&sts)
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .expect("node affinity")
        .node_selector_terms;
    assert_eq!(terms.len(), 1);
    let e = &terms[0].match_expressions.as_ref().expect("exprs")[0];
    assert_eq!(
        (e.key.as_str(), e.operator.as_str()),
        ("topology.kubernetes.io/zone", "In")
    );
    assert_eq!(e.values.as_ref().expect("values").len(), 3);

    // The user's own required term keeps its expression and gains the zone requirement.
    let user_term = NodeSelectorTerm {
        match_expressions: Some(vec![k8s_openapi::api::core::v1::NodeSelectorRequirement {
            key: "disk".into(),
            operator: "In".into(),
            values: Some(vec!["nvme".into()]),
        }]),
        ..NodeSelectorTerm::default()
    };
    t.spec.cluster.affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![user_term],
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    });
    let sts = builders::statefulset(&t, &Settings::default());
    let terms = &pod(&sts)
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .expect("node affinity")
        .node_selector_terms;
    let keys: Vec<&str> = terms[0]
        .match_expressions
        .as_ref()
        .expect("exprs")
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    assert_eq!(keys, ["disk", "topology.kubernetes.io/zone"]);
}

#[test]
fn the_disruption_budget_keeps_a_quorum() {
    let mut t = example_table();
    for (replicas, max_unavailable) in [(1, 0), (2, 0), (3, 1), (4, 1), (5, 2)] {
        t.spec.cluster.replicas = replicas;
        let pdb = builders::pod_disruption_budget(&t);
        assert_eq!(
            pdb.spec.expect("spec").max_unavailable,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(max_unavailable)),
            "{replicas} replicas"
        );
    }
}

#[test]
fn pods_meet_the_restricted_pod_security_profile() {
    let sts = builders::statefulset(&example_table(), &Settings::default());
    let p = pod(&sts);
    assert_eq!(p.automount_service_account_token, Some(false));
    let psc = p.security_context.as_ref().expect("pod security context");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert!(psc.run_as_user.expect("uid") >= 10000);
    let c = &p.containers[0];
    let sc = c
        .security_context
        .as_ref()
        .expect("container security context");
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()])
    );
    assert_eq!(
        sc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
    let r = c.resources.as_ref().expect("resources");
    assert!(r.requests.is_some() && r.limits.is_some());
    assert!(c.liveness_probe.is_some() && c.readiness_probe.is_some());
}

#[test]
fn the_master_key_comes_from_the_named_secret_or_the_generated_one() {
    let mut t = example_table();
    let sts = builders::statefulset(&t, &Settings::default());
    assert!(args(&sts).contains(&"/etc/tabula/master-key/master-key".to_string()));
    let vols = pod(&sts).volumes.clone().expect("volumes");
    let key_vol = vols
        .iter()
        .find(|v| v.name == "master-key")
        .expect("key volume");
    assert_eq!(
        key_vol
            .secret
            .as_ref()
            .and_then(|s| s.secret_name.as_deref()),
        Some("orders-master-key")
    );

    t.spec.cluster.encryption_key_secret = Some(SecretKeyRef {
        name: "vault-synced".into(),
        key: Some("key.hex".into()),
    });
    let sts = builders::statefulset(&t, &Settings::default());
    assert!(args(&sts).contains(&"/etc/tabula/master-key/key.hex".to_string()));
    let vols = pod(&sts).volumes.clone().expect("volumes");
    let key_vol = vols
        .iter()
        .find(|v| v.name == "master-key")
        .expect("key volume");
    assert_eq!(
        key_vol
            .secret
            .as_ref()
            .and_then(|s| s.secret_name.as_deref()),
        Some("vault-synced")
    );
}

#[test]
fn a_tls_secret_switches_the_endpoint_and_probes_to_https() {
    let mut t = example_table();
    assert_eq!(
        builders::endpoint(&t, &Settings::default()),
        "http://orders.shop.svc.cluster.local:8000"
    );
    t.spec.cluster.tls_secret_name = Some("orders-tls".into());
    let sts = builders::statefulset(&t, &Settings::default());
    let a = args(&sts);
    assert!(
        a.windows(2)
            .any(|w| w == ["--tls-cert", "/etc/tabula/tls/tls.crt"])
    );
    assert!(
        a.windows(2)
            .any(|w| w == ["--tls-key", "/etc/tabula/tls/tls.key"])
    );
    let probe = pod(&sts).containers[0]
        .readiness_probe
        .clone()
        .expect("probe");
    assert_eq!(
        probe.http_get.and_then(|h| h.scheme),
        Some("HTTPS".to_string())
    );
    assert_eq!(
        builders::endpoint(&t, &Settings::default()),
        "https://orders.shop.svc.cluster.local:8000"
    );
}

#[test]
fn storage_image_and_retention_follow_the_spec() {
    let mut t = example_table();
    t.spec.cluster.pvc_retention_policy = PvcRetentionPolicy::Delete;
    t.spec.cluster.image = Some("registry.local/tabula:dev".into());
    let sts = builders::statefulset(&t, &Settings::default());
    let spec = sts.spec.as_ref().expect("spec");
    let claim = &spec.volume_claim_templates.as_ref().expect("claims")[0];
    let cs = claim.spec.as_ref().expect("claim spec");
    assert_eq!(cs.storage_class_name.as_deref(), Some("standard"));
    assert_eq!(
        cs.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .expect("req")["storage"]
            .0,
        "10Gi"
    );
    assert_eq!(
        spec.persistent_volume_claim_retention_policy
            .as_ref()
            .and_then(|p| p.when_deleted.as_deref()),
        Some("Delete")
    );
    assert_eq!(
        pod(&sts).containers[0].image.as_deref(),
        Some("registry.local/tabula:dev")
    );
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(spec.service_name.as_deref(), Some("orders-peers"));
}

#[test]
fn a_config_change_changes_the_pod_template() {
    let t = example_table();
    let hash = |s: &Settings| {
        builders::statefulset(&t, s)
            .spec
            .and_then(|s| s.template.metadata)
            .and_then(|m| m.annotations)
            .expect("annotations")["tabula.dev/config-hash"]
            .clone()
    };
    let a = hash(&Settings::default());
    let b = hash(&Settings {
        region: "eu-west-1".into(),
        ..Settings::default()
    });
    assert_ne!(a, b, "a new region must roll the pods");
    assert_eq!(a, hash(&Settings::default()), "the hash is stable");
}

#[test]
fn peers_are_the_stable_pod_names_of_the_headless_service() {
    let t = example_table();
    let cm = builders::config_map(&t, &Settings::default());
    assert_eq!(
        cm.data.expect("data")["TABULA_PEERS"],
        "1=orders-0.orders-peers.shop.svc.cluster.local:8001,\
         2=orders-1.orders-peers.shop.svc.cluster.local:8001,\
         3=orders-2.orders-peers.shop.svc.cluster.local:8001"
    );
}
