//! Fuzzes Jira webhook normalization with arbitrary bytes as the body, seeded from the real
//! fixtures (`fixtures/jira`). Beyond "never panics, never overflows the stack", it checks the
//! promises ingest's HTTP layer and the collator rely on: normalization is deterministic, keeps
//! the body byte for byte, keys every event under its site, and refuses only with the
//! bad-input classes of `parse`.
#![no_main]

use ingest::normalize::{normalize, normalize_value, parse, Delivery, NormalizeError, Source};
use libfuzzer_sys::fuzz_target;

const DERIVED: Source<'static> = Source {
    integration_id: "fuzz",
    jira_site: None,
};
const CONFIGURED: Source<'static> = Source {
    integration_id: "fuzz",
    jira_site: Some(" https://fuzz.atlassian.net/ "),
};

fuzz_target!(|body: &[u8]| {
    let delivery = Delivery {
        body,
        delivery_id: None,
        retry_count: 0,
        flow: None,
        received_at_ms: 1_700_000_000_000,
    };
    let first = normalize(&DERIVED, &delivery);
    let again = normalize(&DERIVED, &delivery);
    match (&first, &again) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "normalization is not deterministic"),
        (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "refusal is not deterministic"),
        _ => panic!("normalization is not deterministic: {first:?} then {again:?}"),
    }
    match first {
        Ok(event) => {
            assert_eq!(
                event.body, body,
                "the stored body differs from the delivered one"
            );
            assert!(!event.jira_site.is_empty(), "empty site");
            let site_prefix = format!("{}|", event.jira_site);
            assert!(event.dedup_key.starts_with(&site_prefix), "{event:?}");
            assert!(event.partition_key.starts_with(&site_prefix), "{event:?}");
            assert!(event.delivery_id.starts_with("sha256:"), "{event:?}");
            assert!(!event.event_name.is_empty(), "{event:?}");
            let record = event.record.as_ref().expect("every event names a record");
            assert!(!record.r#type.is_empty(), "{event:?}");
            if !event.known_event {
                assert_eq!(record.r#type, "unknown", "{event:?}");
            }
            // The configured site wins over the payload's `self` URLs, trimmed.
            let value = parse(body, ingest::normalize::DEFAULT_MAX_DEPTH)
                .expect("a normalized body parses");
            let configured = normalize_value(&CONFIGURED, &delivery, &value)
                .expect("a normalized body normalizes under any source");
            assert_eq!(configured.jira_site, "https://fuzz.atlassian.net");
            assert!(configured
                .dedup_key
                .starts_with("https://fuzz.atlassian.net|"));
        }
        Err(error) => {
            assert!(!error.code().is_empty());
            // A body `parse` accepts is refused only for lacking a `webhookEvent`.
            if parse(body, ingest::normalize::DEFAULT_MAX_DEPTH).is_ok() {
                assert!(
                    matches!(error, NormalizeError::MissingWebhookEvent),
                    "parsed, then refused with {error:?}"
                );
            }
        }
    }
});
