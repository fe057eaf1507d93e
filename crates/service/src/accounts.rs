//! Accounts of a firm: who may sign in or receive a link, and the one way an account
//! is invited.

use std::net::IpAddr;

use chrono::Utc;
use identity::{
    AccessRequestStatus, Actor, AuditAction, Contact, IdentityError, NewAuditEvent, NewContact,
    NewStaffUser, StaffUser, client_is_active, create_contact, create_staff_user,
    decide_access_request, find_access_request, find_client, record_audit,
};
use notification::QueuedMessage;
use sea_orm::{ConnectionTrait, TransactionTrait};
use tenancy::Tenant;
use uuid::Uuid;

use crate::emails::{Invitee, queue_invitation};
use crate::{ServiceError, Services};

/// `contact`, if its client is enabled: a firm that disables a client expects its
/// contacts to be locked out (no sign-in, no session, no link, no reset email) until
/// it is enabled again.
pub async fn with_active_client(
    services: &Services,
    tenant: &Tenant,
    contact: Option<Contact>,
) -> Result<Option<Contact>, ServiceError> {
    Ok(match contact {
        Some(contact) if client_is_active(&services.db, tenant.id, contact.client_id).await? => {
            Some(contact)
        }
        _ => None,
    })
}

/// Who an invitation is from and why, for the invitee's audit trail.
#[derive(Debug, Clone)]
pub struct Inviter {
    pub actor: Actor,
    pub from: Option<IpAddr>,
    /// Why, when it is not plain (an approved access request).
    pub detail: Option<String>,
}

impl Inviter {
    /// Staff inviting from the staff pages.
    pub fn staff(staff_id: Uuid, from: Option<IpAddr>) -> Self {
        Self {
            actor: Actor::Staff(staff_id),
            from,
            detail: None,
        }
    }
}

/// Mints the invitee's invitation, queues its email and records "invited" in the
/// invitee's trail, inside `txn`: the one way an account is invited, so none is
/// invited without a trace.
pub async fn invite_in(
    txn: &impl ConnectionTrait,
    services: &Services,
    tenant: &Tenant,
    invitee: Invitee<'_>,
    inviter: Inviter,
) -> Result<QueuedMessage, ServiceError> {
    let event = NewAuditEvent {
        action: AuditAction::Invited,
        actor: inviter.actor,
        subject_kind: invitee.kind,
        subject_id: invitee.id,
        client_address: inviter.from.map(|address| address.to_string()),
        detail: inviter.detail,
    };
    record_audit(txn, tenant.id, event, Utc::now()).await?;
    queue_invitation(txn, services, tenant, invitee).await
}

/// A new contact, invited to set a password: both or neither.
pub async fn invite_contact(
    services: &Services,
    tenant: &Tenant,
    new: NewContact,
    inviter: Inviter,
) -> Result<Contact, ServiceError> {
    let txn = services.db.begin().await?;
    let contact = create_contact(&txn, tenant.id, new, Utc::now()).await?;
    let queued = invite_in(&txn, services, tenant, Invitee::contact(&contact), inviter).await?;
    txn.commit().await?;
    services.waker.notify(&queued);
    Ok(contact)
}

/// A new staff member, invited to set a password: both or neither.
pub async fn invite_staff(
    services: &Services,
    tenant: &Tenant,
    new: NewStaffUser,
    inviter: Inviter,
) -> Result<StaffUser, ServiceError> {
    let txn = services.db.begin().await?;
    let user = create_staff_user(&txn, tenant.id, new, Utc::now()).await?;
    let queued = invite_in(&txn, services, tenant, Invitee::staff(&user), inviter).await?;
    txn.commit().await?;
    services.waker.notify(&queued);
    Ok(user)
}

/// What approving a "Request your credential" came to.
#[derive(Debug)]
pub enum Approval {
    /// The contact was created under the chosen client and invited.
    Invited(Contact),
    /// The address already belongs to a contact of the firm: nothing changed.
    AlreadyAContact,
}

/// Approves a pending access request: a contact under `client_id` (`None`: no client
/// was chosen), invited, and the request marked approved by `staff_id`, in one
/// transaction.
pub async fn approve_access_request(
    services: &Services,
    tenant: &Tenant,
    request_id: Uuid,
    client_id: Option<Uuid>,
    staff_id: Uuid,
    from: Option<IpAddr>,
) -> Result<Approval, ServiceError> {
    let request = find_access_request(&services.db, tenant.id, request_id)
        .await?
        .filter(|request| request.status == AccessRequestStatus::Pending)
        .ok_or(ServiceError::NotFound)?;
    let client_id = client_id.ok_or(ServiceError::UnknownChoice)?;
    let client = find_client(&services.db, tenant.id, client_id)
        .await?
        .ok_or(ServiceError::UnknownChoice)?;
    let now = Utc::now();
    let txn = services.db.begin().await?;
    decide_access_request(
        &txn,
        tenant.id,
        request.id,
        AccessRequestStatus::Approved,
        staff_id,
        now,
    )
    .await?;
    let new = NewContact {
        client_id: client.id,
        name: request.name.clone(),
        email: request.email.clone(),
        locale: tenant.settings.default_locale.clone(),
        password_hash: None,
    };
    let contact = match create_contact(&txn, tenant.id, new, now).await {
        Ok(contact) => contact,
        Err(IdentityError::EmailTaken) => return Ok(Approval::AlreadyAContact),
        Err(error) => return Err(error.into()),
    };
    let inviter = Inviter {
        detail: Some("approved an access request".to_owned()),
        ..Inviter::staff(staff_id, from)
    };
    let queued = invite_in(&txn, services, tenant, Invitee::contact(&contact), inviter).await?;
    txn.commit().await?;
    services.waker.notify(&queued);
    Ok(Approval::Invited(contact))
}
