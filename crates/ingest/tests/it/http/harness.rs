//! A running ingest role on 127.0.0.1:0, a broker, a minimal HTTP/1.1 client (so tests can send
//! what real clients refuse to: invalid UTF-8, wrong methods), and topic readers.

use std::time::Duration;

use anyhow::{Context, Result};
use common::embedded::EmbeddedBroker;
use common::kafka::KafkaConfig;
use ingest::{IngestConfig, IntegrationConfig};
use schema::v1::{IntegrationLogEntry, RawEvent, RejectedRequest};
use schema::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const CLOUD_TOKEN: &str = "cloud-token-0123456789abcdef";
pub const SERVER_TOKEN: &str = "server-token-0123456789abcdef";
pub const SECRET: &str = "It's a Secret to Everybody";

pub struct Ingest {
    pub addr: std::net::SocketAddr,
    pub kafka: KafkaConfig,
    pub broker: Option<EmbeddedBroker>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ingest::Error>>,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn error_code(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// Two integrations: a Cloud one with a secret, a Server one authenticated by its URL token.
pub fn integrations() -> Vec<IntegrationConfig> {
    let cloud = format!(
        "id = \"cloud\"\ntoken = \"{CLOUD_TOKEN}\"\nsecret = \"{SECRET}\"\nrun_as = \"ann\""
    );
    let server = format!("id = \"server\"\ntoken = \"{SERVER_TOKEN}\"\nrun_as = \"ann\"");
    vec![
        toml::from_str(&cloud).unwrap(),
        toml::from_str(&server).unwrap(),
    ]
}

pub fn config(integrations: Vec<IntegrationConfig>) -> IngestConfig {
    let mut doc: toml::Table = toml::from_str(ingest::DEFAULT_TOML).unwrap();
    let section = doc.remove("ingest").unwrap();
    let mut config: IngestConfig = section.try_into().unwrap();
    config.listen = "127.0.0.1:0".into();
    config.max_body_bytes = 64 * 1024;
    config.retry_after = Duration::from_secs(7);
    config.integrations = integrations;
    config
}

fn kafka_config(brokers: String, prefix: String) -> KafkaConfig {
    KafkaConfig {
        brokers,
        topic_prefix: prefix,
        partitions: 2,
        replication_factor: 1,
        transactions: false,
        // Short, so a test with the broker down sees its 503 quickly.
        message_timeout: Duration::from_secs(3),
        options: Default::default(),
        producer_options: Default::default(),
        consumer_options: Default::default(),
    }
}

impl Ingest {
    pub async fn start(config: IngestConfig) -> Result<Self> {
        common::telemetry::init_tracing(false);
        let prefix = format!("t{:016x}.", rand_u64());
        let (kafka, broker) = match std::env::var("AUDITSTREAM_TEST_BROKERS") {
            Ok(brokers) if !brokers.is_empty() => {
                let kafka = kafka_config(brokers, prefix);
                kafka
                    .ensure_topics(&kafka.topics().specs(kafka.partitions))
                    .await?;
                (kafka, None)
            }
            _ => {
                let probe = kafka_config(String::new(), prefix.clone());
                let broker = EmbeddedBroker::start(&probe.topics().specs(probe.partitions))?;
                (
                    kafka_config(broker.bootstrap_servers(), prefix),
                    Some(broker),
                )
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(ingest::serve(
            listener,
            kafka.clone(),
            config,
            shutdown.clone(),
        ));
        Ok(Ingest {
            addr,
            kafka,
            broker,
            shutdown,
            task,
        })
    }

    /// Cancels and waits for `serve` to return.
    pub async fn stop(self) -> Result<()> {
        self.shutdown.cancel();
        self.task.await?.context("serve returned an error")?;
        Ok(())
    }

    /// Asks `serve` to shut down without waiting for it.
    pub fn cancel(&self) {
        self.shutdown.cancel();
    }

    pub fn stopped(&self) -> bool {
        self.task.is_finished()
    }

    /// Sends one request and reads the whole answer (`Connection: close`).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer> {
        request_at(self.addr, method, path, headers, body).await
    }

    pub async fn post_json(
        &self,
        token: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer> {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        self.request("POST", &format!("/webhooks/jira/{token}"), &all, body)
            .await
    }

    pub async fn raw(&self) -> Result<Vec<(String, RawEvent)>> {
        read(&self.kafka, self.kafka.topics().raw, |k, v| {
            Ok((k, RawEvent::decode(v)?))
        })
        .await
    }

    pub async fn rejected(&self) -> Result<Vec<RejectedRequest>> {
        read(&self.kafka, self.kafka.topics().raw_rejected, |_, v| {
            Ok(RejectedRequest::decode(v)?)
        })
        .await
    }

    pub async fn log(&self) -> Result<Vec<IntegrationLogEntry>> {
        read(&self.kafka, self.kafka.topics().integration_log, |_, v| {
            Ok(IntegrationLogEntry::decode(v)?)
        })
        .await
    }
}

/// Sends one request to `addr` and reads the whole answer (`Connection: close`).
pub async fn request_at(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    // A server may answer before reading an oversized body and close: that is fine.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_answer(&raw)
}

async fn read<T: Send + 'static>(
    kafka: &KafkaConfig,
    topic: String,
    decode: fn(String, &[u8]) -> Result<T>,
) -> Result<Vec<T>> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(30), |m| {
            use rdkafka::Message as _;
            let key = m
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            match decode(key, m.payload().unwrap_or_default()) {
                Ok(v) => out.push(v),
                Err(e) => errors.push(e),
            }
        })?;
        anyhow::ensure!(errors.is_empty(), "undecodable records: {errors:?}");
        Ok(out)
    })
    .await?
}

pub fn parse_answer(raw: &[u8]) -> Result<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").context("no header end")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .context("no status line")?
        .split(' ')
        .nth(1)
        .context("no status")?
        .parse()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    let body = if body.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn sign(body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn fixture(prefix: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/jira");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap();
    std::fs::read(path).unwrap()
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}
