//! Metric names of the collator (Prometheus through the `metrics` facade).

/// Gauge: session windows currently open on this collator.
pub const OPEN_WINDOWS: &str = "auditstream_collator_open_windows";
/// Histogram: a window's span, first change received → deadline.
pub const WINDOW_DURATION_SECONDS: &str = "auditstream_collator_window_duration_seconds";
/// Histogram: raw events applied to one emitted audit.
pub const WINDOW_SIZE_EVENTS: &str = "auditstream_collator_window_size_events";
/// Histogram: a window's deadline → its audit acknowledged by the broker.
pub const CLOSE_LAG_SECONDS: &str = "auditstream_collator_close_lag_seconds";
/// Histogram: restoring a partition's windows from `collator-state`.
pub const RESTORE_SECONDS: &str = "auditstream_collator_restore_seconds";
/// Counter: raw events applied (label `outcome`: applied, duplicate, replayed).
pub const EVENTS_PROCESSED_TOTAL: &str = "auditstream_collator_events_processed_total";
/// Counter: duplicate deliveries suppressed (same dedup key applied once).
pub const DUPLICATES_SUPPRESSED_TOTAL: &str = "auditstream_collator_duplicates_suppressed_total";
/// Counter: audits produced (label `topic`: audit, audit.live).
pub const AUDITS_EMITTED_TOTAL: &str = "auditstream_collator_audits_emitted_total";
/// Counter: windows that closed with nothing to say (an update without changes).
pub const EMPTY_WINDOWS_TOTAL: &str = "auditstream_collator_empty_windows_total";
/// Counter: raw records that could not be decoded (skipped and logged).
pub const UNDECODABLE_RAW_TOTAL: &str = "auditstream_collator_undecodable_raw_total";
