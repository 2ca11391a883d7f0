//! The effective configuration: every section's documented defaults, then the user's file,
//! then `AUDITSTREAM_*` variables (see `common::config`).

use std::path::Path;

use common::kafka::KafkaConfig;
use serde::Deserialize;

const KAFKA_DEFAULTS: &str = include_str!("kafka_defaults.toml");

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub ingest: ingest::IngestConfig,
    pub collator: collator::CollatorConfig,
    pub emitter: emitter::EmitterConfig,
}

/// The documented defaults of every section, as one TOML document (`auditstream config`).
pub fn defaults() -> String {
    [
        KAFKA_DEFAULTS,
        ingest::DEFAULT_TOML,
        collator::DEFAULT_TOML,
        emitter::DEFAULT_TOML,
    ]
    .join("\n")
}

impl Config {
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        Ok(common::config::load(&defaults(), file, std::env::vars())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_load() {
        let config: Config = common::config::load(&defaults(), None, Vec::new()).unwrap();
        assert_eq!(config.kafka.partitions, 6);
        assert_eq!(config.collator.gap, std::time::Duration::from_secs(300));
    }

    #[test]
    fn example_config_loads() {
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/auditstream.example.toml");
        let config: Config = common::config::load(&defaults(), Some(&example), Vec::new()).unwrap();
        assert!(!config.ingest.integrations.is_empty());
    }
}
