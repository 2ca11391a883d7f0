//! End-to-end tests: they drive the real `auditstream` binary against a Kafka-protocol broker
//! (`AUDITSTREAM_TEST_BROKERS`, e.g. tansu in `.ci/run`; else an embedded broker).

mod bursts;
mod fixtures;
mod support;

mod demo;
mod ingest_durability;
mod pipeline;
mod scale_out;

mod faults_broker_restart;
mod faults_collator;
mod faults_emitter;
mod faults_ingest_overload;
mod receiver;
mod security_logs;
