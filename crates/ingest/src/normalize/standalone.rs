//! Records that stand on their own, keyed on their own id: projects, versions, sprints,
//! boards, users and filters. Their payloads carry no changelog, so their changes are the
//! few properties that name them (name, state, dates), identified by content.

use schema::v1::Action;
use serde_json::Value;

use super::families::{change, record, Identity, Reading};
use super::json::{any_text, at, text, user};

/// Records keyed on their own id whose changes are a few named properties.
pub(super) fn simple(
    body: &Value,
    action: Action,
    kind: &str,
    fields: &[(&str, &str)],
) -> Option<Reading> {
    let entity = body.get(kind)?;
    let id = text(entity.get("id"))?;
    let changes = fields
        .iter()
        .filter_map(|(key, name)| change(key, name, None, any_text(entity.get(*key)), action))
        .collect();
    let project = if kind == "project" {
        text(entity.get("key")).or_else(|| Some(id.clone()))
    } else {
        None
    };
    Some(Reading {
        record: record(kind, id),
        associated: None,
        action,
        actor: user(body.get("user")),
        changes,
        identity: Identity::Content,
        root_issue: None,
        project,
    })
}

pub(super) fn version(body: &Value, action: Action) -> Option<Reading> {
    let mut r = simple(
        body,
        action,
        "version",
        &[
            ("name", "name"),
            ("released", "released"),
            ("archived", "archived"),
            ("releaseDate", "releaseDate"),
        ],
    )?;
    let v = body.get("version")?;
    let project = text(v.get("projectId"));
    r.associated = project.clone().map(|p| record("project", p));
    r.project = project;
    // A merge is reported as a deletion of the merged version, naming where it went.
    r.changes.extend(change(
        "mergedTo",
        "merged to",
        text(at(body, &["mergedTo", "id"])).or_else(|| text(body.get("mergedTo"))),
        text(at(body, &["mergedTo", "name"])),
        Action::Update,
    ));
    Some(r)
}

pub(super) fn sprint(body: &Value, action: Action) -> Option<Reading> {
    let mut r = simple(
        body,
        action,
        "sprint",
        &[
            ("name", "name"),
            ("state", "state"),
            ("startDate", "startDate"),
            ("endDate", "endDate"),
            ("goal", "goal"),
        ],
    )?;
    r.associated = text(at(body, &["sprint", "originBoardId"])).map(|b| record("board", b));
    Some(r)
}

pub(super) fn user_record(body: &Value, action: Action) -> Option<Reading> {
    // In `user_*` events the top-level `user` is the record, not who changed it.
    let subject = user(body.get("user"))?;
    let u = body.get("user")?;
    let fields = [
        ("displayName", "display name"),
        ("emailAddress", "email"),
        ("active", "active"),
    ];
    let changes = fields
        .iter()
        .filter_map(|(key, name)| change(key, name, None, text(u.get(*key)), action))
        .collect();
    Some(Reading {
        record: record("user", subject.id),
        associated: None,
        action,
        actor: None,
        changes,
        identity: Identity::Content,
        root_issue: None,
        project: None,
    })
}
