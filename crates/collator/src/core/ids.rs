//! Deterministic identities: re-processing the same raw events never mints a new id.

use xxhash_rust::xxh3::xxh3_64;

/// The key a record's windows and state are kept under: `{jira_site}|{type}|{id}`.
pub fn record_key(jira_site: &str, record_type: &str, record_id: &str) -> String {
    [jira_site, "|", record_type, "|", record_id].concat()
}

/// [`record_key`] of strings read as bytes, into a reused buffer: the hot path looks records
/// up without allocating.
pub(crate) fn write_record_key(
    buf: &mut Vec<u8>,
    jira_site: &[u8],
    record_type: &[u8],
    record_id: &[u8],
) {
    buf.clear();
    buf.reserve(jira_site.len() + record_type.len() + record_id.len() + 2);
    buf.extend_from_slice(jira_site);
    buf.push(b'|');
    buf.extend_from_slice(record_type);
    buf.push(b'|');
    buf.extend_from_slice(record_id);
}

/// Id of a collated audit: the record and the window's first change.
pub fn audit_id(record_key: &str, first_dedup_key: &str) -> u64 {
    window_id(record_key.as_bytes(), first_dedup_key.as_bytes())
}

/// [`audit_id`] of the strings' bytes, as a window's entries carry them.
pub(crate) fn window_id(record_key: &[u8], first_dedup_key: &[u8]) -> u64 {
    hash(&[record_key, first_dedup_key])
}

/// Id of a live (uncollated) audit of one change.
pub fn live_audit_id(record_key: &str, dedup_key: &str) -> u64 {
    live_id(record_key.as_bytes(), dedup_key.as_bytes())
}

/// [`live_audit_id`] of the strings' bytes, as the raw record carries them.
pub(crate) fn live_id(record_key: &[u8], dedup_key: &[u8]) -> u64 {
    hash(&[record_key, dedup_key, b"live"])
}

/// Length-prefixed parts, so ("a|b", "c") and ("a", "b|c") never collide by construction.
/// Ids are minted per applied event: parts that fit are laid out on the stack, not the heap.
fn hash(parts: &[&[u8]]) -> u64 {
    const STACK: usize = 256;
    let len: usize = parts.iter().map(|p| p.len() + 8).sum();
    let mut stack = [0u8; STACK];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if len <= STACK {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap
    };
    let mut at = 0;
    for p in parts {
        buf[at..at + 8].copy_from_slice(&(p.len() as u64).to_le_bytes());
        at += 8;
        buf[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    xxh3_64(buf)
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
        assert_ne!(hash(&[b"a|b", b"c"]), hash(&[b"a", b"b|c"]));
        let long = [b'x'; 300];
        assert_ne!(hash(&[&long, b"c"]), hash(&[&long, b"d"]));
        assert_eq!(hash(&[&long, b"c"]), hash(&[&long, b"c"]));
        assert_eq!(live_id(k.as_bytes(), b"d1"), live_audit_id(&k, "d1"));
        let mut built = Vec::new();
        write_record_key(&mut built, b"https://x.atlassian.net", b"issue", b"10001");
        assert_eq!(built, k.as_bytes());
    }
}
