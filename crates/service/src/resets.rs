//! Resets: staff pressing **Reset Password** (reference 000), the emailed link's page,
//! setting a password through a link, and the temporary-password mode's button
//! (reference 004). A link is checked and used here; where it travels (a cookie, a
//! form field) is the gateway's business.

use std::net::IpAddr;

use chrono::Utc;
use identity::{
    Actor, AuditAction, ClientStatus, Contact, ContactStatus, EmailAddress, NewAuditEvent,
    StaffStatus, find_client, find_contact, find_staff_user, record_audit, revoke_all_sessions,
    set_contact_password, set_staff_password,
};
use notification::{Email, TemporaryPassword};
use reset_token::{
    Opening, RedeemError, TokenCheck, TokenPurpose, TokenRecord, UrlToken, check_any_token,
    note_opening, redeem_token, revoke_tokens,
};
use sea_orm::{ConnectionTrait, TransactionTrait};
use tenancy::{AccountKind, AccountRef, ClientId, ContactId, StaffUserId, Tenant};
use uuid::Uuid;

use crate::accounts::{ContactUse, usable_contact};
use crate::attempts::{Attempt, limit_key};
use crate::emails::{issue_contact_reset, queue_email, queue_password_changed};
use crate::{ServiceError, Services};

/// Staff pressed **Reset Password** beside a contact of one of the firm's clients:
/// a new link supersedes the contact's older ones and is emailed. Returns the contact.
pub async fn staff_reset(
    services: &Services,
    tenant: &Tenant,
    staff_id: StaffUserId,
    client_id: ClientId,
    contact_id: ContactId,
    from: Option<IpAddr>,
) -> Result<Contact, ServiceError> {
    let client = find_client(&services.db, tenant.id, client_id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let contact = find_contact(&services.db, tenant.id, contact_id)
        .await?
        .filter(|contact| contact.client_id == client.id)
        .ok_or(ServiceError::NotFound)?;
    if client.status == ClientStatus::Disabled {
        return Err(ServiceError::ClientDisabled);
    }
    if contact.status == ContactStatus::Disabled {
        return Err(ServiceError::ContactDisabled);
    }
    let actor = Actor::Staff(staff_id);
    issue_contact_reset(
        services,
        tenant,
        &contact,
        actor,
        from.map(|ip| ip.to_string()),
    )
    .await?;
    tracing::info!(contact = %contact.id, "staff sent a password reset");
    Ok(contact)
}

/// Why a link cannot be used, as figures 7–9 show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLink {
    Expired,
    Used,
    Invalid,
    /// The browser has opened another link since the form was shown: posting it
    /// would change the other link's account.
    Superseded,
    /// No link came with the form (the browser lost it: another browser, a cleared
    /// cookie), so only the email can tell which account this is.
    NotPresented,
}

/// The link a form came back with, as far as it could be read.
#[derive(Debug, Clone, Copy)]
pub enum PresentedLink<'a> {
    Token(&'a UrlToken),
    Malformed,
    Absent,
}

impl<'a> PresentedLink<'a> {
    fn token(self) -> Result<&'a UrlToken, DeadLink> {
        match self {
            Self::Token(token) => Ok(token),
            Self::Malformed => Err(DeadLink::Invalid),
            Self::Absent => Err(DeadLink::NotPresented),
        }
    }
}

/// The person behind a token, whatever their kind.
#[derive(Debug, Clone)]
pub struct LinkHolder {
    pub account: AccountRef,
    pub name: String,
    pub email: EmailAddress,
    pub locale: Option<String>,
}

/// What opening a link's page found.
// One a request, never stored or moved far: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum OpenedLink {
    /// A live link and its account: a password form, or the temporary-password
    /// button when `record.purpose` is `TemporaryPassword`.
    Live {
        record: TokenRecord,
        holder: LinkHolder,
    },
    Dead(DeadLink),
}

