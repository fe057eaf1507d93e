//! "Find your firm" on the platform host: a person who forgot their firm's address
//! asks for the list of firms where their email has an account. Like "Forgot your
//! password?", the page only queues the request, so its answer and timing are the
//! same for every address; the processor emails the list to that address alone.

use minijinja::context;
use poem::web::{Data, Html};
use poem::{IntoResponse, Response, handler};
use service::requests;

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::CsrfForm;
use crate::http::forms::{EmailOnlyPage, single};
use crate::http::request_context::ClientAddress;
use crate::state::AppState;

const FORM_PAGE: EmailOnlyPage<'static> = EmailOnlyPage {
    template: "platform/find_your_firm.html",
    firm: None,
};

#[handler]
pub async fn find_page(
    state: Data<&AppState>,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    FORM_PAGE.empty(&state.templates, csrf)
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
        return FORM_PAGE.refused(&state.templates, csrf, raw_email);
    }
    Ok(state
        .templates
        .page("platform/find_your_firm_sent.html", context! {})?
        .into_response())
}
