//! The processors of what public forms recorded: "Forgot your password?" requests
//! (a reset email to the address stored on the account, never the one typed), "Find
//! your firm" requests (the list of firms, to that address alone), and access
//! requests (an email to the firm's staff).
//!
//! A pass takes a batch of due requests in one transaction, each handled in a
//! savepoint. One that fails is undone alone, retried with backoff and, after
//! [`RETRY`]'s attempts, set aside for an operator (`latchkey requests list`), while
//! the requests around it go on: one unsendable request can never hold up a firm's
//! resets, nor any other firm's.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use identity::{
    AccessNotice, Actor, Contact, EmailAddress, FirmLookup, LookupOutcome, RateLimit, StaffStatus,
    fail_access_notice, fail_firm_lookup, find_contact_by_email, find_contacts_by_emails,
    finish_access_notice, finish_firm_lookup, hit_buckets, list_staff_users, window_hits,
};
use notification::{AccessRequestReceived, Email, FindYourFirm, FirmLink, QueuedMessage};
use reset_token::{
    RequestOutcome, ResetRequest, fail_reset_request, finish_reset_request, finish_reset_requests,
};
use sea_orm::TransactionTrait;
use storage::{Failure, RetryPolicy, Transaction};
use tenancy::{AccountKind, Tenant, TenantId};
use tracing::Instrument;
use uuid::Uuid;

use crate::accounts::{ContactUse, usable_contact};
use crate::emails::{issue_contact_reset_in, queue_email};
use crate::{ServiceError, Services};

/// How often requests are looked for when nobody wakes the processor (requests made
/// through another instance, retries coming due).
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Requests handled per pass of each queue.
const BATCH: u64 = 50;

/// Five attempts over about a minute (5, 10, 20, 40 s apart): long enough to ride out
/// a database restart, short enough that a reset link still arrives in time.
pub const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    first_delay: Duration::from_secs(5),
};

/// The sender's name on platform mail, which speaks for no one firm.
pub const PLATFORM_NAME: &str = "Latchkey";

/// Handles every due "Forgot your password?" request once; returns how many.
pub async fn process_reset_requests(services: &Services) -> Result<usize, ServiceError> {
    pass::<ResetRequests>(services).await
}

/// Handles every due "Find your firm" request once; returns how many.
pub async fn process_firm_lookups(services: &Services) -> Result<usize, ServiceError> {
    pass::<FirmLookups>(services).await
}

/// Tells the firms' staff of every due access request once; returns how many.
pub async fn process_access_notices(services: &Services) -> Result<usize, ServiceError> {
    pass::<AccessNotices>(services).await
}

/// What handling one request came to.
enum Handled {
    /// Done; these emails are queued.
    Done(Vec<QueuedMessage>),
    /// Another processor finished it first: nothing of ours may stay.
    Overtaken,
}

/// What a pass has read so far: firms by id, and the emails it decided to send to
/// each limited address (which the database does not count until the pass commits).
#[derive(Default)]
struct PassMemory {
    firms: HashMap<TenantId, Option<Arc<Tenant>>>,
    /// Contacts by firm and address, read for the whole batch at once.
    contacts: HashMap<(TenantId, String), Option<Contact>>,
    planned_emails: HashMap<String, u64>,
}

impl PassMemory {
    async fn firm(
        &mut self,
        services: &Services,
        id: TenantId,
    ) -> Result<Option<Arc<Tenant>>, ServiceError> {
        if let Some(firm) = self.firms.get(&id) {
            return Ok(firm.clone());
        }
        let firm = tenancy::find_tenant_by_id(&services.db, id)
            .await?
            .map(Arc::new);
        self.firms.insert(id, firm.clone());
        Ok(firm)
    }

