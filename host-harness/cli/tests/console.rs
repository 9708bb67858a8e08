//! The console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromedriver`, driven over WebDriver) against `armoriq serve`, with a
//! real MCP server and the unmodified official Python SDK making held
//! payments that wait for a person (`scripts/py/console_scenarios.py`).
//!
//! Covers: signed-out requests refused (pages redirect to sign-in, data and
//! POSTs 401), an agent key cannot sign in, the security headers (CSP
//! without `unsafe-inline`); sign-in; a held payment appears without a
//! reload, as a card: its exact arguments as a key–value list, its tool,
//! server, plan step, requester, amount, times and arguments' hash, the
//! holding statement in words with its JSON inside a closed `<details>`;
//! titles, labels and buttons on one line at 800 and 1280 px; its argument
//! `<img src=x onerror=alert(1)>` stays text (no element, no alert) on the
//! approvals and plan pages; a non-approver admin
//! sees no buttons and is refused (403) when posting anyway; approval by
//! keyboard only (Tab order through real buttons, visible focus, Enter);
//! the SDK's waiting `invoke_with_policy` returns the tool's result; the
//! audit trail (live, filtered by plan) shows held → approved → allowed
//! with the approver's name; the plan page (steps, `plan_hash`,
//! `merkle_root`, outcomes); rejection with a reason makes the SDK raise
//! `DelegationException`; a POST without the CSRF token is refused; keys
//! (create shown once, revoke); policy "try a call"; sign-out.
//!
//! Screenshots go to `target/console-screenshots/` (printed); the approvals
//! one at a 1280x800 viewport (`docs/console-approvals.png` is a copy).
//! Without Chromium/chromedriver/Python: prints `SKIPPED: <reason>`; under
//! `CI=true` it fails instead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod console_support;

use common::{ARMORIQ, Proc, free_port, script, spawn_serve, start_mcp};
use console_support::webdriver::{Browser, Driver, browser_paths, keys};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const MCP: &str = "weather-mcp";
const XSS: &str = "<img src=x onerror=alert(1)>";

/// Skips (prints `SKIPPED: reason`) outside CI; fails under `CI=true`.
fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "browser test cannot run under CI=true: {reason}"
    );
    println!("SKIPPED: {reason}");
    eprintln!("SKIPPED: {reason}");
}

/// `armoriq keys create` with extra flags; the key printed.
fn key(state: &Path, flags: &[&str]) -> String {
    let out = Command::new(ARMORIQ)
        .args(["keys", "create", "--state-dir"])
        .arg(state)
        .args(flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A held payment made by the official SDK, waiting for a person.
struct Payment {
    proc: Proc,
    lines: std::sync::mpsc::Receiver<String>,
    held: String,
    plan_id: String,
}

impl Payment {
    fn start(python: &Path, env: &[(&str, String)], amount: &str, recipient: &str) -> Self {
        let mut child = Command::new(python)
            .arg("-W")
            .arg("ignore")
            .arg(script("console_scenarios.py"))
            .arg(amount)
            .arg(recipient)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the SDK reported no hold");
        let v: Value = serde_json::from_str(&first).unwrap_or_else(|_| panic!("{first}"));
        assert!(v.get("scenario_error").is_none(), "{v}");
        Self {
            proc: Proc(child),
            lines,
            held: v["held"].as_str().expect("held id").to_owned(),
            plan_id: v["plan_id"].as_str().expect("plan id").to_owned(),
        }
    }

    /// What `invoke_with_policy` did, once it returned.
    fn result(self) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(120))
                .expect("invoke_with_policy did not return");
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"));
            if v.get("held").is_none() {
                drop(self.proc);
                return v;
            }
        }
    }
}

fn raw() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn sign_in(b: &Browser, base: &str, key: &str) {
    b.goto(&format!("{base}/console/login"));
    let field = b.wait_for("#key", 10);
    b.type_into(&field, key);
    b.click(&b.wait_for("#sign-in", 5));
    b.wait_until("signed in", 10, |b| b.url().ends_with("/console/approvals"));
}

