//! Normalization: one Jira webhook body in, one [`RawEvent`] out. Pure and deterministic (the
//! clock is injected through [`Delivery::received_at_ms`]), so fuzzing, benchmarks and golden
//! tests call it directly.
//!
//! Every body that is a JSON object with a `webhookEvent` normalizes: families ingest does not
//! know (or whose record id is missing) become `type = "unknown"` records with
//! `known_event = false`, stored and never rejected.

mod content;
mod depth;
mod families;
mod json;
mod read_paths;
mod standalone;

use schema::v1::{Action, RawEvent, RecordRef};
use serde_json::Value;

pub use json::{canonical_json, site_of};

use depth::nesting_depth;
use families::{Identity, Reading};

/// Nesting depth [`normalize`] accepts; the HTTP layer passes its configured limit to [`parse`].
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Top-level keys that differ between webhooks delivering the same change, left out of content
/// hashes so that two webhooks on one site produce one dedup key.
const DELIVERY_SPECIFIC_KEYS: [&str; 1] = ["matchedWebhookIds"];

/// Which integration received the delivery.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub integration_id: &'a str,
    /// The configured Jira site; `None` derives it from the payload's `self` URLs.
    pub jira_site: Option<&'a str>,
}

/// One HTTP delivery: the body and what the headers and our clock said about it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub body: &'a [u8],
    /// `X-Atlassian-Webhook-Identifier`.
    pub delivery_id: Option<&'a str>,
    /// `X-Atlassian-Webhook-Retry`.
    pub retry_count: u32,
    /// `X-Atlassian-Webhook-Flow`.
    pub flow: Option<&'a str>,
    pub received_at_ms: i64,
}

/// Why a body cannot be normalized. Each is a bad-input class with its own answer.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("the body is empty")]
    Empty,
    #[error("the body is not UTF-8")]
    InvalidUtf8(#[source] std::str::Utf8Error),
    #[error("JSON nesting deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("the body is not valid JSON")]
    InvalidJson(#[source] serde_json::Error),
    #[error("the body is JSON but not an object")]
    NotAnObject,
    #[error("the body has no string `webhookEvent`")]
    MissingWebhookEvent,
}

impl NormalizeError {
    /// The stable machine code of the answer and of the `raw.rejected` record.
    pub fn code(&self) -> &'static str {
        match self {
            NormalizeError::Empty => "empty_body",
            NormalizeError::InvalidUtf8(_) => "invalid_utf8",
            NormalizeError::TooDeep { .. } => "too_deep",
            NormalizeError::InvalidJson(_) => "invalid_json",
            NormalizeError::NotAnObject => "not_an_object",
            NormalizeError::MissingWebhookEvent => "missing_webhook_event",
        }
    }
}

/// Parses and normalizes a body with the default depth limit.
pub fn normalize(source: &Source<'_>, delivery: &Delivery<'_>) -> Result<RawEvent, NormalizeError> {
    let value = parse(delivery.body, DEFAULT_MAX_DEPTH)?;
    normalize_value(source, delivery, &value)
}

/// Checks a body is a UTF-8 JSON object no deeper than `max_depth`, and parses what
/// normalization and [`crate::scope::ScopeFacts`] read of it (see `read_paths.rs`); the rest is
/// validated and skipped.
pub fn parse(body: &[u8], max_depth: usize) -> Result<Value, NormalizeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(NormalizeError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(NormalizeError::InvalidUtf8)?;
    // A body too deep is refused as such, before any other reason. The parse measures the
    // depth of a body that parses (its recursion bounded by serde_json at 128 levels); only a
    // body it refuses is scanned for its depth, to tell which refusal it gets.
    let too_deep = NormalizeError::TooDeep { limit: max_depth };
    match read_paths::parse_read(text) {
        Ok(read) if read.depth > max_depth => Err(too_deep),
        Ok(read) => read.body.ok_or(NormalizeError::NotAnObject),
        Err(_) if nesting_depth(text.as_bytes()) > max_depth => Err(too_deep),
        Err(e) => Err(NormalizeError::InvalidJson(e)),
    }
}

