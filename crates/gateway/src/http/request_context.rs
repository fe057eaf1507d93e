//! What every request carries: a request id, the client's address, a tracing span
//! (filled in with the firm's slug once the host is resolved), an access-log line,
//! metrics, the security headers; and the body limit.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use poem::PathPattern;
use poem::http::{HeaderValue, Method, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use crate::http::error::GatewayError;
use crate::metrics::Metrics;
use crate::settings::TrustedProxy;

/// The id of one request, in the log, the `X-Request-Id` header and error pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Unique in this process and unlikely to repeat across processes: a random
    /// prefix drawn once, then a counter. Drawing 128 random bits for every request
    /// cost a system call each; an id needs to be unique, not secret.
    fn generate() -> Self {
        static PREFIX: std::sync::LazyLock<u64> =
            std::sync::LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let sequence = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(format!("{:016x}{sequence:016x}", *PREFIX))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Answers slower than this are logged at info whatever their status.
const SLOW_REQUEST: std::time::Duration = std::time::Duration::from_millis(500);

/// The address of the person's machine, as far as we can trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// What rate limits count this client against.
    pub fn limit_key(&self) -> String {
        service::attempts::limit_key(self.0)
    }
}

/// The peer's address, unless the peer is a trusted proxy: then the nearest address
/// in `X-Forwarded-For` that is not itself a trusted proxy. Entries left of that one
/// were written by the client and are ignored.
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    trusted: &[TrustedProxy],
) -> Option<IpAddr> {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|proxy| proxy.contains(address));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut nearest = peer;
    for entry in forwarded_for
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(','))
    {
        match entry.trim().parse::<IpAddr>() {
            Ok(address) if is_trusted(&address) => nearest = address,
            Ok(address) => return Some(address),
            // A malformed entry ends what we can believe.
            Err(_) => break,
        }
    }
    Some(nearest)
}

/// Settings the request context needs.
#[derive(Debug, Clone)]
pub struct RequestContextSettings {
    pub trusted_proxies: Vec<TrustedProxy>,
    pub hsts: bool,
}

/// The outermost middleware of the public listener.
#[derive(Debug, Clone)]
pub struct RequestContext {
    settings: Arc<RequestContextSettings>,
    metrics: Metrics,
}

impl RequestContext {
    pub fn new(settings: RequestContextSettings, metrics: Metrics) -> Self {
        Self {
            settings: Arc::new(settings),
            metrics,
        }
    }
}

impl<E: Endpoint> poem::Middleware<E> for RequestContext {
    type Output = RequestContextEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestContextEndpoint {
            inner,
            settings: self.settings.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Debug)]
pub struct RequestContextEndpoint<E> {
    inner: E,
    settings: Arc<RequestContextSettings>,
    metrics: Metrics,
}

impl<E: Endpoint> Endpoint for RequestContextEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let request_id = RequestId::generate();
        let peer = req
            .remote_addr()
            .as_socket_addr()
            .map(|address| address.ip());
        let forwarded_for: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        let client = client_address(peer, &forwarded_for, &self.settings.trusted_proxies);
        req.set_data(request_id.clone());
        req.set_data(ClientAddress(client));
        let method = req.method().clone();
        // The path is not recorded: it can hold a reset token. The route pattern is.
        // Few fields, formatted once: the span is made for every request, and the
        // route is known only at the end, where the one line that names it is written.
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            tenant = tracing::field::Empty,
        );
        async move {
            let result = self.inner.call(req).await.map(IntoResponse::into_response);
            // Errors reaching this far bypassed the error pages; they still get a status.
            let mut response = result.unwrap_or_else(|error| error.into_response());
            let route = response
                .data::<PathPattern>()
                .map_or_else(|| "unmatched".to_owned(), |pattern| pattern.0.to_string());
            let status = response.status();
            let elapsed = started.elapsed();
            self.metrics.observe(
                &route,
                method.as_str(),
                status.as_u16(),
                elapsed.as_secs_f64(),
            );
            // Every answer is counted in the metrics; the log keeps the ones worth
            // reading (errors, refusals, slow answers), each request at debug.
            let latency_ms = elapsed.as_secs_f64() * 1000.0;
            if status.is_client_error() || status.is_server_error() || elapsed >= SLOW_REQUEST {
                tracing::info!(%method, %route, status = status.as_u16(), latency_ms, client = ?client, "request finished");
            } else {
                tracing::debug!(%method, %route, status = status.as_u16(), latency_ms, client = ?client, "request finished");
            }
            add_security_headers(&mut response, self.settings.hsts);
            if let Ok(value) = HeaderValue::from_str(&request_id.0) {
                response.headers_mut().insert("x-request-id", value);
            }
            Ok(response)
        }
        .instrument(span)
        .await
    }
}

