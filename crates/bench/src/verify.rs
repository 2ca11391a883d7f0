//! Checks the collator's audits against the workload's expectation: the count, and every
//! audit's content (id, action, author, contributors, merged changes, event count).

use std::collections::BTreeMap;

use schema::v1::AuditEvent;

use crate::workload::{record_key, ExpectedAudit};
use crate::Error;

/// Compares `audits` (in any order) with `expected`; the first few differences are reported.
pub fn audits(
    expected: &BTreeMap<(String, i64), ExpectedAudit>,
    audits: &[AuditEvent],
) -> Result<(), Error> {
    let mut problems = Vec::new();
    if audits.len() != expected.len() {
        problems.push(format!(
            "{} audits, {} expected",
            audits.len(),
            expected.len()
        ));
    }
    let mut seen = BTreeMap::new();
    for a in audits {
        let id = a
            .auditable
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_default();
        let key = (id, a.window_start_ms);
        if seen.insert(key.clone(), a.id).is_some() {
            problems.push(format!("audit of {key:?} emitted twice"));
            continue;
        }
        match expected.get(&key) {
            None => problems.push(format!("unexpected audit of {key:?}")),
            Some(e) => {
                if let Some(diff) = difference(e, a) {
                    problems.push(format!("{key:?}: {diff}"));
                }
            }
        }
        if problems.len() >= 5 {
            break;
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Verification(problems.join("; ")))
    }
}

fn difference(e: &ExpectedAudit, a: &AuditEvent) -> Option<String> {
    let key = record_key(&e.record_id);
    let user = a.user.as_ref().map(|u| u.id.as_str()).unwrap_or("");
    let contributors: Vec<&str> = a.contributors.iter().map(|u| u.id.as_str()).collect();
    let changes: Vec<(String, Option<String>, Option<String>)> = a
        .changes
        .iter()
        .map(|c| {
            (
                c.field_id.clone(),
                c.previous_value.clone(),
                c.value.clone(),
            )
        })
        .collect();
    if a.audit_action != e.action as i32 {
        return Some(format!("action {} != {:?}", a.audit_action, e.action));
    }
    if user != e.user_id {
        return Some(format!("user {user} != {}", e.user_id));
    }
    if contributors
        != e.contributor_ids
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    {
        return Some(format!(
            "contributors {contributors:?} != {:?}",
            e.contributor_ids
        ));
    }
    if changes != e.changes {
        return Some(format!("changes {changes:?} != {:?}", e.changes));
    }
    if a.source_event_count != e.source_event_count {
        return Some(format!(
            "{} events != {}",
            a.source_event_count, e.source_event_count
        ));
    }
    if a.record_key != key || a.live {
        return Some(format!("record key {} (live {})", a.record_key, a.live));
    }
    // The id is derived from the record and the window's first change (DESIGN §3.2).
    let id = collator::core::audit_id(&key, &e.first_dedup_key);
    if a.id != id {
        return Some(format!("id {} != {id}", a.id));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use collator::core::{PartitionCollator, Settings};

    use super::*;
    use crate::workload::{generate, Shape};

    fn settings() -> Arc<Settings> {
        Arc::new(Settings {
            gap_ms: 300_000,
            max_duration_ms: 3_600_000,
            keep_reverted_fields: false,
            interesting_fields: vec!["status".into()],
            dedup_retention_ms: 3_600_000,
        })
    }

    fn collate(events: &[schema::v1::RawEvent]) -> Vec<AuditEvent> {
        let mut c = PartitionCollator::new(settings(), 0);
        for (offset, e) in events.iter().enumerate() {
            c.apply(e, offset as i64);
        }
        c.advance(i64::MAX);
        c.take_audits()
    }

    #[test]
    fn the_collation_core_meets_the_expectation() {
        let w = generate(&Shape {
            seed: 3,
            events: 2_000,
            records: 60,
            users: 12,
            fields: 8,
            gap_ms: 300_000,
        });
        let out = collate(&w.events);
        audits(&w.expected, &out).unwrap();
    }

    #[test]
    fn a_missing_or_altered_audit_is_caught() {
        let w = generate(&Shape {
            seed: 3,
            events: 500,
            records: 20,
            users: 5,
            fields: 8,
            gap_ms: 300_000,
        });
        let mut out = collate(&w.events);
        out[3].changes[0].value = Some("tampered".into());
        assert!(audits(&w.expected, &out)
            .unwrap_err()
            .to_string()
            .contains("changes"));
        out.pop();
        assert!(audits(&w.expected, &out).is_err());
        let mut dup = collate(&w.events);
        dup.push(dup[0].clone());
        assert!(audits(&w.expected, &dup)
            .unwrap_err()
            .to_string()
            .contains("twice"));
    }

    #[test]
    fn a_collator_with_the_wrong_gap_fails_verification() {
        let w = generate(&Shape {
            seed: 4,
            events: 500,
            records: 20,
            users: 5,
            fields: 8,
            gap_ms: 300_000,
        });
        let mut c = PartitionCollator::new(
            Arc::new(Settings {
                gap_ms: 10_000_000,
                ..(*settings()).clone()
            }),
            0,
        );
        for (offset, e) in w.events.iter().enumerate() {
            c.apply(e, offset as i64);
        }
        c.advance(i64::MAX);
        assert!(audits(&w.expected, &c.take_audits()).is_err());
    }
}
