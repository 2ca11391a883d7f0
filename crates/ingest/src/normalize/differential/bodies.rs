//! Generated Jira-like bodies for the differential tests, written out as JSON text by hand
//! so that keys can repeat and characters can be escaped.

use proptest::prelude::*;
use proptest::sample::select;

/// Generated JSON.
#[derive(Debug, Clone)]
pub(super) enum Json {
    Null,
    Bool(bool),
    Number(&'static str),
    String(Text),
    Array(Vec<Json>),
    Object(Vec<(Text, Json)>),
}

/// A string, each character written as itself or as a `\u` escape.
#[derive(Debug, Clone)]
pub(super) struct Text(Vec<(char, bool)>);

/// Top-level keys: every one normalization or scoping reads, and some it does not.
const TOP_KEYS: &[&str] = &[
    "webhookEvent",
    "timestamp",
    "issue_event_type_name",
    "user",
    "issue",
    "changelog",
    "comment",
    "worklog",
    "attachment",
    "issueLink",
    "property",
    "propertyKey",
    "project",
    "version",
    "mergedTo",
    "sprint",
    "board",
    "filter",
    "matchedWebhookIds",
    "customfield_10010",
    "\u{1F600}",
];

/// Keys inside records: every one a family or scope reads, some nobody reads, awkward ones.
const INNER_KEYS: &[&str] = &[
    "id",
    "key",
    "self",
    "fields",
    "project",
    "issuetype",
    "summary",
    "status",
    "priority",
    "assignee",
    "reporter",
    "items",
    "field",
    "fieldId",
    "from",
    "fromString",
    "to",
    "toString",
    "accountId",
    "accoundId",
    "name",
    "displayName",
    "emailAddress",
    "active",
    "author",
    "updateAuthor",
    "updated",
    "created",
    "body",
    "issueId",
    "timeSpent",
    "timeSpentSeconds",
    "filename",
    "size",
    "sourceIssueId",
    "destinationIssueId",
    "issueLinkType",
    "value",
    "projectId",
    "originBoardId",
    "state",
    "customfield_10010",
    "",
    "é",
    "a\"b\\c",
    "\u{7}",
];

/// Event names of every family, and strings that name none.
const WORDS: &[&str] = &[
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "worklog_created",
    "worklog_updated",
    "worklog_deleted",
    "attachment_created",
    "issuelink_deleted",
    "issue_property_set",
    "project_created",
    "jira:version_merged",
    "jira:version_released",
    "sprint_started",
    "board_updated",
    "user_updated",
    "filter_deleted",
    "option_voting_changed",
    "issue_commented",
    "issue_comment_deleted",
    "?",
    "\"?\"",
    " ",
    "2018-12-18 11:57:24,746",
    "1566935004475",
    "KT",
    "Bug",
    "tab\there",
    "ünï\u{10FFFF}",
    "",
];

/// `self` URLs: of an issue, of a comment on one, of a user, of a Server site with a context
/// path, and one with no host.
const URLS: &[&str] = &[
    "https://acme.atlassian.net/rest/api/2/issue/10013",
    "https://acme.atlassian.net/rest/api/2/issue/10013/comment/5",
    "http://h:8080/jira/rest/api/2/user?username=a",
    "HTTPS://Other.Example/rest/api/2/worklog/3",
    "file:///rest/",
];

/// Numbers in every shape serde_json reads differently: integers, negative zero, floats,
/// exponents, beyond u64 and i64, long mantissas, underflows.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "1.0",
    "-0.0",
    "1e5",
    "1E-3",
    "-12.5e+2",
    "10013",
    "1566935004475",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "0.1",
    "3.14159265358979323846",
    "1e-400",
    "5e-324",
    "1.7976931348623157e308",
];

/// Numbers beyond f64's range: the whole-tree parse refused them, wherever they were.
const OUT_OF_RANGE: &[&str] = &["1e400", "-1e400", "1797693134862315708145e300"];

fn text(words: &'static [&'static str]) -> impl Strategy<Value = Text> {
    (select(words), any::<u64>()).prop_map(|(w, escapes)| {
        Text(
            w.chars()
                .enumerate()
                .map(|(i, c)| (c, escapes >> (i % 64) & 1 == 1))
                .collect(),
        )
    })
}

fn scalar() -> impl Strategy<Value = Json> {
    // Out-of-range numbers rarely: every body holding one is refused.
    prop_oneof![
        10 => Just(Json::Null),
        10 => any::<bool>().prop_map(Json::Bool),
        20 => select(NUMBERS).prop_map(Json::Number),
        1 => select(OUT_OF_RANGE).prop_map(Json::Number),
        30 => text(WORDS).prop_map(Json::String),
        10 => text(URLS).prop_map(Json::String),
        10 => text(INNER_KEYS).prop_map(Json::String),
    ]
}

