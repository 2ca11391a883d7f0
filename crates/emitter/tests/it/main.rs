//! Integration tests of the emitter against a Kafka-protocol broker (the embedded one, or the
//! broker named by `AUDITSTREAM_TEST_BROKERS`) and local receivers on loopback.

mod delivery;
mod filters;
mod kill;
mod support;
mod webhook;
