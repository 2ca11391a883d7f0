//! `POST /webhooks/jira/{token}`: authenticate, read, normalize, scope, store, answer.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use schema::v1::{LogLevel, RejectedRequest};
use serde_json::json;

use super::answer::{self, Refusal};
use super::body::{is_json_content_type, read_capped};
use super::store::log_entry;
use super::{AppState, Integration};
use crate::metrics::{
    REJECTED_TOTAL, REQUESTS_TOTAL, REQUEST_BYTES_TOTAL, REQUEST_DURATION_SECONDS,
    UNKNOWN_EVENTS_TOTAL,
};
use crate::normalize::{self, Delivery, Source};
use crate::scope::{self, ScopeDecision, ScopeFacts};
use crate::signature::verify_hub_signature;

/// What one request turned into, for metrics.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Accepted,
    OutOfScope,
    Rejected,
    UnknownToken,
    Unavailable,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::OutOfScope => "out_of_scope",
            Outcome::Rejected => "rejected",
            Outcome::UnknownToken => "unknown_token",
            Outcome::Unavailable => "unavailable",
        }
    }
}

pub async fn receive(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let (outcome, response) = handle(&state, &token, request).await;
    metrics::counter!(REQUESTS_TOTAL, "outcome" => outcome.label()).increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "outcome" => outcome.label())
        .record(started.elapsed().as_secs_f64());
    response
}

