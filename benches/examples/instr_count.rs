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
use armoriq_benches::invocation::{Fixture, NOW, SEED, ed25519_pkcs8};
use armoriq_benches::{jwt_validation, plan_of_size};
use armoriq_common::backend::Host;
use armoriq_core::canon::{Canonicalizer, Profile};
use armoriq_core::jws::Expect;
use armoriq_core::merkle::{RootBuilder, leaf_hash, verify_inclusion};
use armoriq_core::{Alg, Backend, RustCrypto};
use armoriq_gateway::tokens::{Signer, TokenCache};
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
        "verify_invocation_es256_rustcrypto" => invocation::<RustCrypto>(Alg::Es256),
        "verify_invocation_eddsa_rustcrypto" => invocation::<RustCrypto>(Alg::EdDsa),
        "verify_invocation_es256_host" => invocation::<Host>(Alg::Es256),
        "verify_invocation_eddsa_host" => invocation::<Host>(Alg::EdDsa),
        "jsonwebtoken_es256_awslc" => jsonwebtoken_decode(Alg::Es256),
        "jsonwebtoken_eddsa_awslc" => jsonwebtoken_decode(Alg::EdDsa),
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

/// The full invocation check on backend `B` (the shared fixture: keys from
/// a constant seed, deterministic signatures).
fn invocation<B: Backend>(alg: Alg) {
    let f = Fixture::new(alg);
    let keys = f.key_set::<B>();
    run(|| {
        black_box(f.check(&keys));
    });
}

/// The peer: `jsonwebtoken` (aws-lc-rs backend) decoding the same token into
/// typed claims, with signature, exp, aud and iss checked.
fn jsonwebtoken_decode(alg: Alg) {
    let f = Fixture::new(alg);
    let (jalg, key) = f.jwt_key();
    let v = jwt_validation(jalg);
    run(|| {
        black_box(f.jwt_decode(&key, &v));
    });
}

fn token_cache_hit() {
    let dir = std::env::temp_dir().join(format!("armoriq-instr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = armoriq_common::keys::pem("PRIVATE KEY", &ed25519_pkcs8(&SEED));
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
