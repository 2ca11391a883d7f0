//! What each Jira event family says: the record that changed, its parent, the action, the
//! actor, the field changes and what identifies the change across deliveries.

use schema::v1::{Action, FieldChange, RecordRef, User};
use serde_json::Value;

use super::json::{any_text, at, issue_id_in_url, text, user};
use super::standalone::{simple, sprint, user_record, version};

/// One delivery, read. Site-independent: the caller adds site and keys.
#[derive(Debug)]
pub(super) struct Reading {
    pub record: RecordRef,
    pub associated: Option<RecordRef>,
    pub action: Action,
    pub actor: Option<User>,
    pub changes: Vec<FieldChange>,
    pub identity: Identity,
    /// The issue whose story this event belongs to (partitioning).
    pub root_issue: Option<String>,
    pub project: Option<String>,
}

/// What makes this change the same change in every delivery of it.
#[derive(Debug)]
pub(super) enum Identity {
    /// Parts joined after the site, e.g. `["changelog", "10227"]`.
    Key(Vec<String>),
    /// Nothing better: a hash of the body's content.
    Content,
}

/// The comment-bearing `issue_event_type_name`s of `jira:issue_updated`: Jira sends them
/// alongside `comment_*` for the same comment, and both must read the same.
const ISSUE_COMMENT_EVENTS: [(&str, Action); 3] = [
    ("issue_commented", Action::Create),
    ("issue_comment_edited", Action::Update),
    ("issue_comment_deleted", Action::Destroy),
];

/// Reads `body` (a JSON object with `webhookEvent` = `event`). `None`: not a family ingest
/// knows, or one whose record id is missing; the caller stores it as unknown.
pub(super) fn read(event: &str, body: &Value) -> Option<Reading> {
    let action = action_of(event);
    if event.starts_with("jira:issue_") {
        let type_name = text(body.get("issue_event_type_name")).unwrap_or_default();
        if let Some((_, action)) = ISSUE_COMMENT_EVENTS.iter().find(|(n, _)| *n == type_name) {
            if at(body, &["comment", "id"]).is_some() {
                return comment(body, *action);
            }
        }
        return issue(body, action);
    }
    let prefix = event.split('_').next().unwrap_or_default();
    match prefix {
        "comment" => comment(body, action),
        "worklog" => worklog(body, action),
        "attachment" => attachment(body, action),
        "issuelink" => issuelink(body, action),
        "issue" if event.starts_with("issue_property_") => issue_property(body, action),
        "project" => simple(body, action, "project", &[("key", "key"), ("name", "name")]),
        "jira:version" => version(body, action),
        "sprint" => sprint(body, action),
        "board" => simple(body, action, "board", &[("name", "name"), ("type", "type")]),
        "user" => user_record(body, action),
        "filter" => simple(body, action, "filter", &[("name", "name"), ("jql", "jql")]),
        _ => None,
    }
}

fn action_of(event: &str) -> Action {
    if event.ends_with("_created") {
        Action::Create
    } else if event.ends_with("_deleted") && !event.contains("restored")
        || event.ends_with("_merged")
    {
        Action::Destroy
    } else {
        Action::Update
    }
}

pub(super) fn record(kind: &str, id: String) -> RecordRef {
    RecordRef {
        r#type: kind.to_owned(),
        id,
    }
}

pub(super) fn change(
    id: &str,
    name: &str,
    raw: Option<String>,
    human: Option<String>,
    action: Action,
) -> Option<FieldChange> {
    if raw.is_none() && human.is_none() {
        return None;
    }
    let mut c = FieldChange {
        field_id: id.to_owned(),
        field_name: name.to_owned(),
        ..Default::default()
    };
    // A deletion reports the record's last known values as where it came from.
    if action == Action::Destroy {
        (c.from, c.from_string) = (raw, human);
    } else {
        (c.to, c.to_string) = (raw, human);
    }
    Some(c)
}

