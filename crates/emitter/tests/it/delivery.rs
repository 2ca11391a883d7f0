//! Never twice across restarts and re-emitted audits; the kafka sink.

use std::time::Duration;

use emitter::config::SinkKind;
use emitter::filter::AuditFilter;
use emitter::sinks::kafka::KafkaSinkConfig;
use rdkafka::Message as _;

use crate::support::*;

#[tokio::test]
async fn restart_and_reemitted_audits_never_reach_a_sink_twice() -> anyhow::Result<()> {
    let c = cluster().await?;
    let hook = receiver(Behaviour::Always(200)).await?;
    let first: Vec<_> = (1..=5u64).map(|i| audit(i, "40001")).collect();
    publish(&c.kafka, &first).await?;
    let cfg = config(
        "g-once",
        vec![webhook_sink("hook", &hook.url, Duration::from_secs(5))],
    );
    let emitter = start(&c.kafka, cfg.clone());
    eventually("first batch delivered", || hook.accepted().len() >= 5).await;
    emitter.stop().await?;

    // The collator re-emits the same audits (a replay), plus new ones; and the emitter restarts
    // under a new group, as if its offsets were lost: only the ledger stands between the
    // receiver and duplicates.
    let second: Vec<_> = (6..=8u64).map(|i| audit(i, "40001")).collect();
    publish(&c.kafka, &first).await?;
    publish(&c.kafka, &second).await?;
    let mut cfg = cfg;
    cfg.group_id = "g-once-fresh".into();
    let emitter = start(&c.kafka, cfg);
    eventually("second batch delivered", || hook.accepted().len() >= 8).await;
    // A sentinel after the re-emitted audits on the same record (same lane): once it arrives,
    // the duplicates before it were certainly handled.
    publish(&c.kafka, &[audit(99, "40001")]).await?;
    eventually("sentinel delivered", || {
        hook.accepted().contains(&"99".to_owned())
    })
    .await;
    emitter.stop().await?;
    let accepted = hook.accepted();
    let expected: Vec<String> = (1..=8u64).chain([99]).map(|i| i.to_string()).collect();
    assert_eq!(accepted, expected, "each id once, in record order");
    Ok(())
}

#[tokio::test]
async fn kafka_sink_writes_audit_json_keyed_by_record() -> anyhow::Result<()> {
    let c = cluster_with(&["audit.json"]).await?;
    let audits = [audit(71, "50001"), audit(72, "50002")];
    publish(&c.kafka, &audits).await?;
    let sink = sink(
        "json-topic",
        AuditFilter::default(),
        SinkKind::Kafka(KafkaSinkConfig {
            topic: "audit.json".into(),
        }),
    );
    let emitter = start(&c.kafka, config("g-kafka", vec![sink]));
    let topic = format!("{}audit.json", c.kafka.topic_prefix);
    let mut rows: Vec<(String, serde_json::Value)> = Vec::new();
    for _ in 0..300 {
        let kafka = c.kafka.clone();
        let topic = topic.clone();
        rows = tokio::task::spawn_blocking(move || {
            let mut rows = Vec::new();
            let read =
                common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(10), |m| {
                    let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                    rows.push((
                        key,
                        serde_json::from_slice(m.payload().unwrap_or_default()).unwrap_or_default(),
                    ));
                });
            read.map(|_| rows).unwrap_or_default()
        })
        .await?;
        if rows.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    emitter.stop().await?;
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, "issue/50001");
    assert_eq!(rows[0].1["audit"]["id"], "71");
    assert_eq!(rows[1].1["event"], "audit");
    Ok(())
}

#[tokio::test]
async fn live_sinks_read_audit_live_and_collated_sinks_read_audit() -> anyhow::Result<()> {
    let c = cluster().await?;
    let dir = tempfile::tempdir()?;
    let file = |name: &str| {
        SinkKind::File(emitter::sinks::file::FileConfig {
            path: dir.path().join(name),
            sync: false,
        })
    };
    let mut live = sink("live", AuditFilter::default(), file("live.jsonl"));
    live.stream = emitter::Stream::AuditLive;
    let collated = sink("collated", AuditFilter::default(), file("collated.jsonl"));
    let mut live_audit = audit(81, "80001");
    live_audit.live = true;
    publish_to(&c.kafka, &c.kafka.topics().audit_live, &[live_audit]).await?;
    publish(&c.kafka, &[audit(82, "80001")]).await?;
    let emitter = start(&c.kafka, config("g-live", vec![live, collated]));
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    eventually("both sinks wrote", || {
        !read("live.jsonl").is_empty() && !read("collated.jsonl").is_empty()
    })
    .await;
    emitter.stop().await?;
    let ids = |name: &str| -> Vec<String> {
        read(name)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["audit"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(ids("live.jsonl"), ["81"]);
    assert_eq!(ids("collated.jsonl"), ["82"]);
    Ok(())
}
