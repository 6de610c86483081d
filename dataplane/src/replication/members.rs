//! Membership: which replicas vote. The members change by openraft's joint consensus, always
//! through the leader:
//!
//! - **Join**: a replica that starts with an empty disk while its group has a log (a pod
//!   added by scaling up, or one whose volume was replaced) asks to be brought in. The leader
//!   adds it as a learner, waits until it has caught up (from the log or a snapshot), and only
//!   then makes it a voter. A replica that is a voter already (its disk was wiped) is just
//!   told how far the leader's log reaches: it does not vote before it has applied that far,
//!   so it can never help elect a leader that lacks entries it had acknowledged before.
//! - **Set**: the voters become exactly the given replicas (the operator before it scales a
//!   StatefulSet down, or `tabula-dataplane --change-members`). New ones are caught up as
//!   learners first; removed ones leave the group; the addresses of those that stay are
//!   kept.
//! - **Campaign**: a leader that is stopping asks a voter holding its whole log to start an
//!   election at once (see `Replica::hand_over`); carried out by the voter asked, not the
//!   leader.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::{BasicNode, ChangeMembers, Raft, ServerState};
use serde::{Deserialize, Serialize};
use tabula_proto::{RaftMessage, ReplicaClient};

use super::{NodeId, TypeConfig, network};

/// A membership change (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MembersRequest {
    /// This replica (id, internal address) has an empty disk and asks to be a voter again.
    Join { id: NodeId, addr: String },
    /// The voters become exactly these replicas (id → internal address).
    Set(BTreeMap<NodeId, String>),
    /// The leader of `term` is stopping and asks this replica to campaign now.
    Campaign { term: u64 },
}

/// The group after a change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MembersReply {
    /// The leader's last log index once the change is made: a joining replica votes only
    /// once it has applied this far.
    pub last_log_index: u64,
    pub voters: BTreeMap<NodeId, String>,
    pub learners: BTreeMap<NodeId, String>,
}

/// How long a new replica may take to catch up before it becomes a voter.
const CATCH_UP: Duration = Duration::from_secs(600);

/// Most times a change is passed on towards the leader.
const MAX_HOPS: u32 = 3;

/// Carries out `request` on the leader: here if this replica leads, else passed on to it.
pub async fn change(
    raft: &Raft<TypeConfig>,
    request: MembersRequest,
    hops: u32,
) -> Result<MembersReply, String> {
    let m = raft.metrics().borrow().clone();
    // A campaign is for the replica asked; every other change is the leader's.
    let here = matches!(request, MembersRequest::Campaign { .. });
    if m.state != ServerState::Leader && !here {
        if hops >= MAX_HOPS {
            return Err("no stable leader to change the membership".into());
        }
        let leader = m.current_leader.ok_or("no leader elected")?;
        let addr = super::node_addr(&m, leader)
            .ok_or_else(|| format!("the leader {leader} has no known address"))?;
        return call(&addr, &request, hops + 1).await;
    }
    let membership = m.membership_config.membership().clone();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let add_learner = |id: NodeId, addr: String| async move {
        tracing::info!(replica = id, %addr, "adding a replica as a learner; it becomes a voter once caught up");
        tokio::time::timeout(CATCH_UP, raft.add_learner(id, BasicNode { addr }, true))
            .await
            .map_err(|_| format!("replica {id} did not catch up within {CATCH_UP:?}"))?
            .map_err(|e| fail(&e))
    };
    match request {
        MembersRequest::Join { id, addr } => {
            if !voters.contains(&id) {
                add_learner(id, addr).await?;
                raft.change_membership(ChangeMembers::AddVoterIds([id].into()), false)
                    .await
                    .map_err(|e| fail(&e))?;
                tracing::info!(replica = id, "a new replica joined the group as a voter");
            } else if membership.get_node(&id).is_some_and(|n| n.addr != addr) {
                raft.change_membership(
                    ChangeMembers::SetNodes([(id, BasicNode { addr })].into()),
                    false,
                )
                .await
                .map_err(|e| fail(&e))?;
            } else {
                tracing::info!(
                    replica = id,
                    "a replica with an empty disk rejoins the group"
                );
            }
        }
        MembersRequest::Campaign { term } => return campaign(raft, &m, term).await,
        MembersRequest::Set(desired) => {
            if desired.is_empty() {
                return Err("the group needs at least one replica".into());
            }
            // A replica already in the group keeps the address it joined with (it may be
            // named differently from where the caller sits); new ones are added at theirs.
            for (id, addr) in &desired {
                if !voters.contains(id) {
                    add_learner(*id, addr.clone()).await?;
                }
            }
            let ids: BTreeSet<NodeId> = desired.keys().copied().collect();
            if ids != voters {
                raft.change_membership(ChangeMembers::ReplaceAllVoters(ids.clone()), false)
                    .await
                    .map_err(|e| fail(&e))?;
                tracing::info!(voters = ?ids, "the group's voters changed");
            }
            let m = raft.metrics().borrow().clone();
            let stray: BTreeSet<NodeId> = m
                .membership_config
                .membership()
                .learner_ids()
                .filter(|id| !ids.contains(id))
                .collect();
            if !stray.is_empty() {
                raft.change_membership(ChangeMembers::RemoveNodes(stray), false)
                    .await
                    .map_err(|e| fail(&e))?;
            }
        }
    }
    Ok(describe(raft))
}

