//! The two listeners' endpoints, assembled from the areas' routes: a firm's host
//! serves the portal and the staff area, the base domain the platform pages, and the
//! admin listener the probes and the operator API.

use poem::endpoint::BoxEndpoint;
use poem::middleware::CookieJarManager;
use poem::{Endpoint, EndpointExt, IntoResponse, Route};

use crate::http::assets;
use crate::http::error::ErrorPages;
use crate::http::host_dispatch::HostDispatch;
use crate::http::request_context::{RequestContext, RequestContextSettings, limit_body};
use crate::settings::{Environment, PublicScheme};
use crate::state::AppState;
use crate::{admin, http, platform, portal, staff};

/// Routes of a firm's host (`{slug}.{base_domain}` or a verified custom domain).
fn firm_routes() -> Route {
    let route = portal::routes().nest_no_strip("/staff", staff::routes());
    http::asset_routes(route, true)
}

/// Routes of the platform host (`base_domain` itself).
fn platform_routes(development: bool) -> Route {
    http::asset_routes(platform::routes(development), false)
}

/// The public listener: host dispatch inside error pages inside the request context.
pub fn public_endpoint(state: &AppState) -> BoxEndpoint<'static> {
    let body_limit = state.settings.server.body_limit_bytes;
    let dispatch = HostDispatch::new(
        state.services.resolver.clone(),
        firm_routes()
            .with(CookieJarManager::new())
            .data(state.clone())
            .map_to_response(),
        platform_routes(state.settings.environment == Environment::Development)
            .with(CookieJarManager::new())
            .data(state.clone())
            .map_to_response(),
    );
    let context_settings = RequestContextSettings {
        trusted_proxies: state.settings.server.trusted_proxies.clone(),
        hsts: state.settings.server.public_scheme == PublicScheme::Https,
    };
    let pages = dispatch
        .around(move |inner, req| async move {
            let req = limit_body(req, body_limit).await?;
            inner.call(req).await.map(IntoResponse::into_response)
        })
        .with(ErrorPages::new(state.templates.clone()))
        .with(RequestContext::new(context_settings, state.metrics.clone()));
    if !state.settings.bench.ceiling_route {
        return pages.boxed();
    }
    // The benchmark's ceiling: this listener and its HTTP stack, before any of our
    // middleware, so that a page's ratio to it shows what the page itself costs.
    pages
        .around(|inner, req| async move {
            if req.uri().path() == assets::BENCH_CEILING_PATH {
                return Ok("ok\n".into_response());
            }
            inner.call(req).await
        })
        .boxed()
}

/// The admin listener: health, readiness, metrics and the operator API.
pub fn admin_endpoint(state: &AppState) -> BoxEndpoint<'static> {
    admin::routes(state)
        .data(state.clone())
        .map_to_response()
        .boxed()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    const AREAS: [&str; 4] = ["portal", "staff", "platform", "admin"];

    /// The area's own file and every file of its folder.
    fn sources_of(area: &str) -> Vec<PathBuf> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.join(format!("{area}.rs"))];
        let mut folders = vec![src.join(area)];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files
    }

    /// Areas share `http` and `state`, never each other: a handler is found in its
    /// area's folder, and changing one area cannot break another.
    #[test]
    fn areas_never_import_each_other() {
        for area in AREAS {
            let files = sources_of(area);
            assert!(files.len() > 1, "{area} has no handlers");
            for file in files {
                let text = std::fs::read_to_string(&file).unwrap();
                for other in AREAS.iter().filter(|other| **other != area) {
                    assert!(
                        !text.contains(&format!("crate::{other}")),
                        "{} imports the {other} area",
                        file.display()
                    );
                }
            }
        }
    }
}
