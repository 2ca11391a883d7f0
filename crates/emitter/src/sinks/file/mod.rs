//! JSON lines appended to a file.

mod config;

pub use config::FileConfig;

use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{AttemptFailure, AttemptOutcome};
use crate::{Error, Result};

#[derive(Debug)]
pub struct FileSink {
    file: Mutex<File>,
    sync: bool,
}

impl FileSink {
    pub async fn open(config: &FileConfig) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.path)
            .await
            .map_err(|e| Error::io(format!("opening sink file {}", config.path.display()), e))?;
        Ok(FileSink {
            file: Mutex::new(file),
            sync: config.sync,
        })
    }

    pub async fn deliver(&self, body: &[u8]) -> AttemptOutcome {
        let mut line = Vec::with_capacity(body.len() + 1);
        line.extend_from_slice(body);
        line.push(b'\n');
        let mut file = self.file.lock().await;
        let written = async {
            file.write_all(&line).await?;
            file.flush().await?;
            if self.sync {
                file.sync_data().await?;
            }
            Ok::<_, std::io::Error>(())
        }
        .await;
        match written {
            Ok(()) => AttemptOutcome::Delivered { status: 0 },
            Err(e) => AttemptOutcome::Failed(AttemptFailure::transient(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn appends_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let sink = FileSink::open(&FileConfig {
            path: path.clone(),
            sync: true,
        })
        .await
        .unwrap();
        assert_eq!(
            sink.deliver(br#"{"a":1}"#).await,
            AttemptOutcome::Delivered { status: 0 }
        );
        assert_eq!(
            sink.deliver(br#"{"a":2}"#).await,
            AttemptOutcome::Delivered { status: 0 }
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
    }
}
