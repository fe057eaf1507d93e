//! The one place where every failure becomes a status code and a readable page.
//!
//! Handlers return [`GatewayError`]; anything else that fails (an unknown route, a
//! wrong method, a body too large) arrives here as a plain `poem::Error` and is shown
//! with the same layout. Server errors show a generic text and the request id; their
//! detail goes to the log.

use std::sync::Arc;

use identity::IdentityError;
use poem::http::StatusCode;
use poem::web::Html;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use service::ServiceError;
use tenancy::{AccountKind, TenancyError, Tenant};

use crate::http::request_context::RequestId;
use crate::http::templates::{FirmView, Templates};

/// What a page tells browsers and clients to wait while the database is out of
/// reach: a restart of PostgreSQL takes seconds.
const DATABASE_RETRY_AFTER_SECONDS: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the Host header is missing or malformed")]
    BadHost,
    #[error("no firm at this address")]
    UnknownFirm,
    #[error("the firm is suspended")]
    FirmSuspended,
    #[error("page not found")]
    NotFound,
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// Not signed in (or the session ended): back to the sign-in page of that kind.
    #[error("sign-in required")]
    SignInRequired(AccountKind),
    #[error("the contact is disabled")]
    ContactDisabled,
    #[error("the client is disabled")]
    ClientDisabled,
    /// An address stored before entry refused what lettre cannot send to.
    #[error("the account's email address cannot receive email")]
    UndeliverableAddress,
    #[error("only the firm's administrators may do this")]
    AdminOnly,
    /// A form field missing, sent twice or as an array.
    #[error("the form is malformed")]
    BadForm,
    #[error("the form's CSRF token is missing or wrong")]
    CsrfRejected,
    #[error("too many attempts")]
    TooManyAttempts { retry_after_seconds: u64 },
    #[error("busy")]
    Busy { retry_after_seconds: u64 },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl GatewayError {
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    /// The error and its sources on one line, for the log and for operators; never
    /// for a page.
    pub fn detail(&self) -> String {
        storage::error_chain(self)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadHost | Self::BadForm => StatusCode::BAD_REQUEST,
            Self::UnknownFirm | Self::NotFound => StatusCode::NOT_FOUND,
            Self::FirmSuspended => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SignInRequired(_) => StatusCode::SEE_OTHER,
            Self::AdminOnly | Self::CsrfRejected => StatusCode::FORBIDDEN,
            Self::ContactDisabled | Self::ClientDisabled => StatusCode::CONFLICT,
            Self::UndeliverableAddress => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) if self.database_unreachable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the failure is the database being out of reach (stopped, restarting,
    /// the network cut): a 503 to try again shortly, not a 500 of ours.
    fn database_unreachable(&self) -> bool {
        let Self::Internal(error) = self else {
            return false;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
        while let Some(error) = cause {
            if error
                .downcast_ref::<sea_orm::DbErr>()
                .is_some_and(storage::is_unreachable)
            {
                return true;
            }
            cause = error.source();
        }
        false
    }

    fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Self::Internal(_) if self.database_unreachable() => Some(DATABASE_RETRY_AFTER_SECONDS),
            Self::TooManyAttempts {
                retry_after_seconds,
            }
            | Self::Busy {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            _ => None,
        }
    }

    /// The page's heading and explanation.
    fn wording(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadHost => (
                "Bad request",
                "The address in your browser could not be understood. Check it and try again.",
            ),
            Self::UnknownFirm => (
                "No firm at this address",
                "There is no client portal at this address. Check the link your firm sent you.",
            ),
            Self::FirmSuspended => (
                "This portal is suspended",
                "This firm's client portal is not available at the moment. Please contact the firm directly.",
            ),
            Self::AdminOnly => (
                "Administrators only",
                "Only the firm's administrators can do this. Ask one of them for help.",
            ),
            Self::ContactDisabled => (
                "This contact is disabled",
                "Enable the contact before sending them a password reset.",
            ),
            Self::ClientDisabled => (
                "This client is disabled",
                "Its contacts cannot sign in or receive links. Enable the client before sending them a password reset.",
            ),
            Self::UndeliverableAddress => (
                "This email address cannot receive email",
                "The address on this account is not one email can be sent to. Correct it, then try again.",
            ),
            Self::CsrfRejected => (
                "This form has expired",
                "For your security the form could not be accepted. Go back, reload the page and try again.",
            ),
            Self::TooManyAttempts { .. } => (
                "Too many attempts",
                "There have been too many attempts. Please wait a few minutes before trying again.",
            ),
            Self::NotFound
            | Self::BadForm
            | Self::PayloadTooLarge
            | Self::SignInRequired(_)
            | Self::Busy { .. }
            | Self::Internal(_) => wording_for(self.status()),
        }
    }
}

