//! Reading a request body without ever holding more than the limit, or waiting for it past a
//! deadline.

use axum::body::Body;
use axum::http::HeaderMap;
use futures::StreamExt;
use tokio::time::Instant;

/// The most reserved for a body before its bytes arrive (a typical Jira body is 1–20 KB).
const PREALLOCATED_AT_MOST: usize = 64 * 1024;

/// A body read up to a limit.
#[derive(Debug)]
pub struct CappedBody {
    /// At most `limit` bytes.
    pub bytes: Vec<u8>,
    /// True when the sender had more than `limit` bytes to send.
    pub over_limit: bool,
    /// Bytes the sender said or was seen to send.
    pub len: u64,
    /// True when the deadline passed before the body ended: `bytes` is what came until then.
    pub timed_out: bool,
}

/// Reads `body` until its end, until it passes `limit` bytes (keeping the first `limit`), or
/// until `deadline` (keeping what came): a client trickling its body must not hold the
/// request, and its `max_in_flight` slot, forever.
pub async fn read_capped(
    body: Body,
    limit: usize,
    headers: &HeaderMap,
    deadline: Instant,
) -> Result<CappedBody, axum::Error> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    // Sized once from the declared length, not grown chunk by chunk; capped, so a client that
    // declares much and sends nothing does not reserve much.
    let expected = declared.map_or(0, |d| usize::try_from(d).unwrap_or(limit).min(limit));
    let expected = expected.min(PREALLOCATED_AT_MOST);
    let mut bytes = Vec::with_capacity(expected);
    let mut seen = 0u64;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(chunk)) => chunk?,
            Ok(None) => break,
            Err(_elapsed) => {
                return Ok(CappedBody {
                    bytes,
                    over_limit: false,
                    len: declared.unwrap_or(seen).max(seen),
                    timed_out: true,
                })
            }
        };
        seen += chunk.len() as u64;
        let room = limit.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if seen > limit as u64 {
            return Ok(CappedBody {
                bytes,
                over_limit: true,
                len: declared.unwrap_or(seen).max(seen),
                timed_out: false,
            });
        }
    }
    Ok(CappedBody {
        bytes,
        over_limit: false,
        len: seen,
        timed_out: false,
    })
}

/// JSON content types: `application/json` and `application/*+json`, any parameters. A missing
/// header is accepted (Jira's documentation does not promise one); anything else is not JSON.
pub fn is_json_content_type(value: Option<&str>) -> bool {
    let Some(value) = value else { return true };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "Application/JSON; charset=UTF-8"
        )));
        assert!(is_json_content_type(Some("application/vnd.jira+json")));
        assert!(is_json_content_type(None));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(Some(
            "application/x-www-form-urlencoded"
        )));
    }

    #[tokio::test]
    async fn bodies_are_capped() {
        let read = |b: &'static str, limit| async move {
            let deadline = Instant::now() + std::time::Duration::from_secs(60);
            read_capped(Body::from(b), limit, &HeaderMap::new(), deadline)
                .await
                .unwrap()
        };
        let small = read("abc", 5).await;
        assert_eq!(
            (small.bytes.as_slice(), small.over_limit, small.len),
            (&b"abc"[..], false, 3)
        );
        let big = read("abcdefgh", 5).await;
        assert_eq!(
            (big.bytes.as_slice(), big.over_limit),
            (&b"abcde"[..], true)
        );
        let exact = read("abcde", 5).await;
        assert!(!exact.over_limit && !exact.timed_out);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_ends_is_cut_at_the_deadline_keeping_what_came() {
        // One chunk, then silence: the paused clock jumps to the deadline once idle.
        let chunks = futures::stream::iter([Ok::<_, std::io::Error>(&b"{\"webh"[..])])
            .chain(futures::stream::pending());
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::CONTENT_LENGTH, "100".parse().unwrap());
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let read = read_capped(Body::from_stream(chunks), 64, &headers, deadline)
            .await
            .unwrap();
        assert!(read.timed_out && !read.over_limit);
        assert_eq!(read.bytes, b"{\"webh");
        assert_eq!(read.len, 100, "the declared length is kept");
    }
}