/// The link's page: what the token allows, noted once per state in the account's
/// trail. Nothing is used up; mail scanners open links.
pub async fn open_link(
    services: &Services,
    tenant: &Tenant,
    token: Option<&UrlToken>,
    from: Option<IpAddr>,
) -> Result<OpenedLink, ServiceError> {
    let Some(token) = token else {
        return Ok(OpenedLink::Dead(DeadLink::Invalid));
    };
    Ok(match check(services, tenant, token).await? {
        TokenCheck::Valid(record) => match holder(services, tenant, &record).await? {
            Some(holder) => {
                audit_opening(services, tenant, &record, Opening::Valid, from).await?;
                OpenedLink::Live { record, holder }
            }
            None => OpenedLink::Dead(DeadLink::Invalid),
        },
        TokenCheck::Invalid => OpenedLink::Dead(DeadLink::Invalid),
        TokenCheck::Expired(record) => {
            audit_opening(services, tenant, &record, Opening::Expired, from).await?;
            OpenedLink::Dead(DeadLink::Expired)
        }
        TokenCheck::Used(record) => {
            audit_opening(services, tenant, &record, Opening::Used, from).await?;
            OpenedLink::Dead(DeadLink::Used)
        }
    })
}

/// What posting a new password through a link came to.
// One a request, never stored or moved far: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum PasswordThroughLink {
    /// Set; every session and every other link of the account ended.
    Changed(AccountKind),
    /// The password breaks the firm's rules; the link is still live.
    Refused {
        record: TokenRecord,
        holder: LinkHolder,
        errors: Vec<String>,
    },
    Dead(DeadLink),
}

/// Uses the link for a new password: the password set, every session and every
/// other token of the account ended, the change audited and emailed, in one
/// transaction. `shown_link` is the id of the link the form was shown for.
pub async fn set_password_through_link(
    services: &Services,
    tenant: &Tenant,
    presented: PresentedLink<'_>,
    shown_link: &str,
    new_password: &str,
    confirm_password: &str,
    from: Option<IpAddr>,
) -> Result<PasswordThroughLink, ServiceError> {
    // Counted before anything is read, a guess with a malformed link included.
    let attempt = link_attempt(services, from).await?;
    let token = match presented.token() {
        Ok(token) => token,
        Err(dead) => return Ok(PasswordThroughLink::Dead(dead)),
    };
    let live = live_link(services, tenant, token, shown_link, |purpose| {
        purpose != TokenPurpose::TemporaryPassword
    })
    .await?;
    let (record, holder) = match live {
        Ok(live) => live,
        Err(dead) => return Ok(PasswordThroughLink::Dead(dead)),
    };
    // A live link is no guess, whatever becomes of the password typed.
    attempt.refund(services).await?;
    let errors: Vec<String> = services
        .policy(tenant)
        .password
        .check(new_password, confirm_password, &holder.email)
        .iter()
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Ok(PasswordThroughLink::Refused {
            record,
            holder,
            errors,
        });
    }
    let hash = services.hasher.hash(new_password).await?;
    let now = Utc::now();
    let txn = services.db.begin().await?;
    if let Err(dead) = redeem(&txn, services, tenant, record.purpose, token).await? {
        return Ok(PasswordThroughLink::Dead(dead));
    }
    match holder.account {
        AccountRef::Contact(id) => {
            set_contact_password(&txn, tenant.id, id, hash, false, now).await?;
        }
        AccountRef::Staff(id) => set_staff_password(&txn, tenant.id, id, hash, now).await?,
    }
    end_other_access(&txn, tenant, &holder).await?;
    let actor = Actor::from(holder.account);
    for action in [AuditAction::LinkRedeemed, AuditAction::PasswordChanged] {
        let event = link_event(action, actor, &holder, &record, from);
        record_audit(&txn, tenant.id, event, now).await?;
    }
    let queued = queue_password_changed(
        &txn,
        services,
        tenant,
        &holder.name,
        &holder.email,
        holder.locale.as_deref(),
    )
    .await?;
    txn.commit().await?;
    services.waker.notify(&queued);
    let kind = holder.account.kind();
    tracing::info!(token_id = %record.id, kind = kind.as_str(), "password set through a link");
    Ok(PasswordThroughLink::Changed(kind))
}

