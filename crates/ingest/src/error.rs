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
    #[error("serving HTTP")]
    Serve(#[source] std::io::Error),
    #[error("kafka plumbing")]
    Common(#[source] common::Error),
}

impl Error {
    /// True when starting again later may succeed (a port still in use, a broker not up yet).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Config(_) => false,
            Error::Bind { .. } | Error::Serve(_) => true,
            Error::Common(e) => e.is_retryable(),
        }
    }
}

impl From<common::Error> for Error {
    fn from(e: common::Error) -> Self {
        Error::Common(e)
    }
}
