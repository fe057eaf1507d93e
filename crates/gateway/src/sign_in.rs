//! Checking an email and password for staff and contacts alike: the limits, the
//! constant-time-ish verification, and what a success updates.

use chrono::Utc;
use identity::{
    AccountKind, ContactStatus, EmailAddress, RateLimit, StaffStatus, Verification, check_limit,
    clear_bucket, find_contact_by_email, find_staff_by_email, record_contact_sign_in,
    record_staff_sign_in,
};
use tenancy::Tenant;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::GatewayError;
use crate::intake::{self, Intake};
use crate::request_context::ClientAddress;

/// What a sign-in attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    SignedIn {
        account_id: Uuid,
        must_change_password: bool,
    },
    /// Wrong email, wrong password, or an account that cannot sign in: one answer for
    /// all, so the page says nothing about which accounts exist.
    Refused,
}

fn email_bucket(tenant: &Tenant, kind: AccountKind, email: &str) -> String {
    format!("sign-in:email:{}:{}:{email}", tenant.id, kind.as_str())
}

fn address_bucket(client: ClientAddress) -> Option<String> {
    client.0.map(|address| format!("sign-in:address:{address}"))
}

/// Checks `password` for the account of `kind` with `raw_email` in `tenant`.
pub async fn attempt_sign_in(
    state: &AppState,
    tenant: &Tenant,
    kind: AccountKind,
    raw_email: &str,
    password: &str,
    client: ClientAddress,
) -> Result<SignInOutcome, GatewayError> {
    let now = Utc::now();
    let limits = &state.settings.limits;
    let window = chrono::Duration::minutes(limits.window_minutes);
    let email = EmailAddress::parse(raw_email).ok();
    let email_key = email_bucket(
        tenant,
        kind,
        email
            .as_ref()
            .map_or(raw_email.trim(), EmailAddress::as_str),
    );
    let address_key = address_bucket(client);

    let by_email = RateLimit {
        max: limits.sign_in_per_email,
        window,
    };
    if let Err(limited) = check_limit(&state.db, &email_key, by_email, now).await? {
        return Err(GatewayError::TooManyAttempts {
            retry_after_seconds: limited.retry_after_seconds,
        });
    }
    if let Some(address_key) = &address_key {
        let by_address = RateLimit {
            max: limits.sign_in_per_address,
            window,
        };
        if let Err(limited) = check_limit(&state.db, address_key, by_address, now).await? {
            return Err(GatewayError::TooManyAttempts {
                retry_after_seconds: limited.retry_after_seconds,
            });
        }
    }

    let candidate = match &email {
        Some(email) => find_candidate(state, tenant, kind, email).await?,
        None => None,
    };
    let stored_hash = candidate.as_ref().and_then(|c| c.password_hash.as_deref());
    // Unknown, inactive and password-less accounts still pay for one verification.
    let verification = state.hasher.verify(password, stored_hash).await?;
    match (candidate, verification) {
        (Some(candidate), Verification::Valid { needs_rehash }) => {
            let upgraded = if needs_rehash {
                Some(state.hasher.hash(password).await?)
            } else {
                None
            };
            match kind {
                AccountKind::Staff => {
                    record_staff_sign_in(&state.db, tenant.id, candidate.id, upgraded, now).await?
                }
                AccountKind::Contact => {
                    record_contact_sign_in(&state.db, tenant.id, candidate.id, upgraded, now)
                        .await?;
                }
            }
            clear_bucket(&state.db, &email_key).await?;
            Ok(SignInOutcome::SignedIn {
                account_id: candidate.id,
                must_change_password: candidate.must_change_password,
            })
        }
        _ => {
            let buckets = std::iter::once(email_key).chain(address_key).collect();
            intake::submit(&state.intake, Intake::Count { buckets }).await?;
            tracing::info!(
                kind = kind.as_str(),
                email_domain = email.as_ref().map(EmailAddress::domain),
                "sign-in refused"
            );
            Ok(SignInOutcome::Refused)
        }
    }
}

/// The account fields sign-in needs, for either kind; only active accounts qualify.
struct Candidate {
    id: Uuid,
    password_hash: Option<String>,
    must_change_password: bool,
}

async fn find_candidate(
    state: &AppState,
    tenant: &Tenant,
    kind: AccountKind,
    email: &EmailAddress,
) -> Result<Option<Candidate>, GatewayError> {
    Ok(match kind {
        AccountKind::Staff => find_staff_by_email(&state.db, tenant.id, email)
            .await?
            .filter(|user| user.status == StaffStatus::Active)
            .map(|user| Candidate {
                id: user.id,
                password_hash: user.password_hash,
                must_change_password: false,
            }),
        AccountKind::Contact => find_contact_by_email(&state.db, tenant.id, email)
            .await?
            .filter(|contact| contact.status == ContactStatus::Active)
            .map(|contact| Candidate {
                id: contact.id,
                password_hash: contact.password_hash,
                must_change_password: contact.must_change_password,
            }),
    })
}
