//! auditstream ingest role (being written).
