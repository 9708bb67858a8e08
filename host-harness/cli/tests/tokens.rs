//! Tokens on the host: both signature backends give the same verdicts on the
//! Wycheproof suites; minted tokens verify; any single-byte change is
//! rejected; `verify_invocation` accepts the signed call and rejects every
//! mismatch with the right kind; the CLI's keygen / mint / verify.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use armoriq_common::backend::{AwsLc, Host};
use armoriq_common::keys::{SigningKey, parse_public_key};
use armoriq_common::proofs::plan_hashes;
use armoriq_core::jws::{self, Expect};
use armoriq_core::keys::KeySet;
use armoriq_core::{
    Alg, Backend, Call, Error, ErrorKind, Profile, RustCrypto, StepProof, verify_invocation,
};
use proptest::prelude::*;
use std::path::PathBuf;
use std::process::Command;

fn shared() -> PathBuf {
    std::env::var_os("ARMORIQ_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn wycheproof(name: &str) -> serde_json::Value {
    let p = shared()
        .join("conformance/ecdsa_eddsa_jose/wycheproof")
        .join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Runs a Wycheproof verify suite through backend `B`; returns (valid, invalid) counts.
fn run_suite<B: Backend>(file: &str, es256: bool) -> (usize, usize) {
    let v = wycheproof(file);
    let (mut valid, mut invalid) = (0, 0);
    for g in v["testGroups"].as_array().unwrap() {
        let mut keys = KeySet::<B, 1>::new();
        if es256 {
            keys.add_es256(
                None,
                &unhex(g["publicKey"]["uncompressed"].as_str().unwrap()),
            )
            .unwrap();
        } else {
            let pk: [u8; 32] = unhex(g["publicKey"]["pk"].as_str().unwrap())
                .try_into()
                .unwrap();
            keys.add_ed25519(None, &pk).unwrap();
        }
        let key = keys.iter().next().unwrap().key();
        for t in g["tests"].as_array().unwrap() {
            let r = key.verify(
                &unhex(t["msg"].as_str().unwrap()),
                &unhex(t["sig"].as_str().unwrap()),
            );
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert_eq!(r, Ok(()), "{file} tcId {} {}", t["tcId"], t["comment"]);
                    valid += 1;
                }
                "invalid" => {
                    assert_eq!(
                        r,
                        Err(Error::BadSignature),
                        "{file} tcId {} {}",
                        t["tcId"],
                        t["comment"]
                    );
                    invalid += 1;
                }
                _ => {}
            }
        }
    }
    (valid, invalid)
}

#[test]
fn every_backend_passes_wycheproof() {
    for (file, es256, want) in [
        ("ecdsa_secp256r1_sha256_p1363_test.json", true, (173, 89)),
        ("ed25519_test.json", false, (88, 63)),
    ] {
        assert_eq!(
            run_suite::<RustCrypto>(file, es256),
            want,
            "RustCrypto {file}"
        );
        assert_eq!(run_suite::<AwsLc>(file, es256), want, "aws-lc-rs {file}");
        assert_eq!(run_suite::<Host>(file, es256), want, "host {file}");
    }
}

const NOW: i64 = 1_800_000_000;

fn claims(plan: &serde_json::Value, exp: i64) -> (Vec<u8>, armoriq_common::proofs::PlanHashes) {
    let (_, hashes) = plan_hashes(plan.to_string().as_bytes(), Profile::ArmorIq).unwrap();
    let c = serde_json::json!({
        "iss": "armoriq-iap", "aud": "armoriq-proxy", "sub": "alice@example.com",
        "iat": NOW - 10, "nbf": NOW - 10, "exp": exp, "jti": "intent-42", "plan_id": "plan-1",
        "plan_hash": hashes.plan_hash, "merkle_root": hashes.merkle_root,
        "step_count": hashes.step_proofs.len(),
    });
    (c.to_string().into_bytes(), hashes)
}

fn plan() -> serde_json::Value {
    serde_json::json!({"goal": "weather", "steps": [
        {"action": "get_weather", "mcp": "weather-mcp", "params": {"city": "Boston"}},
        {"action": "send_email", "mcp": "mail-mcp", "params": {"to": "team@example.com", "n": 1.0}},
        {"action": "log", "mcp": "audit"},
    ]})
}

