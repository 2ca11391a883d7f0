//! `auditstream log`: the integration log, one line per entry, filtered by sink, integration
//! and level; `--follow` keeps reading.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message as _, Offset, TopicPartitionList};
use schema::v1::{IntegrationLogEntry, LogLevel};
use schema::Message;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// Only entries of this sink.
    #[arg(long)]
    sink: Option<String>,
    /// Only entries of this integration.
    #[arg(long)]
    integration: Option<String>,
    /// Only entries at this level or above: info, warning, error.
    #[arg(long, value_parser = ["info", "warning", "error"])]
    level: Option<String>,
    /// Keep reading new entries until interrupted.
    #[arg(long)]
    follow: bool,
    /// Print entries as proto3 JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Unspecified | LogLevel::Info => 0,
        LogLevel::Warning => 1,
        LogLevel::Error => 2,
    }
}

impl LogArgs {
    fn keeps(&self, e: &IntegrationLogEntry) -> bool {
        let min = match self.level.as_deref() {
            Some("error") => 2,
            Some("warning") => 1,
            _ => 0,
        };
        self.sink.as_ref().is_none_or(|s| *s == e.sink)
            && self
                .integration
                .as_ref()
                .is_none_or(|i| *i == e.integration_id)
            && rank(e.level()) >= min
    }

    fn line(&self, e: &IntegrationLogEntry) -> String {
        if self.json {
            return serde_json::to_string(e).unwrap_or_default();
        }
        let mut line = format!(
            "{} {:<7} {:<8} {}",
            schema::format_rfc3339_ms(e.at_ms),
            common::integration_log::level_word(e.level()),
            e.component,
            e.code
        );
        let fields = [
            ("integration", e.integration_id.clone()),
            ("sink", e.sink.clone()),
            ("audit", e.audit_id.clone()),
            ("delivery", e.delivery_id.clone()),
            (
                "attempt",
                if e.attempt > 0 {
                    e.attempt.to_string()
                } else {
                    String::new()
                },
            ),
            (
                "status",
                if e.status > 0 {
                    e.status.to_string()
                } else {
                    String::new()
                },
            ),
            (
                "latency_ms",
                if e.latency_ms > 0 {
                    e.latency_ms.to_string()
                } else {
                    String::new()
                },
            ),
        ];
        for (k, v) in fields.iter().filter(|(_, v)| !v.is_empty()) {
            line.push_str(&format!(" {k}={v}"));
        }
        if !e.message.is_empty() {
            line.push_str(&format!(" {}", e.message));
        }
        if !e.error.is_empty() {
            line.push_str(&format!(" error={:?}", e.error));
        }
        line
    }
}

pub async fn log(config: Config, args: LogArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    anyhow::ensure!(
        !config.kafka.brokers.is_empty(),
        "log needs kafka.brokers (or --brokers)"
    );
    tokio::task::spawn_blocking(move || read(config, args, shutdown)).await?
}

fn read(config: Config, args: LogArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let topic = config.kafka.topics().integration_log;
    let print = |payload: &[u8]| match IntegrationLogEntry::decode(payload) {
        Ok(e) if args.keeps(&e) => println!("{}", args.line(&e)),
        Ok(_) => {}
        Err(e) => eprintln!("skipping an unreadable integration.log record: {e}"),
    };
    if !args.follow {
        common::consume::read_to_end(&config.kafka, &topic, None, Duration::from_secs(60), |m| {
            print(m.payload().unwrap_or_default())
        })?;
        return Ok(());
    }
    let mut client = config.kafka.client_config();
    client.set(
        "group.id",
        format!("auditstream-log-{}", std::process::id()),
    );
    client.set("enable.auto.commit", "false");
    let consumer: BaseConsumer = client.create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..config.kafka.partition_count(&topic)? {
        tpl.add_partition_offset(&topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    while !shutdown.is_cancelled() {
        match consumer.poll(Duration::from_millis(300)) {
            Some(Ok(m)) => print(m.payload().unwrap_or_default()),
            Some(Err(e)) => tracing::warn!(error = %e, "reading integration.log"),
            None => {}
        }
    }
    Ok(())
}
