//! Acceptance 3 and 5 and crash safety: the same raw topic gives byte-identical audits to a
//! fresh group, to `replay`, and to a collator stopped mid-stream and restarted from its
//! committed offsets and `collator-state`; duplicate deliveries are one change.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use schema::v1::RawEvent;
use tokio_util::sync::CancellationToken;

use crate::harness::{self, by_id, change, raw, Produced};

const GAP: Duration = Duration::from_secs(1);

/// Six issues, each with a burst (a duplicate delivery and a comment delivered twice, as
/// `comment_created` and `issue_commented`), then a second burst after the gap, from `base`.
fn history(base: i64) -> Vec<RawEvent> {
    let mut events = Vec::new();
    for issue in 0..6u32 {
        let id = 8000 + issue;
        let t = base + i64::from(issue) * 10;
        let first = raw(
            id,
            None,
            &format!("changelog|{id}1"),
            "ann",
            t,
            vec![change("status", "To Do", "In Progress")],
        );
        let mut retry = first.clone();
        retry.received_at_ms = t + 300;
        events.push(first);
        events.push(raw(
            id,
            None,
            &format!("changelog|{id}2"),
            "bob",
            t + 100,
            vec![change("summary", "a", "b")],
        ));
        events.push(retry);
        events.push(raw(
            id,
            None,
            &format!("changelog|{id}3"),
            "ann",
            t + 200,
            vec![change("status", "In Progress", "Done")],
        ));
        let comment = raw(
            id,
            Some(id * 10),
            &format!("comment|{id}|1"),
            "cy",
            t + 150,
            vec![change("body", "", "hello")],
        );
        let mut commented = comment.clone();
        commented.event_name = "jira:issue_updated".into();
        commented.received_at_ms = t + 160;
        events.push(comment);
        events.push(commented);
        events.push(raw(
            id,
            None,
            &format!("changelog|{id}4"),
            "bob",
            t + 5_000,
            vec![change("priority", "Low", "High")],
        ));
    }
    events.sort_by_key(|e| e.received_at_ms);
    events
}

const EXPECTED_AUDITS: usize = 6 * 3;

async fn run_until(
    env: &harness::TestKafka,
    group: &str,
    topic: &str,
    count: usize,
) -> Result<Vec<Produced>> {
    run_until_with(env, env.kafka.clone(), group, topic, count).await
}

