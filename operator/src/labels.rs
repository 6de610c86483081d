//! Label and annotation keys the operator writes and selects on.

/// The Table a child object belongs to (value: the Table's metadata.name).
pub const TABLE: &str = "tabula.dev/table";
/// Which part of a table an object is (`data`, `client`, `peers`, `master-key`, ...).
pub const COMPONENT: &str = "app.kubernetes.io/component";
pub const NAME: &str = "app.kubernetes.io/name";
pub const INSTANCE: &str = "app.kubernetes.io/instance";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const PART_OF: &str = "app.kubernetes.io/part-of";
/// Hash of the ConfigMap contents on the pod template, so a config change rolls the pods.
pub const CONFIG_HASH: &str = "tabula.dev/config-hash";
/// The finalizer that holds a Table until its data-plane table is gone (or protected).
pub const FINALIZER: &str = "tabula.dev/finalizer";
/// Zone label on nodes.
pub const ZONE: &str = "topology.kubernetes.io/zone";
/// Hostname label on nodes.
pub const HOSTNAME: &str = "kubernetes.io/hostname";
/// Field manager for server-side apply.
pub const FIELD_MANAGER: &str = "tabula";
