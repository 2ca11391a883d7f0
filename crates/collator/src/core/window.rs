//! One record's open session window.

use schema::v1::{RawEvent, SessionWindowState, WindowEntry};

use super::Settings;

/// The open window of one record, kept as its `collator-state` form so a restore is exact.
///
/// Entries are ordered by (Jira event time, dedup key), not by offset: two webhooks deliver
/// the same changes in different offset orders, and the audit must not depend on which one
/// won (a refinement of DESIGN §3.2's "then offset"). Duplicate deliveries of an entry keep
/// the earliest `received_at` and widen the window's bounds, so the window does not depend on
/// which delivery came first either.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionWindow {
    pub(crate) state: SessionWindowState,
}

/// Sort key of an entry: Jira's time when known, else ours.
fn entry_time(e: &WindowEntry) -> i64 {
    if e.event_time_ms > 0 {
        e.event_time_ms
    } else {
        e.received_at_ms
    }
}

impl SessionWindow {
    /// Opens a window with its first event.
    pub fn open(record_key: String, event: &RawEvent, offset: i64) -> Self {
        let state = SessionWindowState {
            record_key,
            record: event.record.clone(),
            associated: event.associated.clone(),
            integration_id: event.integration_id.clone(),
            workspace: event.workspace.clone(),
            jira_site: event.jira_site.clone(),
            partition_key: event.partition_key.clone(),
            entries: Vec::new(),
            first_received_ms: event.received_at_ms,
            last_received_ms: event.received_at_ms,
        };
        let mut w = SessionWindow { state };
        w.insert(event, offset);
        w
    }

    pub fn from_state(state: SessionWindowState) -> Self {
        SessionWindow { state }
    }

    pub fn state(&self) -> &SessionWindowState {
        &self.state
    }

    pub fn entries(&self) -> &[WindowEntry] {
        &self.state.entries
    }

    /// The entries, by value, for a window that is being closed.
    pub fn into_entries(self) -> Vec<WindowEntry> {
        self.state.entries
    }

    pub fn record_key(&self) -> &str {
        &self.state.record_key
    }

    /// The window closes when the watermark reaches this: `gap` after its last change, or
    /// `max_duration` after its first, whichever is earlier.
    pub fn deadline(&self, s: &Settings) -> i64 {
        let by_gap = self.state.last_received_ms.saturating_add(s.gap_ms);
        let by_age = self
            .state
            .first_received_ms
            .saturating_add(s.max_duration_ms);
        by_gap.min(by_age)
    }

    /// Whether an event received at `received_at_ms` belongs to this window.
    pub fn accepts(&self, received_at_ms: i64, s: &Settings) -> bool {
        received_at_ms < self.deadline(s)
    }

    pub fn contains(&self, dedup_key: &str) -> bool {
        self.state.entries.iter().any(|e| e.dedup_key == dedup_key)
    }

    /// The largest raw offset applied to this window.
    pub fn max_offset(&self) -> i64 {
        self.state
            .entries
            .iter()
            .map(|e| e.offset)
            .max()
            .unwrap_or(-1)
    }

    fn widen(&mut self, received_at_ms: i64) {
        self.state.first_received_ms = self.state.first_received_ms.min(received_at_ms);
        self.state.last_received_ms = self.state.last_received_ms.max(received_at_ms);
    }

    /// Applies an event. Returns false when its dedup key is already in the window (a
    /// duplicate delivery: applied once, but it still widens the window's bounds).
    pub fn insert(&mut self, event: &RawEvent, offset: i64) -> bool {
        self.widen(event.received_at_ms);
        if let Some(e) = self
            .state
            .entries
            .iter_mut()
            .find(|e| e.dedup_key == event.dedup_key)
        {
            if event.received_at_ms < e.received_at_ms {
                e.received_at_ms = event.received_at_ms;
            }
            return false;
        }
        let entry = WindowEntry {
            dedup_key: event.dedup_key.clone(),
            event_time_ms: event.event_time_ms,
            received_at_ms: event.received_at_ms,
            offset,
            actor: event.actor.clone(),
            action: event.action,
            changes: event.changes.clone(),
        };
        let key = (entry_time(&entry), entry.dedup_key.as_str());
        let at = self
            .state
            .entries
            .partition_point(|e| (entry_time(e), e.dedup_key.as_str()) < key);
        self.state.entries.insert(at, entry);
        true
    }
}