/// The temporary-password mode's button (004 step 1.4): emails a generated password
/// that must be changed at the next sign-in. Once only, like every link.
pub async fn send_temporary_password(
    services: &Services,
    tenant: &Tenant,
    presented: PresentedLink<'_>,
    shown_link: &str,
    from: Option<IpAddr>,
) -> Result<Result<(), DeadLink>, ServiceError> {
    let attempt = link_attempt(services, from).await?;
    let token = match presented.token() {
        Ok(token) => token,
        Err(dead) => return Ok(Err(dead)),
    };
    let live = live_link(services, tenant, token, shown_link, |purpose| {
        purpose == TokenPurpose::TemporaryPassword
    })
    .await?;
    let (record, holder, contact_id) = match live {
        Ok((record, holder)) => match holder.account.contact() {
            Some(contact_id) => (record, holder, contact_id),
            None => return Ok(Err(DeadLink::Invalid)),
        },
        Err(dead) => return Ok(Err(dead)),
    };
    attempt.refund(services).await?;
    let password = generate_password()?;
    let hash = services.hasher.hash(&password).await?;
    let now = Utc::now();
    let txn = services.db.begin().await?;
    if let Err(dead) = redeem(
        &txn,
        services,
        tenant,
        TokenPurpose::TemporaryPassword,
        token,
    )
    .await?
    {
        return Ok(Err(dead));
    }
    set_contact_password(&txn, tenant.id, contact_id, hash, true, now).await?;
    end_other_access(&txn, tenant, &holder).await?;
    let actor = Actor::Contact(contact_id);
    let event = link_event(
        AuditAction::TemporaryPasswordSent,
        actor,
        &holder,
        &record,
        from,
    );
    record_audit(&txn, tenant.id, event, now).await?;
    let email: Email = TemporaryPassword {
        name: holder.name.clone(),
        password,
        sign_in_url: services.firm_url(tenant, "/login"),
    }
    .into();
    let locale = holder.locale.as_deref();
    let queued = queue_email(&txn, services, tenant, &holder.email, locale, &email).await?;
    txn.commit().await?;
    services.waker.notify(&queued);
    Ok(Ok(()))
}

/// A guess at a link counts towards the client address's sign-in limit before any
/// work (429 past `limits.sign_in_per_address`); a live link takes it back.
async fn link_attempt(services: &Services, from: Option<IpAddr>) -> Result<Attempt, ServiceError> {
    let bucket = format!("reset:address:{}", limit_key(from));
    let limit = services.config.limits.sign_in_per_address;
    let (attempt, _) = Attempt::begin(services, vec![(bucket, limit)]).await?;
    Ok(attempt)
}

async fn check(
    services: &Services,
    tenant: &Tenant,
    token: &UrlToken,
) -> Result<TokenCheck, ServiceError> {
    Ok(check_any_token(
        &services.db,
        &services.token_keys,
        tenant.id,
        token,
        Utc::now(),
    )
    .await?)
}

/// The live link of `token` for a purpose `wanted` accepts, if it is the very one
/// the form was shown for, and its account. One cookie per host holds the newest
/// link opened, so a tab left open on an older link (or a token planted in the
/// browser) must not change the newer link's account.
async fn live_link(
    services: &Services,
    tenant: &Tenant,
    token: &UrlToken,
    shown_link: &str,
    wanted: impl Fn(TokenPurpose) -> bool,
) -> Result<Result<(TokenRecord, LinkHolder), DeadLink>, ServiceError> {
    let record = match check(services, tenant, token).await? {
        TokenCheck::Valid(record) if wanted(record.purpose) => record,
        TokenCheck::Valid(_) | TokenCheck::Invalid => return Ok(Err(DeadLink::Invalid)),
        TokenCheck::Expired(_) => return Ok(Err(DeadLink::Expired)),
        TokenCheck::Used(_) => return Ok(Err(DeadLink::Used)),
    };
    match Uuid::parse_str(shown_link) {
        Ok(id) if id == record.id => {}
        _ => return Ok(Err(DeadLink::Superseded)),
    }
    Ok(match holder(services, tenant, &record).await? {
        Some(holder) => Ok((record, holder)),
        None => Err(DeadLink::Invalid),
    })
}

