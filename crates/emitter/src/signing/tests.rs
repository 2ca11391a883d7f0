//! Standard Webhooks' published test vector (also produced independently with Python's
//! `hmac`), the empty-signature bug, truncation, rotation and timestamp tolerance.

use super::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn secret() -> WebhookSecret {
    WebhookSecret::parse(SECRET).unwrap()
}

#[test]
fn signs_the_published_test_vector() {
    assert_eq!(sign(&secret(), ID, TS, BODY), SIGNATURE);
}

#[test]
fn verifies_the_published_test_vector() {
    assert_eq!(
        verify(&[secret()], ID, "1614265330", SIGNATURE, BODY, TS),
        Ok(())
    );
    assert_eq!(
        verify(
            &[secret()],
            ID,
            "1614265330",
            SIGNATURE,
            BODY,
            TS + TIMESTAMP_TOLERANCE_SECS
        ),
        Ok(())
    );
}

#[test]
fn empty_signature_is_rejected() {
    assert_eq!(
        verify(&[secret()], ID, "1614265330", "v1,", BODY, TS),
        Err(VerifyError::NoSignature)
    );
    assert_eq!(
        verify(&[secret()], ID, "1614265330", "", BODY, TS),
        Err(VerifyError::NoSignature)
    );
    assert_eq!(
        verify(&[secret()], ID, "1614265330", "v1, v1,", BODY, TS),
        Err(VerifyError::NoSignature)
    );
}

#[test]
fn truncated_signature_is_rejected() {
    // Cut to whole base64 quanta so the truncated text still decodes.
    for cut in [4usize, 8, 20, 40] {
        let truncated = &SIGNATURE[..3 + cut];
        assert_eq!(
            verify(&[secret()], ID, "1614265330", truncated, BODY, TS),
            Err(VerifyError::NoMatch),
            "{truncated}"
        );
    }
}

#[test]
fn tampered_body_id_or_timestamp_is_rejected() {
    assert_eq!(
        verify(
            &[secret()],
            ID,
            "1614265330",
            SIGNATURE,
            br#"{"test": 2432232315}"#,
            TS
        ),
        Err(VerifyError::NoMatch)
    );
    assert_eq!(
        verify(&[secret()], "msg_other", "1614265330", SIGNATURE, BODY, TS),
        Err(VerifyError::NoMatch)
    );
    assert_eq!(
        verify(&[secret()], ID, "1614265331", SIGNATURE, BODY, TS),
        Err(VerifyError::NoMatch)
    );
}

#[test]
fn timestamp_outside_tolerance_is_rejected() {
    let late = TS + TIMESTAMP_TOLERANCE_SECS + 1;
    assert_eq!(
        verify(&[secret()], ID, "1614265330", SIGNATURE, BODY, late),
        Err(VerifyError::TimestampOutOfTolerance)
    );
    assert_eq!(
        verify(&[secret()], ID, "soon", SIGNATURE, BODY, TS),
        Err(VerifyError::BadTimestamp)
    );
}

#[test]
fn rotation_two_secrets_each_verify() {
    let new = WebhookSecret::parse("whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==").unwrap();
    let header = signature_header(&[secret(), new.clone()], ID, TS, BODY);
    assert_eq!(header.split(' ').count(), 2);
    assert!(header.starts_with(SIGNATURE));
    assert_eq!(
        verify(&[secret()], ID, "1614265330", &header, BODY, TS),
        Ok(())
    );
    assert_eq!(
        verify(
            std::slice::from_ref(&new),
            ID,
            "1614265330",
            &header,
            BODY,
            TS
        ),
        Ok(())
    );
    let stranger = WebhookSecret::parse("whsec_YW5vdGhlci1zZWNyZXQtZW50aXJlbHk=").unwrap();
    assert_eq!(
        verify(&[stranger], ID, "1614265330", &header, BODY, TS),
        Err(VerifyError::NoMatch)
    );
}

#[test]
fn secrets_are_validated() {
    assert_eq!(
        WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        Err(SecretError::MissingPrefix)
    );
    assert_eq!(
        WebhookSecret::parse("whsec_!!!"),
        Err(SecretError::NotBase64)
    );
    assert_eq!(
        WebhookSecret::parse("whsec_c2hvcnQ="),
        Err(SecretError::TooShort)
    );
    assert_eq!(format!("{:?}", secret()), "WebhookSecret(..)");
}
