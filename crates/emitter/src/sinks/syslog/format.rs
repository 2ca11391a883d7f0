//! RFC 5424 messages with RFC 6587 octet-counting framing, and CEF bodies: pure functions.
//!
//! The header is written here rather than with a syslog crate: the crates that format RFC 5424
//! also own the transport, and this sink needs its own (octet-counted TCP/TLS with timeouts).

use schema::audit_json::action_word;
use schema::v1::AuditEvent;

use super::config::BodyFormat;

/// Private enterprise number 32473, reserved for documentation (RFC 5612), names our
/// structured-data element until auditstream has its own.
const SD_ID: &str = "auditstream@32473";

/// The header fields that do not come from the audit.
#[derive(Debug, Clone)]
pub struct Header {
    pub facility: u8,
    pub severity: u8,
    pub hostname: String,
    pub app_name: String,
}

/// RFC 5424 PRINTUSASCII fields: no spaces, at most `max` characters, "-" when empty.
fn field(text: &str, max: usize) -> String {
    let clean: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".to_owned()
    } else {
        clean
    }
}

/// SD-PARAM values escape `"`, `\` and `]`.
fn sd_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(']', "\\]")
}

/// One RFC 5424 message (without framing).
pub fn message(header: &Header, audit: &AuditEvent, json: &[u8], format: BodyFormat) -> Vec<u8> {
    let pri = u32::from(header.facility.min(23)) * 8 + u32::from(header.severity.min(7));
    let record = audit
        .auditable
        .as_ref()
        .map(|r| format!("{}/{}", r.r#type, r.id))
        .unwrap_or_default();
    let mut out = format!(
        "<{pri}>1 {ts} {host} {app} - audit [{SD_ID} id=\"{id}\" action=\"{action}\" record=\"{record}\" workspace=\"{ws}\"] ",
        ts = schema::format_rfc3339_ms(audit.created_at_ms),
        host = field(&header.hostname, 255),
        app = field(&header.app_name, 48),
        id = audit.id,
        action = action_word(audit.audit_action()),
        record = sd_value(&record),
        ws = sd_value(&audit.workspace),
    )
    .into_bytes();
    match format {
        BodyFormat::Json => out.extend_from_slice(json),
        BodyFormat::Cef => out.extend_from_slice(cef(audit, header.severity).as_bytes()),
    }
    out
}

/// RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message);
    out
}

fn cef_header(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|")
}

fn cef_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

/// ArcSight CEF: `CEF:0|vendor|product|version|signature id|name|severity|extension`, syslog
/// severity (0 = emergency) mapped onto CEF's 0..10 (10 = most severe).
pub fn cef(audit: &AuditEvent, syslog_severity: u8) -> String {
    let action = action_word(audit.audit_action());
    let (record_type, record_id) = audit
        .auditable
        .as_ref()
        .map(|r| (r.r#type.as_str(), r.id.as_str()))
        .unwrap_or_default();
    let user = audit.user.clone().unwrap_or_default();
    let changes: Vec<String> = audit
        .changes
        .iter()
        .map(|c| {
            format!(
                "{}: {} -> {}",
                c.field_name,
                c.previous_value.as_deref().unwrap_or(""),
                c.value.as_deref().unwrap_or("")
            )
        })
        .collect();
    let severity = 10u8.saturating_sub(syslog_severity.min(7));
    let ext = vec![
        ("rt", audit.created_at_ms.to_string()),
        ("externalId", audit.id.to_string()),
        ("act", action.to_owned()),
        ("cat", record_type.to_owned()),
        ("suid", user.id),
        (
            "suser",
            if user.name.is_empty() {
                "-".to_owned()
            } else {
                user.name
            },
        ),
        ("cs1Label", "workspace".to_owned()),
        ("cs1", audit.workspace.clone()),
        ("cs2Label", "record".to_owned()),
        ("cs2", format!("{record_type}/{record_id}")),
        ("msg", changes.join("; ")),
    ];
    let extension: Vec<String> = ext
        .into_iter()
        .map(|(k, v)| format!("{k}={}", cef_value(&v)))
        .collect();
    format!(
        "CEF:0|auditstream|auditstream|{}|audit.{action}|{}|{severity}|{}",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(&format!("{record_type} {action}")),
        extension.join(" ")
    )
}
