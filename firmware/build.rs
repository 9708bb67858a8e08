//! Build script: puts the board's `memory.x` on the linker path, picks the
//! board and the P-256 backend for the target, and provisions the trusted
//! keys into the image.
//!
//! Boards: `thumbv8m.main-none-eabihf` is the Cortex-M33 of QEMU `mps2-an505`
//! (`memory-an505.x`, cfg `armoriq_an505`); the others are the MPS2
//! AN385/AN386 (`memory-mps2.x`). P-256 backend (cfg `armoriq_p256`): `cm4`
//! (p256-cm4) with feature `p256-cm4` on thumbv7em / thumbv8m.main unless
//! `rustcrypto-p256` is on; `rustcrypto` on thumbv7m or with
//! `rustcrypto-p256`; `none` without `es256`. Receipt signer (cfg
//! `armoriq_receipt`): `es256-cm4` / `es256-rustcrypto` (feature `receipts`,
//! the P-256 backend's), `ed25519` (feature `receipts-ed25519`), `none`.
//!
//! The device's receipt key is `$ARMORIQ_DEVICE_KEY` if set, else
//! `keys/dev/device-p256.pem` (ES256 receipts) or
//! `keys/dev/device-ed25519.pem` (Ed25519 receipts): a PKCS#8 PEM.
//!
//! The key file is `$ARMORIQ_FIRMWARE_KEYS` if set, else `keys/trusted.json`.
//! It is either a JWK Set `{"keys": [JWK, ...]}` with optional verifier
//! settings `"audience"`, `"issuer"` (strings) and `"leeway"` (seconds), or a
//! single JWK. JWKs are P-256 (`"kty":"EC","crv":"P-256","x","y"`) or Ed25519
//! (`"kty":"OKP","crv":"Ed25519","x"`), with optional `kid` and `alg` (which
//! must then agree). Any problem fails the build with a message.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Most keys one image carries.
const MAX_KEYS: usize = 8;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target = std::env::var("TARGET").expect("TARGET");
    let an505 = target.starts_with("thumbv8m.main");
    let memory = if an505 {
        "memory-an505.x"
    } else {
        "memory-mps2.x"
    };
    std::fs::copy(memory, out.join("memory.x")).expect("copy memory.x");
    std::fs::copy("device.x", out.join("device.x")).expect("copy device.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-mps2.x");
    println!("cargo:rerun-if-changed=memory-an505.x");
    println!("cargo::rustc-check-cfg=cfg(armoriq_an505)");
    println!("cargo::rustc-check-cfg=cfg(armoriq_p256, values(\"cm4\", \"rustcrypto\", \"none\"))");
    if an505 {
        println!("cargo:rustc-cfg=armoriq_an505");
    }
    let feature = |f: &str| std::env::var_os(format!("CARGO_FEATURE_{f}")).is_some();
    let dsp = target.starts_with("thumbv7em") || an505;
    let p256 = if !feature("ES256") {
        "none"
    } else if feature("RUSTCRYPTO_P256") || target.starts_with("thumbv7m-") {
        "rustcrypto"
    } else if feature("P256_CM4") && dsp {
        "cm4"
    } else {
        eprintln!(
            "error: feature es256 needs a P-256 backend on {target}: p256-cm4 or rustcrypto-p256"
        );
        std::process::exit(1);
    };
    println!("cargo:rustc-cfg=armoriq_p256=\"{p256}\"");
    println!(
        "cargo::rustc-check-cfg=cfg(armoriq_receipt, values(\"es256-cm4\", \"es256-rustcrypto\", \"ed25519\", \"none\"))"
    );
    let receipt = match (feature("RECEIPTS"), feature("RECEIPTS_ED25519"), p256) {
        (true, true, _) => {
            eprintln!("error: features receipts (ES256) and receipts-ed25519: choose one");
            std::process::exit(1);
        }
        (true, false, "cm4") => "es256-cm4",
        (true, false, _) => "es256-rustcrypto",
        (false, true, _) => "ed25519",
        (false, false, _) => "none",
    };
    println!("cargo:rustc-cfg=armoriq_receipt=\"{receipt}\"");
    println!("cargo:rerun-if-changed=device.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=ARMORIQ_FIRMWARE_KEYS");

    let path = std::env::var_os("ARMORIQ_FIRMWARE_KEYS")
        .map_or_else(|| PathBuf::from("keys/trusted.json"), PathBuf::from);
    println!("cargo:rerun-if-changed={}", path.display());
    let code = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| provision(&b))
    {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: trusted keys {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    let ed25519 = receipt == "ed25519";
    let device = std::env::var_os("ARMORIQ_DEVICE_KEY").map_or_else(
        || {
            PathBuf::from(if ed25519 {
                "keys/dev/device-ed25519.pem"
            } else {
                "keys/dev/device-p256.pem"
            })
        },
        PathBuf::from,
    );
    println!("cargo:rerun-if-env-changed=ARMORIQ_DEVICE_KEY");
    println!("cargo:rerun-if-changed={}", device.display());
    let seed = match std::fs::read_to_string(&device)
        .map_err(|e| e.to_string())
        .and_then(|pem| {
            if ed25519 {
                device_seed(&pem)
            } else {
                device_p256(&pem)
            }
        }) {
        Ok(seed) => seed,
        Err(e) => {
            eprintln!("error: device key {}: {e}", device.display());
            std::process::exit(1);
        }
    };
    let code = format!(
        "{code}/// The device's receipt key, provisioned at build: the Ed25519 seed\n\
         /// (`receipts-ed25519`) or the P-256 private scalar, big-endian.\n\
         #[allow(dead_code)]\npub static DEVICE_KEY: [u8; 32] = {};\n",
        bytes_lit(&seed)
    );
    std::fs::write(out.join("provisioned.rs"), code).expect("write provisioned.rs");
}

/// The 32-byte seed of an Ed25519 private key in PKCS#8 PEM (RFC 8410, as
/// `armoriq keygen --alg EdDSA` and `openssl genpkey -algorithm ed25519`
/// write it): the DER is a fixed 16-byte prefix and the seed.
fn device_seed(pem: &str) -> Result<[u8; 32], String> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    if !pem.contains("-----BEGIN PRIVATE KEY-----") {
        return Err("not a PKCS#8 PEM (BEGIN PRIVATE KEY)".into());
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| e.to_string())?;
    match der.strip_prefix(&PREFIX) {
        Some(seed) if seed.len() == 32 => Ok(seed.try_into().unwrap()),
        _ => Err("not an Ed25519 PKCS#8 key (RFC 8410)".into()),
    }
}

