//! Starting servers and clients for tests.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use tabula_dataplane::{Config, Server};

pub use crate::ports::free_port;

/// Waits (up to 60 s: a cold start right after a build reads a large debug binary from a busy
/// disk) until a server process listens on `ip:port`.
pub async fn wait_listening(ip: &str, port: u16) {
    for _ in 0..2400 {
        if tokio::net::TcpStream::connect((ip, port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("server did not start on {ip}:{port}");
}

/// A server on a loopback port with its own temp dir; the dir lives as long as this.
pub struct TestServer {
    pub server: Server,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = Server::start(Config::local(dir.path()))
            .await
            .expect("server starts");
        TestServer { server, dir }
    }

    pub async fn start_with(
        config: impl FnOnce(&mut Config),
        dir: tempfile::TempDir,
    ) -> TestServer {
        let mut c = Config::local(dir.path());
        config(&mut c);
        let server = Server::start(c).await.expect("server starts");
        TestServer { server, dir }
    }

    pub fn client(&self) -> Client {
        client_for(&self.server.endpoint(), "AKIDTEST", "secret")
    }

    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }
}

pub fn client_for(endpoint: &str, key: &str, secret: &str) -> Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "tabula-tests"))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(conf)
}

/// Creates an on-demand table with a string hash key `pk` and, if given, a range key `sk` of
/// the given type.
pub async fn create_table(client: &Client, name: &str, sort: Option<ScalarAttributeType>) {
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(attr("pk", ScalarAttributeType::S));
    if let Some(t) = sort {
        req = req
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("sk", t));
    }
    req.send().await.expect("create table");
}

pub fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("key schema element")
}

pub fn attr(name: &str, t: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(t)
        .build()
        .expect("attribute definition")
}

pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The service error code of an SDK error (e.g. "ValidationException").
pub fn code<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string)
        .unwrap_or_else(|| format!("not a service error: {e:?}"))
}

pub fn message<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.message())
        .map(str::to_string)
        .unwrap_or_default()
}

/// A client of the DynamoDB Streams API on the same endpoint.
pub fn streams_client(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    let conf = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "AKIDTEST",
            "secret",
            None,
            None,
            "tabula-tests",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(conf)
}

/// The stream's first shard and a TRIM_HORIZON iterator into it.
pub async fn first_shard_iterator(
    sc: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
) -> (String, String) {
    let d = sc.describe_stream().stream_arn(arn).send().await.unwrap();
    let shard = d.stream_description.unwrap().shards()[0]
        .shard_id()
        .unwrap()
        .to_string();
    let iterator = sc
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(&shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    (shard, iterator)
}

/// Every record of a stream now, shard after shard (each closed shard to its end, the open
/// one until it has nothing more).
pub async fn read_stream(
    sc: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
) -> Vec<aws_sdk_dynamodbstreams::types::Record> {
    let d = sc.describe_stream().stream_arn(arn).send().await.unwrap();
    let mut out = Vec::new();
    for shard in d.stream_description.unwrap().shards() {
        let mut it = sc
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(i) = it {
            let page = sc.get_records().shard_iterator(i).send().await.unwrap();
            let empty = page.records().is_empty();
            out.extend(page.records().iter().cloned());
            it = page.next_shard_iterator;
            if empty {
                break;
            }
        }
    }
    out
}

/// A table `name` with hash key `pk`, a global index `by_g` on `g` projecting everything,
/// and a stream of the given view type; returns the stream's ARN.
pub async fn create_indexed_streamed_table(
    c: &Client,
    name: &str,
    view: aws_sdk_dynamodb::types::StreamViewType,
) -> String {
    use aws_sdk_dynamodb::types::{
        GlobalSecondaryIndex, Projection, ProjectionType, StreamSpecification,
    };
    c.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(key("g", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(view)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table")
        .table_description
        .and_then(|d| d.latest_stream_arn)
        .expect("stream ARN")
}
