//! Every fixture in `fixtures/jira` normalizes to its checked-in golden RawEvent
//! (`tests/golden/<fixture stem>.json`, proto3 JSON, body cleared, fixed received_at).
//! The golden files were reviewed by hand against the fixtures; after an intended change run
//! `UPDATE_GOLDEN=1 cargo test -p auditstream-ingest --test it golden` and review the diff.

use std::path::{Path, PathBuf};

use ingest::normalize::{normalize, Delivery, Source};

pub const RECEIVED_AT_MS: i64 = 1_790_000_000_000;

pub fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/jira");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_fixture_matches_its_golden_file() {
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let files = fixtures();
    assert_eq!(files.len(), 26, "fixtures/jira holds 26 samples");
    let mut mismatches = Vec::new();
    for fixture in files {
        let body = std::fs::read(&fixture).unwrap();
        let delivery = Delivery {
            body: &body,
            delivery_id: None,
            retry_count: 0,
            flow: None,
            received_at_ms: RECEIVED_AT_MS,
        };
        let mut event = normalize(
            &Source {
                integration_id: "golden",
                jira_site: None,
            },
            &delivery,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
        assert_eq!(event.body, body, "the original bytes are kept");
        event.body.clear();
        let rendered = serde_json::to_string_pretty(&event).unwrap() + "\n";
        let golden = golden_dir.join(fixture.file_name().unwrap());
        if update {
            std::fs::write(&golden, &rendered).unwrap();
        } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(rendered.as_str()) {
            mismatches.push(format!("{}:\n{rendered}", golden.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "normalization differs from the golden files:\n{}",
        mismatches.join("\n")
    );
}
