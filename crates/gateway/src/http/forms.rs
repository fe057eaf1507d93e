//! What form pages share: single-valued fields, the ids in paths, the status of a
//! refused form, and the pages whose form asks for an email address alone.

use std::str::FromStr;

use minijinja::context;
use poem::http::StatusCode;
use poem::web::Html;
use poem::{IntoResponse, Response};
use tenancy::Tenant;

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::templates::{Templates, firm_value};

/// An id from a path. A malformed id is answered like one that does not exist.
pub fn parse_id<Id: FromStr>(raw: &str) -> Result<Id, GatewayError> {
    raw.parse().map_err(|_| GatewayError::NotFound)
}

/// The one value of `name` in a form, refusing a field sent twice: two `email`
/// values were how GitLab's CVE-2023-7028 mailed a reset link to an attacker.
pub fn single<'a>(fields: &'a [(String, String)], name: &str) -> Result<&'a str, GatewayError> {
    let mut values = fields
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        _ => Err(GatewayError::BadForm),
    }
}

/// A form page shown again with why it was refused: 422 rather than 200, so that
/// scripts and tests see that the post changed nothing.
pub fn refused(page: impl IntoResponse) -> Response {
    page.with_status(StatusCode::UNPROCESSABLE_ENTITY)
        .into_response()
}

/// A page whose form asks for an email address alone ("Forgot your password?",
/// "Find your firm"). Its only refusal is an address that does not read as one, so
/// the page never says whether an address has an account.
#[derive(Debug)]
pub struct EmailOnlyPage<'a> {
    pub template: &'static str,
    /// The firm whose host shows the page; `None` on the platform host.
    pub firm: Option<&'a Tenant>,
}

impl EmailOnlyPage<'_> {
    pub fn empty(
        &self,
        templates: &Templates,
        csrf: CsrfToken,
    ) -> Result<Html<String>, GatewayError> {
        self.render(templates, csrf, "", None)
    }

    /// The form again with the address typed, trimmed.
    pub fn refused(
        &self,
        templates: &Templates,
        csrf: CsrfToken,
        typed: &str,
    ) -> Result<Response, GatewayError> {
        let error = Some("Enter an email address, like name@example.com.");
        Ok(refused(self.render(
            templates,
            csrf,
            typed.trim(),
            error,
        )?))
    }

    fn render(
        &self,
        templates: &Templates,
        csrf: CsrfToken,
        email: &str,
        error: Option<&str>,
    ) -> Result<Html<String>, GatewayError> {
        let firm = match self.firm {
            Some(tenant) => context! { firm => firm_value(tenant) },
            None => context! {},
        };
        templates.page(
            self.template,
            context! { csrf_token => csrf.0, email, error, ..firm },
        )
    }
}
