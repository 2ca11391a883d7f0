//! Reading Jira's loosely typed JSON: ids that are strings or numbers, `"?"` placeholders,
//! users in Cloud and Server shapes, `self` URLs, logger-mangled timestamps.

use chrono::NaiveDateTime;
use schema::v1::User;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A scalar as text: strings as they are, numbers and booleans printed; null, `"?"`
/// placeholders, empty strings, objects and arrays are absent.
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if is_placeholder(s) => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Any value as text: scalars as [`text`], objects and arrays as canonical JSON.
pub fn any_text(v: Option<&Value>) -> Option<String> {
    match v? {
        v @ (Value::Object(_) | Value::Array(_)) => Some(canonical_json(v)),
        v => text(Some(v)),
    }
}

/// Jira hides withheld values behind `"?"` or `"\"?\""`.
fn is_placeholder(s: &str) -> bool {
    let s = s.trim();
    s.is_empty() || s == "?" || s == "\"?\""
}

/// `v.a.b.c` by a path of keys.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

/// A Jira user object in any of its shapes. `None` when it identifies nobody.
pub fn user(v: Option<&Value>) -> Option<User> {
    let v = v.filter(|v| v.is_object())?;
    // Atlassian's own documented example spells it `accoundId`.
    let account_id = text(v.get("accountId"))
        .or_else(|| text(v.get("accoundId")))
        .unwrap_or_default();
    let user_key = text(v.get("key")).unwrap_or_default();
    let username = text(v.get("name")).unwrap_or_default();
    let id = [&account_id, &user_key, &username]
        .into_iter()
        .find(|s| !s.is_empty())?
        .clone();
    Some(User {
        id,
        name: text(v.get("displayName")).unwrap_or_default(),
        email: text(v.get("emailAddress")).unwrap_or_default(),
        account_id,
        username,
        user_key,
    })
}

/// The site a `self` URL belongs to: scheme, host, port and any context path before `/rest/`.
pub fn site_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find('/').unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    if host.is_empty() {
        return None;
    }
    let context = path.find("/rest/").map(|i| &path[..i]).unwrap_or("");
    Some(format!(
        "{}://{}{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase(),
        context.trim_end_matches('/')
    ))
}

/// The issue id inside a REST URL such as `…/rest/api/2/issue/10013/comment/10082`.
pub fn issue_id_in_url(url: &str) -> Option<String> {
    let mut parts = url.split(['/', '?']);
    parts.by_ref().find(|p| *p == "issue")?;
    parts
        .next()
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

/// Jira's `timestamp` in epoch ms. Real payloads carry an integer; logger-captured ones a local
/// time string such as `2018-12-18 11:57:24,746`, read as UTC. Unreadable: 0.
pub fn event_time_ms(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Some(Value::String(s)) => {
            let s = s.trim();
            if let Ok(ms) = s.parse::<i64>() {
                return ms;
            }
            let s = s.replace(',', ".");
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(&s, f).ok())
                .map(|t| t.and_utc().timestamp_millis())
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// JSON with object keys sorted and no whitespace: equal values give equal bytes, whatever
/// order the sender wrote the keys in.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sites_keep_port_and_context_path() {
        assert_eq!(
            site_of("https://acme.atlassian.net/rest/api/2/issue/1").unwrap(),
            "https://acme.atlassian.net"
        );
        assert_eq!(
            site_of("http://h.example:8080/jira/rest/api/2/user?username=a").unwrap(),
            "http://h.example:8080/jira"
        );
        assert_eq!(site_of("nonsense"), None);
    }

    #[test]
    fn issue_ids_from_urls() {
        assert_eq!(
            issue_id_in_url("http://h/rest/api/2/issue/10013/comment/10082").unwrap(),
            "10013"
        );
        assert_eq!(issue_id_in_url("https://h/rest/api/2/10360"), None);
        assert_eq!(issue_id_in_url("https://h/rest/api/2/issue/KEY-1"), None);
    }

    #[test]
    fn timestamps_numeric_and_logged() {
        assert_eq!(
            event_time_ms(Some(&json!(1566935004475_i64))),
            1566935004475
        );
        assert_eq!(
            event_time_ms(Some(&json!("2018-12-18 11:57:24,746"))),
            1545134244746
        );
        assert_eq!(
            event_time_ms(Some(&json!("2019-2-27 13:30:21,620"))),
            1551274221620
        );
        assert_eq!(event_time_ms(Some(&json!("yesterday"))), 0);
        assert_eq!(event_time_ms(None), 0);
    }

    #[test]
    fn users_and_placeholders() {
        let u = user(Some(
            &json!({"accountId": "abc", "name": "n", "emailAddress": "\"?\"", "displayName": "D"}),
        ))
        .unwrap();
        assert_eq!(
            (u.id.as_str(), u.email.as_str(), u.username.as_str()),
            ("abc", "", "n")
        );
        let s = user(Some(&json!({"name": "admin", "key": "JIRAUSER1"}))).unwrap();
        assert_eq!(s.id, "JIRAUSER1");
        assert!(user(Some(&json!({"displayName": "nobody"}))).is_none());
        assert!(user(Some(&json!({"accountId": "?"}))).is_none());
    }

    #[test]
    fn canonical_json_ignores_key_order() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
    }
}
