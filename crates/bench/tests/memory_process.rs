//! The memory scenario run as the harness runs it after other scenarios: in a process of its
//! own, which hands its rows back as JSON (`--rows-json`).

use std::process::Command;

#[test]
fn the_memory_scenario_alone_hands_back_its_rows_as_json() {
    let output = Command::new(env!("CARGO_BIN_EXE_auditstream-bench"))
        .args(["--windows", "2000", "--rows-json", "memory"])
        .output()
        .expect("the harness runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let rows = rows["rows"].as_array().expect("rows");
    let figures: Vec<&str> = rows.iter().map(|r| r[1].as_str().unwrap()).collect();
    assert_eq!(
        figures,
        [
            "resident bytes per open window",
            "collator-state bytes per window",
            "restore (decode + rebuild) of all windows"
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r[0] == "memory" && r[3].as_str().unwrap().starts_with("2000 open windows")));
}
