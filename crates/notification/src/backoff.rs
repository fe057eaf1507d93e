//! When a failed message is tried again: exponential backoff with a cap and jitter,
//! so that many messages failing together do not retry in lockstep.

use std::time::Duration;

/// How far, as a fraction, jitter moves a delay either way.
const JITTER: f64 = 0.2;

/// The delay before the next attempt after `attempts` failed ones:
/// `base * 2^(attempts-1)`, at most `cap`, then moved by `jitter` (in -1.0..=1.0)
/// times 20%.
pub(crate) fn retry_delay(base: Duration, cap: Duration, attempts: u32, jitter: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let raw = base.saturating_mul(1 << exponent).min(cap);
    raw.mul_f64(1.0 + JITTER * jitter.clamp(-1.0, 1.0))
}

/// A uniform value in -1.0..=1.0 from the OS generator; no jitter if that fails,
/// since a retry slightly in step beats no retry.
pub(crate) fn random_jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0,
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{random_jitter, retry_delay};

    #[test]
    fn delays_double_up_to_the_cap() {
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(3600);
        let delays: Vec<u64> = (1..=9)
            .map(|attempts| retry_delay(base, cap, attempts, 0.0).as_secs())
            .collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(base, cap, 1000, 0.0), cap);
    }

    #[test]
    fn jitter_moves_a_delay_by_at_most_a_fifth() {
        let base = Duration::from_secs(100);
        let cap = Duration::from_secs(3600);
        assert_eq!(retry_delay(base, cap, 1, -1.0).as_secs(), 80);
        assert_eq!(retry_delay(base, cap, 1, 1.0).as_secs(), 120);
        assert_eq!(retry_delay(base, cap, 1, 7.0).as_secs(), 120);
        for _ in 0..1000 {
            let jitter = random_jitter();
            assert!((-1.0..=1.0).contains(&jitter));
        }
    }
}
