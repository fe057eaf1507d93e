//! Checking an email and password for staff and contacts alike: the limits, the
//! constant-time-ish verification, and what a success updates.

use std::net::IpAddr;

use chrono::Utc;
use identity::{
    EmailAddress, StaffStatus, Verification, clear_bucket, find_contact_by_email,
    find_staff_by_email, record_contact_sign_in, record_staff_sign_in,
};
use tenancy::{AccountKind, AccountRef, Tenant};

use crate::accounts::{ContactUse, usable_contact};
use crate::attempts::{Attempt, account_delay, limit_key};
use crate::{ServiceError, Services};

/// What a sign-in attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    SignedIn {
        account: AccountRef,
        must_change_password: bool,
    },
    /// Wrong email, wrong password, or an account that cannot sign in: one answer for
    /// all, so the page says nothing about which accounts exist.
    Refused,
}

/// Checks `password` for the account of `kind` with `raw_email` in `tenant`.
///
/// Limits follow OWASP's authentication guidance: failures count per (account, client
/// address) and per client address, so a stranger guessing from elsewhere never locks
/// the owner out; failures of the account from everywhere only slow each further
/// attempt down (see [`account_delay`]). Every attempt is counted before the hash and
/// taken back when the password is right.
pub async fn attempt_sign_in(
    services: &Services,
    tenant: &Tenant,
    kind: AccountKind,
    raw_email: &str,
    password: &str,
    client: Option<IpAddr>,
) -> Result<SignInOutcome, ServiceError> {
    let limits = &services.config.limits;
    let email = EmailAddress::parse(raw_email).ok();
    let account = format!(
        "{}:{}:{}",
        tenant.id,
        kind.as_str(),
        email
            .as_ref()
            .map_or(raw_email.trim(), EmailAddress::as_str)
    );
    let address = limit_key(client);
    let pair_bucket = format!("sign-in:pair:{account}:{address}");
    let (attempt, hits) = Attempt::begin(
        services,
        vec![
            (pair_bucket.clone(), limits.sign_in_per_email),
            (
                format!("sign-in:address:{address}"),
                limits.sign_in_per_address,
            ),
            (format!("sign-in:account:{account}"), u64::MAX),
        ],
    )
    .await?;
    let earlier_failures = hits
        .last()
        .map_or(0, |hits| (hits.previous + hits.current).saturating_sub(1));
    let delay = account_delay(earlier_failures, limits.sign_in_per_email);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let candidate = match &email {
        Some(email) => find_candidate(services, tenant, kind, email).await?,
        None => None,
    };
    let stored_hash = candidate.as_ref().and_then(|c| c.password_hash.as_deref());
    // Unknown, inactive and password-less accounts still pay for one verification.
    let verification = services.hasher.verify(password, stored_hash).await?;
    match (candidate, verification) {
        (Some(candidate), Verification::Valid { needs_rehash }) => {
            let upgraded = if needs_rehash {
                Some(services.hasher.hash(password).await?)
            } else {
                None
            };
            let now = Utc::now();
            match candidate.account {
                AccountRef::Staff(id) => {
                    record_staff_sign_in(&services.db, tenant.id, id, upgraded, now).await?
                }
                AccountRef::Contact(id) => {
                    record_contact_sign_in(&services.db, tenant.id, id, upgraded, now).await?;
                }
            }
            // The owner's own slips from this address are forgiven.
            clear_bucket(&services.db, &pair_bucket).await?;
            attempt.refund(services).await?;
            Ok(SignInOutcome::SignedIn {
                account: candidate.account,
                must_change_password: candidate.must_change_password,
            })
        }
        _ => {
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
    account: AccountRef,
    password_hash: Option<String>,
    must_change_password: bool,
}

async fn find_candidate(
    services: &Services,
    tenant: &Tenant,
    kind: AccountKind,
    email: &EmailAddress,
) -> Result<Option<Candidate>, ServiceError> {
    Ok(match kind {
        AccountKind::Staff => find_staff_by_email(&services.db, tenant.id, email)
            .await?
            .filter(|user| user.status == StaffStatus::Active)
            .map(|user| Candidate {
                account: AccountRef::Staff(user.id),
                password_hash: user.password_hash,
                must_change_password: false,
            }),
        AccountKind::Contact => {
            let contact = find_contact_by_email(&services.db, tenant.id, email).await?;
            usable_contact(services, tenant, contact, ContactUse::SignIn)
                .await?
                .map(|contact| Candidate {
                    account: AccountRef::Contact(contact.id),
                    password_hash: contact.password_hash,
                    must_change_password: contact.must_change_password,
                })
        }
    })
}
