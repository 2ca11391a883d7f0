//! Workload W of issue 6, deterministic from a seed: Jira change events over many records, each
//! record edited in 2–3 bursts separated by more than the collator's gap, together with the
//! audits a correct collator must emit for them. The expectation is computed here from the
//! generator's own bookkeeping, not by the collator's code, so a wrong collator cannot agree
//! with it by construction.

use std::collections::BTreeMap;

use collator::core::PartitionCollator;
use schema::v1::{Action, FieldChange, RawEvent, RecordRef, User};

/// The Jira site every generated event belongs to.
pub const JIRA_SITE: &str = "https://bench.atlassian.net";
/// The integration every generated event arrived through.
pub const INTEGRATION: &str = "bench";
/// Start of the generated timeline (2026-01-01T00:00:00Z): far enough in the past that a
/// caught-up collator closes every window.
const EPOCH_MS: i64 = 1_767_225_600_000;
/// Fields the workload edits, as Jira names them.
const FIELDS: [&str; 8] = [
    "status",
    "assignee",
    "priority",
    "summary",
    "labels",
    "duedate",
    "description",
    "customfield_10010",
];

/// The shape of a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub seed: u64,
    pub events: usize,
    pub records: usize,
    pub users: usize,
    pub fields: usize,
    /// The collator's gap: bursts of one record are separated by more than this.
    pub gap_ms: i64,
}

/// What one collated audit must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedAudit {
    pub record_id: String,
    pub window_start_ms: i64,
    pub action: Action,
    pub user_id: String,
    pub contributor_ids: Vec<String>,
    /// (field id, previous value, value), in order of each field's first change.
    pub changes: Vec<(String, Option<String>, Option<String>)>,
    pub source_event_count: u32,
    /// Dedup key of the window's first change: with the record, it names the audit's id.
    pub first_dedup_key: String,
}

/// A generated workload: events in `received_at` order, and the audits they must produce,
/// keyed by (record id, window start).
#[derive(Debug)]
pub struct Workload {
    pub events: Vec<RawEvent>,
    pub expected: BTreeMap<(String, i64), ExpectedAudit>,
}

/// splitmix64: small, fast and the same on every platform, so a seed names one workload.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).unwrap_or(1).max(1);
        lo + i64::try_from(self.next_u64() % span).unwrap_or(0)
    }
}

/// A Jira user of the workload.
pub fn user(n: usize) -> User {
    User {
        id: format!("acct-{n:04}"),
        name: format!("User {n}"),
        email: format!("user{n}@bench.example"),
        account_id: format!("acct-{n:04}"),
        ..User::default()
    }
}

/// The id of the `i`th record.
pub fn record_id(i: usize) -> String {
    (100_000 + i).to_string()
}

/// The collator's record key of an issue of the workload (`{site}|issue|{id}`).
pub fn record_key(id: &str) -> String {
    format!("{JIRA_SITE}|issue|{id}")
}

/// The collation core's benchmark mix (criterion's `apply_and_close_w_mix`, and
/// `examples/core_profile`): W's shape at 20,000 events over 800 records, seed 1.
pub fn core_mix() -> Workload {
    generate(&Shape {
        seed: 1,
        events: 20_000,
        records: 800,
        users: 200,
        fields: 8,
        gap_ms: 300_000,
    })
}

/// `events` encoded as ingest writes them: each carrying an original Jira request (`body`),
/// `bodies` in turn (the real fixtures: 0.5 to 18 KB), which the collator never reads.
pub fn encoded_with_bodies(events: &[RawEvent], bodies: &[Vec<u8>]) -> Vec<Vec<u8>> {
    events
        .iter()
        .zip(bodies.iter().cycle())
        .map(|(e, body)| {
            let mut e = e.clone();
            e.body.clone_from(body);
            prost::Message::encode_to_vec(&e)
        })
        .collect()
}

/// Events between two flushes where the core's benches apply [`core_mix`] as the collator
/// does. A batch of the collator holds up to `max_batch` (20,000) records over all its
/// partitions, some 3,300 per partition of workload W's six while it catches up, and fewer
/// once caught up (a batch is sealed after `batch_wait`).
pub const CORE_FLUSH: usize = 2_500;

