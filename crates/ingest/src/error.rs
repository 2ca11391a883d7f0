use std::path::PathBuf;

/// Errors of the ingest role. Request-level problems are answered over HTTP and never reach
/// this type; it covers what stops the role itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ingest configuration: {0}")]
    Config(String),
    #[error("binding {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading TLS PEM file {}", path.display())]
    TlsPem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("TLS certificate and key refused")]
    Tls(#[source] rustls::Error),
    #[error("kafka plumbing")]
    Common(#[source] common::Error),
}

impl Error {
    /// True when starting again later may succeed (a port still in use, a broker not up yet).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Config(_) | Error::Tls(_) => false,
            // A certificate being renewed may be missing or half-written for a moment.
            Error::Bind { .. } | Error::TlsPem { .. } => true,
            Error::Common(e) => e.is_retryable(),
        }
    }
}

impl From<common::Error> for Error {
    fn from(e: common::Error) -> Self {
        Error::Common(e)
    }
}
