use rdkafka::error::KafkaError;

/// Errors of the collator. Each says whether retrying (restarting the role) can help.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kafka: {context}")]
    Kafka {
        context: String,
        #[source]
        source: KafkaError,
    },
    #[error("shared plumbing")]
    Common(#[source] common::Error),
    #[error("restoring collator state of partition {partition}")]
    Restore {
        partition: i32,
        #[source]
        source: common::Error,
    },
    #[error("decoding a {what} record at {topic}/{partition}@{offset}")]
    Decode {
        what: &'static str,
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: prost::DecodeError,
    },
    #[error("the collator's consumer thread stopped without a result")]
    WorkerLost,
    #[error(
        "stopped with {batches} batches unwritten: the broker did not acknowledge them within \
         shutdown_timeout; their records are replayed from the last committed offsets"
    )]
    ShutdownIncomplete { batches: usize },
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    pub(crate) fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        Error::Kafka {
            context: context.into(),
            source,
        }
    }

    /// True when restarting the role may succeed (broker trouble); false for bad config.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Kafka { .. } | Error::Restore { .. } | Error::WorkerLost => true,
            Error::Common(e) => e.is_retryable(),
            // Only ever returned when asked to stop: nothing to restart.
            Error::Decode { .. } | Error::Config(_) | Error::ShutdownIncomplete { .. } => false,
        }
    }
}

impl From<common::Error> for Error {
    fn from(e: common::Error) -> Self {
        Error::Common(e)
    }
}