fn changelog(body: &Value) -> Vec<FieldChange> {
    let items = at(body, &["changelog", "items"])
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    items
        .iter()
        .filter_map(|item| {
            let name = text(item.get("field"))?;
            Some(FieldChange {
                field_id: text(item.get("fieldId")).unwrap_or_else(|| name.clone()),
                field_name: name,
                from: text(item.get("from")),
                from_string: text(item.get("fromString")),
                to: text(item.get("to")),
                to_string: text(item.get("toString")),
            })
        })
        .collect()
}

fn issue_project(body: &Value) -> Option<String> {
    text(at(body, &["issue", "fields", "project", "key"]))
        .or_else(|| text(at(body, &["issue", "fields", "project", "id"])))
}

/// An issue field as a change: objects give their id and name, plain values their text.
fn issue_field(fields: Option<&Value>, name: &str, action: Action) -> Option<FieldChange> {
    let f = fields?.get(name)?;
    let (raw, human) = if f.is_object() {
        let raw = text(f.get("id")).or_else(|| user(Some(f)).map(|u| u.id));
        (
            raw,
            text(f.get("displayName")).or_else(|| text(f.get("name"))),
        )
    } else {
        (None, text(Some(f)))
    };
    change(name, name, raw, human, action)
}

fn issue(body: &Value, action: Action) -> Option<Reading> {
    let id = text(at(body, &["issue", "id"]))?;
    let fields = at(body, &["issue", "fields"]);
    let mut changes = changelog(body);
    if changes.is_empty() && at(body, &["changelog", "id"]).is_none() {
        // No changelog at all (Server creates, deletes): describe the record instead.
        let names: &[&str] = match action {
            Action::Create => &[
                "summary",
                "issuetype",
                "status",
                "priority",
                "assignee",
                "reporter",
            ],
            Action::Destroy => &["summary"],
            _ => &[],
        };
        changes = names
            .iter()
            .filter_map(|n| issue_field(fields, n, action))
            .collect();
        if action == Action::Destroy {
            changes.extend(change(
                "key",
                "key",
                None,
                text(at(body, &["issue", "key"])),
                action,
            ));
        }
    }
    let identity = match text(at(body, &["changelog", "id"])) {
        Some(cl) => Identity::Key(vec!["changelog".into(), cl]),
        None => Identity::Content,
    };
    Some(Reading {
        record: record("issue", id.clone()),
        associated: None,
        action,
        actor: user(body.get("user")),
        changes,
        identity,
        root_issue: Some(id),
        project: issue_project(body),
    })
}

/// The author of an entity's last edit: the delivery's `user`, else `updateAuthor`, else `author`.
fn entity_actor(body: &Value, entity: &str) -> Option<User> {
    user(body.get("user"))
        .or_else(|| user(at(body, &[entity, "updateAuthor"])))
        .or_else(|| user(at(body, &[entity, "author"])))
}

/// `[kind, id, updated]` plus `deleted` for deletions, so a deletion never reads as a
/// duplicate of the edit that left the same `updated` time.
fn versioned(kind: &str, id: &str, entity: Option<&Value>, action: Action) -> Identity {
    let updated = entity.and_then(|e| text(e.get("updated")).or_else(|| text(e.get("created"))));
    match updated {
        Some(u) => {
            let mut parts = vec![kind.to_owned(), id.to_owned(), u];
            if action == Action::Destroy {
                parts.push("deleted".into());
            }
            Identity::Key(parts)
        }
        None => Identity::Content,
    }
}

fn comment(body: &Value, action: Action) -> Option<Reading> {
    let c = body.get("comment")?;
    let id = text(c.get("id"))?;
    // Server `comment_*` carries no issue: its id is in the comment's own URL.
    let issue = text(at(body, &["issue", "id"]))
        .or_else(|| text(c.get("self")).and_then(|s| issue_id_in_url(&s)));
    let text_body = text(c.get("body"));
    let changes = change("body", "body", text_body.clone(), text_body, action)
        .into_iter()
        .collect();
    Some(Reading {
        record: record("comment", id.clone()),
        associated: issue.clone().map(|i| record("issue", i)),
        action,
        actor: entity_actor(body, "comment"),
        changes,
        identity: versioned("comment", &id, Some(c), action),
        root_issue: issue,
        project: issue_project(body),
    })
}

