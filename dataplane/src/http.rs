//! The HTTP edge: accepts connections (plain or TLS), reads each request, authenticates it,
//! dispatches it to the protocol layer off the async runtime, and writes the DynamoDB-shaped
//! response with `x-amzn-RequestId` and `x-amz-crc32`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::auth::{self, Credentials};
use crate::engine::Engine;
use crate::error::{ApiError, ErrorKind};
use crate::protocol::{self, Operation};

/// Largest request body accepted (BatchWriteItem may carry 16 MB of items plus JSON overhead).
const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// What every request handler shares.
pub struct Shared {
    pub engine: Arc<Engine>,
    pub credentials: Option<Credentials>,
    /// This node's replica (a replicated table): requests it must not serve go to the leader.
    pub replica: Option<Arc<crate::replication::Replica>>,
    /// The key administrative requests are signed with (derived from the master key).
    pub admin_key: [u8; 32],
}

/// Serves until `shutdown` turns true; in-flight requests finish first.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let tls = tls.clone();
                let mut conn_shutdown = shutdown.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req, peer).await) }
                    });
                    let builder = http1::Builder::new();
                    match tls {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(tls_stream) => {
                                let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                                drive(conn, &mut conn_shutdown).await;
                            }
                            Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        },
                        None => {
                            let conn = builder.serve_connection(TokioIo::new(stream), service);
                            drive(conn, &mut conn_shutdown).await;
                        }
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
        // Reap finished connection tasks so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

/// Runs one connection, switching it to graceful shutdown when asked.
async fn drive<I, S>(conn: http1::Connection<I, S>, shutdown: &mut watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Full<Bytes>> + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn request_id() -> String {
    // DynamoDB request ids are 52 upper-case alphanumerics.
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut random = [0u8; 52];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut random);
    let id: Vec<u8> = random
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()])
        .collect();
    String::from_utf8(id).unwrap_or_default()
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let id = request_id();
    let (parts, body) = req.into_parts();
    if parts.method == Method::GET
        && parts.uri.path() == "/tabula/replica"
        && let Some(replica) = &shared.replica
    {
        // A replica's place in its group (probes, the operator's status, tests); with
        // `?digest`, also a digest of its store (replicas at one position must agree).
        let mut status = replica.status();
        if parts.uri.query() == Some("digest") {
            let digest = shared.engine.store().digest().map(|d| format!("{d:016x}"));
            status["digest"] = serde_json::Value::String(digest.unwrap_or_else(|e| e.to_string()));
        }
        let body = serde_json::to_vec(&status).unwrap_or_default();
        return respond(StatusCode::OK, "application/json", Bytes::from(body), &id);
    }
    if parts.method == Method::GET && parts.uri.path() == "/tabula/ready" {
        // Readiness (the StatefulSet's rolling update waits for it before the next pod): a
        // replica is ready once it is up to date with its group; a single node at once.
        let verdict = match &shared.replica {
            Some(replica) => replica.caught_up().await,
            None => Ok(()),
        };
        return match verdict {
            Ok(()) => respond(
                StatusCode::OK,
                "text/plain",
                Bytes::from_static(b"ready"),
                &id,
            ),
            Err(why) => respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                Bytes::from(format!("not ready: {why}")),
                &id,
            ),
        };
    }
    if parts.method == Method::GET
        && let Some(replica) = &shared.replica
        && let Err(e) = &replica.raft.metrics().borrow().running_state
    {
        // Replication stopped (a storage failure): not healthy, so the pod is restarted.
        return respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            Bytes::from(format!("unhealthy: replication stopped: {e}")),
            &id,
        );
    }
    if parts.method == Method::GET {
        // DynamoDB answers a plain GET with a health line; load balancers and probes use it.
        return respond(
            StatusCode::OK,
            "text/plain",
            Bytes::from_static(b"healthy: tabula"),
            &id,
        );
    }
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            tracing::debug!(%peer, error = %e, "failed to read request body");
            return error_response(
                &ApiError::validation("Request body is too large or the connection failed"),
                &id,
            );
        }
    };
    if parts.method != Method::POST {
        return error_response(&ApiError::new(ErrorKind::UnknownOperation, ""), &id);
    }
    if parts.uri.path() == "/tabula/members" {
        // Not a DynamoDB request: signed with the table's admin key instead (see
        // `tabula_core::admin`), whatever the DynamoDB credentials allow.
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if let Err(why) = tabula_core::admin::verify(
            &shared.admin_key,
            parts.uri.path(),
            header(tabula_core::admin::DATE_HEADER),
            header(tabula_core::admin::SIGNATURE_HEADER),
            &body,
            tabula_core::admin::now(),
        ) {
            return error_response(&ApiError::new(ErrorKind::AccessDenied, why), &id);
        }
        return match change_members(&shared, &body).await {
            Ok(value) => respond(
                StatusCode::OK,
                "application/json",
                Bytes::from(serde_json::to_vec(&value).unwrap_or_default()),
                &id,
            ),
            Err(e) => error_response(&e, &id),
        };
    }
    let verified = auth::verify(
        shared.credentials.as_ref(),
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        &parts.headers,
        &body,
        SystemTime::now(),
    );
    if let Err(e) = verified {
        return error_response(&e, &id);
    }
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (status, body) = answer(&shared, target, body, 0).await;
    respond(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        "application/x-amz-json-1.0",
        body,
        &id,
    )
}

