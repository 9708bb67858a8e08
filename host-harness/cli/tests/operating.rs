//! Operating `armoriq serve` (README "Operating it"), against the real
//! binary over loopback HTTP:
//! * `GET /ready` answers 503 naming the failed check while PostgreSQL is
//!   stopped and while it is paused (SIGSTOP: connections open, nothing
//!   answered), and 200 again once it is back; `/health` stays 200;
//! * SIGTERM under load: the process exits 0 within the grace, every call
//!   answered 2xx has its audit row, and new connections are refused;
//! * a call still in flight when the grace runs out (its body never comes)
//!   is cut, over HTTP and over HTTPS, and the process exits 0 just after.
//!
//! Its own test binary, run under `bash scripts/pg.sh` (the README's test
//! command): the readiness test takes the PostgreSQL server away, so the
//! tests here run one at a time and no other binary runs beside them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[macro_use]
mod common;

use armoriq_gateway::store::AuditCursor;
use common::free_port;
use common::gateway::{Backend, Gateway};
use common::http::{http, json_of};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One test at a time: one takes the shared PostgreSQL server away.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// `GET /ready` on the backend: (status, body, how long it took).
fn ready(g: &Gateway) -> (u16, Value, Duration) {
    let t = Instant::now();
    let (s, b) = http(g.backend, "GET", "/ready", &[], b"").unwrap();
    (s, json_of(&b), t.elapsed())
}

/// Polls `/ready` until it answers `want` (at most `within`); the last
/// answer and when it came.
fn ready_becomes(g: &Gateway, want: u16, within: Duration) -> (Value, Duration) {
    let t0 = Instant::now();
    loop {
        let (s, v, _) = ready(g);
        if s == want {
            return (v, t0.elapsed());
        }
        assert!(
            t0.elapsed() < within,
            "/ready did not answer {want} within {within:?}: {s} {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A mint of a one-step plan.
const MINT: &[u8] = br#"{"plan": {"steps": [{"mcp": "weather-mcp", "action": "get_weather", "params": {"city": "Boston"}}]}, "expires_in": 60}"#;

/// Puts the server back however a failed test left it.
struct ServerBack;

impl Drop for ServerBack {
    fn drop(&mut self) {
        if let Ok(ctl) = std::env::var("ARMORIQ_TEST_PG_CTL") {
            for what in ["resume", "start"] {
                let _ = std::process::Command::new("bash")
                    .arg(&ctl)
                    .arg(what)
                    .output();
            }
        }
    }
}

#[test]
fn ready_flips_when_postgres_stops_or_pauses_and_back() {
    let _one = one_at_a_time();
    let Some(g) = Gateway::new(
        Backend::Postgres,
        free_port(),
        false,
        &["--pg-query-timeout", "1"],
    ) else {
        return;
    };
    let _back = ServerBack;
    let (s, v, _) = ready(&g);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "ready");
    assert_eq!(v["checks"]["store"]["ok"], true, "{v}");
    assert_eq!(v["checks"]["store"]["backend"], "postgres", "{v}");
    assert_eq!(
        v["checks"]["migrations"]["schema_version"],
        armoriq_gateway::store::pg_latest(),
        "{v}"
    );
    assert!(v["checks"].get("device").is_none(), "no --device: {v}");
    let (s, v) = g.post(g.backend, "/iap/sdk/token", Some(&g.key), MINT);
    assert_eq!(s, 200, "{v}");

    for (away, back) in [("stop", "start"), ("pause", "resume")] {
        common::pg::ctl(away);
        let (v, after) = ready_becomes(&g, 503, Duration::from_secs(10));
        assert_eq!(v["status"], "not ready", "{v}");
        assert_eq!(v["checks"]["store"]["ok"], false, "{v}");
        let why = v["checks"]["store"]["error"].as_str().unwrap();
        assert!(!why.is_empty(), "{v}");
        assert_eq!(v["checks"]["migrations"]["ok"], false, "{v}");
        // A probe never hangs: answered within the query timeout (1 s)
        // and the HTTP round trip, paused or stopped.
        let (s, _, took) = ready(&g);
        assert_eq!(s, 503);
        assert!(
            took < Duration::from_secs(3),
            "{away}: /ready took {took:?}"
        );
        eprintln!("PostgreSQL {away}: /ready 503 after {after:?}; a probe answers in {took:?}");
        // Liveness is not readiness.
        let (s, _) = http(g.backend, "GET", "/health", &[], b"").unwrap();
        assert_eq!(s, 200);
        // A call answers 503 within a few seconds, never hangs.
        let t = Instant::now();
        let (s, v) = g.post(g.backend, "/iap/sdk/token", Some(&g.key), MINT);
        let took = t.elapsed();
        assert_eq!((s, v["error"].as_str()), (503, Some("Unavailable")), "{v}");
        assert!(
            took < Duration::from_secs(6),
            "{away}: a mint took {took:?}"
        );
        eprintln!("PostgreSQL {away}: a mint answered 503 in {took:?}");
        common::pg::ctl(back);
        let (v, after) = ready_becomes(&g, 200, Duration::from_secs(30));
        assert_eq!(v["checks"]["store"]["ok"], true, "{v}");
        eprintln!("PostgreSQL {back}: /ready 200 after {after:?}");
    }
}

/// What the load saw.
#[derive(Default)]
struct Seen {
    /// Plans of the mints answered 200.
    minted: Mutex<BTreeSet<String>>,
    /// Connections refused (the listener closed).
    refused: AtomicUsize,
    /// Requests cut without an answer, or answered with an error.
    other: AtomicUsize,
}

fn sigterm_under_load_loses_no_acknowledged_call(backend: Backend) {
    let _one = one_at_a_time();
    let Some(mut g) = Gateway::new(backend, free_port(), false, &["--shutdown-grace", "5"]) else {
        return;
    };
    let seen = Arc::new(Seen::default());
    let stop = Arc::new(AtomicBool::new(false));
    let body = MINT;
    let load: Vec<_> = (0..16)
        .map(|_| {
            let (seen, stop, key, port) = (seen.clone(), stop.clone(), g.key.clone(), g.backend);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let h = [("Content-Type", "application/json"), ("X-API-Key", &key)];
                    match http(port, "POST", "/iap/sdk/token", &h, body) {
                        Ok((200, b)) => {
                            let v = json_of(&b);
                            let plan = v["plan_id"].as_str().unwrap().to_owned();
                            seen.minted.lock().unwrap().insert(plan);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                            seen.refused.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Ok(_) | Err(_) => {
                            seen.other.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    // Under load for a while.
    let t0 = Instant::now();
    while seen.minted.lock().unwrap().len() < 50 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the load did not run"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut proc = g.proc.take().unwrap();
    let pid = proc.0.id().to_string();
    let sent = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(st) = proc.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(15),
            "still running 15 s after SIGTERM (grace 5 s)"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "exit status {status}");
    // The load keeps knocking: refused, not hung.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.join().unwrap();
    }
    for port in [g.backend, g.proxy] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still accepts"
        );
    }
    assert!(
        seen.refused.load(Ordering::Relaxed) > 0,
        "new connections refused"
    );
    let minted = seen.minted.lock().unwrap().clone();
    let rows = g.audit_after(AuditCursor::START);
    let audited: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.outcome == "minted")
        .filter_map(|r| r.plan_id.clone())
        .collect();
    let lost: Vec<&String> = minted.difference(&audited).collect();
    assert!(
        lost.is_empty(),
        "answered 200 without an audit row: {lost:?}"
    );
    eprintln!(
        "{backend:?}: SIGTERM under 16 clients: exit 0 after {took:?}; {} mints answered, \
         all audited ({} minted rows); {} refused after, {} cut or errors",
        minted.len(),
        audited.len(),
        seen.refused.load(Ordering::Relaxed),
        seen.other.load(Ordering::Relaxed)
    );
}

on_both_backends!(sigterm_under_load_loses_no_acknowledged_call);

/// A CA and a leaf it issued for 127.0.0.1: (CA PEM, leaf PEM, leaf key PEM).
fn test_ca() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "armoriq test CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let issuer = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf.subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    (issuer.pem(), cert.pem(), leaf_key.serialize_pem())
}

/// Opens a connection to `port` (over TLS trusting `ca` when given) and
/// sends a mint whose body never completes: its handler waits for the rest.
/// The returned stream keeps the call in flight while it lives.
fn stuck_call(port: u16, key: &str, ca: Option<&str>) -> Box<dyn std::io::Write> {
    use std::io::Write;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "POST /iap/sdk/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"plan\": "
    );
    let mut w: Box<dyn Write> = match ca {
        None => Box::new(tcp),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(rustls::pki_types::CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
                .unwrap();
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
            let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
            Box::new(rustls::StreamOwned::new(conn, tcp))
        }
    };
    w.write_all(head.as_bytes()).unwrap();
    w.flush().unwrap();
    w
}

