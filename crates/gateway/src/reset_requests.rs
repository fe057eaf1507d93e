//! The processor of "Forgot your password?" requests: for each queued request it
//! looks the contact up, applies the per-address limit, and mints and emails a
//! link to the address stored on the account — never the one typed.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use identity::{Actor, ContactStatus, EmailAddress, find_contact_by_email};
use notification::QueuedMessage;
use reset_token::{
    RequestOutcome, ResetRequest, count_sent_requests, finish_reset_request, pending_reset_requests,
};
use sea_orm::TransactionTrait;

use crate::app::AppState;
use crate::emails::issue_contact_reset_in;
use crate::error::GatewayError;
use crate::find_firm_pages;

/// How often requests are looked for when nobody wakes the processor (requests made
/// through another instance).
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Handles every pending request once; returns how many it handled.
pub async fn process_reset_requests(state: &AppState) -> Result<usize, GatewayError> {
    let pending = pending_reset_requests(&state.db, 50)
        .await
        .map_err(GatewayError::internal)?;
    for request in &pending {
        let span = tracing::info_span!("reset_request", tenant = %request.tenant_id, request = %request.id);
        let _entered = span.enter();
        if let Some(queued) = process_one(state, request).await? {
            state.waker.notify(&queued);
        }
    }
    Ok(pending.len())
}

async fn process_one(
    state: &AppState,
    request: &ResetRequest,
) -> Result<Option<QueuedMessage>, GatewayError> {
    let now = Utc::now();
    let txn = state.db.begin().await.map_err(GatewayError::internal)?;
    let tenant = tenancy::find_tenant_by_id(&txn, request.tenant_id).await?;
    let contact = match (&tenant, EmailAddress::parse(&request.email)) {
        (Some(tenant), Ok(email)) => find_contact_by_email(&txn, tenant.id, &email)
            .await?
            .filter(|contact| contact.status != ContactStatus::Disabled),
        _ => None,
    };
    let (outcome, queued) = match (tenant.filter(tenancy::Tenant::is_active), contact) {
        (Some(tenant), Some(contact)) => {
            let window = chrono::Duration::minutes(state.settings.limits.window_minutes);
            let sent = count_sent_requests(&txn, tenant.id, &request.email, now - window)
                .await
                .map_err(GatewayError::internal)?;
            if sent >= state.settings.limits.reset_emails_per_email {
                (RequestOutcome::Limited, None)
            } else {
                let queued = issue_contact_reset_in(
                    &txn,
                    state,
                    &tenant,
                    &contact,
                    Actor::Anonymous,
                    request.client_address.clone(),
                )
                .await?;
                (RequestOutcome::Sent, Some(queued))
            }
        }
        _ => (RequestOutcome::NoAccount, None),
    };
    // Another instance may have taken the same request: then nothing of ours counts.
    if !finish_reset_request(&txn, request.id, outcome, now)
        .await
        .map_err(GatewayError::internal)?
    {
        txn.rollback().await.map_err(GatewayError::internal)?;
        return Ok(None);
    }
    txn.commit().await.map_err(GatewayError::internal)?;
    tracing::info!(outcome = ?outcome, "password reset request handled");
    Ok(queued)
}

/// Runs the processor, of these requests and of "Find your firm" ones, until
/// `shutdown`.
pub async fn run(state: AppState, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        if let Err(error) = process_reset_requests(&state).await {
            tracing::error!(error = %error, "cannot process password reset requests");
        }
        if let Err(error) = find_firm_pages::process_firm_lookups(&state).await {
            tracing::error!(error = %error, "cannot process firm list requests");
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = state.reset_requests.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}
