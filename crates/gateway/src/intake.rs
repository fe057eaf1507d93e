//! What public forms only record, written by group commit: "Forgot your password?",
//! "Find your firm" and "Request your credential" requests, and the rate-limit
//! counters every form and sign-in bumps.
//!
//! A request hands its item to [`AppState::intake`](crate::app::AppState) and is
//! answered once the batch holding it has committed: a batch costs one upsert of
//! counters, one read of the previous windows and one multi-row INSERT per kind of
//! request, whatever its size, so a flood of requests shares a few statements
//! instead of queueing for SQLite's one writer one by one.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use identity::{
    NewAccessRequest, NewFirmLookup, RateLimit, RateLimited, WindowHits, create_access_requests,
    hit_buckets, record_firm_lookups,
};
use reset_token::{NewResetRequest, record_reset_requests};
use sea_orm::DbErr;
use storage::Transaction;
use storage::{Batch, GroupCommit, GroupCommitError, GroupCommitLimits};
use tenancy::TenantId;

use crate::error::GatewayError;

/// A request to keep for the processors.
#[derive(Debug, Clone)]
pub enum Record {
    ResetRequest(NewResetRequest),
    FirmLookup(NewFirmLookup),
    AccessRequest(TenantId, NewAccessRequest),
}

/// One item of a batch.
#[derive(Debug, Clone)]
pub enum Intake {
    /// Counts a hit of `bucket` and, if the hit is within `max` per window, keeps
    /// `record` (when there is one).
    Limited {
        bucket: String,
        max: u64,
        record: Option<Record>,
    },
    /// Counts a hit of each bucket, judging none (refused links).
    Count { buckets: Vec<String> },
    /// Counts an attempt in every bucket before the work it guards (a password hash, a
    /// redemption), then judges each against its `max`: so a burst of concurrent
    /// attempts cannot all see the count from before any of them.
    Attempt { limits: Vec<(String, u64)> },
}

impl Intake {
    fn buckets(&self) -> impl Iterator<Item = &str> {
        let (one, many, limited): (Option<&String>, &[String], &[(String, u64)]) = match self {
            Self::Limited { bucket, .. } => (Some(bucket), &[], &[]),
            Self::Count { buckets } => (None, buckets, &[]),
            Self::Attempt { limits } => (None, &[], limits),
        };
        one.into_iter()
            .chain(many)
            .chain(limited.iter().map(|(bucket, _)| bucket))
            .map(String::as_str)
    }
}

/// What became of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intaken {
    /// Counted, and its record kept.
    Recorded,
    /// An attempt counted within every limit: each bucket's hits counting it, in the
    /// order of its limits.
    Attempted(Vec<WindowHits>),
    /// Counted, over the limit: its record was not kept.
    Limited(RateLimited),
}

/// The writes of a batch of [`Intake`]s.
#[derive(Debug, Clone, Copy)]
pub struct IntakeBatch {
    /// The window of every limit (`limits.window_minutes`).
    pub window: Duration,
}

impl Batch for IntakeBatch {
    type Item = Intake;
    type Answer = Intaken;

