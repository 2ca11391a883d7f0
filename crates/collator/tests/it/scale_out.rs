//! Two collators in one group: partitions move between them by cooperative rebalancing, open
//! windows follow through `collator-state`, and every audit comes out once by id, with the
//! bytes a replay produces.

use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use crate::harness::{self, by_id, change, raw};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_follow_their_partition_when_a_member_leaves() -> Result<()> {
    let env = harness::kafka().await?;
    let topics = env.kafka.topics();
    let config = harness::config(Duration::from_secs(6))?;

    let stop_a = CancellationToken::new();
    let a = tokio::spawn(collator::run(
        env.kafka.clone(),
        config.clone(),
        stop_a.clone(),
    ));
    let stop_b = CancellationToken::new();
    let b = tokio::spawn(collator::run(
        env.kafka.clone(),
        config.clone(),
        stop_b.clone(),
    ));

    let producer = harness::RawProducer::connect(&env.kafka)?;
    let now = schema::now_ms();
    let mut events = Vec::new();
    for issue in 0..9u32 {
        let id = 9000 + issue;
        let t = now + i64::from(issue);
        events.push(raw(
            id,
            None,
            &format!("changelog|{id}1"),
            "ann",
            t,
            vec![change("status", "a", "b")],
        ));
        events.push(raw(
            id,
            None,
            &format!("changelog|{id}2"),
            "bob",
            t + 20,
            vec![change("summary", "x", "y")],
        ));
    }
    producer.send(&events).await?;
    harness::wait_for_audits(&env.kafka, &topics.audit_live, |l| l.len() >= events.len()).await?;

    // A leaves with its windows open: it flushes them on revoke, B restores and closes them.
    stop_a.cancel();
    a.await??;
    let audits =
        harness::wait_for_audits(&env.kafka, &topics.audit, |x| by_id(x).len() >= 9).await?;
    stop_b.cancel();
    b.await??;

    let ids = by_id(&audits);
    assert!(
        ids.values().all(|bytes| bytes.len() == 1),
        "a repeat differs in its bytes"
    );
    collator::replay(
        env.kafka.clone(),
        config,
        0,
        None,
        topics.audit_retry.clone(),
    )
    .await?;
    let reference = by_id(&harness::read_audits(&env.kafka, &topics.audit_retry).await?);
    assert_eq!(ids, reference);
    assert!(audits
        .iter()
        .all(|x| x.audit.changes.len() == 2 && x.audit.contributors.len() == 2));
    Ok(())
}
