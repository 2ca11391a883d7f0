//! The audit JSON that subscribers receive (DESIGN §4): the Aha!-style activity-webhook shape
//! `{"event":"audit","audit":{...}}`, with auditstream's additive fields after the base ones.
//!
//! Rendering is a pure function of the [`AuditEvent`], field order fixed by the structs below,
//! so the same audit always renders to the same bytes (webhook signatures and sink dedup rely on
//! it).

use serde::{Deserialize, Serialize};

use crate::format_rfc3339_ms;
use crate::v1::{Action, AuditEvent, User};

/// The envelope: `{"event": "audit", "audit": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEnvelope {
    pub event: String,
    pub audit: AuditBody,
}

/// The `audit` object. Base fields follow the Aha! audit webhook; the rest are additive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditBody {
    pub id: String,
    pub audit_action: String,
    pub created_at: String,
    pub interesting: bool,
    pub user: Option<AuditUser>,
    pub contributors: Vec<Contributor>,
    pub auditable_type: String,
    pub auditable_id: String,
    pub associated_type: Option<String>,
    pub associated_id: Option<String>,
    pub changes: Vec<ChangeJson>,
    pub workspace: Option<String>,
    pub integration: Option<String>,
    pub jira_site: Option<String>,
    pub window: WindowJson,
    pub source_event_count: u32,
    pub late: bool,
    pub live: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditUser {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// Jira does not tell when its users were created; kept for shape compatibility.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contributor {
    pub user: AuditUser,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeJson {
    pub field_name: String,
    pub value: Option<String>,
    pub previous_value: Option<String>,
    pub field_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowJson {
    pub started_at: String,
    pub closed_at: String,
}

/// The `audit_action` word for an [`Action`].
pub fn action_word(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Destroy => "destroy",
        Action::Update | Action::Unspecified => "update",
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn user_json(user: &User) -> AuditUser {
    AuditUser {
        id: user.id.clone(),
        name: if user.name.is_empty() {
            user.id.clone()
        } else {
            user.name.clone()
        },
        email: non_empty(&user.email),
        created_at: None,
        updated_at: None,
    }
}

impl From<&AuditEvent> for AuditEnvelope {
    fn from(a: &AuditEvent) -> Self {
        let auditable = a.auditable.clone().unwrap_or_default();
        let associated = a.associated.clone().unwrap_or_default();
        AuditEnvelope {
            event: "audit".to_owned(),
            audit: AuditBody {
                id: a.id.to_string(),
                audit_action: action_word(a.audit_action()).to_owned(),
                created_at: format_rfc3339_ms(a.created_at_ms),
                interesting: a.interesting,
                user: a.user.as_ref().map(user_json),
                contributors: a
                    .contributors
                    .iter()
                    .map(|u| Contributor { user: user_json(u) })
                    .collect(),
                auditable_type: auditable.r#type,
                auditable_id: auditable.id,
                associated_type: non_empty(&associated.r#type),
                associated_id: non_empty(&associated.id),
                changes: a
                    .changes
                    .iter()
                    .map(|c| ChangeJson {
                        field_name: c.field_name.clone(),
                        value: c.value.clone(),
                        previous_value: c.previous_value.clone(),
                        field_id: c.field_id.clone(),
                    })
                    .collect(),
                workspace: non_empty(&a.workspace),
                integration: non_empty(&a.integration_id),
                jira_site: non_empty(&a.jira_site),
                window: WindowJson {
                    started_at: format_rfc3339_ms(a.window_start_ms),
                    closed_at: format_rfc3339_ms(a.window_end_ms),
                },
                source_event_count: a.source_event_count,
                late: a.late,
                live: a.live,
            },
        }
    }
}

/// Renders an audit as its JSON bytes (compact, deterministic).
pub fn render(audit: &AuditEvent) -> Vec<u8> {
    // Serializing plain structs of strings, bools and integers cannot fail.
    serde_json::to_vec(&AuditEnvelope::from(audit)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
