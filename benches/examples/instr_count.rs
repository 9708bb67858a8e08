//! Deterministic instruction counts of the hot path, for
//! `scripts/check-instructions.sh`: `instr_count <bench>` builds the bench's
//! inputs, runs the measured call once to warm up (lazy CPU-feature
//! detection and the like), then once more inside [`measure`], the only
//! function callgrind collects:
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no \
//!   --toggle-collect='instr_count::measure' target/release/examples/instr_count canon_2KiB
//! ```
//!
//! Every input is fixed (keys from constant seeds, deterministic signatures,
//! a fixed clock), so the count of a bench is the same on every run.
//! `instr_count list` prints the bench names.
use armoriq_benches::plan_of_size;
use armoriq_core::canon::{Canonicalizer, Profile};
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::merkle::{RootBuilder, leaf_hash, verify_inclusion};
use armoriq_core::{Backend, Call, RustCrypto, StepProof, verify_invocation};
use armoriq_host::backend::Host;
use armoriq_host::gateway::tokens::{Signer, TokenCache};
use armoriq_host::keys::SigningKey;
use armoriq_host::proofs::plan_hashes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::hint::black_box;

/// The benches, in report order.
const BENCHES: [&str; 10] = [
    "canon_2KiB",
    "merkle_root_1024",
    "merkle_verify_1024",
    "verify_invocation_es256_rustcrypto",
    "verify_invocation_eddsa_rustcrypto",
    "verify_invocation_es256_host",
    "verify_invocation_eddsa_host",
    "jsonwebtoken_es256_awslc",
    "jsonwebtoken_eddsa_awslc",
    "gateway_token_cache_hit",
];

const NOW: i64 = 1_800_000_000;
const SEED: [u8; 32] = [7; 32];
/// 2100-01-01T00:00:00Z.
const EXP: i64 = 4_102_444_800;

/// The one collected function: runs `f` once.
#[inline(never)]
fn measure(f: &mut dyn FnMut()) {
    f();
}

fn run(mut f: impl FnMut()) {
    f();
    measure(&mut f);
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    match name.as_str() {
        "list" => BENCHES.iter().for_each(|b| println!("{b}")),
        "canon_2KiB" => canon(),
        "merkle_root_1024" => merkle_root(),
        "merkle_verify_1024" => merkle_verify(),
        "verify_invocation_es256_rustcrypto" => invocation::<RustCrypto>(false),
        "verify_invocation_eddsa_rustcrypto" => invocation::<RustCrypto>(true),
        "verify_invocation_es256_host" => invocation::<Host>(false),
        "verify_invocation_eddsa_host" => invocation::<Host>(true),
        "jsonwebtoken_es256_awslc" => jsonwebtoken_decode(false),
        "jsonwebtoken_eddsa_awslc" => jsonwebtoken_decode(true),
        "gateway_token_cache_hit" => token_cache_hit(),
        other => {
            eprintln!("unknown bench {other:?}; one of: {}", BENCHES.join(", "));
            std::process::exit(2);
        }
    }
}

fn canon() {
    let plan = plan_of_size(2 * 1024);
    let mut c = Canonicalizer::<32, 256>::new();
    run(|| {
        black_box(
            c.sha256(black_box(plan.as_bytes()), Profile::ArmorIq)
                .unwrap(),
        );
    });
}

fn values(n: usize) -> Vec<[u8; 32]> {
    (0..n as u64)
        .map(|i| {
            let mut v = [0u8; 32];
            v[..8].copy_from_slice(&i.to_le_bytes());
            v
        })
        .collect()
}

fn merkle_root() {
    let vals = values(1024);
    run(|| {
        let mut t = RootBuilder::<32>::new();
        for v in black_box(&vals) {
            t.push(leaf_hash(v)).unwrap();
        }
        black_box(t.root());
    });
}

fn merkle_verify() {
    let (n, idx) = (1024usize, 517usize);
    let vals = values(n);
    let leaves: Vec<[u8; 32]> = vals.iter().map(|v| leaf_hash(v)).collect();
    let mut t = RootBuilder::<32>::new();
    for l in &leaves {
        t.push(*l).unwrap();
    }
    let root = t.root();
    // The audit path of leaf `idx`: the root of each sibling subtree.
    let mut siblings = Vec::new();
    let (mut lo, mut hi) = (0usize, n);
    let mut path = Vec::new();
    while hi - lo > 1 {
        // The largest power of two below the range's size (RFC 9162 2.1.1).
        let k = (hi - lo).next_power_of_two() / 2;
        if idx < lo + k {
            path.push((lo + k, hi));
            hi = lo + k;
        } else {
            path.push((lo, lo + k));
            lo += k;
        }
    }
    for &(a, b) in path.iter().rev() {
        let mut s = RootBuilder::<32>::new();
        for l in &leaves[a..b] {
            s.push(*l).unwrap();
        }
        siblings.push(s.root());
    }
    verify_inclusion(&leaves[idx], idx as u64, n as u64, &siblings, &root).unwrap();
    run(|| {
        let leaf = leaf_hash(black_box(&vals[idx]));
        verify_inclusion(&leaf, idx as u64, n as u64, black_box(&siblings), &root).unwrap();
    });
}

/// PKCS#8 v1 DER of the Ed25519 key with seed `seed` (RFC 8410).
fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The token of the invocation benches and its key, signed deterministically.
struct Token {
    text: String,
    /// SEC1 uncompressed point (ES256) or raw 32 bytes (EdDSA).
    public: Vec<u8>,
    step: String,
    siblings: Vec<[u8; 32]>,
}