/// What the shell does with the live audits of the event just applied: reads each where the
/// core wrote it (to produce it), then clears them, so the next event's are written in the
/// same room.
pub fn send_live(col: &mut PartitionCollator) {
    for a in col.live().iter() {
        std::hint::black_box((a.key(), a.payload));
    }
    col.clear_live();
}

/// Applies encoded raw `events` (at offsets from 0) to `col` as the collator's batches do:
/// each event's live audits read where they were written, then cleared, as the shell sends
/// them; what a flush takes (audits, `collator-state` values, so the state is encoded and the
/// dirty list emptied) every [`CORE_FLUSH`] events and at the end, every window closed.
/// Returns the collated audits taken.
pub fn apply_flushing(col: &mut PartitionCollator, events: &[Vec<u8>]) -> usize {
    let mut audits = 0;
    let mut flush = |col: &mut PartitionCollator| {
        audits += col.take_audits_encoded().len();
        std::hint::black_box(col.take_dirty_encoded());
    };
    for (i, e) in events.iter().enumerate() {
        col.apply_encoded(e, i as i64).expect("a raw record");
        send_live(col);
        if (i + 1) % CORE_FLUSH == 0 {
            flush(col);
        }
    }
    col.advance(i64::MAX);
    flush(col);
    audits
}

/// Generates the workload of `shape`.
pub fn generate(shape: &Shape) -> Workload {
    let mut rng = Rng::new(shape.seed);
    let records = shape.records.max(1);
    let fields = shape.fields.clamp(1, FIELDS.len());
    let users = shape.users.max(1);
    // Record starts spread over a span long enough that many windows are open at once.
    let span_ms = 6 * 3_600_000;
    let mut events = Vec::with_capacity(shape.events);
    let mut expected = BTreeMap::new();
    for i in 0..records {
        let count = shape.events / records + usize::from(i < shape.events % records);
        if count == 0 {
            continue;
        }
        let id = record_id(i);
        let bursts = (2 + (rng.next_u64() % 2) as usize).min(count);
        // About one record in twenty ends deleted.
        let destroyed = matches!(rng.next_u64() % 20, 0);
        let mut values: Vec<Option<String>> = vec![None; fields];
        let mut t = EPOCH_MS + rng.between(0, span_ms);
        let mut seq = 0usize;
        for b in 0..bursts {
            let in_burst = count / bursts + usize::from(b < count % bursts);
            let mut audit = ExpectedAudit {
                record_id: id.clone(),
                window_start_ms: t,
                action: Action::Update,
                user_id: String::new(),
                contributor_ids: Vec::new(),
                changes: Vec::new(),
                source_event_count: u32::try_from(in_burst).unwrap_or(u32::MAX),
                first_dedup_key: dedup_key(&id, seq),
            };
            for k in 0..in_burst {
                let last_of_record = b + 1 == bursts && k + 1 == in_burst;
                let action = if seq == 0 {
                    Action::Create
                } else if destroyed && last_of_record && seq > 0 {
                    Action::Destroy
                } else {
                    Action::Update
                };
                let actor = user((rng.next_u64() % users as u64) as usize);
                let mut changes = Vec::new();
                if action != Action::Destroy {
                    let f = if seq == 0 {
                        3 % fields
                    } else {
                        (rng.next_u64() % fields as u64) as usize
                    };
                    let to = format!("v{i}-{seq}");
                    changes.push(FieldChange {
                        field_id: FIELDS[f].to_owned(),
                        field_name: FIELDS[f].to_owned(),
                        from: values[f].clone(),
                        from_string: values[f].clone(),
                        to: Some(to.clone()),
                        to_string: Some(to.clone()),
                    });
                    match audit.changes.iter_mut().find(|c| c.0 == FIELDS[f]) {
                        Some(c) => c.2 = Some(to.clone()),
                        None => audit.changes.push((
                            FIELDS[f].to_owned(),
                            values[f].clone(),
                            Some(to.clone()),
                        )),
                    }
                    values[f] = Some(to);
                }
                if k == 0 {
                    audit.user_id = actor.id.clone();
                }
                if !audit.contributor_ids.contains(&actor.id) {
                    audit.contributor_ids.push(actor.id.clone());
                }
                audit.action = match (audit.action, action) {
                    (Action::Create, _) | (_, Action::Create) => Action::Create,
                    (_, a) => a,
                };
                events.push(event(&id, seq, t, action, actor, changes));
                seq += 1;
                if k + 1 < in_burst {
                    // Edits of one burst come 1–20 s apart: well inside the gap.
                    t += rng.between(1_000, 20_000);
                }
            }
            expected.insert((id.clone(), audit.window_start_ms), audit);
            // The next burst starts more than a gap after this one's last change.
            t += shape.gap_ms + rng.between(60_000, 600_000);
        }
    }
    // Produced in received_at order, as ingest would have written them.
    events.sort_by(|a, b| (a.received_at_ms, &a.dedup_key).cmp(&(b.received_at_ms, &b.dedup_key)));
    Workload { events, expected }
}

