//! HTTPS for deployments without a TLS-terminating proxy: rustls with the `ring` provider,
//! chosen explicitly so the process-wide default provider (and whatever other crates installed
//! or failed to install) does not matter.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// Loads the PEM certificate chain and key into a TLS acceptor speaking HTTP/1.1.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, Error> {
    let pem_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::TlsPem { path, source }
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(pem_error(cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(cert))?;
    if chain.is_empty() {
        return Err(Error::Config(format!(
            "tls_cert {} holds no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error(key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(Error::Tls)?;
    // Only HTTP/1.1 is served; saying so keeps clients from offering h2 over ALPN.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_reported_with_their_path() {
        let dir = std::env::temp_dir();
        let missing = dir.join("auditstream-ingest-no-such-cert.pem");
        let err = acceptor(&missing, &missing).err().unwrap();
        assert!(matches!(&err, Error::TlsPem { path, .. } if path == &missing));
        assert!(err.is_retryable());

        let empty = dir.join(format!(
            "auditstream-ingest-empty-{}.pem",
            std::process::id()
        ));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = acceptor(&empty, &empty).err().unwrap();
        std::fs::remove_file(&empty).unwrap();
        assert!(err.to_string().contains("holds no certificate"), "{err}");
    }
}
