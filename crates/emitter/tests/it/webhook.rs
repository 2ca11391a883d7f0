//! Acceptance 2: a receiver failing for a while, one answering 410, and one that hangs.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn failing_receiver_gets_every_audit_once_in_record_order() -> anyhow::Result<()> {
    let c = cluster().await?;
    let hook = receiver(Behaviour::FailFirst(10)).await?;
    // Three records, four audits each, interleaved as the collator would emit them.
    let mut audits = Vec::new();
    for i in 0..4u64 {
        for (r, record) in ["10001", "10002", "10003"].iter().enumerate() {
            audits.push(audit(100 + i * 10 + r as u64, record));
        }
    }
    publish(&c.kafka, &audits).await?;
    let emitter = start(
        &c.kafka,
        config(
            "g-fail",
            vec![webhook_sink("hook", &hook.url, Duration::from_secs(5))],
        ),
    );
    eventually("every audit accepted", || {
        hook.accepted().len() >= audits.len()
    })
    .await;
    emitter.stop().await?;

    let accepted = hook.accepted();
    assert_eq!(
        accepted.len(),
        audits.len(),
        "each audit accepted exactly once: {accepted:?}"
    );
    assert!(
        hook.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.status == 500),
        "the receiver did fail first"
    );
    assert!(
        hook.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.status != 401),
        "every request verified"
    );
    let position: HashMap<&String, usize> =
        accepted.iter().enumerate().map(|(i, id)| (id, i)).collect();
    for record in ["10001", "10002", "10003"] {
        let ids: Vec<String> = audits
            .iter()
            .filter(|a| a.auditable.as_ref().unwrap().id == record)
            .map(|a| a.id.to_string())
            .collect();
        let order: Vec<usize> = ids.iter().map(|id| position[id]).collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "record {record} out of order: {ids:?} at {order:?}"
        );
    }

    // Every attempt left an entry in integration.log: the failures as warnings with their
    // status, the deliveries as info.
    let requests = hook.state.requests.lock().unwrap().len();
    let mut entries = Vec::new();
    for _ in 0..300 {
        entries = integration_log(&c.kafka).await?;
        if entries.len() >= requests {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed: Vec<_> = entries
        .iter()
        .filter(|e| e.code == "attempt_failed")
        .collect();
    let delivered: Vec<_> = entries.iter().filter(|e| e.code == "delivered").collect();
    assert_eq!(delivered.len(), audits.len());
    assert_eq!(
        failed.len() + delivered.len(),
        requests,
        "one entry per attempt"
    );
    assert!(failed.iter().all(|e| e.status == 500
        && e.level == schema::v1::LogLevel::Warning as i32
        && e.sink == "hook"));
    assert!(delivered
        .iter()
        .all(|e| e.status == 200 && e.component == "emitter" && e.attempt >= 1));
    Ok(())
}

#[tokio::test]
async fn gone_receiver_is_disabled_and_its_audits_are_kept_for_replay() -> anyhow::Result<()> {
    let c = cluster().await?;
    let hook = receiver(Behaviour::Always(410)).await?;
    let audits: Vec<_> = (1..=8u64)
        .map(|i| audit(500 + i, &format!("2000{i}")))
        .collect();
    publish(&c.kafka, &audits).await?;
    let cfg = config(
        "g-gone",
        vec![webhook_sink("hook", &hook.url, Duration::from_secs(5))],
    );
    let emitter = start(&c.kafka, cfg.clone());
    let dlq = c.kafka.topics().audit_dlq;
    let mut kept = Vec::new();
    for _ in 0..600 {
        kept = parked_on(&c.kafka, dlq.clone()).await?;
        if kept.len() >= audits.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    emitter.stop().await?;
    assert_eq!(kept.len(), audits.len(), "every audit kept on audit.dlq");
    assert!(kept
        .iter()
        .all(|p| p.sink == "hook" && p.error_class == "receiver"));
    // Disabled at the first 410: only the attempts already under way (one per lane) were sent,
    // the rest went straight to audit.dlq.
    let sent = hook.state.seen.load(Ordering::SeqCst);
    assert!(
        sent <= 4 && sent < audits.len(),
        "{sent} requests: the endpoint was not disabled"
    );
    assert!(kept.iter().any(|p| p.last_error == "endpoint disabled"));
    assert!(hook.accepted().is_empty());

    hook.set(Behaviour::Always(200));
    let summary = emitter::replay_sink(c.kafka.clone(), cfg.clone(), "hook", 0).await?;
    assert_eq!((summary.delivered, summary.failed), (8, 0), "{summary:?}");
    let mut accepted = hook.accepted();
    accepted.sort();
    let mut expected: Vec<String> = audits.iter().map(|a| a.id.to_string()).collect();
    expected.sort();
    assert_eq!(accepted, expected);

    // Replaying again sends nothing: the ledger knows.
    let again = emitter::replay_sink(c.kafka.clone(), cfg, "hook", 0).await?;
    assert_eq!(
        (again.delivered, again.already_delivered),
        (0, 8),
        "{again:?}"
    );
    assert_eq!(hook.accepted().len(), 8);
    Ok(())
}

#[tokio::test]
async fn hanging_receiver_does_not_delay_a_healthy_one() -> anyhow::Result<()> {
    let c = cluster().await?;
    let stuck = receiver(Behaviour::Hang).await?;
    let healthy = receiver(Behaviour::Always(200)).await?;
    let audits: Vec<_> = (1..=20u64)
        .map(|i| audit(900 + i, &format!("3000{}", i % 5)))
        .collect();
    publish(&c.kafka, &audits).await?;
    let sinks = vec![
        webhook_sink("stuck", &stuck.url, Duration::from_secs(600)),
        webhook_sink("healthy", &healthy.url, Duration::from_secs(5)),
    ];
    let emitter = start(&c.kafka, config("g-hang", sinks));
    eventually("the healthy receiver has every audit", || {
        healthy.accepted().len() >= audits.len()
    })
    .await;
    // The healthy deliveries completed while the stuck receiver still holds its requests.
    assert!(stuck.state.hanging.load(Ordering::SeqCst) >= 1);
    assert!(
        stuck.state.requests.lock().unwrap().is_empty(),
        "no request to the stuck receiver has completed"
    );
    assert_eq!(healthy.accepted().len(), audits.len());
    emitter.shutdown.cancel();
    // Shutdown is bounded even with requests hanging.
    emitter.task.await??;
    Ok(())
}