/// Refuses bodies over `limit` with 413: at once from `Content-Length`, or while
/// reading one sent without it. Forms and API calls are small, so the body is read
/// into memory here and handed on.
pub async fn limit_body(mut req: Request, limit: usize) -> poem::Result<Request> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(GatewayError::PayloadTooLarge.into());
    }
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) && declared.is_none() {
        return Ok(req);
    }
    let body = req
        .take_body()
        .into_bytes_limit(limit)
        .await
        .map_err(|error| match error {
            poem::error::ReadBodyError::PayloadTooLarge => GatewayError::PayloadTooLarge.into(),
            other => poem::Error::from(other),
        })?;
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if is_form && !form_is_utf8(&body) {
        return Err(GatewayError::BadForm.into());
    }
    req.set_body(body);
    Ok(req)
}

/// Whether every name and value of a form body decodes to UTF-8. The form decoder
/// would otherwise put U+FFFD in place of the invalid bytes, and store text nobody
/// typed.
fn form_is_utf8(body: &[u8]) -> bool {
    fn hex(byte: u8) -> Option<u8> {
        char::from(byte).to_digit(16).map(|digit| digit as u8)
    }
    let mut decoded = Vec::new();
    let mut index = 0;
    while index < body.len() {
        match body[index] {
            b'&' | b'=' => {
                if std::str::from_utf8(&decoded).is_err() {
                    return false;
                }
                decoded.clear();
            }
            b'%' if index + 2 < body.len() => {
                match (hex(body[index + 1]), hex(body[index + 2])) {
                    (Some(high), Some(low)) => {
                        decoded.push(high << 4 | low);
                        index += 2;
                    }
                    // Not an escape: kept as it is, as the decoder does.
                    _ => decoded.push(b'%'),
                }
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    std::str::from_utf8(&decoded).is_ok()
}

/// The content security policy of every page: our own scripts, styles and images,
/// https logos, forms only to ourselves, and never inside a frame.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' https:; font-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers a page has not set itself (token pages choose a stricter
/// referrer policy).
fn add_security_headers(response: &mut Response, hsts: bool) {
    use poem::http::header::{
        CONTENT_SECURITY_POLICY, HeaderName, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
        X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
        HeaderName::from_static("cross-origin-opener-policy");
    const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
    // Built once: named headers, so no name is parsed again for each answer.
    const HEADERS: [(HeaderName, HeaderValue); 6] = [
        (
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
        ),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (
            CROSS_ORIGIN_OPENER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (
            PERMISSIONS_POLICY,
            HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
        ),
    ];
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        headers.entry(name).or_insert(value);
    }
    if hsts {
        headers
            .entry(STRICT_TRANSPORT_SECURITY)
            .or_insert(HeaderValue::from_static(
                "max-age=31536000; includeSubDomains",
            ));
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::{ClientAddress, client_address};
    use crate::settings::TrustedProxy;

    #[test]
    fn form_bodies_must_decode_to_utf8() {
        use super::form_is_utf8;
        for good in [
            &b""[..],
            b"name=Wayne+Enterprises&csrf_token=abc",
            b"name=caf%C3%A9",
            b"name=100%",
            b"name=%zz&x=%4",
            "name=café".as_bytes(),
        ] {
            assert!(form_is_utf8(good), "{}", String::from_utf8_lossy(good));
        }
        for bad in [
            &b"name=%FF%FE"[..],
            b"na%C3me=x",
            b"name=\xff",
            b"a=1&b=%C3",
        ] {
            assert!(!form_is_utf8(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn limits_count_ipv6_clients_by_their_64_and_mapped_ipv4_as_ipv4() {
        let key = |text: &str| ClientAddress(Some(text.parse().unwrap())).limit_key();
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
            key("2001:db8:1:2::1"),
            "one subscriber's /64 is one client"
        );
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(ClientAddress(None).limit_key(), "unknown");
    }

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter()
            .map(|p| serde_json::from_value(serde_json::Value::String((*p).to_owned())).unwrap())
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(Some(ip("203.0.113.9")), &["1.2.3.4"], &trusted),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn a_trusted_proxy_passes_on_the_nearest_untrusted_address() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        let header = ["6.6.6.6, 198.51.100.7, 10.1.1.1"];
        assert_eq!(
            client_address(Some(ip("192.0.2.1")), &header, &trusted),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn several_headers_read_as_one_list() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = ["198.51.100.7", "10.0.0.2"];
        assert_eq!(
            client_address(Some(ip("10.0.0.1")), &headers, &trusted),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn a_trusted_proxy_without_header_is_the_client() {
        let trusted = proxies(&["127.0.0.1"]);
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), &[], &trusted),
            Some(ip("127.0.0.1"))
        );
    }

    #[test]
    fn garbage_in_the_header_stops_the_walk() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let header = ["1.2.3.4, not-an-ip, 10.0.0.3"];
        assert_eq!(
            client_address(Some(ip("10.0.0.1")), &header, &trusted),
            Some(ip("10.0.0.3"))
        );
    }
}
