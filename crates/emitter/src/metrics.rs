//! Metric names of the emitter (labels: `sink`, `outcome`; both low-cardinality).

/// Delivery attempts by sink and outcome (`delivered`, `retry`, `dead_lettered`, `disabled`,
/// `skipped_duplicate`, `parked`).
pub const DELIVERIES_TOTAL: &str = "auditstream_emitter_deliveries_total";
/// Time one delivery attempt took, by sink.
pub const ATTEMPT_DURATION_SECONDS: &str = "auditstream_emitter_attempt_duration_seconds";
/// Audits waiting in a sink's in-memory queue.
pub const QUEUE_DEPTH: &str = "auditstream_emitter_queue_depth";
/// Audits of a sink parked on `audit.retry`, as this emitter knows them.
pub const PARKED: &str = "auditstream_emitter_parked";
/// 1 while a sink's endpoint is disabled, else 0.
pub const ENDPOINT_DISABLED: &str = "auditstream_emitter_endpoint_disabled";
/// Offsets committed on the audit streams.
pub const COMMITS_TOTAL: &str = "auditstream_emitter_commits_total";
