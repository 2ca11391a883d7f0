use rdkafka::error::KafkaError;

/// Errors of the emitter role. Each says whether retrying can help ([`Error::is_retryable`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("emitter configuration: {0}")]
    Config(String),
    #[error("shared plumbing")]
    Common(#[source] common::Error),
    #[error("kafka: {context}")]
    Kafka {
        context: String,
        #[source]
        source: KafkaError,
    },
    #[error("io: {context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("tls: {context}")]
    Tls {
        context: String,
        #[source]
        source: rustls::Error,
    },
    #[error("http client")]
    Http(#[source] reqwest::Error),
    #[error("no sink named {0} is configured")]
    UnknownSink(String),
    #[error("background task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl Error {
    pub fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        Error::Kafka {
            context: context.into(),
            source,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// True when the same call may succeed later (a broker or endpoint that is down).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Common(e) => e.is_retryable(),
            Error::Kafka { .. } | Error::Io { .. } | Error::Http(_) => true,
            Error::Config(_) | Error::Tls { .. } | Error::UnknownSink(_) | Error::Task(_) => false,
        }
    }
}

impl From<common::Error> for Error {
    fn from(e: common::Error) -> Self {
        Error::Common(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
