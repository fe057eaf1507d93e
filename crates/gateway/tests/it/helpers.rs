//! `spawn_app`: the public and admin endpoints on a fresh database, in process.

use std::sync::Arc;

use migrations::testing::{TestDatabase, fresh_database};
use poem::endpoint::BoxEndpoint;
use poem::http::StatusCode;
use poem::test::TestClient;
use tenancy::{NewTenant, StaticTxtLookup, Tenant, TenantSlug};

use crate::fixture::{AppState, Environment, Settings, admin_endpoint, public_endpoint};

pub struct TestApp {
    pub public: TestClient<BoxEndpoint<'static>>,
    pub admin: TestClient<BoxEndpoint<'static>>,
    pub state: AppState,
    /// The TXT records custom-domain verification sees: tests never ask DNS.
    pub dns: Arc<StaticTxtLookup>,
    variables: Vec<(String, String)>,
    /// Keeps the database (and its temporary folder) alive as long as the app.
    _database: TestDatabase,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An app behind a TLS-terminating proxy at 10.0.0.0/8, whose links are `https`.
pub async fn spawn_https_app() -> TestApp {
    spawn_app_with(&[
        ("LATCHKEY__SERVER__PUBLIC_SCHEME", "https"),
        ("LATCHKEY__SERVER__TRUSTED_PROXIES", "10.0.0.0/8"),
    ])
    .await
}

/// An app whose settings also take `overrides` (`LATCHKEY__…` variables).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let database = fresh_database().await;
    let mut variables = vec![
        ("LATCHKEY__DATABASE__URL".to_owned(), database.url.clone()),
        (
            "LATCHKEY__SERVER__BODY_LIMIT_BYTES".to_owned(),
            "1024".to_owned(),
        ),
    ];
    variables.extend(
        overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let dns = Arc::new(StaticTxtLookup::new());
    let state = app_state(&variables, &database.connection, &dns);
    TestApp {
        public: TestClient::new(with_test_peer(public_endpoint(&state))),
        admin: TestClient::new(admin_endpoint(&state)),
        state,
        dns,
        variables,
        _database: database,
    }
}

/// A request with an `x-test-peer` header arrives from that socket address, as if over
/// TCP: the in-process client has none, so the limits per client address can be
/// tried. The header is read here, outside the app, never by it.
fn with_test_peer(endpoint: BoxEndpoint<'static>) -> BoxEndpoint<'static> {
    use poem::{Endpoint, EndpointExt, IntoResponse};
    endpoint
        .around(|inner, req| async move {
            let peer = req
                .headers()
                .get("x-test-peer")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<std::net::SocketAddr>().ok());
            let Some(peer) = peer else {
                return inner.call(req).await.map(IntoResponse::into_response);
            };
            let (parts, body) = req.into_parts();
            let mut request = poem::http::Request::builder()
                .method(parts.method)
                .uri(parts.uri)
                .version(parts.version)
                .body(())
                .unwrap();
            *request.headers_mut() = parts.headers;
            let (http_parts, ()) = request.into_parts();
            let parts = poem::RequestParts::from((
                http_parts,
                poem::web::LocalAddr::default(),
                poem::web::RemoteAddr(poem::Addr::SocketAddr(peer)),
                poem::http::uri::Scheme::HTTP,
            ));
            inner
                .call(poem::Request::from_parts(parts, body))
                .await
                .map(IntoResponse::into_response)
        })
        .boxed()
}

fn app_state(
    variables: &[(String, String)],
    db: &storage::Database,
    dns: &Arc<StaticTxtLookup>,
) -> AppState {
    let settings = Settings::load_with_variables(Environment::Test, None, variables.to_vec())
        .expect("the test configuration loads");
    AppState::with_txt_lookup(settings, db.clone(), dns.clone()).expect("the app state builds")
}

/// Another instance of the app on the same database, with its own caches: what a
/// second gateway process would be.
pub struct OtherInstance {
    pub public: TestClient<BoxEndpoint<'static>>,
}

impl OtherInstance {
    pub async fn get(&self, host: &str, path: &str) -> poem::test::TestResponse {
        self.public.get(path).header("host", host).send().await
    }
}

impl TestApp {
    pub async fn second_instance(&self) -> OtherInstance {
        let state = app_state(&self.variables, &self.state.services.db, &self.dns);
        OtherInstance {
            public: TestClient::new(public_endpoint(&state)),
        }
    }

