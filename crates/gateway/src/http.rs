//! What every area shares about HTTP: errors and their pages, extractors (the CSRF
//! check, sessions), the request context, host dispatch, templates and static assets.

pub mod assets;
pub mod csrf;
pub mod error;
pub mod extractors;
pub mod forms;
pub mod host_dispatch;
pub mod request_context;
pub mod session;
pub mod templates;

use poem::{Route, get};

/// The stylesheets and script, on every host; and a firm's branding on a firm's.
pub fn asset_routes(route: Route, firm_host: bool) -> Route {
    let route = route
        .at("/static/latchkey.css", get(assets::stylesheet))
        .at("/static/latchkey.js", get(assets::script));
    if firm_host {
        route.at("/branding.css", get(assets::branding_stylesheet))
    } else {
        route
    }
}
