//! Sends each request to the firm app, the platform app or a 404, by its `Host`.
//!
//! Only `Host` (or, in HTTP/2, the `:authority`) is read: never `X-Forwarded-Host`,
//! `Forwarded` or any other header a client or proxy could set.

use std::sync::Arc;

use poem::http::header;
use poem::{Endpoint, Request, Response};
use tenancy::{HostName, Resolution, Tenant, TenantResolver};

use crate::http::error::GatewayError;

/// The firm app, the platform app, and the resolver that chooses between them.
#[derive(Debug)]
pub struct HostDispatch<F, P> {
    resolver: TenantResolver,
    firm: F,
    platform: P,
}

impl<F, P> HostDispatch<F, P> {
    pub fn new(resolver: TenantResolver, firm: F, platform: P) -> Self {
        Self {
            resolver,
            firm,
            platform,
        }
    }
}

impl<F, P> Endpoint for HostDispatch<F, P>
where
    F: Endpoint<Output = Response>,
    P: Endpoint<Output = Response>,
{
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let host = request_host(&req)?;
        match self
            .resolver
            .resolve(&host)
            .await
            .map_err(GatewayError::from)?
        {
            Resolution::Platform => self.platform.call(req).await,
            Resolution::Unknown => Err(GatewayError::UnknownFirm.into()),
            Resolution::Firm(tenant) => {
                tracing::Span::current().record("tenant", tenant.slug.as_str());
                if !tenant.is_active() {
                    return Err(with_firm(GatewayError::FirmSuspended.into(), &tenant));
                }
                req.set_data(tenant.clone());
                self.firm
                    .call(req)
                    .await
                    .map_err(|error| with_firm(error, &tenant))
            }
        }
    }
}

/// Lets the error page show the firm's name and branding.
fn with_firm(mut error: poem::Error, tenant: &Arc<Tenant>) -> poem::Error {
    error.set_data(tenant.clone());
    error
}

/// The request's host, refusing two `Host` headers, a `Host` that disagrees with an
/// absolute request target, and anything [`HostName::from_header`] refuses.
fn request_host(req: &Request) -> Result<HostName, GatewayError> {
    let mut values = req.headers().get_all(header::HOST).iter();
    let header_value = values.next();
    if values.next().is_some() {
        return Err(GatewayError::BadHost);
    }
    let authority = req.uri().authority().map(|authority| authority.as_str());
    let raw = match (header_value, authority) {
        (Some(value), authority) => {
            let value = value.to_str().map_err(|_| GatewayError::BadHost)?;
            if authority.is_some_and(|authority| !authority.eq_ignore_ascii_case(value)) {
                return Err(GatewayError::BadHost);
            }
            value
        }
        (None, Some(authority)) => authority,
        (None, None) => return Err(GatewayError::BadHost),
    };
    HostName::from_header(raw).map_err(|_| GatewayError::BadHost)
}