    pub async fn create_firm(&self, slug: &str, name: &str) -> Tenant {
        let new =
            NewTenant::new(TenantSlug::parse(slug).unwrap(), name, "admin@firm.test").unwrap();
        tenancy::create_tenant(&self.state.services.db, new, chrono::Utc::now())
            .await
            .unwrap()
    }

    /// A staff member of `tenant` who can sign in with `password`.
    pub async fn create_staff(
        &self,
        tenant: &Tenant,
        email: &str,
        password: &str,
        role: identity::StaffRole,
    ) {
        let new = identity::NewStaffUser {
            email: identity::EmailAddress::parse(email).unwrap(),
            name: "Test Staff".to_owned(),
            role,
            password_hash: Some(self.state.services.hasher.hash(password).await.unwrap()),
        };
        identity::create_staff_user(&self.state.services.db, tenant.id, new, chrono::Utc::now())
            .await
            .unwrap();
    }

    pub async fn create_client(&self, tenant: &Tenant, name: &str) -> identity::Client {
        identity::create_client(&self.state.services.db, tenant.id, name, chrono::Utc::now())
            .await
            .unwrap()
    }

    /// An active contact of `client` who can sign in with `password`.
    pub async fn create_contact(
        &self,
        tenant: &Tenant,
        client: &identity::Client,
        name: &str,
        email: &str,
        password: &str,
    ) -> identity::Contact {
        let new = identity::NewContact {
            client_id: client.id,
            name: name.to_owned(),
            email: identity::EmailAddress::parse(email).unwrap(),
            locale: "en".to_owned(),
            password_hash: Some(self.state.services.hasher.hash(password).await.unwrap()),
        };
        identity::create_contact(&self.state.services.db, tenant.id, new, chrono::Utc::now())
            .await
            .unwrap()
    }

    /// GET `path` on the public listener with `host` as the only Host header.
    pub async fn get(&self, host: &str, path: &str) -> poem::test::TestResponse {
        self.public.get(path).header("host", host).send().await
    }

    /// GET `path` on the public listener with exactly `headers`, Host among them or not.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> poem::test::TestResponse {
        let mut request = self.public.get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await
    }

    /// The page at `path` of `host`, which must answer `status`.
    pub async fn page(&self, host: &str, path: &str, status: StatusCode) -> String {
        let response = self.get(host, path).await;
        assert_eq!(response.0.status(), status, "{host}{path}");
        body(response).await
    }

    /// GET `path` on the admin listener.
    pub async fn admin_get(&self, path: &str) -> poem::test::TestResponse {
        self.admin.get(path).send().await
    }

    pub fn db(&self) -> &storage::Database {
        &self.state.services.db
    }
}

pub async fn body(response: poem::test::TestResponse) -> String {
    response
        .0
        .into_body()
        .into_string()
        .await
        .expect("a UTF-8 body")
}

