//! Integration tests of the ingest role: golden normalization of every Jira fixture, dedup-key
//! properties, and the HTTP endpoint against a Kafka-protocol broker.

mod dedup;
mod golden;
mod http;
