//! Wire-compatibility helpers: a recording mock HTTP server and the
//! official SDK's transcript (`vectors/armoriq/http_transcript.json`).

use super::vectors;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// A tiny HTTP/1.1 server: records every request and answers from `route`.
pub struct Mock {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

pub type Route = Arc<dyn Fn(&Seen) -> (u16, String, String) + Send + Sync>;

impl Mock {
    pub fn start(route: Route) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { continue };
                let (seen, route) = (s2.clone(), route.clone());
                std::thread::spawn(move || serve_one(conn, &seen, &route));
            }
        });
        Self { port, seen }
    }
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

pub fn serve_one(conn: TcpStream, seen: &Mutex<Vec<Seen>>, route: &Route) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.insert(k.trim().to_lowercase(), v.trim().to_owned());
        }
        let n: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; n];
        r.read_exact(&mut body).unwrap();
        let req = Seen {
            method,
            path,
            headers,
            body: String::from_utf8(body).unwrap(),
        };
        let (status, ctype, text) = route(&req);
        seen.lock().unwrap().push(req);
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = w.write_all(resp.as_bytes());
    }
}

pub fn transcript() -> HashMap<String, Value> {
    vectors("http_transcript.json")["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

/// The headers that matter (not the client library's own, not per-run values).
pub fn header_names(h: &Value) -> Vec<String> {
    let skip = [
        "user-agent",
        "accept-encoding",
        "connection",
        "content-length",
        "host",
    ];
    let mut v: Vec<String> = h
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.to_lowercase())
        .filter(|k| !skip.contains(&k.as_str()))
        .collect();
    v.sort();
    v
}

pub fn ours_header_names(h: &HashMap<String, String>) -> Vec<String> {
    let skip = [
        "user-agent",
        "accept-encoding",
        "connection",
        "content-length",
        "host",
    ];
    let mut v: Vec<String> = h
        .keys()
        .filter(|k| !skip.contains(&k.as_str()))
        .cloned()
        .collect();
    v.sort();
    v
}

pub fn keys_in_order(body: &str) -> Vec<String> {
    // Top-level member names in the order they were written.
    let v = armoriq_core::json::Value::parse(body.as_bytes(), 64).unwrap();
    v.members().map(|(k, _)| k.chars().collect()).collect()
}

/// Compares our request with the official one: method, path, header names,
/// fixed header values, top-level key order and the parsed body.
pub fn same_request(ours: &Seen, theirs: &Value, fixed: &[&str], body_bytes: bool) {
    let step = theirs["path"].as_str().unwrap();
    assert_eq!(ours.method, theirs["method"], "{step}");
    let want_path = theirs["path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/proxy");
    assert_eq!(ours.path.split('?').next().unwrap(), want_path, "{step}");
    assert_eq!(
        ours_header_names(&ours.headers),
        header_names(&theirs["headers"]),
        "{step}"
    );
    let th: HashMap<String, String> = theirs["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap().to_owned()))
        .collect();
    for h in fixed {
        let want = th[*h].replace("<api-key>", "ak_test_wire");
        assert_eq!(ours.headers.get(*h), Some(&want), "{step}: header {h}");
    }
    let tb = theirs["body"].as_str().unwrap_or_default();
    if tb.is_empty() {
        assert!(ours.body.is_empty(), "{step}");
        return;
    }
    if body_bytes {
        assert_eq!(ours.body, tb, "{step}");
    }
    assert_eq!(keys_in_order(&ours.body), keys_in_order(tb), "{step}");
    let a: Value = serde_json::from_str(&ours.body).unwrap();
    let b: Value = serde_json::from_str(tb).unwrap();
    assert_eq!(a, b, "{step}");
}

/// The transcript's token expired after it was recorded; the mock serves it
/// with this `expires_at` instead.
pub const FUTURE: u64 = 4_102_444_800;

pub fn future(token: &Value) -> Value {
    let mut t = token.clone();
    t["expires_at"] = json!(FUTURE);
    t
}

/// A recorded request with the token's `expires_at` moved to [`FUTURE`].
pub fn future_body(req: &Value) -> Value {
    let mut r = req.clone();
    let text = r["body"].as_str().unwrap();
    let mut b: Value = serde_json::from_str(text).unwrap();
    let order = keys_in_order(text);
    for k in ["token", "csrg_token"] {
        if b.get(k).is_some() {
            b[k] = future(&b[k]);
        }
    }
    let mut out = String::from("{");
    for (i, k) in order.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{}:{}", json!(k), b[k]));
    }
    out.push('}');
    r["body"] = json!(out);
    r
}
