//! auditstream's benchmarks. The criterion benches (`benches/hot_paths.rs`) time the pure hot
//! paths: normalization of every real Jira fixture, `X-Hub-Signature` checks, audit JSON
//! rendering, protobuf encoding, the collation core and Standard Webhooks signing. The load
//! harness (`auditstream-bench`) drives the real roles against a broker and prints one table:
//! the collator end to end on workload W beside the broker's passthrough limit, verified
//! against the workload's own expectation (a fast wrong answer is an error, not a figure);
//! ingest beside a bare HTTP server; signed webhook deliveries; idle-window lateness; and the
//! core's memory per open window and restore time.
//!
//! Figures are compared as ratios within one run, because the machines it runs on are shared
//! and noisy; BENCHMARKS.md records what was measured and what limits each figure.

pub mod acks;
pub mod broker;
pub mod collate;
pub mod collator_writes;
mod config;
pub mod emit;
mod error;
mod http_load;
pub mod ingest_load;
pub mod ingest_writes;
pub mod memory;
pub mod report;
pub mod verify;
pub mod workload;

pub use config::{BenchConfig, DEFAULT_TOML};
pub use error::Error;
