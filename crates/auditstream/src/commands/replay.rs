//! `auditstream replay`: rebuild audits from `raw` into a topic (`--from/--to/--output-topic`),
//! or re-send to one sink what it missed while disabled (`--sink/--since`).

use crate::config::Config;
use crate::time_arg::parse_time_ms;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Rebuild audits of raw events received at or after this time (RFC 3339, or `2h` ago).
    #[arg(long, conflicts_with_all = ["sink", "since"], requires = "output_topic")]
    from: Option<String>,
    /// ... and before this time (default: up to the end of `raw`).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Topic that receives the rebuilt audits (protobuf, as on `audit`).
    #[arg(long)]
    output_topic: Option<String>,
    /// Re-send to this sink the audits it has not received.
    #[arg(long, requires = "since")]
    sink: Option<String>,
    /// ... among the audits emitted since this time.
    #[arg(long, requires = "sink")]
    since: Option<String>,
}

pub async fn replay(config: Config, args: ReplayArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !config.kafka.brokers.is_empty(),
        "replay needs kafka.brokers (or --brokers)"
    );
    let now = schema::now_ms();
    let time = |s: &str| parse_time_ms(s, now).map_err(anyhow::Error::msg);
    match (args.from, args.output_topic, args.sink, args.since) {
        (Some(from), Some(output_topic), None, None) => {
            let to = args.to.as_deref().map(time).transpose()?;
            let summary = collator::replay(
                config.kafka,
                config.collator,
                time(&from)?,
                to,
                output_topic,
            )
            .await?;
            eprintln!("{summary:?}");
            Ok(())
        }
        (None, None, Some(sink), Some(since)) => {
            let summary =
                emitter::replay_sink(config.kafka, config.emitter, &sink, time(&since)?).await?;
            eprintln!("{summary:?}");
            Ok(())
        }
        _ => anyhow::bail!(
            "use either --from TIME [--to TIME] --output-topic T, or --sink S --since TIME"
        ),
    }
}
