//! auditstream's wire contract. The protobuf messages in `proto/auditstream/v1` are the contract
//! between the roles and with outside subscribers of the `audit` topic; this crate generates them
//! (no system `protoc` needed), gives them their canonical proto3 JSON mapping, and renders an
//! [`v1::AuditEvent`] as the Aha!-style audit JSON that webhooks and JSON sinks receive.

pub mod audit_json;
mod time;

pub use time::{format_rfc3339_ms, now_ms};

/// Generated messages of package `auditstream.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/auditstream.v1.rs"));
    include!(concat!(env!("OUT_DIR"), "/auditstream.v1.serde.rs"));
}

pub use prost::Message;