/// Rows of the live audit table, oldest first: (outcome, reason).
fn audit_rows(b: &Browser) -> Vec<(String, String)> {
    let v = b.js(
        "return Array.from(document.querySelectorAll('#audit-rows tr')).reverse()\
           .map(function (tr) { return [tr.children[2].textContent, tr.children[9].textContent]; });",
        json!([]),
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn outcomes(rows: &[(String, String)]) -> Vec<&str> {
    rows.iter().map(|(o, _)| o.as_str()).collect()
}

#[test]
fn console_in_a_real_browser() {
    let (chromium, driver) = match browser_paths() {
        Ok(p) => p,
        Err(reason) => return skip(&reason),
    };
    let python = std::env::var_os("ARMORIQ_PYTHON").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../.venv/bin/python"
            ))
        },
        PathBuf::from,
    );
    if !python.exists() {
        return skip(&format!(
            "no Python reference environment at {} (bash scripts/setup-python.sh)",
            python.display()
        ));
    }
    let shots = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/console-screenshots"
    ));
    std::fs::create_dir_all(&shots).unwrap();
    let shots = shots.canonicalize().unwrap();

    // The gateway: a real MCP server, the payments policy naming
    // cfo@example.com as the approver, two admins and an agent key.
    let dir = std::env::temp_dir().join(format!("armoriq-console-{}", uuid::Uuid::new_v4()));
    let state = dir.join("state");
    std::fs::create_dir_all(&dir).unwrap();
    let mcp_port = free_port();
    let _mcp = start_mcp(&python, MCP, mcp_port);
    std::fs::write(
        dir.join("armoriq.yaml"),
        format!(
            "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: weather-agent\n\
             environment: sandbox\nmcp_servers:\n- id: {MCP}\n  url: http://127.0.0.1:{mcp_port}/mcp\n  auth: none\n"
        ),
    )
    .unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/console-policy.json"
        ),
        dir.join("policy.json"),
    )
    .unwrap();
    let agent = key(&state, &[]);
    let cfo = key(
        &state,
        &[
            "--admin",
            "--name",
            "Chris CFO",
            "--email",
            "cfo@example.com",
        ],
    );
    let nora = key(
        &state,
        &[
            "--admin",
            "--name",
            "Nora Ops",
            "--email",
            "nora@example.com",
        ],
    );
    let (_gw, backend, proxy) = spawn_serve(&state, &dir.join("armoriq.yaml"));
    let base = format!("http://127.0.0.1:{backend}");
    let sdk_env = [
        ("ARMORIQ_API_KEY", agent.clone()),
        ("ARMORIQ_BACKEND_URL", base.clone()),
        ("PROXY_ENDPOINT", format!("http://127.0.0.1:{proxy}")),
        ("OTEL_SDK_DISABLED", "true".to_owned()),
        ("ARMORIQ_OBSERVABILITY", "off".to_owned()),
    ];

    // Signed out: pages go to sign-in, data and decisions are refused.
    let http = raw();
    let r = http
        .get(format!("{base}/console/approvals"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/login");
    for (method, path) in [
        ("GET", "/console/api/approvals"),
        ("GET", "/console/api/audit"),
        ("POST", "/console/approvals/deleg_x/approve"),
        ("POST", "/console/keys"),
        ("POST", "/console/logout"),
    ] {
        let r = if method == "GET" {
            http.get(format!("{base}{path}")).send().unwrap()
        } else {
            http.post(format!("{base}{path}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("csrf=x")
                .send()
                .unwrap()
        };
        assert_eq!(r.status(), 401, "{method} {path}");
    }
    // The console is on the backend listener only.
    let r = http
        .get(format!("http://127.0.0.1:{proxy}/console/login"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    // Security headers; the sign-in form refuses an agent key and a wrong key.
    let r = http.get(format!("{base}/console/login")).send().unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let login_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"),
        "{login_cookie}"
    );
    let token = login_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    for (k, status) in [(agent.as_str(), 403), ("ak_test_nope", 401)] {
        let r = http
            .post(format!("{base}/console/login"))
            .header("cookie", format!("armoriq_login={token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("key={k}&csrf={token}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), status, "sign-in with {k}");
        assert!(
            r.headers()
                .get("set-cookie")
                .is_none_or(|c| !c.to_str().unwrap().contains("armoriq_console="))
        );
    }
    // Without the form's token, even the right key does not sign in.
    let r = http
        .post(format!("{base}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={cfo}&csrf={token}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);

    // Two admins in two browsers.
    let wd = Driver::start(&driver);
    let chris = wd.session(&chromium, &dir.join("profile-chris"));
    let other = wd.session(&chromium, &dir.join("profile-nora"));
    sign_in(&chris, &base, &cfo);
    assert!(chris.text(&chris.wait_for("#who", 5)).contains("Chris CFO"));
    sign_in(&other, &base, &nora);
    chris.wait_for("#none-pending:not([hidden])", 10);
    // Nora watches the audit trail: it must update without a reload.
    other.goto(&format!("{base}/console/audit"));
    other.wait_for("#audit-rows", 5);

    // 1. A held payment appears without a reload, as a card: its arguments
    // as a key–value list, the call (tool, server, plan step, requester,
    // amount, times, arguments' hash), the statement that held it in words
    // with its JSON behind a disclosure.
    let pay = Payment::start(&python, &sdk_env, "5000", XSS);
    let row = format!("#pending article[data-id=\"{}\"]", pay.held);
    chris.wait_for(&row, 15);
    let card = chris.js(
        "var c = document.querySelector(arguments[0]);\
         function pairs(sel) { return Array.from(c.querySelectorAll(sel + ' > div')).map(function (d) {\
           return [d.children[0].tagName + ':' + d.children[0].textContent, d.children[1].textContent]; }); }\
         var pre = c.querySelector('pre.statement'); var det = pre && pre.parentElement;\
         return {args: pairs('dl.args'), call: pairs('dl.call'), title: c.querySelector('h2').textContent,\
           words: c.querySelector('.statement-words').textContent, rule: c.querySelector('.rule').textContent,\
           json: pre ? pre.textContent : null, holder: det ? det.tagName : null, open: !!(det && det.open),\
           summary: det ? det.querySelector('summary').textContent : null,\
           approvers: c.querySelector('.approvers').textContent};",
        json!([row]),
    );
    assert_eq!(
        card["args"],
        json!([["DT:amount", "5000"], ["DT:recipient", XSS]]),
        "the held call's exact arguments: {card}"
    );
    let call: std::collections::HashMap<&str, &str> = card["call"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().trim_start_matches("DT:"),
                p[1].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(card["title"], "send_payment on weather-mcp", "{card}");
    assert_eq!(call["Tool"], "send_payment", "{card}");
    assert_eq!(call["MCP server"], "weather-mcp");
    assert_eq!(call["Plan"], format!("step 0 of plan {}", pay.plan_id));
    assert_eq!(call["Requester"], "alice@example.com");
    assert_eq!(call["Agent"], "weather-agent");
    assert_eq!(call["Amount"], "5000");
    assert!(call["Waiting"].ends_with(" s"), "waiting time: {card}");
    // --approval-ttl is 30 min by default.
    assert!(
        call["Expires in"].starts_with("29 min") || call["Expires in"].starts_with("30 min"),
        "time left: {card}"
    );
    // The arguments' hash: SHA-256 of their canonical JSON.
    let canon = format!(r#"{{"amount":5000,"recipient":"{XSS}"}}"#);
    let want: String = {
        use sha2::Digest;
        sha2::Sha256::digest(canon.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(call["Arguments hash"], want, "{card}");
    assert_eq!(
        card["words"],
        "Hold send_payment when amount ≤ 100000; approvers: cfo@example.com"
    );
    assert!(
        card["rule"].as_str().unwrap().contains("pay-large")
            && card["rule"]
                .as_str()
                .unwrap()
                .contains("hold:tools.send_payment#1"),
        "{card}"
    );
    // The statement's JSON is behind a closed <details> disclosure.
    assert_eq!(card["holder"], "DETAILS", "{card}");
    assert_eq!(card["open"], false);
    assert_eq!(card["summary"], "Policy statement (JSON)");
    let statement: Value = serde_json::from_str(card["json"].as_str().unwrap()).unwrap();
    assert_eq!(statement["id"], "pay-large");
    assert_eq!(
        statement["approval"]["approvers"],
        json!(["cfo@example.com"])
    );
    assert_eq!(card["approvers"], "Approvers: cfo@example.com");
    // The XSS argument stays text: no element made of it, no alert.
    assert_eq!(
        chris.js(
            "return document.querySelectorAll('main img').length;",
            json!([])
        ),
        0
    );
    assert_eq!(chris.alert_text(), None);
    // Readable at 1280 and 800 px wide: the title, every label and key, the
    // buttons and the disclosure each on one line, nothing wider than the
    // window.
    for width in [800, 1280] {
        chris.viewport(width, 800);
        let v = chris.js(
            "var c = document.querySelector(arguments[0]);\
             function lines(e) { var tops = [];\
               var w = document.createTreeWalker(e, NodeFilter.SHOW_TEXT); var n;\
               while ((n = w.nextNode())) { var r = document.createRange(); r.selectNodeContents(n);\
                 Array.from(r.getClientRects()).forEach(function (x) {\
                   if (x.width > 0 && !tops.some(function (t) { return Math.abs(t - x.top) < 4; })) tops.push(x.top); }); }\
               return tops.length; }\
             var wrapped = Array.from(c.querySelectorAll('h2, dt, button, summary, .approvers'))\
               .filter(function (e) { return lines(e) > 1; }).map(function (e) { return e.textContent; });\
             return [window.innerWidth, wrapped, document.documentElement.scrollWidth - document.documentElement.clientWidth];",
            json!([row]),
        );
        assert_eq!(v[0], width, "{v}");
        assert_eq!(v[1], json!([]), "wrapped at {width} px: {v}");
        assert_eq!(v[2], 0, "wider than the window at {width} px: {v}");
        if width == 800 {
            // The disclosure opens (and closes) by its summary.
            let summary = chris.wait_for(&format!("{row} details summary"), 5);
            chris.click(&summary);
            let open = chris.js(
                "var d = document.querySelector(arguments[0] + ' details');\
                 return [d.open, d.querySelector('pre').getBoundingClientRect().height > 0];",
                json!([row]),
            );
            assert_eq!(open, json!([true, true]));
            chris.screenshot(&shots.join("approvals-800.png"));
            chris.click(&summary);
            // A fresh page, so that keyboard navigation below starts at the top.
            chris.goto(&format!("{base}/console/approvals"));
            chris.wait_for(&row, 15);
        }
    }
    let shot = shots.join("approvals.png");
    chris.screenshot(&shot);
    println!("screenshot: {}", shot.display());

    // 2. The non-approver admin: no buttons, and a POST anyway is 403.
    other.goto(&format!("{base}/console/approvals"));
    other.wait_for(&row, 15);
    assert!(other.find(&format!("{row} button.approve")).is_none());
    let refused = other.js_async(
        "var done = arguments[arguments.length - 1];\
         var csrf = document.querySelector('meta[name=csrf]').content;\
         fetch('/console/approvals/' + arguments[0] + '/approve', {method: 'POST',\
           headers: {'content-type': 'application/x-www-form-urlencoded'},\
           body: 'csrf=' + csrf}).then(function (r) { return r.text().then(function (t) { done([r.status, t]); }); });",
        json!([pay.held]),
    );
    assert_eq!(refused[0], 403, "{refused}");
    assert!(
        refused[1]
            .as_str()
            .unwrap()
            .contains("only the approvers the policy names")
    );
    // And a POST without the CSRF token is refused too (Chris may approve).
    let no_csrf = chris.js_async(
        "var done = arguments[arguments.length - 1];\
         fetch('/console/approvals/' + arguments[0] + '/approve', {method: 'POST',\
           headers: {'content-type': 'application/x-www-form-urlencoded'}, body: 'csrf=wrong'})\
           .then(function (r) { done(r.status); });",
        json!([pay.held]),
    );
    assert_eq!(no_csrf, 403);
    chris.wait_for(&row, 2); // still pending
    other.goto(&format!("{base}/console/audit"));
    other.wait_for("#audit-rows tr", 10);

    // 3. Keyboard only: Tab from the top of the page to this row's Approve
    // button, every stop a real control with a visible focus ring; Enter.
    chris.js(
        "document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);",
        json!([]),
    );
    let mut stops = Vec::new();
    let mut reached = false;
    for _ in 0..60 {
        chris.keys(&[keys::TAB]);
        let f = chris.js(
            "var e = document.activeElement; var s = getComputedStyle(e);\
             return [e.tagName, e.getAttribute('data-id') || '', e.className, s.outlineStyle, s.outlineWidth, e.textContent];",
            json!([]),
        );
        let tag = f[0].as_str().unwrap().to_owned();
        assert!(
            matches!(
                tag.as_str(),
                "A" | "BUTTON" | "INPUT" | "TEXTAREA" | "SUMMARY"
            ),
            "focus stop {tag}: {f}"
        );
        assert!(f[3] != "none" && f[4] != "0px", "focus not visible on {f}");
        stops.push(format!("{tag}:{}", f[5].as_str().unwrap_or_default()));
        if tag == "BUTTON" && f[1] == pay.held.as_str() && f[2] == "approve" {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached Approve: {stops:?}");
    assert!(stops.iter().any(|s| s == "BUTTON:Sign out"), "{stops:?}");
    // The statement's disclosure is on the way, a stop of its own.
    assert!(
        stops.iter().any(|s| s == "SUMMARY:Policy statement (JSON)"),
        "{stops:?}"
    );
    chris.keys(&[keys::ENTER]);
    chris.wait_until("approved", 10, |b| b.url().contains("done=approved"));
    assert!(
        chris
            .text(&chris.wait_for("#notice", 5))
            .contains(&pay.held)
    );

    // 4. The SDK's waiting invoke_with_policy returns the tool's result.
    let plan_id = pay.plan_id.clone();
    let v = pay.result();
    assert_eq!(v["exception"], Value::Null, "{v}");
    assert!(
        v["text"].as_str().unwrap().contains(&format!("to {XSS}")),
        "{v}"
    );

    // 5. The audit trail (Nora's, open since before: live) shows
    // held → approved → allowed, with the approver's name.
    other.wait_until("the allowed row arrives live", 20, |b| {
        outcomes(&audit_rows(b)).contains(&"allowed_delegated")
    });
    chris.goto(&format!("{base}/console/audit?plan={plan_id}"));
    chris.wait_until("plan rows", 10, |b| audit_rows(b).len() >= 4);
    let rows = audit_rows(&chris);
    let o = outcomes(&rows);
    assert_eq!(
        o,
        ["minted", "held", "approved", "allowed_delegated"],
        "{rows:?}"
    );
    assert!(
        rows[2]
            .1
            .contains("approved by Chris CFO <cfo@example.com>"),
        "{rows:?}"
    );
    let shot = shots.join("audit.png");
    chris.screenshot(&shot);
    println!("screenshot: {}", shot.display());
    // A row opens its plan: steps, plan_hash, merkle_root, outcomes.
    chris.click(&chris.wait_for("#audit-rows a", 5));
    chris.wait_until("plan page", 10, |b| b.url().contains("/console/plans/"));
    let hash = chris.text(&chris.wait_for("#plan-hash", 5));
    let root = chris.text(&chris.wait_for("#merkle-root", 5));
    assert!(hash.len() == 64 && root.len() == 64, "{hash} {root}");
    let page = chris.js(
        "return document.querySelector('main').textContent;",
        json!([]),
    );
    let page = page.as_str().unwrap();
    assert!(
        page.contains("Step 0: weather-mcp.send_payment") && page.contains(XSS),
        "{page}"
    );
    assert!(page.contains("held") && page.contains("allowed_delegated"));
    assert_eq!(
        chris.js(
            "return document.querySelectorAll('main img').length;",
            json!([])
        ),
        0
    );
    assert_eq!(chris.alert_text(), None);

    // 6. Reject with a reason: the SDK raises DelegationException.
    chris.goto(&format!("{base}/console/approvals"));
    let pay = Payment::start(&python, &sdk_env, "7000", "carol");
    let row = format!("#pending article[data-id=\"{}\"]", pay.held);
    chris.wait_for(&row, 15);
    let reason = chris.wait_for(&format!("{row} input[name=reason]"), 5);
    chris.type_into(&reason, "not in this quarter's budget");
    chris.click(&chris.wait_for(&format!("{row} button.reject"), 5));
    chris.wait_until("rejected", 10, |b| b.url().contains("done=rejected"));
    let plan_id = pay.plan_id.clone();
    let v = pay.result();
    assert_eq!(v["exception"], "DelegationException", "{v}");
    chris.goto(&format!(
        "{base}/console/audit?plan={plan_id}&outcome=rejected"
    ));
    chris.wait_until("the rejection row", 10, |b| audit_rows(b).len() == 1);
    let rows = audit_rows(&chris);
    assert!(
        rows[0]
            .1
            .contains("rejected by Chris CFO <cfo@example.com>")
            && rows[0].1.contains("not in this quarter's budget"),
        "{rows:?}"
    );

    // 7. Keys: created and shown once, then revoked.
    chris.goto(&format!("{base}/console/keys"));
    chris.type_into(&chris.wait_for("#k-name", 5), "Temp Bot");
    chris.click(&chris.wait_for("#create-key", 5));
    let new_key = chris.text(&chris.wait_for("#new-key", 5));
    assert!(
        new_key.starts_with("ak_test_") && new_key.len() == 40,
        "{new_key}"
    );
    let auth = |k: &str| {
        http.post(format!("{base}/iap/sdk/resolve-user"))
            .header("x-api-key", k)
            .header("content-type", "application/json")
            .body(r#"{"userEmail": "a@example.com"}"#)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(auth(&new_key), 200);
    chris.goto(&format!("{base}/console/keys"));
    assert!(chris.find("#new-key").is_none(), "shown once");
    let revoke = chris.find_all("#keys button.danger");
    chris.click(revoke.last().unwrap());
    chris.wait_until("revoked", 10, |b| {
        b.js(
            "return document.querySelector('#keys tbody tr:last-child').textContent;",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .contains("revoked")
    });
    std::thread::sleep(Duration::from_millis(5200)); // the gateway's key cache
    assert_eq!(auth(&new_key), 401);

    // 8. Policy: "try a call" names the statement that decided.
    chris.goto(&format!(
        "{base}/console/policy?mcp=weather-mcp&tool=send_payment&args=%7B%22amount%22%3A5000%7D&email=alice%40example.com"
    ));
    let verdict = chris.text(&chris.wait_for("#verdict", 5));
    assert!(
        verdict.contains("hold") && verdict.contains("pay-large"),
        "{verdict}"
    );
    assert!(
        chris
            .text(&chris.wait_for("#policy-doc", 5))
            .contains("pol-console")
    );

    // 9. Sign out: the session is gone.
    chris.click(&chris.wait_for("#sign-out", 5));
    chris.wait_until("signed out", 10, |b| b.url().ends_with("/console/login"));
    let after = chris.js_async(
        "var done = arguments[arguments.length - 1];\
         fetch('/console/api/approvals').then(function (r) { done(r.status); });",
        json!([]),
    );
    assert_eq!(after, 401);
    drop((chris, other, wd));
    let _ = std::fs::remove_dir_all(&dir);
}
