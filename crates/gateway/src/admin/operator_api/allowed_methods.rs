//! The `Allow` header of a 405 (RFC 9110 §15.5.6): the methods the spec documents for
//! the route. The framework's router knows them but does not say, so they are read
//! back from the spec, which cannot then disagree with the header.

use poem::http::header::ALLOW;
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};

/// Each documented path, split into segments (`None` for a `{parameter}`), with the
/// value of its `Allow` header.
pub struct AllowedMethods {
    routes: Vec<(Vec<Option<String>>, HeaderValue)>,
}

impl AllowedMethods {
    /// Reads the paths and methods of an OpenAPI document.
    pub fn from_spec(spec: &str) -> Self {
        let spec: serde_json::Value =
            serde_json::from_str(spec).expect("the framework writes its spec as JSON");
        let routes = spec["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(path, operations)| {
                let mut methods: Vec<String> = operations
                    .as_object()?
                    .keys()
                    .map(|method| method.to_ascii_uppercase())
                    .collect();
                methods.sort();
                // The framework answers HEAD wherever it answers GET.
                if methods.iter().any(|method| method == "GET") {
                    methods.push("HEAD".to_owned());
                }
                let allow = HeaderValue::from_str(&methods.join(", ")).ok()?;
                Some((segments(path), allow))
            })
            .collect();
        Self { routes }
    }

    /// The `Allow` value of the route `path` (relative to the API's prefix) matches.
    fn allow(&self, path: &str) -> Option<&HeaderValue> {
        let path: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.routes
            .iter()
            .find(|(route, _)| {
                route.len() == path.len()
                    && route.iter().zip(&path).all(|(expected, segment)| {
                        expected
                            .as_deref()
                            .map_or(!segment.is_empty(), |literal| literal == *segment)
                    })
            })
            .map(|(_, allow)| allow)
    }

    /// `endpoint`, whose 405 answers carry `Allow`.
    pub fn around<E: Endpoint>(self, endpoint: E) -> WithAllow<E> {
        WithAllow {
            endpoint,
            allowed: self,
        }
    }
}

/// An endpoint whose 405 answers say which methods the route takes.
pub struct WithAllow<E> {
    endpoint: E,
    allowed: AllowedMethods,
}

impl<E: Endpoint> Endpoint for WithAllow<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        let path = request.uri().path().to_owned();
        let mut response = self.endpoint.call(request).await?.into_response();
        if response.status() == StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = self.allowed.allow(&path)
        {
            response.headers_mut().insert(ALLOW, allow.clone());
        }
        Ok(response)
    }
}

fn segments(path: &str) -> Vec<Option<String>> {
    path.trim_start_matches('/')
        .split('/')
        .map(|segment| {
            let parameter = segment.starts_with('{') && segment.ends_with('}');
            (!parameter).then(|| segment.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::AllowedMethods;

    #[test]
    fn a_path_gets_the_methods_of_its_route() {
        let allowed = AllowedMethods::from_spec(
            r#"{"paths": {
                "/tenants": {"get": {}, "post": {}},
                "/tenants/{slug}": {"get": {}, "patch": {}, "delete": {}},
                "/tenants/{slug}/suspend": {"post": {}}
            }}"#,
        );
        let allow = |path| allowed.allow(path).map(|value| value.to_str().unwrap());
        assert_eq!(allow("/tenants"), Some("GET, POST, HEAD"));
        assert_eq!(allow("/tenants/acme"), Some("DELETE, GET, PATCH, HEAD"));
        assert_eq!(allow("/tenants/acme/suspend"), Some("POST"));
        assert_eq!(allow("/tenants//suspend"), None);
        assert_eq!(allow("/tenants/acme/resume"), None);
    }
}
