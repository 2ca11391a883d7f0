//! auditstream's ingest role: the HTTP endpoint Jira posts webhooks to. It authenticates each
//! delivery (URL token, `X-Hub-Signature` when the integration has a secret), normalizes it
//! into a keyed, deduplicable [`schema::v1::RawEvent`], checks it against the integration's
//! scope, and writes it to `raw`, answering 2xx only once the broker has acknowledged the write.
//! Bad input is answered with a JSON error and kept in `raw.rejected`; nothing is dropped
//! silently. Normalization and signature checks are pure functions ([`normalize`],
//! [`signature`]); this crate's I/O is the thin shell around them.

mod config;
mod error;
mod http;
pub mod metrics;
pub mod normalize;
pub mod scope;
pub mod signature;

pub use config::{IngestConfig, IntegrationConfig, ScopeFilters, DEFAULT_TOML, MIN_TOKEN_LEN};
pub use error::Error;
pub use http::{run, serve};
