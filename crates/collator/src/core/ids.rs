//! Deterministic identities: re-processing the same raw events never mints a new id.

use xxhash_rust::xxh3::xxh3_64;

/// The key a record's windows and state are kept under: `{jira_site}|{type}|{id}`.
pub fn record_key(jira_site: &str, record_type: &str, record_id: &str) -> String {
    format!("{jira_site}|{record_type}|{record_id}")
}

/// Id of a collated audit: the record and the window's first change.
pub fn audit_id(record_key: &str, first_dedup_key: &str) -> u64 {
    hash(&[record_key, first_dedup_key])
}

/// Id of a live (uncollated) audit of one change.
pub fn live_audit_id(record_key: &str, dedup_key: &str) -> u64 {
    hash(&[record_key, dedup_key, "live"])
}

/// Length-prefixed parts, so ("a|b", "c") and ("a", "b|c") never collide by construction.
fn hash(parts: &[&str]) -> u64 {
    let mut buf = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for p in parts {
        buf.extend_from_slice(&(p.len() as u64).to_le_bytes());
        buf.extend_from_slice(p.as_bytes());
    }
    xxh3_64(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let k = record_key("https://x.atlassian.net", "issue", "10001");
        assert_eq!(k, "https://x.atlassian.net|issue|10001");
        assert_eq!(audit_id(&k, "d1"), audit_id(&k, "d1"));
        assert_ne!(audit_id(&k, "d1"), audit_id(&k, "d2"));
        assert_ne!(audit_id(&k, "d1"), live_audit_id(&k, "d1"));
        assert_ne!(hash(&["a|b", "c"]), hash(&["a", "b|c"]));
    }
}
