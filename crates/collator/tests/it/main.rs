//! Integration tests of the collator against a Kafka-protocol broker: the embedded one, or
//! the broker in `AUDITSTREAM_TEST_BROKERS` (fresh random topics per test either way).

mod harness;
mod idle_close;
mod replay_determinism;
mod scale_out;
mod shutdown;
