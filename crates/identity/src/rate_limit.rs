//! Rate limits kept in the database, so that a limit holds across every instance.
//!
//! A limit is "at most `max` hits in any `window`" for a named bucket such as
//! `sign-in:email:{tenant}:{address}`. Each bucket keeps one counter per fixed window,
//! bumped by one upsert (many buckets at once in a batch). A fixed window alone would
//! let a client spend its limit at the end of one window and again at the start of
//! the next, so the judgement slides: the previous window's hits count in proportion
//! to how much of it still lies within `window` of now (the estimate Cloudflare and
//! nginx use), which needs only the two counters.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::IdentityError;
use crate::entity::rate_limit_counter::{Column, Entity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u64,
    pub window: Duration,
}

/// A limit was reached; try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many attempts; try again in {retry_after_seconds} s")]
pub struct RateLimited {
    pub retry_after_seconds: u64,
}

/// A bucket's hits in the window that holds `now` and in the one before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowHits {
    pub previous: u64,
    pub current: u64,
}

impl WindowHits {
    /// The same hits with `extra` more in the current window: what a hit still to be
    /// made would see, or the `k`th of a batch's hits.
    pub fn plus(self, extra: u64) -> Self {
        Self {
            current: self.current.saturating_add(extra),
            ..self
        }
    }
}

impl RateLimit {
    fn window_seconds(&self) -> i64 {
        self.window.num_seconds().max(1)
    }

    /// The start (seconds since the epoch) of the fixed window holding `now`.
    fn window_start(&self, now: DateTime<Utc>) -> i64 {
        let window = self.window_seconds();
        now.timestamp().div_euclid(window) * window
    }

    /// Whether a hit is allowed, given the hits of its bucket counting that hit.
    pub fn judge(&self, hits: WindowHits, now: DateTime<Utc>) -> Result<(), RateLimited> {
        let window = self.window_seconds() as f64;
        let start = self.window_start(now);
        let elapsed = (now - DateTime::from_timestamp(start, 0).unwrap_or(now)).num_milliseconds()
            as f64
            / 1000.0;
        let remaining_share = ((window - elapsed) / window).clamp(0.0, 1.0);
        let max = self.max as f64;
        let estimate = hits.previous as f64 * remaining_share + hits.current as f64;
        if estimate <= max {
            return Ok(());
        }
        // When will there be room for one more hit, if no other comes meanwhile
        // (whether or not the refused one was counted)?
        let room = (max - 1.0).max(0.0);
        let wait = if hits.current as f64 > room {
            // Not before the current window's own hits have partly slid out.
            let until_next = window - elapsed;
            until_next + window * (1.0 - room / hits.current as f64)
        } else {
            // Once enough of the previous window has slid out.
            let needed_share = (room - hits.current as f64) / hits.previous as f64;
            window * (1.0 - needed_share) - elapsed
        };
        Err(RateLimited {
            retry_after_seconds: (wait.ceil() as u64).max(1),
        })
    }
}

