//! Accounts of a firm: who may sign in or receive a link, and the one way an account
//! is invited.

use std::net::IpAddr;

use chrono::Utc;
use identity::{
    AccessRequestStatus, Actor, AuditAction, Client, ClientStatus, Contact, ContactChanges,
    ContactStatus, EmailAddress, IdentityError, NewAuditEvent, NewContact, NewStaffUser,
    SessionToken, StaffUser, Verification, client_is_active, create_contact, create_session,
    create_staff_user, decide_access_request, find_access_request, find_client, list_contacts,
    record_audit, rename_client, revoke_all_sessions, set_client_status, set_contact_password,
    update_contact,
};
use notification::QueuedMessage;
use sea_orm::{ConnectionTrait, TransactionTrait};
use storage::Transaction;
use tenancy::{AccountRef, ClientId, ContactId, StaffUserId, Tenant};
use uuid::Uuid;

use crate::attempts::{Attempt, limit_key};
use crate::emails::{Invitee, queue_invitation, queue_password_changed};
use crate::{ServiceError, Services};

/// What a contact is looked up for; signing in asks more than receiving a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactUse {
    /// A link or a reset email: an invited contact may set a first password with it.
    Link,
    /// Signing in, or staying signed in.
    SignIn,
}

/// `contact`, if it may be used so: not disabled (and, to sign in, active), of an
/// enabled client. A firm that disables a client expects its contacts to be locked
/// out (no sign-in, no session, no link, no reset email) until it is enabled again.
pub async fn usable_contact(
    services: &Services,
    tenant: &Tenant,
    contact: Option<Contact>,
    usage: ContactUse,
) -> Result<Option<Contact>, ServiceError> {
    let Some(contact) = contact.filter(|contact| match usage {
        ContactUse::Link => contact.status != ContactStatus::Disabled,
        ContactUse::SignIn => contact.status == ContactStatus::Active,
    }) else {
        return Ok(None);
    };
    let client_enabled = client_is_active(&services.db, tenant.id, contact.client_id).await?;
    Ok(client_enabled.then_some(contact))
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
    pub fn staff(staff_id: StaffUserId, from: Option<IpAddr>) -> Self {
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
        subject: invitee.account,
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
    create_and_invite(
        services,
        tenant,
        inviter,
        |c| Invitee::contact(c),
        async |txn| create_contact(txn, tenant.id, new, Utc::now()).await,
    )
    .await
}

/// A new staff member, invited to set a password: both or neither.
pub async fn invite_staff(
    services: &Services,
    tenant: &Tenant,
    new: NewStaffUser,
    inviter: Inviter,
) -> Result<StaffUser, ServiceError> {
    create_and_invite(
        services,
        tenant,
        inviter,
        |u| Invitee::staff(u),
        async |txn| create_staff_user(txn, tenant.id, new, Utc::now()).await,
    )
    .await
}

/// Creates an account with `create` and invites it, in one transaction.
async fn create_and_invite<A>(
    services: &Services,
    tenant: &Tenant,
    inviter: Inviter,
    invitee: impl for<'a> Fn(&'a A) -> Invitee<'a>,
    create: impl AsyncFnOnce(&Transaction) -> Result<A, IdentityError>,
) -> Result<A, ServiceError> {
    let txn = services.db.begin().await?;
    let account = create(&txn).await?;
    let queued = invite_in(&txn, services, tenant, invitee(&account), inviter).await?;
    txn.commit().await?;
    services.waker.notify(&queued);
    Ok(account)
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
    client_id: Option<ClientId>,
    staff_id: StaffUserId,
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

/// What changing one's own password came to.
#[derive(Debug)]
pub enum OwnPasswordChange {
    /// Changed; every session of the account ended and this new one began.
    Changed(SessionToken),
    /// Nothing changed: the current password was wrong or the new one breaks the
    /// firm's rules.
    Refused(Vec<String>),
}

/// A signed-in contact changes their password. The current password is a secret a
/// stolen session could guess at, so it is counted like a sign-in (per client address
/// and per account) before the hash. The password, the trail, the end of every
/// session and every link, and the email saying so: all or nothing.
pub async fn change_contact_password(
    services: &Services,
    tenant: &Tenant,
    contact: &Contact,
    current_password: &str,
    new_password: &str,
    confirm_password: &str,
    from: Option<IpAddr>,
) -> Result<OwnPasswordChange, ServiceError> {
    let limits = &services.config.limits;
    let address_bucket = format!("account-password:address:{}", limit_key(from));
    let account_bucket = format!("account-password:account:{}:{}", tenant.id, contact.id);
    let (attempt, _) = Attempt::begin(
        services,
        vec![
            (address_bucket, limits.sign_in_per_address),
            (account_bucket, limits.sign_in_per_email),
        ],
    )
    .await?;
    let mut errors: Vec<String> = Vec::new();
    let verified = services
        .hasher
        .verify(current_password, contact.password_hash.as_deref())
        .await?;
    if matches!(verified, Verification::Valid { .. }) {
        attempt.refund(services).await?;
    } else {
        errors.push("Your current password is not correct.".to_owned());
    }
    let rules = services.policy(tenant).password;
    let broken = rules.check(new_password, confirm_password, &contact.email);
    errors.extend(broken.iter().map(ToString::to_string));
    if !errors.is_empty() {
        return Ok(OwnPasswordChange::Refused(errors));
    }
    let hash = services.hasher.hash(new_password).await?;
    let now = Utc::now();
    let id = contact.id;
    let txn = services.db.begin().await?;
    set_contact_password(&txn, tenant.id, id, hash, false, now).await?;
    let event = NewAuditEvent {
        action: AuditAction::PasswordChanged,
        actor: Actor::Contact(id),
        subject: AccountRef::Contact(id),
        client_address: from.map(|address| address.to_string()),
        detail: None,
    };
    record_audit(&txn, tenant.id, event, now).await?;
    // Every session ends, this one too: the person carries on in a new one, so a
    // session id seen before the change (a fixation, a shared machine) is worthless.
    let account = AccountRef::Contact(id);
    revoke_all_sessions(&txn, tenant.id, account, None).await?;
    let (session, _) =
        create_session(&txn, tenant.id, account, services.session_lifetime, now).await?;
    reset_token::revoke_tokens(&txn, tenant.id, account, None).await?;
    let locale = Some(contact.locale.as_str());
    let queued = queue_password_changed(
        &txn,
        services,
        tenant,
        &contact.name,
        &contact.email,
        locale,
    )
    .await?;
    txn.commit().await?;
    services.waker.notify(&queued);
    tracing::info!("contact changed their password");
    Ok(OwnPasswordChange::Changed(session))
}

/// Staff edit a contact. An email change or a disable ends the contact's sessions; an
/// email change, a disable or a re-enable ends its links: a link or an invitation
/// sent to the old (perhaps mistyped) address, or before a disable, must not set a
/// password now. All with the edit or not at all. Re-enabling a contact that never
/// set a password leaves it invited.
pub async fn edit_contact(
    services: &Services,
    tenant: &Tenant,
    contact: &Contact,
    name: String,
    email: EmailAddress,
    locale: String,
    disabled: bool,
) -> Result<(), ServiceError> {
    let status = match () {
        () if disabled => ContactStatus::Disabled,
        () if contact.password_hash.is_none() => ContactStatus::Invited,
        () => ContactStatus::Active,
    };
    let email_changed = email != contact.email;
    let status_changed = status != contact.status;
    let changes = ContactChanges {
        name,
        email,
        locale,
        status,
    };
    let txn = services.db.begin().await?;
    update_contact(&txn, tenant.id, contact.id, changes, Utc::now()).await?;
    if email_changed || status_changed {
        let end_sessions = email_changed || status == ContactStatus::Disabled;
        end_contact_access(&txn, tenant, contact.id, end_sessions).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Staff rename a client and enable or disable it. Disabling a client locks its
/// contacts out: their sessions and links end with it, and links sent while it was
/// disabled end when it is enabled again.
pub async fn edit_client(
    services: &Services,
    tenant: &Tenant,
    client: &Client,
    name: &str,
    disabled: bool,
) -> Result<(), ServiceError> {
    let now = Utc::now();
    rename_client(&services.db, tenant.id, client.id, name, now).await?;
    let status = if disabled {
        ClientStatus::Disabled
    } else {
        ClientStatus::Active
    };
    let txn = services.db.begin().await?;
    set_client_status(&txn, tenant.id, client.id, status, now).await?;
    if status != client.status {
        for contact in list_contacts(&txn, tenant.id, client.id).await? {
            end_contact_access(&txn, tenant, contact.id, disabled).await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Ends every live link of a contact and, with `sessions`, every session.
async fn end_contact_access(
    txn: &impl ConnectionTrait,
    tenant: &Tenant,
    contact_id: ContactId,
    sessions: bool,
) -> Result<(), ServiceError> {
    let account = AccountRef::Contact(contact_id);
    reset_token::revoke_tokens(txn, tenant.id, account, None).await?;
    if sessions {
        revoke_all_sessions(txn, tenant.id, account, None).await?;
    }
    Ok(())
}
