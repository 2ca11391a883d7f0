//! `auditstream-bench`: the load harness. Runs the chosen scenarios against `--brokers` and
//! prints the results table (Markdown).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use auditstream_bench::broker::Target;
use auditstream_bench::report::Table;
use auditstream_bench::workload::Shape;
use auditstream_bench::{collate, emit, ingest_load, memory, BenchConfig, Error};
use clap::{Parser, ValueEnum};

/// mimalloc instead of the system allocator: the collator allocates and frees small buffers
/// for every record, where glibc's malloc cost it a fifth of its time
/// (BENCHMARKS-HISTORY.md, third pass).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Collator,
    Ingest,
    Emitter,
    IdleClose,
    Memory,
}

/// Load harness of auditstream (issue 6). Defaults come from the `[bench]` section.
#[derive(Debug, Parser)]
#[command(name = "auditstream-bench")]
struct Args {
    /// Kafka-protocol broker, `host:port`.
    #[arg(long, env = "AUDITSTREAM_BENCH_BROKERS")]
    brokers: Option<String>,
    /// Process id of the broker, to report its CPU time beside auditstream's.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Scenarios to run, in order (default: all).
    #[arg(value_enum)]
    scenarios: Vec<Scenario>,
    /// Change events of workload W.
    #[arg(long)]
    events: Option<usize>,
    /// Records of workload W.
    #[arg(long)]
    records: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    /// Concurrent HTTP clients (ingest) and deliveries in flight (emitter).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// How long each HTTP load runs.
    #[arg(long, default_value = "10s", value_parser = humantime_serde::re::humantime::parse_duration)]
    duration: Duration,
    /// Records edited in the idle-close scenario.
    #[arg(long, default_value_t = 300)]
    idle_records: usize,
    /// The collator's gap in the idle-close scenario.
    #[arg(long, default_value = "2s", value_parser = humantime_serde::re::humantime::parse_duration)]
    idle_gap: Duration,
    /// Open windows of the memory scenario.
    #[arg(long, default_value_t = 1_000_000)]
    windows: usize,
    /// A librdkafka property for every client of the scenarios that use the broker (the
    /// passthrough and broker-writes-alone references alike), as `KEY=VALUE` (repeatable),
    /// e.g. `--kafka-option linger.ms=20`.
    #[arg(long = "kafka-option", value_parser = parse_option)]
    kafka_options: Vec<(String, String)>,
    /// Directory of the real Jira fixtures.
    #[arg(long, default_value = "fixtures/jira")]
    fixtures: PathBuf,
    /// Print the table as JSON rather than Markdown (how a scenario run in a process of its
    /// own hands its rows back).
    #[arg(long, hide = true)]
    rows_json: bool,
}

fn parse_option(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))
}

#[tokio::main]
async fn main() -> ExitCode {
    // librdkafka reports every partition EOF (the harness's "caught up" signal) as a global
    // error; it would drown the progress lines.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,rdkafka::client=off,auditstream_bench=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut table = Table::default();
    let result = run(&args, &mut table).await;
    if args.rows_json {
        match serde_json::to_string(&table) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("auditstream-bench: the table as JSON: {e}"),
        }
    } else if !table.is_empty() {
        println!("{table}");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut chain = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                chain.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("auditstream-bench: {chain}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args, table: &mut Table) -> Result<(), Error> {
    let defaults = BenchConfig::defaults()?;
    let shape = Shape {
        seed: args.seed.unwrap_or(defaults.seed),
        events: args.events.unwrap_or(defaults.events),
        records: args.records.unwrap_or(defaults.records),
        users: defaults.users,
        fields: defaults.fields,
        gap_ms: 300_000,
    };
    let scenarios = if args.scenarios.is_empty() {
        vec![
            Scenario::Collator,
            Scenario::Ingest,
            Scenario::Emitter,
            Scenario::IdleClose,
            Scenario::Memory,
        ]
    } else {
        args.scenarios.clone()
    };
    let brokers = || {
        args.brokers
            .clone()
            .ok_or_else(|| Error::Verification("--brokers is required for this scenario".into()))
    };
    let target = || {
        brokers().map(|brokers| Target {
            brokers,
            pid: args.broker_pid,
            partitions: defaults.partitions,
            options: args.kafka_options.iter().cloned().collect(),
        })
    };
    for (i, &s) in scenarios.iter().enumerate() {
        tracing::info!(scenario = ?s, "running");
        match s {
            Scenario::Collator => {
                collate::throughput(&target()?, &shape, defaults.phase_timeout, table).await?
            }
            Scenario::Ingest => {
                ingest_load::run(
                    &target()?,
                    args.clients,
                    args.duration,
                    &args.fixtures,
                    table,
                )
                .await?
            }
            Scenario::Emitter => emit::run(args.clients, args.duration, table).await?,
            Scenario::IdleClose => {
                collate::idle_close(&target()?, args.idle_records, args.idle_gap, table).await?
            }
            // After another scenario, this process holds pages it freed (`in_own_process`).
            Scenario::Memory if i > 0 => table.extend(memory::in_own_process(args.windows).await?),
            Scenario::Memory => {
                let windows = args.windows;
                let mut rows = Table::default();
                let rows = tokio::task::spawn_blocking(move || {
                    memory::run(windows, &mut rows).map(|()| rows)
                })
                .await
                .map_err(Error::TaskLost)??;
                table.extend(rows);
            }
        }
    }
    Ok(())
}
