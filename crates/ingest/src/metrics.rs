//! Names of the metrics ingest records (Prometheus, through the `metrics` facade).

/// Webhook requests by `outcome`: accepted, out_of_scope, rejected, unknown_token, unavailable.
pub const REQUESTS_TOTAL: &str = "auditstream_ingest_requests_total";
/// Request body bytes read.
pub const REQUEST_BYTES_TOTAL: &str = "auditstream_ingest_request_bytes_total";
/// Time from request to answer, by `outcome`.
pub const REQUEST_DURATION_SECONDS: &str = "auditstream_ingest_request_duration_seconds";
/// Failed writes to Kafka, by `topic` (raw, raw.rejected, integration.log).
pub const PRODUCE_ERRORS_TOTAL: &str = "auditstream_ingest_produce_errors_total";
/// Rejected requests by `reason` (the error code of the answer).
pub const REJECTED_TOTAL: &str = "auditstream_ingest_rejected_total";
/// Deliveries whose `webhookEvent` ingest does not know (stored anyway).
pub const UNKNOWN_EVENTS_TOTAL: &str = "auditstream_ingest_unknown_events_total";
/// Connections closed before a request could be answered, by `reason`: header_timeout (headers
/// not complete within `request_read_timeout`), tls_handshake_failed, tls_handshake_timeout.
pub const CONNECTIONS_DROPPED_TOTAL: &str = "auditstream_ingest_connections_dropped_total";