fn keyset<B: Backend>(key: &SigningKey) -> KeySet<B, 2> {
    let p = key.public();
    let mut ks = KeySet::<B, 2>::new();
    match p.alg {
        Alg::Es256 => ks.add_es256(None, &p.raw).unwrap(),
        Alg::EdDsa => ks
            .add_ed25519(None, &p.raw.clone().try_into().unwrap())
            .unwrap(),
    }
    ks
}

fn siblings(h: &armoriq_common::proofs::PlanHashes, i: usize) -> Vec<[u8; 32]> {
    h.step_proofs[i]
        .siblings
        .iter()
        .map(|s| unhex(s).try_into().unwrap())
        .collect()
}

fn check_invocations<B: Backend>(key: &SigningKey) {
    let plan = plan();
    let (c, hashes) = claims(&plan, NOW + 300);
    let token = key.sign_jwt(&c, None).unwrap();
    let keys = keyset::<B>(key);
    let expect = Expect {
        now: NOW,
        leeway: 5,
        audience: Some("armoriq-proxy"),
        issuer: Some("armoriq-iap"),
    };
    let mut buf = [0u8; 2048];
    for i in 0..3 {
        let step = plan["steps"][i].to_string();
        let sib = siblings(&hashes, i);
        let proof = StepProof {
            step: step.as_bytes(),
            index: i as u64,
            tree_size: 3,
            siblings: &sib,
        };
        let params = plan["steps"][i].get("params").map(|p| {
            // The same params, written differently: canonically equal.
            let mut s = serde_json::to_string_pretty(p).unwrap();
            s.push(' ');
            s
        });
        let call = Call {
            mcp: plan["steps"][i]["mcp"].as_str().unwrap(),
            action: plan["steps"][i]["action"].as_str().unwrap(),
            params: params.as_deref().map(str::as_bytes),
        };
        let ok =
            verify_invocation(token.as_bytes(), &call, &proof, &expect, &keys, &mut buf).unwrap();
        assert_eq!(ok.index, i as u64);
        assert_eq!(hex(&ok.merkle_root), hashes.merkle_root);
        // The params byte for byte as in the step (the check's shortcut), and
        // the same bytes with one character changed.
        if let Some(p) = plan["steps"][i].get("params") {
            let exact = p.to_string();
            assert!(step.contains(&exact));
            let same = Call {
                params: Some(exact.as_bytes()),
                ..call
            };
            verify_invocation(token.as_bytes(), &same, &proof, &expect, &keys, &mut buf).unwrap();
            let changed = exact.replacen('o', "0", 1);
            let r = verify_invocation(
                token.as_bytes(),
                &Call {
                    params: Some(changed.as_bytes()),
                    ..call
                },
                &proof,
                &expect,
                &keys,
                &mut buf,
            )
            .unwrap_err();
            assert_eq!(r, Error::CallMismatch { field: "params" });
        }

        let reject =
            |call: &Call<'_>, proof: &StepProof<'_, [u8; 32]>, expect: &Expect<'_>, token: &str| {
                let mut buf = [0u8; 2048];
                verify_invocation(token.as_bytes(), call, proof, expect, &keys, &mut buf)
                    .unwrap_err()
            };
        let mismatch = |field| (ErrorKind::IntentMismatch, Error::CallMismatch { field });
        let r = reject(
            &Call {
                mcp: "other-mcp",
                ..call
            },
            &proof,
            &expect,
            &token,
        );
        assert_eq!((r.kind(), r), mismatch("mcp"));
        let r = reject(
            &Call {
                action: "delete_everything",
                ..call
            },
            &proof,
            &expect,
            &token,
        );
        assert_eq!((r.kind(), r), mismatch("action"));
        if call.params.is_some() {
            let r = reject(
                &Call {
                    params: Some(br#"{"city":"Paris","to":"x"}"#),
                    ..call
                },
                &proof,
                &expect,
                &token,
            );
            assert_eq!((r.kind(), r), mismatch("params"));
            let r = reject(
                &Call {
                    params: None,
                    ..call
                },
                &proof,
                &expect,
                &token,
            );
            assert_eq!((r.kind(), r), mismatch("params"));
        }
        // Wrong proofs.
        let mut bad = sib.clone();
        bad[0][0] ^= 1;
        let r = reject(
            &call,
            &StepProof {
                siblings: &bad,
                ..proof
            },
            &expect,
            &token,
        );
        assert_eq!(
            (r.kind(), r),
            (ErrorKind::IntentMismatch, Error::RootMismatch)
        );
        let r = reject(
            &call,
            &StepProof {
                index: (i as u64 + 1) % 3,
                ..proof
            },
            &expect,
            &token,
        );
        assert_eq!(r.kind(), ErrorKind::IntentMismatch);
        let r = reject(
            &call,
            &StepProof {
                tree_size: 4,
                ..proof
            },
            &expect,
            &token,
        );
        assert_eq!(
            r,
            Error::StepCountMismatch {
                signed: 3,
                proof: 4
            }
        );
        // Another step's body with this step's proof.
        let other = plan["steps"][(i + 1) % 3].to_string();
        let r = reject(
            &call,
            &StepProof {
                step: other.as_bytes(),
                ..proof
            },
            &expect,
            &token,
        );
        assert_eq!(
            (r.kind(), r),
            (ErrorKind::IntentMismatch, Error::RootMismatch)
        );
        // RFC 7519 §4.1.4 boundary: accepted the second before exp + leeway,
        // expired at it (on the verified-token path and on a re-check).
        let last = Expect {
            now: NOW + 304,
            ..expect
        };
        verify_invocation(token.as_bytes(), &call, &proof, &last, &keys, &mut buf).unwrap();
        let at = Expect {
            now: NOW + 305,
            ..expect
        };
        let r = reject(&call, &proof, &at, &token);
        assert_eq!(
            (r.kind(), r),
            (
                ErrorKind::TokenExpired,
                Error::Expired {
                    now: NOW + 305,
                    exp: NOW + 300
                }
            )
        );
        let cached = armoriq_core::SignedIntent {
            plan_hash: [0; 32],
            merkle_root: [0; 32],
            step_count: 3,
            exp: NOW + 300,
            nbf: None,
            iat: None,
        };
        assert!(cached.check_time(NOW + 304, 5).is_ok());
        assert!(cached.check_time(NOW + 299, 0).is_ok());
        assert_eq!(
            cached.check_time(NOW + 300, 0),
            Err(Error::Expired {
                now: NOW + 300,
                exp: NOW + 300
            })
        );
        // Token problems.
        let late = Expect {
            now: NOW + 306,
            ..expect
        };
        let r = reject(&call, &proof, &late, &token);
        assert_eq!(
            (r.kind(), r),
            (
                ErrorKind::TokenExpired,
                Error::Expired {
                    now: NOW + 306,
                    exp: NOW + 300
                }
            )
        );
        let r = reject(
            &call,
            &proof,
            &Expect {
                audience: Some("someone-else"),
                ..expect
            },
            &token,
        );
        assert_eq!(
            (r.kind(), r),
            (ErrorKind::InvalidToken, Error::AudienceMismatch)
        );
        let r = reject(
            &call,
            &proof,
            &Expect {
                issuer: Some("evil"),
                ..expect
            },
            &token,
        );
        assert_eq!(
            (r.kind(), r),
            (ErrorKind::InvalidToken, Error::IssuerMismatch)
        );
        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 3;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let r = reject(
            &call,
            &proof,
            &expect,
            std::str::from_utf8(&forged).unwrap(),
        );
        assert_eq!(r.kind(), ErrorKind::InvalidToken);
    }
    // A token signed by another key.
    let (other, _) = SigningKey::generate(key.alg()).unwrap();
    let foreign = other.sign_jwt(&c, None).unwrap();
    let step = plan["steps"][0].to_string();
    let sib = siblings(&hashes, 0);
    let proof = StepProof {
        step: step.as_bytes(),
        index: 0,
        tree_size: 3,
        siblings: &sib,
    };
    let call = Call {
        mcp: "weather-mcp",
        action: "get_weather",
        params: Some(br#"{"city":"Boston"}"#),
    };
    let r =
        verify_invocation(foreign.as_bytes(), &call, &proof, &expect, &keys, &mut buf).unwrap_err();
    assert_eq!(
        (r.kind(), r),
        (ErrorKind::InvalidToken, Error::BadSignature)
    );
}

#[test]
fn invocation_check_es256_and_eddsa_on_every_backend() {
    for alg in [Alg::Es256, Alg::EdDsa] {
        let (key, _) = SigningKey::generate(alg).unwrap();
        check_invocations::<RustCrypto>(&key);
        check_invocations::<AwsLc>(&key);
        check_invocations::<Host>(&key);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_single_byte_change_is_rejected(eddsa in any::<bool>(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let alg = if eddsa { Alg::EdDsa } else { Alg::Es256 };
        let (key, _) = SigningKey::generate(alg).unwrap();
        let (c, _) = claims(&plan(), NOW + 300);
        let token = key.sign_jwt(&c, Some("k1")).unwrap().into_bytes();
        let mut keys = keyset::<AwsLc>(&key);
        keys.add_ed25519(Some(b"unrelated"), &[0x3b; 32]).ok();
        let mut buf = [0u8; 2048];
        prop_assert!(jws::verify(&token, &keys, &mut buf).is_ok());
        let i = pos.index(token.len());
        prop_assume!(token[i] != byte);
        let mut t = token.clone();
        t[i] = byte;
        prop_assert!(jws::verify(&t, &keys, &mut buf).is_err(), "changed byte {} accepted", i);
        let rc = keyset::<RustCrypto>(&key);
        prop_assert!(jws::verify(&t, &rc, &mut buf).is_err());
    }

    #[test]
    fn claims_round_trip(sub in "[a-z]{1,8}@[a-z]{1,8}\\.com", exp in 1_000_000_000i64..4_000_000_000, n in 1u64..1000) {
        let (key, _) = SigningKey::generate(Alg::EdDsa).unwrap();
        let c = serde_json::json!({"sub": sub, "exp": exp, "step_count": n, "jti": "j",
            "plan_hash": "ab".repeat(32), "merkle_root": "cd".repeat(32)});
        let token = key.sign_jwt(c.to_string().as_bytes(), None).unwrap();
        let keys = keyset::<AwsLc>(&key);
        let mut buf = [0u8; 2048];
        let v = jws::verify(token.as_bytes(), &keys, &mut buf).unwrap();
        let got = jws::Claims::parse(v.payload).unwrap();
        prop_assert!(got.sub.unwrap().eq_str(&sub));
        prop_assert_eq!(got.exp, Some(exp));
        prop_assert_eq!(got.step_count, Some(n));
        prop_assert_eq!(got.plan_hash, Some([0xab; 32]));
    }

    #[test]
    fn arbitrary_tokens_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let (key, _) = SigningKey::generate(Alg::EdDsa).unwrap();
        let keys = keyset::<RustCrypto>(&key);
        let mut buf = [0u8; 512];
        let _ = jws::verify(&bytes, &keys, &mut buf);
        let mut dotted = bytes.clone();
        dotted.extend_from_slice(b".eyJ9.AAAA");
        let _ = jws::verify(&dotted, &keys, &mut buf);
        let _ = jws::Claims::parse(&bytes);
    }
}

#[test]
fn header_rejections_each_have_their_own_error() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let (key, _) = SigningKey::generate(Alg::EdDsa).unwrap();
    let mut keys = keyset::<RustCrypto>(&key);
    let (es, _) = SigningKey::generate(Alg::Es256).unwrap();
    keys.add_es256(Some(b"es"), &es.public().raw).unwrap();
    let sign = |header: &str| {
        let input = format!("{}.{}", b64(header), b64(r#"{"exp":1}"#));
        let sig = key.sign(input.as_bytes()).unwrap();
        format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
        )
    };
    let mut buf = [0u8; 256];
    let mut v = |h: &str| jws::verify(sign(h).as_bytes(), &keys, &mut buf).map(|_| ());
    assert_eq!(v(r#"{"alg":"EdDSA"}"#), Ok(()));
    assert_eq!(v(r#"{"alg":"none"}"#), Err(Error::AlgNone));
    assert_eq!(v(r#"{"alg":"HS256"}"#), Err(Error::AlgUnsupported));
    assert_eq!(
        v(r#"{"alg":"EdDSA","alg":"ES256"}"#),
        Err(Error::DuplicateHeaderMember)
    );
    assert_eq!(
        v(r#"{"alg":"EdDSA","crit":["exp"]}"#),
        Err(Error::CritUnsupported)
    );
    assert_eq!(v(r#"{"alg":"EdDSA","crit":[]}"#), Err(Error::CritMalformed));
    assert_eq!(v(r#"{"alg":"EdDSA","kid":"es"}"#), Err(Error::AlgMismatch));
    assert_eq!(
        v(r#"{"alg":"ES256","kid":"nobody"}"#),
        Err(Error::UnknownKid)
    );
    assert_eq!(
        v(r#"{"alg":"ES256"}"#),
        Err(Error::BadSignature),
        "an Ed25519 signature under the ES256 key"
    );
    assert_eq!(v(r#"["alg"]"#), Err(Error::HeaderMalformed));
    assert_eq!(v(r#"{"alg":1}"#), Err(Error::HeaderMalformed));
    assert_eq!(
        jws::verify(b"a.b", &keys, &mut buf).map(|_| ()),
        Err(Error::TokenMalformed)
    );
    assert_eq!(
        jws::verify(b"a.b.c.d", &keys, &mut buf).map(|_| ()),
        Err(Error::TokenMalformed)
    );
}

#[test]
fn public_keys_load_from_every_sdk_encoding() {
    // public_key_loading.json: what the SDK loads we load to the same key,
    // what it refuses we refuse.
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(shared().join("vectors/armoriq/public_key_loading.json")).unwrap(),
    )
    .unwrap();
    let (mut loaded, mut refused) = (0, 0);
    for case in v["load_ed25519_public_key"].as_array().unwrap() {
        let source = &case["source"];
        if source == "<bytes>" {
            continue; // a Python bytes object: no text form
        }
        let text = source
            .as_str()
            .map_or_else(|| source.to_string(), str::to_owned);
        let got = parse_public_key(&text);
        match case["loaded_raw_hex_by_sdk"].as_str() {
            Some(want) => {
                assert_eq!(
                    got.unwrap_or_else(|e| panic!("{}: {e}", case["name"])).raw,
                    unhex(want),
                    "{}",
                    case["name"]
                );
                loaded += 1;
            }
            None => {
                assert!(got.is_err(), "{} accepted", case["name"]);
                refused += 1;
            }
        }
    }
    // The /iap/public-key response bodies the SDK resolves.
    for case in v["ensure_iap_public_key"].as_array().unwrap() {
        let Some(want) = case["resolved_raw_hex_by_sdk"].as_str() else {
            continue;
        };
        let body = &case["response_body"];
        let text = body
            .as_str()
            .map_or_else(|| body.to_string(), str::to_owned);
        let got = parse_public_key(&text).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(got.raw, unhex(want), "{}", case["name"]);
        loaded += 1;
    }
    assert_eq!((loaded, refused), (9 + 9, 4));
}

fn armoriq(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_armoriq"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_keygen_mint_verify() {
    let dir = std::env::temp_dir().join(format!("armoriq-tok-{}", std::process::id()));
    for alg in ["ES256", "EdDSA"] {
        let out = dir.join(alg);
        let o = out.to_str().unwrap();
        assert_eq!(
            armoriq(&["keygen", "--alg", alg, "--out", o, "--kid", "k1"])
                .status
                .code(),
            Some(0)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join("private.pem"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            armoriq(&["keygen", "--alg", alg, "--out", o]).status.code(),
            Some(2),
            "no overwrite"
        );
        let (c, _) = claims(&plan(), 4_102_444_800);
        std::fs::write(out.join("claims.json"), &c).unwrap();
        let priv_path = out.join("private.pem");
        let claims_path = out.join("claims.json");
        let m = armoriq(&[
            "token",
            "mint",
            "--key",
            priv_path.to_str().unwrap(),
            "--claims",
            claims_path.to_str().unwrap(),
            "--kid",
            "k1",
        ]);
        assert_eq!(m.status.code(), Some(0));
        let token = String::from_utf8(m.stdout).unwrap().trim().to_owned();
        for public in ["public.jwk", "public.pem"] {
            let p = out.join(public);
            let p = p.to_str().unwrap();
            let ok = armoriq(&[
                "token",
                "verify",
                "--key",
                p,
                "--aud",
                "armoriq-proxy",
                "--iss",
                "armoriq-iap",
                "--now",
                "1800000000",
                &token,
            ]);
            assert_eq!(
                ok.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&ok.stderr)
            );
            let got: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
            assert_eq!(got["jti"], "intent-42");
            let exp = armoriq(&["token", "verify", "--key", p, "--now", "4102444801", &token]);
            assert_eq!(exp.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&exp.stderr).starts_with("error: TokenExpired: "));
            let aud = armoriq(&[
                "token",
                "verify",
                "--key",
                p,
                "--aud",
                "x",
                "--now",
                "1800000000",
                &token,
            ]);
            assert_eq!(aud.status.code(), Some(1));
            assert!(
                String::from_utf8_lossy(&aud.stderr)
                    .starts_with("error: InvalidToken: AudienceMismatch")
            );
        }
        assert_eq!(
            armoriq(&["token", "verify", "--key", "/nonexistent", &token])
                .status
                .code(),
            Some(2)
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
