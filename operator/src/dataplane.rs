//! The operator's client for a table's data plane: DynamoDB JSON requests over HTTP(S) to the
//! table's client Service.
//!
//! Table pods run without `--credentials` for now (the data plane then accepts any well-formed
//! SigV4 header), so requests carry a fixed, unsigned operator identity. A TLS table is reached
//! over HTTPS, trusting the CA of its TLS Secret (`ca.crt`, or the certificate itself).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum DataPlaneError {
    #[error("data plane at {endpoint} unreachable: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("{kind}: {message}")]
    Api { kind: String, message: String },
}

impl DataPlaneError {
    /// The DynamoDB error type, e.g. `ResourceNotFoundException`.
    pub fn kind(&self) -> Option<&str> {
        match self {
            DataPlaneError::Api { kind, .. } => Some(kind),
            DataPlaneError::Unreachable { .. } => None,
        }
    }
}

/// Where a table's DynamoDB API is, and which CA to trust when it is HTTPS.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: String,
    /// PEM certificates trusted for an `https://` URL.
    pub ca_pem: Option<Vec<u8>>,
}

#[derive(Clone)]
pub struct DataPlane {
    http: Client<HttpConnector, Full<Bytes>>,
}

fn connector() -> HttpConnector {
    let mut c = HttpConnector::new();
    c.set_connect_timeout(Some(Duration::from_secs(3)));
    c.enforce_http(false);
    c
}

impl Default for DataPlane {
    fn default() -> DataPlane {
        DataPlane {
            http: Client::builder(TokioExecutor::new()).build(connector()),
        }
    }
}

/// The identity the operator's requests carry (tables run without `--credentials` for now).
const OPERATOR_AUTH: &str = "AWS4-HMAC-SHA256 Credential=tabula-operator/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0";

impl DataPlane {
    /// Sends one DynamoDB operation (`op`, e.g. `DescribeTable`) and returns the JSON answer.
    pub async fn call(
        &self,
        target: &Target,
        op: &str,
        body: &Value,
    ) -> Result<Value, DataPlaneError> {
        let req = hyper::Request::post(format!("{}/", target.url))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{op}"))
            .header("authorization", OPERATOR_AUTH)
            .body(Full::new(Bytes::from(body.to_string())));
        self.send(target, req, Duration::from_secs(10)).await
    }

    /// Makes the table's replica group exactly the replicas of `peers` (`1=HOST:PORT,...`),
    /// through any replica: `POST /tabula/members`, signed with the table's administrative
    /// key (`tabula_core::admin`, derived from its master key). Answers the new voters and
    /// learners.
    pub async fn change_members(
        &self,
        target: &Target,
        peers: &str,
        admin_key: &[u8; 32],
    ) -> Result<Value, DataPlaneError> {
        use tabula_core::admin;
        let path = "/tabula/members";
        let body = serde_json::json!({ "peers": peers }).to_string();
        let date = admin::now();
        let req = hyper::Request::post(format!("{}{path}", target.url))
            .header("content-type", "application/json")
            .header(admin::DATE_HEADER, date.to_string())
            .header(
                admin::SIGNATURE_HEADER,
                admin::sign(admin_key, path, date, body.as_bytes()),
            )
            .body(Full::new(Bytes::from(body)));
        self.send(target, req, Duration::from_secs(120)).await
    }

    /// One replica's place in its group: `GET /tabula/replica` (role, leader, log and applied
    /// index).
    pub async fn replica_status(&self, target: &Target) -> Result<Value, DataPlaneError> {
        let req = hyper::Request::get(format!("{}/tabula/replica", target.url))
            .body(Full::new(Bytes::new()));
        self.send(target, req, Duration::from_secs(3)).await
    }

    async fn send(
        &self,
        target: &Target,
        req: Result<hyper::Request<Full<Bytes>>, hyper::http::Error>,
        timeout: Duration,
    ) -> Result<Value, DataPlaneError> {
        let endpoint = target.url.as_str();
        let unreachable = |message: String| DataPlaneError::Unreachable {
            endpoint: endpoint.to_string(),
            message,
        };
        let req = req.map_err(|e| unreachable(e.to_string()))?;
        let sent = if endpoint.starts_with("https://") {
            let https = https_client(target.ca_pem.as_deref()).map_err(unreachable)?;
            tokio::time::timeout(timeout, https.request(req)).await
        } else {
            tokio::time::timeout(timeout, self.http.request(req)).await
        };
        let answer = sent
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|e| unreachable(format!("{e:?}")))?;
        let status = answer.status();
        let bytes = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(json);
        }
        let kind = json
            .get("__type")
            .and_then(Value::as_str)
            .and_then(|t| t.rsplit('#').next())
            .unwrap_or("UnknownError")
            .to_string();
        let message = json
            .get("message")
            .or_else(|| json.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Err(DataPlaneError::Api { kind, message })
    }
}

/// An HTTPS client trusting exactly the given PEM certificates (a table's own CA, not the
/// public web's).
fn https_client(
    ca_pem: Option<&[u8]>,
) -> Result<Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let mut pem = ca_pem.ok_or("no CA certificate for an HTTPS data plane")?;
    for cert in rustls_pemfile::certs(&mut pem) {
        let cert = cert.map_err(|e| format!("CA certificate: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("CA certificate: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .wrap_connector(connector());
    Ok(Client::builder(TokioExecutor::new()).build(https))
}
