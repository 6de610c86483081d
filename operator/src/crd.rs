//! The `Table` custom resource (`tabula.dev/v1alpha1`).
//!
//! DynamoDB-shaped fields follow the DynamoDB API and the AWS Controllers for Kubernetes (ACK)
//! DynamoDB controller where they overlap, so manifests move over with few edits; the
//! Kubernetes-only settings sit in one `spec.cluster` block. Every optional field means "leave
//! it alone" when omitted: reconcile never deletes what the user did not mention.
//!
//! Doc comments become the OpenAPI descriptions (`kubectl explain table.spec.cluster`); CEL
//! rules (`x-kubernetes-validations`) reject bad specs at `kubectl apply` time. `crdgen` writes
//! the CRD YAML from these types.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of a Tabula table: the DynamoDB table definition plus how it runs on the
/// cluster.
// The printer columns repeat `type_ = ...` by design; clippy reads them as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "tabula.dev",
    version = "v1alpha1",
    kind = "Table",
    namespaced,
    status = "TableStatus",
    shortname = "tbl",
    category = "tabula",
    derive = "PartialEq",
    cel,
    doc = "A DynamoDB-compatible table served by a zone-spread, encrypted StatefulSet of Tabula data-plane pods.",
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.tableStatus",
        description = "DynamoDB table status"
    ),
    printcolumn(
        name = "Endpoint",
        type_ = "string",
        json_path = ".status.endpoint",
        description = "DynamoDB API endpoint inside the cluster"
    ),
    printcolumn(
        name = "Ready",
        type_ = "integer",
        json_path = ".status.readyReplicas",
        description = "Data-plane pods ready"
    ),
    printcolumn(
        name = "Items",
        type_ = "integer",
        json_path = ".status.itemCount",
        description = "Approximate item count"
    ),
    printcolumn(
        name = "Size",
        type_ = "integer",
        json_path = ".status.tableSizeBytes",
        description = "Approximate table size in bytes"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("self.keySchema.all(k, self.attributeDefinitions.exists(a, a.attributeName == k.attributeName))").message("every keySchema attribute must be declared in attributeDefinitions"),
    validation = Rule::new("self.attributeDefinitions.all(a, self.attributeDefinitions.exists_one(b, b.attributeName == a.attributeName))").message("attributeDefinitions must not name an attribute twice"),
    validation = Rule::new("!has(self.billingMode) || self.billingMode != 'PROVISIONED' || has(self.provisionedThroughput)").message("billingMode PROVISIONED needs provisionedThroughput"),
    validation = Rule::new("!has(self.billingMode) || self.billingMode != 'PAY_PER_REQUEST' || !has(self.provisionedThroughput)").message("provisionedThroughput cannot be set with billingMode PAY_PER_REQUEST"),
    validation = Rule::new("has(self.tableName) == has(oldSelf.tableName)").message("tableName cannot be added or removed after creation")
)]
#[serde(rename_all = "camelCase")]
pub struct TableSpec {
    /// Name of the table in the DynamoDB API. Defaults to the resource's metadata.name.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_.-]{3,255}$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("tableName is immutable"))]
    pub table_name: Option<String>,

    /// Attributes used in the key schema of the table and of its indexes (name and scalar type).
    #[schemars(length(min = 1, max = 64))]
    pub attribute_definitions: Vec<AttributeDefinition>,

    /// The primary key: one HASH attribute, optionally followed by one RANGE attribute.
    /// Immutable.
    #[schemars(length(min = 1, max = 2))]
    #[x_kube(
        validation = Rule::new("self[0].keyType == 'HASH'").message("the first keySchema element must be the HASH key"),
        validation = Rule::new("size(self) == 1 || self[1].keyType == 'RANGE'").message("the second keySchema element must be the RANGE key"),
        validation = Rule::new("self == oldSelf").message("keySchema is immutable")
    )]
    pub key_schema: Vec<KeySchemaElement>,

    /// PAY_PER_REQUEST (on-demand) or PROVISIONED. Omitted: PAY_PER_REQUEST at creation, then
    /// left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_mode: Option<BillingMode>,

    /// Read and write capacity units; required with billingMode PROVISIONED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<ProvisionedThroughput>,

    /// Global secondary indexes. Adding, removing or reshaping one changes the live table one
    /// index at a time (a new index is filled from the table in the background); leaving the
    /// field out leaves the table's indexes alone, and `[]` removes them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    pub global_secondary_indexes: Option<Vec<GlobalSecondaryIndex>>,

    /// Local secondary indexes (same HASH key, another RANGE key). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 5))]
    pub local_secondary_indexes: Option<Vec<LocalSecondaryIndex>>,

    /// DynamoDB Streams settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_specification: Option<StreamSpecification>,

    /// Server-side encryption. Tabula always encrypts item bodies at rest (AES-256-GCM under a
    /// per-table key wrapped by the master key in spec.cluster.encryptionKeySecret); this field
    /// is accepted for ACK compatibility and reported as-is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_specification: Option<SseSpecification>,

    /// Time to live: the attribute holding each item's expiry (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_live: Option<TimeToLiveSpecification>,

    /// When true the table cannot be deleted: deleting the resource is held by a finalizer
    /// until this is set to false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection_enabled: Option<bool>,

    /// Tags on the DynamoDB table (key/value pairs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 50))]
    pub tags: Option<Vec<Tag>>,

    /// How the table runs on Kubernetes: pods, zones, storage, keys.
    #[serde(default)]
    pub cluster: ClusterSpec,
}

