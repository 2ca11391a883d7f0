//! Each bad-input class gets its status and error code, and is kept in `raw.rejected` with its
//! reason (unknown tokens excepted: only counted).

use anyhow::Result;

use super::harness::{config, fixture, integrations, sign, Ingest, CLOUD_TOKEN, SERVER_TOKEN};

struct Case {
    name: &'static str,
    method: &'static str,
    token: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn json_headers() -> Vec<(&'static str, String)> {
    vec![("Content-Type", "application/json".into())]
}

fn cases() -> Vec<Case> {
    let case = |name, body: &[u8], status, code| Case {
        name,
        method: "POST",
        token: SERVER_TOKEN,
        headers: json_headers(),
        body: body.to_vec(),
        status,
        code,
    };
    let deep = format!(
        "{{\"webhookEvent\":\"x\",\"a\":{}{}}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    let signed_body = fixture("11_");
    vec![
        case("invalid JSON", b"{\"webhookEvent\": ", 400, "invalid_json"),
        case(
            "JSON that is not an object",
            b"[{\"webhookEvent\": \"x\"}]",
            422,
            "not_an_object",
        ),
        case(
            "missing webhookEvent",
            b"{\"timestamp\": 1}",
            422,
            "missing_webhook_event",
        ),
        case("empty body", b"", 400, "empty_body"),
        case(
            "invalid UTF-8",
            b"{\"webhookEvent\": \"comment_created\", \"x\": \"\xc3\x28\"}",
            400,
            "invalid_utf8",
        ),
        case("deeply nested JSON", deep.as_bytes(), 400, "too_deep"),
        case(
            "body over the limit",
            &[b' '; 70_000],
            413,
            "body_too_large",
        ),
        Case {
            headers: vec![("Content-Type", "text/plain".into())],
            ..case(
                "wrong content type",
                b"{\"webhookEvent\":\"x\"}",
                415,
                "unsupported_media_type",
            )
        },
        Case {
            method: "GET",
            ..case("GET", b"", 405, "method_not_allowed")
        },
        Case {
            method: "PUT",
            ..case(
                "PUT",
                b"{\"webhookEvent\":\"x\"}",
                405,
                "method_not_allowed",
            )
        },
        Case {
            token: CLOUD_TOKEN,
            ..case("missing signature", &signed_body, 401, "missing_signature")
        },
        Case {
            token: CLOUD_TOKEN,
            headers: vec![
                ("Content-Type", "application/json".into()),
                ("X-Hub-Signature", sign(b"another body")),
            ],
            ..case("wrong signature", &signed_body, 401, "bad_signature")
        },
        Case {
            token: CLOUD_TOKEN,
            headers: vec![
                ("Content-Type", "application/json".into()),
                ("X-Hub-Signature", "sha256=".into()),
            ],
            ..case("empty signature", &signed_body, 401, "bad_signature")
        },
        Case {
            token: CLOUD_TOKEN,
            headers: vec![
                ("Content-Type", "application/json".into()),
                ("X-Hub-Signature", sign(&signed_body)[..20].to_owned()),
            ],
            ..case("short signature", &signed_body, 401, "bad_signature")
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_class_is_answered_and_kept() -> Result<()> {
    let ingest = Ingest::start(config(integrations())).await?;
    let cases = cases();
    for c in &cases {
        let headers: Vec<(&str, &str)> = c
            .headers
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain([("X-Atlassian-Webhook-Identifier", c.name)])
            .collect();
        let answer = ingest
            .request(
                c.method,
                &format!("/webhooks/jira/{}", c.token),
                &headers,
                &c.body,
            )
            .await?;
        assert_eq!(answer.status, c.status, "{}: {:?}", c.name, answer.body);
        assert_eq!(answer.error_code(), c.code, "{}", c.name);
        assert!(
            answer.body["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{}: a detail",
            c.name
        );
        if c.status == 405 {
            assert_eq!(answer.header("allow"), Some("POST"));
        }
    }

    // Unknown tokens: 404, counted, never stored.
    let unknown = ingest
        .post_json(
            "not-a-token-of-anyone-here",
            &[],
            b"{\"webhookEvent\":\"x\"}",
        )
        .await?;
    assert_eq!(
        (unknown.status, unknown.error_code()),
        (404, "unknown_token")
    );

    let rejected = ingest.rejected().await?;
    assert_eq!(
        rejected.len(),
        cases.len(),
        "one raw.rejected record per refused request, none for the unknown token"
    );
    for c in &cases {
        let r = rejected
            .iter()
            .find(|r| r.delivery_id == c.name)
            .unwrap_or_else(|| panic!("{} not in raw.rejected", c.name));
        assert_eq!(
            (r.reason.as_str(), r.status, r.method.as_str()),
            (c.code, u32::from(c.status), c.method),
            "{}",
            c.name
        );
        assert!(!r.detail.is_empty());
        let expected_integration = if c.token == CLOUD_TOKEN {
            "cloud"
        } else {
            "server"
        };
        assert_eq!(r.integration_id, expected_integration);
        if c.code == "body_too_large" {
            assert!(
                r.body_truncated && r.body.len() == 64 * 1024 && r.body_len > 64 * 1024,
                "truncated to the limit"
            );
        } else {
            assert_eq!(r.body, c.body, "{}: the body is kept byte for byte", c.name);
            assert!(!r.body_truncated);
        }
    }
    let log = ingest.log().await?;
    for c in &cases {
        assert!(
            log.iter().any(|e| e.delivery_id == c.name
                && e.code == c.code
                && e.level == schema::v1::LogLevel::Warning as i32),
            "{} logged",
            c.name
        );
    }
    assert!(
        ingest.raw().await?.is_empty(),
        "nothing refused reaches raw"
    );
    ingest.stop().await
}