pub async fn assert_contains(response: poem::test::TestResponse, needle: &str) {
    let text = body(response).await;
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

/// A browser on one host: keeps cookies and reads CSRF tokens from forms.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub host: String,
    cookies: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    /// The socket address requests come from, if any (see `with_test_peer`).
    peer: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp, host: &str) -> Self {
        Self {
            app,
            host: host.to_owned(),
            cookies: Default::default(),
            peer: None,
        }
    }

    /// A browser on the machine at `ip`.
    pub fn from_address(app: &'a TestApp, host: &str, ip: &str) -> Self {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        Self {
            peer: Some(std::net::SocketAddr::new(ip, 40_000).to_string()),
            ..Self::new(app, host)
        }
    }

    fn cookie_header(&self) -> String {
        let cookies = self.cookies.lock().unwrap();
        cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&self, response: &poem::test::TestResponse) {
        let mut cookies = self.cookies.lock().unwrap();
        for header in response.0.headers().get_all("set-cookie") {
            let text = header.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let removal = value.is_empty() || text.contains("Max-Age=0");
            if removal {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// The cookies this browser holds, as `name=value` pairs.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    /// A request from this browser: its host, its cookies, its address.
    pub fn request(
        &self,
        method: poem::http::Method,
        path: &str,
    ) -> poem::test::TestRequestBuilder<'_, BoxEndpoint<'static>> {
        self.app
            .public
            .request(method, path)
            .header("host", self.host.as_str())
            .header("cookie", self.cookie_header())
            .header("x-test-peer", self.peer.clone().unwrap_or_default())
    }

    /// Sends `request` and keeps the cookies of its answer.
    pub async fn send(
        &self,
        request: poem::test::TestRequestBuilder<'_, BoxEndpoint<'static>>,
    ) -> poem::test::TestResponse {
        let response = request.send().await;
        self.keep_cookies(&response);
        response
    }

    pub async fn get(&self, path: &str) -> poem::test::TestResponse {
        self.send(self.request(poem::http::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> poem::test::TestResponse {
        self.send(self.request(poem::http::Method::POST, path).form(&fields))
            .await
    }

    /// The page at `path`, which must answer `status`.
    pub async fn page(&self, path: &str, status: StatusCode) -> String {
        let response = self.get(path).await;
        assert_eq!(response.0.status(), status, "{}{path}", self.host);
        body(response).await
    }

    /// Opens `page` and returns the CSRF token of its form.
    pub async fn csrf_token(&self, page: &str) -> String {
        let response = self.get(page).await;
        let html = body(response).await;
        csrf_token_in(&html)
    }

    /// Signs in at `/staff/login` as a person would.
    pub async fn sign_in_staff(&self, email: &str, password: &str) -> poem::test::TestResponse {
        self.fill_in("/staff/login", &[("email", email), ("password", password)])
            .await
    }

    /// Opens `page` and posts its form back to it with `fields`, as [`Browser::submit`].
    pub async fn fill_in(&self, page: &str, fields: &[(&str, &str)]) -> poem::test::TestResponse {
        self.submit(page, page, fields).await
    }

    /// The body of `path`, whatever its status.
    pub async fn text(&self, path: &str) -> String {
        body(self.get(path).await).await
    }

    /// Where `path` redirects to (empty when it does not).
    pub async fn redirect_of(&self, path: &str) -> String {
        location(&self.get(path).await)
    }

    /// Opens `page`, then posts its form with `fields`, as a browser would with the
    /// page's hidden fields (its CSRF token, the link it was shown for).
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> poem::test::TestResponse {
        let html = body(self.get(page).await).await;
        let hidden = hidden_fields_in(form_posting_to(&html, action));
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        for (name, value) in &hidden {
            if !fields.iter().any(|(given, _)| given == name) {
                all.push((name, value));
            }
        }
        self.post(action, &all).await
    }
}

impl Browser<'_> {
    /// Posts to `action` with a CSRF token taken from the login page, for pages that
    /// show no form (an expired link's notice).
    pub async fn submit_with_token_from(
        &self,
        action: &str,
        fields: &[(&str, &str)],
    ) -> poem::test::TestResponse {
        let token = self.csrf_token("/login").await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post(action, &all).await
    }
}

/// The `<form>` of `html` that posts to `action` (the first form when none names it).
pub fn form_posting_to<'h>(html: &'h str, action: &str) -> &'h str {
    let forms: Vec<&str> = html
        .split("<form")
        .skip(1)
        .map(|rest| &rest[..rest.find("</form>").unwrap_or(rest.len())])
        .collect();
    let named = format!("action=\"{action}\"");
    forms
        .iter()
        .find(|form| form[..form.find('>').unwrap_or(0)].contains(&named))
        .or(forms.first())
        .copied()
        .unwrap_or(html)
}

/// Every `<input type="hidden">` of `html`, as (name, value).
pub fn hidden_fields_in(html: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let marker = format!("{name}=\"");
        let start = tag.find(&marker)? + marker.len();
        let end = start + tag[start..].find('"')?;
        Some(unescape_html(&tag[start..end]))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.contains("type=\"hidden\"") {
                return None;
            }
            Some((attribute(tag, "name")?, attribute(tag, "value")?))
        })
        .collect()
}

pub fn csrf_token_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .expect("the page has a form with a CSRF token")
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    unescape_html(&html[start..end])
}

fn unescape_html(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub fn location(response: &poem::test::TestResponse) -> String {
    response
        .0
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Polls every future on this one task, so the handlers interleave at every await.
pub async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).map(Some).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *output = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|output| output.unwrap()).collect()
}
