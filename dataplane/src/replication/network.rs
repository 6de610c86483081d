//! The replicas' gRPC: openraft's network over `tabula_proto`'s `Replica` service, and the
//! service itself (Raft RPCs into the local Raft, forwarded client requests into the HTTP
//! layer's request path).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{AnyError, BasicNode};
use tabula_proto::{ForwardReply, ForwardRequest, RaftMessage, ReplicaClient};
use tonic::transport::{
    Certificate, Channel, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig,
};

use super::{NodeId, TypeConfig};

/// Mutual TLS between replicas: every replica presents a certificate signed by the group's CA
/// and accepts only peers that do the same (on Kubernetes, from a Secret the operator
/// generates per table).
#[derive(Clone, Debug)]
pub struct InternalTls {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Vec<u8>,
    /// The name every peer's certificate is checked against; `None`: each peer's host.
    server_name: Option<String>,
}

impl InternalTls {
    /// Reads the PEM files, checking that each holds what it should.
    pub fn load(
        cert: &Path,
        key: &Path,
        ca: &Path,
        server_name: Option<String>,
    ) -> Result<InternalTls, String> {
        use rustls_pemfile::Item;
        // The file's bytes, if it is PEM holding a block `fits` accepts.
        let read = |path: &Path, what: &str, fits: fn(&Item) -> bool| {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
            let blocks = rustls_pemfile::read_all(&mut bytes.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
            if !blocks.iter().any(fits) {
                return Err(format!("{} holds no {what}", path.display()));
            }
            Ok(bytes)
        };
        let certificate = |b: &Item| matches!(b, Item::X509Certificate(_));
        let private_key =
            |b: &Item| matches!(b, Item::Pkcs1Key(_) | Item::Pkcs8Key(_) | Item::Sec1Key(_));
        Ok(InternalTls {
            cert: read(cert, "certificate", certificate)?,
            key: read(key, "private key", private_key)?,
            ca: read(ca, "CA certificate", certificate)?,
            server_name,
        })
    }

    fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert, &self.key)
    }

    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity())
            .client_ca_root(Certificate::from_pem(&self.ca))
    }

    fn client(&self, host: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .identity(self.identity())
            .domain_name(self.server_name.as_deref().unwrap_or(host))
    }
}

/// This process's internal TLS, set once at start (before any channel is made).
static INTERNAL_TLS: OnceLock<InternalTls> = OnceLock::new();

/// Makes every internal channel and the internal service use mutual TLS.
pub fn use_internal_tls(tls: InternalTls) {
    // tonic's TLS takes rustls' process-wide provider: ring, as everywhere else here (a
    // build may enable another provider too, and then rustls would not choose by itself).
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let _ = INTERNAL_TLS.set(tls);
}

/// A lazily connected channel to a peer's internal address (over mutual TLS when configured).
pub fn channel(addr: &str) -> Result<Channel, String> {
    let bad = |e: &dyn std::fmt::Display| format!("bad peer address {addr}: {e}");
    let endpoint = match INTERNAL_TLS.get() {
        None => Endpoint::from_shared(format!("http://{addr}")).map_err(|e| bad(&e))?,
        Some(tls) => {
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            Endpoint::from_shared(format!("https://{addr}"))
                .map_err(|e| bad(&e))?
                .tls_config(tls.client(host.trim_matches(['[', ']'])))
                .map_err(|e| bad(&e))?
        }
    };
    Ok(endpoint
        .connect_timeout(std::time::Duration::from_millis(500))
        .tcp_nodelay(true)
        .connect_lazy())
}

pub struct Network;

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        Peer {
            target,
            client: channel(&node.addr).map(|c| {
                ReplicaClient::new(c)
                    .max_decoding_message_size(super::MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(super::MAX_MESSAGE_BYTES)
            }),
        }
    }
}

pub struct Peer {
    target: NodeId,
    client: Result<ReplicaClient<Channel>, String>,
}

/// How long openraft waits before retrying an unreachable peer (its default, 500 ms, lets a
/// restarted replica's election timer run out before the leader contacts it).
const RETRY: std::time::Duration = std::time::Duration::from_millis(50);

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, E>>;

