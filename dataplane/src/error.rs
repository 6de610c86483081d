//! The errors a client sees. Every failure inside the data plane ends up as exactly one
//! DynamoDB error type with its HTTP status and message; SDK retry logic keys off these.

use std::fmt;

/// DynamoDB's error types, by the name that goes into `__type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Validation,
    Serialization,
    UnknownOperation,
    MissingAuthenticationToken,
    UnrecognizedClient,
    InvalidSignature,
    IncompleteSignature,
    /// An administrative request (`POST /tabula/members`) without a valid admin signature.
    AccessDenied,
    ResourceNotFound,
    ResourceInUse,
    ConditionalCheckFailed,
    ProvisionedThroughputExceeded,
    RequestLimitExceeded,
    ItemCollectionSizeLimitExceeded,
    TransactionConflict,
    TransactionCanceled,
    TransactionInProgress,
    IdempotentParameterMismatch,
    ExpiredIterator,
    TrimmedDataAccess,
    LimitExceeded,
    InternalServer,
    /// No leader can take the request right now (a replicated table electing one); clients
    /// retry it like any 5xx.
    ServiceUnavailable,
}

impl ErrorKind {
    pub fn type_name(self) -> &'static str {
        match self {
            ErrorKind::Validation => "ValidationException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailedException",
            ErrorKind::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            ErrorKind::RequestLimitExceeded => "RequestLimitExceeded",
            ErrorKind::ItemCollectionSizeLimitExceeded => {
                "ItemCollectionSizeLimitExceededException"
            }
            ErrorKind::TransactionConflict => "TransactionConflictException",
            ErrorKind::TransactionCanceled => "TransactionCanceledException",
            ErrorKind::TransactionInProgress => "TransactionInProgressException",
            ErrorKind::IdempotentParameterMismatch => "IdempotentParameterMismatchException",
            ErrorKind::ExpiredIterator => "ExpiredIteratorException",
            ErrorKind::TrimmedDataAccess => "TrimmedDataAccessException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::InternalServer => "InternalServerError",
            ErrorKind::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// The `__type` namespace: the AWS-wide client errors live in `com.amazon.coral`, the
    /// DynamoDB-specific ones in `com.amazonaws.dynamodb.v20120810`.
    pub fn namespace(self) -> &'static str {
        match self {
            ErrorKind::Validation
            | ErrorKind::Serialization
            | ErrorKind::UnknownOperation
            | ErrorKind::MissingAuthenticationToken
            | ErrorKind::UnrecognizedClient
            | ErrorKind::InvalidSignature
            | ErrorKind::IncompleteSignature
            | ErrorKind::AccessDenied => "com.amazon.coral.validate",
            _ => "com.amazonaws.dynamodb.v20120810",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InternalServer => 500,
            ErrorKind::ServiceUnavailable => 503,
            ErrorKind::MissingAuthenticationToken
            | ErrorKind::UnrecognizedClient
            | ErrorKind::InvalidSignature
            | ErrorKind::IncompleteSignature => 400,
            _ => 400,
        }
    }
}

/// An error as the client receives it. `item` carries the old item for
/// `ReturnValuesOnConditionCheckFailure: ALL_OLD`; `cancellation_reasons` the per-action
/// reasons of a TransactionCanceledException.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    pub item: Option<serde_json::Value>,
    pub cancellation_reasons: Option<Vec<serde_json::Value>>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
            item: None,
            cancellation_reasons: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Validation, message)
    }

    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Serialization, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::ResourceNotFound, message)
    }

    /// The message DynamoDB gives for item operations on a table that does not exist.
    pub fn table_not_found(_table: &str) -> ApiError {
        ApiError::not_found("Requested resource not found")
    }

    pub fn internal(cause: impl fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(
            ErrorKind::InternalServer,
            "The server encountered an internal error trying to fulfill the request.",
        )
    }

    /// The JSON body DynamoDB sends for this error.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "__type": format!("{}#{}", self.kind.namespace(), self.kind.type_name()),
            "message": self.message,
        });
        if let Some(item) = &self.item {
            body["Item"] = item.clone();
        }
        if let Some(reasons) = &self.cancellation_reasons {
            body["CancellationReasons"] = serde_json::Value::Array(reasons.clone());
        }
        body
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.type_name(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<tabula_storage::StorageError> for ApiError {
    fn from(e: tabula_storage::StorageError) -> ApiError {
        match e {
            tabula_storage::StorageError::Unavailable(m) => {
                ApiError::new(ErrorKind::ServiceUnavailable, m)
            }
            e => ApiError::internal(e),
        }
    }
}

impl From<tabula_core::NumberError> for ApiError {
    fn from(e: tabula_core::NumberError) -> ApiError {
        ApiError::validation(e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
