//! Tables used as work queues: requests that a processor takes in order, retries with
//! backoff when handling one fails, and sets aside after a few attempts, so that one
//! bad request never stops the ones behind it. Operators list what was set aside and
//! put it back.
//!
//! A queue table has, besides its own columns, `done_at` (when it was handled, or set
//! aside), `outcome` (`failed` for what was set aside), `attempts`, `next_attempt_at`
//! and `last_error`. The domain crate that owns the table describes its columns with
//! a [`WorkQueue`] and calls these functions with its entity.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, UpdateMany, Value,
};

/// The outcome of a request that was set aside.
pub const FAILED: &str = "failed";

/// A queue's columns, of the entity `E` that owns them.
#[derive(Debug, Clone, Copy)]
pub struct WorkQueue<C> {
    pub id: C,
    /// When the request was queued: requests are taken oldest first.
    pub queued_at: C,
    pub done_at: C,
    pub outcome: C,
    pub attempts: C,
    pub next_attempt_at: C,
    pub last_error: C,
}

/// How failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all; the last failure sets the request aside.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each one.
    pub first_delay: Duration,
}

impl RetryPolicy {
    /// The wait after the `failures`th failure (1-based).
    pub fn delay_after(&self, failures: u32) -> Duration {
        self.first_delay
            .saturating_mul(2_u32.saturating_pow(failures.saturating_sub(1)))
            .min(Duration::from_secs(3600))
    }
}

/// What became of a request whose handling failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// It is tried again at this time.
    RetryAt(DateTime<Utc>),
    /// It ran out of attempts and waits for an operator.
    SetAside,
    /// Another processor recorded something first; nothing was changed.
    Overtaken,
}

impl<C: ColumnTrait> WorkQueue<C> {
    /// Requests not handled yet whose next attempt is due.
    pub fn due(&self, now: DateTime<Utc>) -> Condition {
        Condition::all().add(self.done_at.is_null()).add(
            Condition::any()
                .add(self.next_attempt_at.is_null())
                .add(self.next_attempt_at.lte(now)),
        )
    }

    /// Requests that were set aside.
    pub fn set_aside(&self) -> Condition {
        Condition::all()
            .add(self.done_at.is_not_null())
            .add(self.outcome.eq(FAILED))
    }

    /// The oldest requests due, at most `limit`.
    pub async fn due_rows<E>(
        &self,
        db: &impl ConnectionTrait,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait<Column = C>,
    {
        E::find()
            .filter(self.due(now))
            .order_by_asc(self.queued_at)
            .limit(limit)
            .all(db)
            .await
    }

    /// Requests set aside, newest first, at most `limit`.
    pub async fn set_aside_rows<E>(
        &self,
        db: &impl ConnectionTrait,
        limit: u64,
    ) -> Result<Vec<E::Model>, DbErr>
    where
        E: EntityTrait<Column = C>,
    {
        E::find()
            .filter(self.set_aside())
            .order_by_desc(self.queued_at)
            .limit(limit)
            .all(db)
            .await
    }

    /// Marks request `id` handled with `outcome`. False when it was handled already:
    /// another processor got there first, and the caller rolls back whatever it did
    /// for the request so that nothing happens twice.
    pub async fn finish<E>(
        &self,
        db: &impl ConnectionTrait,
        id: impl Into<Value>,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DbErr>
    where
        E: EntityTrait<Column = C>,
    {
        let result = self
            .mark_done::<E>(outcome, now)
            .filter(self.id.eq(id))
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Marks many requests handled with one `outcome`, in one statement; returns how
    /// many were not handled already.
    pub async fn finish_all<E, V>(
        &self,
        db: &impl ConnectionTrait,
        ids: &[V],
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, DbErr>
    where
        E: EntityTrait<Column = C>,
        V: Into<Value> + Clone,
    {
        if ids.is_empty() {
            return Ok(0);
        }
        let result = self
            .mark_done::<E>(outcome, now)
            .filter(self.id.is_in(ids.iter().cloned()))
            .exec(db)
            .await?;
        Ok(result.rows_affected)
    }

    /// The update that marks requests handled, guarded so that none is handled twice.
    fn mark_done<E>(&self, outcome: &str, now: DateTime<Utc>) -> UpdateMany<E>
    where
        E: EntityTrait<Column = C>,
    {
        E::update_many()
            .col_expr(self.done_at, Expr::value(now))
            .col_expr(self.outcome, Expr::value(outcome))
            .filter(self.done_at.is_null())
    }

    /// Records that handling request `id` failed for the `attempts_before + 1`th time:
    /// it is retried later, or set aside once out of attempts. Guarded by the number
    /// of attempts seen, so two processors never both count one failure.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_failure<E>(
        &self,
        db: &impl ConnectionTrait,
        id: impl Into<Value>,
        attempts_before: i32,
        error: &str,
        now: DateTime<Utc>,
        policy: RetryPolicy,
    ) -> Result<Failure, DbErr>
    where
        E: EntityTrait<Column = C>,
    {
        let failures = attempts_before.saturating_add(1);
        let error: String = error.chars().take(1000).collect();
        let mut update = E::update_many()
            .col_expr(self.attempts, Expr::value(failures))
            .col_expr(self.last_error, Expr::value(error));
        let failure = if u32::try_from(failures).unwrap_or(u32::MAX) >= policy.max_attempts {
            update = update
                .col_expr(self.done_at, Expr::value(now))
                .col_expr(self.outcome, Expr::value(FAILED))
                .col_expr(
                    self.next_attempt_at,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
            Failure::SetAside
        } else {
            let delay = policy.delay_after(u32::try_from(failures).unwrap_or(u32::MAX));
            let at = now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(1));
            update = update.col_expr(self.next_attempt_at, Expr::value(at));
            Failure::RetryAt(at)
        };
        let result = update
            .filter(self.id.eq(id))
            .filter(self.done_at.is_null())
            .filter(self.attempts.eq(attempts_before))
            .exec(db)
            .await?;
        Ok(if result.rows_affected == 1 {
            failure
        } else {
            Failure::Overtaken
        })
    }

    /// Puts a request that was set aside back in the queue, due now, with its attempts
    /// counted afresh. False when `id` is not a set-aside request of this queue.
    pub async fn put_back<E>(
        &self,
        db: &impl ConnectionTrait,
        id: impl Into<Value>,
    ) -> Result<bool, DbErr>
    where
        E: EntityTrait<Column = C>,
    {
        let result = E::update_many()
            .col_expr(self.done_at, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(self.outcome, Expr::value(Option::<String>::None))
            .col_expr(self.attempts, Expr::value(0))
            .col_expr(
                self.next_attempt_at,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(self.id.eq(id))
            .filter(self.set_aside())
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// How many requests wait (due or not), and how many were set aside.
    pub async fn depth<E>(&self, db: &impl ConnectionTrait) -> Result<QueueDepth, DbErr>
    where
        E: EntityTrait<Column = C>,
        E::Model: Sync,
    {
        let pending = E::find().filter(self.done_at.is_null()).count(db).await?;
        let failed = E::find().filter(self.set_aside()).count(db).await?;
        Ok(QueueDepth { pending, failed })
    }
}

/// How full a queue is, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub pending: u64,
    pub failed: u64,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::RetryPolicy;

    #[test]
    fn delays_double_up_to_an_hour() {
        let policy = RetryPolicy {
            max_attempts: 5,
            first_delay: Duration::from_secs(5),
        };
        let delays: Vec<u64> = (1..=4).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40]);
        assert_eq!(policy.delay_after(40), Duration::from_secs(3600));
    }
}
