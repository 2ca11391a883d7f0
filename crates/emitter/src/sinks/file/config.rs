use std::path::PathBuf;

use serde::Deserialize;

/// Keys of a `kind = "file"` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub path: PathBuf,
    /// fsync each line before counting it delivered.
    #[serde(default)]
    pub sync: bool,
}