impl From<IdentityError> for GatewayError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::NotFound => Self::NotFound,
            IdentityError::Busy(busy) => Self::Busy {
                retry_after_seconds: busy.retry_after_seconds,
            },
            other => Self::internal(other),
        }
    }
}

impl From<notification::NotificationError> for GatewayError {
    fn from(error: notification::NotificationError) -> Self {
        match error {
            notification::NotificationError::InvalidRecipient => Self::UndeliverableAddress,
            other => Self::internal(other),
        }
    }
}

impl From<TenancyError> for GatewayError {
    fn from(error: TenancyError) -> Self {
        Self::internal(error)
    }
}

impl From<ServiceError> for GatewayError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound | ServiceError::Tenancy(TenancyError::UnknownTenant(_)) => {
                Self::NotFound
            }
            ServiceError::TooManyAttempts {
                retry_after_seconds,
            } => Self::TooManyAttempts {
                retry_after_seconds,
            },
            ServiceError::UnknownChoice => Self::BadForm,
            ServiceError::ContactDisabled => Self::ContactDisabled,
            ServiceError::ClientDisabled => Self::ClientDisabled,
            ServiceError::Identity(error) => error.into(),
            ServiceError::Notification(error) => error.into(),
            other => Self::internal(other),
        }
    }
}

impl From<Arc<TenancyError>> for GatewayError {
    fn from(error: Arc<TenancyError>) -> Self {
        Self::Internal(Box::new(SharedError(error)))
    }
}

impl From<minijinja::Error> for GatewayError {
    fn from(error: minijinja::Error) -> Self {
        Self::internal(error)
    }
}

impl poem::error::ResponseError for GatewayError {
    fn status(&self) -> StatusCode {
        GatewayError::status(self)
    }
}

/// An error shared by several waiters (the resolver's cache hands out `Arc`s).
#[derive(Debug)]
struct SharedError(Arc<TenancyError>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

fn wording_for(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("Bad request", "The request could not be understood."),
        StatusCode::FORBIDDEN => ("Forbidden", "You are not allowed to open this page."),
        StatusCode::NOT_FOUND => ("Page not found", "There is nothing at this address."),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Method not allowed",
            "This page does not accept that kind of request.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Request too large",
            "What you sent is larger than this page accepts.",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => {
            ("Check your input", "Some of what you entered is not valid.")
        }
        StatusCode::TOO_MANY_REQUESTS => (
            "Too many attempts",
            "Please wait a moment before trying again.",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "Temporarily unavailable",
            "The service is busy. Please try again in a moment.",
        ),
        status if status.is_client_error() => {
            ("Request refused", "The request could not be completed.")
        }
        _ => (
            "Something went wrong",
            "An unexpected error occurred. Please try again in a moment.",
        ),
    }
}

/// Turns every error of the public listener into a page.
#[derive(Debug)]
pub struct ErrorPages {
    templates: Arc<Templates>,
}

impl ErrorPages {
    pub fn new(templates: Arc<Templates>) -> Self {
        Self { templates }
    }
}

impl<E: Endpoint> Middleware<E> for ErrorPages {
    type Output = ErrorPagesEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ErrorPagesEndpoint {
            inner,
            templates: self.templates.clone(),
        }
    }
}

#[derive(Debug)]
pub struct ErrorPagesEndpoint<E> {
    inner: E,
    templates: Arc<Templates>,
}

impl<E: Endpoint> Endpoint for ErrorPagesEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let request_id = req.data::<RequestId>().cloned();
        let from_script = is_fetch(req.headers());
        match self.inner.call(req).await {
            Ok(output) => Ok(output.into_response()),
            Err(error) if from_script => Ok(json_failure(&error)),
            Err(error) => Ok(self.page(&error, request_id.as_ref())),
        }
    }
}