async fn run_until_with(
    env: &harness::TestKafka,
    kafka: common::kafka::KafkaConfig,
    group: &str,
    topic: &str,
    count: usize,
) -> Result<Vec<Produced>> {
    let mut config = harness::config(GAP)?;
    config.group_id = group.into();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(collator::run(kafka, config, shutdown.clone()));
    let audits = harness::wait_for_audits(&env.kafka, topic, |a| a.len() >= count).await;
    shutdown.cancel();
    task.await??;
    audits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_group_and_replay_reproduce_identical_audits() -> Result<()> {
    let env = harness::kafka().await?;
    // A day old: every window closes by the raw log's own time or at its end.
    harness::produce_raw(&env.kafka, &history(schema::now_ms() - 86_400_000)).await?;
    let topic = env.kafka.topics().audit;

    let first = run_until(&env, "group-a", &topic, EXPECTED_AUDITS).await?;
    let first_ids = by_id(&first);
    assert_eq!(first.len(), EXPECTED_AUDITS);
    assert_eq!(first_ids.len(), EXPECTED_AUDITS, "distinct ids");

    // Acceptance 5: the duplicated change and the comment delivered twice are one change each.
    for a in &first {
        let fields: BTreeSet<_> = a.audit.changes.iter().map(|c| c.field_id.clone()).collect();
        assert_eq!(fields.len(), a.audit.changes.len());
        if a.audit
            .auditable
            .as_ref()
            .is_some_and(|r| r.r#type == "comment")
        {
            assert_eq!(a.audit.source_event_count, 1);
            assert_eq!(a.audit.changes.len(), 1);
        }
    }

    // A fresh group over the same raw topic: every id again, byte for byte.
    let both = run_until(&env, "group-b", &topic, 2 * EXPECTED_AUDITS).await?;
    assert_eq!(both.len(), 2 * EXPECTED_AUDITS);
    let both_ids = by_id(&both);
    assert_eq!(
        both_ids.keys().collect::<Vec<_>>(),
        first_ids.keys().collect::<Vec<_>>()
    );
    assert!(
        both_ids.values().all(|bytes| bytes.len() == 1),
        "a repeat differs in its bytes"
    );

    // `replay` outside any group, into its own topic.
    let replayed_topic = env.kafka.topics().audit_retry;
    let config = harness::config(GAP)?;
    let summary =
        collator::replay(env.kafka.clone(), config, 0, None, replayed_topic.clone()).await?;
    assert_eq!(summary.audits_emitted as usize, EXPECTED_AUDITS);
    assert_eq!(summary.duplicates_suppressed, 12);
    let replayed = harness::read_audits(&env.kafka, &replayed_topic).await?;
    assert_eq!(by_id(&replayed), first_ids);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_open_at_a_stop_are_restored_and_emitted_once() -> Result<()> {
    let env = harness::kafka().await?;
    let topics = env.kafka.topics();
    // Recent bursts and a gap long enough that their windows are still open at the stop.
    let gap = Duration::from_secs(8);
    let mut config = harness::config(gap)?;
    config.max_batch = 3;
    let group = config.group_id.clone();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(collator::run(
        env.kafka.clone(),
        config.clone(),
        shutdown.clone(),
    ));
    let producer = harness::RawProducer::connect(&env.kafka)?;
    let events: Vec<RawEvent> = history(schema::now_ms())
        .into_iter()
        .filter(|e| !e.dedup_key.ends_with('4'))
        .collect();
    producer.send(&events).await?;
    let applied = 6 * 4;
    // Every event applied and flushed (its live audit is out), then stop.
    harness::wait_for_audits(&env.kafka, &topics.audit_live, |a| a.len() >= applied).await?;
    shutdown.cancel();
    task.await??;
    let at_stop = harness::read_audits(&env.kafka, &topics.audit).await?.len();
    eprintln!("audits emitted before the stop: {at_stop} of 12");

    // The same group again: it restores the open windows and closes them at their deadline.
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(collator::run(
        env.kafka.clone(),
        config.clone(),
        shutdown.clone(),
    ));
    let all = harness::wait_for_audits(&env.kafka, &topics.audit, |a| by_id(a).len() >= 12).await?;
    shutdown.cancel();
    task.await??;
    let ids = by_id(&all);
    assert!(
        ids.values().all(|b| b.len() == 1),
        "a repeat differs in its bytes"
    );
    let live = harness::read_audits(&env.kafka, &topics.audit_live).await?;
    assert_eq!(
        by_id(&live).len(),
        applied,
        "one live audit per distinct change"
    );

    // The reference: a replay of the same raw topic, outside the group.
    let mut replay_config = config;
    replay_config.group_id = group;
    let summary = collator::replay(
        env.kafka.clone(),
        replay_config,
        0,
        None,
        topics.audit_retry.clone(),
    )
    .await?;
    assert_eq!(summary.windows_open_at_end, 0);
    let reference = by_id(&harness::read_audits(&env.kafka, &topics.audit_retry).await?);
    assert_eq!(ids, reference, "same audits, ids and bytes, as a replay");
    Ok(())
}

/// With `kafka.transactions` on (real Kafka's mode), each batch is one transaction and the
/// audits are the same as without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_batches_emit_the_same_audits() -> Result<()> {
    let env = harness::kafka().await?;
    harness::produce_raw(&env.kafka, &history(schema::now_ms() - 86_400_000)).await?;
    let topics = env.kafka.topics();
    let mut kafka = env.kafka.clone();
    kafka.transactions = true;
    let audits = run_until_with(&env, kafka, "group-tx", &topics.audit, EXPECTED_AUDITS).await?;
    collator::replay(
        env.kafka.clone(),
        harness::config(GAP)?,
        0,
        None,
        topics.audit_retry.clone(),
    )
    .await?;
    let reference = by_id(&harness::read_audits(&env.kafka, &topics.audit_retry).await?);
    assert_eq!(by_id(&audits), reference);
    Ok(())
}