/// The private scalar of a P-256 private key in PKCS#8 PEM (RFC 5208 with
/// RFC 5915's ECPrivateKey inside, as `openssl genpkey -algorithm EC
/// -pkeyopt ec_paramgen_curve:P-256` and `armoriq keygen --alg ES256` write
/// it): the algorithm and curve OIDs must be id-ecPublicKey and prime256v1,
/// and the scalar is the ECPrivateKey's `version 1, OCTET STRING (32)`.
fn device_p256(pem: &str) -> Result<[u8; 32], String> {
    const EC_PUBLIC_KEY: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const PRIME256V1: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const SCALAR: [u8; 5] = [0x02, 0x01, 0x01, 0x04, 0x20];
    if !pem.contains("-----BEGIN PRIVATE KEY-----") {
        return Err("not a PKCS#8 PEM (BEGIN PRIVATE KEY)".into());
    }
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| e.to_string())?;
    let find = |pat: &[u8]| der.windows(pat.len()).position(|w| w == pat);
    if find(&EC_PUBLIC_KEY).is_none() || find(&PRIME256V1).is_none() {
        return Err("not a P-256 PKCS#8 key".into());
    }
    let at = find(&SCALAR).ok_or("no ECPrivateKey scalar")? + SCALAR.len();
    der.get(at..at + 32)
        .and_then(|d| <[u8; 32]>::try_from(d).ok())
        .ok_or_else(|| "truncated ECPrivateKey".into())
}

fn b64(jwk: &Value, member: &str, len: usize) -> Result<Vec<u8>, String> {
    let text = jwk[member]
        .as_str()
        .ok_or_else(|| format!("JWK member {member:?} missing or not a string"))?;
    let raw = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| format!("JWK member {member:?}: {e}"))?;
    if raw.len() != len {
        return Err(format!(
            "JWK member {member:?} is {} bytes, expected {len}",
            raw.len()
        ));
    }
    Ok(raw)
}

fn opt_str(doc: &Value, member: &str) -> Result<Option<String>, String> {
    match &doc[member] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(format!("{member:?} must be a string")),
    }
}

fn bytes_lit(b: &[u8]) -> String {
    let mut s = String::from("[");
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        write!(s, "0x{x:02x}").unwrap();
    }
    s.push(']');
    s
}

