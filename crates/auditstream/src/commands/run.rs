//! Starting roles: one, several or all in one process, on the configured cluster or, for
//! `run` and `demo` without one, on the embedded broker.

use anyhow::Context;
use common::embedded::EmbeddedBroker;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Which roles a process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub ingest: bool,
    pub collate: bool,
    pub emit: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        ingest: true,
        collate: true,
        emit: true,
    };
    pub const INGEST: Roles = Roles {
        ingest: true,
        collate: false,
        emit: false,
    };
    pub const COLLATE: Roles = Roles {
        ingest: false,
        collate: true,
        emit: false,
    };
    pub const EMIT: Roles = Roles {
        ingest: false,
        collate: false,
        emit: true,
    };

    fn all(&self) -> bool {
        self.ingest && self.collate && self.emit
    }
}

/// Makes sure there is a cluster with the topics: the configured one, or (all roles only) a
/// fresh embedded broker, which the caller must keep alive.
pub async fn prepare_cluster(
    config: &mut Config,
    roles: Roles,
) -> anyhow::Result<Option<EmbeddedBroker>> {
    let specs = config.kafka.topics().specs(config.kafka.partitions);
    if config.kafka.brokers.is_empty() {
        anyhow::ensure!(
            roles.all(),
            "no Kafka cluster configured: set kafka.brokers (or --brokers); only `run` and `demo` start an embedded broker"
        );
        let broker = EmbeddedBroker::start(&specs)?;
        config.kafka.brokers = broker.bootstrap_servers();
        return Ok(Some(broker));
    }
    config
        .kafka
        .ensure_topics(&specs)
        .await
        .context("creating topics")?;
    Ok(None)
}

/// Runs the roles until `shutdown` is cancelled or one of them fails.
pub async fn run(
    mut config: Config,
    roles: Roles,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let _embedded = prepare_cluster(&mut config, roles).await?;
    run_roles(config, roles, None, shutdown).await
}

/// Runs the roles on a prepared cluster. `ingest_listener`, when given, replaces binding
/// `ingest.listen` (the demo binds a free port itself).
pub async fn run_roles(
    config: Config,
    roles: Roles,
    ingest_listener: Option<tokio::net::TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    if roles.ingest {
        let (kafka, cfg, token) = (
            config.kafka.clone(),
            config.ingest.clone(),
            shutdown.child_token(),
        );
        tasks.spawn(async move {
            match ingest_listener {
                Some(listener) => ingest::serve(listener, kafka, cfg, token).await,
                None => ingest::run(kafka, cfg, token).await,
            }
            .context("ingest")
        });
    }
    if roles.collate {
        let (kafka, cfg, token) = (
            config.kafka.clone(),
            config.collator.clone(),
            shutdown.child_token(),
        );
        tasks.spawn(async move { collator::run(kafka, cfg, token).await.context("collator") });
    }
    if roles.emit {
        let (kafka, cfg, token) = (
            config.kafka.clone(),
            config.emitter.clone(),
            shutdown.child_token(),
        );
        tasks.spawn(async move { emitter::run(kafka, cfg, token).await.context("emitter") });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.context("role task panicked").and_then(|r| r);
        if let Err(e) = result {
            tracing::error!(
                error = format!("{e:#}"),
                "role stopped; shutting down the others"
            );
            shutdown.cancel();
            first_error.get_or_insert(e);
        } else if !shutdown.is_cancelled() {
            // A role returned on its own: the process no longer does its whole job.
            tracing::error!("a role stopped unexpectedly; shutting down the others");
            shutdown.cancel();
        }
    }
    first_error.map_or(Ok(()), Err)
}
