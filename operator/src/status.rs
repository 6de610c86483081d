//! Status from observations: what reconcile saw (pods, the data-plane table, a problem) in,
//! the Table's `status` out. Pure, so the rules below are unit-tested without an API server.
//!
//! - `Ready` is True when the DynamoDB table is ACTIVE and a quorum of pods is ready: the table
//!   serves reads and writes. `kubectl wait --for=condition=Ready` and GitOps health use it.
//! - `Progressing` is True while something is changing (pods rolling out, table creating or
//!   updating).
//! - `Degraded` is True when something needs a human (a problem reconcile reported: missing
//!   Secret, bad spec, data plane unreachable...) or the table serves with fewer pods than asked.
//! - `ZoneLossSafe` is True only when the replicas span at least three zones and the ready
//!   replicas outside any one zone still make a quorum (see [`zone_loss_safe`]).
//! - `replicaStatuses` lists each pod: zone, readiness, role in the replica group, applied
//!   log index and lag behind the leader's log.
//! - A condition keeps its `lastTransitionTime` while its status stays the same.
//! - DELETING is terminal: once the Table is being deleted the status never goes back.

use std::collections::BTreeMap;

use crate::builders::quorum;
use crate::crd::{Condition, IndexState, ReplicaState, TableStatus};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
/// True only when the replicas span at least three zones and the ready replicas outside any
/// one zone still make a quorum: the table stays writable through the loss of a zone.
pub const ZONE_LOSS_SAFE: &str = "ZoneLossSafe";

/// One replica pod as observed: where it runs, whether it is ready, and what its data plane
/// says of its place in the group (`None` where it did not answer).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicaSeen {
    pub pod: String,
    pub zone: Option<String>,
    pub ready: bool,
    pub role: Option<String>,
    pub applied_index: Option<u64>,
    pub last_log_index: Option<u64>,
    /// The group's voters as this replica knows them.
    pub voters: Vec<u64>,
}

/// Whether two statuses differ at most in the replicas' log positions (applied index, lag),
/// which move with every write.
pub fn same_but_positions(a: &TableStatus, b: &TableStatus) -> bool {
    let strip = |s: &TableStatus| {
        let mut s = s.clone();
        for r in &mut s.replica_statuses {
            r.applied_index = None;
            r.lag = None;
        }
        s
    };
    strip(a) == strip(b)
}

/// The ZoneLossSafe condition for a table of `replicas` replicas, from its pods: status
/// (True, False or Unknown), reason and message.
pub fn zone_loss_safe(replicas: i32, seen: &[ReplicaSeen]) -> (&'static str, &'static str, String) {
    let quorum = quorum(replicas);
    if replicas < 3 {
        return (
            "False",
            "TooFewReplicas",
            format!(
                "{replicas} replica(s): surviving the loss of a zone takes at least 3, in 3 zones"
            ),
        );
    }
    if let Some(r) = seen.iter().find(|r| r.zone.is_none()) {
        return (
            "Unknown",
            "ZoneUnknown",
            format!(
                "pod {} is not scheduled on a node with a zone label yet",
                r.pod
            ),
        );
    }
    // Ready replicas per zone.
    let mut zones: BTreeMap<&str, i32> = BTreeMap::new();
    for r in seen {
        *zones
            .entry(r.zone.as_deref().unwrap_or_default())
            .or_default() += i32::from(r.ready);
    }
    let ready: i32 = zones.values().sum();
    if zones.len() < 3 {
        let names: Vec<&str> = zones.keys().copied().collect();
        return (
            "False",
            "TooFewZones",
            format!(
                "the replicas run in {} zone(s) ({}): at least 3 are needed",
                zones.len(),
                names.join(", ")
            ),
        );
    }
    for (zone, ready_here) in &zones {
        let left = ready - ready_here;
        if left < quorum {
            return (
                "False",
                "QuorumInOneZone",
                format!(
                    "losing zone {zone} would leave {left} ready replica(s); a quorum is {quorum} of {replicas}"
                ),
            );
        }
    }
    (
        "True",
        "SpreadOverZones",
        format!(
            "{ready} ready replicas over {} zones: losing any one zone leaves a quorum of {quorum}",
            zones.len()
        ),
    )
}