/// One attribute of the key schema and its scalar type.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDefinition {
    /// Attribute name.
    #[schemars(length(min = 1, max = 255))]
    pub attribute_name: String,
    /// S (string), N (number) or B (binary).
    pub attribute_type: ScalarAttributeType,
}

/// The scalar types a key attribute may have.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScalarAttributeType {
    #[default]
    S,
    N,
    B,
}

/// One element of a key schema.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct KeySchemaElement {
    /// Attribute name (declared in attributeDefinitions).
    #[schemars(length(min = 1, max = 255))]
    pub attribute_name: String,
    /// HASH (partition key) or RANGE (sort key).
    pub key_type: KeyType,
}

/// Role of a key attribute.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyType {
    #[default]
    Hash,
    Range,
}

/// Capacity mode of a table.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    PayPerRequest,
    Provisioned,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
            BillingMode::Provisioned => "PROVISIONED",
        }
    }
}

/// Provisioned read and write capacity.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionedThroughput {
    /// Read capacity units (4 KB strongly consistent reads per second).
    #[schemars(range(min = 1))]
    pub read_capacity_units: i64,
    /// Write capacity units (1 KB writes per second).
    #[schemars(range(min = 1))]
    pub write_capacity_units: i64,
}

/// Which attributes an index copies.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.nonKeyAttributes) || self.projectionType == 'INCLUDE'").message("nonKeyAttributes is only allowed with projectionType INCLUDE"))]
pub struct Projection {
    /// ALL, KEYS_ONLY or INCLUDE.
    pub projection_type: ProjectionType,
    /// With INCLUDE: the non-key attributes to copy into the index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub non_key_attributes: Option<Vec<String>>,
}

/// Projection kinds.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectionType {
    #[default]
    All,
    KeysOnly,
    Include,
}

/// A global secondary index.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GlobalSecondaryIndex {
    /// Index name.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_.-]{3,255}$"))]
    pub index_name: String,
    /// The index key: HASH, optionally RANGE.
    #[schemars(length(min = 1, max = 2))]
    pub key_schema: Vec<KeySchemaElement>,
    /// Attributes copied into the index.
    pub projection: Projection,
    /// Capacity of the index with billingMode PROVISIONED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<ProvisionedThroughput>,
}

/// A local secondary index.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecondaryIndex {
    /// Index name.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_.-]{3,255}$"))]
    pub index_name: String,
    /// The table's HASH key and another RANGE key.
    #[schemars(length(min = 2, max = 2))]
    pub key_schema: Vec<KeySchemaElement>,
    /// Attributes copied into the index.
    pub projection: Projection,
}

/// DynamoDB Streams settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.streamEnabled || has(self.streamViewType)").message("streamViewType is required when streamEnabled is true"))]
pub struct StreamSpecification {
    /// Whether the table has a stream.
    pub stream_enabled: bool,
    /// KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_view_type: Option<StreamViewType>,
}

/// What a stream record carries.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

/// Server-side encryption settings (ACK-compatible shape).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SseSpecification {
    /// Accepted for compatibility; Tabula always encrypts item bodies at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Accepted for compatibility (AES256 or KMS); Tabula uses AES-256-GCM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_type: Option<String>,
    /// Accepted for compatibility; the key lives in spec.cluster.encryptionKeySecret.
    #[serde(
        default,
        rename = "kmsMasterKeyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub kms_master_key_id: Option<String>,
}

/// Time-to-live settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TimeToLiveSpecification {
    /// Attribute holding the expiry time in epoch seconds.
    #[schemars(length(min = 1, max = 255))]
    pub attribute_name: String,
    /// Whether expired items are deleted.
    pub enabled: bool,
}

/// A table tag.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    /// Tag key.
    #[schemars(length(min = 1, max = 128))]
    pub key: String,
    /// Tag value.
    #[schemars(length(max = 256))]
    pub value: String,
}