fn token(eddsa: bool) -> Token {
    let plan = serde_json::json!({"goal": "weather", "steps": [
        {"action": "get_weather", "mcp": "weather-mcp", "params": {"city": "Boston", "units": "metric"}},
        {"action": "send_email", "mcp": "mail-mcp", "params": {"to": "team@example.com"}},
        {"action": "log", "mcp": "audit"},
        {"action": "notify", "mcp": "chat", "params": {"channel": "ops"}},
    ]});
    let (_, h) = plan_hashes(plan.to_string().as_bytes(), Profile::ArmorIq).unwrap();
    // `exp` lies far ahead: `jsonwebtoken` checks it against the real clock.
    let claims = serde_json::json!({
        "iss": "armoriq-iap", "aud": "armoriq-proxy", "sub": "alice@example.com",
        "iat": NOW - 10, "exp": EXP, "jti": "intent-42", "plan_id": "plan-1",
        "plan_hash": h.plan_hash, "merkle_root": h.merkle_root, "step_count": 4,
    });
    let (text, public) = if eddsa {
        // aws-lc-rs Ed25519 signatures are deterministic.
        let key = SigningKey::from_pkcs8(&ed25519_pkcs8(&SEED)).unwrap();
        let public = key.public().raw;
        (
            key.sign_jwt(claims.to_string().as_bytes(), None).unwrap(),
            public,
        )
    } else {
        // p256 signs with RFC 6979 nonces: deterministic too.
        use p256::ecdsa::signature::Signer as _;
        let key = p256::ecdsa::SigningKey::from_slice(&SEED).unwrap();
        let public = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
        (
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes())),
            public,
        )
    };
    Token {
        text,
        public,
        step: plan["steps"][0].to_string(),
        siblings: h.step_proofs[0]
            .siblings
            .iter()
            .map(|s| unhex(s).try_into().unwrap())
            .collect(),
    }
}

/// The full invocation check on backend `B`.
fn invocation<B: Backend>(eddsa: bool) {
    let t = token(eddsa);
    let mut keys = KeySet::<B, 2>::new();
    if eddsa {
        keys.add_ed25519(None, &t.public.clone().try_into().unwrap())
            .unwrap();
    } else {
        keys.add_es256(None, &t.public).unwrap();
    }
    let proof = StepProof {
        step: t.step.as_bytes(),
        index: 0,
        tree_size: 4,
        siblings: &t.siblings,
    };
    let call = Call {
        mcp: "weather-mcp",
        action: "get_weather",
        params: Some(br#"{"units":"metric","city":"Boston"}"#),
    };
    let expect = Expect {
        now: NOW,
        leeway: 0,
        audience: Some("armoriq-proxy"),
        issuer: Some("armoriq-iap"),
    };
    run(|| {
        let mut buf = [0u8; 1024];
        let v = verify_invocation(
            black_box(t.text.as_bytes()),
            &call,
            &proof,
            &expect,
            &keys,
            &mut buf,
        )
        .unwrap();
        black_box(v);
    });
}

/// The peer: `jsonwebtoken` (aws-lc-rs backend) decoding the same token into
/// typed claims, with signature, exp, aud and iss checked.
fn jsonwebtoken_decode(eddsa: bool) {
    let t = token(eddsa);
    let (alg, key) = if eddsa {
        (
            jsonwebtoken::Algorithm::EdDSA,
            jsonwebtoken::DecodingKey::from_ed_der(&t.public),
        )
    } else {
        (
            jsonwebtoken::Algorithm::ES256,
            jsonwebtoken::DecodingKey::from_ec_components(
                &URL_SAFE_NO_PAD.encode(&t.public[1..33]),
                &URL_SAFE_NO_PAD.encode(&t.public[33..65]),
            )
            .unwrap(),
        )
    };
    let v = armoriq_benches::jwt_validation(alg);
    run(|| {
        let d = jsonwebtoken::decode::<armoriq_benches::IntentClaims>(black_box(&t.text), &key, &v)
            .unwrap();
        black_box(d);
    });
}

fn token_cache_hit() {
    let dir = std::env::temp_dir().join(format!("armoriq-instr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = armoriq_host::keys::pem("PRIVATE KEY", &ed25519_pkcs8(&SEED));
    std::fs::write(dir.join("iap-ed25519.pem"), pem).unwrap();
    let signer = Signer::load_or_create(&dir).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let h = "ab".repeat(32);
    let token = signer
        .sign_jwt(&serde_json::json!({
            "iss": "armoriq-gateway", "aud": "armoriq-proxy", "sub": "alice@example.com",
            "iat": NOW, "nbf": NOW, "exp": NOW + 3600, "jti": "intent_1", "plan_id": "plan_1",
            "plan_hash": h, "merkle_root": h, "step_count": 2,
        }))
        .unwrap();
    let expect = Expect {
        now: NOW,
        leeway: 0,
        audience: Some("armoriq-proxy"),
        issuer: Some("armoriq-gateway"),
    };
    let cache = TokenCache::new(10_000);
    // Fill the cache (full verify), then measure a hit.
    cache.verify(&token, &signer, &expect).unwrap();
    run(|| {
        black_box(cache.verify(black_box(&token), &signer, &expect).unwrap());
    });
}
