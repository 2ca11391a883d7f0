//! The auditstream collator: it consumes normalized Jira events from `raw` in a consumer
//! group, gathers each record's burst of changes in a session window (closed `gap` after the
//! last change or `max_duration` after the first), merges the window into one audit on
//! `audit`, and writes every change at once as its own live audit on `audit.live`.
//!
//! Exactly-once holds by construction, whatever the broker does with transactions: every
//! output is a pure function of the raw log (ids and bytes), state updates in the compacted
//! `collator-state` topic are idempotent, and offsets are committed only after the audits and
//! state they depend on are acknowledged. A crash at any instant re-emits byte-identical
//! audits at worst. [`core`] holds the pure logic; the Kafka shell around it is `run`, and
//! `replay` rebuilds audits from `raw` outside the group.

mod clock;
mod config;
pub mod core;
mod error;
pub mod metrics;
mod shell;

pub use clock::{Clock, SystemClock};
pub use config::{CollatorConfig, DEFAULT_TOML};
pub use error::Error;
pub use shell::replay::{replay, ReplaySummary};
pub use shell::{run, run_with_clock};
