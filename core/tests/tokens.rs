//! Signed tokens through the project's own verification path: Wycheproof
//! ECDSA P-256 (P1363) and Ed25519, Wycheproof JWS, RFC 7515 A.3 / A.5 and
//! RFC 8037 A.4, the SDK's EdDSA JWT vectors and CSRG token vectors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use armoriq_core::keys::KeySet;
use armoriq_core::{Error, RustCrypto, csrg, jws};
use common::*;

type Keys = KeySet<RustCrypto, 4>;

fn wycheproof(name: &str) -> serde_json::Value {
    read_json(
        &shared()
            .join("conformance/ecdsa_eddsa_jose/wycheproof")
            .join(name),
    )
}

/// Runs a Wycheproof signature-verify suite through the key set and
/// `PublicKey::verify`; returns the (valid, invalid) counts.
fn suite(file: &str, es256: bool) -> (usize, usize) {
    let v = wycheproof(file);
    let (mut valid, mut invalid) = (0, 0);
    for g in v["testGroups"].as_array().unwrap() {
        let mut keys = Keys::new();
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
            let id = format!("{file} tcId {} {}", t["tcId"], t["comment"]);
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert_eq!(r, Ok(()), "{id}");
                    valid += 1;
                }
                "invalid" => {
                    assert_eq!(r, Err(Error::BadSignature), "{id}");
                    invalid += 1;
                }
                _ => {}
            }
        }
    }
    (valid, invalid)
}

#[test]
fn wycheproof_ecdsa_p256_sha256_p1363() {
    assert_eq!(
        suite("ecdsa_secp256r1_sha256_p1363_test.json", true),
        (173, 89),
        "every test ran"
    );
}

#[test]
fn wycheproof_ed25519() {
    assert_eq!(
        suite("ed25519_test.json", false),
        (88, 63),
        "every test ran"
    );
}

#[test]
fn wycheproof_jws_es256() {
    let v = wycheproof("json_web_signature_test.json");
    let (mut valid, mut invalid, mut other) = (0, 0, 0);
    for g in v["testGroups"].as_array().unwrap() {
        let public = &g["public"];
        let es256 = public["kty"] == "EC" && public["crv"] == "P-256";
        let eddsa = public["kty"] == "OKP" && public["crv"] == "Ed25519";
        if !(es256 || eddsa) {
            other += g["tests"].as_array().unwrap().len();
            continue;
        }
        let mut keys = Keys::new();
        let loaded = keys.add_jwk(&serde_json::to_vec(public).unwrap());
        for t in g["tests"].as_array().unwrap() {
            let Some(jws_text) = t["jws"].as_str() else {
                other += 1; // JSON serialization: not a compact token.
                continue;
            };
            let mut buf = [0u8; 1024];
            // A key refused at loading (wrong `use`/`key_ops`) verifies nothing.
            let r =
                loaded.and_then(|()| jws::verify(jws_text.as_bytes(), &keys, &mut buf).map(|_| ()));
            match t["result"].as_str().unwrap() {
                "valid" => {
                    r.unwrap_or_else(|e| panic!("tcId {} {}: {e}", t["tcId"], t["comment"]));
                    valid += 1;
                }
                _ => {
                    assert!(r.is_err(), "tcId {} {} accepted", t["tcId"], t["comment"]);
                    invalid += 1;
                }
            }
        }
    }
    assert_eq!((valid, invalid), (2, 39), "other algorithms: {other}");
}

#[test]
fn rfc7515_and_rfc8037_examples() {
    let v = read_json(&shared().join("conformance/jws/rfc7515_rfc8037_examples.json"));
    let mut seen = 0;
    for t in v["vectors"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        let compact = t["compact"].as_str().unwrap().as_bytes();
        let mut buf = [0u8; 1024];
        match t["alg"].as_str().unwrap() {
            "ES256" | "EdDSA" => {
                let mut keys = Keys::new();
                // The JWKs carry the private `d`: only the public members are read.
                keys.add_jwk(&serde_json::to_vec(&t["jwk"]).unwrap())
                    .unwrap();
                let r = jws::verify(compact, &keys, &mut buf);
                if t["expected"] == "valid" {
                    let got = r.unwrap_or_else(|e| panic!("{id}: {e}"));
                    assert_eq!(
                        got.payload,
                        t["payload_utf8"].as_str().unwrap().as_bytes(),
                        "{id}"
                    );
                } else {
                    assert!(r.is_err(), "{id}");
                }
                seen += 1;
            }
            "none" => {
                let mut keys = Keys::new();
                keys.add_ed25519(None, &[0x3b; 32]).ok();
                assert_eq!(
                    jws::verify(compact, &keys, &mut buf),
                    Err(Error::AlgNone),
                    "{id}"
                );
                seen += 1;
            }
            _ => {}
        }
    }
    assert_eq!(seen, 4);
}

