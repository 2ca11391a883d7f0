//! The memory scenario as the harness runs it after other scenarios: in a process of its own,
//! which hands its rows back as JSON (`--rows-json`) in the table the parent reads.

use std::process::Command;

use auditstream_bench::report::Table;

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
    let table: Table = serde_json::from_slice(&output.stdout).expect("a table as JSON");
    let rows: Vec<String> = table
        .to_string()
        .lines()
        .skip(2)
        .map(str::to_owned)
        .collect();
    let figures = [
        "resident bytes per open window",
        "collator-state bytes per window",
        "restore (decode + rebuild) of all windows",
    ];
    assert_eq!(rows.len(), figures.len(), "{rows:?}");
    for (row, figure) in rows.iter().zip(figures) {
        assert!(row.starts_with(&format!("| memory | {figure} | ")), "{row}");
        assert!(row.contains("| 2000 open windows"), "{row}");
    }
}
