//! A test collector on loopback parses every frame with RFC 6587 octet counting and every
//! message with an RFC 5424 parser (`syslog_loose`), over plain TCP and over TLS.

use std::time::Duration;

use schema::v1::{Action, AuditChange, RecordRef, User};
use syslog_loose::{parse_message_with_year_exact, Variant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;

fn audit(id: u64) -> AuditEvent {
    AuditEvent {
        id,
        audit_action: Action::Update as i32,
        created_at_ms: 1_795_860_000_000,
        workspace: "PLAT".into(),
        auditable: Some(RecordRef {
            r#type: "issue".into(),
            id: "10001".into(),
        }),
        user: Some(User {
            id: "acc-1".into(),
            name: "Ada | Lovelace".into(),
            ..Default::default()
        }),
        changes: vec![AuditChange {
            field_id: "status".into(),
            field_name: "Status".into(),
            value: Some("Done".into()),
            previous_value: Some("a=b".into()),
            ..Default::default()
        }],
        record_key: "issue/10001".into(),
        ..Default::default()
    }
}

/// Reads octet-counted frames until the peer closes, sending each message on `out`.
async fn read_frames(mut stream: impl AsyncRead + Unpin, out: mpsc::UnboundedSender<String>) {
    loop {
        let mut len = Vec::new();
        loop {
            let mut b = [0u8; 1];
            if stream.read_exact(&mut b).await.is_err() {
                return;
            }
            if b[0] == b' ' {
                break;
            }
            assert!(
                b[0].is_ascii_digit(),
                "frame length must be digits, got {:?}",
                b[0] as char
            );
            len.push(b[0]);
        }
        let n: usize = std::str::from_utf8(&len).unwrap().parse().unwrap();
        let mut msg = vec![0u8; n];
        stream.read_exact(&mut msg).await.unwrap();
        let _ = out.send(String::from_utf8(msg).unwrap());
    }
}

fn config(address: String, format: BodyFormat) -> SyslogConfig {
    SyslogConfig {
        address,
        tls: false,
        ca_file: None,
        server_name: None,
        format,
        facility: 13,
        severity: 5,
        app_name: "auditstream".into(),
        hostname: Some("emitter-1".into()),
        connect_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(5),
    }
}

/// Parses one message as RFC 5424 and returns its MSG part.
fn parse_5424(text: &str) -> String {
    let m = parse_message_with_year_exact(text, |_| 2026, Variant::RFC5424)
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(m.protocol, syslog_loose::Protocol::RFC5424(1));
    assert_eq!(m.appname, Some("auditstream"));
    assert_eq!(m.hostname, Some("emitter-1"));
    assert_eq!(m.facility, Some(syslog_loose::SyslogFacility::LOG_AUDIT));
    assert_eq!(m.severity, Some(syslog_loose::SyslogSeverity::SEV_NOTICE));
    assert_eq!(m.structured_data.len(), 1);
    m.msg.to_owned()
}

async fn tcp_collector() -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(read_frames(stream, tx.clone()));
        }
    });
    (address, rx)
}

#[tokio::test]
async fn tcp_json_bodies_parse_as_rfc5424_with_octet_counting() {
    let (address, mut rx) = tcp_collector().await;
    let sink = SyslogSink::new(&config(address, BodyFormat::Json)).unwrap();
    for id in [11u64, 12, 13] {
        let a = audit(id);
        let body = schema::audit_json::render(&a);
        assert_eq!(
            sink.deliver(&a, &body).await,
            AttemptOutcome::Delivered { status: 0 }
        );
    }
    for id in [11u64, 12, 13] {
        let msg = parse_5424(&rx.recv().await.unwrap());
        let json: serde_json::Value = serde_json::from_str(&msg).unwrap();
        assert_eq!(json["audit"]["id"], id.to_string());
    }
}

#[tokio::test]
async fn tcp_cef_bodies_carry_the_audit() {
    let (address, mut rx) = tcp_collector().await;
    let sink = SyslogSink::new(&config(address, BodyFormat::Cef)).unwrap();
    let a = audit(42);
    assert_eq!(
        sink.deliver(&a, b"unused").await,
        AttemptOutcome::Delivered { status: 0 }
    );
    let msg = parse_5424(&rx.recv().await.unwrap());
    assert!(msg.starts_with("CEF:0|auditstream|auditstream|"), "{msg}");
    assert!(msg.contains("|audit.update|issue update|5|"), "{msg}");
    assert!(msg.contains("externalId=42"), "{msg}");
    assert!(msg.contains("suser=Ada | Lovelace"), "{msg}");
    assert!(msg.contains("msg=Status: a\\=b -> Done"), "{msg}");
}

#[tokio::test]
async fn unreachable_collector_is_a_transient_failure_and_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let sink = SyslogSink::new(&config(address.clone(), BodyFormat::Json)).unwrap();
    let a = audit(1);
    match sink.deliver(&a, b"{}").await {
        AttemptOutcome::Failed(f) => assert_eq!(f.kind, crate::sinks::FailureKind::Transient),
        other => panic!("{other:?}"),
    }
    let listener = TcpListener::bind(&address).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        read_frames(stream, tx).await;
    });
    assert_eq!(
        sink.deliver(&a, &schema::audit_json::render(&a)).await,
        AttemptOutcome::Delivered { status: 0 }
    );
    assert!(parse_5424(&rx.recv().await.unwrap()).contains("\"id\":\"1\""));
}

#[tokio::test]
async fn tls_with_a_self_signed_collector() {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, cert.pem()).unwrap();

    let key = rustls::pki_types::PrivateKeyDer::try_from(key_pair.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    read_frames(tls, tx).await;
                }
            });
        }
    });

    let mut c = config(address, BodyFormat::Json);
    c.tls = true;
    c.ca_file = Some(ca_file);
    c.server_name = Some("localhost".into());
    let sink = SyslogSink::new(&c).unwrap();
    for id in [7u64, 8] {
        let a = audit(id);
        assert_eq!(
            sink.deliver(&a, &schema::audit_json::render(&a)).await,
            AttemptOutcome::Delivered { status: 0 }
        );
    }
    for id in [7u64, 8] {
        let json: serde_json::Value =
            serde_json::from_str(&parse_5424(&rx.recv().await.unwrap())).unwrap();
        assert_eq!(json["audit"]["id"], id.to_string());
    }

    // A collector whose certificate we do not trust gets nothing.
    let mut untrusted = c.clone();
    untrusted.ca_file = None;
    let sink = SyslogSink::new(&untrusted).unwrap();
    assert!(matches!(
        sink.deliver(&audit(9), b"{}").await,
        AttemptOutcome::Failed(_)
    ));
}
