//! `auditstream`: one binary, a subcommand per role. `run` starts every role in one process
//! (on an embedded broker when no cluster is configured), `ingest`/`collate`/`emit` one role
//! each for scaling, `demo` shows the pipeline on bundled Jira webhooks, `replay` rebuilds or
//! re-sends audits, `log` reads the integration log, `receive` is a sample webhook receiver.

mod commands;
mod config;
mod time_arg;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: the collator allocates and frees small buffers
/// for every record, where glibc's malloc cost it a fifth of its time
/// (BENCHMARKS-HISTORY.md, third pass).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "auditstream",
    version,
    about = "Jira webhooks in, a collated audit stream out"
)]
struct Cli {
    /// Configuration file (TOML). Defaults are documented in `auditstream config`.
    #[arg(long, short, global = true, env = "AUDITSTREAM_CONFIG")]
    config: Option<PathBuf>,
    /// Kafka bootstrap servers (`host:port,...`); overrides `kafka.brokers`.
    #[arg(long, global = true, env = "AUDITSTREAM_BROKERS")]
    brokers: Option<String>,
    /// Log as JSON lines (on stderr) instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every role in one process; with no brokers configured, on an embedded in-memory broker.
    Run,
    /// The ingest role: receives Jira webhooks and writes them to `raw`.
    Ingest,
    /// The collator role: session windows over `raw`, audits to `audit` (run several).
    Collate,
    /// The emitter role: delivers audits to the configured sinks.
    Emit,
    /// Runs the pipeline on the embedded broker, posts bundled real Jira webhooks, prints the
    /// collated audits and exits.
    Demo {
        /// Session gap for the demo (the product default is 5 minutes).
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        gap: std::time::Duration,
    },
    /// Rebuilds audits from `raw` into a topic, or re-sends to one sink what it missed.
    Replay(commands::replay::ReplayArgs),
    /// Reads the integration log.
    Log(commands::log::LogArgs),
    /// A sample webhook receiver: verifies Standard Webhooks signatures and prints each audit.
    Receive(commands::receive::ReceiveArgs),
    /// Creates the topics (idempotent) and exits.
    Topics,
    /// Prints the documented default configuration.
    Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    common::telemetry::init_tracing(cli.log_json);
    if let Command::Config = cli.command {
        print!("{}", config::defaults());
        return Ok(());
    }
    let mut config = config::Config::load(cli.config.as_deref())?;
    if let Some(brokers) = cli.brokers {
        config.kafka.brokers = brokers;
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    common::shutdown::cancel_on_signal(shutdown.clone());
    use commands::run::Roles;
    match cli.command {
        Command::Run => commands::run::run(config, Roles::ALL, shutdown).await,
        Command::Ingest => commands::run::run(config, Roles::INGEST, shutdown).await,
        Command::Collate => commands::run::run(config, Roles::COLLATE, shutdown).await,
        Command::Emit => commands::run::run(config, Roles::EMIT, shutdown).await,
        Command::Demo { gap } => commands::demo::demo(config, gap, shutdown).await,
        Command::Replay(args) => commands::replay::replay(config, args).await,
        Command::Log(args) => commands::log::log(config, args, shutdown).await,
        Command::Receive(args) => commands::receive::receive(args, shutdown).await,
        Command::Topics => {
            let specs = config.kafka.topics().specs(config.kafka.partitions);
            anyhow::ensure!(
                !config.kafka.brokers.is_empty(),
                "`topics` needs kafka.brokers (or --brokers)"
            );
            config.kafka.ensure_topics(&specs).await?;
            tracing::info!(count = specs.len(), "topics ready");
            Ok(())
        }
        Command::Config => Ok(()),
    }
}
