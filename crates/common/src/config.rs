//! Layered configuration: the documented defaults embedded in the binary, then the user's TOML
//! file, then `AUDITSTREAM_*` environment variables. Unknown keys are errors (each role's config
//! struct is `deny_unknown_fields`), durations carry units (`"5m"`).
//!
//! An environment variable names a key path with `__` between levels:
//! `AUDITSTREAM_KAFKA__BROKERS=host:9092` sets `kafka.brokers`,
//! `AUDITSTREAM_COLLATOR__GAP=30s` sets `collator.gap`. Its value is read as a TOML value when it
//! parses as one (numbers, booleans, arrays), else as a string.

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::{Error, Result};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "AUDITSTREAM_";

/// Builds the effective configuration from the embedded defaults, an optional file and the
/// given environment (pass `std::env::vars()` in production).
pub fn load<T: DeserializeOwned>(
    defaults: &str,
    file: Option<&std::path::Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T> {
    let mut table: Table = toml::from_str(defaults).map_err(Error::ConfigSyntax)?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigFile {
            path: path.display().to_string(),
            source,
        })?;
        let user: Table = toml::from_str(&text).map_err(Error::ConfigSyntax)?;
        merge(&mut table, user);
    }
    for (key, value) in env {
        if let Some(path) = key.strip_prefix(ENV_PREFIX) {
            // Variables read by the command line itself, not configuration keys.
            if !path.contains("__") {
                continue;
            }
            set_path(&mut table, path, parse_env_value(&value))?;
        }
    }
    Value::Table(table).try_into().map_err(Error::ConfigSyntax)
}

fn merge(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

fn parse_env_value(raw: &str) -> Value {
    // Wrap in a one-key document so scalars and arrays parse with TOML's own rules.
    toml::from_str::<Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_owned()))
}

fn set_path(table: &mut Table, path: &str, value: Value) -> Result<()> {
    let parts: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
    let (last, parents) = parts
        .split_last()
        .ok_or_else(|| Error::Config(format!("empty variable name {ENV_PREFIX}{path}")))?;
    let mut cursor = table;
    for part in parents {
        let entry = cursor
            .entry(part.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        cursor = entry.as_table_mut().ok_or_else(|| {
            Error::Config(format!("{ENV_PREFIX}{path}: `{part}` is not a section"))
        })?;
    }
    cursor.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::time::Duration;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        section: Section,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Section {
        name: String,
        count: u32,
        #[serde(with = "humantime_serde")]
        gap: Duration,
    }

    const DEFAULTS: &str = "[section]\nname = \"a\"\ncount = 1\ngap = \"5m\"\n";

    #[test]
    fn defaults_then_file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[section]\nname = \"from-file\"\n").unwrap();
        let env = vec![
            ("AUDITSTREAM_SECTION__COUNT".to_owned(), "7".to_owned()),
            ("OTHER".to_owned(), "x".to_owned()),
        ];
        let cfg: Cfg = load(DEFAULTS, Some(&file), env).unwrap();
        assert_eq!(cfg.section.name, "from-file");
        assert_eq!(cfg.section.count, 7);
        assert_eq!(cfg.section.gap, Duration::from_secs(300));
    }

    #[test]
    fn env_strings_and_durations() {
        let env = vec![
            (
                "AUDITSTREAM_SECTION__NAME".to_owned(),
                "plain text".to_owned(),
            ),
            ("AUDITSTREAM_SECTION__GAP".to_owned(), "30s".to_owned()),
        ];
        let cfg: Cfg = load(DEFAULTS, None, env).unwrap();
        assert_eq!(cfg.section.name, "plain text");
        assert_eq!(cfg.section.gap, Duration::from_secs(30));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let env = vec![("AUDITSTREAM_SECTION__COLOUR".to_owned(), "red".to_owned())];
        let err = load::<Cfg>(DEFAULTS, None, env).unwrap_err();
        assert!(err.to_string().contains("configuration"), "{err}");
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = load::<Cfg>(
            DEFAULTS,
            Some(std::path::Path::new("/nonexistent/c.toml")),
            Vec::new(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::ConfigFile { .. }));
    }
}
