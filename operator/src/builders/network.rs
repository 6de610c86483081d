//! The NetworkPolicy of a table's pods: clients may reach the DynamoDB port from anywhere (the
//! endpoint is the product; SigV4 and TLS guard it); pods may talk only to their own peers and
//! to cluster DNS.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{API_PORT, Names, child_meta, pod_selector};
use crate::crd::Table;

pub fn network_policy(table: &Table) -> NetworkPolicy {
    let port = |protocol: &str, port: i32| NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(port)),
        ..NetworkPolicyPort::default()
    };
    let peers = NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(pod_selector(table)),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    };
    NetworkPolicy {
        metadata: child_meta(table, &Names::of(table).statefulset, "data"),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(pod_selector(table)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    ports: Some(vec![port("TCP", API_PORT)]),
                    ..NetworkPolicyIngressRule::default()
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![peers.clone()]),
                    ..NetworkPolicyIngressRule::default()
                },
            ]),
            egress: Some(vec![
                NetworkPolicyEgressRule {
                    to: Some(vec![peers]),
                    ..NetworkPolicyEgressRule::default()
                },
                NetworkPolicyEgressRule {
                    ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
                    ..NetworkPolicyEgressRule::default()
                },
            ]),
        }),
    }
}
