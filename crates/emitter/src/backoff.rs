//! The retry schedule: exponential steps from `initial_delay` capped at `max_delay` (computed by
//! `backon`), each drawn with full jitter (uniform in `[0, step]`), and never sooner than a
//! receiver's `Retry-After`.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::config::RetryConfig;

/// The un-jittered step before retry number `attempt` (1 = the first retry).
pub fn step(retry: &RetryConfig, attempt: u32) -> Duration {
    let mut steps = ExponentialBuilder::default()
        .with_min_delay(retry.initial_delay)
        .with_max_delay(retry.max_delay)
        .with_factor(2.0)
        .without_max_times()
        .build();
    steps
        .nth(attempt.saturating_sub(1) as usize)
        .unwrap_or(retry.max_delay)
}

/// How long to wait before retry number `attempt`: full jitter over [`step`], at least
/// `retry_after` when the receiver asked for it.
pub fn delay(retry: &RetryConfig, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let step = step(retry, attempt);
    let jittered = step.mul_f64(rand::random::<f64>());
    retry_after.map_or(jittered, |ra| jittered.max(ra.min(retry.max_delay)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry() -> RetryConfig {
        RetryConfig {
            initial_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(6 * 3600),
            max_attempts: 18,
            max_age: Duration::from_secs(86_400),
            disable_after: Duration::from_secs(3 * 86_400),
        }
    }

    #[test]
    fn steps_double_then_cap() {
        let r = retry();
        assert_eq!(step(&r, 1), Duration::from_secs(5));
        assert_eq!(step(&r, 2), Duration::from_secs(10));
        assert_eq!(step(&r, 5), Duration::from_secs(80));
        assert_eq!(step(&r, 40), Duration::from_secs(6 * 3600));
    }

    #[test]
    fn schedule_spans_about_a_day() {
        let r = retry();
        let total: Duration = (1..r.max_attempts).map(|a| step(&r, a)).sum();
        assert!(
            total > Duration::from_secs(86_400) && total < Duration::from_secs(2 * 86_400),
            "{total:?}"
        );
    }

    #[test]
    fn jitter_stays_within_the_step_and_honours_retry_after() {
        let r = retry();
        for attempt in 1..20 {
            assert!(delay(&r, attempt, None) <= step(&r, attempt));
        }
        assert!(delay(&r, 1, Some(Duration::from_secs(120))) >= Duration::from_secs(120));
    }
}
