//! The pure-Rust backend's Ed25519 check gives exactly ed25519-dalek's
//! `verify_strict` verdicts while skipping R's decompression (see
//! `RustCrypto::verify_ed25519`). Each case that separates strict from plain
//! verification is built so that plain verification accepts it, and the test
//! asserts that it does: otherwise the case would prove nothing.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use armoriq_core::sig::SMALL_ORDER_ENCODINGS;
use armoriq_core::{Backend, RustCrypto};
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::{EdwardsPoint, Scalar};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use proptest::prelude::*;
use sha2::{Digest, Sha512};

fn ours(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
    let k = RustCrypto::ed25519_key(key).ok()?;
    Some(RustCrypto::verify_ed25519(&k, msg, sig).is_ok())
}

fn strict(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Option<bool> {
    let k = VerifyingKey::from_bytes(key).ok()?;
    Some(k.verify_strict(msg, &Signature::from_bytes(sig)).is_ok())
}

fn plain(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(key).is_ok_and(|k| k.verify(msg, &Signature::from_bytes(sig)).is_ok())
}

/// k = SHA-512(R ‖ A ‖ M) mod L (RFC 8032 §5.1.7 step 2).
fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let h: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(msg)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&h)
}

fn sig_of(r: &[u8; 32], s: &Scalar) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

#[test]
fn the_table_is_the_eight_torsion() {
    let mut want: Vec<[u8; 32]> = EIGHT_TORSION
        .iter()
        .map(|p| p.compress().to_bytes())
        .collect();
    let mut got = SMALL_ORDER_ENCODINGS.to_vec();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
    for p in EIGHT_TORSION {
        assert!(p.is_small_order());
    }
}

#[test]
fn weak_keys_are_refused_where_plain_verification_accepts() {
    // A of small order, R = −[k]A found by trying every small-order R, S = 0:
    // the cofactorless equation holds for some R for every such A.
    let mut separating = 0;
    for a_point in EIGHT_TORSION {
        let a = a_point.compress().to_bytes();
        for msg in [&b"pay 100"[..], b"", b"intent"] {
            for r_point in EIGHT_TORSION {
                let r = r_point.compress().to_bytes();
                let sig = sig_of(&r, &Scalar::ZERO);
                if plain(&a, msg, &sig) {
                    separating += 1;
                    assert_eq!(strict(&a, msg, &sig), Some(false));
                    assert_eq!(ours(&a, msg, &sig), Some(false), "weak key accepted");
                }
            }
        }
    }
    assert!(
        separating >= 24,
        "every weak key has a forgery: {separating}"
    );
}

#[test]
fn weak_keys_are_refused_with_an_ordinary_r() {
    // R = [S]B − [j]A (not of small order) for the j where [k]A = [j]A with
    // k = H(R ‖ A ‖ M): the equation holds, and only A's order can refuse it.
    for a_point in EIGHT_TORSION {
        let a = a_point.compress().to_bytes();
        let mut found = false;
        'search: for n in 1u64..500 {
            let s = Scalar::from(n);
            for j in 0u64..8 {
                let r_point = EdwardsPoint::mul_base(&s) - a_point * Scalar::from(j);
                let r = r_point.compress().to_bytes();
                if (a_point * challenge(&r, &a, b"m")) != a_point * Scalar::from(j) {
                    continue;
                }
                let sig = sig_of(&r, &s);
                assert!(!r_point.is_small_order());
                assert!(plain(&a, b"m", &sig), "the forgery holds for plain verify");
                assert_eq!(strict(&a, b"m", &sig), Some(false));
                assert_eq!(ours(&a, b"m", &sig), Some(false), "weak key accepted");
                found = true;
                break 'search;
            }
        }
        assert!(found, "no forgery found for {a:02x?}");
    }
}

#[test]
fn small_order_r_is_refused_where_plain_verification_accepts() {
    // A strong key a·B; R = identity and S = k·a make [S]B − [k]A = identity = R.
    for seed in 1u8..=20 {
        let a = Scalar::from_bytes_mod_order([seed; 32]);
        let a_bytes = EdwardsPoint::mul_base(&a).compress().to_bytes();
        let r = SMALL_ORDER_ENCODINGS[0];
        let msg = [seed; 7];
        let s = challenge(&r, &a_bytes, &msg) * a;
        let sig = sig_of(&r, &s);
        assert!(
            plain(&a_bytes, &msg, &sig),
            "the forgery holds for plain verify"
        );
        assert_eq!(strict(&a_bytes, &msg, &sig), Some(false));
        assert_eq!(
            ours(&a_bytes, &msg, &sig),
            Some(false),
            "small-order R accepted"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Real signatures verify; any one-byte change to key, message or
    /// signature gets the same verdict as `verify_strict`.
    #[test]
    fn same_verdicts_as_verify_strict(
        seed in any::<[u8; 32]>(),
        msg in prop::collection::vec(any::<u8>(), 0..64),
        target in 0usize..3,
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let a = Scalar::from_bytes_mod_order(seed);
        let mut key = EdwardsPoint::mul_base(&a).compress().to_bytes();
        // A deterministic nonce from the seed: a valid signature.
        let nonce = Scalar::from_bytes_mod_order_wide(&Sha512::digest([&seed[..], &msg].concat()).into());
        let r = EdwardsPoint::mul_base(&nonce).compress().to_bytes();
        let s = nonce + challenge(&r, &key, &msg) * a;
        let mut sig = sig_of(&r, &s);
        let mut msg = msg;
        prop_assert_eq!(ours(&key, &msg, &sig), Some(true));
        match target {
            0 => key[pos.index(32)] ^= byte | 1,
            1 if !msg.is_empty() => { let i = pos.index(msg.len()); msg[i] ^= byte | 1; }
            _ => sig[pos.index(64)] ^= byte | 1,
        }
        prop_assert_eq!(ours(&key, &msg, &sig), strict(&key, &msg, &sig));
    }
}