impl Peer {
    /// Sends one Raft RPC: `request` encoded, the reply decoded as `Result<T, E>` (the remote
    /// Raft's own answer). Transport failures make the peer unreachable (openraft backs off).
    async fn call<Req, T, E>(&mut self, kind: Kind, request: &Req) -> RpcResult<T, E>
    where
        Req: serde::Serialize,
        T: serde::de::DeserializeOwned,
        E: serde::de::DeserializeOwned + std::error::Error,
    {
        let unreachable = |e: String| RPCError::Unreachable(Unreachable::new(&AnyError::error(e)));
        let client = self.client.as_mut().map_err(|e| unreachable(e.clone()))?;
        let payload = bincode::serialize(request)
            .map_err(|e| RPCError::Network(NetworkError::new(&AnyError::error(e.to_string()))))?;
        let message = RaftMessage {
            payload,
            error: String::new(),
        };
        let reply = match kind {
            Kind::Append => client.append_entries(message).await,
            Kind::Vote => client.vote(message).await,
            Kind::Snapshot => client.install_snapshot(message).await,
        }
        .map_err(|status| match status.code() {
            // Too big for one message: openraft sends fewer entries next time.
            tonic::Code::ResourceExhausted => {
                RPCError::PayloadTooLarge(openraft::error::PayloadTooLarge::new_entries_hint(1))
            }
            _ => unreachable(status.to_string()),
        })?
        .into_inner();
        if !reply.error.is_empty() {
            return Err(RPCError::Network(NetworkError::new(&AnyError::error(
                reply.error,
            ))));
        }
        let answer: Result<T, E> = bincode::deserialize(&reply.payload)
            .map_err(|e| RPCError::Network(NetworkError::new(&AnyError::error(e.to_string()))))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Append,
    Vote,
    Snapshot,
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        self.call(Kind::Append, &rpc).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        self.call(Kind::Snapshot, &rpc).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, RaftError<NodeId>> {
        self.call(Kind::Vote, &rpc).await
    }

    fn backoff(&self) -> openraft::network::Backoff {
        openraft::network::Backoff::new(std::iter::repeat(RETRY))
    }
}

/// Answers a forwarded client request: target, body, hops → HTTP status and body (see
/// `http::answer`).
pub type Forwarder = Arc<
    dyn Fn(String, Bytes, u32) -> std::pin::Pin<Box<dyn Future<Output = (u16, Bytes)> + Send>>
        + Send
        + Sync
        + 'static,
>;

/// The `Replica` gRPC service of this node.
pub struct Service {
    pub raft: openraft::Raft<TypeConfig>,
    /// Set once the HTTP side is up; until then forwarded requests are refused (retryable).
    pub forward: Arc<std::sync::OnceLock<Forwarder>>,
    /// A replica that started with an empty disk votes only once it has applied this far
    /// (`u64::MAX`: not yet known; see `members`).
    pub vote_floor: Arc<AtomicU64>,
    /// Set once this replica is stopping: a stopping leader's request to campaign is
    /// refused (it would win an election and stop right after).
    pub stopping: Arc<AtomicBool>,
}

fn reply<T: serde::Serialize>(answer: &T) -> Result<tonic::Response<RaftMessage>, tonic::Status> {
    let payload = bincode::serialize(answer).map_err(|e| tonic::Status::internal(e.to_string()))?;
    Ok(tonic::Response::new(RaftMessage {
        payload,
        error: String::new(),
    }))
}

fn request<T: serde::de::DeserializeOwned>(
    message: tonic::Request<RaftMessage>,
) -> Result<T, tonic::Status> {
    bincode::deserialize(&message.into_inner().payload)
        .map_err(|e| tonic::Status::invalid_argument(format!("undecodable Raft message: {e}")))
}

#[tonic::async_trait]
impl tabula_proto::Replica for Service {
    async fn append_entries(
        &self,
        message: tonic::Request<RaftMessage>,
    ) -> Result<tonic::Response<RaftMessage>, tonic::Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = request(message)?;
        reply(&self.raft.append_entries(rpc).await)
    }

    async fn vote(
        &self,
        message: tonic::Request<RaftMessage>,
    ) -> Result<tonic::Response<RaftMessage>, tonic::Status> {
        let floor = self.vote_floor.load(Ordering::SeqCst);
        if floor > 0 {
            let applied = self.raft.metrics().borrow().last_applied.map(|l| l.index);
            if applied.is_none_or(|a| a < floor) {
                return Err(tonic::Status::unavailable(
                    "this replica is being rebuilt and does not vote yet",
                ));
            }
        }
        let rpc: VoteRequest<NodeId> = request(message)?;
        reply(&self.raft.vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        message: tonic::Request<RaftMessage>,
    ) -> Result<tonic::Response<RaftMessage>, tonic::Status> {
        let rpc: InstallSnapshotRequest<TypeConfig> = request(message)?;
        reply(&self.raft.install_snapshot(rpc).await)
    }

    async fn joined(
        &self,
        _message: tonic::Request<RaftMessage>,
    ) -> Result<tonic::Response<RaftMessage>, tonic::Status> {
        let joined = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let last_log_index = self.raft.metrics().borrow().last_log_index;
        reply(&(joined, last_log_index))
    }

    async fn change_members(
        &self,
        message: tonic::Request<RaftMessage>,
    ) -> Result<tonic::Response<RaftMessage>, tonic::Status> {
        let (change, hops): (super::members::MembersRequest, u32) = request(message)?;
        if matches!(change, super::members::MembersRequest::Campaign { .. })
            && self.stopping.load(Ordering::SeqCst)
        {
            let refused: Result<super::members::MembersReply, String> =
                Err("this replica is stopping too".into());
            return reply(&refused);
        }
        reply(&super::members::change(&self.raft, change, hops).await)
    }

    async fn forward(
        &self,
        message: tonic::Request<ForwardRequest>,
    ) -> Result<tonic::Response<ForwardReply>, tonic::Status> {
        let f = message.into_inner();
        let Some(forward) = self.forward.get() else {
            return Err(tonic::Status::unavailable("this replica is still starting"));
        };
        let (status, body) = forward(f.target, Bytes::from(f.body), f.hops).await;
        Ok(tonic::Response::new(ForwardReply {
            status: u32::from(status),
            body: body.to_vec(),
        }))
    }
}
