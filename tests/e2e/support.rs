//! The end-to-end harness: a broker (the one named by `AUDITSTREAM_TEST_BROKERS`, e.g. tansu
//! started by `.ci/run`, else an embedded one hosted by this test process), fresh topic and group
//! names per test, and the real `auditstream` binary as child processes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::embedded::EmbeddedBroker;
use common::kafka::KafkaConfig;
use common::topics::Topics;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message as _;

/// The environment variable naming an external broker for the end-to-end tests.
pub const BROKERS_ENV: &str = "AUDITSTREAM_TEST_BROKERS";

pub struct TestBroker {
    pub kafka: KafkaConfig,
    pub embedded: Option<EmbeddedBroker>,
}

/// Kafka settings for one test: its own topic prefix, one replica, a 10 s produce timeout.
pub fn test_kafka(brokers: String, partitions: i32) -> KafkaConfig {
    KafkaConfig {
        brokers,
        topic_prefix: format!("e2e-{:08x}.", rand::random::<u32>()),
        partitions,
        replication_factor: 1,
        transactions: false,
        message_timeout: Duration::from_secs(10),
        options: Default::default(),
        producer_options: Default::default(),
        consumer_options: Default::default(),
    }
}

impl TestBroker {
    /// A broker with every auditstream topic under a fresh prefix.
    pub async fn start(partitions: i32) -> TestBroker {
        let mut kafka = test_kafka(String::new(), partitions);
        let specs = kafka.topics().specs(partitions);
        match std::env::var(BROKERS_ENV) {
            Ok(brokers) if !brokers.is_empty() => {
                eprintln!("e2e: external broker {brokers}");
                kafka.brokers = brokers;
                kafka
                    .ensure_topics(&specs)
                    .await
                    .expect("creating topics on the test broker");
                TestBroker {
                    kafka,
                    embedded: None,
                }
            }
            _ => {
                let broker = EmbeddedBroker::start(&specs).expect("starting the embedded broker");
                kafka.brokers = broker.bootstrap_servers();
                eprintln!("e2e: embedded broker {}", kafka.brokers);
                TestBroker {
                    kafka,
                    embedded: Some(broker),
                }
            }
        }
    }

    pub fn topics(&self) -> Topics {
        self.kafka.topics()
    }

    pub fn producer(&self) -> FutureProducer {
        self.kafka.producer().expect("producer")
    }

    /// Every value of `topic` from its beginning to its current end.
    pub async fn read_all(&self, topic: &str) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
        let kafka = self.kafka.clone();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut values = Vec::new();
            common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(30), |m| {
                values.push((
                    m.key().map(<[u8]>::to_vec),
                    m.payload().unwrap_or_default().to_vec(),
                ));
            })
            .expect("reading a topic to its end");
            values
        })
        .await
        .expect("reader task")
    }

    pub async fn produce(&self, producer: &FutureProducer, topic: &str, key: &str, value: &[u8]) {
        producer
            .send(
                FutureRecord::to(topic).key(key).payload(value),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("producing to the test broker");
    }
}

/// Waits until `check` returns `Some`, polling; panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until an HTTP server answers `GET {base}/healthz` with 2xx.
pub async fn wait_healthy(base: &str) {
    let client = reqwest::Client::new();
    eventually(
        "the HTTP server to answer /healthz",
        Duration::from_secs(60),
        || {
            let request = client.get(format!("{base}/healthz")).send();
            async move {
                request
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            }
        },
    )
    .await;
}

/// A running `auditstream` process. Killed (SIGKILL) when dropped.
pub struct Auditstream {
    pub child: Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    /// Every stderr line (the logs), also echoed to the test's stderr.
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub name: String,
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_auditstream"))
}

impl Auditstream {
    /// Starts `auditstream --config <config> <args>`; stdout lines are collected, stderr goes
    /// to the test's stderr prefixed with `name`.
    pub fn start(name: &str, config: &std::path::Path, args: &[&str]) -> Auditstream {
        Self::start_logging(name, config, args, "info,rdkafka=warn")
    }

    /// As `start`, with `AUDITSTREAM_LOG` set to `filter`.
    pub fn start_logging(
        name: &str,
        config: &std::path::Path,
        args: &[&str],
        filter: &str,
    ) -> Auditstream {
        let mut child = Command::new(binary())
            .arg("--config")
            .arg(config)
            .args(args)
            .env("AUDITSTREAM_LOG", filter)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting auditstream");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = stdout.clone();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().expect("stdout lines").push(line);
            }
        });
        let err = child.stderr.take().expect("stderr");
        let label = name.to_owned();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let logged = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[{label}] {line}");
                logged.lock().expect("stderr lines").push(line);
            }
        });
        Auditstream {
            child,
            stdout,
            stderr,
            name: name.to_owned(),
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a graceful exit (SIGKILL after `limit`). True when it exited 0.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{} did not stop within {limit:?}; killing it", self.name);
        self.kill();
        false
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().expect("stdout lines").clone()
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("stderr lines").clone()
    }

    /// Resident memory of the process in KiB (`VmRSS` in `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Auditstream {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port (bound and released: good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port()
}

/// Writes a config file: the `[kafka]` section for this broker (with its `message_timeout`)
/// plus `rest` (TOML).
pub fn write_config(dir: &tempfile::TempDir, broker: &TestBroker, rest: &str) -> PathBuf {
    let path = dir.path().join(format!(
        "auditstream-{:06x}.toml",
        rand::random::<u32>() & 0xff_ffff
    ));
    let text = format!(
        "[kafka]\nbrokers = \"{}\"\ntopic_prefix = \"{}\"\npartitions = {}\n\
         message_timeout = \"{}ms\"\n\n{rest}\n",
        broker.kafka.brokers,
        broker.kafka.topic_prefix,
        broker.kafka.partitions,
        broker.kafka.message_timeout.as_millis()
    );
    std::fs::write(&path, text).expect("writing config");
    path
}