#[test]
fn sdk_eddsa_jwt_vectors() {
    // The SDK checks only alg and signature; a token it rejects we reject too,
    // and every signature it accepts verifies here.
    let v = read_json(&shared().join("vectors/armoriq/eddsa_jwt.json"));
    let pk: [u8; 32] = unhex(v["trusted_public_key_hex"].as_str().unwrap())
        .try_into()
        .unwrap();
    let mut keys = Keys::new();
    keys.add_ed25519(None, &pk).unwrap();
    for t in v["vectors"].as_array().unwrap() {
        let mut buf = [0u8; 1024];
        let r = jws::verify(t["jwt"].as_str().unwrap().as_bytes(), &keys, &mut buf);
        if t["verify_eddsa_jwt_by_sdk"] == false {
            assert!(r.is_err(), "{} accepted", t["name"]);
        } else if r.is_err() {
            // Accepted by the SDK's lax check (padding, trailing '=') but not
            // canonical base64url: we reject by design.
            assert!(
                matches!(r, Err(Error::Base64 { .. })),
                "{}: {r:?}",
                t["name"]
            );
        }
    }
}

#[test]
fn csrg_token_vectors() {
    let v = read_json(&shared().join("vectors/armoriq/intent_token_signatures.json"));
    let mut n = 0;
    for t in v["vectors"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let token = serde_json::to_vec(&t["token"]).unwrap();
        let mut scratch = [0u8; 4096];
        let got = csrg::verify::<RustCrypto>(&token, None, &mut scratch)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.plan_hash, t["token"]["plan_hash"].as_str().unwrap());
        // The trusted key pins the signer.
        let pk = got.public_key;
        assert!(csrg::verify::<RustCrypto>(&token, Some(&pk), &mut scratch).is_ok());
        assert_eq!(
            csrg::verify::<RustCrypto>(&token, Some(&[7; 32]), &mut scratch),
            Err(Error::UnknownKid)
        );
        // Any signed field changed: the signature fails.
        for field in [
            "plan_hash",
            "expires_at",
            "issued_at",
            "version",
            "identity",
        ] {
            let mut tampered = t["token"].clone();
            tampered[field] = serde_json::json!("tampered");
            let bytes = serde_json::to_vec(&tampered).unwrap();
            assert_eq!(
                csrg::verify::<RustCrypto>(&bytes, None, &mut scratch).map(|_| ()),
                Err(Error::BadSignature),
                "{name}: {field}"
            );
        }
        // An unsigned field changed: still valid.
        let mut extra = t["token"].clone();
        extra["token_id"] = serde_json::json!("changed");
        assert!(
            csrg::verify::<RustCrypto>(&serde_json::to_vec(&extra).unwrap(), None, &mut scratch)
                .is_ok()
        );
        n += 1;
    }
    assert_eq!(n, 7);
}

#[test]
fn numeric_dates_with_fractions_round_up() {
    // Up, so that whole-second checks stay exact (RFC 7519: a token with exp
    // 1700000060.5 is still good at 1700000060).
    let c = jws::Claims::parse(br#"{"exp":1700000060.5,"nbf":-1.5,"iat":1e9}"#).unwrap();
    assert_eq!(
        (c.exp, c.nbf, c.iat),
        (Some(1_700_000_061), Some(-1), Some(1_000_000_000))
    );
    assert_eq!(
        jws::Claims::parse(br#"{"exp":"soon"}"#).map(|_| ()),
        Err(Error::InvalidClaim { claim: "exp" })
    );
    assert_eq!(
        jws::Claims::parse(br#"{"exp":1,"exp":2}"#).map(|_| ()),
        Err(Error::ClaimsMalformed)
    );
    assert_eq!(
        jws::Claims::parse(br#"{"step_count":0}"#).map(|_| ()),
        Err(Error::InvalidClaim {
            claim: "step_count"
        })
    );
}
