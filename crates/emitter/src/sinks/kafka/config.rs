use serde::Deserialize;

/// Keys of a `kind = "kafka"` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// Topic name; the `[kafka]` topic_prefix is prepended.
    pub topic: String,
}
