//! Which audits a sink wants, and which of their changes: pure functions over [`AuditEvent`].

use schema::v1::AuditEvent;

/// A sink's filters. An empty list does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Workspaces whose audits the sink takes.
    pub workspaces: Vec<String>,
    /// Auditable record types (`issue`, `comment`, ...).
    pub record_types: Vec<String>,
    /// Users (id, display name or email) who made, or contributed to, the audit.
    pub users: Vec<String>,
    /// Fields (id or display name) the sink cares about: `changes` is cut to them.
    pub fields: Vec<String>,
}

impl AuditFilter {
    /// The audit as this sink should receive it, or `None` when the sink does not want it
    /// (outside its workspaces, record types or users, or no change left after the field cut).
    pub fn apply(&self, audit: &AuditEvent) -> Option<AuditEvent> {
        if !self.workspaces.is_empty() && !self.workspaces.contains(&audit.workspace) {
            return None;
        }
        let record_type = audit
            .auditable
            .as_ref()
            .map(|r| r.r#type.as_str())
            .unwrap_or_default();
        if !self.record_types.is_empty() && !self.record_types.iter().any(|t| t == record_type) {
            return None;
        }
        if !self.users.is_empty() {
            let mut people = audit.user.iter().chain(audit.contributors.iter());
            let wanted = |u: &schema::v1::User| {
                self.users
                    .iter()
                    .any(|w| !w.is_empty() && (*w == u.id || *w == u.name || *w == u.email))
            };
            if !people.any(wanted) {
                return None;
            }
        }
        if self.fields.is_empty() {
            return Some(audit.clone());
        }
        let mut cut = audit.clone();
        cut.changes.retain(|c| {
            self.fields
                .iter()
                .any(|f| *f == c.field_id || *f == c.field_name)
        });
        (!cut.changes.is_empty()).then_some(cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schema::v1::{AuditChange, RecordRef, User};

    fn audit() -> AuditEvent {
        let change = |id: &str, name: &str| AuditChange {
            field_id: id.into(),
            field_name: name.into(),
            value: Some("new".into()),
            previous_value: Some("old".into()),
            ..Default::default()
        };
        AuditEvent {
            id: 7,
            workspace: "PLAT".into(),
            auditable: Some(RecordRef {
                r#type: "issue".into(),
                id: "10001".into(),
            }),
            user: Some(User {
                id: "acc-1".into(),
                name: "Ada".into(),
                email: "ada@example.com".into(),
                ..Default::default()
            }),
            contributors: vec![
                User {
                    id: "acc-1".into(),
                    name: "Ada".into(),
                    ..Default::default()
                },
                User {
                    id: "acc-2".into(),
                    name: "Grace".into(),
                    ..Default::default()
                },
            ],
            changes: vec![change("status", "Status"), change("summary", "Summary")],
            ..Default::default()
        }
    }

    #[test]
    fn empty_filter_passes_everything_unchanged() {
        assert_eq!(AuditFilter::default().apply(&audit()), Some(audit()));
    }

    #[test]
    fn workspace_filter() {
        let f = AuditFilter {
            workspaces: vec!["PLAT".into()],
            ..Default::default()
        };
        assert!(f.apply(&audit()).is_some());
        let f = AuditFilter {
            workspaces: vec!["OTHER".into()],
            ..Default::default()
        };
        assert_eq!(f.apply(&audit()), None);
    }

    #[test]
    fn record_type_filter() {
        let f = AuditFilter {
            record_types: vec!["comment".into(), "issue".into()],
            ..Default::default()
        };
        assert!(f.apply(&audit()).is_some());
        let f = AuditFilter {
            record_types: vec!["worklog".into()],
            ..Default::default()
        };
        assert_eq!(f.apply(&audit()), None);
    }

    #[test]
    fn user_filter_matches_author_or_contributor_by_id_name_or_email() {
        for who in ["acc-1", "Ada", "ada@example.com", "acc-2", "Grace"] {
            let f = AuditFilter {
                users: vec![who.into()],
                ..Default::default()
            };
            assert!(f.apply(&audit()).is_some(), "{who}");
        }
        let f = AuditFilter {
            users: vec!["acc-9".into()],
            ..Default::default()
        };
        assert_eq!(f.apply(&audit()), None);
    }

    #[test]
    fn field_filter_cuts_changes_by_id_or_name() {
        let f = AuditFilter {
            fields: vec!["Status".into()],
            ..Default::default()
        };
        let cut = f.apply(&audit()).unwrap();
        assert_eq!(cut.changes.len(), 1);
        assert_eq!(cut.changes[0].field_id, "status");
        let f = AuditFilter {
            fields: vec!["summary".into()],
            ..Default::default()
        };
        assert_eq!(f.apply(&audit()).unwrap().changes[0].field_name, "Summary");
    }

    #[test]
    fn field_filter_with_no_change_left_drops_the_audit() {
        let f = AuditFilter {
            fields: vec!["priority".into()],
            ..Default::default()
        };
        assert_eq!(f.apply(&audit()), None);
    }
}
