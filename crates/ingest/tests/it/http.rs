//! The endpoint against a Kafka-protocol broker: the embedded one, or the broker named by
//! `AUDITSTREAM_TEST_BROKERS` (with a fresh topic prefix per test).

mod bad_input;
mod broker_down;
mod flow;
mod harness;
mod listeners;
mod slow_clients;