fn bucket_key(bucket: &str) -> String {
    let digest = Sha256::digest(bucket.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The hits `bucket` has now, in the current window of `limit` and the one before.
pub async fn window_hits(
    db: &impl ConnectionTrait,
    bucket: &str,
    limit: RateLimit,
    now: DateTime<Utc>,
) -> Result<WindowHits, IdentityError> {
    let key = bucket_key(bucket);
    let start = limit.window_start(now);
    let rows = Entity::find()
        .filter(Column::Bucket.eq(key.as_str()))
        .filter(Column::WindowStart.is_in([start - limit.window_seconds(), start]))
        .all(db)
        .await?;
    let mut hits = WindowHits::default();
    for row in rows {
        let count = u64::try_from(row.hits).unwrap_or(0);
        if row.window_start == start {
            hits.current = count;
        } else {
            hits.previous = count;
        }
    }
    Ok(hits)
}

/// Counts `hits` more in each bucket (the names need not be distinct) and returns
/// each bucket's window hits counting them, in the order given. One upsert and one
/// read, whatever the number of buckets.
pub async fn hit_buckets(
    db: &impl ConnectionTrait,
    hits: &[(&str, u64)],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<WindowHits>, IdentityError> {
    // Here only: its `max` would shadow `Ord::max` in the arithmetic above.
    use sea_orm::sea_query::ExprTrait as _;
    if hits.is_empty() {
        return Ok(Vec::new());
    }
    let limit = RateLimit { max: 0, window };
    let start = limit.window_start(now);
    let keys: Vec<String> = hits.iter().map(|(bucket, _)| bucket_key(bucket)).collect();
    // One row a bucket: an upsert may not touch a row twice.
    let mut added: HashMap<&str, u64> = HashMap::new();
    for (key, (_, count)) in keys.iter().zip(hits) {
        *added.entry(key.as_str()).or_default() += count;
    }
    let mut insert = Query::insert();
    insert
        .into_table(Entity)
        .columns([Column::Bucket, Column::WindowStart, Column::Hits]);
    for (key, count) in &added {
        insert.values_panic([
            (*key).into(),
            start.into(),
            i64::try_from(*count).unwrap_or(i64::MAX).into(),
        ]);
    }
    insert
        .on_conflict(
            OnConflict::columns([Column::Bucket, Column::WindowStart])
                .value(
                    Column::Hits,
                    Expr::col((Entity, Column::Hits))
                        .add(Expr::col((Alias::new("excluded"), Column::Hits))),
                )
                .to_owned(),
        )
        .returning(Query::returning().columns([Column::Bucket, Column::Hits]));
    let mut current: HashMap<String, u64> = HashMap::new();
    for row in db.query_all(&insert).await? {
        let key: String = row.try_get("", "bucket")?;
        let count: i64 = row.try_get("", "hits")?;
        current.insert(key, u64::try_from(count).unwrap_or(0));
    }
    let previous: HashMap<String, u64> = Entity::find()
        .filter(Column::WindowStart.eq(start - limit.window_seconds()))
        .filter(Column::Bucket.is_in(added.keys().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.bucket, u64::try_from(row.hits).unwrap_or(0)))
        .collect();
    Ok(keys
        .iter()
        .map(|key| WindowHits {
            previous: previous.get(key).copied().unwrap_or(0),
            current: current.get(key).copied().unwrap_or(0),
        })
        .collect())
}

/// Takes back one hit of each bucket in the current window: an attempt counted before
/// its outcome was known, that turned out well.
pub async fn refund_hits(
    db: &impl ConnectionTrait,
    buckets: &[&str],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    use sea_orm::sea_query::ExprTrait as _;
    if buckets.is_empty() {
        return Ok(());
    }
    let limit = RateLimit { max: 0, window };
    Entity::update_many()
        .col_expr(Column::Hits, Expr::col(Column::Hits).sub(1))
        .filter(Column::Bucket.is_in(buckets.iter().map(|bucket| bucket_key(bucket))))
        .filter(Column::WindowStart.eq(limit.window_start(now)))
        .filter(Column::Hits.gt(0))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets every hit of `bucket` (a successful sign-in clears its failures).
pub async fn clear_bucket(db: &impl ConnectionTrait, bucket: &str) -> Result<(), IdentityError> {
    Entity::delete_many()
        .filter(Column::Bucket.eq(bucket_key(bucket)))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes counters of windows that began before `before`; they no longer count.
pub async fn purge_rate_limit_counters(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, IdentityError> {
    Ok(Entity::delete_many()
        .filter(Column::WindowStart.lt(before.timestamp()))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::{RateLimit, WindowHits};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    const LIMIT: RateLimit = RateLimit {
        max: 10,
        window: Duration::minutes(15),
    };

    #[test]
    fn hits_within_the_limit_pass() {
        let hits = WindowHits {
            previous: 0,
            current: 10,
        };
        assert!(LIMIT.judge(hits, at(900 * 1000 + 10)).is_ok());
        assert!(LIMIT.judge(hits.plus(1), at(900 * 1000 + 10)).is_err());
    }

    #[test]
    fn the_previous_window_counts_while_it_slides_out() {
        // Ten hits at the very end of one window: just after it, the eleventh is
        // refused, though the new window is empty.
        let full_before = WindowHits {
            previous: 10,
            current: 1,
        };
        let start = 900 * 1000;
        let refused = LIMIT.judge(full_before, at(start + 1)).unwrap_err();
        assert!(LIMIT.judge(full_before, at(start + 90)).is_ok());
        // Told to come back when there is room for a further hit, counted or not.
        assert_eq!(refused.retry_after_seconds, 179);
        assert!(LIMIT.judge(full_before.plus(1), at(start + 180)).is_ok());
    }

    #[test]
    fn a_full_current_window_waits_into_the_next() {
        let start = 900 * 1000;
        let hits = WindowHits {
            previous: 0,
            current: 20,
        };
        let refused = LIMIT.judge(hits, at(start + 300)).unwrap_err();
        // 600 s to the window's end, then 55% of the next for 20 hits to weigh 9.
        assert_eq!(refused.retry_after_seconds, 600 + 495);
    }
}
