//! The operator API on the admin listener: `/api/v1`, a bearer token, OpenAPI 3 at
//! `/api/v1/openapi.json` and a browsable UI at `/api/docs`.
//!
//! Every failure is an RFC 9457 `application/problem+json` body: the handlers' own
//! [`ApiError`]s, and the framework's (a malformed body, an unknown route, a missing
//! token) converted in [`into_problem`].

// The API's handlers return `Result<_, ApiError>`, whose problem body makes the error
// large; it is built only on a request's failure path, where boxing it saves nothing.
#![allow(clippy::result_large_err)]

mod allowed_methods;
mod constraints;
mod delivery;
mod document;
mod requests;
mod tenants;

use notification::NotificationError;
use poem::http::StatusCode;
use poem::http::header::AUTHORIZATION;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::auth::Bearer;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApiService, SecurityScheme};
use secrecy::ExposeSecret;
use service::ServiceError;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tenancy::{SlugError, TenancyError};

use crate::state::AppState;

/// Where the API lives on the admin listener.
pub const API_PREFIX: &str = "/api/v1";

/// The operator's bearer token (`security.operator_token`). The check itself runs
/// before routing, in [`require_operator`], so that no request reaches a handler, a
/// body parser or even the router without it; this type documents it in the spec.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", rename = "operator_token")]
pub struct OperatorToken(pub Bearer);

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(..)")
    }
}

/// An RFC 9457 problem.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct Problem {
    /// Always `about:blank`: `code` tells problems apart.
    #[oai(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable, machine-readable name of the problem, such as `slug_taken`.
    pub code: String,
}

/// The API's failures, each with its status and a problem body.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The bearer token is missing or wrong.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>, #[oai(header = "WWW-Authenticate")] String),
    /// No such firm, domain or message.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request contradicts the current state (a taken slug, a deleted firm, an
    /// unverified domain).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// A value is not acceptable.
    #[oai(status = 422, content_type = "application/problem+json")]
    Invalid(Json<Problem>),
    /// Something failed on our side; the detail is in the log.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
}

fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Json<Problem> {
    Json(Problem {
        problem_type: "about:blank".to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        code: code.to_owned(),
    })
}

impl ApiError {
    pub fn not_found(code: &str, detail: impl Into<String>) -> Self {
        Self::NotFound(problem(StatusCode::NOT_FOUND, code, detail))
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::Conflict(problem(StatusCode::CONFLICT, code, detail))
    }

    pub fn invalid(code: &str, detail: impl Into<String>) -> Self {
        Self::Invalid(problem(StatusCode::UNPROCESSABLE_ENTITY, code, detail))
    }

    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error, source = ?error.source(), "operator API request failed");
        Self::Internal(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The request could not be completed. The details are in the server log.",
        ))
    }

    fn unauthorized(invalid_token: bool) -> Self {
        let challenge = if invalid_token {
            r#"Bearer realm="latchkey-operator", error="invalid_token""#
        } else {
            r#"Bearer realm="latchkey-operator""#
        };
        Self::Unauthorized(
            problem(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Send the operator token as `Authorization: Bearer <token>`.",
            ),
            challenge.to_owned(),
        )
    }
}

impl From<TenancyError> for ApiError {
    fn from(error: TenancyError) -> Self {
        let detail = error.to_string();
        match error {
            // A reserved name or the platform's own domain is well formed, and taken:
            // by the platform rather than by another firm.
            TenancyError::InvalidSlug(SlugError::Reserved(_)) => {
                Self::conflict("slug_reserved", detail)
            }
            TenancyError::PlatformDomain(_) => Self::conflict("platform_domain", detail),
            TenancyError::InvalidSlug(_) => Self::invalid("invalid_slug", detail),
            TenancyError::InvalidDomain(_) | TenancyError::DomainTooLong { .. } => {
                Self::invalid("invalid_domain", detail)
            }
            TenancyError::InvalidDisplayName => Self::invalid("invalid_name", detail),
            TenancyError::InvalidEmail(_) => Self::invalid("invalid_email", detail),
            TenancyError::InvalidSetting { .. } => Self::invalid("invalid_setting", detail),
            TenancyError::SlugTaken(_) => Self::conflict("slug_taken", detail),
            TenancyError::DomainTaken(_) => Self::conflict("domain_taken", detail),
            TenancyError::TenantDeleted(_) => Self::conflict("firm_deleted", detail),
            TenancyError::DomainNotVerified { .. } => Self::conflict("domain_not_verified", detail),
            TenancyError::UnknownTenant(_) => Self::not_found("unknown_firm", detail),
            TenancyError::UnknownDomain(_) => Self::not_found("unknown_domain", detail),
            other => Self::internal(&other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Tenancy(error) => error.into(),
            ServiceError::Identity(identity::IdentityError::InvalidEmail(error)) => {
                Self::invalid("invalid_email", error.to_string())
            }
            ServiceError::Identity(identity::IdentityError::InvalidName) => {
                Self::invalid("invalid_name", "a name must be 1 to 200 characters")
            }
            ServiceError::Notification(error) => error.into(),
            ServiceError::NoAccount => Self::conflict(
                "no_account",
                "The account this message was for can no longer be sent a new credential.",
            ),
            other => Self::internal(&other),
        }
    }
}

impl From<NotificationError> for ApiError {
    fn from(error: NotificationError) -> Self {
        match error {
            NotificationError::UnknownMessage => {
                Self::not_found("unknown_message", "There is no message with this id.")
            }
            NotificationError::NotDead(status) => Self::conflict(
                "message_not_dead",
                format!("Only dead messages can be retried; this one is {status}."),
            ),
            other => Self::internal(&other),
        }
    }
}

/// The failures of an operation that reads a JSON body: [`ApiError`]'s, and 415 for a
/// body that is not `application/json`. The framework answers that one before the
/// handler runs ([`into_problem`]); this type puts it in the spec of those operations
/// only.
#[derive(Debug)]
pub struct BodyError(ApiError);

impl ApiResponse for BodyError {
    fn meta() -> MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses.push(MetaResponse {
            description: "The body is not `application/json`.",
            status: Some(StatusCode::UNSUPPORTED_MEDIA_TYPE.as_u16()),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: "application/problem+json",
                schema: Problem::schema_ref(),
            }],
            headers: Vec::new(),
        });
        meta
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl From<BodyError> for poem::Error {
    fn from(error: BodyError) -> Self {
        error.0.into()
    }
}

