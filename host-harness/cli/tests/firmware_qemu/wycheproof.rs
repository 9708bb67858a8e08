//! Wycheproof's ECDSA P-256 / SHA-256 vectors (IEEE P1363 signatures,
//! `ecdsa_secp256r1_sha256_p1363_test.json` in `shared/conformance`) on the
//! device, through the framed protocol, with both P-256 backends: p256-cm4
//! (the Cortex-M4F `test-vectors` image) and RustCrypto p256 (the Cortex-M3
//! one). Each verdict is Wycheproof's, so the two agree. In those images an
//! ES256 bare verify may carry its own key (`b64url(key).msg.b64url(sig)`),
//! parsed as a provisioned key is at boot: two keys off the curve are refused.

use super::{Image, boot, elf_var, qemu_ok, skip};
use armoriq_frame::{self as frame, Request, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use std::path::PathBuf;

fn shared() -> PathBuf {
    std::env::var_os("ARMORIQ_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// One vector: key (uncompressed point), message, signature, expected verdict.
struct Vector {
    id: String,
    key: Vec<u8>,
    msg: Vec<u8>,
    sig: Vec<u8>,
    valid: bool,
}

fn vectors() -> Vec<Vector> {
    let p = shared()
        .join("conformance/ecdsa_eddsa_jose/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    let mut v = Vec::new();
    for g in doc["testGroups"].as_array().unwrap() {
        let key = unhex(g["publicKey"]["uncompressed"].as_str().unwrap());
        for t in g["tests"].as_array().unwrap() {
            let result = t["result"].as_str().unwrap();
            assert_ne!(
                result, "acceptable",
                "no acceptable P1363 vector is expected"
            );
            v.push(Vector {
                id: format!("tcId {}", t["tcId"]),
                key: key.clone(),
                msg: unhex(t["msg"].as_str().unwrap()),
                sig: unhex(t["sig"].as_str().unwrap()),
                valid: result == "valid",
            });
        }
    }
    assert_eq!(v.len(), doc["numberOfTests"].as_u64().unwrap() as usize);
    // A valid signature under keys off the curve: y + 1, and x = p (the
    // prime itself, so not a field element).
    let good = v.iter().find(|t| t.valid).unwrap();
    let (msg, sig) = (good.msg.clone(), good.sig.clone());
    let mut off = good.key.clone();
    off[64] ^= 1;
    let mut big_x = good.key.clone();
    big_x[1..33].copy_from_slice(&unhex(
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
    ));
    for (id, key) in [("key off the curve", off), ("key x = p", big_x)] {
        v.push(Vector {
            id: id.into(),
            key,
            msg: msg.clone(),
            sig: sig.clone(),
            valid: false,
        });
    }
    v
}

#[test]
fn wycheproof_ecdsa_p256_on_device_with_both_backends() {
    if !qemu_ok() {
        return;
    }
    let vectors = vectors();
    let mut runs = Vec::new();
    for (var, machine) in [
        ("ARMORIQ_FIRMWARE_VECTORS_ELF", "mps2-an386"),
        // p256-cm4's table-based verify (issue 28) on the M33 as well.
        ("ARMORIQ_FIRMWARE_VECTORS_ELF_M33", "mps2-an505"),
        ("ARMORIQ_FIRMWARE_VECTORS_ELF_M3", "mps2-an385"),
    ] {
        let Some(elf) = elf_var(var) else {
            skip(&format!("{var} is not set (scripts/firmware-ci.sh)"));
            continue;
        };
        let img = Image {
            elf,
            machine: machine.into(),
            main: false,
        };
        let mut dev = boot(&img, false);
        let mut verdicts = Vec::new();
        for t in &vectors {
            let mut token = B64.encode(&t.key).into_bytes();
            token.push(b'.');
            token.extend_from_slice(&t.msg);
            token.push(b'.');
            token.extend_from_slice(B64.encode(&t.sig).as_bytes());
            let req = Request::BareVerify {
                alg: frame::Alg::Es256,
                token: &token,
            };
            let ok = match dev.request(&req).unwrap().response() {
                Response::BareVerify { ok, .. } => ok,
                other => panic!("{}: not a bare verify answer: {other:?}", t.id),
            };
            assert_eq!(ok, t.valid, "{machine}: Wycheproof {}", t.id);
            verdicts.push(ok);
        }
        assert_eq!(dev.qemu_exited().unwrap(), None, "the firmware stopped");
        let valid = verdicts.iter().filter(|&&ok| ok).count();
        eprintln!(
            "{machine}: {} ECDSA P-256 vectors, {valid} valid, {} invalid: all as Wycheproof says",
            verdicts.len(),
            verdicts.len() - valid
        );
        runs.push(verdicts);
    }
    if let [a, rest @ ..] = runs.as_slice() {
        for b in rest {
            assert_eq!(a, b, "p256-cm4 (M4F, M33) and RustCrypto (M3) disagree");
        }
    }
}
