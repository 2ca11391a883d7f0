//! Merge rules (DESIGN §3.2): a window's entries become one audit.

use schema::v1::{Action, AuditChange, AuditEvent, FieldChange, RawEvent, User, WindowEntry};

use super::ids::{audit_id, live_audit_id};
use super::window::SessionWindow;
use super::Settings;

/// What closing a window yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Merged {
    Audit(Box<AuditEvent>),
    /// An update whose changes cancelled out or that carried none: nothing to say.
    Empty,
}

/// The record-level facts an audit repeats from its window.
struct Header<'a> {
    record_key: &'a str,
    partition_key: &'a str,
    auditable: Option<schema::v1::RecordRef>,
    associated: Option<schema::v1::RecordRef>,
    workspace: &'a str,
    integration_id: &'a str,
    jira_site: &'a str,
}

/// Merges a closed window whose deadline is `deadline_ms`.
pub fn merge_window(window: &SessionWindow, deadline_ms: i64, s: &Settings) -> Merged {
    let st = window.state();
    let header = Header {
        record_key: &st.record_key,
        partition_key: &st.partition_key,
        auditable: st.record.clone(),
        associated: st.associated.clone(),
        workspace: &st.workspace,
        integration_id: &st.integration_id,
        jira_site: &st.jira_site,
    };
    let Some(first) = st.entries.first() else {
        return Merged::Empty;
    };
    let id = audit_id(&st.record_key, &first.dedup_key);
    build(
        &header,
        &st.entries,
        id,
        st.first_received_ms,
        deadline_ms,
        false,
        s,
    )
}

/// The live audit of one applied raw event: itself, uncollated, built straight from the event.
pub fn live_audit(record_key: &str, event: &RawEvent, s: &Settings) -> Merged {
    let header = Header {
        record_key,
        partition_key: &event.partition_key,
        auditable: event.record.clone(),
        associated: event.associated.clone(),
        workspace: &event.workspace,
        integration_id: &event.integration_id,
        jira_site: &event.jira_site,
    };
    let id = live_audit_id(record_key, &event.dedup_key);
    build(
        &header,
        std::slice::from_ref(event),
        id,
        event.received_at_ms,
        event.received_at_ms,
        true,
        s,
    )
}

/// What the merge reads of a change: a window's entry, or a raw event for its live audit.
pub(crate) trait Entry {
    fn action(&self) -> Action;
    fn actor(&self) -> Option<&User>;
    fn changes(&self) -> &[FieldChange];
    fn event_time_ms(&self) -> i64;
    fn received_at_ms(&self) -> i64;
}

impl Entry for WindowEntry {
    fn action(&self) -> Action {
        WindowEntry::action(self)
    }
    fn actor(&self) -> Option<&User> {
        self.actor.as_ref()
    }
    fn changes(&self) -> &[FieldChange] {
        &self.changes
    }
    fn event_time_ms(&self) -> i64 {
        self.event_time_ms
    }
    fn received_at_ms(&self) -> i64 {
        self.received_at_ms
    }
}

impl Entry for RawEvent {
    fn action(&self) -> Action {
        RawEvent::action(self)
    }
    fn actor(&self) -> Option<&User> {
        self.actor.as_ref()
    }
    fn changes(&self) -> &[FieldChange] {
        &self.changes
    }
    fn event_time_ms(&self) -> i64 {
        self.event_time_ms
    }
    fn received_at_ms(&self) -> i64 {
        self.received_at_ms
    }
}

