//! Standard Webhooks signing and verification, pure (the clock is a parameter).
//!
//! A delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`:
//! space-separated `v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`, one per active
//! secret so a receiver rotating secrets accepts either. Secrets are `whsec_` + base64 of the key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a `webhook-timestamp` may be from the verifier's clock (the spec's five minutes),
/// which bounds replays of a captured request.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 5 * 60;

const SECRET_PREFIX: &str = "whsec_";

/// A signing key, decoded from its `whsec_...` form.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("WebhookSecret(..)")
    }
}

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("webhook secret must start with whsec_")]
    MissingPrefix,
    #[error("webhook secret is not base64 after whsec_")]
    NotBase64,
    #[error("webhook secret is shorter than 16 bytes")]
    TooShort,
}

impl WebhookSecret {
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if key.len() < 16 {
            return Err(SecretError::TooShort);
        }
        Ok(WebhookSecret(key))
    }
}

/// Why a delivery's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("webhook-timestamp is not a number")]
    BadTimestamp,
    #[error("webhook-timestamp is outside the tolerance")]
    TimestampOutOfTolerance,
    #[error("webhook-signature has no v1 signature")]
    NoSignature,
    #[error("no signature matches")]
    NoMatch,
}

fn mac(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&secret.0).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// One `v1,<base64>` signature.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1,{}", STANDARD.encode(mac(secret, id, timestamp, body)))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verifies a delivery as a receiver would: the timestamp within tolerance of `now_secs`, and
/// some `v1` signature in the header equal (constant time, full length) to one computed with
/// any of `secrets`. Empty (`v1,`) and truncated signatures never match.
pub fn verify(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if (now_secs - ts).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let presented: Vec<Vec<u8>> = signature_header
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter(|s| !s.is_empty())
        .filter_map(|s| STANDARD.decode(s).ok())
        .collect();
    if presented.is_empty() {
        return Err(VerifyError::NoSignature);
    }
    for secret in secrets {
        let expected = mac(secret, id, ts, body);
        // `ct_eq` on slices of different lengths is false, so a truncated signature fails.
        if presented
            .iter()
            .any(|p| bool::from(p.as_slice().ct_eq(&expected)))
        {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

#[cfg(test)]
mod tests;
