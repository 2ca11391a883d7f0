//! The harness's one error type.

/// Why a benchmark run failed. A verification failure is an error, not a figure: a fast wrong
/// answer scores nothing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kafka: {context}")]
    Kafka {
        context: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("auditstream plumbing: {context}")]
    Common {
        context: String,
        #[source]
        source: Box<common::Error>,
    },
    #[error("collator failed")]
    Collator(#[source] Box<collator::Error>),
    #[error("ingest failed")]
    Ingest(#[source] Box<ingest::Error>),
    #[error("emitter failed")]
    Emitter(#[source] Box<emitter::Error>),
    #[error("http: {context}")]
    Http {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the memory scenario's own process: {context}")]
    MemoryProcess {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config")]
    Config(#[source] Box<toml::de::Error>),
    #[error("verification failed: {0}")]
    Verification(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("a benchmark task was lost")]
    TaskLost(#[source] tokio::task::JoinError),
}

impl Error {
    pub fn kafka(context: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Error::Kafka {
            context: context.into(),
            source,
        }
    }

    pub fn collator(source: collator::Error) -> Self {
        Error::Collator(Box::new(source))
    }

    pub fn ingest(source: ingest::Error) -> Self {
        Error::Ingest(Box::new(source))
    }

    pub fn emitter(source: emitter::Error) -> Self {
        Error::Emitter(Box::new(source))
    }

    pub fn config(source: toml::de::Error) -> Self {
        Error::Config(Box::new(source))
    }

    pub fn common(context: impl Into<String>, source: common::Error) -> Self {
        Error::Common {
            context: context.into(),
            source: Box::new(source),
        }
    }
}
