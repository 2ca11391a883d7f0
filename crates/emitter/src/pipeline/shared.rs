//! State every delivery path shares: the producer for `audit.retry`, `audit.dlq` and the
//! ledger, the ledger itself, which records have audits parked per sink, and each sink's health.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::integration_log::IntegrationLog;
use common::topics::Topics;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schema::v1::{AuditEvent, DeliveryRecord, IntegrationLogEntry, LogLevel, ParkedAudit};
use schema::Message as _;
use tokio_util::sync::CancellationToken;

use super::ledger::{self, DeliveredLedger};
use crate::config::{RetryConfig, SinkConfig};
use crate::metrics::{ATTEMPT_DURATION_SECONDS, DELIVERIES_TOTAL, ENDPOINT_DISABLED, PARKED};
use crate::sinks::{AttemptFailure, AttemptOutcome, FailureKind, Sink};
use crate::{Error, Result};

/// What the pipeline does after one attempt.
#[derive(Debug)]
pub enum Verdict {
    Delivered,
    /// Worth another attempt later.
    Retry(AttemptFailure),
    /// Never worth another attempt (4xx, or the endpoint is disabled).
    DeadLetter(AttemptFailure),
}

/// A configured sink with its health.
pub struct SinkRuntime {
    pub config: SinkConfig,
    pub sink: Sink,
    /// When the current run of failures began (ms); `None` while the sink is healthy.
    failing_since_ms: Mutex<Option<i64>>,
    disabled: AtomicBool,
}

impl SinkRuntime {
    pub fn new(config: SinkConfig, sink: Sink) -> Self {
        metrics::gauge!(ENDPOINT_DISABLED, "sink" => config.name.clone()).set(0.0);
        SinkRuntime {
            config,
            sink,
            failing_since_ms: Mutex::new(None),
            disabled: AtomicBool::new(false),
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Acquire)
    }

    /// True while the endpoint's last attempt failed: new audits go behind the parked ones
    /// instead of each waiting for their own timeout (a hanging endpoint drains its queue fast).
    pub fn is_failing(&self) -> bool {
        self.failing_since_ms
            .lock()
            .map(|f| f.is_some())
            .unwrap_or(false)
    }

    fn disable(&self, reason: &str) {
        if !self.disabled.swap(true, Ordering::AcqRel) {
            metrics::gauge!(ENDPOINT_DISABLED, "sink" => self.config.name.clone()).set(1.0);
            tracing::error!(sink = %self.config.name, reason, "endpoint disabled: its audits go to audit.dlq until `auditstream replay`");
        }
    }

