use super::*;

#[test]
fn statuses_map_to_outcomes() {
    let failed = |code: u16| match classify(
        StatusCode::from_u16(code).unwrap(),
        Some(Duration::from_secs(30)),
    ) {
        AttemptOutcome::Failed(f) => f,
        other => panic!("{code}: {other:?}"),
    };
    assert_eq!(
        classify(StatusCode::OK, None),
        AttemptOutcome::Delivered { status: 200 }
    );
    assert_eq!(
        classify(StatusCode::NO_CONTENT, None),
        AttemptOutcome::Delivered { status: 204 }
    );
    assert_eq!(failed(410).kind, FailureKind::Gone);
    assert_eq!(
        (failed(400).kind, failed(400).class),
        (FailureKind::Permanent, ErrorClass::Receiver)
    );
    assert_eq!(failed(404).kind, FailureKind::Permanent);
    assert_eq!(
        (failed(500).kind, failed(500).class),
        (FailureKind::Transient, ErrorClass::Ours)
    );
    assert_eq!(failed(429).kind, FailureKind::Transient);
    assert_eq!(failed(429).retry_after, Some(Duration::from_secs(30)));
    assert_eq!(failed(503).retry_after, Some(Duration::from_secs(30)));
    // Retry-After is only honoured where the spec gives it meaning for us.
    assert_eq!(failed(500).retry_after, None);
}

#[test]
fn retry_after_reads_seconds_and_dates() {
    let mut h = HeaderMap::new();
    h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
    assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
    let later = (chrono::Utc::now() + chrono::Duration::seconds(600)).to_rfc2822();
    h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
    let wait = retry_after(&h).unwrap();
    assert!(
        wait > Duration::from_secs(500) && wait <= Duration::from_secs(600),
        "{wait:?}"
    );
    h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
    assert_eq!(retry_after(&h), None);
}

#[test]
fn bad_secrets_and_urls_are_config_errors() {
    let config = |url: &str, secret: &str| WebhookConfig {
        url: url.into(),
        secrets: vec![secret.into()],
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        rate_limit_per_second: 0,
        headers: Default::default(),
    };
    assert!(WebhookSink::new(&config(
        "http://127.0.0.1:1/h",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    ))
    .is_ok());
    assert!(matches!(
        WebhookSink::new(&config("http://127.0.0.1:1/h", "plain")),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        WebhookSink::new(&config(
            "not a url",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        )),
        Err(Error::Config(_))
    ));
}