    /// Whether `bucket` (an address's reset emails or firm lists) has room for one
    /// more email in the window (`limits.reset_emails_per_email`), counting those
    /// this pass already plans; if so, the email is counted as planned.
    async fn plan_email(
        &mut self,
        services: &Services,
        bucket: &str,
    ) -> Result<bool, ServiceError> {
        let limit = RateLimit {
            max: services.config.limits.reset_emails_per_email,
            window: email_window(services),
        };
        let planned = self.planned_emails.get(bucket).copied().unwrap_or(0);
        let hits = window_hits(&services.db, bucket, limit, Utc::now()).await?;
        if limit.judge(hits.plus(planned + 1), Utc::now()).is_err() {
            return Ok(false);
        }
        *self.planned_emails.entry(bucket.to_owned()).or_default() += 1;
        Ok(true)
    }
}

/// A queue the processor works through: how its requests are taken, what each calls
/// for (read on the readers, outside any transaction), how that is written, and how
/// a failure is recorded.
trait Work {
    type Request: Send + Sync;
    type Plan: Send + Sync;
    /// What a plan that only marks its request done records.
    type Outcome: Copy + PartialEq + std::fmt::Debug + Send + Sync;
    const WHAT: &'static str;

    fn take(
        services: &Services,
    ) -> impl Future<Output = Result<Vec<Self::Request>, ServiceError>> + Send;

    fn span(request: &Self::Request) -> tracing::Span;

    fn id(request: &Self::Request) -> Uuid;

    fn plan(
        services: &Services,
        memory: &mut PassMemory,
        request: &Self::Request,
    ) -> impl Future<Output = Result<Self::Plan, ServiceError>> + Send;

    /// Every request's plan; queues whose look-ups batch well read them together.
    fn plan_all(
        services: &Services,
        memory: &mut PassMemory,
        requests: &[Self::Request],
    ) -> impl Future<Output = Vec<Result<Self::Plan, ServiceError>>> + Send {
        async move {
            let mut plans = Vec::with_capacity(requests.len());
            for request in requests {
                let plan = Self::plan(services, memory, request)
                    .instrument(Self::span(request))
                    .await;
                plans.push(plan);
            }
            plans
        }
    }

    /// The outcome of a plan that only marks its request done (nothing sent, nothing
    /// to undo if another processor finished it first): such requests are finished
    /// together, in one statement per outcome.
    fn only_finishes(_plan: &Self::Plan) -> Option<Self::Outcome> {
        None
    }

