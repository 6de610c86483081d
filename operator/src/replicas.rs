//! A table's replicas as the operator sees and steers them: which pod runs in which zone and
//! what role its data plane plays in the replica group (for the status and `ZoneLossSafe`),
//! and scaling down, which must shrink the group before the pods go (the StatefulSet then
//! deletes their volumes: `whenScaled: Delete`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::builders::{self, Names};
use crate::crd::Table;
use crate::dataplane::Target;
use crate::labels;
use crate::reconcile::{Context, Error};
use crate::status::ReplicaSeen;

/// The pods of `table` (ordinals below `replicas`): zone from their node's label, readiness
/// from their conditions, role and positions from their data plane (`GET /tabula/replica`;
/// left empty where it does not answer).
pub async fn observe(
    table: &Table,
    ctx: &Context,
    ns: &str,
    replicas: i32,
    ca_pem: Option<&[u8]>,
) -> Result<Vec<ReplicaSeen>, Error> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let selector = builders::pod_selector(table)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let listed = pods.list(&ListParams::default().labels(&selector)).await?;
    let by_name: BTreeMap<String, Pod> = listed
        .items
        .into_iter()
        .map(|p| (p.name_any(), p))
        .collect();
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let mut zones: BTreeMap<String, Option<String>> = BTreeMap::new();
    let sts = Names::of(table).statefulset;
    let mut seen = Vec::new();
    for ordinal in 0..replicas.max(0) as usize {
        let name = format!("{sts}-{ordinal}");
        let pod = by_name.get(&name);
        let node = pod.and_then(|p| p.spec.as_ref()?.node_name.clone());
        let zone = match node {
            Some(node) => match zones.get(&node) {
                Some(z) => z.clone(),
                None => {
                    // A node that cannot be read leaves the zone unknown (the condition
                    // says so) rather than failing the reconcile.
                    let z = nodes
                        .get_opt(&node)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|n| n.labels().get(labels::ZONE).cloned());
                    zones.insert(node, z.clone());
                    z
                }
            },
            None => None,
        };
        let ready = pod
            .and_then(|p| p.status.as_ref()?.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let mut r = ReplicaSeen {
            pod: name,
            zone,
            ready,
            ..ReplicaSeen::default()
        };
        if pod.is_some() {
            let target = Target {
                url: (ctx.pod_endpoint_for)(table, ordinal),
                ca_pem: ca_pem.map(<[u8]>::to_vec),
            };
            if let Ok(st) = ctx.dataplane.replica_status(&target).await {
                r.role = st["role"].as_str().map(String::from);
                r.applied_index = st["appliedIndex"].as_u64();
                r.last_log_index = st["lastLogIndex"].as_u64();
            }
        }
        seen.push(r);
    }
    Ok(seen)
}

/// Before the StatefulSet shrinks from `current` to the spec's replica count, the replica
/// group must drop the replicas that are going: otherwise they would stay voters, and the
/// group would need a quorum counting pods that no longer exist. Asks the data plane (any
/// replica) to make the voters exactly the spec's replicas. `Err` says why the StatefulSet
/// must keep its size for now.
pub async fn shrink_group(
    table: &Table,
    ctx: &Context,
    target: &Target,
    current: i32,
) -> Result<(), String> {
    let peers = builders::peers(table, &ctx.settings);
    ctx.dataplane
        .change_members(target, &peers)
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "scaling from {current} to {} replicas waits for the replica group to drop the others: {e}",
                table.spec.cluster.replicas
            )
        })
}
