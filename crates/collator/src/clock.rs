//! The wall clock, injected so tests can control when idle windows close.

/// Where the shell reads "now" (epoch milliseconds) while a partition is caught up.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// This machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        schema::now_ms()
    }
}
