//! Acceptance 5 through the running pipeline: one file sink per filter kind; each must receive
//! exactly the audits its filter lets through, field filters cutting `changes`.

use emitter::config::SinkKind;
use emitter::filter::AuditFilter;
use emitter::sinks::file::FileConfig;
use schema::v1::{AuditChange, User};

use crate::support::*;

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(rows: &[serde_json::Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["audit"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_filter_kind_selects_and_field_filters_cut_changes() -> anyhow::Result<()> {
    let c = cluster().await?;
    let dir = tempfile::tempdir()?;
    let file = |name: &str| {
        SinkKind::File(FileConfig {
            path: dir.path().join(format!("{name}.jsonl")),
            sync: false,
        })
    };
    let filters = [
        (
            "workspace",
            AuditFilter {
                workspaces: vec!["PLAT".into()],
                ..Default::default()
            },
        ),
        (
            "record_type",
            AuditFilter {
                record_types: vec!["issue".into()],
                ..Default::default()
            },
        ),
        (
            "user",
            AuditFilter {
                users: vec!["grace@example.com".into()],
                ..Default::default()
            },
        ),
        (
            "field",
            AuditFilter {
                fields: vec!["Status".into()],
                ..Default::default()
            },
        ),
    ];
    let sinks = filters
        .iter()
        .map(|(name, f)| sink(name, f.clone(), file(name)))
        .collect();

    // All on one record, so each sink handles them in this order (one lane).
    let base = |id| audit(id, "60001");
    let mut other_ws = base(1);
    other_ws.workspace = "OPS".into();
    let mut comment = base(2);
    comment.auditable.as_mut().unwrap().r#type = "comment".into();
    let mut by_grace = base(3);
    by_grace.contributors = vec![User {
        id: "acc-2".into(),
        email: "grace@example.com".into(),
        ..Default::default()
    }];
    let mut two_fields = base(4);
    two_fields.changes.push(AuditChange {
        field_id: "summary".into(),
        field_name: "Summary".into(),
        ..Default::default()
    });
    let mut no_status = base(5);
    no_status.changes[0] = AuditChange {
        field_id: "priority".into(),
        field_name: "Priority".into(),
        ..Default::default()
    };
    // Passes every filter: once a sink has it, it has handled everything before it.
    let mut sentinel = base(9);
    sentinel.contributors = by_grace.contributors.clone();
    publish(
        &c.kafka,
        &[other_ws, comment, by_grace, two_fields, no_status, sentinel],
    )
    .await?;

    let emitter = start(&c.kafka, config("g-filters", sinks));
    for (name, _) in &filters {
        let path = dir.path().join(format!("{name}.jsonl"));
        eventually(&format!("{name} sink got the sentinel"), || {
            ids(&lines(&path)).contains(&"9".to_owned())
        })
        .await;
    }
    emitter.stop().await?;

    let got = |name: &str| lines(&dir.path().join(format!("{name}.jsonl")));
    assert_eq!(ids(&got("workspace")), ["2", "3", "4", "5", "9"]);
    assert_eq!(ids(&got("record_type")), ["1", "3", "4", "5", "9"]);
    assert_eq!(ids(&got("user")), ["3", "9"]);
    let field = got("field");
    assert_eq!(
        ids(&field),
        ["1", "2", "3", "4", "9"],
        "audit 5 has no status change left: not sent"
    );
    let cut = &field[3]["audit"]["changes"];
    assert_eq!(
        cut.as_array().unwrap().len(),
        1,
        "summary cut from audit 4: {cut}"
    );
    assert_eq!(cut[0]["field_id"], "status");
    Ok(())
}
