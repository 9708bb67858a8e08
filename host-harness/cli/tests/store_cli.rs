//! `--store`, `--secret-file`, `store status`, `keys rotate-signing`,
//! `keys list|revoke`, `policy load --store` and `serve --tls-cert/--tls-key`
//! (and `armoriq status` probing it over HTTPS), through the real `armoriq`
//! binary on a SQLite file named with `--store`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{ARMORIQ, Proc, free_port, wait_port};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "a-test-operator-secret-0123456789";

/// A temporary directory removed on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("armoriq-store-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `armoriq ARGS` in `cwd` without ARMORIQ_* from the environment:
/// (exit code, stdout, stderr).
fn armoriq(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cmd(cwd).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cmd(cwd: &Path) -> Command {
    let mut c = Command::new(ARMORIQ);
    c.current_dir(cwd)
        .env_remove("ARMORIQ_SECRET")
        .env_remove("ARMORIQ_STORE")
        .env_remove("ARMORIQ_STATE_DIR")
        .env_remove("ARMORIQ_CONFIG")
        .env("ARMORIQ_LOG", "warn");
    c
}

/// A store file, a secret file, a state directory.
struct Setup {
    tmp: Tmp,
}

impl Setup {
    fn new() -> Self {
        let tmp = Tmp::new();
        std::fs::write(tmp.0.join("secret"), format!("{SECRET}\n")).unwrap();
        Self { tmp }
    }
    fn dir(&self) -> &Path {
        &self.tmp.0
    }
    fn db(&self) -> String {
        self.tmp.0.join("shared.db").to_string_lossy().into_owned()
    }
    fn secret(&self) -> String {
        self.tmp.0.join("secret").to_string_lossy().into_owned()
    }
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        armoriq(self.dir(), args)
    }
    fn status(&self) -> Value {
        let (code, out, err) = self.run(&["store", "status", "--store", &self.db(), "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    }
    fn rotate(&self) -> String {
        let (code, out, err) = self.run(&[
            "keys",
            "rotate-signing",
            "--store",
            &self.db(),
            "--secret-file",
            &self.secret(),
        ]);
        assert_eq!(code, 0, "{err}");
        out.trim().to_owned()
    }
}

/// One HTTP/1.1 request on loopback; (status, body). A connection the
/// server drops (a TLS port answering plain HTTP) is status 0.
fn http(port: u16, method: &str, path: &str, key: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = key.map_or(String::new(), |k| format!("X-API-Key: {k}\r\n"));
    let sent = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Length: 0\r\n\r\n"
    );
    if sent.is_err() {
        return (0, String::new());
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_response(&out)
}

fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    (status, body)
}

fn serve(s: &Setup, extra: &[&str]) -> (Proc, u16, u16) {
    let (backend, proxy) = (free_port(), free_port());
    let mut child = cmd(s.dir())
        .args(["serve", "--state-dir", "state", "--store", &s.db()])
        .args(["--backend", &format!("127.0.0.1:{backend}")])
        .args(["--proxy", &format!("127.0.0.1:{proxy}")])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.dir().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    wait_port(backend, "armoriq serve", &mut child);
    wait_port(proxy, "armoriq serve", &mut child);
    (Proc(child), backend, proxy)
}

fn until(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn store_status_and_rotate_signing_on_a_named_sqlite_store() {
    let s = Setup::new();
    let v = s.status();
    assert_eq!(v["backend"], "sqlite", "{v}");
    assert_eq!(v["shared"], false, "{v}");
    assert_eq!(v["store"], format!("sqlite:{}", s.db()), "{v}");
    assert!(v["schema_version"].as_u64().unwrap() >= 8, "{v}");
    assert_eq!(v["signing_keys"], serde_json::json!([]), "{v}");
    // --store is the store: nothing is created in the state directory.
    assert!(!s.dir().join("state").join("armoriq.db").exists());

    // No secret: a clear refusal.
    let (code, _, err) = s.run(&["keys", "rotate-signing", "--store", &s.db()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ARMORIQ_SECRET") && err.contains("--secret-file"),
        "{err}"
    );

    let kid1 = s.rotate();
    let kid2 = s.rotate();
    assert_eq!(kid1.len(), 16, "{kid1}");
    assert_ne!(kid1, kid2);
    let v = s.status();
    let gens: Vec<(i64, String, bool)> = v["signing_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["generation"].as_i64().unwrap(),
                k["kid"].as_str().unwrap().to_owned(),
                k["signing"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(gens, vec![(1, kid1, false), (2, kid2.clone(), true)]);
    // Nothing secret in either form of the status.
    let (_, text, _) = s.run(&["store", "status", "--store", &s.db()]);
    assert!(text.contains(&kid2) && text.contains("(signs)"), "{text}");
    for out in [text, v.to_string()] {
        assert!(!out.contains(SECRET), "{out}");
        assert!(!out.contains("sealed"), "{out}");
    }

    // Another secret cannot rotate (nodes could no longer open the keys).
    std::fs::write(s.dir().join("other"), "another secret, 0123456789").unwrap();
    let other = s.dir().join("other").to_string_lossy().into_owned();
    let (code, _, err) = s.run(&[
        "keys",
        "rotate-signing",
        "--store",
        &s.db(),
        "--secret-file",
        &other,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("is not the secret the other gateways use"),
        "{err}"
    );
    // A PostgreSQL URL's password never shows.
    let (code, _, err) = s.run(&["store", "status", "--store", "postgres://gw:hunter2@db/x"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("gw:***@db") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn serve_on_a_named_store_follows_rotation_revocation_and_policy_loads() {
    let s = Setup::new();
    // A store with sealed keys refuses to serve without the secret.
    s.rotate();
    let mut c = cmd(s.dir())
        .args(["serve", "--state-dir", "state", "--store", &s.db()])
        .args(["--backend", &format!("127.0.0.1:{}", free_port())])
        .args(["--proxy", &format!("127.0.0.1:{}", free_port())])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(c.wait().unwrap().code(), Some(2), "{err}");
    assert!(err.contains("ARMORIQ_SECRET"), "{err}");

    let (_g, backend, _proxy) = serve(&s, &["--secret-file", &s.secret()]);
    let log = std::fs::read_to_string(s.dir().join("serve.log")).unwrap();
    assert!(
        log.contains(&format!("store sqlite:{}", s.db())) && log.contains("generation 1"),
        "{log}"
    );
    let kid_now = || -> String {
        let (st, body) = http(backend, "GET", "/iap/public-key", None);
        assert_eq!(st, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["kid"].as_str().unwrap().to_owned()
    };
    assert_eq!(kid_now(), s.status()["signing_keys"][0]["kid"]);

    // Rotated by another process: the gateway signs with the new key soon
    // (SQLite's feed is per process; the gateway polls every 5 s).
    let kid2 = s.rotate();
    until(
        Duration::from_secs(8),
        "serve picks up the rotation",
        || kid_now() == kid2,
    );

    // An API key created and revoked with --store, while serve runs.
    let (code, key, err) = s.run(&["keys", "create", "--store", &s.db(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&key).unwrap();
    let key = created["api_key"].as_str().unwrap().to_owned();
    assert_eq!(http(backend, "GET", "/mcp/my-servers", Some(&key)).0, 200);
    let (code, list, _) = s.run(&["keys", "list", "--store", &s.db(), "--json"]);
    assert_eq!(code, 0);
    assert!(
        list.contains(&format!("\"id\":{}", created["id"])),
        "{list}"
    );
    let id = created["id"].to_string();
    let (code, _, err) = s.run(&["keys", "revoke", &id, "--store", &s.db()]);
    assert_eq!(code, 0, "{err}");
    until(Duration::from_secs(7), "the revoked key is refused", || {
        http(backend, "GET", "/mcp/my-servers", Some(&key)).0 == 401
    });

    // A policy load into the store.
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/policy.json");
    let (code, _, err) = s.run(&["policy", "load", policy, "--store", &s.db()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("version 1"), "{err}");
    assert_eq!(s.status()["policy_version"], 1);
    // A document that does not load is refused before the store.
    std::fs::write(s.dir().join("bad.json"), "{\"agent\": {\"statements\": 5}}").unwrap();
    let (code, _, _) = s.run(&["policy", "load", "bad.json", "--store", &s.db()]);
    assert_eq!(code, 2);
    assert_eq!(s.status()["policy_version"], 1);
}

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

/// GET `path` over TLS, trusting only `ca_pem`: (status, the whole
/// response: head and body).
fn https_get(port: u16, ca_pem: &str, path: &str) -> Result<(u16, String), String> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        Ok((
            parse_response(&out).0,
            String::from_utf8_lossy(&out).into_owned(),
        ))
    })
}

#[test]
fn serve_over_tls_on_both_listeners() {
    let s = Setup::new();
    let (ca, cert, key) = test_ca();
    std::fs::write(s.dir().join("cert.pem"), &cert).unwrap();
    std::fs::write(s.dir().join("key.pem"), &key).unwrap();
    let (_g, backend, proxy) = serve(
        &s,
        &[
            "--secret-file",
            &s.secret(),
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
    );
    let log = std::fs::read_to_string(s.dir().join("serve.log")).unwrap();
    assert!(
        log.contains(&format!("backend https://127.0.0.1:{backend}"))
            && log.contains(&format!("proxy https://127.0.0.1:{proxy}")),
        "{log}"
    );
    for port in [backend, proxy] {
        let (st, body) = https_get(port, &ca, "/health").unwrap();
        assert_eq!(st, 200, "{body}");
        // Plain HTTP to a TLS port gets no HTTP answer.
        let (st, _) = http(port, "GET", "/health", None);
        assert_ne!(st, 200);
    }
    // The console's cookies are `Secure` over HTTPS.
    let (st, raw) = https_get(backend, &ca, "/console/login").unwrap();
    assert_eq!(st, 200, "{raw}");
    let head = raw.split("\r\n\r\n").next().unwrap().to_lowercase();
    assert!(
        head.lines()
            .any(|l| l.starts_with("set-cookie: armoriq_login=") && l.contains("; secure")),
        "{head}"
    );
    // A client that does not trust the CA is refused in the handshake.
    let (other_ca, _, _) = test_ca();
    let e = https_get(backend, &other_ca, "/health").unwrap_err();
    assert!(e.to_lowercase().contains("certificate"), "{e}");

    // A key that is not the certificate's, and an unreadable file.
    let (_, _, wrong_key) = test_ca();
    std::fs::write(s.dir().join("wrong.pem"), wrong_key).unwrap();
    for (cert, key, want) in [
        ("cert.pem", "wrong.pem", "is the key the certificate's?"),
        ("missing.pem", "key.pem", "--tls-cert missing.pem"),
    ] {
        let out = cmd(s.dir())
            .args(["serve", "--state-dir", "state2", "--store", "other.db"])
            .args([
                "--secret-file",
                &s.secret(),
                "--tls-cert",
                cert,
                "--tls-key",
                key,
            ])
            .args(["--backend", &format!("127.0.0.1:{}", free_port())])
            .args(["--proxy", &format!("127.0.0.1:{}", free_port())])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "{want}: {err}");
    }
}

/// `armoriq status` probes an HTTPS gateway behind a private CA: trusted
/// through `--ca-cert` (or `ARMORIQ_CA_CERT`), both listeners are reported
/// reachable and ready (from `/ready`, with its checks); without the CA the
/// probe says why it failed (the certificate), never "down" for nothing.
#[test]
fn status_probes_an_https_gateway_with_a_private_ca() {
    let s = Setup::new();
    let (ca, cert, key) = test_ca();
    std::fs::write(s.dir().join("cert.pem"), &cert).unwrap();
    std::fs::write(s.dir().join("key.pem"), &key).unwrap();
    std::fs::write(s.dir().join("ca.pem"), &ca).unwrap();
    let (_g, backend, proxy) = serve(
        &s,
        &[
            "--secret-file",
            &s.secret(),
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
    );
    std::fs::write(
        s.dir().join("armoriq.yaml"),
        format!(
            "version: v1\nidentity:\n  api_key: ak_test_{}\n  user_id: u\n  agent_id: a\n\
             environment: sandbox\nproxy:\n  url: https://127.0.0.1:{proxy}\nmcp_servers: []\n",
            "0".repeat(32)
        ),
    )
    .unwrap();
    let status = |extra: &[&str], env: &[(&str, &str)]| -> (i32, String, String) {
        let out = cmd(s.dir())
            .args(["status", "--config", "armoriq.yaml"])
            .args(extra)
            .env("HOME", s.dir())
            .env(
                "ARMORIQ_BACKEND_URL",
                format!("https://127.0.0.1:{backend}"),
            )
            .env_remove("ARMORIQ_CA_CERT")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (extra, env) in [
        (vec!["--json", "--ca-cert", "ca.pem"], vec![]),
        (vec!["--json"], vec![("ARMORIQ_CA_CERT", "ca.pem")]),
    ] {
        let (code, out, err) = status(&extra, &env);
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        for (k, port) in [("backend", backend), ("proxy", proxy)] {
            let h = &v["config"][k];
            assert_eq!(h["url"], format!("https://127.0.0.1:{port}"), "{v}");
            assert_eq!(h["reachable"], true, "{k}: {v}");
            assert_eq!(h["status"], 200, "{k}: {v}");
            assert_eq!(h["ready"], true, "{k}: {v}");
            assert_eq!(h["checks"]["store"]["ok"], true, "{k}: {v}");
            assert_eq!(h["checks"]["migrations"]["ok"], true, "{k}: {v}");
        }
    }
    let (code, out, err) = status(&["--ca-cert", "ca.pem"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!(
            "Backend: https://127.0.0.1:{backend} (reachable, ready)"
        )),
        "{out}"
    );
    // Not trusted: not reachable, and why.
    let (code, out, _) = status(&["--json"], &[]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["config"]["backend"]["reachable"], false, "{v}");
    let why = v["config"]["backend"]["error"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(why.contains("certificate"), "{why}");
    // A CA file that is not one is a configuration error.
    let (code, _, err) = status(&["--ca-cert", "cert.pem.missing"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--ca-cert"), "{err}");
}
