//! The pure collation core: session windows, merge rules and per-partition bookkeeping. No
//! Kafka, no clock reads, no I/O: time arrives as a watermark from the caller, so every
//! decision is a function of the raw log and the watermarks it was given.

mod audit;
mod closed;
mod ids;
mod live;
mod merge;
mod partition;
mod raw;
mod records;
mod timers;
mod window;
mod wire;

#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod raw_tests;
#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod tests;

pub use audit::EncodedAudit;
pub use ids::{audit_id, live_audit_id, record_key};
pub use live::{encode_live, LiveAudit, LiveAudits};
pub use merge::{live_audit, Merged};
pub use partition::{Applied, PartitionCollator, Stats};
pub(crate) use raw::read_raw;

use std::time::Duration;

use crate::CollatorConfig;

/// The knobs of the core, in milliseconds of window time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub gap_ms: i64,
    pub max_duration_ms: i64,
    pub keep_reverted_fields: bool,
    /// Lower-cased field ids / names whose change makes an audit interesting.
    pub interesting_fields: Vec<String>,
    pub dedup_retention_ms: i64,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl From<&CollatorConfig> for Settings {
    fn from(c: &CollatorConfig) -> Self {
        Settings {
            gap_ms: ms(c.gap),
            max_duration_ms: ms(c.max_duration),
            keep_reverted_fields: c.keep_reverted_fields,
            interesting_fields: c
                .interesting_fields
                .iter()
                .map(|f| f.to_lowercase())
                .collect(),
            dedup_retention_ms: ms(c.dedup_retention),
        }
    }
}
