//! The operator's client for a table's data plane: DynamoDB JSON requests over HTTP to the
//! table's client Service.
//!
//! Table pods run without `--credentials` for now (the data plane then accepts any well-formed
//! SigV4 header), so requests carry a fixed, unsigned operator identity. TLS-enabled tables are
//! not reachable by this client yet: reconcile reports that as a problem instead of guessing.

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

#[derive(Clone)]
pub struct DataPlane {
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Default for DataPlane {
    fn default() -> DataPlane {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(std::time::Duration::from_secs(3)));
        DataPlane {
            http: Client::builder(TokioExecutor::new()).build(connector),
        }
    }
}

impl DataPlane {
    /// Sends one DynamoDB operation (`op`, e.g. `DescribeTable`) and returns the JSON answer.
    pub async fn call(
        &self,
        endpoint: &str,
        op: &str,
        body: &Value,
    ) -> Result<Value, DataPlaneError> {
        let unreachable = |message: String| DataPlaneError::Unreachable {
            endpoint: endpoint.to_string(),
            message,
        };
        let req = hyper::Request::post(format!("{endpoint}/"))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{op}"))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=tabula-operator/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| unreachable(e.to_string()))?;
        let answer =
            tokio::time::timeout(std::time::Duration::from_secs(10), self.http.request(req))
                .await
                .map_err(|_| unreachable("timed out".into()))?
                .map_err(|e| unreachable(e.to_string()))?;
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
