use serde_json::json;

use super::*;

const SOURCE: Source<'static> = Source {
    integration_id: "it",
    jira_site: None,
};

fn run(body: &Value) -> RawEvent {
    let bytes = serde_json::to_vec(body).unwrap();
    let delivery = Delivery {
        body: &bytes,
        delivery_id: None,
        retry_count: 0,
        flow: None,
        received_at_ms: 1,
    };
    normalize(&SOURCE, &delivery).unwrap()
}

#[test]
fn bad_bodies_have_their_own_codes() {
    let code = |b: &[u8]| parse(b, 4).unwrap_err().code();
    assert_eq!(code(b""), "empty_body");
    assert_eq!(code(b" \n"), "empty_body");
    assert_eq!(code(b"{\"a\":\"\xff\"}"), "invalid_utf8");
    assert_eq!(code(b"[[[[[1]]]]]"), "too_deep");
    assert_eq!(code(b"{\"a\":"), "invalid_json");
    assert_eq!(code(b"[1,2]"), "not_an_object");
    let d = Delivery {
        body: b"{}",
        delivery_id: None,
        retry_count: 0,
        flow: None,
        received_at_ms: 0,
    };
    assert_eq!(
        normalize(&SOURCE, &d).unwrap_err().code(),
        "missing_webhook_event"
    );
}

#[test]
fn brackets_inside_strings_do_not_count_as_nesting() {
    assert_eq!(nesting_depth(br#"{"a":"[[[[\"{{{{"}"#), 1);
    assert_eq!(nesting_depth(br#"{"a":[{"b":[]}]}"#), 4);
    assert_eq!(nesting_depth(br#"{"a":"\\"}[["#), 2);
    assert_eq!(nesting_depth(br#"{"a":"[[\"#), 1);
    assert_eq!(nesting_depth(br#"{"a\"#), 1);
}

/// The byte-by-byte scan `nesting_depth` replaced, kept as its reference.
fn nesting_depth_bytewise(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

proptest::proptest! {
    #[test]
    fn nesting_depth_agrees_with_the_bytewise_scan(
        body in proptest::collection::vec(
            proptest::sample::select(b"{}[]\"\\ax:,".to_vec()),
            0..200,
        )
    ) {
        proptest::prop_assert_eq!(nesting_depth(&body), nesting_depth_bytewise(&body));
    }

    /// Long runs of string content, so strings both shorter and longer than the part scanned
    /// byte by byte occur, with escapes on either side of it.
    #[test]
    fn nesting_depth_agrees_with_the_bytewise_scan_on_long_strings(
        pieces in depth::pieces(b"{}[]\"\\a:,", 60, 40)
    ) {
        let body = depth::with_runs(&pieces, b'a');
        proptest::prop_assert_eq!(nesting_depth(&body), nesting_depth_bytewise(&body));
    }
}

#[test]
fn every_fixture_has_the_same_depth_by_both_scans() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/jira");
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let body = std::fs::read(entry.expect("entry").path()).expect("fixture");
        assert_eq!(nesting_depth(&body), nesting_depth_bytewise(&body));
    }
}

#[test]
fn unknown_events_are_kept_and_identified_by_content() {
    let body = json!({"webhookEvent": "option_voting_changed", "timestamp": 5});
    let e = run(&body);
    assert!(!e.known_event);
    let record = e.record.unwrap();
    assert_eq!(record.r#type, "unknown");
    assert_eq!(e.dedup_key, format!("it|sha256|{}", record.id));
    assert_eq!(e.partition_key, format!("it|unknown|{}", record.id));
}

#[test]
fn content_hash_ignores_delivery_specific_keys_and_key_order() {
    let a = run(&json!({"webhookEvent": "x_y", "timestamp": 5, "matchedWebhookIds": [1]}));
    let b = run(&json!({"timestamp": 5, "webhookEvent": "x_y", "matchedWebhookIds": [2]}));
    let c = run(&json!({"timestamp": 6, "webhookEvent": "x_y"}));
    assert_eq!(a.dedup_key, b.dedup_key);
    assert_ne!(a.dedup_key, c.dedup_key);
}

#[test]
fn attachment_sprint_and_version_families() {
    let a = run(
        &json!({"webhookEvent": "attachment_created", "timestamp": 1,
        "attachment": {"id": 7, "filename": "a.png", "size": 10, "issueId": "42", "self": "https://s.example/rest/api/2/attachment/7",
                       "author": {"accountId": "u1"}}}),
    );
    assert_eq!(a.record.as_ref().unwrap().r#type, "attachment");
    assert_eq!(a.associated.as_ref().unwrap().id, "42");
    assert_eq!(a.partition_key, "https://s.example|issue|42");
    assert_eq!(a.dedup_key, "https://s.example|attachment|7|created");
    assert_eq!(a.actor.unwrap().id, "u1");

    let s = run(&json!({"webhookEvent": "sprint_started", "timestamp": 1,
        "sprint": {"id": 3, "name": "S1", "state": "active", "originBoardId": 9, "self": "https://s.example/rest/agile/1.0/sprint/3"}}));
    assert_eq!(s.action(), Action::Update);
    assert_eq!(s.partition_key, "https://s.example|sprint|3");
    assert_eq!(s.associated.unwrap().r#type, "board");
    assert_eq!(
        s.changes
            .iter()
            .map(|c| c.field_id.as_str())
            .collect::<Vec<_>>(),
        ["name", "state"]
    );

    let v = run(
        &json!({"webhookEvent": "jira:version_deleted", "timestamp": 1,
        "version": {"id": "5", "name": "1.0", "projectId": 100}, "mergedTo": {"id": "6", "name": "1.1"}}),
    );
    assert_eq!(v.action(), Action::Destroy);
    assert_eq!(v.changes[0].from_string.as_deref(), Some("1.0"));
    assert!(v
        .changes
        .iter()
        .any(|c| c.field_id == "mergedTo" && c.to.as_deref() == Some("6")));
}

#[test]
fn user_events_have_the_user_as_record_not_actor() {
    let u = run(&json!({"webhookEvent": "user_updated", "timestamp": 1,
        "user": {"accountId": "abc", "displayName": "Ann", "self": "https://s.example/rest/api/2/user?accountId=abc"}}));
    assert_eq!(u.record.unwrap().id, "abc");
    assert!(u.actor.is_none());
}

#[test]
fn configured_site_wins_and_loses_its_trailing_slash() {
    let body = serde_json::to_vec(&json!({"webhookEvent": "project_created", "project": {"id": 1, "self": "https://other/rest/api/2/project/1"}})).unwrap();
    let d = Delivery {
        body: &body,
        delivery_id: Some("d-1"),
        retry_count: 2,
        flow: Some("Primary"),
        received_at_ms: 9,
    };
    let e = normalize(
        &Source {
            integration_id: "i",
            jira_site: Some("https://acme.example/"),
        },
        &d,
    )
    .unwrap();
    assert_eq!(e.jira_site, "https://acme.example");
    assert_eq!(
        (e.delivery_id.as_str(), e.retry_count, e.flow.as_str()),
        ("d-1", 2, "Primary")
    );
}