/// `POST /tabula/members` (signed with the admin key): `{"peers": "1=HOST:PORT,..."}` makes
/// the replica group's voters exactly these replicas (see `replication::members`). The
/// operator calls it before it scales a table's StatefulSet down.
async fn change_members(shared: &Arc<Shared>, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    use crate::replication::{ReplicaConfig, members};
    let Some(replica) = &shared.replica else {
        return Err(ApiError::validation(
            "this node is not replicated: it has no members to change",
        ));
    };
    let request: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        ApiError::validation("the body must be JSON: {\"peers\": \"1=HOST:PORT,...\"}")
    })?;
    let peers = request["peers"]
        .as_str()
        .ok_or_else(|| ApiError::validation("peers: a string 1=HOST:PORT,... is required"))
        .and_then(|p| ReplicaConfig::parse_peers(p).map_err(ApiError::validation))?;
    let reply = members::change(&replica.raft, members::MembersRequest::Set(peers), 0)
        .await
        .map_err(|e| ApiError::new(ErrorKind::ServiceUnavailable, e))?;
    Ok(serde_json::json!({"voters": reply.voters, "learners": reply.learners}))
}

/// Answers an authenticated API request (`target` is its X-Amz-Target) with an HTTP status
/// and a JSON body: here, or — on a replica that must not serve it — by the leader, to which
/// it is forwarded (`hops` counts the forwards so far).
pub async fn answer(shared: &Arc<Shared>, target: &str, body: Bytes, hops: u32) -> (u16, Bytes) {
    let op = match Operation::from_target(target) {
        Ok(op) => op,
        Err(e) => return error_answer(&e),
    };
    // The term a write is admitted in (replicas): its proposals carry it, and the log
    // refuses them if leadership moved meanwhile.
    let mut term = 0;
    let mut admitted = None;
    if let Some(replica) = &shared.replica {
        use crate::replication::{Forwarded, Route};
        let here = match crate::replication::route(op, &body) {
            // A follower answers from its own store, but for a table it does not know: one
            // created a moment ago may not have reached it yet (while the leader already
            // reports it ACTIVE), so the leader answers that.
            Route::Local if !replica.is_leader() => {
                match protocol::dispatch(&shared.engine, op, &body).await {
                    Ok(reply) => return reply_answer(reply),
                    Err(e) if e.kind == ErrorKind::ResourceNotFound => false,
                    Err(e) => return error_answer(&e),
                }
            }
            Route::Local => true,
            Route::Linearizable if replica.is_leader() => {
                match replica.ensure_linearizable().await {
                    Ok(leads) => leads,
                    Err(e) => return error_answer(&e),
                }
            }
            Route::Leader if replica.is_leader() => match replica.wait_writer().await {
                Some((t, a)) => {
                    term = t;
                    admitted = Some(a);
                    true
                }
                None if replica.is_leader() => {
                    return error_answer(&ApiError::new(
                        ErrorKind::ServiceUnavailable,
                        "the leader is still taking over",
                    ));
                }
                None => false,
            },
            _ => false,
        };
        if !here {
            return match replica.forward(target, body.clone(), hops).await {
                Ok(Forwarded::Answer(status, body)) => (status, body),
                Ok(Forwarded::LeaderMoved) => {
                    Box::pin(answer(shared, target, body, hops + 1)).await
                }
                Err(e) => error_answer(&e),
            };
        }
    }
    // Every operation runs on the async workers: reads touch memory and the block cache (a
    // page is bounded at 1 MB), and item writes wait for the group commit without holding a
    // thread. A write runs as a task of its own: if the client goes away, hyper drops this
    // future, and a write must not be cut between taking its item locks and the commit
    // (the locks would be released while the batch is still queued).
    let result = if op.is_read_only() {
        Ok(protocol::dispatch(&shared.engine, op, &body).await)
    } else {
        let engine = shared.engine.clone();
        let task = tokio::spawn(crate::replication::DECIDED_TERM.scope(term, async move {
            let answer = protocol::dispatch(&engine, op, &body).await;
            drop(admitted);
            answer
        }));
        match shared.replica {
            None => task.await,
            // A replicated write waits for a quorum, which a leader cut off from its followers
            // does not have: the client is answered ServiceUnavailable after a while, but the
            // write task goes on, holding its item locks (and its ClientRequestToken) until
            // the outcome is known, so nothing decided meanwhile rests on a write that may
            // still be applied.
            Some(_) => match tokio::time::timeout(COMMIT_WAIT, task).await {
                Ok(joined) => joined,
                Err(_) => Ok(Err(ApiError::new(
                    ErrorKind::ServiceUnavailable,
                    format!(
                        "the write was not confirmed by a quorum of replicas within {} s; it may or may not take effect",
                        COMMIT_WAIT.as_secs()
                    ),
                ))),
            },
        }
    };
    match result {
        Ok(Ok(reply)) => reply_answer(reply),
        Ok(Err(e)) => {
            if e.kind == ErrorKind::InternalServer {
                tracing::error!(?op, "{e}");
            }
            error_answer(&e)
        }
        Err(join) => error_answer(&ApiError::internal(format!("request task failed: {join}"))),
    }
}

/// How long a client waits for a replicated write to be confirmed by a quorum.
const COMMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn reply_answer(reply: protocol::Reply) -> (u16, Bytes) {
    (200, Bytes::from(reply.into_bytes()))
}

fn error_answer(e: &ApiError) -> (u16, Bytes) {
    let body = serde_json::to_vec(&e.body()).unwrap_or_default();
    (e.kind.status(), Bytes::from(body))
}

fn error_response(e: &ApiError, id: &str) -> Response<Full<Bytes>> {
    let (status, body) = error_answer(e);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    respond(status, "application/x-amz-json-1.0", body, id)
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    id: &str,
) -> Response<Full<Bytes>> {
    use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
    const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
    const CRC32: HeaderName = HeaderName::from_static("x-amz-crc32");
    let crc = crc32fast::hash(&body);
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert(REQUEST_ID, v);
    }
    h.insert(CRC32, HeaderValue::from(crc));
    resp
}