/// Values shaped like Jira's records: objects that mostly have an `id` and keys families read,
/// so that the generated bodies reach every path `read_paths::BODY` lists.
fn json() -> impl Strategy<Value = Json> {
    scalar().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            1 => proptest::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
            4 => (
                proptest::option::weighted(0.7, scalar()),
                proptest::collection::vec((text(INNER_KEYS), inner), 0..8),
            )
                .prop_map(|(id, mut entries)| {
                    if let Some(id) = id {
                        entries.insert(0, (text_of("id"), id));
                    }
                    Json::Object(entries)
                }),
        ]
    })
}

/// Keys of `issue.fields`: those a created or deleted issue is described by, some others.
const FIELD_KEYS: &[&str] = &[
    "project",
    "issuetype",
    "summary",
    "status",
    "priority",
    "assignee",
    "reporter",
    "customfield_10010",
    "description",
    "labels",
];

/// An issue as Jira sends it, so that its fields are reached as often as its record.
fn issue() -> impl Strategy<Value = Json> {
    (
        scalar(),
        text(WORDS),
        proptest::collection::vec((text(FIELD_KEYS), json()), 0..8),
        proptest::collection::vec((text(INNER_KEYS), json()), 0..3),
    )
        .prop_map(|(id, url, fields, mut entries)| {
            entries.push((text_of("id"), id));
            entries.push((text_of("self"), Json::String(url)));
            entries.push((text_of("fields"), Json::Object(fields)));
            entries.reverse();
            Json::Object(entries)
        })
}

/// Keys of a user in any of Jira's shapes, and one nobody reads.
const USER_KEYS: &[&str] = &[
    "accountId",
    "accoundId",
    "key",
    "name",
    "displayName",
    "emailAddress",
    "active",
    "self",
    "avatarUrls",
];

/// Keys of comments and worklogs, and one nobody reads.
const ENTRY_KEYS: &[&str] = &[
    "id",
    "self",
    "body",
    "comment",
    "issueId",
    "timeSpent",
    "timeSpentSeconds",
    "updated",
    "created",
    "author",
    "updateAuthor",
    "visibility",
];

/// An object with an `id` and some of `keys`, in a random order: a record families read.
fn record(keys: &'static [&'static str]) -> impl Strategy<Value = Json> {
    let value = prop_oneof![3 => scalar(), 1 => user(), 1 => json()];
    (
        scalar(),
        proptest::sample::subsequence(keys, 0..=keys.len()).prop_shuffle(),
        proptest::collection::vec(value, keys.len()),
    )
        .prop_map(|(id, keys, values)| {
            let mut entries: Vec<_> = keys.into_iter().map(text_of).zip(values).collect();
            entries.insert(entries.len() / 2, (text_of("id"), id));
            Json::Object(entries)
        })
}

fn user() -> impl Strategy<Value = Json> {
    (
        proptest::sample::subsequence(USER_KEYS, 0..=USER_KEYS.len()),
        proptest::collection::vec(scalar(), USER_KEYS.len()),
    )
        .prop_map(|(keys, values)| {
            Json::Object(keys.into_iter().map(text_of).zip(values).collect())
        })
}

/// A body: mostly an object naming an event, often with an issue, a user, a comment or a
/// worklog, sometimes any JSON at all.
pub(super) fn body() -> impl Strategy<Value = Json> {
    let records = [
        ("issue", issue().boxed()),
        ("user", user().boxed()),
        ("comment", record(ENTRY_KEYS).boxed()),
        ("worklog", record(ENTRY_KEYS).boxed()),
    ]
    .map(|(key, record)| proptest::option::of(record.prop_map(move |r| (text_of(key), r))));
    let event = (
        text(WORDS),
        records,
        proptest::collection::vec((text(TOP_KEYS), json()), 0..10),
    )
        .prop_map(|(event, records, mut entries)| {
            let at = entries.len() / 2;
            entries.insert(at, (text_of("webhookEvent"), Json::String(event)));
            entries.extend(records.into_iter().flatten());
            Json::Object(entries)
        });
    prop_oneof![6 => event, 1 => json()]
}

fn text_of(s: &str) -> Text {
    Text(s.chars().map(|c| (c, false)).collect())
}

/// `json` as JSON text, with whitespace between tokens.
pub(super) fn write(json: &Json, out: &mut String) {
    match json {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(n),
        Json::String(t) => write_text(t, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { "" });
                write(item, out);
            }
            out.push(']');
        }
        Json::Object(entries) => {
            out.push_str("{ ");
            for (i, (key, value)) in entries.iter().enumerate() {
                out.push_str(if i > 0 { ",\n" } else { "" });
                write_text(key, out);
                out.push_str(" : ");
                write(value, out);
            }
            out.push('}');
        }
    }
}

fn write_text(t: &Text, out: &mut String) {
    out.push('"');
    for &(c, escaped) in &t.0 {
        if escaped || c.is_control() {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else if c == '"' || c == '\\' {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out.push('"');
}
