//! Merge rules (DESIGN §3.2): a window's entries become one audit.

use schema::v1::{Action, AuditChange, AuditEvent, RawEvent, User};

use super::ids::live_audit_id;
use super::window::Header;
use super::wire::{self, ChangeView, EntryView};
use super::Settings;

/// What closing a window yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Merged {
    Audit(Box<AuditEvent>),
    /// An update whose changes cancelled out or that carried none: nothing to say.
    Empty,
}

/// Merges a closed window whose deadline is `deadline_ms`; `record_key` is its record's key,
/// `record_id` the id the key ends with. The collator encodes its audits straight to bytes
/// (`audit::encode_window`); this owned build is the reference those bytes are tested against.
#[cfg(test)]
pub(crate) fn merge_window(
    window: &super::window::SessionWindow,
    record_key: &str,
    record_id: &str,
    origin: &super::records::Origin,
    deadline_ms: i64,
    s: &Settings,
) -> Merged {
    use super::ids::window_id;
    use super::window::RecordBytes;
    let entries: Vec<EntryView<'_>> = window.entries().collect();
    let Some(first) = entries.first() else {
        return Merged::Empty;
    };
    let h = window.encoded_header(record_key, record_id, origin);
    let decode = |b: &[u8]| prost::Message::decode(b).unwrap_or_default();
    let header = Header {
        record_key: h.record_key,
        record: h.record.map(|r| match r {
            RecordBytes::Parts { r#type, id } => schema::v1::RecordRef {
                r#type: r#type.to_owned(),
                id: id.to_owned(),
            },
            RecordBytes::Encoded(b) => decode(b),
        }),
        associated: h.associated.map(decode),
        partition_key: h.partition_key,
        workspace: h.workspace,
        integration_id: h.integration_id,
        jira_site: h.jira_site,
    };
    let id = window_id(header.record_key.as_bytes(), first.dedup_key);
    build(
        header,
        &entries,
        id,
        window.first_received_ms(),
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
        record: event.record.clone(),
        associated: event.associated.clone(),
        workspace: &event.workspace,
        integration_id: &event.integration_id,
        jira_site: &event.jira_site,
    };
    let id = live_audit_id(record_key, &event.dedup_key);
    build(
        header,
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
    fn actor_id(&self) -> Option<&[u8]>;
    /// The author, owned, for the audit.
    fn actor(&self) -> Option<User>;
    fn changes(&self) -> impl Iterator<Item = ChangeView<'_>>;
    fn event_time_ms(&self) -> i64;
    fn received_at_ms(&self) -> i64;
}

impl Entry for EntryView<'_> {
    fn action(&self) -> Action {
        EntryView::action(self)
    }
    fn actor_id(&self) -> Option<&[u8]> {
        self.actor.map(wire::user_id)
    }
    fn actor(&self) -> Option<User> {
        self.actor.map(wire::decode_user)
    }
    fn changes(&self) -> impl Iterator<Item = ChangeView<'_>> {
        EntryView::changes(self)
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
    fn actor_id(&self) -> Option<&[u8]> {
        self.actor.as_ref().map(|u| u.id.as_bytes())
    }
    fn actor(&self) -> Option<User> {
        self.actor.clone()
    }
    fn changes(&self) -> impl Iterator<Item = ChangeView<'_>> {
        self.changes.iter().map(ChangeView::from)
    }
    fn event_time_ms(&self) -> i64 {
        self.event_time_ms
    }
    fn received_at_ms(&self) -> i64 {
        self.received_at_ms
    }
}

