//! Signed HTTP POSTs of the audit JSON, per the Standard Webhooks spec: `webhook-id` is the audit
//! id (receivers dedup on it), `webhook-timestamp` the send time, `webhook-signature` one `v1`
//! signature per configured secret.
//!
//! Responses: 2xx delivered; 410 disables the endpoint; 408, 429 and 5xx are retried (honouring
//! `Retry-After` on 429/503); any other 4xx is a permanent failure for that audit.

mod config;

pub use config::WebhookConfig;

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use schema::v1::AuditEvent;

use super::{AttemptFailure, AttemptOutcome, ErrorClass, FailureKind};
use crate::signing::{signature_header, WebhookSecret};
use crate::{Error, Result};

pub struct WebhookSink {
    client: reqwest::Client,
    url: reqwest::Url,
    secrets: Vec<WebhookSecret>,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl WebhookSink {
    pub fn new(config: &WebhookConfig) -> Result<Self> {
        let url = reqwest::Url::parse(&config.url)
            .map_err(|e| Error::Config(format!("webhook url {}: {e}", config.url)))?;
        let secrets = config
            .secrets
            .iter()
            .map(|s| {
                WebhookSecret::parse(s).map_err(|e| Error::Config(format!("webhook {url}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut headers = HeaderMap::new();
        for (k, v) in &config.headers {
            let name = HeaderName::try_from(k.as_str())
                .map_err(|e| Error::Config(format!("header {k}: {e}")))?;
            let value = HeaderValue::try_from(v.as_str())
                .map_err(|e| Error::Config(format!("header {k}: {e}")))?;
            headers.insert(name, value);
        }
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("auditstream/", env!("CARGO_PKG_VERSION"))),
        );
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .default_headers(headers)
            // A redirect would re-send a signed body somewhere the operator did not configure.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Http)?;
        let limiter = NonZeroU32::new(config.rate_limit_per_second)
            .map(|n| RateLimiter::direct(Quota::per_second(n)));
        Ok(WebhookSink {
            client,
            url,
            secrets,
            limiter,
        })
    }

    pub async fn deliver(&self, audit: &AuditEvent, body: &[u8]) -> AttemptOutcome {
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let id = audit.id.to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string());
        if !self.secrets.is_empty() {
            request = request.header(
                "webhook-signature",
                signature_header(&self.secrets, &id, timestamp, body),
            );
        }
        match request.body(body.to_vec()).send().await {
            Ok(response) => classify(response.status(), retry_after(response.headers())),
            Err(e) => AttemptOutcome::Failed(AttemptFailure::transient(error_chain(&e))),
        }
    }
}

/// The outcome a response status means (module docs).
pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> AttemptOutcome {
    let code = u32::from(status.as_u16());
    if status.is_success() {
        return AttemptOutcome::Delivered { status: code };
    }
    let (kind, class) = match status.as_u16() {
        410 => (FailureKind::Gone, ErrorClass::Receiver),
        408 | 429 => (FailureKind::Transient, ErrorClass::Receiver),
        400..=499 => (FailureKind::Permanent, ErrorClass::Receiver),
        _ => (FailureKind::Transient, ErrorClass::Ours),
    };
    let honour = matches!(code, 429 | 503);
    AttemptOutcome::Failed(AttemptFailure {
        kind,
        class,
        status: code,
        error: format!("endpoint answered {status}"),
        retry_after: retry_after.filter(|_| honour),
    })
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
}

/// reqwest's top-level message hides the cause (timeout, refused): keep the whole chain.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests;