    fn finish_many(
        _txn: &Transaction,
        _ids: &[Uuid],
        _outcome: Self::Outcome,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send {
        async { Ok(()) }
    }

    /// Writes what `plan` calls for; the outcome to record and the emails queued.
    fn write(
        services: &Services,
        txn: &Transaction,
        request: &Self::Request,
        plan: &Self::Plan,
    ) -> impl Future<Output = Result<(Self::Outcome, Vec<QueuedMessage>), ServiceError>> + Send;

    /// Marks the request done with `outcome`; `false` when another processor
    /// finished it first.
    fn finish(
        txn: &Transaction,
        request: &Self::Request,
        outcome: Self::Outcome,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send;

    fn fail(
        txn: &Transaction,
        request: &Self::Request,
        error: &str,
    ) -> impl Future<Output = Result<Failure, ServiceError>> + Send;
}

/// Writes one request's plan and marks it done, in its savepoint.
async fn handle<W: Work>(
    services: &Services,
    txn: &Transaction,
    request: &W::Request,
    plan: &W::Plan,
) -> Result<Handled, ServiceError> {
    let (outcome, queued) = W::write(services, txn, request, plan).await?;
    if !W::finish(txn, request, outcome, Utc::now()).await? {
        return Ok(Handled::Overtaken);
    }
    let what = W::WHAT;
    tracing::info!(outcome = ?outcome, emails = queued.len(), "{what} handled");
    Ok(Handled::Done(queued))
}

/// One pass over a queue. What each request calls for is read first, on the readers;
/// then one short transaction writes it all, each request in a savepoint of its own,
/// so that one that fails is undone alone and recorded as a failure (retried later,
/// or set aside) while the others commit together. The writer is held only for the
/// writes: on SQLite the pages' group commits wait for it.
///
/// Two instances may take the same request; the conditional update that finishes it
/// lets only one of them keep what it did.
async fn pass<W: Work>(services: &Services) -> Result<usize, ServiceError> {
    let pending = W::take(services).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let mut memory = PassMemory::default();
    let plans = W::plan_all(services, &mut memory, &pending).await;
    let txn = services.db.begin().await?;
    let mut queued = Vec::new();
    let mut finished_together: Vec<(W::Outcome, Vec<Uuid>)> = Vec::new();
    for (request, plan) in pending.iter().zip(&plans) {
        if let Some(outcome) = plan.as_ref().ok().and_then(W::only_finishes) {
            match finished_together
                .iter_mut()
                .find(|(known, _)| *known == outcome)
            {
                Some((_, ids)) => ids.push(W::id(request)),
                None => finished_together.push((outcome, vec![W::id(request)])),
            }
            continue;
        }
        let step = async {
            let outcome = match plan {
                Ok(plan) => {
                    let savepoint = txn.begin().await?;
                    match handle::<W>(services, &savepoint, request, plan).await {
                        Ok(Handled::Done(messages)) => {
                            savepoint.commit().await?;
                            queued.extend(messages);
                            Ok(())
                        }
                        Ok(Handled::Overtaken) => {
                            savepoint.rollback().await?;
                            Ok(())
                        }
                        Err(error) => {
                            savepoint.rollback().await?;
                            Err(error.detail())
                        }
                    }
                }
                Err(error) => Err(error.detail()),
            };
            if let Err(detail) = outcome {
                let what = W::WHAT;
                match W::fail(&txn, request, &detail).await? {
                    Failure::RetryAt(at) => {
                        tracing::warn!(error = %detail, retry_at = %at, "cannot handle a {what}; it will be retried")
                    }
                    Failure::SetAside => {
                        tracing::error!(error = %detail, "cannot handle a {what}; it is set aside for an operator")
                    }
                    Failure::Overtaken => {}
                }
            }
            Ok::<_, ServiceError>(())
        };
        step.instrument(W::span(request)).await?;
    }
    for (outcome, ids) in &finished_together {
        W::finish_many(&txn, ids, *outcome).await?;
    }
    txn.commit().await?;
    for message in &queued {
        services.waker.notify(message);
    }
    Ok(pending.len())
}

/// What a request of a queue that answers with one email calls for: that email
/// (`mail`, counted in `bucket` against its address's limit), or only an outcome.
enum EmailPlan<M, O> {
    Send { mail: M, bucket: String },
    Finish(O),
}

impl<M, O: Copy> EmailPlan<M, O> {
    fn only_finishes(&self) -> Option<O> {
        match self {
            Self::Finish(outcome) => Some(*outcome),
            Self::Send { .. } => None,
        }
    }

    /// Writes the plan: `queue` writes the email and it is counted against the
    /// address's limit (recorded as `sent`); a plan that only finishes writes nothing.
    async fn write(
        &self,
        services: &Services,
        txn: &Transaction,
        sent: O,
        queue: impl AsyncFnOnce(&M) -> Result<QueuedMessage, ServiceError>,
    ) -> Result<(O, Vec<QueuedMessage>), ServiceError> {
        match self {
            Self::Send { mail, bucket } => {
                let queued = queue(mail).await?;
                count_email(services, txn, bucket, Utc::now()).await?;
                Ok((sent, vec![queued]))
            }
            Self::Finish(outcome) => Ok((*outcome, Vec::new())),
        }
    }
}

struct ResetRequests;

/// A "Forgot your password?" request's email: a reset of this contact of this firm.
struct ResetMail {
    firm: Arc<Tenant>,
    contact: Contact,
}

type ResetPlan = EmailPlan<ResetMail, RequestOutcome>;

impl Work for ResetRequests {
    type Request = ResetRequest;
    type Plan = ResetPlan;
    type Outcome = RequestOutcome;
    const WHAT: &'static str = "reset request";

    async fn take(services: &Services) -> Result<Vec<ResetRequest>, ServiceError> {
        crate::cross_firm::due_reset_requests(services, Utc::now(), BATCH).await
    }

    fn span(request: &ResetRequest) -> tracing::Span {
        tracing::info_span!("reset_request", tenant = %request.tenant_id, request = %request.id)
    }

    fn id(request: &ResetRequest) -> Uuid {
        request.id
    }

    async fn plan(
        services: &Services,
        memory: &mut PassMemory,
        request: &ResetRequest,
    ) -> Result<ResetPlan, ServiceError> {
        let Some(firm) = memory
            .firm(services, request.tenant_id)
            .await?
            .filter(|firm| firm.is_active())
        else {
            return Ok(ResetPlan::Finish(RequestOutcome::NoAccount));
        };
        let Ok(email) = EmailAddress::parse(&request.email) else {
            return Ok(ResetPlan::Finish(RequestOutcome::NoAccount));
        };
        let contact = match memory.contacts.get(&(firm.id, email.as_str().to_owned())) {
            Some(known) => known.clone(),
            None => find_contact_by_email(&services.db, firm.id, &email).await?,
        };
        let usable = usable_contact(services, &firm, contact, ContactUse::Link).await?;
        let Some(contact) = usable else {
            return Ok(ResetPlan::Finish(RequestOutcome::NoAccount));
        };
        let bucket = format!("reset-email:{}:{}", firm.id, request.email);
        if !memory.plan_email(services, &bucket).await? {
            return Ok(ResetPlan::Finish(RequestOutcome::Limited));
        }
        Ok(ResetPlan::Send {
            mail: ResetMail { firm, contact },
            bucket,
        })
    }

    /// The contacts of the whole batch in one query a firm, before each plan.
    async fn plan_all(
        services: &Services,
        memory: &mut PassMemory,
        requests: &[ResetRequest],
    ) -> Vec<Result<ResetPlan, ServiceError>> {
        let mut wanted: HashMap<TenantId, Vec<EmailAddress>> = HashMap::new();
        for request in requests {
            if let Ok(email) = EmailAddress::parse(&request.email) {
                wanted.entry(request.tenant_id).or_default().push(email);
            }
        }
        for (firm, emails) in wanted {
            let mut unique: Vec<&EmailAddress> = emails.iter().collect();
            unique.sort();
            unique.dedup();
            // A failed batch read leaves each request to look its contact up alone.
            if let Ok(found) = find_contacts_by_emails(&services.db, firm, &unique).await {
                for email in unique {
                    memory
                        .contacts
                        .insert((firm, email.as_str().to_owned()), None);
                }
                for contact in found {
                    let key = (firm, contact.email.as_str().to_owned());
                    memory.contacts.insert(key, Some(contact));
                }
            }
        }
        let mut plans = Vec::with_capacity(requests.len());
        for request in requests {
            let plan = Self::plan(services, memory, request)
                .instrument(Self::span(request))
                .await;
            plans.push(plan);
        }
        plans
    }

    fn only_finishes(plan: &ResetPlan) -> Option<RequestOutcome> {
        plan.only_finishes()
    }

    async fn finish_many(
        txn: &Transaction,
        ids: &[Uuid],
        outcome: RequestOutcome,
    ) -> Result<(), ServiceError> {
        finish_reset_requests(txn, ids, outcome, Utc::now()).await?;
        tracing::info!(requests = ids.len(), outcome = ?outcome, "password reset requests handled");
        Ok(())
    }

    async fn write(
        services: &Services,
        txn: &Transaction,
        request: &ResetRequest,
        plan: &ResetPlan,
    ) -> Result<(RequestOutcome, Vec<QueuedMessage>), ServiceError> {
        plan.write(services, txn, RequestOutcome::Sent, async |mail| {
            let from = request.client_address.clone();
            let actor = Actor::Anonymous;
            issue_contact_reset_in(txn, services, &mail.firm, &mail.contact, actor, from).await
        })
        .await
    }

    async fn finish(
        txn: &Transaction,
        request: &ResetRequest,
        outcome: RequestOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        Ok(finish_reset_request(txn, request.id, outcome, now).await?)
    }

    async fn fail(
        txn: &Transaction,
        request: &ResetRequest,
        error: &str,
    ) -> Result<Failure, ServiceError> {
        fail_reset_request(txn, request, error, Utc::now(), RETRY)
            .await
            .map_err(ServiceError::from)
    }
}

struct FirmLookups;

/// What a "Find your firm" request calls for: the list of the address's firms.
type LookupPlan = EmailPlan<Vec<FirmLink>, LookupOutcome>;

impl Work for FirmLookups {
    type Request = FirmLookup;
    type Plan = LookupPlan;
    type Outcome = LookupOutcome;
    const WHAT: &'static str = "firm list request";

    fn id(lookup: &FirmLookup) -> Uuid {
        lookup.id
    }

    async fn take(services: &Services) -> Result<Vec<FirmLookup>, ServiceError> {
        crate::cross_firm::due_firm_lookups(services, Utc::now(), BATCH).await
    }

    fn span(lookup: &FirmLookup) -> tracing::Span {
        tracing::info_span!("firm_lookup", tenant = "platform", request = %lookup.id)
    }

    async fn plan(
        services: &Services,
        memory: &mut PassMemory,
        lookup: &FirmLookup,
    ) -> Result<LookupPlan, ServiceError> {
        let mut firms: Vec<FirmLink> = Vec::new();
        if let Ok(email) = EmailAddress::parse(&lookup.email) {
            for account in crate::cross_firm::firms_of_address(services, &email).await? {
                // Only portals that answer: a suspended or deleted firm's would not.
                let Some(firm) = memory
                    .firm(services, account.tenant_id)
                    .await?
                    .filter(|firm| firm.is_active())
                else {
                    continue;
                };
                let path = match account.kind {
                    AccountKind::Staff => "/staff/login",
                    AccountKind::Contact => "/login",
                };
                firms.push(FirmLink {
                    name: firm.display_name.clone(),
                    url: services.firm_url(&firm, path),
                });
            }
        }
        if firms.is_empty() {
            return Ok(LookupPlan::Finish(LookupOutcome::NoAccount));
        }
        firms.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.url.cmp(&b.url)));
        let bucket = format!("firm-list:{}", lookup.email);
        if !memory.plan_email(services, &bucket).await? {
            return Ok(LookupPlan::Finish(LookupOutcome::Limited));
        }
        Ok(LookupPlan::Send {
            mail: firms,
            bucket,
        })
    }

