//! Dedup keys come from content: the same change delivered by two integrations on one site and
//! by a retry has one key; different changes have different keys. And the two webhooks Jira
//! sends for one comment (`comment_created`, `jira:issue_updated`/`issue_commented`) read alike.

use ingest::normalize::{normalize, Delivery, Source};
use proptest::prelude::*;
use schema::v1::RawEvent;
use serde_json::{json, Value};

const SITE: &str = "https://acme.atlassian.net";

fn deliver(
    body: &Value,
    integration_id: &str,
    delivery_id: &str,
    retry_count: u32,
    received_at_ms: i64,
) -> RawEvent {
    let bytes = serde_json::to_vec(body).unwrap();
    let delivery = Delivery {
        body: &bytes,
        delivery_id: Some(delivery_id),
        retry_count,
        flow: None,
        received_at_ms,
    };
    normalize(
        &Source {
            integration_id,
            jira_site: None,
        },
        &delivery,
    )
    .unwrap()
}

/// Every way the same body can reach us: two integrations (webhooks) and a late retry.
fn keys_of(body: &Value) -> [String; 3] {
    [
        deliver(body, "webhook-a", "d1", 0, 1_000).dedup_key,
        deliver(body, "webhook-b", "d2", 0, 1_005).dedup_key,
        deliver(body, "webhook-a", "d1", 3, 1_800_000).dedup_key,
    ]
}

fn user(account: &str) -> Value {
    json!({"self": format!("{SITE}/rest/api/2/user?accountId={account}"), "accountId": account, "displayName": "A"})
}

fn issue(id: u32) -> Value {
    json!({"id": id.to_string(), "self": format!("{SITE}/rest/api/2/issue/{id}"), "key": format!("KT-{id}"),
           "fields": {"summary": "s", "project": {"key": "KT", "id": "10000"}}})
}

fn comment(id: u32, issue_id: u32, updated: &str, text: &str) -> Value {
    json!({"self": format!("{SITE}/rest/api/2/issue/{issue_id}/comment/{id}"), "id": id.to_string(), "body": text,
           "author": user("u1"), "updateAuthor": user("u1"), "created": "2026-01-01T00:00:00.000+0000", "updated": updated})
}

fn changelog_event(changelog_id: u32, issue_id: u32, ts: i64, to: &str) -> Value {
    json!({"timestamp": ts, "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_updated",
           "user": user("u1"), "issue": issue(issue_id),
           "changelog": {"id": changelog_id.to_string(), "items": [{"field": "summary", "fieldtype": "jira", "fieldId": "summary", "from": null, "fromString": "s", "to": null, "toString": to}]}})
}

fn updated(minute: u8) -> String {
    format!("2026-01-01T00:{minute:02}:00.000+0000")
}

proptest! {
    #[test]
    fn changelog_events_share_a_key_per_change(cl in 1u32..1_000_000, other in 1u32..1_000_000, issue_id in 1u32..100_000, ts in 1i64..2_000_000_000_000, to in "[a-z ]{0,20}") {
        let body = changelog_event(cl, issue_id, ts, &to);
        let keys = keys_of(&body);
        prop_assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
        prop_assume!(other != cl);
        let different = changelog_event(other, issue_id, ts, &to);
        prop_assert_ne!(&keys_of(&different)[0], &keys[0]);
    }

    #[test]
    fn a_comment_has_one_key_through_both_webhooks(id in 1u32..1_000_000, issue_id in 1u32..100_000, minute in 0u8..60, text in "[a-zA-Z ]{1,30}", ts in 1i64..2_000_000_000_000) {
        let c = comment(id, issue_id, &updated(minute), &text);
        let created = json!({"timestamp": ts, "webhookEvent": "comment_created", "comment": c, "issue": issue(issue_id)});
        // Jira stamps the parallel issue event separately: its timestamp may differ.
        let commented = json!({"timestamp": ts + 7, "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_commented",
                               "user": user("u1"), "issue": issue(issue_id), "comment": c});
        let a = deliver(&created, "webhook-a", "d1", 0, 1);
        let b = deliver(&commented, "webhook-b", "d9", 0, 2);
        prop_assert_eq!(&a.dedup_key, &b.dedup_key);
        prop_assert_eq!((&a.record, &a.associated, a.action, &a.changes, &a.partition_key), (&b.record, &b.associated, b.action, &b.changes, &b.partition_key));
        let keys = keys_of(&created);
        prop_assert!(keys.iter().all(|k| k == &a.dedup_key));

        // An edit (new `updated`) and a deletion are different changes of the same comment.
        let edited = json!({"timestamp": ts + 60_000, "webhookEvent": "comment_updated", "comment": comment(id, issue_id, &updated((minute + 1) % 60), &text), "issue": issue(issue_id)});
        let deleted = json!({"timestamp": ts + 120_000, "webhookEvent": "comment_deleted", "comment": c, "issue": issue(issue_id)});
        let edited_key = deliver(&edited, "webhook-a", "d2", 0, 3).dedup_key;
        let deleted_key = deliver(&deleted, "webhook-a", "d3", 0, 4).dedup_key;
        prop_assert_ne!(&edited_key, &a.dedup_key);
        prop_assert_ne!(&deleted_key, &a.dedup_key);
        prop_assert_ne!(&deleted_key, &edited_key);
    }

    #[test]
    fn events_without_ids_are_keyed_by_content(id in 1u32..1_000_000, ts in 1i64..2_000_000_000_000, name in "[A-Z]{2,6}", other_name in "[A-Z]{2,6}") {
        let project = |name: &str| json!({"timestamp": ts, "webhookEvent": "project_updated", "matchedWebhookIds": [id],
            "project": {"self": format!("{SITE}/rest/api/2/project/{id}"), "id": id, "key": name, "name": name}});
        let keys = keys_of(&project(&name));
        prop_assert!(keys.iter().all(|k| k == &keys[0]));
        // Another webhook lists other matched registrations: still the same change.
        let mut via_other = project(&name);
        via_other["matchedWebhookIds"] = json!([id + 1]);
        prop_assert_eq!(&deliver(&via_other, "webhook-c", "d7", 0, 1).dedup_key, &keys[0]);
        prop_assume!(name != other_name);
        prop_assert_ne!(&keys_of(&project(&other_name))[0], &keys[0]);
    }
}
