//! Composing emails with the changes that cause them: links built from the firm's
//! canonical domain (never from the request), rendering, and the outbox, all inside
//! the caller's transaction.

use chrono::Utc;
use identity::{Actor, AuditAction, Contact, EmailAddress, NewAuditEvent, record_audit};
use notification::{
    DeliveryEvent, DeliveryObserver, DeliveryOutcome, Email, Invitation, NotificationError,
    ObserverFuture, PasswordChanged, PasswordReset, QueuedMessage, enqueue, enqueue_about,
};
use reset_token::{TokenPurpose, mint_token, token_lifetime};
use sea_orm::{ConnectionTrait, TransactionTrait};
use storage::Transaction;
use tenancy::{AccountRef, ContactId, ResetMode, Tenant};

use crate::accounts::{ContactUse, usable_contact};
use crate::{FirmPolicy, ServiceError, Services};

/// Renders `email` and writes it to the outbox in `db`'s transaction.
pub async fn queue_email(
    db: &impl ConnectionTrait,
    services: &Services,
    tenant: &Tenant,
    recipient: &EmailAddress,
    locale: Option<&str>,
    email: &Email,
) -> Result<QueuedMessage, ServiceError> {
    let rendered = services.renderer.render(email, tenant, locale)?;
    Ok(enqueue(db, tenant.id, recipient.as_str(), &rendered, Utc::now()).await?)
}

/// [`queue_email`] for an email about a contact's reset, whose delivery or failure
/// then enters the contact's audit trail ([`AuditTrailObserver`]).
async fn queue_reset_email(
    db: &impl ConnectionTrait,
    services: &Services,
    tenant: &Tenant,
    contact: &Contact,
    email: &Email,
) -> Result<QueuedMessage, ServiceError> {
    let rendered = services
        .renderer
        .render(email, tenant, Some(&contact.locale))?;
    Ok(enqueue_about(
        db,
        tenant.id,
        contact.id.as_uuid(),
        contact.email.as_str(),
        &rendered,
        Utc::now(),
    )
    .await?)
}

/// Writes "reset email sent" and "reset email failed" to the contact's audit trail,
/// in the worker's transaction that records the outcome.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditTrailObserver;

impl DeliveryObserver for AuditTrailObserver {
    fn delivered<'a>(
        &'a self,
        txn: &'a Transaction,
        event: &'a DeliveryEvent,
    ) -> ObserverFuture<'a> {
        Box::pin(async move {
            let action = match &event.outcome {
                DeliveryOutcome::Sent => AuditAction::ResetEmailSent,
                DeliveryOutcome::Dead { .. } => AuditAction::ResetEmailFailed,
            };
            let detail = match &event.outcome {
                DeliveryOutcome::Sent => format!("message {}", event.message_id),
                DeliveryOutcome::Dead { error } => {
                    format!("message {}: {error}", event.message_id)
                }
            };
            let audit = NewAuditEvent {
                action,
                actor: Actor::System,
                subject: AccountRef::Contact(ContactId::from_uuid(event.subject_id)),
                client_address: None,
                detail: Some(detail),
            };
            record_audit(txn, event.tenant_id, audit, event.at)
                .await
                .map_err(|error| match error {
                    identity::IdentityError::Database(error) => error,
                    other => sea_orm::DbErr::Custom(other.to_string()),
                })
        })
    }
}

/// Mints a reset token for a contact (superseding older ones) and queues the
/// Password Reset email, in one transaction; then wakes the worker.
pub async fn issue_contact_reset(
    services: &Services,
    tenant: &Tenant,
    contact: &Contact,
    actor: Actor,
    client_address: Option<String>,
) -> Result<(), ServiceError> {
    let txn = services.db.begin().await?;
    let queued =
        issue_contact_reset_in(&txn, services, tenant, contact, actor, client_address).await?;
    txn.commit().await?;
    services.waker.notify(&queued);
    Ok(())
}

/// [`issue_contact_reset`] inside a transaction the caller owns.
pub async fn issue_contact_reset_in(
    txn: &impl ConnectionTrait,
    services: &Services,
    tenant: &Tenant,
    contact: &Contact,
    actor: Actor,
    client_address: Option<String>,
) -> Result<QueuedMessage, ServiceError> {
    let now = Utc::now();
    let purpose = match tenant.settings.reset_mode {
        ResetMode::Link => TokenPurpose::Reset,
        ResetMode::TemporaryPassword => TokenPurpose::TemporaryPassword,
    };
    let minutes = FirmPolicy::of(services, tenant).reset_minutes;
    let minted = mint_token(
        txn,
        &services.token_keys,
        tenant.id,
        purpose,
        AccountRef::Contact(contact.id),
        token_lifetime(purpose, minutes),
        now,
    )
    .await?;
    let email: Email = PasswordReset {
        name: contact.name.clone(),
        url: services.firm_url(tenant, &format!("/reset/{}", minted.token.expose())),
        expires_in_minutes: minutes,
    }
    .into();
    let queued = queue_reset_email(txn, services, tenant, contact, &email).await?;
    for action in [AuditAction::ResetRequested, AuditAction::ResetEmailQueued] {
        let event = NewAuditEvent {
            action,
            actor,
            subject: AccountRef::Contact(contact.id),
            client_address: client_address.clone(),
            detail: Some(format!("token {}", minted.record.id)),
        };
        record_audit(txn, tenant.id, event, now).await?;
    }
    Ok(queued)
}

