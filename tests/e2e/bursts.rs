//! Synthetic raw events for the collator scenarios: one record's burst of changes, one per
//! field, within the gap, as ingest would have written them.

use schema::v1::{Action, AuditEvent, FieldChange, RawEvent, RecordRef, User};

/// The fields every burst changes, in change order.
pub const FIELDS: [&str; 3] = ["status", "assignee", "priority"];

/// One record's burst on `site`: a change of each of [`FIELDS`] (`{field}-old-{record}` →
/// `{field}-new-{record}`), 1 ms apart from `now_ms`, by rotating users.
pub fn burst(site: &str, integration: &str, record: u32, now_ms: i64) -> Vec<RawEvent> {
    FIELDS
        .iter()
        .enumerate()
        .map(|(i, field)| RawEvent {
            integration_id: integration.into(),
            jira_site: site.into(),
            delivery_id: format!("{integration}-{record}-{i}"),
            received_at_ms: now_ms + i as i64,
            event_time_ms: now_ms + i as i64,
            event_name: "jira:issue_updated".into(),
            actor: Some(User {
                id: format!("u{}", (record + i as u32) % 7),
                name: format!("User {}", (record + i as u32) % 7),
                ..Default::default()
            }),
            record: Some(RecordRef {
                r#type: "issue".into(),
                id: record.to_string(),
            }),
            action: Action::Update as i32,
            changes: vec![FieldChange {
                field_id: (*field).into(),
                field_name: (*field).into(),
                from: Some(format!("{field}-old-{record}")),
                from_string: Some(format!("{field}-old-{record}")),
                to: Some(format!("{field}-new-{record}")),
                to_string: Some(format!("{field}-new-{record}")),
            }],
            dedup_key: format!("{site}|changelog|{record}-{i}"),
            partition_key: format!("{site}|issue|{record}"),
            known_event: true,
            ..Default::default()
        })
        .collect()
}

/// Asserts that `audit` is the collated audit of `record`'s [`burst`]: every field once, in
/// change order, first old value to last new value, three events applied.
pub fn assert_burst_audit(record: &str, audit: &AuditEvent) {
    let fields: Vec<&str> = audit.changes.iter().map(|c| c.field_id.as_str()).collect();
    assert_eq!(fields, FIELDS, "record {record}");
    for change in &audit.changes {
        assert_eq!(
            change.value.as_deref(),
            Some(format!("{}-new-{record}", change.field_id).as_str())
        );
        assert_eq!(
            change.previous_value.as_deref(),
            Some(format!("{}-old-{record}", change.field_id).as_str())
        );
    }
    assert_eq!(audit.source_event_count, 3, "record {record}");
}