fn build<E: Entry>(
    h: &Header<'_>,
    entries: &[E],
    id: u64,
    start: i64,
    end: i64,
    live: bool,
    s: &Settings,
) -> Merged {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Merged::Empty;
    };
    let action = action(entries);
    let fields = merged_fields(entries, s.keep_reverted_fields);
    if fields.is_empty() && action == Action::Update {
        return Merged::Empty;
    }
    let interesting = interesting(action, &fields, s);
    let late = late(entries, s);
    let created_at_ms = created_at_ms(last);
    let changes = fields
        .into_iter()
        .map(|(first, last)| {
            let c = MergedChange { first, last };
            AuditChange {
                field_id: first.field_id.clone(),
                field_name: first.field_name.clone(),
                value: c.value().map(str::to_owned),
                previous_value: c.previous_value().map(str::to_owned),
                value_id: c.value_id().map(str::to_owned),
                previous_value_id: c.previous_value_id().map(str::to_owned),
            }
        })
        .collect();
    Merged::Audit(Box::new(AuditEvent {
        id,
        audit_action: action as i32,
        created_at_ms,
        interesting,
        user: first.actor().cloned(),
        contributors: contributors(entries),
        auditable: h.auditable.clone(),
        associated: h.associated.clone(),
        changes,
        workspace: h.workspace.to_owned(),
        integration_id: h.integration_id.to_owned(),
        jira_site: h.jira_site.to_owned(),
        window_start_ms: start,
        window_end_ms: end,
        source_event_count: u32::try_from(entries.len()).unwrap_or(u32::MAX),
        late,
        live,
        record_key: if h.partition_key.is_empty() {
            h.record_key.to_owned()
        } else {
            h.partition_key.to_owned()
        },
    }))
}

/// Create if any change created the record, else destroy if the last one destroyed it.
pub(crate) fn action<E: Entry>(entries: &[E]) -> Action {
    if entries.iter().any(|e| e.action() == Action::Create) {
        Action::Create
    } else if entries
        .last()
        .is_some_and(|e| e.action() == Action::Destroy)
    {
        Action::Destroy
    } else {
        Action::Update
    }
}

/// Creates and destroys always are; an update is when one of its fields is configured so.
pub(crate) fn interesting(
    action: Action,
    fields: &[(&FieldChange, &FieldChange)],
    s: &Settings,
) -> bool {
    action != Action::Update
        || fields.iter().any(|(c, _)| {
            s.interesting_fields.iter().any(|f| {
                f.eq_ignore_ascii_case(&c.field_id) || f.eq_ignore_ascii_case(&c.field_name)
            })
        })
}

/// Some change reached us more than `gap` after Jira raised it.
pub(crate) fn late<E: Entry>(entries: &[E], s: &Settings) -> bool {
    entries.iter().any(|e| {
        e.event_time_ms() > 0 && e.received_at_ms().saturating_sub(e.event_time_ms()) > s.gap_ms
    })
}

/// Jira's time of the last change, else ours.
pub(crate) fn created_at_ms<E: Entry>(last: &E) -> i64 {
    if last.event_time_ms() > 0 {
        last.event_time_ms()
    } else {
        last.received_at_ms()
    }
}

/// One field's merged change: its first change's old value and its last change's new value.
#[derive(Clone, Copy)]
pub(crate) struct MergedChange<'a> {
    pub first: &'a FieldChange,
    pub last: &'a FieldChange,
}

impl<'a> MergedChange<'a> {
    /// The last new value: human string, else raw id.
    pub fn value(&self) -> Option<&'a str> {
        self.last.to_string.as_deref().or(self.last.to.as_deref())
    }
    pub fn previous_value(&self) -> Option<&'a str> {
        self.first
            .from_string
            .as_deref()
            .or(self.first.from.as_deref())
    }
    pub fn value_id(&self) -> Option<&'a str> {
        self.last.to.as_deref()
    }
    pub fn previous_value_id(&self) -> Option<&'a str> {
        self.first.from.as_deref()
    }
}

/// Every distinct author, in order of their first change.
fn contributors<E: Entry>(entries: &[E]) -> Vec<User> {
    let mut out: Vec<User> = Vec::new();
    for actor in entries.iter().filter_map(|e| e.actor()) {
        if !out.iter().any(|u| u.id == actor.id) {
            out.push(actor.clone());
        }
    }
    out
}

/// One change per field in order of its first change: previous = first old, value = last new.
pub(crate) fn merged_fields<E: Entry>(
    entries: &[E],
    keep_reverted: bool,
) -> Vec<(&FieldChange, &FieldChange)> {
    let mut fields: Vec<(&FieldChange, &FieldChange)> = Vec::new();
    for change in entries.iter().flat_map(|e| e.changes().iter()) {
        match fields
            .iter_mut()
            .find(|(first, _)| first.field_id == change.field_id)
        {
            Some((_, last)) => *last = change,
            None => fields.push((change, change)),
        }
    }
    fields.retain(|(first, last)| {
        keep_reverted || !(first.from == last.to && first.from_string == last.to_string)
    });
    fields
}