/// Starts an election here at once, if this replica is a following voter in `term` (a
/// request that arrives late, after another election, changes nothing).
async fn campaign(
    raft: &Raft<TypeConfig>,
    m: &openraft::RaftMetrics<NodeId, BasicNode>,
    term: u64,
) -> Result<MembersReply, String> {
    if m.current_term != term || m.state != ServerState::Follower {
        return Err(format!(
            "replica {} is not following in term {term} (term {}, {:?})",
            m.id, m.current_term, m.state
        ));
    }
    if !m
        .membership_config
        .membership()
        .voter_ids()
        .any(|v| v == m.id)
    {
        return Err(format!("replica {} is not a voter", m.id));
    }
    tracing::info!(
        node = m.id,
        term,
        "the leader is stopping: campaigning to take over"
    );
    raft.trigger().elect().await.map_err(|e| e.to_string())?;
    Ok(describe(raft))
}

/// The group as this replica knows it.
pub fn describe(raft: &Raft<TypeConfig>) -> MembersReply {
    let m = raft.metrics().borrow().clone();
    let membership = m.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let mut reply = MembersReply {
        last_log_index: m.last_log_index.unwrap_or(0),
        voters: BTreeMap::new(),
        learners: BTreeMap::new(),
    };
    for (id, node) in membership.nodes() {
        let side = if voters.contains(id) {
            &mut reply.voters
        } else {
            &mut reply.learners
        };
        side.insert(*id, node.addr.clone());
    }
    reply
}

/// Sends a membership change to the replica at `addr` (any replica: it passes it on).
pub async fn call(addr: &str, request: &MembersRequest, hops: u32) -> Result<MembersReply, String> {
    let payload = bincode::serialize(&(request, hops)).map_err(|e| e.to_string())?;
    let mut client = ReplicaClient::new(network::channel(addr)?);
    let mut message = tonic::Request::new(RaftMessage {
        payload,
        error: String::new(),
    });
    message.set_timeout(CATCH_UP + Duration::from_secs(30));
    let reply = client
        .change_members(message)
        .await
        .map_err(|s| format!("replica at {addr}: {}", s.message()))?
        .into_inner();
    if !reply.error.is_empty() {
        return Err(reply.error);
    }
    bincode::deserialize::<Result<MembersReply, String>>(&reply.payload)
        .map_err(|e| format!("undecodable reply from {addr}: {e}"))?
}
