//! Reconcile: a short, ordered list of steps around the pure builders.
//!
//! 1. Deleting? Honour deletion protection (hold the finalizer, say why), else let go.
//! 2. Ensure the finalizer.
//! 3. Ensure the master-key Secret (the user's must exist; ours is created once, never updated)
//!    and the replication-certificate Secret (created once), and check the named StorageClass
//!    and TLS Secret exist.
//! 4. Server-side apply every child with field manager `tabula`.
//! 5. Observe the StatefulSet; once a quorum of pods is ready, create or update the DynamoDB
//!    table through the data plane's own API.
//! 6. Patch status (conditions computed by `status::next_status`), publish Events for changes
//!    and problems, requeue.
//!
//! Problems a human must fix (missing Secret, a spec the data plane refuses, an unreachable data
//! plane) become the Degraded condition and a Warning Event, with a requeue — never an error
//! loop. Errors from the Kubernetes API itself (conflicts included) go to `error_policy`, which
//! requeues with an exponential back-off per Table (2 s doubling to 5 min, reset by a success).

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::builders::{self, Names, Settings};
use crate::crd::{PvcRetentionPolicy, Table};
use crate::dataplane::{DataPlane, DataPlaneError, Target};
use crate::labels;
use crate::metrics::Metrics;
use crate::replicas;
use crate::status::{self, DataPlaneTable, Observed, Problem};

/// Where the operator reaches replica `ordinal` of a table.
pub type PodEndpoint = Box<dyn Fn(&Table, usize) -> String + Send + Sync>;

/// Shared state of the controller.
pub struct Context {
    pub client: kube::Client,
    pub settings: Settings,
    pub dataplane: DataPlane,
    /// Where the operator reaches a table's data plane. In a cluster: the client Service's DNS
    /// name (`builders::endpoint`); tests point it at a local data-plane process.
    pub endpoint_for: Box<dyn Fn(&Table) -> String + Send + Sync>,
    /// Where the operator reaches one replica (pod ordinal) of a table. In a cluster: the
    /// pod's stable name under the headless Service (`builders::pod_endpoint`).
    pub pod_endpoint_for: PodEndpoint,
    pub reporter: Reporter,
    pub metrics: Metrics,
    pub backoff: Backoff,
    pub status_writes: StatusWrites,
}

/// How often a status change that only moves the replicas' log positions is written.
const POSITIONS_EVERY: Duration = Duration::from_secs(30);

/// When each Table's status was last written.
#[derive(Default)]
pub struct StatusWrites {
    at: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
}

impl StatusWrites {
    fn due(&self, key: &str, every: Duration) -> bool {
        let at = self.at.lock().unwrap_or_else(|p| p.into_inner());
        at.get(key).is_none_or(|t| t.elapsed() >= every)
    }

    fn written(&self, key: &str) {
        let mut at = self.at.lock().unwrap_or_else(|p| p.into_inner());
        at.insert(key.to_string(), Instant::now());
    }
}

/// Consecutive failures per Table, for the retry delay.
#[derive(Default)]
pub struct Backoff {
    failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(2);
    const MAX: Duration = Duration::from_secs(300);

    /// Records a failure of `key` and returns how long to wait before the next try.
    pub fn failed(&self, key: &str) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = f.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        Self::FIRST
            .saturating_mul(1u32 << (*n - 1).min(16))
            .min(Self::MAX)
    }

    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

fn backoff_key(table: &Table) -> String {
    format!(
        "{}/{}",
        table.namespace().unwrap_or_default(),
        table.name_any()
    )
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("Table {0} has no namespace")]
    NotNamespaced(String),
}

/// How long to wait before looking again.
const REQUEUE_READY: Duration = Duration::from_secs(60);
const REQUEUE_WAITING: Duration = Duration::from_secs(10);

pub async fn reconcile(table: Arc<Table>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_inner(&table, &ctx).await;
    ctx.metrics
        .observe_reconcile(started.elapsed(), result.is_ok());
    result
}