    async fn write(
        services: &Services,
        txn: &Transaction,
        lookup: &FirmLookup,
        plan: &LookupPlan,
    ) -> Result<(LookupOutcome, Vec<QueuedMessage>), ServiceError> {
        plan.write(services, txn, LookupOutcome::Sent, async |firms| {
            let email: Email = FindYourFirm {
                firms: firms.clone(),
            }
            .into();
            let rendered = services
                .renderer
                .render_platform(&email, PLATFORM_NAME, None)?;
            Ok(notification::enqueue_platform(txn, &lookup.email, &rendered, Utc::now()).await?)
        })
        .await
    }

    async fn finish(
        txn: &Transaction,
        lookup: &FirmLookup,
        outcome: LookupOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        Ok(finish_firm_lookup(txn, lookup.id, outcome, now).await?)
    }

    async fn fail(
        txn: &Transaction,
        lookup: &FirmLookup,
        error: &str,
    ) -> Result<Failure, ServiceError> {
        Ok(fail_firm_lookup(txn, lookup, error, Utc::now(), RETRY).await?)
    }
}

struct AccessNotices;

/// Whom an access request is passed on to: the firm's active staff, or nobody when
/// the firm is suspended or deleted (its staff could not act on it).
struct NoticePlan {
    firm: Option<Arc<Tenant>>,
    staff: Vec<EmailAddress>,
}

