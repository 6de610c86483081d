//! An in-memory stand-in for the Kubernetes API server — a mock, named as such: no API server
//! can run on this machine. It keeps objects as JSON under their URL paths and implements the
//! calls the operator makes through `kube::Client`: GET, POST (create; 409 AlreadyExists), PATCH
//! (server-side apply approximated by a JSON merge; merge patch with resourceVersion checks; the
//! `status` subresource), DELETE, and the API server's rule that an object being deleted goes
//! away when its last finalizer is removed. For the operator binary it also lists collections
//! and answers watches with the objects changed since the given resourceVersion, over HTTP on
//! loopback (`serve`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    next_rv: u64,
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "reason": reason, "message": message, "code": code}),
    )
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// `/api/v1[/namespaces/NS]/PLURAL` or `/apis/G/V[/namespaces/NS]/PLURAL`.
fn is_collection(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let base = if segs.first() == Some(&"api") { 2 } else { 3 };
    segs.len() == base + 1 || (segs.len() == base + 3 && segs.get(base) == Some(&"namespaces"))
}

/// Whether the object stored under `key` belongs to the collection at `path`.
fn in_collection(key: &str, path: &str) -> bool {
    let Some(name) = key.strip_prefix(path).and_then(|r| r.strip_prefix('/')) else {
        // An all-namespaces list: /apis/G/V/PLURAL holds /apis/G/V/namespaces/*/PLURAL/*.
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (plural, prefix) = match segs.split_last() {
            Some((p, rest)) => (*p, format!("/{}/namespaces/", rest.join("/"))),
            None => return false,
        };
        return key.strip_prefix(&prefix).is_some_and(|rest| {
            let r: Vec<&str> = rest.split('/').collect();
            r.len() == 3 && r[1] == plural
        });
    };
    !name.contains('/')
}

impl State {
    fn list_collection(&self, path: &str) -> Value {
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|(k, _)| in_collection(k, path))
            .map(|(_, v)| v.clone())
            .collect();
        json!({"apiVersion": "v1", "kind": "List",
               "metadata": {"resourceVersion": self.next_rv.to_string()}, "items": items})
    }

    /// Watch events (newline-delimited JSON) for the collection's objects changed after `since`.
    fn watch_events(&self, path: &str, since: u64) -> String {
        let mut out = String::new();
        for (k, v) in &self.objects {
            let rv: u64 = v["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            if rv > since && in_collection(k, path) {
                out.push_str(&json!({"type": "MODIFIED", "object": v}).to_string());
                out.push('\n');
            }
        }
        out
    }

    fn bump(&mut self, obj: &mut Value) {
        self.next_rv += 1;
        let meta = &mut obj["metadata"];
        meta["resourceVersion"] = json!(self.next_rv.to_string());
        if meta.get("uid").is_none() {
            meta["uid"] = json!(format!("uid-{}", self.next_rv));
            meta["creationTimestamp"] = json!("2026-11-26T00:00:00Z");
        }
    }

    fn handle(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Value) {
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let (key, sub_status) = match path.strip_suffix("/status") {
            Some(k) => (k.to_string(), true),
            None => (path.to_string(), false),
        };
        match method {
            "GET" if is_collection(path) => (200, self.list_collection(path)),
            "GET" => match self.objects.get(&key) {
                Some(o) => (200, o.clone()),
                None => status(404, "NotFound", &format!("{key} not found")),
            },
            "POST" => {
                let name = body["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let key = format!("{key}/{name}");
                if self.objects.contains_key(&key) {
                    return status(409, "AlreadyExists", &format!("{key} already exists"));
                }
                let mut obj = body;
                self.bump(&mut obj);
                self.objects.insert(key, obj.clone());
                (201, obj)
            }
            "PATCH" => {
                let apply = content_type.starts_with("application/apply-patch");
                let Some(mut obj) = self
                    .objects
                    .get(&key)
                    .cloned()
                    .or_else(|| apply.then(|| json!({})))
                else {
                    return status(404, "NotFound", &format!("{key} not found"));
                };
                let wanted_rv = body["metadata"]["resourceVersion"].as_str();
                if !apply
                    && wanted_rv.is_some()
                    && wanted_rv != obj["metadata"]["resourceVersion"].as_str()
                {
                    return status(
                        409,
                        "Conflict",
                        "the object has been modified; please apply your changes to the latest version and try again",
                    );
                }
                let mut patch = body.clone();
                if let Some(m) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("resourceVersion");
                }
                if sub_status {
                    merge(&mut obj["status"], &patch["status"]);
                } else {
                    if !apply {
                        patch.as_object_mut().map(|p| p.remove("status"));
                    }
                    merge(&mut obj, &patch);
                }
                self.bump(&mut obj);
                let gone = obj["metadata"]["deletionTimestamp"].is_string()
                    && obj["metadata"]["finalizers"]
                        .as_array()
                        .is_none_or(|f| f.is_empty());
                if gone {
                    self.objects.remove(&key);
                } else {
                    self.objects.insert(key, obj.clone());
                }
                (200, obj)
            }
            "DELETE" => match self.objects.remove(&key) {
                Some(o) => (200, o),
                None => status(404, "NotFound", &format!("{key} not found")),
            },
            _ => status(405, "MethodNotAllowed", method),
        }
    }
}