/// After an error from the Kubernetes API: log, count, and look again a little later.
pub fn error_policy(table: Arc<Table>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff.failed(&backoff_key(&table));
    tracing::warn!(table = %table.name_any(), namespace = ?table.namespace(), %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn reconcile_inner(table: &Table, ctx: &Context) -> Result<Action, Error> {
    let name = table.name_any();
    let ns = table
        .namespace()
        .ok_or_else(|| Error::NotNamespaced(name.clone()))?;
    let tables: Api<Table> = Api::namespaced(ctx.client.clone(), &ns);
    let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());

    // 1. Deletion.
    if table.meta().deletion_timestamp.is_some() {
        return finalize(table, ctx, &tables, &recorder).await;
    }

    // 2. Finalizer.
    if !table.finalizers().iter().any(|f| f == labels::FINALIZER) {
        let mut finalizers = table.finalizers().to_vec();
        finalizers.push(labels::FINALIZER.to_string());
        set_finalizers(&tables, table, finalizers).await?;
    }

    // 3. Master key, replication certificates, storage class, TLS Secret.
    let mut problem = ensure_master_key(table, ctx, &ns).await?;
    if problem.is_none() {
        problem = ensure_replication_tls(table, ctx, &ns).await?;
    }
    if problem.is_none() {
        problem = check_storage_class(table, ctx).await?;
    }
    let mut ca_pem = None;
    if problem.is_none() {
        match tls_trust(table, ctx, &ns).await? {
            Ok(ca) => ca_pem = ca,
            Err(p) => problem = Some(p),
        }
    }

    // The StatefulSet as it is: its size (a scale-down shrinks the replica group first) and
    // its status (applying the spec below leaves the status alone).
    let existing: Option<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns)
        .get_opt(&Names::of(table).statefulset)
        .await?;

    // 4. Children.
    let mut scale_problem = None;
    if problem.is_none() {
        let s = &ctx.settings;
        apply(ctx, &ns, &builders::config_map(table, s)).await?;
        apply(ctx, &ns, &builders::client_service(table)).await?;
        apply(ctx, &ns, &builders::peer_service(table)).await?;
        apply(ctx, &ns, &builders::pod_disruption_budget(table)).await?;
        apply(ctx, &ns, &builders::network_policy(table)).await?;
        let mut sts = builders::statefulset(table, s);
        let current = existing.as_ref().and_then(|s| s.spec.as_ref()?.replicas);
        if let Some(current) = current
            && current > table.spec.cluster.replicas.max(1)
        {
            let note = format!(
                "the replica group dropped the replicas above {}; the pods and their volumes go next",
                table.spec.cluster.replicas
            );
            if let Some(p) = shrink(table, ctx, &ns, &recorder, &ca_pem, current, &note).await {
                // The table still serves at its current size: reported, not blocking.
                if let Some(spec) = sts.spec.as_mut() {
                    spec.replicas = Some(current);
                }
                scale_problem = Some(p);
            }
        }
        apply(ctx, &ns, &sts).await?;
    }

    // 5. Observe pods, then the data plane.
    let sts_status = existing.and_then(|s| s.status);
    let replicas = table.spec.cluster.replicas;
    let ready = sts_status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    let updated = sts_status
        .as_ref()
        .and_then(|s| s.updated_replicas)
        .unwrap_or(0);
    let seen = replicas::observe(table, ctx, &ns, replicas.max(1), ca_pem.as_deref()).await?;
    // A replica that joined while the group was being shrunk (a pod that started just before
    // the StatefulSet scaled down) can be left a voter without a pod: drop it again.
    let wanted = replicas.max(1) as u64;
    let voters = seen
        .iter()
        .find(|r| r.role.as_deref() == Some("leader"))
        .map_or(&[][..], |r| r.voters.as_slice());
    if problem.is_none() && voters.iter().any(|id| *id > wanted) {
        let note = "dropped replica-group voters beyond spec.cluster.replicas";
        let voting = voters.len() as i32;
        if let Some(p) = shrink(table, ctx, &ns, &recorder, &ca_pem, voting, note).await {
            scale_problem = Some(p);
        }
    }
    let replicas_seen = Some(seen);
    let mut dp_table = None;
    if problem.is_none()
        && ready >= builders::quorum(replicas.max(1))
        && let Err(p) = sync_data_plane(table, ctx, &recorder, ca_pem, &mut dp_table).await
    {
        problem = Some(p);
    }

    // 6. Status and Events.
    let problem = problem.or(scale_problem);
    if let Some(p) = &problem {
        warn(&recorder, table, &p.reason, &p.message).await;
    }
    let observed = Observed {
        generation: table.meta().generation,
        replicas,
        ready_replicas: ready,
        updated_replicas: updated,
        table: dp_table,
        problem,
        deleting: false,
        endpoint: builders::endpoint(table, &ctx.settings),
        replicas_seen,
    };
    let next = status::next_status(table.status.as_ref(), &observed, &now());
    let is_ready = next
        .conditions
        .iter()
        .any(|c| c.type_ == status::READY && c.status == "True");
    // Every status write triggers another reconcile (the watch sees it). The replicas' log
    // positions move with every write to the table, so a change to them alone is written at
    // most every POSITIONS_EVERY: otherwise a busy table would keep its reconcile spinning.
    let changed = table.status.as_ref() != Some(&next);
    let positions_only = table
        .status
        .as_ref()
        .is_some_and(|prev| status::same_but_positions(prev, &next));
    let key = backoff_key(table);
    if changed && (!positions_only || ctx.status_writes.due(&key, POSITIONS_EVERY)) {
        tables
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": next})),
            )
            .await?;
        ctx.status_writes.written(&key);
    }
    // An index being built or deleted holds back the next index change: look again soon.
    let indexes_settling = next
        .global_secondary_indexes
        .iter()
        .any(|i| i.index_status != "ACTIVE");
    Ok(Action::requeue(if is_ready && !indexes_settling {
        REQUEUE_READY
    } else {
        REQUEUE_WAITING
    }))
}