/// Uses the token up inside `txn`; of two posts at once, one wins.
async fn redeem(
    txn: &impl ConnectionTrait,
    services: &Services,
    tenant: &Tenant,
    purpose: TokenPurpose,
    token: &UrlToken,
) -> Result<Result<(), DeadLink>, ServiceError> {
    let now = Utc::now();
    match redeem_token(txn, &services.token_keys, tenant.id, purpose, token, now).await {
        Ok(_) => Ok(Ok(())),
        Err(RedeemError::Used) => Ok(Err(DeadLink::Used)),
        Err(RedeemError::Expired) => Ok(Err(DeadLink::Expired)),
        Err(RedeemError::Invalid) => Ok(Err(DeadLink::Invalid)),
        Err(RedeemError::Store(error)) => Err(ServiceError::internal(error)),
    }
}

/// A new password ends every session and every other link of the account.
async fn end_other_access(
    txn: &impl ConnectionTrait,
    tenant: &Tenant,
    holder: &LinkHolder,
) -> Result<(), ServiceError> {
    revoke_all_sessions(txn, tenant.id, holder.account, None).await?;
    revoke_tokens(txn, tenant.id, holder.account, None).await?;
    Ok(())
}

fn link_event(
    action: AuditAction,
    actor: Actor,
    holder: &LinkHolder,
    record: &TokenRecord,
    from: Option<IpAddr>,
) -> NewAuditEvent {
    NewAuditEvent {
        action,
        actor,
        subject: holder.account,
        client_address: from.map(|address| address.to_string()),
        detail: Some(format!("token {}", record.id)),
    }
}

/// The person behind a token: an enabled contact of an enabled client, or staff
/// that is not disabled.
async fn holder(
    services: &Services,
    tenant: &Tenant,
    record: &TokenRecord,
) -> Result<Option<LinkHolder>, ServiceError> {
    Ok(match record.account {
        AccountRef::Contact(id) => {
            let contact = find_contact(&services.db, tenant.id, id).await?;
            usable_contact(services, tenant, contact, ContactUse::Link)
                .await?
                .map(|contact| LinkHolder {
                    account: AccountRef::Contact(contact.id),
                    name: contact.name,
                    email: contact.email,
                    locale: Some(contact.locale),
                })
        }
        AccountRef::Staff(id) => find_staff_user(&services.db, tenant.id, id)
            .await?
            .filter(|user| user.status != StaffStatus::Disabled)
            .map(|user| LinkHolder {
                account: AccountRef::Staff(user.id),
                name: user.name,
                email: user.email,
                locale: None,
            }),
    })
}

/// Notes in the account's trail that its link was opened, and in which state: once
/// per token and state, so reloading the page (or a scanner's visits) writes nothing.
async fn audit_opening(
    services: &Services,
    tenant: &Tenant,
    record: &TokenRecord,
    opening: Opening,
    from: Option<IpAddr>,
) -> Result<(), ServiceError> {
    if record.last_opening == Some(opening) {
        return Ok(());
    }
    let action = match opening {
        Opening::Valid => AuditAction::LinkOpened,
        Opening::Expired => AuditAction::LinkExpired,
        Opening::Used => AuditAction::LinkReused,
    };
    let event = NewAuditEvent {
        action,
        actor: Actor::Anonymous,
        subject: record.account,
        client_address: from.map(|address| address.to_string()),
        detail: Some(format!("token {}", record.id)),
    };
    let txn = services.db.begin().await?;
    // Of two pages opened at once, one writes the entry.
    if note_opening(&txn, record, opening).await? {
        record_audit(&txn, tenant.id, event, Utc::now()).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Letters and digits that cannot be mistaken for one another when typed from an
/// email.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// 18 characters of a 55-letter alphabet: over 100 bits from the OS generator.
fn generate_password() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes)
        .map_err(|error| ServiceError::internal(std::io::Error::other(error.to_string())))?;
    // Rejection sampling keeps every letter equally likely.
    let limit = 256 - (256 % PASSWORD_ALPHABET.len());
    let password: String = bytes
        .iter()
        .filter(|byte| usize::from(**byte) < limit)
        .take(18)
        .map(|byte| char::from(PASSWORD_ALPHABET[usize::from(*byte) % PASSWORD_ALPHABET.len()]))
        .collect();
    if password.len() < 18 {
        return generate_password();
    }
    Ok(password)
}
