//! The embedded broker: librdkafka's in-process mock cluster, a real Kafka-protocol listener on
//! loopback. It keeps everything in memory on one machine and silently drops data beyond about
//! 5 MB per partition, so it is for trying auditstream and for tests, never for production.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use crate::topics::TopicSpec;
use crate::{Error, Result};

/// A running in-process broker. Dropping it stops the broker.
pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker")
            .field("bootstrap", &self.bootstrap_servers())
            .finish()
    }
}

impl EmbeddedBroker {
    /// Starts a one-broker cluster and creates the topics. (The mock cluster answers admin
    /// requests slowly, so topics are created through its own API.)
    pub fn start(specs: &[TopicSpec]) -> Result<Self> {
        let cluster =
            MockCluster::new(1).map_err(|e| Error::kafka("starting embedded broker", e))?;
        for spec in specs {
            cluster
                .create_topic(&spec.name, spec.partitions, 1)
                .map_err(|e| {
                    Error::kafka(
                        format!("creating topic {} on embedded broker", spec.name),
                        e,
                    )
                })?;
        }
        tracing::warn!(
            bootstrap = %cluster.bootstrap_servers(),
            "using the EMBEDDED in-memory broker: single machine, nothing survives a restart, \
             data beyond ~5 MB per partition is dropped; configure kafka.brokers for real use"
        );
        Ok(EmbeddedBroker { cluster })
    }

    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// Takes the broker down (requests fail) or brings it back: for tests of what a role does
    /// when the cluster is unreachable.
    pub fn set_down(&self, down: bool) -> Result<()> {
        let r = if down {
            self.cluster.broker_down(1)
        } else {
            self.cluster.broker_up(1)
        };
        r.map_err(|e| Error::kafka("changing embedded broker state", e))
    }
}
