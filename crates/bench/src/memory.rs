//! The memory scenario (collation core only): resident bytes per open window with `windows`
//! records each holding one open window, and the time to restore them from their
//! `collator-state` values.

use std::sync::Arc;
use std::time::Instant;

use collator::core::{PartitionCollator, Settings};
use prost::Message as _;
use schema::v1::RecordState;

use crate::broker::current_rss;
use crate::report::Table;
use crate::workload::{self, Rng};
use crate::Error;

/// Core settings with the collator's default gap and duration.
pub fn settings() -> Arc<Settings> {
    Arc::new(Settings {
        gap_ms: 300_000,
        max_duration_ms: 3_600_000,
        keep_reverted_fields: false,
        interesting_fields: vec!["status".into(), "assignee".into()],
        dedup_retention_ms: 3_600_000,
    })
}

/// A one-change event opening the window of record `i`, all received within one second.
pub fn opening_event(i: usize, rng: &mut Rng) -> schema::v1::RawEvent {
    let id = workload::record_id(i);
    let t = 1_767_225_600_000 + (i % 1000) as i64;
    schema::v1::RawEvent {
        integration_id: workload::INTEGRATION.into(),
        jira_site: workload::JIRA_SITE.into(),
        received_at_ms: t,
        event_time_ms: t,
        event_name: "jira:issue_updated".into(),
        actor: Some(workload::user((rng.next_u64() % 200) as usize)),
        record: Some(schema::v1::RecordRef {
            r#type: "issue".into(),
            id: id.clone(),
        }),
        action: schema::v1::Action::Update as i32,
        changes: vec![schema::v1::FieldChange {
            field_id: "status".into(),
            field_name: "Status".into(),
            from: Some("10000".into()),
            from_string: Some("To Do".into()),
            to: Some("10001".into()),
            to_string: Some("In Progress".into()),
        }],
        dedup_key: format!("changelog:{id}-0"),
        partition_key: workload::record_key(&id),
        known_event: true,
        ..Default::default()
    }
}

/// The `n`-th change of the record of [`opening_event`] `record`, `n` ms after it, with its
/// own dedup key: for `n` ≥ 1 (and well inside the gap) it joins the window that `n` = 0
/// opened, as most events of a burst do.
pub fn joining_event(record: usize, n: usize, rng: &mut Rng) -> schema::v1::RawEvent {
    let mut e = opening_event(record, rng);
    let id = workload::record_id(record);
    e.received_at_ms += n as i64;
    e.event_time_ms += n as i64;
    e.dedup_key = format!("changelog:{id}-{n}");
    e
}

/// `per_record` one-change events for each of `records` records, interleaved: the first
/// `records` open their windows ([`joining_event`] 0), every later one joins one.
pub fn joining_events(records: usize, per_record: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    (0..records * per_record)
        .map(|i| prost::Message::encode_to_vec(&joining_event(i % records, i / records, rng)))
        .collect()
}

/// [`run`] in a harness process of its own (`auditstream-bench --windows N --rows-json
/// memory`), its rows read back. A process that ran other scenarios first holds pages they
/// freed, which the windows reuse without raising its resident memory, so the figure comes out
/// low, and by a varying amount (BENCHMARKS.md, seventeenth pass).
pub async fn in_own_process(windows: usize) -> Result<Table, Error> {
    let process = |context: &str, source| Error::MemoryProcess {
        context: context.into(),
        source,
    };
    let exe = std::env::current_exe().map_err(|e| process("finding the harness", e))?;
    let output = tokio::process::Command::new(exe)
        .args(["--windows", &windows.to_string(), "--rows-json", "memory"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .map_err(|e| process("running it", e))?;
    if !output.status.success() {
        return Err(Error::Verification(format!(
            "the memory scenario's own process failed ({})",
            output.status
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        Error::Verification(format!(
            "the memory scenario's own process printed no table: {e}"
        ))
    })
}

/// Measures and adds the rows to `table`, in this process: a fresh one, or the figure is low
/// ([`in_own_process`]).
pub fn run(windows: usize, table: &mut Table) -> Result<(), Error> {
    let mut rng = Rng::new(1);
    let mut collator = PartitionCollator::new(settings(), 0);
    let mut change_bytes = 0usize;
    let before = current_rss().unwrap_or(0);
    for i in 0..windows {
        let e = opening_event(i, &mut rng);
        change_bytes += e.changes.iter().map(|c| c.encoded_len()).sum::<usize>();
        collator.apply(&e, i as i64);
        // Each event's live audit is sent and cleared, as the shell does.
        collator.clear_live();
    }
    let after = current_rss().unwrap_or(0);
    if collator.open_windows() != windows {
        return Err(Error::Verification(format!(
            "{} windows open, {windows} expected",
            collator.open_windows()
        )));
    }
    let per_window = after.saturating_sub(before) as f64 / windows as f64;
    let changes = change_bytes as f64 / windows as f64;
    // The state values a restore reads from `collator-state`, encoded as the shell writes them.
    let state: Vec<(String, Vec<u8>)> = collator
        .take_dirty()
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s.encode_to_vec())))
        .collect();
    drop(collator);
    let state_bytes: usize = state.iter().map(|(k, v)| k.len() + v.len()).sum();
    let started = Instant::now();
    let mut restored = PartitionCollator::new(settings(), 0);
    for (key, value) in &state {
        let decoded = RecordState::decode(value.as_slice())
            .map_err(|e| Error::Verification(format!("undecodable state of {key}: {e}")))?;
        restored.restore(key.clone(), decoded);
    }
    let restore = started.elapsed();
    if restored.open_windows() != windows {
        return Err(Error::Verification(format!(
            "{} windows restored, {windows} expected",
            restored.open_windows()
        )));
    }
    let n = format!("{windows} open windows, 1 change each, core only");
    table.row(
        "memory",
        "resident bytes per open window",
        format!("{per_window:.0} B"),
        format!("{n}; {changes:.0} B of it is the change itself (encoded)"),
    );
    table.row(
        "memory",
        "collator-state bytes per window",
        format!("{:.0} B", state_bytes as f64 / windows as f64),
        &n,
    );
    table.row(
        "memory",
        "restore (decode + rebuild) of all windows",
        format!("{:.2} s", restore.as_secs_f64()),
        &n,
    );
    Ok(())
}