    /// One attempt, measured, logged to `integration.log`, and judged.
    pub async fn attempt(
        &self,
        shared: &Shared,
        audit: &AuditEvent,
        body: &[u8],
        attempt: u32,
    ) -> Verdict {
        let started = Instant::now();
        let outcome = self.sink.deliver(audit, body).await;
        let latency = started.elapsed();
        let sink = self.config.name.clone();
        metrics::histogram!(ATTEMPT_DURATION_SECONDS, "sink" => sink.clone())
            .record(latency.as_secs_f64());
        let now = schema::now_ms();
        let (verdict, status) = match outcome {
            AttemptOutcome::Delivered { status } => {
                if let Ok(mut f) = self.failing_since_ms.lock() {
                    *f = None;
                }
                (Verdict::Delivered, status)
            }
            AttemptOutcome::Failed(failure) => {
                // Only failures of the endpoint itself count towards disabling it: a 4xx refuses
                // one audit, not the endpoint.
                let since = if failure.kind == FailureKind::Transient {
                    self.failing_since_ms
                        .lock()
                        .map(|mut f| *f.get_or_insert(now))
                        .unwrap_or(now)
                } else {
                    now
                };
                let status = failure.status;
                let failing_for = Duration::from_millis(u64::try_from(now - since).unwrap_or(0));
                let verdict = match failure.kind {
                    FailureKind::Gone => {
                        self.disable("endpoint answered 410 Gone");
                        Verdict::DeadLetter(failure)
                    }
                    FailureKind::Permanent => Verdict::DeadLetter(failure),
                    FailureKind::Transient if failing_for > shared.retry.disable_after => {
                        self.disable("endpoint failing longer than retry.disable_after");
                        Verdict::DeadLetter(failure)
                    }
                    FailureKind::Transient => Verdict::Retry(failure),
                };
                (verdict, status)
            }
        };
        let (level, code, error) = match &verdict {
            Verdict::Delivered => (LogLevel::Info, "delivered", String::new()),
            Verdict::Retry(f) => (LogLevel::Warning, "attempt_failed", f.error.clone()),
            Verdict::DeadLetter(f) => (LogLevel::Error, "attempt_failed", f.error.clone()),
        };
        let outcome = if matches!(verdict, Verdict::Delivered) {
            "delivered"
        } else {
            "failed"
        };
        metrics::counter!(DELIVERIES_TOTAL, "sink" => sink.clone(), "outcome" => outcome)
            .increment(1);
        match &verdict {
            Verdict::Delivered => {
                tracing::debug!(sink = %sink, audit_id = audit.id, attempt, status, "delivered")
            }
            _ => {
                tracing::warn!(sink = %sink, audit_id = audit.id, attempt, status, error = %error, "delivery attempt failed")
            }
        }
        shared.log.spawn_write(IntegrationLogEntry {
            level: level as i32,
            component: "emitter".into(),
            integration_id: audit.integration_id.clone(),
            sink,
            audit_id: audit.id.to_string(),
            attempt,
            status,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            code: code.into(),
            error,
            ..Default::default()
        });
        verdict
    }
}

/// The pipeline's shared state.
pub struct Shared {
    pub producer: FutureProducer,
    pub topics: Topics,
    pub log: IntegrationLog,
    pub retry: RetryConfig,
    pub shutdown: CancellationToken,
    ledger: Mutex<DeliveredLedger>,
    /// Audits parked per (sink, record key): while non-zero, later audits of the record for that
    /// sink are parked behind them, so one record's audits reach the sink in order.
    parked: Mutex<HashMap<(String, String), usize>>,
}

impl Shared {
    pub fn new(
        producer: FutureProducer,
        topics: Topics,
        retry: RetryConfig,
        ledger: DeliveredLedger,
        shutdown: CancellationToken,
    ) -> Self {
        let log = IntegrationLog::new(producer.clone(), topics.integration_log.clone());
        Shared {
            producer,
            topics,
            log,
            retry,
            shutdown,
            ledger: Mutex::new(ledger),
            parked: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_delivered(&self, sink: &str, audit_id: u64) -> bool {
        self.ledger
            .lock()
            .map(|l| l.contains(sink, audit_id, schema::now_ms()))
            .unwrap_or(false)
    }

    /// Records a delivery: on `emitter.delivered` first (acknowledged), then in memory.
    pub async fn record_delivered(&self, sink: &str, audit_id: u64) -> Result<()> {
        let record = DeliveryRecord {
            sink: sink.to_owned(),
            audit_id,
            delivered_at_ms: schema::now_ms(),
        };
        self.persist("emitter.delivered", || {
            ledger::append(&self.producer, &self.topics.emitter_delivered, &record)
        })
        .await?;
        if let Ok(mut l) = self.ledger.lock() {
            l.insert(sink, audit_id, record.delivered_at_ms);
        }
        Ok(())
    }

    pub fn parked_count(&self, sink: &str, record_key: &str) -> usize {
        self.parked
            .lock()
            .ok()
            .and_then(|p| p.get(&(sink.to_owned(), record_key.to_owned())).copied())
            .unwrap_or(0)
    }

    /// Counts an audit parked on `audit.retry` (after its write was acknowledged).
    pub fn count_parked(&self, sink: &str, record_key: &str) {
        if let Ok(mut p) = self.parked.lock() {
            *p.entry((sink.to_owned(), record_key.to_owned()))
                .or_default() += 1;
        }
        metrics::gauge!(PARKED, "sink" => sink.to_owned()).increment(1.0);
    }

    /// A parked audit left `audit.retry` (delivered or dead-lettered).
    pub fn uncount_parked(&self, sink: &str, record_key: &str) {
        if let Ok(mut p) = self.parked.lock() {
            let key = (sink.to_owned(), record_key.to_owned());
            if let Some(n) = p.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    p.remove(&key);
                }
            }
        }
        metrics::gauge!(PARKED, "sink" => sink.to_owned()).decrement(1.0);
    }

