//! Interop both ways with PyJWT 2.15 and joserfc 1.8 (independent JWS
//! implementations): tokens minted by `armoriq token mint` verify there, theirs
//! verify with `armoriq token verify`, and a tampered token fails on both sides.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ARMORIQ_PYTHON") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../.venv/bin/python"
    ));
    assert!(
        p.exists(),
        "no Python reference environment: run `bash scripts/setup-python.sh`"
    );
    p
}

fn oracle(args: &[&str]) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/py/jwt_oracle.py"
    );
    let out = Command::new(python())
        .arg("-W")
        .arg("ignore")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oracle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn armoriq(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_armoriq"))
        .args(args)
        .output()
        .unwrap()
}

fn tamper(token: &str) -> String {
    // Change one character of the payload: the signature no longer matches.
    let dot = token.find('.').unwrap() + 5;
    let mut b = token.as_bytes().to_vec();
    b[dot] = if b[dot] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

const CLAIMS: &str = r#"{"iss":"armoriq-iap","aud":"armoriq-proxy","sub":"alice@example.com","iat":1700000000,"exp":4102444800,"jti":"intent-1","plan_id":"p-1","plan_hash":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","merkle_root":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","step_count":2}"#;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("armoriq-interop-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn ours_verify_with_pyjwt_and_joserfc() {
    for alg in ["ES256", "EdDSA"] {
        let d = dir(&format!("ours-{alg}"));
        assert!(
            armoriq(&["keygen", "--alg", alg, "--out", p(&d), "--force"])
                .status
                .success()
        );
        std::fs::write(d.join("claims.json"), CLAIMS).unwrap();
        let m = armoriq(&[
            "token",
            "mint",
            "--key",
            p(&d.join("private.pem")),
            "--claims",
            p(&d.join("claims.json")),
        ]);
        assert!(m.status.success());
        let token = String::from_utf8(m.stdout).unwrap().trim().to_owned();
        assert_eq!(
            oracle(&["verify", p(&d.join("public.pem")), &token]),
            "pyjwt ok\njoserfc ok\n",
            "{alg}"
        );
        let bad = oracle(&["verify", p(&d.join("public.pem")), &tamper(&token)]);
        assert!(
            bad.contains("pyjwt fail") && bad.contains("joserfc fail"),
            "{alg}: {bad}"
        );
    }
}

#[test]
fn theirs_verify_with_armoriq() {
    for alg in ["ES256", "EdDSA"] {
        let d = dir(&format!("theirs-{alg}"));
        let out = oracle(&["mint", alg, p(&d), CLAIMS]);
        let tokens: Vec<&str> = out.lines().collect();
        assert_eq!(tokens.len(), 2, "one token from PyJWT, one from joserfc");
        for (who, token) in ["pyjwt", "joserfc"].iter().zip(tokens) {
            let key = d.join("public.pem");
            let ok = armoriq(&[
                "token",
                "verify",
                "--key",
                p(&key),
                "--aud",
                "armoriq-proxy",
                "--now",
                "1800000000",
                token,
            ]);
            assert_eq!(
                ok.status.code(),
                Some(0),
                "{alg} {who}: {}",
                String::from_utf8_lossy(&ok.stderr)
            );
            let claims: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
            assert_eq!(claims["jti"], "intent-1");
            let bad = armoriq(&[
                "token",
                "verify",
                "--key",
                p(&key),
                "--now",
                "1800000000",
                &tamper(token),
            ]);
            assert_eq!(
                bad.status.code(),
                Some(1),
                "{alg} {who}: tampered token accepted"
            );
        }
    }
}
