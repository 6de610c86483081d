//! Boot test: the StatefulSet the builder produces, run as local processes. Each pod's
//! container command, args, env (literal, downward API, ConfigMap) and volume mounts (the
//! claim, the master-key Secret, emptyDirs) are mapped onto a temp dir and a loopback port;
//! the pod is "ready" when its own readiness probe answers. Then the AWS SDK drives the table,
//! the pod is stopped and started again on the same volume, and the data is still there. This
//! proves the manifests the operator writes start a working table — with one replica, and
//! with three that replicate to each other through the peer addresses of the ConfigMap
//! (mapped to loopback ports) and survive the loss of a pod.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use tabula_operator::builders::{self, Settings};
use tabula_operator::crd::Table;
use tabula_operator::dynamodb;

use crate::support::example_table;

/// The data-plane binary cargo built next to this test (workspace test runs build it).
fn dataplane_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("tabula-dataplane");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p tabula-dataplane`, or run the workspace's tests)",
        bin.display()
    );
    bin
}

/// One pod of the StatefulSet, as a local process.
pub struct LocalPod {
    child: Child,
    pub port: u16,
    name: String,
    /// The readiness probe: path, and whether it is HTTPS.
    probe: (String, bool),
}

/// The loopback ports standing in for each pod's DynamoDB and internal ports (by ordinal).
pub struct PodNet {
    pub api: Vec<u16>,
    pub internal: Vec<u16>,
}

impl PodNet {
    pub fn new(replicas: usize) -> PodNet {
        PodNet {
            api: (0..replicas).map(|_| free_port()).collect(),
            internal: (0..replicas).map(|_| free_port()).collect(),
        }
    }

    /// A container address (`0.0.0.0:PORT` of pod `ordinal`, or a peer's stable DNS name
    /// `STS-N.…:PORT`) as the local address standing in for it.
    fn map(&self, sts: &str, ordinal: usize, addr: &str) -> Option<String> {
        let (host, port) = addr.rsplit_once(':')?;
        let port: i32 = port.parse().ok()?;
        let pod = if host == "0.0.0.0" {
            ordinal
        } else {
            host.strip_prefix(&format!("{sts}-"))?
                .split('.')
                .next()?
                .parse()
                .ok()?
        };
        let local = match port {
            builders::API_PORT => self.api.get(pod)?,
            builders::INTERNAL_PORT => self.internal.get(pod)?,
            _ => return None,
        };
        Some(format!("127.0.0.1:{local}"))
    }
}

impl LocalPod {
    /// Waits for the pod's own readiness probe.
    pub fn wait_ready(&self) {
        let (path, https) = &self.probe;
        // An HTTPS probe (the kubelet does not verify certificates) is stood in for by the
        // port accepting connections; the caller's own TLS client then proves the handshake.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = if *https {
                TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            } else {
                http_get_ok(self.port, path)
            };
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pod {} never became ready",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the pod as the kubelet does (SIGTERM) and waits for it to exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "pod {} did not stop", self.name);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for LocalPod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port for a local pod (see the data plane's test `ports` module, which this
/// crate's tests include).
pub fn free_port() -> u16 {
    crate::ports::free_port("127.0.0.1")
}

/// Starts pod `ordinal` of `sts` with its volumes under `root` on loopback port `port`, and
/// waits for its readiness probe.
pub fn boot_pod(
    sts: &StatefulSet,
    ordinal: usize,
    config_maps: &[ConfigMap],
    secrets: &[Secret],
    root: &Path,
    port: u16,
) -> LocalPod {
    let mut net = PodNet::new(ordinal + 1);
    net.api[ordinal] = port;
    let pod = start_pod(sts, ordinal, config_maps, secrets, root, &net);
    pod.wait_ready();
    pod
}

/// Starts pod `ordinal` of `sts` with its volumes under `root` and its ports as `net` maps
/// them (not waiting for it to be ready: replicas become ready together).
pub fn start_pod(
    sts: &StatefulSet,
    ordinal: usize,
    config_maps: &[ConfigMap],
    secrets: &[Secret],
    root: &Path,
    net: &PodNet,
) -> LocalPod {
    let sts_name = sts.metadata.name.clone().expect("name");
    let spec = sts.spec.as_ref().expect("spec");
    let pod = spec.template.spec.as_ref().expect("pod spec");
    assert_eq!(pod.containers.len(), 1, "one container per pod");
    let c = &pod.containers[0];
    let pod_name = format!("{}-{ordinal}", sts.metadata.name.as_deref().expect("name"));

    // Volumes: claim templates get a per-pod dir, Secrets are written out, emptyDirs are dirs.
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let local = root.join(format!("{pod_name}-{}", m.name));
        std::fs::create_dir_all(&local).expect("mount dir");
        let claim = spec
            .volume_claim_templates
            .iter()
            .flatten()
            .any(|t| t.metadata.name.as_deref() == Some(m.name.as_str()));
        let volume = pod.volumes.iter().flatten().find(|v| v.name == m.name);
        match volume {
            _ if claim => {}
            Some(v) if v.secret.is_some() => {
                let name = v.secret.as_ref().and_then(|s| s.secret_name.clone());
                let secret = secrets
                    .iter()
                    .find(|s| s.metadata.name == name)
                    .unwrap_or_else(|| panic!("pod mounts Secret {name:?}, which was not built"));
                for (k, val) in secret.data.iter().flatten() {
                    std::fs::write(local.join(k), &val.0).expect("secret file");
                }
            }
            Some(v) if v.empty_dir.is_some() => {}
            other => panic!("volume {} has no local mapping: {other:?}", m.name),
        }
        mounts.push((m.mount_path.clone(), local));
    }
    let map_path = |arg: &str| -> String {
        for (mount, local) in &mounts {
            if let Some(rest) = arg.strip_prefix(mount.as_str()) {
                return format!("{}{rest}", local.display());
            }
        }
        arg.to_string()
    };

    // Ports: the container's ports become loopback ports.
    let args: Vec<String> = c
        .args
        .iter()
        .flatten()
        .map(|a| {
            net.map(&sts_name, ordinal, a)
                .unwrap_or_else(|| map_path(a))
        })
        .collect();

    // Environment: ConfigMaps, then literals and the downward API.
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for from in c.env_from.iter().flatten() {
        let name = from
            .config_map_ref
            .as_ref()
            .expect("configMapRef")
            .name
            .clone();
        let cm = config_maps
            .iter()
            .find(|m| m.metadata.name.as_deref() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("pod reads ConfigMap {name}, which was not built"));
        env.extend(cm.data.clone().unwrap_or_default());
    }
    for e in c.env.iter().flatten() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => v.clone(),
            (None, Some(from)) => match from.field_ref.as_ref().map(|f| f.field_path.as_str()) {
                Some("metadata.name") => pod_name.clone(),
                Some("metadata.namespace") => sts.metadata.namespace.clone().unwrap_or_default(),
                other => panic!("env {} from {other:?} has no local mapping", e.name),
            },
            _ => String::new(),
        };
        env.insert(e.name.clone(), value);
    }
    // The peers' stable DNS names become their loopback addresses.
    if let Some(peers) = env.get_mut("TABULA_PEERS") {
        *peers = peers
            .split(',')
            .map(|p| match p.split_once('=') {
                Some((id, addr)) => format!(
                    "{id}={}",
                    net.map(&sts_name, ordinal, addr)
                        .unwrap_or_else(|| panic!("peer address {addr} has no local mapping"))
                ),
                None => p.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
    }

    let command = c.command.as_ref().expect("command");
    assert_eq!(command, &["/usr/local/bin/tabula-dataplane"]);
    let child = Command::new(dataplane_binary())
        .args(&args)
        .envs(&env)
        .spawn()
        .expect("start the data plane");
    // Readiness: the pod's own probe, against the mapped port.
    let probe = c
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref())
        .expect("HTTP readiness probe");
    LocalPod {
        child,
        port: net.api[ordinal],
        name: pod_name,
        probe: (
            probe.path.clone().unwrap_or_else(|| "/".into()),
            probe.scheme.as_deref() == Some("HTTPS"),
        ),
    }
}

/// The replication Secret reconcile would create, with freshly generated certificates.
pub fn replication_secret(table: &Table, settings: &Settings) -> Secret {
    let material = tabula_operator::certs::replication_tls(table, settings).expect("certificates");
    builders::replication_tls_secret(table, &material)
}

/// One HTTP/1.1 exchange on loopback; returns the status code and the body.
pub fn http(port: u16, request_head: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{request_head}Host: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.get(9..12)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

fn http_get_ok(port: u16, path: &str) -> bool {
    http(port, &format!("GET {path} HTTP/1.1\r\n"), "").is_some_and(|(status, _)| status == 200)
}

pub fn client(port: u16) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "AKIDBOOT",
            "secret",
            None,
            None,
            "boot-test",
        ))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// Creates the DynamoDB table the Table resource declares with the very request reconcile
/// sends (`dynamodb::create_table_request`). The pod runs without `--credentials`, so any
/// well-formed SigV4 header is accepted.
fn create_declared_table(port: u16, t: &Table) {
    let body = dynamodb::create_table_request(t).to_string();
    let head = "POST / HTTP/1.1\r\n\
        X-Amz-Target: DynamoDB_20120810.CreateTable\r\n\
        Content-Type: application/x-amz-json-1.0\r\n\
        Authorization: AWS4-HMAC-SHA256 Credential=AKIDBOOT/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00\r\n";
    let (status, answer) = http(port, head, &body).expect("CreateTable answered");
    assert_eq!(status, 200, "CreateTable: {answer}");
    assert!(answer.contains(r#""TableName":"orders""#), "{answer}");
}

#[tokio::test]
async fn the_generated_statefulset_boots_a_working_table_that_keeps_its_data() {
    let mut table = example_table();
    table.spec.cluster.replicas = 1;
    let settings = Settings::default();
    let sts = builders::statefulset(&table, &settings);
    let config_maps = [builders::config_map(&table, &settings)];
    let secrets = [
        builders::master_key_secret(&table, &[0x5a; 32]),
        replication_secret(&table, &settings),
    ];
    let root = tempfile::tempdir().expect("temp dir");
    let port = free_port();

    let pod = boot_pod(&sts, 0, &config_maps, &secrets, root.path(), port);
    let c = client(pod.port);
    create_declared_table(pod.port, &table);
    for i in 0..10 {
        c.put_item()
            .table_name("orders")
            .item("pk", AttributeValue::S("customer-1".into()))
            .item("sk", AttributeValue::N(i.to_string()))
            .item("total", AttributeValue::N(format!("{}.50", i * 10)))
            .send()
            .await
            .expect("PutItem");
    }
    drop(pod);

    // The same pod again, on the same volume: the table and its items are still there, opened
    // with the master key from the Secret.
    let pod = boot_pod(&sts, 0, &config_maps, &secrets, root.path(), port);
    let c = client(pod.port);
    let out = c
        .query()
        .table_name("orders")
        .key_condition_expression("pk = :p AND sk >= :s")
        .expression_attribute_values(":p", AttributeValue::S("customer-1".into()))
        .expression_attribute_values(":s", AttributeValue::N("7".into()))
        .send()
        .await
        .expect("Query");
    let totals: Vec<String> = out
        .items()
        .iter()
        .map(|i| i["total"].as_n().expect("number").clone())
        .collect();
    assert_eq!(totals, ["70.5", "80.5", "90.5"]);
    let desc = c
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .expect("DescribeTable");
    assert!(
        desc.table()
            .and_then(|t| t.table_arn())
            .is_some_and(|arn| arn.ends_with(":table/orders"))
    );
}

/// `GET /tabula/replica` of the local pod on port `port`, as JSON.
pub fn replica_status(port: u16) -> Option<serde_json::Value> {
    let (status, body) = http(port, "GET /tabula/replica HTTP/1.1\r\n", "")?;
    (status == 200).then(|| serde_json::from_str(&body).ok())?
}

/// Three replicas from the generated StatefulSet, ConfigMap and Secret: they find each other
/// through the ConfigMap's peer list (each pod's id from its name), elect a leader, and every
/// pod serves the table. With the leader's pod gone, the two others keep the table writable;
/// the pod comes back on its volume and catches up (its readiness probe waits for that). A
/// leader's pod stopped gracefully (a rolling update) hands its leadership over first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_generated_replicas_replicate_and_survive_the_loss_of_a_pod() {
    let mut table = example_table();
    table.spec.cluster.replicas = 3;
    let settings = Settings::default();
    let sts = builders::statefulset(&table, &settings);
    let config_maps = [builders::config_map(&table, &settings)];
    let secrets = [
        builders::master_key_secret(&table, &[0x3c; 32]),
        replication_secret(&table, &settings),
    ];
    let root = tempfile::tempdir().expect("temp dir");
    let net = PodNet::new(3);
    let mut pods: Vec<Option<LocalPod>> = (0..3)
        .map(|i| {
            Some(start_pod(
                &sts,
                i,
                &config_maps,
                &secrets,
                root.path(),
                &net,
            ))
        })
        .collect();
    for pod in pods.iter().flatten() {
        pod.wait_ready();
    }
    let roles: Vec<serde_json::Value> = net
        .api
        .iter()
        .map(|p| replica_status(*p).expect("status"))
        .collect();
    let leader_id = roles[0]["leaderId"].as_u64().expect("a leader");
    for (i, st) in roles.iter().enumerate() {
        assert_eq!(
            st["nodeId"].as_u64(),
            Some(i as u64 + 1),
            "id from the pod name"
        );
        assert_eq!(
            st["leaderId"].as_u64(),
            Some(leader_id),
            "one leader: {roles:?}"
        );
        assert_eq!(st["voters"], serde_json::json!([1, 2, 3]));
    }

    // Created through one pod, written through another, read (strongly) through the third.
    create_declared_table(net.api[1], &table);
    let put = |port: u16, i: u32| {
        let c = client(port);
        async move {
            c.put_item()
                .table_name("orders")
                .item("pk", AttributeValue::S("customer-3".into()))
                .item("sk", AttributeValue::N(i.to_string()))
                .send()
                .await
                .expect("PutItem")
        }
    };
    for i in 0..5 {
        put(net.api[2], i).await;
    }
    let count = |port: u16, consistent: bool| {
        let c = client(port);
        async move {
            c.query()
                .table_name("orders")
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", AttributeValue::S("customer-3".into()))
                .consistent_read(consistent)
                .send()
                .await
                .expect("Query")
                .count()
        }
    };
    assert_eq!(count(net.api[0], true).await, 5);

    // The leader's pod goes away: the others elect a new leader and keep writing.
    let gone = leader_id as usize - 1;
    drop(pods[gone].take());
    let other = (gone + 1) % 3;
    for i in 5..300 {
        put(net.api[other], i).await;
    }
    // It comes back on its volume, is ready once caught up, and then serves the writes it
    // missed from its own store.
    let back = start_pod(&sts, gone, &config_maps, &secrets, root.path(), &net);
    back.wait_ready();
    pods[gone] = Some(back);
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(net.api[gone], false).await != 300 {
        assert!(
            Instant::now() < deadline,
            "the returning pod never caught up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let applied: Vec<Option<u64>> = net
        .api
        .iter()
        .map(|p| replica_status(*p).and_then(|s| s["appliedIndex"].as_u64()))
        .collect();
    assert!(
        applied.iter().all(|a| a.is_some()),
        "every pod reports its position: {applied:?}"
    );

    // A rolling update stops the leader's pod (SIGTERM): it hands its leadership over first
    // (over the replicas' mutual TLS), so the others follow a new leader in the next term
    // as soon as it is gone, then it comes back and catches up.
    let leader = replica_status(net.api[0]).expect("status");
    let (leader_id, term) = (
        leader["leaderId"].as_u64().expect("a leader"),
        leader["term"].as_u64().expect("a term"),
    );
    let stopping = leader_id as usize - 1;
    let status = pods[stopping].take().expect("running").terminate();
    assert!(status.success(), "the leader's pod exited with {status}");
    let others: Vec<usize> = (0..3).filter(|i| *i != stopping).collect();
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let seen: Vec<Option<(Option<u64>, Option<u64>)>> = others
            .iter()
            .map(|i| {
                replica_status(net.api[*i]).map(|s| (s["leaderId"].as_u64(), s["term"].as_u64()))
            })
            .collect();
        let agreed = seen.iter().all(|s| {
            *s == seen[0]
                && s.is_some_and(|(l, t)| l.is_some_and(|l| l != leader_id) && t == Some(term + 1))
        });
        if agreed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no new leader right after the leader's pod stopped: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    put(net.api[others[0]], 300).await;
    let back = start_pod(&sts, stopping, &config_maps, &secrets, root.path(), &net);
    back.wait_ready();
    pods[stopping] = Some(back);
    assert_eq!(count(net.api[stopping], true).await, 301);
}