/// A request from the pages' own script, which cannot show a page (nor should follow
/// a redirect to one and take its 200 for success).
pub(crate) fn is_fetch(headers: &poem::http::HeaderMap) -> bool {
    headers
        .get("x-requested-with")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("fetch"))
}

fn sign_in_path(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Staff => "/staff/login",
        AccountKind::Contact => "/login",
    }
}

/// What a script is told of a failure: the status it can act on, and for an ended
/// session a 401 naming where to sign in again.
fn json_failure(error: &poem::Error) -> Response {
    let known = error.downcast_ref::<GatewayError>();
    let (status, body) = match known {
        Some(GatewayError::SignInRequired(kind)) => (
            StatusCode::UNAUTHORIZED,
            serde_json::json!({ "status": "sign_in_required", "sign_in": sign_in_path(*kind) }),
        ),
        Some(known) => (
            known.status(),
            serde_json::json!({ "status": "failed", "message": known.wording().1 }),
        ),
        None => (
            error.status(),
            serde_json::json!({ "status": "failed", "message": wording_for(error.status()).1 }),
        ),
    };
    if status.is_server_error() {
        tracing::error!(error = %error_chain(error), "request failed");
    }
    let mut response = poem::web::Json(body).with_status(status).into_response();
    if let Some(seconds) = known.and_then(GatewayError::retry_after_seconds) {
        response.headers_mut().insert(
            poem::http::header::RETRY_AFTER,
            poem::http::HeaderValue::from(seconds),
        );
    }
    response
}

impl<E> ErrorPagesEndpoint<E> {
    fn page(&self, error: &poem::Error, request_id: Option<&RequestId>) -> Response {
        if let Some(GatewayError::SignInRequired(kind)) = error.downcast_ref::<GatewayError>() {
            let login = sign_in_path(*kind);
            return Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(poem::http::header::LOCATION, login)
                .finish();
        }
        let (status, (heading, message)) = match error.downcast_ref::<GatewayError>() {
            Some(known) => (known.status(), known.wording()),
            None => (error.status(), wording_for(error.status())),
        };
        if status.is_server_error() {
            tracing::error!(error = %error_chain(error), "request failed");
        }
        let firm = error
            .data::<Arc<Tenant>>()
            .map(|tenant| FirmView::of(tenant));
        let context = minijinja::context! {
            status => status.as_u16(),
            heading,
            message,
            firm => firm.map(minijinja::value::Serde),
            request_id => request_id.map(ToString::to_string),
        };
        let body = self
            .templates
            .render("error.html", context)
            .unwrap_or_else(|render_error| {
                tracing::error!(error = %render_error, "the error page failed to render");
                format!("{} {heading}", status.as_u16())
            });
        let mut response = Html(body).with_status(status).into_response();
        if let Some(pattern) = error.data::<poem::PathPattern>() {
            response.set_data(pattern.clone());
        }
        let retry_after = error
            .downcast_ref::<GatewayError>()
            .and_then(GatewayError::retry_after_seconds);
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                poem::http::header::RETRY_AFTER,
                poem::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

/// An error and its sources on one line, for the log.
fn error_chain(error: &poem::Error) -> String {
    match error.downcast_ref::<GatewayError>() {
        Some(gateway) => gateway.detail(),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use identity::IdentityError;
    use poem::http::StatusCode;
    use sea_orm::{ConnAcquireErr, DbErr};
    use tenancy::TenancyError;

    use super::GatewayError;

    #[test]
    fn an_unreachable_database_is_a_503_to_retry_whatever_wraps_it() {
        let unreachable = || DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);
        let errors = [
            GatewayError::internal(unreachable()),
            GatewayError::from(IdentityError::Database(unreachable())),
            GatewayError::from(Arc::new(TenancyError::Database(unreachable()))),
        ];
        for error in errors {
            assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE, "{error:?}");
            assert_eq!(error.retry_after_seconds(), Some(5));
            assert_eq!(error.wording().0, "Temporarily unavailable");
        }
    }

    #[test]
    fn a_failed_statement_is_still_a_500() {
        let error = GatewayError::from(IdentityError::Database(DbErr::Custom(
            "constraint failed".into(),
        )));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.retry_after_seconds(), None);
    }
}
