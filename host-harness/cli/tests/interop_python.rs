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

/// A time check's outcome from `armoriq token verify`'s error line.
fn our_time_outcome(out: &std::process::Output) -> &'static str {
    let err = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => "ok",
        _ if err.contains("Expired") => "expired",
        _ if err.contains("NotYetValid") => "not_yet_valid",
        _ if err.contains("IssuedInFuture") => "issued_in_future",
        _ => panic!("not a time refusal: {err}"),
    }
}

/// RFC 7519 §4.1.4–4.1.6 for `claim` at `quarters`/4 seconds, in exact
/// integers: expired iff `now ≥ exp + leeway`, not yet valid iff
/// `now < nbf − leeway`, issued in the future iff `iat > now + leeway`.
fn rfc_7519(claim: &str, quarters: i128, now: i128, leeway: i128) -> &'static str {
    let (now, leeway) = (4 * now, 4 * leeway);
    match claim {
        "exp" if now >= quarters + leeway => "expired",
        "nbf" if now < quarters - leeway => "not_yet_valid",
        "iat" if quarters > now + leeway => "issued_in_future",
        _ => "ok",
    }
}

/// Non-integer NumericDates (RFC 7519 §2) minted by PyJWT: ours accepts
/// the form and decides exactly as RFC 7519 says, at every whole `now`
/// around the date. PyJWT reads such a date as `int(x)` (truncated: its
/// `_validate_exp`), so the two agree on whole dates and differ, by design,
/// only where truncation moves the date: `exp` 1700000000.5 is still valid
/// at 1700000000 for us (and the RFC), expired for PyJWT. The oracle's
/// answers are checked against that model too, so a change on either side
/// shows.
#[test]
fn fractional_numeric_dates_against_pyjwt() {
    const BASE: &str = r#""iss":"armoriq-iap","aud":"armoriq-proxy","sub":"alice@example.com","jti":"intent-1","plan_id":"p-1","plan_hash":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","merkle_root":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","step_count":2"#;
    let d = dir("fractional");
    let nows: Vec<i64> = (1_699_999_998..=1_700_000_002).collect();
    let now_args: Vec<String> = nows.iter().map(i64::to_string).collect();
    let mut differ = 0;
    // (claim, JSON literal, the value in quarter seconds)
    for (claim, literal, quarters) in [
        ("exp", "1700000000.5", 6_800_000_002i128),
        ("exp", "1700000000.25", 6_800_000_001),
        ("exp", "1700000000", 6_800_000_000),
        ("exp", "1699999999.75", 6_799_999_999),
        ("nbf", "1700000000.5", 6_800_000_002),
        ("nbf", "1700000000", 6_800_000_000),
        ("iat", "1700000000.25", 6_800_000_001),
        ("iat", "1699999999.75", 6_799_999_999),
    ] {
        let exp = if claim == "exp" {
            String::new()
        } else {
            r#","exp":4102444800"#.to_owned()
        };
        let claims = format!("{{{BASE}{exp},\"{claim}\":{literal}}}");
        let out = oracle(&["mint", "EdDSA", p(&d), &claims]);
        let token = out.lines().next().unwrap().to_owned();
        for leeway in [0i64, 1] {
            let mut args = vec!["times", claims.as_str()];
            let leeway_s = leeway.to_string();
            args.push(&leeway_s);
            args.extend(now_args.iter().map(String::as_str));
            let theirs = oracle(&args);
            let theirs: Vec<&str> = theirs.lines().collect();
            assert_eq!(theirs.len(), nows.len());
            let truncated = quarters / 4 * 4;
            for (now, theirs) in nows.iter().zip(theirs) {
                let out = armoriq(&[
                    "token",
                    "verify",
                    "--key",
                    p(&d.join("public.pem")),
                    "--aud",
                    "armoriq-proxy",
                    "--now",
                    &now.to_string(),
                    "--leeway",
                    &leeway_s,
                    &token,
                ]);
                let ours = our_time_outcome(&out);
                let why = format!("{claim} {literal}, now {now}, leeway {leeway}");
                let (n, l) = (i128::from(*now), i128::from(leeway));
                assert_eq!(ours, rfc_7519(claim, quarters, n, l), "ours: {why}");
                assert_eq!(theirs, rfc_7519(claim, truncated, n, l), "PyJWT: {why}");
                if quarters % 4 == 0 {
                    assert_eq!(ours, theirs, "a whole date: {why}");
                }
                differ += usize::from(ours != theirs);
            }
        }
    }
    // Where truncation moves a date, the boundary second differs.
    assert!(differ > 0);
}
