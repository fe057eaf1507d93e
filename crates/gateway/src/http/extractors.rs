//! What handlers take instead of repeating checks: a form that passed the CSRF check,
//! and the signed-in staff member, administrator or contact of the request's firm.
//! A handler that names one of these cannot forget the check it stands for.

use std::sync::Arc;

use identity::{Contact, StaffUser};
use poem::web::Form;
use poem::{Body, FromRequest, Request, RequestBody};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tenancy::Tenant;

use crate::http::csrf::CsrfVerifier;
use crate::http::error::GatewayError;
use crate::http::forms::single;
use crate::http::session::{SignedIn, require_admin, require_contact, require_staff};
use crate::state::AppState;

/// A posted form whose `csrf_token` field matched the CSRF cookie it came with; `T`
/// holds the other fields. A missing token is a wrong one: refused with the CSRF
/// page, not a parse error.
#[derive(Debug)]
pub struct CsrfForm<T = NoFields>(pub T);

/// The fields of a form that is only a button (sign out, Reset Password): none but
/// the token.
#[derive(Debug, Deserialize)]
pub struct NoFields {}

impl<'a, T: DeserializeOwned + Send> FromRequest<'a> for CsrfForm<T> {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = body.take()?.into_bytes().await?;
        // Poem's own form parser, twice over the same bytes: once for the fields the
        // handler wants, once for the token alone.
        let Form(fields) =
            Form::<T>::from_request(req, &mut RequestBody::new(Body::from(bytes.clone()))).await?;
        let Form(all) = Form::<Vec<(String, String)>>::from_request(
            req,
            &mut RequestBody::new(Body::from(bytes)),
        )
        .await?;
        // A token sent twice is a wrong one, whichever of the two matches.
        let token = single(&all, "csrf_token").unwrap_or_default();
        let verifier = CsrfVerifier::from_request_without_body(req).await?;
        if !verifier.is_valid(token) {
            return Err(GatewayError::CsrfRejected.into());
        }
        Ok(Self(fields))
    }
}

/// The state and firm the request was dispatched with.
fn state_and_firm(req: &Request) -> poem::Result<(&AppState, &Arc<Tenant>)> {
    let missing = || GatewayError::internal(std::io::Error::other("no app state or firm"));
    let state = req.data::<AppState>().ok_or_else(missing)?;
    let tenant = req.data::<Arc<Tenant>>().ok_or_else(missing)?;
    Ok((state, tenant))
}

/// The signed-in, active staff member of the request's firm; signed-out visitors go
/// to the staff sign-in page.
#[derive(Debug, Clone)]
pub struct StaffSession(pub SignedIn<StaffUser>);

impl<'a> FromRequest<'a> for StaffSession {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let (state, tenant) = state_and_firm(req)?;
        Ok(Self(require_staff(state, tenant, req.cookie()).await?))
    }
}

/// A signed-in administrator of the request's firm; other staff get the
/// "Administrators only" page.
#[derive(Debug, Clone)]
pub struct AdminSession(pub SignedIn<StaffUser>);

impl<'a> FromRequest<'a> for AdminSession {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let (state, tenant) = state_and_firm(req)?;
        Ok(Self(require_admin(state, tenant, req.cookie()).await?))
    }
}

/// The signed-in, active contact of the request's firm, whose client is enabled;
/// signed-out visitors go to the sign-in page.
#[derive(Debug, Clone)]
pub struct ContactSession(pub SignedIn<Contact>);

impl<'a> FromRequest<'a> for ContactSession {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let (state, tenant) = state_and_firm(req)?;
        Ok(Self(require_contact(state, tenant, req.cookie()).await?))
    }
}