fn build<E: Entry>(
    h: Header<'_>,
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
        .map(|c| AuditChange {
            field_id: owned(c.0.field_id),
            field_name: owned(c.0.field_name),
            value: c.value().map(owned),
            previous_value: c.previous_value().map(owned),
            value_id: c.value_id().map(owned),
            previous_value_id: c.previous_value_id().map(owned),
        })
        .collect();
    Merged::Audit(Box::new(AuditEvent {
        id,
        audit_action: action as i32,
        created_at_ms,
        interesting,
        user: first.actor(),
        contributors: contributors(entries),
        auditable: h.record,
        associated: h.associated,
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

/// A change's string, owned (its bytes were checked as UTF-8 when read).
fn owned(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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
/// Jira's field ids are mostly lower case already, as the configured names are: an exact
/// match is tried before the byte-by-byte comparison that ignores case.
pub(crate) fn interesting(action: Action, fields: &[MergedChange<'_>], s: &Settings) -> bool {
    let names = |f: &[u8], c: &[u8]| f == c || f.eq_ignore_ascii_case(c);
    action != Action::Update
        || fields.iter().any(|MergedChange(c)| {
            s.interesting_fields.iter().any(|f| {
                let f = f.as_bytes();
                names(f, c.field_id) || names(f, c.field_name)
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

/// One field's merged change, as one `ChangeView`: the field and its old value (`from`,
/// `from_string`) are its first change's, the new value (`to`, `to_string`) its last's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MergedChange<'a>(pub ChangeView<'a>);

impl<'a> MergedChange<'a> {
    /// The last new value: human string, else raw id.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.0.to_string.or(self.0.to)
    }
    pub fn previous_value(&self) -> Option<&'a [u8]> {
        self.0.from_string.or(self.0.from)
    }
    pub fn value_id(&self) -> Option<&'a [u8]> {
        self.0.to
    }
    pub fn previous_value_id(&self) -> Option<&'a [u8]> {
        self.0.from
    }
    /// It ends where it started.
    fn reverted(&self) -> bool {
        self.0.from == self.0.to && self.0.from_string == self.0.to_string
    }
    /// It is written to an audit: it changed something, or reverted changes are kept.
    pub(crate) fn kept(&self, keep_reverted: bool) -> bool {
        keep_reverted || !self.reverted()
    }
}

/// How many entries, fields or authors a closing window's scratch vectors (its entries read,
/// its merged fields, its contributors) have room for before they grow: workload W's windows
/// hold some ten entries of eight fields, and each growth copied what was there.
pub(crate) const CLOSE_ROOM: usize = 16;

/// The merged changes of a window, in order of each field's first change.
pub(crate) type MergedFields<'a> = Vec<MergedChange<'a>>;

/// Every distinct author, in order of their first change.
fn contributors<E: Entry>(entries: &[E]) -> Vec<User> {
    let mut out: Vec<User> = Vec::new();
    for e in entries {
        if let Some(id) = e.actor_id() {
            if !out.iter().any(|u| u.id.as_bytes() == id) {
                out.extend(e.actor());
            }
        }
    }
    out
}

/// One change per field in order of its first change: previous = first old, value = last new.
pub(crate) fn merged_fields<E: Entry>(entries: &[E], keep_reverted: bool) -> MergedFields<'_> {
    // Room for the fields most windows change, so that pushes do not grow it.
    let mut fields = MergedFields::with_capacity(CLOSE_ROOM);
    for change in entries.iter().flat_map(|e| e.changes()) {
        match fields.iter_mut().find(|m| m.0.field_id == change.field_id) {
            Some(m) => (m.0.to, m.0.to_string) = (change.to, change.to_string),
            None => fields.push(MergedChange(change)),
        }
    }
    if !keep_reverted {
        fields.retain(|m| m.kept(false));
    }
    fields
}

/// [`merged_fields`] of one event's `changes` when no two change the same field: each change
/// is its own merged change, written into `out` (at least as long as `changes`). `None` when
/// two share a field, or `out` is too short.
pub(crate) fn distinct_fields<'a, 'o>(
    changes: &[ChangeView<'a>],
    keep_reverted: bool,
    out: &'o mut [MergedChange<'a>],
) -> Option<&'o [MergedChange<'a>]> {
    let distinct = changes
        .iter()
        .enumerate()
        .all(|(i, c)| changes[..i].iter().all(|p| p.field_id != c.field_id));
    if !distinct || changes.len() > out.len() {
        return None;
    }
    let mut n = 0;
    for m in changes.iter().map(|&c| MergedChange(c)) {
        if m.kept(keep_reverted) {
            out[n] = m;
            n += 1;
        }
    }
    Some(&out[..n])
}
