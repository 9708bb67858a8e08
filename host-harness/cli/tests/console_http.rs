//! The console over raw HTTP (no browser needed): the session cookie's
//! attributes, expiry, sign-out and revocation; two admins approving one
//! held call at the same moment (one wins, the other gets 409); and bad
//! input answered with 4xx HTML pages (never a 500), every answer with the
//! CSP header.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use armoriq_gateway::store::{DelegationStatus, DelegationStore, NewDelegation, SqliteStore};
use common::{ARMORIQ, Proc, free_port, wait_port};
use reqwest::blocking::{Client, Response};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Duration;

struct Gw {
    _proc: Proc,
    base: String,
    state: PathBuf,
    dir: PathBuf,
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn admin_key(state: &Path, name: &str, email: &str) -> String {
    let out = Command::new(ARMORIQ)
        .args([
            "keys",
            "create",
            "--admin",
            "--name",
            name,
            "--email",
            email,
            "--state-dir",
        ])
        .arg(state)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `armoriq serve` with console sessions lasting `ttl` seconds.
fn start(ttl: u64) -> Gw {
    let dir = std::env::temp_dir().join(format!("armoriq-console-http-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = dir.join("armoriq.yaml");
    std::fs::write(
        &yaml,
        format!(
            "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: a\n\
             environment: sandbox\nmcp_servers:\n- id: m\n  url: http://127.0.0.1:{}/mcp\n  auth: none\n",
            free_port()
        ),
    )
    .unwrap();
    let state = dir.join("state");
    // The first key is made here, so `serve` generates none.
    admin_key(&state, "Ada Admin", "ada@example.com");
    let (backend, proxy) = (free_port(), free_port());
    let mut child = Command::new(ARMORIQ)
        .arg("serve")
        .arg("--state-dir")
        .arg(&state)
        .arg("--config")
        .arg(&yaml)
        .arg("--backend")
        .arg(format!("127.0.0.1:{backend}"))
        .arg("--proxy")
        .arg(format!("127.0.0.1:{proxy}"))
        .arg("--console-session-ttl")
        .arg(ttl.to_string())
        .env("ARMORIQ_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    wait_port(backend, "armoriq serve", &mut child);
    Gw {
        _proc: Proc(child),
        base: format!("http://127.0.0.1:{backend}"),
        state,
        dir,
    }
}

/// `application/x-www-form-urlencoded` of `fields`.
fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |v: &str| {
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(set: &str) -> String {
    set.split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

/// A signed-in console session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

fn sign_in(base: &str, key: &str) -> Session {
    let http = client();
    let r = http.get(format!("{base}/console/login")).send().unwrap();
    let token = cookie_value(&set_cookie(&r, "armoriq_login").unwrap());
    let r = http
        .post(format!("{base}/console/login"))
        .header("cookie", format!("armoriq_login={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("key", key), ("csrf", token.as_str())]))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = set_cookie(&r, "armoriq_console").expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age="] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    let cookie = format!("armoriq_console={}", cookie_value(&set));
    let page = http
        .get(format!("{base}/console/approvals"))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = page
        .split("<meta name=\"csrf\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("csrf meta")
        .to_owned();
    Session { cookie, csrf }
}

fn get(base: &str, s: &Session, path: &str) -> Response {
    client()
        .get(format!("{base}{path}"))
        .header("cookie", &s.cookie)
        .send()
        .unwrap()
}

fn post(base: &str, s: &Session, path: &str, form: &[(&str, &str)]) -> Response {
    client()
        .post(format!("{base}{path}"))
        .header("cookie", &s.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(form))
        .send()
        .unwrap()
}

fn pending(gw: &Gw, tool: &str, approvers: &str) -> String {
    let store = SqliteStore::open(&gw.state.join("armoriq.db")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let arguments = format!("{{\"n\":\"{}\"}}", uuid::Uuid::new_v4());
    let d = rt
        .block_on(store.get_or_create_pending(
            &NewDelegation {
                tool: tool.into(),
                mcp: Some("m".into()),
                plan_id: Some("plan_console".into()),
                requester_email: Some("alice@example.com".into()),
                step: Some(0),
                leaf_hash: Some("ab".repeat(32)),
                args_hash: armoriq_gateway::store::args_hash(&arguments),
                arguments,
                amount: Some(5000.0),
                reason: Some("hold:tools.send_payment#1".into()),
                approval: Some(format!("{{\"approvers\":{approvers}}}")),
                ttl_ms: 600_000,
                ..Default::default()
            },
            armoriq_gateway::now_ms(),
        ))
        .unwrap();
    d.id
}

fn delegation(gw: &Gw, id: &str) -> (DelegationStatus, Option<String>) {
    let store = SqliteStore::open(&gw.state.join("armoriq.db")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let d = rt
        .block_on(store.get_delegation(id, armoriq_gateway::now_ms()))
        .unwrap()
        .unwrap();
    (d.status, d.decided_by)
}

#[test]
fn two_admins_approving_at_once_one_wins() {
    let gw = start(3600);
    let alice = admin_key(&gw.state, "Alice", "a@example.com");
    let bob = admin_key(&gw.state, "Bob", "b@example.com");
    let sessions = Arc::new([sign_in(&gw.base, &alice), sign_in(&gw.base, &bob)]);
    for round in 0..5 {
        let id = pending(
            &gw,
            &format!("pay{round}"),
            r#"["a@example.com","b@example.com"]"#,
        );
        let gate = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|i| {
                let (gate, sessions, base, id) =
                    (gate.clone(), sessions.clone(), gw.base.clone(), id.clone());
                std::thread::spawn(move || {
                    let s = &sessions[i];
                    gate.wait();
                    let path = format!("/console/approvals/{id}/approve");
                    post(&base, s, &path, &[("csrf", s.csrf.as_str())])
                        .status()
                        .as_u16()
                })
            })
            .collect();
        let mut got: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let winner = if got[0] == 303 {
            "a@example.com"
        } else {
            "b@example.com"
        };
        got.sort_unstable();
        assert_eq!(
            got,
            [303, 409],
            "round {round}: one decides, one is told it is decided"
        );
        assert_eq!(
            delegation(&gw, &id),
            (DelegationStatus::Approved, Some(winner.to_owned()))
        );
    }
}

#[test]
fn bad_input_is_a_4xx_page_never_a_500() {
    let gw = start(3600);
    let key = admin_key(&gw.state, "Carl", "carl@example.com");
    let s = sign_in(&gw.base, &key);
    let id = pending(&gw, "pay", "[]");
    let named = pending(&gw, "pay2", r#"["someone@example.com"]"#);
    let csrf = s.csrf.as_str();
    let b = gw.base.as_str();
    let cases: Vec<(&str, Response, u16)> = vec![
        ("unknown plan", get(b, &s, "/console/plans/plan_nope"), 404),
        ("bad time", get(b, &s, "/console/audit?from=yesterday"), 400),
        ("bad cursor", get(b, &s, "/console/api/audit?after=x"), 400),
        (
            "args not JSON",
            get(b, &s, "/console/policy?tool=t&args=%7Bnope"),
            400,
        ),
        (
            "args not an object",
            get(b, &s, "/console/policy?tool=t&args=%5B1%5D"),
            400,
        ),
        ("no such page", get(b, &s, "/console/nope"), 404),
        (
            "key id not a number",
            post(b, &s, "/console/keys/abc/revoke", &[("csrf", csrf)]),
            400,
        ),
        (
            "no such key",
            post(b, &s, "/console/keys/999/revoke", &[("csrf", csrf)]),
            404,
        ),
        (
            "bad email",
            post(b, &s, "/console/keys", &[("csrf", csrf), ("email", "nope")]),
            400,
        ),
        (
            "no such delegation",
            post(
                b,
                &s,
                "/console/approvals/deleg_nope/approve",
                &[("csrf", csrf)],
            ),
            404,
        ),
        (
            "reject without reason",
            post(
                b,
                &s,
                &format!("/console/approvals/{id}/reject"),
                &[("csrf", csrf), ("reason", " ")],
            ),
            400,
        ),
        (
            "form without csrf",
            post(b, &s, &format!("/console/approvals/{id}/approve"), &[]),
            400,
        ),
        (
            "wrong csrf",
            post(
                b,
                &s,
                &format!("/console/approvals/{id}/approve"),
                &[("csrf", "0")],
            ),
            403,
        ),
        (
            "not a named approver",
            post(
                b,
                &s,
                &format!("/console/approvals/{named}/reject"),
                &[("csrf", csrf), ("reason", "no")],
            ),
            403,
        ),
        (
            "wrong method",
            client()
                .delete(format!("{b}/console/approvals"))
                .header("cookie", &s.cookie)
                .send()
                .unwrap(),
            405,
        ),
    ];
    for (what, r, want) in cases {
        let status = r.status().as_u16();
        let csp = r
            .headers()
            .get("content-security-policy")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = r.text().unwrap();
        assert_eq!(status, want, "{what}: {body}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{what}: {csp}"
        );
        assert!(
            body.contains("class=\"error\""),
            "{what}: an HTML page with the message: {body}"
        );
    }
    for root in ["/console", "/console/"] {
        let r = get(b, &s, root);
        assert_eq!(r.status(), 303, "{root}");
        assert_eq!(r.headers()["location"], "/console/approvals");
    }
    // Nothing was decided by any of that.
    assert_eq!(delegation(&gw, &id).0, DelegationStatus::Pending);
    assert_eq!(delegation(&gw, &named).0, DelegationStatus::Pending);
    // A real reject then works, and a second decision is 409.
    let r = post(
        b,
        &s,
        &format!("/console/approvals/{id}/reject"),
        &[("csrf", csrf), ("reason", "no")],
    );
    assert_eq!(r.status(), 303);
    let r = post(
        b,
        &s,
        &format!("/console/approvals/{id}/approve"),
        &[("csrf", csrf)],
    );
    assert_eq!(r.status(), 409);
    assert_eq!(
        delegation(&gw, &id),
        (DelegationStatus::Rejected, Some("carl@example.com".into()))
    );
}

#[test]
fn sessions_expire_end_at_sign_out_and_with_their_key() {
    let gw = start(3);
    let key = admin_key(&gw.state, "Dora", "dora@example.com");
    let b = gw.base.as_str();
    // Expiry.
    let s = sign_in(b, &key);
    assert_eq!(get(b, &s, "/console/api/approvals").status(), 200);
    std::thread::sleep(Duration::from_millis(4100));
    assert_eq!(get(b, &s, "/console/api/approvals").status(), 401);
    let r = get(b, &s, "/console/approvals");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/console/login");
    // Sign-out.
    let s = sign_in(b, &key);
    let r = post(b, &s, "/console/logout", &[("csrf", s.csrf.as_str())]);
    assert_eq!(r.status(), 303);
    assert!(
        set_cookie(&r, "armoriq_console")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(get(b, &s, "/console/api/approvals").status(), 401);
    // Revoking a key ends its sessions.
    let other = admin_key(&gw.state, "Eve", "eve@example.com");
    let eve = sign_in(b, &other);
    let s = sign_in(b, &key);
    let keys = get(b, &s, "/console/keys").text().unwrap();
    let eve_id = keys
        .split("<tr id=\"key-")
        .filter(|row| row.contains("eve@example.com"))
        .find_map(|row| row.split('"').next())
        .unwrap()
        .to_owned();
    let r = post(
        b,
        &s,
        &format!("/console/keys/{eve_id}/revoke"),
        &[("csrf", s.csrf.as_str())],
    );
    assert_eq!(r.status(), 303);
    assert_eq!(get(b, &eve, "/console/api/approvals").status(), 401);
    assert_eq!(get(b, &s, "/console/api/approvals").status(), 200);
}
