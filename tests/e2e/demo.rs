//! The README's demo command, as a new user runs it.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::support::binary;

#[test]
fn demo_prints_one_collated_audit_per_record() {
    let output = Command::new(binary())
        .args(["demo", "--gap", "1s"])
        .output()
        .expect("running the demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed: {stderr}");
    assert!(
        stderr.contains("EMBEDDED"),
        "the demo must say it runs on the embedded broker"
    );
    let audits: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("each stdout line is audit JSON"))
        .collect();
    assert!(!audits.is_empty(), "no audits printed; stderr: {stderr}");
    let mut by_record: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for a in &audits {
        assert_eq!(a["event"], "audit");
        let audit = &a["audit"];
        let id = audit["id"].as_str().expect("id is a string");
        id.parse::<u64>().expect("id is a 64-bit number");
        assert!(audit["user"].is_object(), "user: {audit}");
        assert!(!audit["contributors"]
            .as_array()
            .expect("contributors")
            .is_empty());
        assert!(
            !audit["changes"].as_array().expect("changes").is_empty(),
            "changes: {audit}"
        );
        let key = (
            audit["auditable_type"].as_str().unwrap().to_owned(),
            audit["auditable_id"].as_str().unwrap().to_owned(),
        );
        by_record.entry(key).or_default().push(audit);
    }
    // Issue TES-41 (id 10040) got four Cloud updates within the gap, one of them delivered
    // twice (Jira's retry): one audit, every field once.
    let tes41 = &by_record[&("issue".to_owned(), "10040".to_owned())];
    assert_eq!(tes41.len(), 1, "one collated audit for TES-41: {tes41:?}");
    let fields: Vec<&str> = tes41[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field_id"].as_str().unwrap())
        .collect();
    for expected in ["status", "assignee", "description"] {
        assert!(
            fields.contains(&expected),
            "TES-41 changes {fields:?} miss {expected}"
        );
    }
    let mut unique = fields.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), fields.len(), "a field twice: {fields:?}");
    assert_eq!(
        tes41[0]["source_event_count"], 4,
        "the retried delivery counts once"
    );
    // Every sample's record is there: 8 records from 13 deliveries.
    assert!(
        by_record.len() >= 8,
        "records audited: {:?}",
        by_record.keys()
    );
}
