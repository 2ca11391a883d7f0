//! The topics of the pipeline (DESIGN §2), named with the configured prefix.

use serde::{Deserialize, Serialize};

/// How one topic is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    /// Compacted topics keep the last value per key (collator state, delivery ledger).
    pub compacted: bool,
}

/// Every topic name, prefix applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topics {
    pub raw: String,
    pub raw_rejected: String,
    pub audit: String,
    pub audit_live: String,
    pub collator_state: String,
    pub audit_retry: String,
    pub audit_dlq: String,
    pub integration_log: String,
    pub emitter_delivered: String,
}

impl Topics {
    pub fn with_prefix(prefix: &str) -> Self {
        let t = |name: &str| format!("{prefix}{name}");
        Topics {
            raw: t("raw"),
            raw_rejected: t("raw.rejected"),
            audit: t("audit"),
            audit_live: t("audit.live"),
            collator_state: t("collator-state"),
            audit_retry: t("audit.retry"),
            audit_dlq: t("audit.dlq"),
            integration_log: t("integration.log"),
            emitter_delivered: t("emitter.delivered"),
        }
    }

    /// The layout to create: `raw` and `collator-state` share a partition count, so a record's
    /// state lives on the same partition number as its events.
    pub fn specs(&self, partitions: i32) -> Vec<TopicSpec> {
        let spec = |name: &String, partitions: i32, compacted: bool| TopicSpec {
            name: name.clone(),
            partitions,
            compacted,
        };
        vec![
            spec(&self.raw, partitions, false),
            spec(&self.raw_rejected, 1, false),
            spec(&self.audit, partitions, false),
            spec(&self.audit_live, partitions, false),
            spec(&self.collator_state, partitions, true),
            spec(&self.audit_retry, partitions, false),
            spec(&self.audit_dlq, 1, false),
            spec(&self.integration_log, 1, false),
            spec(&self.emitter_delivered, partitions, true),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_shared_partitioning() {
        let topics = Topics::with_prefix("prod.");
        assert_eq!(topics.raw, "prod.raw");
        let specs = topics.specs(6);
        let raw = specs.iter().find(|s| s.name == "prod.raw").unwrap();
        let state = specs
            .iter()
            .find(|s| s.name == "prod.collator-state")
            .unwrap();
        assert_eq!(raw.partitions, state.partitions);
        assert!(state.compacted && !raw.compacted);
    }
}