/// The data-plane table as DescribeTable reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct DataPlaneTable {
    /// CREATING, ACTIVE, UPDATING or DELETING.
    pub status: String,
    pub arn: String,
    pub item_count: i64,
    pub size_bytes: i64,
    /// The ARN of the table's latest stream, if it ever had one.
    pub latest_stream_arn: Option<String>,
    /// Each global secondary index and its IndexStatus.
    pub indexes: Vec<(String, String)>,
}

/// Something a human must fix or that reconcile is waiting out.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// One CamelCase word, e.g. `MasterKeySecretMissing`.
    pub reason: String,
    pub message: String,
}

/// What one reconcile pass observed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub generation: Option<i64>,
    pub replicas: i32,
    pub ready_replicas: i32,
    /// Pods already running the current pod template.
    pub updated_replicas: i32,
    pub table: Option<DataPlaneTable>,
    pub problem: Option<Problem>,
    /// metadata.deletionTimestamp is set.
    pub deleting: bool,
    pub endpoint: String,
    /// The replica pods (`None`: not observed this pass).
    pub replicas_seen: Option<Vec<ReplicaSeen>>,
}

/// The status to write, given the previous one and what was observed at `now` (RFC 3339).
pub fn next_status(prev: Option<&TableStatus>, obs: &Observed, now: &str) -> TableStatus {
    let was_deleting = prev.and_then(|p| p.table_status.as_deref()) == Some("DELETING");
    // Not observed this pass (pods not ready, data plane unreachable): the last known state
    // stands, but only an observed ACTIVE table makes the resource Ready.
    let table_status = if obs.deleting || was_deleting {
        "DELETING".to_string()
    } else {
        obs.table
            .as_ref()
            .map(|t| t.status.clone())
            .or_else(|| prev.and_then(|p| p.table_status.clone()))
            .unwrap_or_else(|| "CREATING".to_string())
    };
    let serving = obs.table.as_ref().is_some_and(|t| t.status == "ACTIVE");
    let quorum_ready = obs.ready_replicas >= quorum(obs.replicas.max(1));
    // Pods missing because a rollout replaces them one by one are progress, not degradation.
    let updating = obs.updated_replicas < obs.replicas;
    let rolling = updating || obs.ready_replicas < obs.replicas;

    let ready = if table_status == "DELETING" {
        cond(READY, false, "Deleting", "the table is being deleted")
    } else if let (Some(p), false) = (&obs.problem, serving && quorum_ready) {
        cond(READY, false, &p.reason, &p.message)
    } else if !quorum_ready {
        cond(
            READY,
            false,
            "QuorumNotReady",
            &format!(
                "{} of {} pods ready; {} needed to serve",
                obs.ready_replicas,
                obs.replicas,
                quorum(obs.replicas.max(1))
            ),
        )
    } else if !serving {
        cond(
            READY,
            false,
            "TableNotActive",
            &format!("the table is {table_status}"),
        )
    } else {
        cond(
            READY,
            true,
            "TableActive",
            "the table serves reads and writes",
        )
    };

    let progressing = if table_status == "DELETING" {
        cond(PROGRESSING, true, "Deleting", "the table is being deleted")
    } else if rolling {
        cond(
            PROGRESSING,
            true,
            "RollingOut",
            &format!(
                "{} of {} pods updated, {} ready",
                obs.updated_replicas, obs.replicas, obs.ready_replicas
            ),
        )
    } else if table_status != "ACTIVE" {
        cond(
            PROGRESSING,
            true,
            "TableNotActive",
            &format!("the table is {table_status}"),
        )
    } else {
        cond(
            PROGRESSING,
            false,
            "Stable",
            "every pod runs the current spec",
        )
    };

    let degraded = if let Some(p) = &obs.problem {
        cond(DEGRADED, true, &p.reason, &p.message)
    } else if serving && obs.ready_replicas < obs.replicas && !updating {
        cond(
            DEGRADED,
            true,
            "ReplicasNotReady",
            &format!(
                "{} of {} pods ready: the table serves, with less redundancy than asked for",
                obs.ready_replicas, obs.replicas
            ),
        )
    } else {
        cond(DEGRADED, false, "AsExpected", "no problem observed")
    };

    let zone_safe = match &obs.replicas_seen {
        Some(seen) => {
            let (status, reason, message) = zone_loss_safe(obs.replicas, seen);
            let mut c = cond(ZONE_LOSS_SAFE, false, reason, &message);
            c.status = status.to_string();
            c
        }
        None => prev
            .and_then(|p| p.conditions.iter().find(|c| c.type_ == ZONE_LOSS_SAFE))
            .cloned()
            .unwrap_or_else(|| {
                let mut c = cond(
                    ZONE_LOSS_SAFE,
                    false,
                    "NotObserved",
                    "the replicas were not observed yet",
                );
                c.status = "Unknown".into();
                c
            }),
    };
    let replica_statuses = match &obs.replicas_seen {
        Some(seen) => {
            let leader_last = seen
                .iter()
                .filter(|r| r.role.as_deref() == Some("leader"))
                .filter_map(|r| r.last_log_index)
                .max();
            seen.iter()
                .map(|r| ReplicaState {
                    pod: r.pod.clone(),
                    zone: r.zone.clone(),
                    ready: r.ready,
                    role: r.role.clone(),
                    applied_index: r.applied_index.map(|a| a as i64),
                    lag: leader_last
                        .zip(r.applied_index)
                        .map(|(l, a)| l.saturating_sub(a) as i64),
                })
                .collect()
        }
        None => prev.map(|p| p.replica_statuses.clone()).unwrap_or_default(),
    };

    let conditions = [ready, progressing, degraded, zone_safe]
        .into_iter()
        .map(|mut c| {
            c.observed_generation = obs.generation;
            let earlier = prev.and_then(|p| p.conditions.iter().find(|o| o.type_ == c.type_));
            c.last_transition_time = match earlier {
                Some(o) if o.status == c.status => o.last_transition_time.clone(),
                _ => now.to_string(),
            };
            c
        })
        .collect();

    TableStatus {
        table_status: Some(table_status),
        endpoint: Some(obs.endpoint.clone()),
        table_arn: obs
            .table
            .as_ref()
            .map(|t| t.arn.clone())
            .or_else(|| prev.and_then(|p| p.table_arn.clone())),
        replicas: Some(obs.replicas),
        ready_replicas: Some(obs.ready_replicas),
        item_count: obs
            .table
            .as_ref()
            .map(|t| t.item_count)
            .or_else(|| prev.and_then(|p| p.item_count)),
        table_size_bytes: obs
            .table
            .as_ref()
            .map(|t| t.size_bytes)
            .or_else(|| prev.and_then(|p| p.table_size_bytes)),
        latest_stream_arn: obs
            .table
            .as_ref()
            .map(|t| t.latest_stream_arn.clone())
            .unwrap_or_else(|| prev.and_then(|p| p.latest_stream_arn.clone())),
        global_secondary_indexes: obs
            .table
            .as_ref()
            .map(|t| {
                t.indexes
                    .iter()
                    .map(|(name, status)| IndexState {
                        index_name: name.clone(),
                        index_status: status.clone(),
                    })
                    .collect()
            })
            .unwrap_or_else(|| {
                prev.map(|p| p.global_secondary_indexes.clone())
                    .unwrap_or_default()
            }),
        replica_statuses,
        observed_generation: obs.generation,
        conditions,
    }
}

