//! JSON lines on stdout (the quickstart's sink). Logs go to stderr, so stdout stays parseable.

use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{AttemptFailure, AttemptOutcome};

#[derive(Debug, Default)]
pub struct StdoutSink {
    // One writer at a time, so concurrent deliveries never interleave inside a line.
    out: Mutex<()>,
}

impl StdoutSink {
    pub async fn deliver(&self, body: &[u8]) -> AttemptOutcome {
        let _guard = self.out.lock().await;
        let mut line = Vec::with_capacity(body.len() + 1);
        line.extend_from_slice(body);
        line.push(b'\n');
        let mut out = tokio::io::stdout();
        match async {
            out.write_all(&line).await?;
            out.flush().await
        }
        .await
        {
            Ok(()) => AttemptOutcome::Delivered { status: 0 },
            Err(e) => AttemptOutcome::Failed(AttemptFailure::transient(e)),
        }
    }
}