impl FakeApi {
    /// Serves this fake over HTTP on a loopback port (for the operator binary) and returns the
    /// address. A watch answers the changes since its resourceVersion, or after a short pause
    /// nothing, and ends; the client then watches again.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let api = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let api = api.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let api = api.clone();
                            async move {
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                Ok::<_, Infallible>(api.answer(&parts, &body).await)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        addr
    }

    async fn answer(
        &self,
        parts: &hyper::http::request::Parts,
        body: &[u8],
    ) -> hyper::Response<Full<Bytes>> {
        let path = parts.uri.path().to_string();
        let query = parts.uri.query().unwrap_or_default().to_string();
        let param = |name: &str| {
            query.split('&').find_map(|kv| {
                kv.strip_prefix(name)
                    .and_then(|v| v.strip_prefix('='))
                    .map(str::to_string)
            })
        };
        if parts.method == "GET" && matches!(param("watch").as_deref(), Some("true" | "1")) {
            let since: u64 = param("resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut events = self.state.lock().expect("state").watch_events(&path, since);
            if events.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                events = self.state.lock().expect("state").watch_events(&path, since);
            }
            return hyper::Response::new(Full::new(Bytes::from(events)));
        }
        let content_type = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let (code, answer) = self.state.lock().expect("state").handle(
            parts.method.as_str(),
            &path,
            &content_type,
            body,
        );
        let mut resp = hyper::Response::new(Full::new(Bytes::from(answer.to_string())));
        *resp.status_mut() = hyper::StatusCode::from_u16(code).expect("status code");
        resp.headers_mut()
            .insert("content-type", "application/json".parse().expect("header"));
        resp
    }

    /// A `kube::Client` whose every request this fake answers.
    pub fn client(&self) -> kube::Client {
        let api = self.clone();
        let svc = tower::service_fn(move |req: hyper::Request<kube::client::Body>| {
            let api = api.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                Ok::<_, Infallible>(api.answer(&parts, &body).await)
            }
        });
        kube::Client::new(svc, "default")
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.state.lock().expect("state").objects.get(path).cloned()
    }

    /// Stores an object as the API server would after a create (resourceVersion, uid).
    pub fn put(&self, path: &str, mut obj: Value) {
        let mut s = self.state.lock().expect("state");
        s.bump(&mut obj);
        s.objects.insert(path.to_string(), obj);
    }

    /// Changes a stored object in place (what other clients or controllers would do).
    pub fn edit(&self, path: &str, patch: Value) {
        let mut s = self.state.lock().expect("state");
        let mut obj = s.objects.get(path).cloned().expect("object to edit");
        merge(&mut obj, &patch);
        s.bump(&mut obj);
        s.objects.insert(path.to_string(), obj);
    }

    /// Every stored object whose path starts with `prefix`.
    pub fn list(&self, prefix: &str) -> Vec<Value> {
        self.state
            .lock()
            .expect("state")
            .objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect()
    }
}
