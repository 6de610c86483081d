//! A table's replicas as the operator sees and steers them: which pod runs in which zone and
//! what role its data plane plays in the replica group (for the status and `ZoneLossSafe`),
//! and scaling down, which must shrink the group before the pods go (the StatefulSet then
//! deletes their volumes: `whenScaled: Delete`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, Secret};
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
                r.voters = st["voters"]
                    .as_array()
                    .map(|v| v.iter().filter_map(serde_json::Value::as_u64).collect())
                    .unwrap_or_default();
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
    ns: &str,
    target: &Target,
    current: i32,
) -> Result<(), String> {
    let admin_key = admin_key(table, ctx, ns).await?;
    let peers = builders::peers(table, &ctx.settings);
    ctx.dataplane
        .change_members(target, &peers, &admin_key)
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "scaling from {current} to {} replicas waits for the replica group to drop the others: {e}",
                table.spec.cluster.replicas
            )
        })
}

/// The table's administrative key, derived from its master key (the Secret the pods mount).
async fn admin_key(table: &Table, ctx: &Context, ns: &str) -> Result<[u8; 32], String> {
    let (name, key) = builders::master_key_ref(table);
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns)
        .get_opt(&name)
        .await
        .map_err(|e| format!("cannot read Secret {name}: {e}"))?
        .ok_or_else(|| format!("Secret {name} not found"))?;
    let raw = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .ok_or_else(|| format!("Secret {name} has no key {key:?}"))?;
    let master = tabula_core::admin::decode_master_key(&raw.0)
        .ok_or_else(|| format!("Secret {name} key {key:?} is not a master key"))?;
    Ok(tabula_core::admin::admin_key(&master))
}
