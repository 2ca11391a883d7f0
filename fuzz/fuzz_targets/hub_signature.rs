//! Fuzzes `X-Hub-Signature` verification. The input is split on its first two newlines into
//! secret, header and body (a header cannot hold a newline in HTTP either). Beyond "never
//! panics", an independent HMAC oracle checks that a fuzzed header is accepted exactly when it
//! is the right digest of the body under the secret, and that the right digest is always
//! accepted.
#![no_main]

use hmac::{Hmac, Mac};
use ingest::signature::verify_hub_signature;
use libfuzzer_sys::fuzz_target;
use sha2::{Sha256, Sha512};

fn digest<M: Mac + hmac::digest::KeyInit>(secret: &[u8], body: &[u8]) -> Vec<u8> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// What the header should be accepted as: `Some` only for `sha256=`/`sha512=` (any case, outer
/// whitespace trimmed) followed by the exact digest in hex.
fn oracle(secret: &[u8], header: &str, body: &[u8]) -> bool {
    let Some((method, hex_digest)) = header.trim().split_once('=') else {
        return false;
    };
    let expected = match method.to_ascii_lowercase().as_str() {
        "sha256" => digest::<Hmac<Sha256>>(secret, body),
        "sha512" => digest::<Hmac<Sha512>>(secret, body),
        _ => return false,
    };
    hex_digest.len() == expected.len() * 2 && hex::decode(hex_digest).ok() == Some(expected)
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let secret = parts.next().unwrap_or_default();
    let header = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();

    let verdict = verify_hub_signature(secret, &header, body);
    assert_eq!(
        verdict.is_ok(),
        oracle(secret, &header, body),
        "header {header:?} judged {verdict:?}"
    );

    for signed in [
        format!(
            "sha256={}",
            hex::encode(digest::<Hmac<Sha256>>(secret, body))
        ),
        format!(
            "sha512={}",
            hex::encode(digest::<Hmac<Sha512>>(secret, body))
        ),
    ] {
        assert_eq!(verify_hub_signature(secret, &signed, body), Ok(()));
        assert_eq!(
            verify_hub_signature(secret, &signed.to_uppercase(), body),
            Ok(()),
            "method and hex are case-insensitive"
        );
    }
});