fn provision(text: &[u8]) -> Result<String, String> {
    let doc: Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    if !doc.is_object() {
        return Err("not a JSON object".into());
    }
    let keys: Vec<Value> = match &doc["keys"] {
        Value::Array(a) => a.clone(),
        Value::Null => vec![doc.clone()],
        _ => return Err("\"keys\" must be an array of JWKs".into()),
    };
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("need 1 to {MAX_KEYS} keys, found {}", keys.len()));
    }
    let audience = opt_str(&doc, "audience")?;
    let issuer = opt_str(&doc, "issuer")?;
    let leeway = match &doc["leeway"] {
        Value::Null => 0,
        v => v
            .as_u64()
            .ok_or("\"leeway\" must be a non-negative integer")?,
    };
    let mut code =
        String::from("// Generated by build.rs from the trusted-key file. Do not edit.\n");
    writeln!(code, "/// Expected `aud`, if checked.").unwrap();
    writeln!(code, "pub const AUDIENCE: Option<&str> = {audience:?};").unwrap();
    writeln!(code, "/// Expected `iss`, if checked.").unwrap();
    writeln!(code, "pub const ISSUER: Option<&str> = {issuer:?};").unwrap();
    writeln!(code, "/// Clock skew allowed, seconds.").unwrap();
    writeln!(code, "pub const LEEWAY: u64 = {leeway};").unwrap();
    writeln!(code, "/// Number of trusted keys.").unwrap();
    writeln!(code, "pub const KEY_COUNT: usize = {};", keys.len()).unwrap();
    let es256_count = keys
        .iter()
        .filter(|k| k["kty"].as_str() == Some("EC"))
        .count();
    writeln!(
        code,
        "/// Number of P-256 keys (each pinned with its verify table at boot)."
    )
    .unwrap();
    writeln!(code, "#[allow(dead_code)]").unwrap();
    writeln!(code, "pub const ES256_KEY_COUNT: usize = {es256_count};").unwrap();
    writeln!(code, "/// The trusted keys.").unwrap();
    writeln!(code, "pub static KEYS: [Provisioned; KEY_COUNT] = [").unwrap();
    for (i, jwk) in keys.iter().enumerate() {
        let ctx = |e: String| format!("key {i}: {e}");
        if jwk.get("d").is_some() {
            return Err(ctx(
                "holds private key material (\"d\"): provision public keys only".into(),
            ));
        }
        let kid = opt_str(jwk, "kid").map_err(ctx)?;
        if kid.as_ref().is_some_and(|k| k.len() > 64) {
            return Err(ctx("kid longer than 64 bytes".into()));
        }
        let kid = kid.map_or_else(
            || "None".to_owned(),
            |k| format!("Some(&{})", bytes_lit(k.as_bytes())),
        );
        let alg = opt_str(jwk, "alg").map_err(ctx)?;
        match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
            (Some("EC"), Some("P-256")) => {
                if std::env::var_os("CARGO_FEATURE_ES256").is_none() {
                    return Err(ctx("an ES256 key, but feature es256 is off".into()));
                }
                if alg.as_deref().is_some_and(|a| a != "ES256") {
                    return Err(ctx("a P-256 key with an alg other than ES256".into()));
                }
                let mut sec1 = vec![4u8];
                sec1.extend(b64(jwk, "x", 32).map_err(ctx)?);
                sec1.extend(b64(jwk, "y", 32).map_err(ctx)?);
                writeln!(
                    code,
                    "    Provisioned {{ kid: {kid}, key: Material::Es256({}) }},",
                    bytes_lit(&sec1)
                )
                .unwrap();
            }
            (Some("OKP"), Some("Ed25519")) => {
                if std::env::var_os("CARGO_FEATURE_EDDSA").is_none() {
                    return Err(ctx("an EdDSA key, but feature eddsa is off".into()));
                }
                if alg.as_deref().is_some_and(|a| a != "EdDSA") {
                    return Err(ctx("an Ed25519 key with an alg other than EdDSA".into()));
                }
                let raw = b64(jwk, "x", 32).map_err(ctx)?;
                writeln!(
                    code,
                    "    Provisioned {{ kid: {kid}, key: Material::Ed25519({}) }},",
                    bytes_lit(&raw)
                )
                .unwrap();
            }
            _ => {
                return Err(ctx(
                    "not a P-256 (kty EC) or Ed25519 (kty OKP) public JWK".into()
                ));
            }
        }
    }
    code.push_str("];\n");
    Ok(code)
}