impl Work for AccessNotices {
    type Request = AccessNotice;
    type Plan = NoticePlan;
    type Outcome = ();
    const WHAT: &'static str = "access request";

    fn id(notice: &AccessNotice) -> Uuid {
        notice.request.id
    }

    async fn take(services: &Services) -> Result<Vec<AccessNotice>, ServiceError> {
        crate::cross_firm::due_access_notices(services, Utc::now(), BATCH).await
    }

    fn span(notice: &AccessNotice) -> tracing::Span {
        tracing::info_span!("access_request", tenant = %notice.request.tenant_id, request = %notice.request.id)
    }

    async fn plan(
        services: &Services,
        memory: &mut PassMemory,
        notice: &AccessNotice,
    ) -> Result<NoticePlan, ServiceError> {
        let firm = memory
            .firm(services, notice.request.tenant_id)
            .await?
            .filter(|firm| firm.is_active());
        let staff = match &firm {
            Some(firm) => list_staff_users(&services.db, firm.id)
                .await?
                .into_iter()
                .filter(|member| member.status == StaffStatus::Active)
                .map(|member| member.email)
                .collect(),
            None => Vec::new(),
        };
        Ok(NoticePlan { firm, staff })
    }

    async fn write(
        services: &Services,
        txn: &Transaction,
        notice: &AccessNotice,
        plan: &NoticePlan,
    ) -> Result<((), Vec<QueuedMessage>), ServiceError> {
        let request = &notice.request;
        let mut queued = Vec::new();
        if let Some(firm) = &plan.firm {
            let email: Email = AccessRequestReceived {
                requester_name: request.name.clone(),
                requester_email: request.email.to_string(),
                company: request.company.clone(),
                message: request.message.clone(),
                review_url: services.firm_url(firm, "/staff/access-requests"),
            }
            .into();
            for member in &plan.staff {
                queued.push(queue_email(txn, services, firm, member, None, &email).await?);
            }
        }
        Ok(((), queued))
    }

