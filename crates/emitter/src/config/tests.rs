use super::*;

#[derive(Debug, Deserialize)]
struct Root {
    emitter: EmitterConfig,
}

#[test]
fn default_toml_parses_with_one_stdout_sink() {
    let root: Root = toml::from_str(crate::DEFAULT_TOML).unwrap();
    let c = root.emitter;
    c.validate().unwrap();
    assert_eq!(c.group_id, "auditstream-emitter");
    assert_eq!(c.sinks.len(), 1);
    assert!(matches!(c.sinks[0].kind, SinkKind::Stdout));
    assert_eq!(c.sinks[0].stream, Stream::Audit);
    assert_eq!(c.retry.max_age, Duration::from_secs(86_400));
}

/// Uncomments `# key = value` and `# [[table]]` lines: the documented examples.
fn uncomment_examples(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with("[[") => rest,
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) =>
            {
                rest
            }
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The commented examples in DEFAULT_TOML must stay valid.
#[test]
fn documented_sink_examples_parse() {
    let text = uncomment_examples(crate::DEFAULT_TOML);
    let root: Root = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let kinds: Vec<&str> = root.emitter.sinks.iter().map(|s| s.kind.word()).collect();
    assert_eq!(kinds, ["stdout", "webhook", "syslog", "kafka", "file"]);
    root.emitter.validate().unwrap();
}

const MINIMAL: &str = "[emitter]\ngroup_id='g'\nledger_retention='1d'\n[emitter.retry]\ninitial_delay='1s'\nmax_delay='1m'\nmax_attempts=3\nmax_age='1h'\ndisable_after='1h'\n[[emitter.sinks]]\nname='s'\nkind='stdout'\nstream='audit'\n";

#[test]
fn unknown_kind_keys_are_errors() {
    let err = toml::from_str::<Root>(&format!("{MINIMAL}url='x'\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown key url"), "{err}");
    let text =
        MINIMAL.replace("kind='stdout'", "kind='webhook'") + "url='http://x'\ncolour='red'\n";
    let err = toml::from_str::<Root>(&text).unwrap_err().to_string();
    assert!(err.contains("colour"), "{err}");
    let err = toml::from_str::<Root>(&MINIMAL.replace("kind='stdout'", "kind='pigeon'"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("pigeon"), "{err}");
}

#[test]
fn duplicate_sink_names_are_rejected() {
    let text =
        format!("{MINIMAL}[[emitter.sinks]]\nname='s'\nkind='stdout'\nstream='audit.live'\n");
    let root: Root = toml::from_str(&text).unwrap();
    assert_eq!(root.emitter.sinks[1].stream, Stream::AuditLive);
    assert!(root.emitter.validate().is_err());
}
