//! HTTP plumbing: ordered JSON bodies (httpx writes keys in insertion order,
//! compact, raw UTF-8), one async transport (reqwest over rustls, with the
//! caller's extra root certificates), and the `_retry_post` rules.

use crate::plan::json_str;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// A JSON object written member by member, in order.
#[derive(Debug, Clone)]
pub struct Body(String);

impl Default for Body {
    fn default() -> Self {
        Self::new()
    }
}

impl Body {
    /// `{`.
    pub fn new() -> Self {
        Self(String::from("{"))
    }

    fn key(&mut self, k: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&json_str(k));
        self.0.push(':');
    }

    /// A member with a serializable value.
    pub fn put(mut self, k: &str, v: &impl Serialize) -> Self {
        self.key(k);
        self.0
            .push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
        self
    }

    /// A member whose value is JSON text already.
    pub fn raw(mut self, k: &str, json: &str) -> Self {
        self.key(k);
        self.0.push_str(json);
        self
    }

    /// A member only when `v` is `Some`.
    pub fn opt(self, k: &str, v: Option<&impl Serialize>) -> Self {
        match v {
            Some(v) => self.put(k, v),
            None => self,
        }
    }

    /// `}` and the text.
    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// A response: status, content type and text.
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body text.
    pub text: String,
}

impl Resp {
    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.text).ok()
    }
}

/// A transport failure (connect, timeout, protocol).
#[derive(Debug, Clone)]
pub struct TransportError {
    /// Message.
    pub message: String,
    /// Whether `_retry_post` retries it (connect, timeout, protocol errors).
    pub retryable: bool,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The environment variable naming a PEM file of extra trusted root
/// certificates (a private CA of a self-hosted gateway), added to the
/// system's roots.
pub const CA_CERT_ENV: &str = "ARMORIQ_CA_CERT";

/// The root certificates to trust besides the system's: every certificate
/// in each PEM bundle of `extra_pem`, then those of the file
/// `ARMORIQ_CA_CERT` names.
///
/// # Errors
/// A bundle that is not PEM certificates, or an unreadable file.
pub fn extra_roots(extra_pem: &[Vec<u8>]) -> Result<Vec<reqwest::Certificate>, String> {
    let mut out = Vec::new();
    for (i, pem) in extra_pem.iter().enumerate() {
        out.extend(pem_certs(pem).map_err(|e| format!("extra root certificate #{i}: {e}"))?);
    }
    if let Some(path) = std::env::var_os(CA_CERT_ENV).filter(|p| !p.is_empty()) {
        let shown = std::path::Path::new(&path).display().to_string();
        let pem = std::fs::read(&path)
            .map_err(|e| format!("{CA_CERT_ENV}={shown} cannot be read: {e}"))?;
        out.extend(pem_certs(&pem).map_err(|e| format!("{CA_CERT_ENV}={shown}: {e}"))?);
    }
    Ok(out)
}

/// The certificates of a PEM bundle; none at all is an error too.
fn pem_certs(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, String> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(certs)
}

/// A reqwest builder over rustls trusting the system's roots plus `roots`.
pub fn client_builder(roots: Vec<reqwest::Certificate>) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_merge(roots)
}

/// The async HTTP client with the SDK's default headers.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    timeout: Duration,
}

impl Transport {
    /// A client sending `User-Agent` and `Authorization: Bearer <key>` on
    /// every request, following redirects, with `timeout`, trusting the
    /// system's roots plus `roots`.
    ///
    /// # Errors
    /// A header value that is not valid, or the client cannot be built.
    pub fn new(
        user_agent: &str,
        api_key: &str,
        timeout: Duration,
        roots: Vec<reqwest::Certificate>,
    ) -> Result<Self, String> {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_str(&format!("Bearer {api_key}"))
                .map_err(|_| "the API key holds characters a header cannot carry".to_owned())?,
        );
        h.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("*/*"),
        );
        let client = client_builder(roots)
            .user_agent(user_agent)
            .default_headers(h)
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client, timeout })
    }

    /// Sends one request.
    ///
    /// # Errors
    /// A transport error.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Resp, TransportError> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| TransportError {
            message: e.to_string(),
            retryable: false,
        })?;
        let mut rb = self
            .client
            .request(m, url)
            .timeout(timeout.unwrap_or(self.timeout));
        for (k, v) in headers {
            rb = rb.header(*k, v.as_str());
        }
        if let Some(b) = body {
            rb = rb
                .header("Content-Type", "application/json")
                .body(b.to_owned());
        }
        let r = rb.send().await.map_err(|e| TransportError {
            retryable: e.is_connect() || e.is_timeout() || e.is_request() || e.is_body(),
            message: describe(&e),
        })?;
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = r.text().await.map_err(|e| TransportError {
            retryable: true,
            message: describe(&e),
        })?;
        Ok(Resp {
            status,
            content_type,
            text,
        })
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// Backoff of `_retry_post`: `min(base·2^i, cap)` before attempt `i+1`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first sleep (1 s in the SDK).
    pub base: Duration,
    /// The largest sleep (4 s in the SDK).
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(4),
        }
    }
}

impl Backoff {
    /// The sleep after failed attempt `i` (0-based).
    pub fn delay(&self, i: u32) -> Duration {
        let f = 2u32.checked_pow(i).unwrap_or(u32::MAX);
        self.base.saturating_mul(f).min(self.cap)
    }
}

/// `_retry_post`: `max_retries + 1` attempts; retries statuses ≥ 500 and
/// transport errors; returns the last response, or the last transport error.
///
/// # Errors
/// The last transport error when no attempt got a response.
pub async fn retry_post(
    t: &Transport,
    url: &str,
    headers: &[(&str, String)],
    body: &str,
    max_retries: u32,
    backoff: Backoff,
    timeout: Option<Duration>,
) -> Result<Resp, TransportError> {
    let attempts = max_retries.saturating_add(1).max(1);
    let mut last_resp = None;
    let mut last_err = None;
    for i in 0..attempts {
        match t.send("POST", url, headers, Some(body), timeout).await {
            Ok(r) if r.status < 500 => return Ok(r),
            Ok(r) => last_resp = Some(r),
            Err(e) if e.retryable => last_err = Some(e),
            Err(e) => return Err(e),
        }
        if i + 1 < attempts {
            tokio::time::sleep(backoff.delay(i)).await;
        }
    }
    match (last_resp, last_err) {
        (Some(r), _) => Ok(r),
        (None, Some(e)) => Err(e),
        (None, None) => Err(TransportError {
            message: "retry loop exited without a result".into(),
            retryable: false,
        }),
    }
}

/// JSON text with every non-ASCII character escaped (`ensure_ascii=True`).
pub fn ascii_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_keeps_order_and_backoff_caps() {
        let b = Body::new()
            .put("z", &1)
            .raw("a", "{\"y\":1,\"b\":2}")
            .opt("n", None::<&u8>)
            .put("s", &"é")
            .finish();
        assert_eq!(b, "{\"z\":1,\"a\":{\"y\":1,\"b\":2},\"s\":\"é\"}");
        let d = Backoff::default();
        assert_eq!(
            (0..4).map(|i| d.delay(i).as_secs()).collect::<Vec<_>>(),
            vec![1, 2, 4, 4]
        );
        assert_eq!(
            ascii_escape("{\"a\":\"jö😀\"}"),
            "{\"a\":\"j\\u00f6\\ud83d\\ude00\"}"
        );
    }
}
