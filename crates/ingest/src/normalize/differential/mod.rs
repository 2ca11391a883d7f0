//! Normalization reading only what it reads (`read_paths.rs`) and hashing without a `Value`
//! tree (`content.rs`) against the whole-tree normalization it replaced, kept here as the
//! oracle: on generated bodies (nested, duplicate and escaped keys, unicode, every number
//! shape, invalid JSON) and on every fixture, both give the same `RawEvent`, the same scope
//! facts, or the same refusal.

use std::error::Error as _;

use proptest::prelude::*;
use serde_json::Value;

use super::json::{canonical_json, sha256_hex};
use super::*;
use crate::scope::ScopeFacts;
use bodies::{body, write};

mod bodies;

/// The parse normalization used to do: the whole body as a `Value`.
fn parse_whole(body: &[u8], max_depth: usize) -> Result<Value, NormalizeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(NormalizeError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(NormalizeError::InvalidUtf8)?;
    if nesting_depth(text.as_bytes()) > max_depth {
        return Err(NormalizeError::TooDeep { limit: max_depth });
    }
    let value: Value = serde_json::from_str(text).map_err(NormalizeError::InvalidJson)?;
    if !value.is_object() {
        return Err(NormalizeError::NotAnObject);
    }
    Ok(value)
}

/// The content hash normalization used to compute: canonical JSON of a trimmed clone.
fn hash_whole(body: &Value) -> String {
    let mut content = body.clone();
    if let Some(map) = content.as_object_mut() {
        for key in DELIVERY_SPECIFIC_KEYS {
            map.remove(key);
        }
    }
    sha256_hex(canonical_json(&content).as_bytes())
}

fn normalize_whole(
    source: &Source<'_>,
    delivery: &Delivery<'_>,
) -> Result<RawEvent, NormalizeError> {
    let value = parse_whole(delivery.body, DEFAULT_MAX_DEPTH)?;
    normalize_hashed_by(source, delivery, &value, || Ok(hash_whole(&value)))
}

/// A refusal as the HTTP layer reports it: code, message and the parser's own words.
fn refusal(e: &NormalizeError) -> String {
    let source = e.source().map(|s| s.to_string()).unwrap_or_default();
    format!("{} / {e} / {source}", e.code())
}

const SOURCES: [Source<'static>; 2] = [
    Source {
        integration_id: "it",
        jira_site: None,
    },
    Source {
        integration_id: "it",
        jira_site: Some("https://configured.example"),
    },
];

/// Asserts both normalizations, both scope readings and both content hashes agree on `body`.
fn assert_same(body: &[u8]) -> Result<(), TestCaseError> {
    let delivery = Delivery {
        body,
        delivery_id: None,
        retry_count: 1,
        flow: Some("Primary"),
        received_at_ms: 7,
    };
    for source in &SOURCES {
        match (
            normalize(source, &delivery),
            normalize_whole(source, &delivery),
        ) {
            (Ok(new), Ok(old)) => prop_assert_eq!(new, old),
            (Err(new), Err(old)) => prop_assert_eq!(refusal(&new), refusal(&old)),
            (new, old) => prop_assert!(false, "new {:?}, old {:?}", new, old),
        }
    }
    // The depth the parse measures refuses what the scan before the whole-tree parse refused,
    // at every limit up to past the body's depth.
    for limit in 1..=nesting_depth(body) + 1 {
        match (parse(body, limit), parse_whole(body, limit)) {
            (Ok(read), Ok(whole)) => prop_assert_eq!(ScopeFacts::of(&read), ScopeFacts::of(&whole)),
            (Err(new), Err(old)) => prop_assert_eq!(refusal(&new), refusal(&old)),
            (new, old) => prop_assert!(
                false,
                "limit {}: new {:?}, old {:?} BODY {}",
                limit,
                new,
                old,
                String::from_utf8_lossy(body)
            ),
        }
    }
    if let (Ok(read), Ok(whole)) = (
        parse(body, DEFAULT_MAX_DEPTH),
        parse_whole(body, DEFAULT_MAX_DEPTH),
    ) {
        prop_assert_eq!(ScopeFacts::of(&read), ScopeFacts::of(&whole));
        prop_assert_eq!(content_hash(body).unwrap(), hash_whole(&whole));
        // Nothing skipped: the hash of exactly the canonical JSON, delivery keys included.
        prop_assert_eq!(
            content::content_hash(body, &[]).unwrap(),
            sha256_hex(canonical_json(&whole).as_bytes())
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn reading_only_what_is_read_changes_nothing(body in body()) {
        let mut text = String::new();
        write(&body, &mut text);
        assert_same(text.as_bytes())?;
    }

    #[test]
    fn broken_bodies_are_refused_alike(body in body(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut text = String::new();
        write(&body, &mut text);
        let mut bytes = text.into_bytes();
        let at = cut.index(bytes.len() + 1);
        // Either cut short or with one byte replaced: unterminated values, stray bytes, bad UTF-8.
        if byte % 2 == 0 {
            bytes.truncate(at);
        } else if at < bytes.len() {
            bytes[at] = byte;
        }
        assert_same(&bytes)?;
    }
}

#[test]
fn every_fixture_normalizes_as_the_whole_tree_did() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/jira");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let body = std::fs::read(&path).expect("fixture");
            assert_same(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // Every fixture as an unknown event: the content hash of the whole body.
            let renamed = String::from_utf8(body).expect("UTF-8 fixture").replacen(
                "\"webhookEvent\"",
                "\"webhookEvent\": \"x_y\", \"was\"",
                1,
            );
            assert_same(renamed.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            checked += 1;
        }
    }
    assert_eq!(checked, 26);
}