fn worklog(body: &Value, action: Action) -> Option<Reading> {
    let w = body.get("worklog")?;
    let id = text(w.get("id"))?;
    let issue =
        text(w.get("issueId")).or_else(|| text(w.get("self")).and_then(|s| issue_id_in_url(&s)));
    let changes = [
        change(
            "timeSpent",
            "timeSpent",
            text(w.get("timeSpentSeconds")),
            text(w.get("timeSpent")),
            action,
        ),
        change("comment", "comment", None, text(w.get("comment")), action),
    ];
    Some(Reading {
        record: record("worklog", id.clone()),
        associated: issue.clone().map(|i| record("issue", i)),
        action,
        actor: entity_actor(body, "worklog"),
        changes: changes.into_iter().flatten().collect(),
        identity: versioned("worklog", &id, Some(w), action),
        root_issue: issue,
        project: issue_project(body),
    })
}

/// Ids of records that are created and deleted, never edited: the id and the action suffice.
fn lifecycle(kind: &str, id: &str, action: Action) -> Identity {
    let what = if action == Action::Destroy {
        "deleted"
    } else {
        "created"
    };
    Identity::Key(vec![kind.to_owned(), id.to_owned(), what.to_owned()])
}

fn attachment(body: &Value, action: Action) -> Option<Reading> {
    let a = body.get("attachment")?;
    let id = text(a.get("id"))?;
    let issue = text(at(body, &["issue", "id"])).or_else(|| text(a.get("issueId")));
    let changes = [
        change(
            "filename",
            "filename",
            None,
            text(a.get("filename")),
            action,
        ),
        change("size", "size", text(a.get("size")), None, action),
    ];
    Some(Reading {
        record: record("attachment", id.clone()),
        associated: issue.clone().map(|i| record("issue", i)),
        action,
        actor: entity_actor(body, "attachment"),
        changes: changes.into_iter().flatten().collect(),
        identity: lifecycle("attachment", &id, action),
        root_issue: issue,
        project: issue_project(body),
    })
}

fn issuelink(body: &Value, action: Action) -> Option<Reading> {
    let l = body.get("issueLink")?;
    let id = text(l.get("id"))?;
    let source = text(l.get("sourceIssueId"));
    let changes = [
        change(
            "link_type",
            "link type",
            text(at(l, &["issueLinkType", "id"])),
            text(at(l, &["issueLinkType", "name"])),
            action,
        ),
        change(
            "destination_issue",
            "destination issue",
            text(l.get("destinationIssueId")),
            None,
            action,
        ),
    ];
    Some(Reading {
        record: record("issuelink", id.clone()),
        associated: source.clone().map(|i| record("issue", i)),
        action,
        actor: user(body.get("user")),
        changes: changes.into_iter().flatten().collect(),
        identity: lifecycle("issuelink", &id, action),
        root_issue: source,
        project: None,
    })
}

fn issue_property(body: &Value, action: Action) -> Option<Reading> {
    let issue = text(at(body, &["issue", "id"]));
    let key = text(at(body, &["property", "key"])).or_else(|| text(body.get("propertyKey")))?;
    // A property key is unique only within its issue.
    let id = match &issue {
        Some(i) => format!("{i}/{key}"),
        None => key.clone(),
    };
    let changes = change(
        &key,
        &key,
        None,
        any_text(at(body, &["property", "value"])),
        action,
    )
    .into_iter()
    .collect();
    Some(Reading {
        record: record("issue_property", id),
        associated: issue.clone().map(|i| record("issue", i)),
        action,
        actor: user(body.get("user")),
        changes,
        identity: Identity::Content,
        root_issue: issue,
        project: issue_project(body),
    })
}