    /// Parks an audit on `audit.retry` (keyed "sink/record key", so one record's parked audits
    /// stay in order) and counts it.
    pub async fn park(&self, parked: &ParkedAudit) -> Result<()> {
        let record_key = parked
            .audit
            .as_ref()
            .map(|a| a.record_key.clone())
            .unwrap_or_default();
        let key = format!("{}/{record_key}", parked.sink);
        let payload = parked.encode_to_vec();
        let topic = &self.topics.audit_retry;
        self.persist("audit.retry", || self.send(topic, &key, &payload))
            .await?;
        self.count_parked(&parked.sink, &record_key);
        metrics::counter!(DELIVERIES_TOTAL, "sink" => parked.sink.clone(), "outcome" => "parked")
            .increment(1);
        Ok(())
    }

    /// Moves an audit to `audit.dlq` for good, with its last error.
    pub async fn dead_letter(&self, parked: &ParkedAudit) -> Result<()> {
        let audit = parked.audit.clone().unwrap_or_default();
        let key = format!("{}/{}", parked.sink, audit.record_key);
        let payload = parked.encode_to_vec();
        let topic = &self.topics.audit_dlq;
        self.persist("audit.dlq", || self.send(topic, &key, &payload))
            .await?;
        metrics::counter!(DELIVERIES_TOTAL, "sink" => parked.sink.clone(), "outcome" => "dead_lettered").increment(1);
        tracing::error!(sink = %parked.sink, audit_id = audit.id, attempt = parked.attempt, error = %parked.last_error, class = %parked.error_class, "audit dead-lettered");
        self.log.spawn_write(IntegrationLogEntry {
            level: LogLevel::Error as i32,
            component: "emitter".into(),
            integration_id: audit.integration_id.clone(),
            sink: parked.sink.clone(),
            audit_id: audit.id.to_string(),
            attempt: parked.attempt,
            status: parked.last_status,
            code: "dead_lettered".into(),
            message: format!("moved to audit.dlq ({} error)", parked.error_class),
            error: parked.last_error.clone(),
            ..Default::default()
        });
        Ok(())
    }

    async fn send(&self, topic: &str, key: &str, payload: &[u8]) -> Result<()> {
        self.producer
            .send(
                FutureRecord::to(topic).key(key).payload(payload),
                Duration::from_secs(10),
            )
            .await
            .map(|_| ())
            .map_err(|(e, _)| Error::kafka(format!("writing {topic}"), e))
    }

    /// Retries a write the pipeline cannot go on without until it is acknowledged or the
    /// emitter shuts down (then the message stays uncommitted and is handled after restart).
    async fn persist<F, Fut>(&self, what: &str, mut write: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let mut wait = Duration::from_millis(100);
        loop {
            match write().await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(topic = what, error = %e, "write failed; retrying");
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return Err(e),
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// A parked or dead-lettered audit for `sink`.
pub fn parked(
    sink: &str,
    audit: AuditEvent,
    attempt: u32,
    next_attempt_at_ms: i64,
    failure: Option<&AttemptFailure>,
    first_attempt_at_ms: i64,
) -> ParkedAudit {
    ParkedAudit {
        sink: sink.to_owned(),
        audit: Some(audit),
        attempt,
        next_attempt_at_ms,
        last_error: failure.map(|f| f.error.clone()).unwrap_or_default(),
        error_class: failure
            .map(|f| f.class.word().to_owned())
            .unwrap_or_default(),
        last_status: failure.map(|f| f.status).unwrap_or(0),
        first_attempt_at_ms,
    }
}
