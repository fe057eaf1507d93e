//! Accounts of a firm: who may sign in, receive a link or be invited.

use identity::{Contact, client_is_active};
use tenancy::Tenant;

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
