//! Counters for rate limits, kept in the database so that a limit holds across every
//! instance of the gateway.
//!
//! A limit is "at most `max` events in the last `window`" for a named bucket such as
//! `sign-in:email:{tenant}:{address}`. The count and the insert are two statements, so
//! concurrent requests may overshoot a limit by a few; the limit still stops a flood.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use crate::IdentityError;
use crate::entity::rate_limit_event;

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

fn bucket_key(bucket: &str) -> String {
    let digest = Sha256::digest(bucket.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// How many events `bucket` had within `limit.window` before `now`, and whether the
/// limit is reached (then with the seconds until the oldest one leaves the window).
pub async fn count_events(
    db: &impl ConnectionTrait,
    bucket: &str,
    limit: RateLimit,
    now: DateTime<Utc>,
) -> Result<Result<u64, RateLimited>, IdentityError> {
    let key = bucket_key(bucket);
    let since = now - limit.window;
    let recent = rate_limit_event::Entity::find()
        .filter(rate_limit_event::Column::Bucket.eq(key.as_str()))
        .filter(rate_limit_event::Column::CreatedAt.gt(since));
    let count = recent.clone().count(db).await?;
    if count < limit.max {
        return Ok(Ok(count));
    }
    let oldest = recent
        .order_by_asc(rate_limit_event::Column::CreatedAt)
        .one(db)
        .await?
        .map_or(now, |event| event.created_at);
    // Rounded up: the database may keep fewer sub-second digits than the clock, and
    // a client told to come back early would only be refused again.
    let remaining_ms = (oldest + limit.window - now).num_milliseconds();
    let retry_after = ((remaining_ms + 999) / 1000).max(1);
    Ok(Err(RateLimited {
        retry_after_seconds: retry_after.unsigned_abs(),
    }))
}

/// Counts one event in `bucket`.
pub async fn record_event(
    db: &impl ConnectionTrait,
    bucket: &str,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    rate_limit_event::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        bucket: Set(bucket_key(bucket)),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Forgets every event of `bucket` (a successful sign-in clears its failures), and,
/// while at it, events of every bucket older than a day.
pub async fn clear_events(
    db: &impl ConnectionTrait,
    bucket: &str,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    rate_limit_event::Entity::delete_many()
        .filter(rate_limit_event::Column::Bucket.eq(bucket_key(bucket)))
        .exec(db)
        .await?;
    rate_limit_event::Entity::delete_many()
        .filter(rate_limit_event::Column::CreatedAt.lt(now - Duration::days(1)))
        .exec(db)
        .await?;
    Ok(())
}