impl From<ApiError> for BodyError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<ServiceError> for BodyError {
    fn from(error: ServiceError) -> Self {
        Self(error.into())
    }
}

/// The API, its spec and its UI, for the admin listener's router.
pub fn routes(state: &AppState) -> Route {
    let service = OpenApiService::new(
        (
            tenants::TenantsApi,
            delivery::DeliveryApi,
            requests::RequestsApi,
        ),
        "Latchkey operator API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Provision and run firms: their lifecycle, settings, custom domains, email \
         delivery, requests set aside by the processors, and audit trail. Every request needs `Authorization: Bearer` with the \
         platform's `security.operator_token`. Errors are RFC 9457 problem documents.",
    )
    .server(API_PREFIX);
    let spec = document::served(&service.spec());
    let docs = service.swagger_ui();
    let allowed = allowed_methods::AllowedMethods::from_spec(&spec);
    let token = state.settings.security.operator_token.clone();
    let api = service
        .around(move |endpoint, request| {
            let token = token.clone();
            async move { require_operator(endpoint, request, token.expose_secret()).await }
        })
        .catch_all_error(|error| async move { into_problem(error) });
    let api = allowed.around(api);
    Route::new()
        .at(
            format!("{API_PREFIX}/openapi.json"),
            poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json")
                    .body(spec.clone())
            }),
        )
        .nest(API_PREFIX, api)
        .nest("/api/docs", docs)
}

async fn require_operator<E: Endpoint>(
    endpoint: std::sync::Arc<E>,
    request: Request,
    expected: &str,
) -> poem::Result<Response> {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    match presented {
        None => Ok(ApiError::unauthorized(false).into_response()),
        Some(token) if !token_matches(&token, expected) => {
            tracing::warn!("operator API request with a wrong token");
            Ok(ApiError::unauthorized(true).into_response())
        }
        Some(_) => endpoint
            .call(request)
            .await
            .map(IntoResponse::into_response),
    }
}

/// Compares digests, so neither the contents nor the length of the expected token
/// shows in the time taken. An unset token matches nothing.
fn token_matches(presented: &str, expected: &str) -> bool {
    if expected.is_empty() {
        return false;
    }
    let presented = Sha256::digest(presented.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    presented.ct_eq(&expected).into()
}

/// The framework's errors as problems: parse failures are the client's (422), an
/// unknown route a 404, and a response that already is a problem passes through.
fn into_problem(error: poem::Error) -> Response {
    use poem::error::{MethodNotAllowedError, NotFoundError};
    use poem_openapi::error::{
        ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
    };
    let detail = error.to_string();
    let (status, code, detail) = if error.is::<ParseRequestPayloadError>()
        || error.is::<ParseParamError>()
        || error.is::<ParsePathError>()
    {
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", detail)
    } else if error.is::<NotFoundError>() {
        (
            StatusCode::NOT_FOUND,
            "no_such_route",
            "There is no such API route.".to_owned(),
        )
    } else if error.is::<MethodNotAllowedError>() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This route does not take that method.".to_owned(),
        )
    } else if error.is::<ContentTypeError>() {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
    } else if !error.has_source() {
        // A handler's own problem, turned into an error by `?`: already right.
        return error.into_response();
    } else if error.status().is_server_error() {
        return ApiError::internal(&std::io::Error::other(detail)).into_response();
    } else {
        (error.status(), "bad_request", detail)
    };
    problem_response(status, code, detail)
}

fn problem_response(status: StatusCode, code: &str, detail: String) -> Response {
    let Json(body) = problem(status, code, detail);
    let json = serde_json::json!({
        "type": body.problem_type,
        "title": body.title,
        "status": body.status,
        "detail": body.detail,
        "code": body.code,
    });
    Response::builder()
        .status(status)
        .content_type("application/problem+json")
        .body(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn tokens_match_only_exactly() {
        assert!(token_matches("operator-token", "operator-token"));
        assert!(!token_matches("operator-toke", "operator-token"));
        assert!(!token_matches("operator-token ", "operator-token"));
        assert!(!token_matches("", ""));
        assert!(!token_matches("anything", ""));
    }
}
