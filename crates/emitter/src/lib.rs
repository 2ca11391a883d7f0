//! auditstream's emitter: reads collated audits (`audit`, or `audit.live` for sinks that want
//! every change) and delivers them to configured sinks — Standard Webhooks-signed HTTP POSTs,
//! SIEMs over syslog (RFC 5424 over TCP or TLS, JSON or CEF bodies), a Kafka topic of audit JSON,
//! stdout or a file of JSON lines — at least once, never twice, never blocked by one bad endpoint.
//!
//! Offsets are committed only once every interested sink has the audit or the audit is durably
//! parked on `audit.retry`; a retry loop re-attempts parked audits with jittered exponential
//! backoff and moves them to `audit.dlq` after the last attempt. Delivered ids are recorded on
//! the compacted `emitter.delivered` topic so an audit reaches a sink once, across restarts and
//! collator replays.

pub mod backoff;
pub mod config;
mod error;
pub mod filter;
pub mod metrics;
mod pipeline;
mod replay;
pub mod signing;
pub mod sinks;

pub use config::{EmitterConfig, RetryConfig, SinkConfig, SinkKind, Stream};
pub use error::{Error, Result};
pub use replay::{replay_sink, ReplaySummary};

use common::kafka::KafkaConfig;
use tokio_util::sync::CancellationToken;

/// The documented `[emitter]` section of the configuration.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// Runs the emitter until `shutdown` is cancelled: restores the delivery ledger and the parked
/// audits, then delivers `audit` / `audit.live` to every configured sink. Safe to kill at any
/// instant (see the pipeline's invariants in `ARCHITECTURE.md`): nothing is lost, and at most the
/// audits in flight at the kill are re-sent.
pub async fn run(
    kafka: KafkaConfig,
    config: EmitterConfig,
    shutdown: CancellationToken,
) -> Result<()> {
    pipeline::run(kafka, config, shutdown).await
}
