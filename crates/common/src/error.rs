use rdkafka::error::KafkaError;

/// Errors of the shared plumbing. Each says whether retrying can help.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("configuration file {path}")]
    ConfigFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration is not valid TOML")]
    ConfigSyntax(#[source] toml::de::Error),
    #[error("kafka: {context}")]
    Kafka {
        context: String,
        #[source]
        source: KafkaError,
    },
    #[error("topic {topic} has {actual} partitions, {expected} expected")]
    PartitionMismatch {
        topic: String,
        actual: i32,
        expected: i32,
    },
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("io: {context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        Error::Kafka {
            context: context.into(),
            source,
        }
    }

    /// True when the same call may succeed later (a broker that is down, a timeout).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Kafka { .. } | Error::Timeout(_) | Error::Io { .. }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