    async fn finish(
        txn: &Transaction,
        notice: &AccessNotice,
        _outcome: (),
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        Ok(finish_access_notice(txn, notice.request.id, now).await?)
    }

    async fn fail(
        txn: &Transaction,
        notice: &AccessNotice,
        error: &str,
    ) -> Result<Failure, ServiceError> {
        Ok(fail_access_notice(txn, notice, error, Utc::now(), RETRY).await?)
    }
}

fn email_window(services: &Services) -> chrono::Duration {
    chrono::Duration::minutes(services.config.limits.window_minutes)
}

async fn count_email(
    services: &Services,
    txn: &Transaction,
    bucket: &str,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    hit_buckets(txn, &[(bucket, 1)], email_window(services), now).await?;
    Ok(())
}

/// Runs every processor until `shutdown`. A pass that found a full batch in any
/// queue is followed by another at once, so a backlog drains at full speed; an
/// idle processor waits to be woken, or polls.
pub async fn run(services: Services, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let mut backlog = false;
        match process_reset_requests(&services).await {
            Ok(handled) => backlog |= handled as u64 >= BATCH,
            Err(error) => {
                tracing::error!(error = %error.detail(), "cannot process password reset requests");
            }
        }
        match process_firm_lookups(&services).await {
            Ok(handled) => backlog |= handled as u64 >= BATCH,
            Err(error) => {
                tracing::error!(error = %error.detail(), "cannot process firm list requests")
            }
        }
        match process_access_notices(&services).await {
            Ok(handled) => backlog |= handled as u64 >= BATCH,
            Err(error) => {
                tracing::error!(error = %error.detail(), "cannot process access requests")
            }
        }
        if backlog {
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::task::yield_now() => continue,
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = services.reset_requests.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// Which queue a set-aside request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    ResetRequests,
    FirmLookups,
    AccessRequests,
}

impl Queue {
    pub const ALL: [Self; 3] = [Self::ResetRequests, Self::FirmLookups, Self::AccessRequests];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResetRequests => "reset_requests",
            Self::FirmLookups => "firm_lookups",
            Self::AccessRequests => "access_requests",
        }
    }
}

/// Puts a set-aside request of any queue back; which queue it was in, or `None` when
/// `id` is no set-aside request.
pub async fn retry_request(services: &Services, id: Uuid) -> Result<Option<Queue>, ServiceError> {
    let queue = if reset_token::requeue_reset_request(&services.db, id).await? {
        Some(Queue::ResetRequests)
    } else if identity::requeue_firm_lookup(&services.db, id).await? {
        Some(Queue::FirmLookups)
    } else if identity::requeue_access_notice(&services.db, id).await? {
        Some(Queue::AccessRequests)
    } else {
        None
    };
    if queue.is_some() {
        services.reset_requests.notify_one();
    }
    Ok(queue)
}
