use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the epoch on this machine's clock.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2026-11-22T10:00:00.000Z`, the timestamp form of the audit JSON.
pub fn format_rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}
