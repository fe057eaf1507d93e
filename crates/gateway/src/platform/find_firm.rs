//! "Find your firm" on the platform host: a person who forgot their firm's address
//! asks for the list of firms where their email has an account. Like "Forgot your
//! password?", the page only queues the request, so its answer and timing are the
//! same for every address; the processor emails the list to that address alone.

use minijinja::context;
use poem::http::StatusCode;
use poem::web::{Data, Html};
use poem::{IntoResponse, Response, handler};
use service::requests;

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::CsrfForm;
use crate::http::forms::single;
use crate::http::request_context::ClientAddress;
use crate::state::AppState;

fn form_page(
    state: &AppState,
    csrf: CsrfToken,
    email: &str,
    error: Option<&str>,
) -> Result<Html<String>, GatewayError> {
    let context = context! { csrf_token => csrf.0.clone(), email, error };
    Ok(Html(
        state
            .templates
            .render("platform/find_your_firm.html", context)?,
    ))
}

#[handler]
pub async fn find_page(
    state: Data<&AppState>,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    form_page(&state, csrf, "", None)
}

#[handler]
pub async fn request_list(
    state: Data<&AppState>,
    csrf: CsrfToken,
    client: Data<&ClientAddress>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, GatewayError> {
    let raw_email = single(&fields, "email")?;
    let requested = requests::request_firm_list(&state.services, raw_email, client.0.0).await?;
    if requested.is_none() {
        let page = form_page(
            &state,
            csrf,
            raw_email.trim(),
            Some("Enter an email address, like name@example.com."),
        )?;
        return Ok(page
            .with_status(StatusCode::UNPROCESSABLE_ENTITY)
            .into_response());
    }
    Ok(Html(
        state
            .templates
            .render("platform/find_your_firm_sent.html", context! {})?,
    )
    .into_response())
}