fn dedup_key(id: &str, seq: usize) -> String {
    format!("changelog:{id}-{seq}")
}

fn event(
    id: &str,
    seq: usize,
    t: i64,
    action: Action,
    actor: User,
    changes: Vec<FieldChange>,
) -> RawEvent {
    let event_name = match action {
        Action::Create => "jira:issue_created",
        Action::Destroy => "jira:issue_deleted",
        _ => "jira:issue_updated",
    };
    RawEvent {
        integration_id: INTEGRATION.to_owned(),
        jira_site: JIRA_SITE.to_owned(),
        delivery_id: format!("delivery-{id}-{seq}"),
        received_at_ms: t,
        event_time_ms: t,
        event_name: event_name.to_owned(),
        actor: Some(actor),
        record: Some(RecordRef {
            r#type: "issue".into(),
            id: id.to_owned(),
        }),
        action: action as i32,
        changes,
        dedup_key: dedup_key(id, seq),
        partition_key: record_key(id),
        workspace: "BENCH".into(),
        known_event: true,
        project: "BENCH".into(),
        ..RawEvent::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape {
            seed: 7,
            events: 1_000,
            records: 40,
            users: 10,
            fields: 8,
            gap_ms: 300_000,
        }
    }

    #[test]
    fn same_seed_same_workload() {
        let (a, b) = (generate(&shape()), generate(&shape()));
        assert_eq!(a.events, b.events);
        assert_eq!(a.expected, b.expected);
        let c = generate(&Shape { seed: 8, ..shape() });
        assert_ne!(a.events, c.events);
    }

    #[test]
    fn bursts_are_separated_by_more_than_the_gap() {
        let w = generate(&shape());
        assert_eq!(w.events.len(), 1_000);
        let per_record =
            w.expected
                .keys()
                .fold(BTreeMap::<&str, usize>::new(), |mut m, (id, _)| {
                    *m.entry(id.as_str()).or_default() += 1;
                    m
                });
        assert_eq!(per_record.len(), 40);
        assert!(per_record.values().all(|n| (2..=3).contains(n)));
        let total: u32 = w.expected.values().map(|a| a.source_event_count).sum();
        assert_eq!(total, 1_000);
        for id in per_record.keys() {
            let times: Vec<i64> = w
                .events
                .iter()
                .filter(|e| e.record.as_ref().is_some_and(|r| r.id == *id))
                .map(|e| e.received_at_ms)
                .collect();
            let starts: Vec<i64> = w
                .expected
                .keys()
                .filter(|(r, _)| r == id)
                .map(|(_, s)| *s)
                .collect();
            for pair in times.windows(2) {
                let gap = pair[1] - pair[0];
                // A new burst starts exactly where the gap is exceeded.
                assert_eq!(
                    gap > 300_000,
                    starts.contains(&pair[1]),
                    "{id}: {gap} ms between changes"
                );
            }
        }
    }

    #[test]
    fn every_record_opens_with_a_create() {
        let w = generate(&shape());
        let first: Vec<_> = w
            .expected
            .values()
            .filter(|a| a.action == Action::Create)
            .collect();
        assert_eq!(first.len(), 40);
    }
}
