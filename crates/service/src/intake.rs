//! What public forms only record, written by group commit: "Forgot your password?",
//! "Find your firm" and "Request your credential" requests, and the rate-limit
//! counters every form and sign-in bumps.
//!
//! A request hands its item to [`Parts::intake`](crate::Parts::intake) and is
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
use storage::{Batch, GroupCommit, GroupCommitLimits};
use tenancy::TenantId;

use crate::ServiceError;

/// A request to keep for the processors.
#[derive(Debug, Clone)]
pub enum Record {
    ResetRequest(NewResetRequest),
    FirmLookup(NewFirmLookup),
    AccessRequest(TenantId, NewAccessRequest),
}

/// A limit an item is counted against: at most `max` hits of `bucket` per `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketLimit {
    pub bucket: String,
    /// `u64::MAX` only counts.
    pub max: u64,
    pub window: Duration,
}

/// One item of a batch: a hit counted in each of its buckets and judged against each
/// limit in the same transaction, then its record kept (when there is one) if every
/// limit holds. Counting and judging together is what makes a limit hold against a
/// burst: fifty concurrent attempts are fifty hits before any of them is judged.
#[derive(Debug, Clone)]
pub struct Intake {
    pub limits: Vec<BucketLimit>,
    pub record: Option<Record>,
}

/// What became of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intaken {
    /// Counted within every limit, and its record kept: each bucket's hits counting
    /// it, in the order of its limits.
    Recorded(Vec<WindowHits>),
    /// Counted, over a limit (the longest wait of those broken): its record was not
    /// kept.
    Limited(RateLimited),
}

/// The writes of a batch of [`Intake`]s.
#[derive(Debug, Clone, Copy)]
pub struct IntakeBatch;

impl Batch for IntakeBatch {
    type Item = Intake;
    type Answer = Intaken;

    async fn write(&self, txn: &Transaction, items: &[Intake]) -> Result<Vec<Intaken>, DbErr> {
        let now = Utc::now();
        let limits: Vec<&BucketLimit> = items.iter().flat_map(|item| &item.limits).collect();
        // One upsert per window length in the batch (in practice one or two).
        let mut counted = vec![WindowHits::default(); limits.len()];
        let mut windows: Vec<Duration> = limits.iter().map(|limit| limit.window).collect();
        windows.sort();
        windows.dedup();
        for window in windows {
            let (positions, buckets): (Vec<usize>, Vec<(&str, u64)>) = limits
                .iter()
                .enumerate()
                .filter(|(_, limit)| limit.window == window)
                .map(|(position, limit)| (position, (limit.bucket.as_str(), 1)))
                .unzip();
            let hits = hit_buckets(txn, &buckets, window, now)
                .await
                .map_err(into_db_error)?;
            for (position, hits) in positions.into_iter().zip(hits) {
                counted[position] = hits;
            }
        }
        let buckets: Vec<(&str, u64)> = limits
            .iter()
            .map(|limit| (limit.bucket.as_str(), 1))
            .collect();
        let mut batch_hits = BatchHits::new(&buckets, &counted);
        let mut answers = Vec::with_capacity(items.len());
        let mut resets = Vec::new();
        let mut lookups = Vec::new();
        let mut access = Vec::new();
        for item in items {
            let mut seen = Vec::with_capacity(item.limits.len());
            let mut refusal: Option<RateLimited> = None;
            for limit in &item.limits {
                let hits = batch_hits.next(&limit.bucket);
                let judged = RateLimit {
                    max: limit.max,
                    window: limit.window,
                }
                .judge(hits, now);
                if let Err(limited) = judged {
                    refusal = Some(match refusal {
                        Some(earlier)
                            if earlier.retry_after_seconds >= limited.retry_after_seconds =>
                        {
                            earlier
                        }
                        _ => limited,
                    });
                }
                seen.push(hits);
            }
            if let Some(limited) = refusal {
                answers.push(Intaken::Limited(limited));
                continue;
            }
            match item.record.clone() {
                Some(Record::ResetRequest(request)) => resets.push(request),
                Some(Record::FirmLookup(lookup)) => lookups.push(lookup),
                Some(Record::AccessRequest(tenant, request)) => access.push((tenant, request)),
                None => {}
            }
            answers.push(Intaken::Recorded(seen));
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
pub fn start(db: storage::Database) -> IntakeWriter {
    GroupCommit::start(db, IntakeBatch, GroupCommitLimits::default())
}

/// Submits `item`; within its limits, the hits each bucket has counting it, in the
/// order of its limits; past one, the 429 page.
pub async fn submit(writer: &IntakeWriter, item: Intake) -> Result<Vec<WindowHits>, ServiceError> {
    match writer.submit(item).await? {
        Intaken::Recorded(hits) => Ok(hits),
        Intaken::Limited(limited) => Err(ServiceError::TooManyAttempts {
            retry_after_seconds: limited.retry_after_seconds,
        }),
    }
}