async fn handle(state: &AppState, token: &str, request: Request) -> (Outcome, Response) {
    let received_at_ms = schema::now_ms();
    // Unknown tokens are only counted: storing them would let anyone fill our topics.
    let Some(integration) = state.integration_for(token) else {
        return (
            Outcome::UnknownToken,
            Refusal::unknown_token().into_response(),
        );
    };
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        tracing::warn!(integration = %integration.config.id, "too many requests in flight");
        return (
            Outcome::Unavailable,
            answer::unavailable(
                "overloaded",
                "too many requests in flight",
                state.config.retry_after,
            ),
        );
    };
    let (parts, body) = request.into_parts();
    let mut refused = Refused {
        state,
        integration,
        received_at_ms,
        method: parts.method.to_string(),
        headers: &parts.headers,
    };
    let limit = state.config.max_body_bytes;
    // Counted from here, once the headers are in: hyper's header read timeout covered them.
    let timeout = state.config.request_read_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let body = match read_capped(body, limit, &parts.headers, deadline).await {
        Ok(b) => b,
        Err(e) => {
            return refused
                .answer(Refusal::unreadable_body(&e), &[], false, 0)
                .await
        }
    };
    let bytes = body.bytes.as_slice();
    if body.timed_out {
        metrics::counter!(REQUEST_BYTES_TOTAL).increment(bytes.len() as u64);
        return refused
            .answer(
                Refusal::request_timeout(timeout, bytes.len()),
                bytes,
                true,
                body.len,
            )
            .await;
    }
    metrics::counter!(REQUEST_BYTES_TOTAL).increment(body.len);
    if parts.method != Method::POST {
        return refused
            .answer(
                Refusal::method_not_allowed(parts.method.as_str()),
                bytes,
                body.over_limit,
                body.len,
            )
            .await;
    }
    if body.over_limit {
        return refused
            .answer(Refusal::body_too_large(limit), bytes, true, body.len)
            .await;
    }
    if let Some(secret) = &integration.config.secret {
        let verdict = match header(&parts.headers, "x-hub-signature") {
            None => Err(Refusal::missing_signature()),
            Some(sig) => verify_hub_signature(secret.as_bytes(), sig, bytes)
                .map_err(|e| Refusal::bad_signature(&e)),
        };
        if let Err(refusal) = verdict {
            return refused.answer(refusal, bytes, false, body.len).await;
        }
    }
    let content_type = header(&parts.headers, "content-type");
    if !is_json_content_type(content_type) {
        return refused
            .answer(
                Refusal::content_type(content_type.unwrap_or_default()),
                bytes,
                false,
                body.len,
            )
            .await;
    }
    let delivery = Delivery {
        body: bytes,
        delivery_id: header(&parts.headers, "x-atlassian-webhook-identifier"),
        retry_count: header(&parts.headers, "x-atlassian-webhook-retry")
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or(0),
        flow: header(&parts.headers, "x-atlassian-webhook-flow"),
        received_at_ms,
    };
    let source = Source {
        integration_id: &integration.config.id,
        jira_site: integration.config.jira_site.as_deref(),
    };
    let parsed = normalize::parse(bytes, state.config.max_json_depth).and_then(|value| {
        Ok((
            normalize::normalize_value(&source, &delivery, &value)?,
            ScopeFacts::of(&value),
        ))
    });
    let (mut event, facts) = match parsed {
        Ok(p) => p,
        Err(e) => {
            return refused
                .answer(Refusal::invalid_body(&e), bytes, false, body.len)
                .await
        }
    };
    let id = &integration.config.id;
    match scope::decide(&integration.config, &event.event_name, &facts) {
        ScopeDecision::Skip { reason } => {
            tracing::info!(integration = %id, event = %event.event_name, dedup_key = %event.dedup_key, %reason, "event out of scope");
            let mut entry = log_entry(LogLevel::Info, id, "out_of_scope", 200, reason.clone());
            entry.delivery_id = event.delivery_id.clone();
            state.store.log(entry).await;
            (
                Outcome::OutOfScope,
                answer::ok(json!({"status": "ignored", "reason": reason})),
            )
        }
        ScopeDecision::Forward { workspace } => {
            event.workspace = workspace;
            if !event.known_event {
                metrics::counter!(UNKNOWN_EVENTS_TOTAL).increment(1);
                tracing::warn!(integration = %id, event = %event.event_name, "unknown webhookEvent stored with its body");
                let mut entry = log_entry(
                    LogLevel::Warning,
                    id,
                    "unknown_event",
                    200,
                    format!("unknown event {} stored unread", event.event_name),
                );
                entry.delivery_id = event.delivery_id.clone();
                state.store.log_later(entry);
            }
            match state.store.write_raw(&event).await {
                Ok(()) => {
                    let mut entry = log_entry(
                        LogLevel::Info,
                        id,
                        "accepted",
                        200,
                        format!("{} stored", event.event_name),
                    );
                    entry.delivery_id = event.delivery_id.clone();
                    state.store.log_later(entry);
                    (
                        Outcome::Accepted,
                        answer::ok(json!({"status": "accepted", "dedup_key": event.dedup_key})),
                    )
                }
                Err(e) => {
                    tracing::warn!(integration = %id, error = %e, "raw write failed: answering 503 so Jira retries");
                    (
                        Outcome::Unavailable,
                        answer::unavailable(
                            "unavailable",
                            format!("the event could not be stored: {e}"),
                            state.config.retry_after,
                        ),
                    )
                }
            }
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Answers a refused request after keeping it in `raw.rejected` and `integration.log`.
struct Refused<'a> {
    state: &'a AppState,
    integration: &'a Integration,
    received_at_ms: i64,
    method: String,
    headers: &'a HeaderMap,
}

impl Refused<'_> {
    async fn answer(
        &mut self,
        refusal: Refusal,
        body: &[u8],
        truncated: bool,
        len: u64,
    ) -> (Outcome, Response) {
        let id = &self.integration.config.id;
        metrics::counter!(REJECTED_TOTAL, "reason" => refusal.code).increment(1);
        tracing::info!(integration = %id, reason = refusal.code, detail = %refusal.detail, "request refused");
        let rejected = RejectedRequest {
            received_at_ms: self.received_at_ms,
            integration_id: id.clone(),
            reason: refusal.code.to_owned(),
            detail: refusal.detail.clone(),
            method: self.method.clone(),
            content_type: header(self.headers, "content-type")
                .unwrap_or_default()
                .to_owned(),
            body: body.to_vec(),
            body_truncated: truncated,
            body_len: len,
            delivery_id: header(self.headers, "x-atlassian-webhook-identifier")
                .unwrap_or_default()
                .to_owned(),
            status: u32::from(refusal.status.as_u16()),
        };
        if let Err(e) = self.state.store.write_rejected(&rejected).await {
            // The refused body must not vanish: a 503 makes Jira send it again later.
            tracing::warn!(integration = %id, error = %e, "raw.rejected write failed: answering 503");
            return (
                Outcome::Unavailable,
                answer::unavailable(
                    "unavailable",
                    format!("the refused request could not be stored: {e}"),
                    self.state.config.retry_after,
                ),
            );
        }
        let mut entry = log_entry(
            LogLevel::Warning,
            id,
            refusal.code,
            refusal.status.as_u16(),
            refusal.detail.clone(),
        );
        entry.delivery_id = rejected.delivery_id;
        self.state.store.log(entry).await;
        (Outcome::Rejected, refusal.into_response())
    }
}
