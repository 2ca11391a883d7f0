//! The answers ingest gives: `{"error": CODE, "detail": TEXT}` for refusals, with the status
//! each bad-input class maps to (see the crate README's table).

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::normalize::NormalizeError;
use crate::signature::SignatureError;

/// A request ingest refuses, with its stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub fn unknown_token() -> Self {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "unknown_token",
            "no integration has this token",
        )
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not accepted; Jira webhooks are POSTed"),
        )
    }

    pub fn body_too_large(limit: usize) -> Self {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body exceeds {limit} bytes"),
        )
    }

    pub fn unreadable_body(error: &dyn std::fmt::Display) -> Self {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "unreadable_body",
            format!("reading the body failed: {error}"),
        )
    }

    pub fn request_timeout(timeout: Duration, received: usize) -> Self {
        Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the body was not received within {}; {received} bytes came",
                humantime_serde::re::humantime::format_duration(timeout)
            ),
        )
    }

    pub fn content_type(given: &str) -> Self {
        Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("content type {given:?} is not JSON"),
        )
    }

    pub fn missing_signature() -> Self {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            "missing_signature",
            "this integration has a secret: X-Hub-Signature is required",
        )
    }

    pub fn bad_signature(e: &SignatureError) -> Self {
        Refusal::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string())
    }

    pub fn invalid_body(e: &NormalizeError) -> Self {
        let status = match e {
            NormalizeError::NotAnObject | NormalizeError::MissingWebhookEvent => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::BAD_REQUEST,
        };
        // Keep the parser's position: it is what tells an operator where the body broke.
        let detail = match e {
            NormalizeError::InvalidJson(source) => format!("{e}: {source}"),
            NormalizeError::InvalidUtf8(source) => format!("{e}: {source}"),
            _ => e.to_string(),
        };
        Refusal::new(status, e.code(), detail)
    }

    pub fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"error": self.code, "detail": self.detail})),
        )
            .into_response();
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still be on its way: the connection cannot carry
            // another request, so say it closes.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// 503 with `Retry-After`: Jira retries 5xx, so nothing is lost while we cannot store.
pub fn unavailable(
    code: &'static str,
    detail: impl Into<String>,
    retry_after: Duration,
) -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": code, "detail": detail.into()})),
    )
        .into_response();
    let secs = retry_after.as_secs().max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&secs) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

pub fn ok(body: serde_json::Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}
