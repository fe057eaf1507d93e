//! A small HTTP/1.1 client over `TcpStream` for the tasks' own requests (the
//! benchmark's set-up, the chaos run): it names the `Host` itself (firms are told apart by host, and `*.localhost` need not
//! resolve), never follows redirects, and keeps its own cookie jar.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

/// Slow answers under load are expected; a hung server is not.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// One browser-like visitor of one host.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    address: SocketAddr,
    host: String,
    cookies: BTreeMap<String, String>,
    headers: Vec<(String, String)>,
}

#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    /// The first header `name`, whatever its case.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl HttpClient {
    pub(crate) fn new(address: SocketAddr, host: &str) -> Self {
        Self {
            address,
            host: host.to_owned(),
            cookies: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    /// Sends the next requests (cookies and all) to another server, as a load
    /// balancer does with a browser's.
    pub(crate) fn set_address(&mut self, address: SocketAddr) {
        self.address = address;
    }

    /// Sends `name: value` with every request, e.g. the `X-Forwarded-For` of a proxy.
    pub(crate) fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub(crate) fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        self.send("GET", path, None)
    }

    pub(crate) fn post_form(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        self.send("POST", path, Some(&form_body(fields)))
    }

    /// POSTs `json` as `application/json`, as an API client does.
    pub(crate) fn post_json(&mut self, path: &str, json: &str) -> anyhow::Result<Answer> {
        self.send_typed("POST", path, Some(("application/json", json)))
    }

    fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> anyhow::Result<Answer> {
        let typed = body.map(|body| ("application/x-www-form-urlencoded", body));
        self.send_typed(method, path, typed)
    }

    fn send_typed(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> anyhow::Result<Answer> {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: latchkey-bench\r\n",
            self.host
        );
        for (name, value) in &self.headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if let Some((content_type, body)) = body {
            request.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.map(|(_, body)| body).unwrap_or_default());

        let mut stream = TcpStream::connect(self.address)
            .with_context(|| format!("cannot connect to {}", self.address))?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        stream.write_all(request.as_bytes())?;
        // `Connection: close` lets the end of the stream mark the end of the answer.
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .with_context(|| format!("no answer to {method} {path}"))?;
        let answer = parse_answer(&raw).with_context(|| format!("{method} {path}"))?;
        for (name, value) in &answer.headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                self.keep_cookie(value);
            }
        }
        Ok(answer)
    }

    fn keep_cookie(&mut self, set_cookie: &str) {
        let mut attributes = set_cookie.split(';').map(str::trim);
        let Some((name, value)) = attributes.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let removed = value.is_empty()
            || attributes.any(|attribute| attribute.eq_ignore_ascii_case("max-age=0"));
        if removed {
            self.cookies.remove(name);
        } else {
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
    }
}

fn parse_answer(raw: &[u8]) -> anyhow::Result<Answer> {
    let Some(head_end) = raw.windows(4).position(|window| window == b"\r\n\r\n") else {
        bail!("the answer has no complete head");
    };
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP status line: {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked")
    });
    let payload = &raw[head_end + 4..];
    let body = if chunked {
        dechunk(payload)?
    } else {
        payload.to_vec()
    };
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = payload
            .windows(2)
            .position(|window| window == b"\r\n")
            .context("a chunk size line is cut off")?;
        let size_text = String::from_utf8_lossy(&payload[..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .with_context(|| format!("not a chunk size: {size_hex:?}"))?;
        payload = &payload[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = payload.get(..size).context("a chunk is cut off")?;
        body.extend_from_slice(chunk);
        payload = payload.get(size + 2..).unwrap_or_default();
    }
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
pub(crate) fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) fn form_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                encoded.push(char::from(byte));
            }
            b' ' => encoded.push('+'),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

/// The value of the page's hidden `csrf_token` field.
pub(crate) fn csrf_field(html: &str) -> anyhow::Result<String> {
    hidden_field(html, "csrf_token")
}

/// The value of the page's hidden field `name`.
pub(crate) fn hidden_field(html: &str, name: &str) -> anyhow::Result<String> {
    let field = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&field)
        .with_context(|| format!("the page has no {name} field"))?
        + field.len();
    let end = html[start..]
        .find('"')
        .with_context(|| format!("the {name} field is cut off"))?;
    Ok(unescape_html(&html[start..start + end]))
}

/// Undoes the template engine's HTML escaping of attribute values and text.
pub(crate) fn unescape_html(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        // Last, so that `&amp;lt;` becomes `&lt;` and not `<`.
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::{csrf_field, dechunk, form_body, parse_answer};

    #[test]
    fn reads_a_chunked_answer_with_cookies() {
        let raw = b"HTTP/1.1 303 See Other\r\nSet-Cookie: a=1; Path=/\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let answer = parse_answer(raw).unwrap();
        assert_eq!(answer.status, 303);
        assert!(
            answer
                .headers
                .contains(&("Set-Cookie".to_owned(), "a=1; Path=/".to_owned()))
        );
        assert_eq!(answer.body, "abcde");
        assert_eq!(dechunk(b"0\r\n\r\n").unwrap(), b"");
    }

    #[test]
    fn finds_and_unescapes_the_csrf_token() {
        let html = r#"<input type="hidden" name="csrf_token" value="ab&#x2f;c+d=&amp;">"#;
        assert_eq!(csrf_field(html).unwrap(), "ab/c+d=&");
    }

    #[test]
    fn encodes_forms_like_a_browser() {
        assert_eq!(
            form_body(&[("email", "a.b@c.test"), ("csrf_token", "x+/= y")]),
            "email=a.b%40c.test&csrf_token=x%2B%2F%3D+y"
        );
    }
}
