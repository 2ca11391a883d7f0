//! Whether an integration forwards an event: its filters (event names, projects, issue types),
//! its project → workspace mapping, and the workspaces its run-as user may write. Pure.
//!
//! A filter applies when the payload says what it filters on: events that name no project or
//! issue type (worklogs, links, Server comments carry neither) pass project and issue-type
//! filters, because ingest cannot tell they are outside them.

use serde_json::Value;

use crate::config::IntegrationConfig;

/// The outcome for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeDecision {
    /// Forward to collation, in this workspace (empty when the integration maps none).
    Forward { workspace: String },
    /// Acknowledge and drop, for this reason (logged to `integration.log`).
    Skip { reason: String },
}

/// What the payload says about where the event belongs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeFacts {
    /// Project key and id, when the payload names them.
    pub project_key: Option<String>,
    pub project_id: Option<String>,
    /// Issue type name and id.
    pub issue_type_name: Option<String>,
    pub issue_type_id: Option<String>,
}

impl ScopeFacts {
    pub fn of(body: &Value) -> Self {
        let s = |path: &[&str]| {
            path.iter()
                .try_fold(body, |v, k| v.get(k))
                .and_then(|v| match v {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        };
        ScopeFacts {
            project_key: s(&["issue", "fields", "project", "key"])
                .or_else(|| s(&["project", "key"])),
            project_id: s(&["issue", "fields", "project", "id"])
                .or_else(|| s(&["project", "id"]))
                .or_else(|| s(&["version", "projectId"])),
            issue_type_name: s(&["issue", "fields", "issuetype", "name"]),
            issue_type_id: s(&["issue", "fields", "issuetype", "id"]),
        }
    }

    fn projects(&self) -> impl Iterator<Item = &String> {
        self.project_key.iter().chain(self.project_id.iter())
    }

    fn project_label(&self) -> String {
        self.project_key
            .clone()
            .or_else(|| self.project_id.clone())
            .unwrap_or_default()
    }
}

/// Decides whether `integration` forwards event `event_name` with `facts`.
pub fn decide(
    integration: &IntegrationConfig,
    event_name: &str,
    facts: &ScopeFacts,
) -> ScopeDecision {
    let filters = &integration.filters;
    let skip = |reason: String| ScopeDecision::Skip { reason };
    if !filters.events.is_empty() && !filters.events.iter().any(|e| e == event_name) {
        return skip(format!(
            "event {event_name} is outside the integration's event filter"
        ));
    }
    let has_project = facts.projects().next().is_some();
    if !filters.projects.is_empty()
        && has_project
        && !facts.projects().any(|p| filters.projects.contains(p))
    {
        return skip(format!(
            "project {} is outside the integration's project filter",
            facts.project_label()
        ));
    }
    let types = || {
        facts
            .issue_type_name
            .iter()
            .chain(facts.issue_type_id.iter())
    };
    if !filters.issue_types.is_empty()
        && types().next().is_some()
        && !types().any(|t| filters.issue_types.contains(t))
    {
        let name = facts
            .issue_type_name
            .clone()
            .or_else(|| facts.issue_type_id.clone())
            .unwrap_or_default();
        return skip(format!(
            "issue type {name} is outside the integration's issue-type filter"
        ));
    }
    if integration.projects.is_empty() || !has_project {
        return ScopeDecision::Forward {
            workspace: String::new(),
        };
    }
    let Some(workspace) = facts.projects().find_map(|p| integration.projects.get(p)) else {
        return skip(format!(
            "project {} is not mapped to a workspace",
            facts.project_label()
        ));
    };
    if let Some(writable) = &integration.writable_workspaces {
        if !writable.contains(workspace) {
            return skip(format!(
                "run-as user {} may not write workspace {workspace}",
                integration.run_as
            ));
        }
    }
    ScopeDecision::Forward {
        workspace: workspace.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn integration(toml_text: &str) -> IntegrationConfig {
        toml::from_str(&format!(
            "id = \"i\"\ntoken = \"t\"\nrun_as = \"ann\"\n{toml_text}"
        ))
        .unwrap()
    }

    fn issue_event() -> ScopeFacts {
        ScopeFacts::of(
            &json!({"issue": {"fields": {"project": {"key": "KT", "id": "10000"}, "issuetype": {"name": "Bug", "id": "1"}}}}),
        )
    }

    #[test]
    fn no_configuration_forwards_everything() {
        assert_eq!(
            decide(&integration(""), "jira:issue_updated", &issue_event()),
            ScopeDecision::Forward {
                workspace: String::new()
            }
        );
    }

    #[test]
    fn filters_skip_with_a_reason() {
        let i = integration("[filters]\nevents = [\"comment_created\"]");
        assert!(
            matches!(decide(&i, "jira:issue_updated", &issue_event()), ScopeDecision::Skip { reason } if reason.contains("event filter"))
        );
        let i = integration("[filters]\nprojects = [\"OTHER\"]");
        assert!(
            matches!(decide(&i, "jira:issue_updated", &issue_event()), ScopeDecision::Skip { reason } if reason.contains("project KT"))
        );
        let i = integration("[filters]\nprojects = [\"10000\"]\nissue_types = [\"Story\"]");
        assert!(
            matches!(decide(&i, "jira:issue_updated", &issue_event()), ScopeDecision::Skip { reason } if reason.contains("issue type Bug"))
        );
        // A worklog names no project: the project filter cannot apply.
        let i = integration("[filters]\nprojects = [\"OTHER\"]");
        assert!(matches!(
            decide(&i, "worklog_created", &ScopeFacts::default()),
            ScopeDecision::Forward { .. }
        ));
    }

    #[test]
    fn workspaces_and_permissions() {
        let i = integration(
            "writable_workspaces = [\"PLAT\"]\n[projects]\nKT = \"PLAT\"\nOPS = \"OPS\"",
        );
        assert_eq!(
            decide(&i, "e", &issue_event()),
            ScopeDecision::Forward {
                workspace: "PLAT".into()
            }
        );
        let ops = ScopeFacts {
            project_key: Some("OPS".into()),
            ..Default::default()
        };
        assert!(
            matches!(decide(&i, "e", &ops), ScopeDecision::Skip { reason } if reason.contains("may not write workspace OPS"))
        );
        let unmapped = ScopeFacts {
            project_key: Some("ZZ".into()),
            ..Default::default()
        };
        assert!(
            matches!(decide(&i, "e", &unmapped), ScopeDecision::Skip { reason } if reason.contains("not mapped"))
        );
    }
}