    async fn write(&self, txn: &Transaction, items: &[Intake]) -> Result<Vec<Intaken>, DbErr> {
        let now = Utc::now();
        let buckets: Vec<(&str, u64)> = items
            .iter()
            .flat_map(Intake::buckets)
            .map(|bucket| (bucket, 1))
            .collect();
        let counted = hit_buckets(txn, &buckets, self.window, now)
            .await
            .map_err(into_db_error)?;
        let mut batch_hits = BatchHits::new(&buckets, &counted);
        let mut answers = Vec::with_capacity(items.len());
        let mut resets = Vec::new();
        let mut lookups = Vec::new();
        let mut access = Vec::new();
        for item in items {
            match item {
                Intake::Count { buckets } => {
                    for bucket in buckets {
                        batch_hits.next(bucket);
                    }
                    answers.push(Intaken::Recorded);
                }
                Intake::Attempt { limits } => {
                    let mut seen = Vec::with_capacity(limits.len());
                    let mut refusal: Option<RateLimited> = None;
                    for (bucket, max) in limits {
                        let hits = batch_hits.next(bucket);
                        let limit = RateLimit {
                            max: *max,
                            window: self.window,
                        };
                        if let Err(limited) = limit.judge(hits, now) {
                            // The longest wait of the limits broken is the true one.
                            refusal = Some(refusal.map_or(limited, |earlier| {
                                if earlier.retry_after_seconds >= limited.retry_after_seconds {
                                    earlier
                                } else {
                                    limited
                                }
                            }));
                        }
                        seen.push(hits);
                    }
                    answers.push(match refusal {
                        Some(limited) => Intaken::Limited(limited),
                        None => Intaken::Attempted(seen),
                    });
                }
                Intake::Limited {
                    bucket,
                    max,
                    record,
                } => {
                    let limit = RateLimit {
                        max: *max,
                        window: self.window,
                    };
                    match limit.judge(batch_hits.next(bucket), now) {
                        Err(limited) => answers.push(Intaken::Limited(limited)),
                        Ok(()) => {
                            match record.clone() {
                                Some(Record::ResetRequest(request)) => resets.push(request),
                                Some(Record::FirmLookup(lookup)) => lookups.push(lookup),
                                Some(Record::AccessRequest(tenant, request)) => {
                                    access.push((tenant, request));
                                }
                                None => {}
                            }
                            answers.push(Intaken::Recorded);
                        }
                    }
                }
            }
        }
        record_reset_requests(txn, &resets, now)
            .await
            .map_err(|error| match error {
                reset_token::TokenError::Database(error) => error,
                other => DbErr::Custom(other.to_string()),
            })?;
        record_firm_lookups(txn, &lookups, now)
            .await
            .map_err(into_db_error)?;
        create_access_requests(txn, &access, now)
            .await
            .map_err(into_db_error)?;
        Ok(answers)
    }
}

/// Each bucket's hits counting the whole batch, handed out hit by hit: the nth hit
/// of a bucket in the batch is judged with the hits up to and including it.
struct BatchHits<'a> {
    totals: HashMap<&'a str, (WindowHits, u64)>,
    made: HashMap<&'a str, u64>,
}

impl<'a> BatchHits<'a> {
    fn new(buckets: &[(&'a str, u64)], counted: &[WindowHits]) -> Self {
        let mut totals: HashMap<&str, (WindowHits, u64)> = HashMap::new();
        for ((bucket, _), hits) in buckets.iter().zip(counted) {
            totals.entry(bucket).or_insert((*hits, 0)).1 += 1;
        }
        Self {
            totals,
            made: HashMap::new(),
        }
    }

    fn next(&mut self, bucket: &'a str) -> WindowHits {
        let made = self.made.entry(bucket).or_insert(0);
        *made += 1;
        let (after, in_batch) = self.totals.get(bucket).copied().unwrap_or_default();
        WindowHits {
            previous: after.previous,
            current: after.current.saturating_sub(in_batch) + *made,
        }
    }
}

fn into_db_error(error: identity::IdentityError) -> DbErr {
    match error {
        identity::IdentityError::Database(error) => error,
        other => DbErr::Custom(other.to_string()),
    }
}

/// The intake writer of one process.
pub type IntakeWriter = GroupCommit<IntakeBatch>;

/// Starts the writer on `db`.
pub fn start(db: storage::Database, window: Duration) -> IntakeWriter {
    GroupCommit::start(db, IntakeBatch { window }, GroupCommitLimits::default())
}

impl From<GroupCommitError> for GatewayError {
    fn from(error: GroupCommitError) -> Self {
        Self::internal(error)
    }
}

/// Submits `item` and turns a refusal into the 429 page.
pub async fn submit(writer: &IntakeWriter, item: Intake) -> Result<(), GatewayError> {
    submit_attempt(writer, item).await.map(drop)
}

/// Submits `item`; within its limits, the hits each bucket has counting it (none but
/// for an [`Intake::Attempt`]).
pub async fn submit_attempt(
    writer: &IntakeWriter,
    item: Intake,
) -> Result<Vec<WindowHits>, GatewayError> {
    match writer.submit(item).await? {
        Intaken::Recorded => Ok(Vec::new()),
        Intaken::Attempted(hits) => Ok(hits),
        Intaken::Limited(limited) => Err(GatewayError::TooManyAttempts {
            retry_after_seconds: limited.retry_after_seconds,
        }),
    }
}
