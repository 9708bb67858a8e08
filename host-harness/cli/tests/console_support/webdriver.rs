//! A small W3C WebDriver client over blocking `reqwest` (already a
//! dependency of the CLI), driving Debian's `chromedriver` + headless
//! `chromium`. No browser download: the binaries come from apt
//! (`scripts/setup-browser.sh`) or `ARMORIQ_CHROMIUM` / `ARMORIQ_CHROMEDRIVER`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver key codes.
pub mod keys {
    /// Tab.
    pub const TAB: &str = "\u{E004}";
    /// Enter.
    pub const ENTER: &str = "\u{E007}";
}

/// Where Chromium and chromedriver are, or why the browser test cannot run.
pub fn browser_paths() -> Result<(PathBuf, PathBuf), String> {
    let find = |env: &str, names: &[&str]| -> Option<PathBuf> {
        if let Some(p) = std::env::var_os(env) {
            return Some(PathBuf::from(p)).filter(|p| p.exists());
        }
        names.iter().map(PathBuf::from).find(|p| p.exists())
    };
    let chromium = find(
        "ARMORIQ_CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    )
    .ok_or("no Chromium (/usr/bin/chromium; run `bash scripts/setup-browser.sh`)")?;
    let driver = find(
        "ARMORIQ_CHROMEDRIVER",
        &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
    )
    .ok_or("no chromedriver (/usr/bin/chromedriver; run `bash scripts/setup-browser.sh`)")?;
    Ok((chromium, driver))
}

/// A chromedriver process.
pub struct Driver {
    /// The process (killed on drop).
    pub proc: crate::common::Proc,
    /// Its base URL.
    pub url: String,
    http: reqwest::blocking::Client,
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it listens.
    pub fn start(driver: &Path) -> Self {
        let port = crate::common::free_port();
        let mut child = std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        crate::common::wait_port(port, "chromedriver", &mut child);
        Self {
            proc: crate::common::Proc(child),
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
        }
    }

    /// A new headless browser session with its own fresh profile.
    pub fn session(&self, chromium: &Path, profile: &Path) -> Browser {
        std::fs::create_dir_all(profile).unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,900",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.to_string_lossy(), "args": args}
        }}});
        let v = call(
            &self.http,
            "POST",
            &format!("{}/session", self.url),
            Some(caps),
        )
        .unwrap();
        let id = v["sessionId"].as_str().expect("sessionId").to_owned();
        Browser {
            base: format!("{}/session/{id}", self.url),
            http: self.http.clone(),
        }
    }
}

/// One WebDriver command: the `value` of the answer, or the error's text.
fn call(
    http: &reqwest::blocking::Client,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let req = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        _ => http.post(url).json(&body.unwrap_or_else(|| json!({}))),
    };
    let r = req.send().map_err(|e| format!("{method} {url}: {e}"))?;
    let ok = r.status().is_success();
    let v: Value = r.json().map_err(|e| format!("{method} {url}: {e}"))?;
    if ok {
        Ok(v["value"].clone())
    } else {
        Err(format!(
            "{}: {}",
            v["value"]["error"].as_str().unwrap_or("error"),
            v["value"]["message"].as_str().unwrap_or("")
        ))
    }
}

/// A browser session.
pub struct Browser {
    base: String,
    http: reqwest::blocking::Client,
}

/// An element of the page.
#[derive(Clone, Debug)]
pub struct Element(pub String);

impl Browser {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        call(&self.http, method, &format!("{}{path}", self.base), body)
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.cmd(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// Navigates to `url` and waits for the load.
    pub fn goto(&self, url: &str) {
        self.ok("POST", "/url", Some(json!({"url": url})));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.ok("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching `css`, if any.
    pub fn find(&self, css: &str) -> Option<Element> {
        self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )
        .ok()
        .and_then(|v| v[ELEMENT].as_str().map(|s| Element(s.to_owned())))
    }

    /// Every element matching `css`.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.ok(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v[ELEMENT].as_str().map(|s| Element(s.to_owned())))
        .collect()
    }

    /// Waits up to `secs` for an element matching `css`.
    pub fn wait_for(&self, css: &str, secs: u64) -> Element {
        let t0 = Instant::now();
        loop {
            if let Some(e) = self.find(css) {
                return e;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "no {css:?} after {secs} s on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits up to `secs` until `cond` holds.
    pub fn wait_until(&self, what: &str, secs: u64, mut cond: impl FnMut(&Self) -> bool) {
        let t0 = Instant::now();
        while !cond(self) {
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "{what}: not after {secs} s (at {})",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) {
        self.ok("POST", &format!("/element/{}/click", e.0), None);
    }

    /// Types into an element.
    pub fn type_into(&self, e: &Element, text: &str) {
        self.ok(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        );
    }

    /// An element's rendered text.
    pub fn text(&self, e: &Element) -> String {
        self.ok("GET", &format!("/element/{}/text", e.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` (a function body; `arguments` as given) and returns
    /// its value.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.ok(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs an async `script` (its last argument is the callback).
    pub fn js_async(&self, script: &str, args: Value) -> Value {
        self.ok(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Presses and releases each key, as a keyboard does (Actions API).
    pub fn keys(&self, keys: &[&str]) {
        let mut actions = Vec::new();
        for k in keys {
            actions.push(json!({"type": "keyDown", "value": k}));
            actions.push(json!({"type": "keyUp", "value": k}));
        }
        self.ok(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
        self.ok("DELETE", "/actions", None);
    }

    /// The open alert's text, if a script opened one.
    pub fn alert_text(&self) -> Option<String> {
        self.cmd("GET", "/alert/text", None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    /// Sizes the window so that the page itself (the viewport, what a
    /// screenshot shows) is `width` x `height` CSS pixels.
    pub fn viewport(&self, width: u32, height: u32) {
        let resize = |w: u32, h: u32| {
            self.ok(
                "POST",
                "/window/rect",
                Some(json!({"width": w, "height": h})),
            );
        };
        resize(width, height);
        let frame = self.js(
            "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
            json!([]),
        );
        let extra = |i: usize| u32::try_from(frame[i].as_i64().unwrap_or(0).max(0)).unwrap_or(0);
        resize(width + extra(0), height + extra(1));
        let inner = self.js("return [window.innerWidth, window.innerHeight];", json!([]));
        assert_eq!(inner, json!([width, height]), "viewport");
    }

    /// A PNG of the viewport, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        let b64 = self.ok("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }

    /// Ends the session (closes the browser).
    pub fn quit(&self) {
        let _ = self.cmd("DELETE", "", None);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.quit();
    }
}