/// Replaces the finalizer list with a merge patch carrying resourceVersion: a concurrent change
/// is a conflict (retried with the fresh object), never a lost update of someone else's entry.
async fn set_finalizers(
    tables: &Api<Table>,
    table: &Table,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    tables
        .patch(
            &table.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {
                "finalizers": finalizers,
                "resourceVersion": table.resource_version(),
            }})),
        )
        .await?;
    Ok(())
}

fn now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// Server-side apply with the field manager `tabula`. `force`: the operator owns these fields;
/// a conflicting manual edit is taken back (and shows up in managedFields).
async fn apply<K>(ctx: &Context, ns: &str, obj: &K) -> Result<(), Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + Serialize
        + DeserializeOwned,
    <K as Resource>::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), ns);
    api.patch(
        &obj.name_any(),
        &PatchParams::apply(labels::FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await?;
    Ok(())
}

/// The user's key Secret must exist and hold the key; the generated one is created once with
/// 32 random bytes and never updated (its contents are never logged).
async fn ensure_master_key(
    table: &Table,
    ctx: &Context,
    ns: &str,
) -> Result<Option<Problem>, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let (secret_name, key) = builders::master_key_ref(table);
    if table.spec.cluster.encryption_key_secret.is_some() {
        let problem = match secrets.get_opt(&secret_name).await? {
            None => Some(format!("Secret {secret_name} not found in namespace {ns}")),
            Some(s) if !s.data.as_ref().is_some_and(|d| d.contains_key(&key)) => {
                Some(format!("Secret {secret_name} has no key {key:?}"))
            }
            Some(_) => None,
        };
        return Ok(problem.map(|message| Problem {
            reason: "MasterKeySecretMissing".into(),
            message,
        }));
    }
    if secrets.get_opt(&secret_name).await?.is_none() {
        let bytes: [u8; 32] = rand::random();
        match secrets
            .create(
                &PostParams::default(),
                &builders::master_key_secret(table, &bytes),
            )
            .await
        {
            Ok(_) => {}
            // Created meanwhile by another reconcile: keep that one.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// Shrinks the replica group to the spec's replicas (`replicas::shrink_group`): an Event
/// saying `note` when done, else the problem to report.
async fn shrink(
    table: &Table,
    ctx: &Context,
    ns: &str,
    recorder: &Recorder,
    ca_pem: &Option<Vec<u8>>,
    current: i32,
    note: &str,
) -> Option<Problem> {
    let target = Target {
        url: (ctx.endpoint_for)(table),
        ca_pem: ca_pem.clone(),
    };
    match replicas::shrink_group(table, ctx, ns, &target, current).await {
        Ok(()) => {
            normal(recorder, table, "ReplicaGroupShrunk", note).await;
            None
        }
        Err(message) => Some(Problem {
            reason: "ScaleDownPending".into(),
            message,
        }),
    }
}

/// The replication Secret (the table's CA and replica certificate, `certs`) is created once
/// with fresh material and never updated.
async fn ensure_replication_tls(
    table: &Table,
    ctx: &Context,
    ns: &str,
) -> Result<Option<Problem>, Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    if secrets
        .get_opt(&Names::of(table).replication_tls_secret)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let material = match crate::certs::replication_tls(table, &ctx.settings) {
        Ok(m) => m,
        Err(message) => {
            return Ok(Some(Problem {
                reason: "ReplicationTlsFailed".into(),
                message,
            }));
        }
    };
    match secrets
        .create(
            &PostParams::default(),
            &builders::replication_tls_secret(table, &material),
        )
        .await
    {
        Ok(_) => Ok(None),
        // Created meanwhile by another reconcile: keep that one.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// With `tlsSecretName`: the Secret must hold `tls.crt` and `tls.key` (else the pods could not
/// start); the operator then trusts its `ca.crt`, or the certificate itself, to reach the table.
async fn tls_trust(
    table: &Table,
    ctx: &Context,
    ns: &str,
) -> Result<Result<Option<Vec<u8>>, Problem>, Error> {
    let Some(name) = &table.spec.cluster.tls_secret_name else {
        return Ok(Ok(None));
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let data = secrets.get_opt(name).await?.and_then(|s| s.data);
    let problem = |message: String| {
        Ok(Err(Problem {
            reason: "TlsSecretMissing".into(),
            message,
        }))
    };
    let Some(data) = data else {
        return problem(format!("Secret {name} not found in namespace {ns}"));
    };
    if !data.contains_key("tls.crt") || !data.contains_key("tls.key") {
        return problem(format!("Secret {name} needs tls.crt and tls.key"));
    }
    Ok(Ok(data
        .get("ca.crt")
        .or_else(|| data.get("tls.crt"))
        .map(|b| b.0.clone())))
}

/// A named StorageClass must exist: volume claims cannot change later, so pods are not created
/// against a class that is not there.
async fn check_storage_class(table: &Table, ctx: &Context) -> Result<Option<Problem>, Error> {
    let Some(class) = &table.spec.cluster.storage.storage_class_name else {
        return Ok(None);
    };
    let classes: Api<StorageClass> = Api::all(ctx.client.clone());
    Ok(classes.get_opt(class).await?.is_none().then(|| Problem {
        reason: "StorageClassMissing".into(),
        message: format!("StorageClass {class} not found"),
    }))
}

/// Creates the DynamoDB table if the data plane lacks it, or brings it to the spec (UpdateTable,
/// tags, time to live — each only where the spec says something). `seen` receives the table as
/// soon as it is observed, so a later step the data plane refuses still reports its real state.
async fn sync_data_plane(
    table: &Table,
    ctx: &Context,
    recorder: &Recorder,
    ca_pem: Option<Vec<u8>>,
    seen: &mut Option<DataPlaneTable>,
) -> Result<(), Problem> {
    let endpoint = Target {
        url: (ctx.endpoint_for)(table),
        ca_pem,
    };
    let name = table.table_name();
    let dp = &ctx.dataplane;
    let described = match dp
        .call(&endpoint, "DescribeTable", &json!({"TableName": name}))
        .await
    {
        Ok(v) => v,
        Err(e) if e.kind() == Some("ResourceNotFoundException") => {
            let created = dp
                .call(
                    &endpoint,
                    "CreateTable",
                    &crate::dynamodb::create_table_request(table),
                )
                .await
                .map_err(rejected)?;
            normal(
                recorder,
                table,
                "TableCreated",
                &format!("created DynamoDB table {name}"),
            )
            .await;
            json!({"Table": created.get("TableDescription").cloned().unwrap_or(Value::Null)})
        }
        Err(e) => return Err(rejected(e)),
    };
    let mut desc = described.get("Table").cloned().unwrap_or(Value::Null);
    *seen = Some(observed_table(&desc));
    if let Some(update) = crate::dynamodb::update_table_request(table, &desc) {
        let answer = dp
            .call(&endpoint, "UpdateTable", &update)
            .await
            .map_err(rejected)?;
        normal(
            recorder,
            table,
            "TableUpdated",
            &format!("updated DynamoDB table {name}: {update}"),
        )
        .await;
        desc = answer.get("TableDescription").cloned().unwrap_or(desc);
        *seen = Some(observed_table(&desc));
    }
    if let Some(update) = crate::dynamodb::index_update_request(table, &desc) {
        let answer = dp
            .call(&endpoint, "UpdateTable", &update)
            .await
            .map_err(rejected)?;
        normal(
            recorder,
            table,
            "IndexesUpdated",
            &format!(
                "changing the global secondary indexes of {name}: {}",
                update["GlobalSecondaryIndexUpdates"]
            ),
        )
        .await;
        desc = answer.get("TableDescription").cloned().unwrap_or(desc);
        *seen = Some(observed_table(&desc));
    }
    let arn = desc
        .get("TableArn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if table.spec.tags.is_some() && !arn.is_empty() {
        let listed = dp
            .call(
                &endpoint,
                "ListTagsOfResource",
                &json!({"ResourceArn": arn}),
            )
            .await
            .map_err(rejected)?;
        let (add, remove) = crate::dynamodb::tag_requests(table, arn, &listed);
        for (op, body) in [("TagResource", add), ("UntagResource", remove)] {
            if let Some(body) = body {
                dp.call(&endpoint, op, &body).await.map_err(rejected)?;
            }
        }
    }
    if table.spec.time_to_live.is_some() {
        let ttl = dp
            .call(&endpoint, "DescribeTimeToLive", &json!({"TableName": name}))
            .await
            .map_err(rejected)?;
        if let Some(body) = crate::dynamodb::ttl_request(table, &ttl) {
            dp.call(&endpoint, "UpdateTimeToLive", &body)
                .await
                .map_err(rejected)?;
        }
    }
    Ok(())
}

fn observed_table(desc: &Value) -> DataPlaneTable {
    DataPlaneTable {
        status: desc
            .get("TableStatus")
            .and_then(Value::as_str)
            .unwrap_or("CREATING")
            .to_string(),
        arn: desc
            .get("TableArn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        item_count: desc.get("ItemCount").and_then(Value::as_i64).unwrap_or(0),
        size_bytes: desc
            .get("TableSizeBytes")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        latest_stream_arn: desc
            .get("LatestStreamArn")
            .and_then(Value::as_str)
            .map(str::to_string),
        indexes: desc
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| {
                Some((
                    g.get("IndexName")?.as_str()?.to_string(),
                    g.get("IndexStatus")?.as_str()?.to_string(),
                ))
            })
            .collect(),
    }
}

fn rejected(e: DataPlaneError) -> Problem {
    match e {
        DataPlaneError::Unreachable { .. } => Problem {
            reason: "DataPlaneUnreachable".into(),
            message: e.to_string(),
        },
        DataPlaneError::Api { .. } => Problem {
            reason: "DataPlaneRejectedSpec".into(),
            message: e.to_string(),
        },
    }
}

/// Deletion: a protected table keeps its finalizer (and says why); otherwise the generated key
/// goes with the volumes when the retention policy deletes them, and the finalizer is removed so
/// Kubernetes garbage-collects the children. Retained volumes keep the data: re-creating the
/// Table finds the DynamoDB table on them.
async fn finalize(
    table: &Table,
    ctx: &Context,
    tables: &Api<Table>,
    recorder: &Recorder,
) -> Result<Action, Error> {
    let name = table.name_any();
    if !table.finalizers().iter().any(|f| f == labels::FINALIZER) {
        return Ok(Action::await_change());
    }
    if table.spec.deletion_protection_enabled == Some(true) {
        let message = "deletion protection is enabled: set spec.deletionProtectionEnabled to false to delete this table";
        warn(recorder, table, "DeletionProtected", message).await;
        let observed = Observed {
            generation: table.meta().generation,
            replicas: table.spec.cluster.replicas,
            ready_replicas: table
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
            updated_replicas: table
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
            table: None,
            problem: Some(Problem {
                reason: "DeletionProtected".into(),
                message: message.into(),
            }),
            deleting: false,
            endpoint: builders::endpoint(table, &ctx.settings),
            replicas_seen: None,
        };
        let next = status::next_status(table.status.as_ref(), &observed, &now());
        if table.status.as_ref() != Some(&next) {
            tables
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": next})),
                )
                .await?;
        }
        return Ok(Action::requeue(REQUEUE_READY));
    }
    if table.spec.cluster.pvc_retention_policy == PvcRetentionPolicy::Delete
        && table.spec.cluster.encryption_key_secret.is_none()
    {
        let ns = table.namespace().unwrap_or_default();
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
        match secrets
            .delete(&Names::of(table).master_key_secret, &Default::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let finalizers: Vec<String> = table
        .finalizers()
        .iter()
        .filter(|f| *f != labels::FINALIZER)
        .cloned()
        .collect();
    set_finalizers(tables, table, finalizers).await?;
    normal(
        recorder,
        table,
        "Deleted",
        "finalizer removed; children are garbage-collected",
    )
    .await;
    Ok(Action::await_change())
}

async fn warn(recorder: &Recorder, table: &Table, reason: &str, note: &str) {
    publish(recorder, table, EventType::Warning, reason, note).await;
}

async fn normal(recorder: &Recorder, table: &Table, reason: &str, note: &str) {
    publish(recorder, table, EventType::Normal, reason, note).await;
}

/// Events are best effort: failing to record one never fails the reconcile.
async fn publish(recorder: &Recorder, table: &Table, type_: EventType, reason: &str, note: &str) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &table.object_ref(&())).await {
        tracing::debug!(error = %e, "cannot publish an Event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_five_minutes_and_reset_on_success() {
        let b = Backoff::default();
        let delays: Vec<u64> = (0..10).map(|_| b.failed("shop/orders").as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(b.failed("shop/other").as_secs(), 2, "per Table");
        b.succeeded("shop/orders");
        assert_eq!(b.failed("shop/orders").as_secs(), 2);
    }
}
