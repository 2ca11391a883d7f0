//! `[bench]` configuration: the defaults of the load harness, which its flags override.

use std::time::Duration;

use serde::Deserialize;

use crate::Error;

/// The documented defaults of the `[bench]` section.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// `[bench]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    pub seed: u64,
    pub events: usize,
    pub records: usize,
    pub users: usize,
    pub fields: usize,
    pub partitions: i32,
    #[serde(with = "humantime_serde")]
    pub phase_timeout: Duration,
}

#[derive(Deserialize)]
struct File {
    bench: BenchConfig,
}

impl BenchConfig {
    /// The documented defaults.
    pub fn defaults() -> Result<Self, Error> {
        toml::from_str::<File>(DEFAULT_TOML)
            .map(|f| f.bench)
            .map_err(Error::config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_toml_parses_to_issue_6_workload() {
        let c = BenchConfig::defaults().unwrap();
        assert_eq!(
            (c.events, c.records, c.users, c.fields, c.partitions),
            (500_000, 20_000, 200, 8, 6)
        );
        assert_eq!(c.phase_timeout, Duration::from_secs(600));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = DEFAULT_TOML.replace("seed = 6", "seed = 6\nsed = 1");
        assert!(toml::from_str::<File>(&text).is_err());
    }
}