/// The grace bounds the drain on both listeners: a call whose body never
/// comes would keep a graceful shutdown waiting forever; with
/// `--shutdown-grace 1` it is cut after 1 s and the process exits 0.
#[test]
fn a_call_in_flight_past_the_grace_is_cut_over_http_and_https() {
    let _one = one_at_a_time();
    let (ca, cert, key) = test_ca();
    let certs = std::env::temp_dir().join(format!("armoriq-ops-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&certs).unwrap();
    let (cert_file, key_file) = (certs.join("cert.pem"), certs.join("key.pem"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let tls = [
        "--tls-cert",
        cert_file.to_str().unwrap(),
        "--tls-key",
        key_file.to_str().unwrap(),
    ];
    for https in [false, true] {
        let mut extra = vec!["--shutdown-grace", "1"];
        if https {
            extra.extend(tls);
        }
        let Some(mut g) = Gateway::new(Backend::Sqlite, free_port(), false, &extra) else {
            return;
        };
        let stuck = stuck_call(g.backend, &g.key, https.then_some(ca.as_str()));
        // The server has the request's head and waits for its body.
        std::thread::sleep(Duration::from_millis(300));
        let mut proc = g.proc.take().unwrap();
        let sent = Instant::now();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &proc.0.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = loop {
            if let Some(st) = proc.0.try_wait().unwrap() {
                break st;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "https={https}: still running 10 s after SIGTERM (grace 1 s)"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = sent.elapsed();
        assert_eq!(status.code(), Some(0), "https={https}: {status}");
        assert!(
            took >= Duration::from_millis(900),
            "https={https}: the call in flight was waited for ({took:?})"
        );
        assert!(
            took < Duration::from_secs(4),
            "https={https}: cut at the grace ({took:?})"
        );
        eprintln!("https={https}: a stuck call, grace 1 s: exit 0 after {took:?}");
        drop(stuck);
    }
    let _ = std::fs::remove_dir_all(&certs);
}
