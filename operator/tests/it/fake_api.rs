//! An in-memory stand-in for the Kubernetes API server — a mock, named as such: no API server
//! can run on this machine. It keeps objects as JSON under their URL paths and implements the
//! calls the operator makes through `kube::Client`: GET, POST (create; 409 AlreadyExists), PATCH
//! (server-side apply approximated by a JSON merge; merge patch with resourceVersion checks; the
//! `status` subresource), DELETE, and the API server's rule that an object being deleted goes
//! away when its last finalizer is removed.

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

impl State {
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
    /// A `kube::Client` whose every request this fake answers.
    pub fn client(&self) -> kube::Client {
        let api = self.clone();
        let svc = tower::service_fn(move |req: hyper::Request<kube::client::Body>| {
            let api = api.clone();
            async move {
                let method = req.method().to_string();
                let path = req.uri().path().to_string();
                let content_type = req
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let (code, answer) = api.state.lock().expect("fake API state").handle(
                    &method,
                    &path,
                    &content_type,
                    &body,
                );
                let mut resp = hyper::Response::new(Full::new(Bytes::from(answer.to_string())));
                *resp.status_mut() = hyper::StatusCode::from_u16(code).expect("status code");
                resp.headers_mut()
                    .insert("content-type", "application/json".parse().expect("header"));
                Ok::<_, Infallible>(resp)
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
