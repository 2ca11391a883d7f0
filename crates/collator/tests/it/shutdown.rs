//! A collator asked to stop while the broker is away stops within `shutdown_timeout` instead
//! of waiting for the broker forever: it commits nothing the broker did not acknowledge (the
//! partitions' next owner replays those records) and says so with its error.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use crate::harness::{self, change, raw};

fn changes() -> Vec<schema::v1::FieldChange> {
    vec![change("status", "a", "b")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_while_the_broker_is_away_gives_up_after_shutdown_timeout() -> Result<()> {
    let env = harness::kafka().await?;
    let Some(broker) = env.embedded() else {
        eprintln!("skipped: it takes the broker down, which only the embedded broker allows");
        return Ok(());
    };
    // Long enough that the record's window is still open when the broker goes down; short
    // enough that the broker is back before the group's session times out (6 s), which would
    // take the partitions away and drop the batch instead.
    let gap = Duration::from_secs(3);
    let mut config = harness::config(gap)?;
    config.shutdown_timeout = Duration::from_secs(1);
    let shutdown = CancellationToken::new();
    let collator = tokio::spawn(collator::run(env.kafka.clone(), config, shutdown.clone()));
    let producer = harness::RawProducer::connect(&env.kafka)?;
    let live = env.kafka.topics().audit_live;
    let of = |id: &'static str| {
        move |a: &[harness::Produced]| {
            a.iter()
                .any(|p| p.audit.auditable.as_ref().is_some_and(|r| r.id == id))
        }
    };
    // Once a first record's change came out live, the member has joined and is caught up.
    let warm_up = raw(
        7099,
        None,
        "changelog|0",
        "ann",
        schema::now_ms(),
        changes(),
    );
    producer.send(&[warm_up]).await?;
    harness::wait_for_audits(&env.kafka, &live, of("7099")).await?;
    let at = schema::now_ms();
    producer
        .send(&[raw(7100, None, "changelog|1", "ann", at, changes())])
        .await?;
    harness::wait_for_audits(&env.kafka, &live, of("7100")).await?;

    broker.set_down(true)?;
    // The window's deadline passes while the broker is away: its audit waits to be written.
    let deadline = at + gap.as_millis() as i64;
    let past_it = u64::try_from(deadline - schema::now_ms()).unwrap_or(0) + 600;
    tokio::time::sleep(Duration::from_millis(past_it)).await;
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(60), collator).await;
    broker.set_down(false)?;
    let result = stopped.context("the collator did not stop within a minute")??;
    assert!(
        matches!(
            result,
            Err(collator::Error::ShutdownIncomplete { batches }) if batches >= 1
        ),
        "the batch holding the audit stays unwritten and uncommitted: {result:?}"
    );
    Ok(())
}
