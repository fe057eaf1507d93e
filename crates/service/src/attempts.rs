//! Attempts that guess at a secret (a password, a link): counted in every bucket
//! before the work they guard, judged against each limit, and taken back when they
//! turn out well. Counting first is what makes a limit hold against a burst: fifty
//! concurrent guesses are fifty hits before any of them is hashed.

use std::net::IpAddr;

use chrono::{Duration, Utc};
use identity::{WindowHits, refund_hits};

use crate::intake::{self, BucketLimit, Intake};
use crate::{ServiceError, Services};

/// An attempt counted and within its limits.
#[derive(Debug)]
pub struct Attempt {
    buckets: Vec<String>,
    window: Duration,
}

impl Attempt {
    /// Counts an attempt in each `(bucket, max)`; past any max, 429 with the longest
    /// wait. `u64::MAX` only counts. Returns the hits of each bucket counting this
    /// attempt, in the order given.
    pub async fn begin(
        services: &Services,
        limits: Vec<(String, u64)>,
    ) -> Result<(Self, Vec<WindowHits>), ServiceError> {
        let window = services.config.limits.window();
        let buckets = limits.iter().map(|(bucket, _)| bucket.clone()).collect();
        let limits = limits
            .into_iter()
            .map(|(bucket, max)| BucketLimit {
                bucket,
                max,
                window,
            })
            .collect();
        let item = Intake {
            limits,
            record: None,
        };
        let hits = intake::submit(&services.intake, item).await?;
        let attempt = Self { buckets, window };
        Ok((attempt, hits))
    }

    /// The attempt was no guess (the right password, a live link): it stops counting.
    pub async fn refund(self, services: &Services) -> Result<(), ServiceError> {
        let buckets: Vec<&str> = self.buckets.iter().map(String::as_str).collect();
        refund_hits(&services.db, &buckets, self.window, Utc::now()).await?;
        Ok(())
    }
}

/// What rate limits count a client against: the IPv4 address, or the /64 network of
/// an IPv6 one, since one subscriber is usually given a whole /64 and could otherwise
/// take a fresh address for every guess. `unknown` when there is none (never the case
/// behind a listener).
pub fn limit_key(client: Option<IpAddr>) -> String {
    // An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) is that client.
    let canonical = client.map(|address| match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    });
    match canonical {
        Some(IpAddr::V4(address)) => address.to_string(),
        Some(IpAddr::V6(address)) => {
            let [a, b, c, d, ..] = address.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        None => "unknown".to_owned(),
    }
}

/// How long to hold a sign-in for an account that has had `failures` failed attempts
/// in the window from anywhere, past `threshold`: OWASP's alternative to locking the
/// account, which would let any stranger lock its owner out. Doubling from a quarter
/// second, at most five seconds.
pub fn account_delay(failures: u64, threshold: u64) -> std::time::Duration {
    let Some(excess) = failures.checked_sub(threshold).filter(|excess| *excess > 0) else {
        return std::time::Duration::ZERO;
    };
    let doublings = u32::try_from(excess - 1).unwrap_or(u32::MAX).min(5);
    std::time::Duration::from_millis(250u64 << doublings).min(std::time::Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::account_delay;

    #[test]
    fn the_delay_doubles_past_the_threshold_up_to_five_seconds() {
        let delays: Vec<Duration> = (0..=12)
            .map(|failures| account_delay(failures, 5))
            .collect();
        assert!(delays[..=5].iter().all(Duration::is_zero));
        assert_eq!(delays[6], Duration::from_millis(250));
        assert_eq!(delays[7], Duration::from_millis(500));
        assert_eq!(delays[8], Duration::from_secs(1));
        assert_eq!(delays[10], Duration::from_secs(4));
        assert_eq!(delays[11], Duration::from_secs(5));
        assert_eq!(account_delay(u64::MAX, 5), Duration::from_secs(5));
    }
}
