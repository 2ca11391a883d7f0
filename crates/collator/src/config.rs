//! `[collator]` configuration.

use std::time::Duration;

use serde::Deserialize;

/// The documented defaults of the `[collator]` section.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// `[collator]` section; every key is documented in `default.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollatorConfig {
    pub group_id: String,
    #[serde(with = "humantime_serde")]
    pub gap: Duration,
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    pub keep_reverted_fields: bool,
    pub interesting_fields: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub tick: Duration,
    #[serde(with = "humantime_serde")]
    pub arrival_grace: Duration,
    #[serde(with = "humantime_serde")]
    pub dedup_retention: Duration,
    pub max_batch: usize,
    #[serde(with = "humantime_serde")]
    pub batch_wait: Duration,
    pub batches_in_flight: usize,
    #[serde(with = "humantime_serde")]
    pub restore_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        collator: CollatorConfig,
    }

    #[test]
    fn default_toml_parses() {
        let file: File = toml::from_str(DEFAULT_TOML).unwrap();
        let c = file.collator;
        assert_eq!(c.group_id, "auditstream-collator");
        assert_eq!(c.gap, Duration::from_secs(300));
        assert_eq!(c.max_duration, Duration::from_secs(3600));
        assert!(!c.keep_reverted_fields);
        assert!(c.interesting_fields.iter().any(|f| f == "status"));
        assert_eq!(c.tick, Duration::from_millis(100));
        assert_eq!(c.batches_in_flight, 4);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = DEFAULT_TOML.replace("gap = \"5m\"", "gap = \"5m\"\ngapp = \"1s\"");
        assert!(toml::from_str::<File>(&text).is_err());
    }
}