/// Kubernetes-only settings of a table: its pods, where they run, their storage and keys.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Number of data-plane pods; each holds a full copy of the table. Use an odd number (3 or
    /// 5) so that a quorum survives the loss of a zone.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 9))]
    pub replicas: i32,

    /// Zones (values of the topology.kubernetes.io/zone node label) the pods may run in. Pods
    /// are spread evenly (maxSkew 1) over the zones of the nodes they can use; omitted: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub zones: Option<Vec<String>>,

    /// required (default): never two pods of the table on one node, so losing a node loses at
    /// most one copy; preferred: spread when possible (small or single-node clusters).
    #[serde(default)]
    pub pod_anti_affinity_type: PodAntiAffinityType,

    /// The volume each pod keeps its data on.
    #[serde(default)]
    pub storage: StorageSpec,

    /// CPU and memory for the data-plane container. Omitted: 250m/512Mi requested, 1 CPU and
    /// 1Gi limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Data-plane container image. Omitted: the image the operator was installed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Name of a kubernetes.io/tls Secret (tls.crt, tls.key): the DynamoDB endpoint then
    /// speaks HTTPS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,

    /// The Secret holding the table's master key (32 random bytes, or 64 hex characters). The
    /// operator generates `<name>-master-key` once if this is omitted, and never overwrites or
    /// logs it. Losing the key loses the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key_secret: Option<SecretKeyRef>,

    /// What happens to the pods' volumes when the Table is deleted: Retain (default) keeps
    /// them, Delete removes them with the table.
    #[serde(default)]
    pub pvc_retention_policy: PvcRetentionPolicy,

    /// Node labels the pods must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Tolerations for the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,

    /// Extra affinity rules, merged with the operator's host anti-affinity and zone choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// PriorityClass of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,

    /// Extra annotations on the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_annotations: Option<BTreeMap<String, String>>,
}

fn default_replicas() -> i32 {
    3
}

impl Default for ClusterSpec {
    fn default() -> ClusterSpec {
        ClusterSpec {
            replicas: default_replicas(),
            zones: None,
            pod_anti_affinity_type: PodAntiAffinityType::default(),
            storage: StorageSpec::default(),
            resources: None,
            image: None,
            tls_secret_name: None,
            encryption_key_secret: None,
            pvc_retention_policy: PvcRetentionPolicy::default(),
            node_selector: None,
            tolerations: None,
            affinity: None,
            priority_class_name: None,
            pod_annotations: None,
        }
    }
}

/// A pod volume.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Volume size per pod (default 10Gi). Immutable (StatefulSet volume claims cannot change).
    #[serde(default = "default_storage_size")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("storage size is immutable"))]
    pub size: Quantity,
    /// StorageClass of the volumes, e.g. an encrypted class. Omitted: the cluster's default.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("storageClassName is immutable"))]
    pub storage_class_name: Option<String>,
}

fn default_storage_size() -> Quantity {
    Quantity("10Gi".into())
}

impl Default for StorageSpec {
    fn default() -> StorageSpec {
        StorageSpec {
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

/// A key inside a Secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name (same namespace as the Table).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret. Default `master-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// How strictly pods of one table avoid sharing a node.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum PodAntiAffinityType {
    #[default]
    Required,
    Preferred,
}

/// Whether volumes outlive their table.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PvcRetentionPolicy {
    #[default]
    Retain,
    Delete,
}

/// Observed state of a table.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TableStatus {
    /// CREATING, ACTIVE, UPDATING or DELETING, as DynamoDB reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_status: Option<String>,
    /// DynamoDB API endpoint inside the cluster (the client Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The table's ARN in the data plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_arn: Option<String>,
    /// Data-plane pods wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Data-plane pods ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Approximate item count (refreshed by the data plane every few minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_count: Option<i64>,
    /// Approximate size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_size_bytes: Option<i64>,
    /// The ARN of the table's latest stream (what stream consumers read), once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_stream_arn: Option<String>,
    /// The global secondary indexes and their state (CREATING while being filled, then
    /// ACTIVE).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_secondary_indexes: Vec<IndexState>,
    /// Each replica (pod): the zone it runs in and its place in the table's replica group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_statuses: Vec<ReplicaState>,
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Progressing, Degraded and ZoneLossSafe, in the standard Kubernetes shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// One replica as the status reports it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaState {
    /// The pod.
    pub pod: String,
    /// The zone of the pod's node (topology.kubernetes.io/zone), once scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Whether the pod is ready (up to date with its group).
    pub ready: bool,
    /// leader, follower, learner or candidate, as the replica reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The last log entry the replica applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_index: Option<i64>,
    /// How many log entries the replica is behind the leader's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<i64>,
}

/// One global secondary index as the status reports it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IndexState {
    /// The index name.
    pub index_name: String,
    /// CREATING, ACTIVE or DELETING, as DynamoDB reports it.
    pub index_status: String,
}

/// A status condition (the shape of `metav1.Condition`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Ready, Progressing or Degraded.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: String,
    /// One CamelCase word saying why.
    pub reason: String,
    /// What happened, for humans.
    pub message: String,
    /// The metadata.generation the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
}

impl Table {
    /// The DynamoDB table name: spec.tableName or metadata.name.
    pub fn table_name(&self) -> String {
        self.spec
            .table_name
            .clone()
            .unwrap_or_else(|| self.metadata.name.clone().unwrap_or_default())
    }
}
