//! The stylesheets and script every page uses, and a firm's branding as CSS.

use std::sync::Arc;

use poem::http::header;
use poem::web::Data;
use poem::{Response, handler};
use tenancy::Tenant;

use crate::http::templates::FirmView;

const STYLESHEET: &str = include_str!("../../static/latchkey.css");

const SCRIPT: &str = include_str!("../../static/latchkey.js");

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
