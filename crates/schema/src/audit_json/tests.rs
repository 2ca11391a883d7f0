use super::*;
use crate::v1::{AuditChange, RecordRef};

const AHA_SAMPLES: &[&str] = &[
    include_str!("../../../../fixtures/aha/grokify_chathooks_aha_activity_webhook_feature-add-tag.json"),
    include_str!("../../../../fixtures/aha/grokify_chathooks_aha_activity_webhook_feature-to-parking-lot.json"),
    include_str!("../../../../fixtures/aha/grokify_chathooks_aha_activity_webhook_release-ship.json"),
];

fn sample_audit() -> AuditEvent {
    AuditEvent {
        id: 7_316_849_173_094_719_488,
        audit_action: Action::Update as i32,
        created_at_ms: 1_795_860_000_000,
        interesting: true,
        user: Some(User {
            id: "acc-1".into(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            ..Default::default()
        }),
        contributors: vec![
            User {
                id: "acc-1".into(),
                name: "Ada".into(),
                ..Default::default()
            },
            User {
                id: "acc-2".into(),
                name: "Bob".into(),
                ..Default::default()
            },
        ],
        auditable: Some(RecordRef {
            r#type: "comment".into(),
            id: "10082".into(),
        }),
        associated: Some(RecordRef {
            r#type: "issue".into(),
            id: "10013".into(),
        }),
        changes: vec![AuditChange {
            field_id: "status".into(),
            field_name: "Status".into(),
            value: Some("Done".into()),
            previous_value: Some("In Progress".into()),
            ..Default::default()
        }],
        window_start_ms: 1_795_859_000_000,
        window_end_ms: 1_795_860_300_000,
        source_event_count: 2,
        ..Default::default()
    }
}

/// Every key an Aha! activity-webhook sample carries is a key our rendering carries, with a value
/// of the same JSON kind (or null where the sample has a value we cannot know).
#[test]
fn rendering_has_the_aha_shape() {
    let ours: serde_json::Value = serde_json::from_slice(&render(&sample_audit())).unwrap();
    for sample in AHA_SAMPLES {
        let theirs: serde_json::Value = serde_json::from_str(sample).unwrap();
        assert_eq!(theirs["event"], ours["event"]);
        let (t, o) = (
            theirs["audit"].as_object().unwrap(),
            ours["audit"].as_object().unwrap(),
        );
        for (key, value) in t {
            // Free text Aha! writes for humans; auditstream has no such record pages.
            if ["description", "auditable_url"].contains(&key.as_str()) {
                continue;
            }
            let ours_value = o.get(key).unwrap_or_else(|| panic!("missing key {key}"));
            assert_same_kind(key, value, ours_value);
        }
        let change_keys: Vec<_> = t["changes"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        for k in change_keys {
            assert!(o["changes"][0].get(&k).is_some(), "change key {k}");
        }
        for k in t["user"].as_object().unwrap().keys() {
            assert!(o["user"].get(k).is_some(), "user key {k}");
        }
    }
}

fn assert_same_kind(key: &str, a: &serde_json::Value, b: &serde_json::Value) {
    use serde_json::Value::*;
    let same = matches!(
        (a, b),
        (String(_), String(_))
            | (Bool(_), Bool(_))
            | (Array(_), Array(_))
            | (Object(_), Object(_))
            | (Number(_), Number(_))
            | (_, Null)
    );
    assert!(same, "{key}: {a} vs {b}");
}

#[test]
fn renders_design_example_fields() {
    let json: serde_json::Value = serde_json::from_slice(&render(&sample_audit())).unwrap();
    let a = &json["audit"];
    assert_eq!(a["id"], "7316849173094719488");
    assert_eq!(a["audit_action"], "update");
    assert_eq!(a["created_at"], "2026-11-28T10:00:00.000Z");
    assert_eq!(a["auditable_type"], "comment");
    assert_eq!(a["associated_id"], "10013");
    assert_eq!(a["contributors"][1]["user"]["name"], "Bob");
    assert_eq!(a["changes"][0]["value"], "Done");
    assert_eq!(a["changes"][0]["previous_value"], "In Progress");
    assert_eq!(a["user"]["email"], "ada@example.com");
    assert_eq!(
        a["contributors"][0]["user"]["email"],
        serde_json::Value::Null
    );
}

#[test]
fn rendering_is_deterministic_and_parses_back() {
    let a = sample_audit();
    assert_eq!(render(&a), render(&a));
    let back: AuditEnvelope = serde_json::from_slice(&render(&a)).unwrap();
    assert_eq!(back, AuditEnvelope::from(&a));
}

#[test]
fn missing_associated_renders_null() {
    let mut a = sample_audit();
    a.associated = None;
    let json: serde_json::Value = serde_json::from_slice(&render(&a)).unwrap();
    assert!(json["audit"]["associated_type"].is_null());
    assert!(json["audit"]["associated_id"].is_null());
}
