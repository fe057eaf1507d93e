//! The platform's landing page, at the base domain itself.

use poem::handler;
use poem::web::{Data, Html};

use crate::http::error::GatewayError;
use crate::state::AppState;

/// The platform's landing page, at the base domain itself.
#[handler]
pub async fn platform_home(state: Data<&AppState>) -> Result<Html<String>, GatewayError> {
    let context = minijinja::context! { base_domain => state.settings.server.base_domain.as_str() };
    Ok(Html(state.templates.render("platform/home.html", context)?))
}
