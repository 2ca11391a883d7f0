//! Plumbing every auditstream role shares, and nothing domain-specific: layered configuration
//! (embedded defaults, the user's TOML file, `AUDITSTREAM_*` variables), Kafka client settings,
//! topic names and idempotent topic creation, the embedded in-process broker used by `run` and
//! `demo`, the `integration.log` writer, telemetry (tracing, Prometheus metrics) and shutdown.
//!
//! It must not know about Jira, windows or sinks: those live in the role crates.

pub mod config;
pub mod consume;
pub mod embedded;
mod error;
pub mod integration_log;
pub mod kafka;
pub mod shutdown;
pub mod telemetry;
pub mod topics;

pub use error::{Error, Result};
