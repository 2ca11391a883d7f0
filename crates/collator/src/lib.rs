//! auditstream collator role (being written).
