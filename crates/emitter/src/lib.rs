//! auditstream emitter role (being written).
