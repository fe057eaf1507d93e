//! The pages of firm hosts and of the platform host that exist before anyone signs
//! in, and the stylesheets every page uses.

use std::sync::Arc;

use poem::http::header;
use poem::web::{Data, Html};
use poem::{Response, handler};
use tenancy::Tenant;

use crate::app::AppState;
use crate::error::GatewayError;
use crate::templates::FirmView;

const STYLESHEET: &str = include_str!("../static/latchkey.css");
const SCRIPT: &str = include_str!("../static/latchkey.js");

/// The platform's landing page, at the base domain itself.
#[handler]
pub async fn platform_home(state: Data<&AppState>) -> Result<Html<String>, GatewayError> {
    let context = minijinja::context! { base_domain => state.settings.server.base_domain.as_str() };
    Ok(Html(state.templates.render("platform_home.html", context)?))
}

#[handler]
pub fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(STYLESHEET)
}

#[handler]
pub fn script() -> Response {
    Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(SCRIPT)
}

/// The firm's accent colour as a stylesheet, so pages need no inline styles and the
/// content security policy can forbid them.
#[handler]
pub fn branding_stylesheet(tenant: Data<&Arc<Tenant>>) -> Response {
    let firm = FirmView::of(&tenant);
    let css = match firm.accent_colour {
        Some(colour) => format!(":root {{ --accent: {colour}; }}\n"),
        None => String::new(),
    };
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(css)
}

/// `GET /_bench/ceiling` (only with `bench.ceiling_route`): a constant answered by
/// the public listener before any of our middleware, the ceiling the benchmark's
/// ratios are taken against.
pub const BENCH_CEILING_PATH: &str = "/_bench/ceiling";