/// Queues "your password was changed" for an account.
pub async fn queue_password_changed(
    txn: &impl ConnectionTrait,
    services: &Services,
    tenant: &Tenant,
    name: &str,
    email_address: &EmailAddress,
    locale: Option<&str>,
) -> Result<QueuedMessage, ServiceError> {
    let email: Email = PasswordChanged {
        name: name.to_owned(),
        reset_url: services.firm_url(tenant, "/forgot-password"),
    }
    .into();
    queue_email(txn, services, tenant, email_address, locale, &email).await
}

/// Who an invitation is for.
#[derive(Debug, Clone)]
pub struct Invitee<'a> {
    pub account: AccountRef,
    pub name: &'a str,
    pub email: &'a EmailAddress,
    pub locale: Option<&'a str>,
}

impl<'a> Invitee<'a> {
    pub fn contact(contact: &'a Contact) -> Self {
        Self {
            account: AccountRef::Contact(contact.id),
            name: &contact.name,
            email: &contact.email,
            locale: Some(&contact.locale),
        }
    }

    pub fn staff(user: &'a identity::StaffUser) -> Self {
        Self {
            account: AccountRef::Staff(user.id),
            name: &user.name,
            email: &user.email,
            locale: None,
        }
    }
}

/// Mints an invitation (72 hours) and queues the set-your-password email.
pub async fn queue_invitation(
    txn: &impl ConnectionTrait,
    services: &Services,
    tenant: &Tenant,
    invitee: Invitee<'_>,
) -> Result<QueuedMessage, ServiceError> {
    let now = Utc::now();
    let lifetime = token_lifetime(TokenPurpose::Invite, 0);
    let minted = mint_token(
        txn,
        &services.token_keys,
        tenant.id,
        TokenPurpose::Invite,
        invitee.account,
        lifetime,
        now,
    )
    .await?;
    let email: Email = Invitation {
        name: invitee.name.to_owned(),
        url: services.firm_url(tenant, &format!("/reset/{}", minted.token.expose())),
        expires_in_hours: lifetime.num_hours(),
    }
    .into();
    queue_email(txn, services, tenant, invitee.email, invitee.locale, &email).await
}

/// Sends a dead message again. One that carried a credential (a reset link, an
/// invitation, a temporary password) had its body wiped when it died, and its
/// credential may since have expired or been superseded: the account is sent a fresh
/// one instead, as staff pressing Reset Password (or re-inviting) would; the new
/// message replaces the dead one and is returned.
pub async fn retry_dead_message(
    services: &Services,
    id: notification::OutboxMessageId,
) -> Result<notification::OutboxMessage, ServiceError> {
    match notification::retry_message(&services.db, id, Utc::now()).await {
        Err(NotificationError::MustReissue(_)) => {}
        other => return Ok(other?),
    }
    let dead = notification::find_message(&services.db, id)
        .await?
        .ok_or(NotificationError::UnknownMessage)?;
    let tenant = match dead.tenant_id {
        Some(tenant) => tenancy::find_tenant_by_id(&services.db, tenant)
            .await?
            .filter(Tenant::is_active),
        None => None,
    };
    let Some(tenant) = tenant else {
        return Err(ServiceError::NoAccount);
    };
    let recipient = EmailAddress::parse(&dead.recipient).map_err(|_| ServiceError::NoAccount)?;
    let txn = services.db.begin().await?;
    let queued = reissue(&txn, services, &tenant, &recipient).await?;
    // The new message replaces the dead one: retrying it again must not issue yet
    // another credential.
    if !notification::discard_dead_message(&txn, id).await? {
        return Err(NotificationError::UnknownMessage.into());
    }
    txn.commit().await?;
    services.waker.notify(&queued);
    tracing::info!(dead = %id, reissued = %queued.id, "a dead credential was issued anew");
    Ok(notification::find_message(&services.db, queued.id)
        .await?
        .ok_or(NotificationError::UnknownMessage)?)
}

/// A new credential for the account at `recipient`: an invitation while it has no
/// password, otherwise a reset in the firm's mode.
async fn reissue(
    txn: &impl ConnectionTrait,
    services: &Services,
    tenant: &Tenant,
    recipient: &EmailAddress,
) -> Result<QueuedMessage, ServiceError> {
    let contact = identity::find_contact_by_email(txn, tenant.id, recipient).await?;
    if let Some(contact) = usable_contact(services, tenant, contact, ContactUse::Link).await? {
        if contact.password_hash.is_none() {
            let invitee = Invitee::contact(&contact);
            return queue_invitation(txn, services, tenant, invitee).await;
        }
        return issue_contact_reset_in(txn, services, tenant, &contact, Actor::System, None).await;
    }
    let staff = identity::find_staff_by_email(txn, tenant.id, recipient)
        .await?
        .filter(|user| user.status == identity::StaffStatus::Invited);
    match staff {
        Some(user) => {
            let invitee = Invitee::staff(&user);
            queue_invitation(txn, services, tenant, invitee).await
        }
        None => Err(ServiceError::NoAccount),
    }
}