/// Normalizes a parsed body: `body` is [`parse`] of `delivery.body`, whose bytes give the
/// content hash of events identified by content.
pub fn normalize_value(
    source: &Source<'_>,
    delivery: &Delivery<'_>,
    body: &Value,
) -> Result<RawEvent, NormalizeError> {
    normalize_hashed_by(source, delivery, body, || content_hash(delivery.body))
}

/// [`normalize_value`] with the content hash of the body computed by `content_hash`, called
/// only for events identified by content. The differential tests pass the whole-tree hash.
fn normalize_hashed_by(
    source: &Source<'_>,
    delivery: &Delivery<'_>,
    body: &Value,
    content_hash: impl Fn() -> Result<String, NormalizeError>,
) -> Result<RawEvent, NormalizeError> {
    let event = body
        .get("webhookEvent")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .ok_or(NormalizeError::MissingWebhookEvent)?;
    let site = jira_site(source, body);
    let known = families::read(event, body);
    let known_event = known.is_some();
    let reading = match known {
        Some(reading) => reading,
        None => unknown(body, content_hash()?),
    };
    let dedup_key = match &reading.identity {
        Identity::Key(parts) => format!("{site}|{}", parts.join("|")),
        // An unknown event's record id is its content hash already.
        Identity::Content if !known_event => format!("{site}|sha256|{}", reading.record.id),
        Identity::Content => format!("{site}|sha256|{}", content_hash()?),
    };
    let partition_key = match &reading.root_issue {
        Some(issue) => format!("{site}|issue|{issue}"),
        None => format!("{site}|{}|{}", reading.record.r#type, reading.record.id),
    };
    let Reading {
        record,
        associated,
        action,
        actor,
        changes,
        project,
        ..
    } = reading;
    Ok(RawEvent {
        integration_id: source.integration_id.to_owned(),
        jira_site: site,
        delivery_id: match delivery.delivery_id.filter(|d| !d.is_empty()) {
            Some(id) => id.to_owned(),
            None => format!("sha256:{}", json::sha256_hex(delivery.body)),
        },
        retry_count: delivery.retry_count,
        received_at_ms: delivery.received_at_ms,
        event_time_ms: json::event_time_ms(body.get("timestamp")),
        event_name: event.to_owned(),
        issue_event_type: json::text(body.get("issue_event_type_name")).unwrap_or_default(),
        actor,
        record: Some(record),
        associated,
        action: action as i32,
        changes,
        dedup_key,
        partition_key,
        body: delivery.body.to_vec(),
        workspace: String::new(),
        known_event,
        project: project.unwrap_or_default(),
        flow: delivery.flow.unwrap_or_default().to_owned(),
    })
}

/// An event ingest cannot read: kept whole, identified by its content hash.
fn unknown(body: &Value, content_hash: String) -> Reading {
    Reading {
        record: RecordRef {
            r#type: "unknown".into(),
            id: content_hash,
        },
        associated: None,
        action: Action::Update,
        actor: json::user(body.get("user")),
        changes: Vec::new(),
        identity: Identity::Content,
        root_issue: None,
        project: None,
    }
}

/// SHA-256 of the canonical body without delivery-specific keys. `timestamp` stays: it is
/// Jira's event time, the same in every webhook delivering the change.
fn content_hash(body: &[u8]) -> Result<String, NormalizeError> {
    content::content_hash(body, &DELIVERY_SPECIFIC_KEYS).map_err(NormalizeError::InvalidJson)
}

/// The configured site, else the origin of the first `self` URL, else the integration id.
fn jira_site(source: &Source<'_>, body: &Value) -> String {
    if let Some(site) = source
        .jira_site
        .map(|s| s.trim().trim_end_matches('/'))
        .filter(|s| !s.is_empty())
    {
        return site.to_owned();
    }
    const SELF_URLS: [&[&str]; 12] = [
        &["issue", "self"],
        &["comment", "self"],
        &["worklog", "self"],
        &["attachment", "self"],
        &["project", "self"],
        &["version", "self"],
        &["sprint", "self"],
        &["board", "self"],
        &["filter", "self"],
        &["user", "self"],
        &["comment", "author", "self"],
        &["worklog", "author", "self"],
    ];
    SELF_URLS
        .iter()
        .filter_map(|path| json::text(json::at(body, path)))
        .find_map(|url| site_of(&url))
        .unwrap_or_else(|| source.integration_id.to_owned())
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