fn cond(type_: &str, status: bool, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        observed_generation: None,
        last_transition_time: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(items: i64) -> Option<DataPlaneTable> {
        Some(DataPlaneTable {
            status: "ACTIVE".into(),
            arn: "arn:aws:dynamodb:us-east-1:000000000000:table/orders".into(),
            item_count: items,
            size_bytes: items * 100,
            latest_stream_arn: None,
            indexes: Vec::new(),
        })
    }

    fn observed(ready: i32, updated: i32, table: Option<DataPlaneTable>) -> Observed {
        Observed {
            generation: Some(4),
            replicas: 3,
            ready_replicas: ready,
            updated_replicas: updated,
            table,
            problem: None,
            deleting: false,
            endpoint: "http://orders.shop.svc.cluster.local:8000".into(),
            replicas_seen: None,
        }
    }

    fn pod(i: usize, zone: Option<&str>, ready: bool) -> ReplicaSeen {
        ReplicaSeen {
            pod: format!("orders-{i}"),
            zone: zone.map(String::from),
            ready,
            ..ReplicaSeen::default()
        }
    }

    fn zones(replicas: i32, pods: &[(Option<&str>, bool)]) -> (&'static str, &'static str) {
        let seen: Vec<ReplicaSeen> = pods
            .iter()
            .enumerate()
            .map(|(i, (z, r))| pod(i, *z, *r))
            .collect();
        let (status, reason, _) = zone_loss_safe(replicas, &seen);
        (status, reason)
    }

    #[test]
    fn zone_loss_safe_needs_three_zones_and_a_quorum_outside_each() {
        let (a, b, c) = (Some("a"), Some("b"), Some("c"));
        assert_eq!(
            zones(3, &[(a, true), (b, true), (c, true)]),
            ("True", "SpreadOverZones")
        );
        // Two zones: one of them holds two replicas of three.
        assert_eq!(
            zones(3, &[(a, true), (a, true), (b, true)]),
            ("False", "TooFewZones")
        );
        // Three zones but one replica down: losing another zone leaves one of three.
        assert_eq!(
            zones(3, &[(a, true), (b, true), (c, false)]),
            ("False", "QuorumInOneZone")
        );
        // Five over three zones (2+2+1): losing a zone of two leaves three, a quorum.
        assert_eq!(
            zones(5, &[(a, true), (a, true), (b, true), (b, true), (c, true)]),
            ("True", "SpreadOverZones")
        );
        // Five with three in one zone: losing it leaves two of five.
        assert_eq!(
            zones(5, &[(a, true), (a, true), (a, true), (b, true), (c, true)]),
            ("False", "QuorumInOneZone")
        );
        assert_eq!(
            zones(3, &[(a, true), (b, true), (None, false)]),
            ("Unknown", "ZoneUnknown")
        );
        assert_eq!(zones(1, &[(a, true)]), ("False", "TooFewReplicas"));
    }

    #[test]
    fn replica_statuses_report_roles_and_lag_behind_the_leader() {
        let mut obs = observed(3, 3, active(1));
        let mut seen = vec![
            pod(0, Some("a"), true),
            pod(1, Some("b"), true),
            pod(2, Some("c"), false),
        ];
        seen[0].role = Some("follower".into());
        seen[0].applied_index = Some(90);
        seen[1].role = Some("leader".into());
        seen[1].applied_index = Some(100);
        seen[1].last_log_index = Some(100);
        obs.replicas_seen = Some(seen);
        let s = next_status(None, &obs, "2026-11-26T00:00:00Z");
        let lags: Vec<Option<i64>> = s.replica_statuses.iter().map(|r| r.lag).collect();
        assert_eq!(lags, [Some(10), Some(0), None]);
        assert_eq!(s.replica_statuses[1].role.as_deref(), Some("leader"));
        assert_eq!(get(&s, ZONE_LOSS_SAFE).status, "False");
        assert_eq!(get(&s, ZONE_LOSS_SAFE).reason, "QuorumInOneZone");
        // Positions moving alone is told apart from any other change (the operator writes
        // such a change only now and then).
        let mut moved = s.clone();
        moved.replica_statuses[0].applied_index = Some(95);
        moved.replica_statuses[0].lag = Some(5);
        assert!(same_but_positions(&s, &moved));
        moved.replica_statuses[0].role = Some("candidate".into());
        assert!(!same_but_positions(&s, &moved));
        // Not observed next time: the last replica statuses and condition stand.
        obs.replicas_seen = None;
        let again = next_status(Some(&s), &obs, "2026-11-26T00:01:00Z");
        assert_eq!(again.replica_statuses, s.replica_statuses);
        assert_eq!(get(&again, ZONE_LOSS_SAFE), get(&s, ZONE_LOSS_SAFE));
    }

    fn get<'a>(s: &'a TableStatus, t: &str) -> &'a Condition {
        s.conditions
            .iter()
            .find(|c| c.type_ == t)
            .expect("condition present")
    }

    #[test]
    fn a_new_table_is_creating_and_not_ready() {
        let s = next_status(None, &observed(0, 0, None), "t0");
        assert_eq!(s.table_status.as_deref(), Some("CREATING"));
        assert_eq!(get(&s, READY).status, "False");
        assert_eq!(get(&s, READY).reason, "QuorumNotReady");
        assert_eq!(get(&s, PROGRESSING).status, "True");
        assert_eq!(get(&s, DEGRADED).status, "False");
        assert_eq!(s.observed_generation, Some(4));
        assert!(
            s.conditions
                .iter()
                .all(|c| c.observed_generation == Some(4))
        );
    }

    #[test]
    fn ready_needs_an_active_table_and_a_quorum_of_pods() {
        let s = next_status(None, &observed(2, 3, active(10)), "t0");
        assert_eq!(get(&s, READY).status, "True", "2 of 3 is a quorum");
        assert_eq!(get(&s, DEGRADED).status, "True");
        assert_eq!(get(&s, DEGRADED).reason, "ReplicasNotReady");
        let s = next_status(None, &observed(1, 3, active(10)), "t0");
        assert_eq!(get(&s, READY).status, "False", "1 of 3 is not");
        let s = next_status(None, &observed(3, 3, active(10)), "t0");
        assert_eq!(get(&s, READY).status, "True");
        assert_eq!(get(&s, PROGRESSING).status, "False");
        assert_eq!(get(&s, DEGRADED).status, "False");
        assert_eq!((s.item_count, s.table_size_bytes), (Some(10), Some(1000)));
    }

    #[test]
    fn a_rollout_is_progress_not_degradation() {
        let s = next_status(None, &observed(2, 1, active(0)), "t0");
        assert_eq!(get(&s, PROGRESSING).reason, "RollingOut");
        assert_eq!(get(&s, DEGRADED).status, "False");
        assert_eq!(get(&s, READY).status, "True");
    }

    #[test]
    fn problems_are_degraded_and_block_ready_until_the_table_serves() {
        let mut o = observed(0, 0, None);
        o.problem = Some(Problem {
            reason: "MasterKeySecretMissing".into(),
            message: "Secret vault-key not found in namespace shop".into(),
        });
        let s = next_status(None, &o, "t0");
        assert_eq!(get(&s, DEGRADED).reason, "MasterKeySecretMissing");
        assert_eq!(get(&s, READY).reason, "MasterKeySecretMissing");
        assert_eq!(get(&s, READY).status, "False");
    }

    #[test]
    fn transition_times_move_only_when_the_status_changes() {
        let first = next_status(None, &observed(0, 0, None), "t0");
        let same = next_status(Some(&first), &observed(1, 1, None), "t1");
        assert_eq!(get(&same, READY).last_transition_time, "t0");
        let ready = next_status(Some(&same), &observed(3, 3, active(0)), "t2");
        assert_eq!(get(&ready, READY).last_transition_time, "t2");
        assert_eq!(get(&ready, DEGRADED).last_transition_time, "t0");
    }

    #[test]
    fn an_unobserved_table_keeps_its_last_known_state_but_is_not_ready() {
        let seen = next_status(None, &observed(3, 3, active(7)), "t0");
        let mut o = observed(3, 3, None);
        o.problem = Some(Problem {
            reason: "DataPlaneUnreachable".into(),
            message: "connection refused".into(),
        });
        let s = next_status(Some(&seen), &o, "t1");
        assert_eq!(s.table_status.as_deref(), Some("ACTIVE"));
        assert_eq!(s.item_count, Some(7));
        assert_eq!(get(&s, READY).status, "False");
        assert_eq!(get(&s, READY).reason, "DataPlaneUnreachable");
    }

    #[test]
    fn deleting_is_terminal() {
        let mut o = observed(3, 3, active(5));
        o.deleting = true;
        let s = next_status(None, &o, "t0");
        assert_eq!(s.table_status.as_deref(), Some("DELETING"));
        assert_eq!(get(&s, READY).status, "False");
        // Even if a later observation shows the table active again, the status stays DELETING.
        let later = next_status(Some(&s), &observed(3, 3, active(5)), "t1");
        assert_eq!(later.table_status.as_deref(), Some("DELETING"));
        assert_eq!(
            later.table_arn.as_deref(),
            Some("arn:aws:dynamodb:us-east-1:000000000000:table/orders")
        );
    }
}
