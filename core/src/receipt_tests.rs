//! Tests of [`super`]: both body versions, both algorithms, tampering, the
//! counter sequence across boots.
use super::*;
use crate::RustCrypto;
use ed25519_dalek::{Signer as _, SigningKey};
use proptest::prelude::*;

fn body(counter: u64) -> ReceiptBody {
    ReceiptBody {
        version: 2,
        alg: ReceiptAlg::Ed25519,
        device_id: [7; 16],
        boot: 3,
        counter,
        jti_hash: [1; 32],
        leaf_hash: [2; 32],
        call_hash: [3; 32],
        verdict: VERDICT_ACCEPTED,
    }
}

/// The P-256 key of the test (a fixed scalar) and its uncompressed point.
fn p256_key() -> (p256::ecdsa::SigningKey, [u8; 65]) {
    let sk = p256::ecdsa::SigningKey::from_slice(&[0x5a; 32]).unwrap();
    let pt = sk.verifying_key().to_sec1_point(false);
    let pk: [u8; 65] = pt.as_bytes().try_into().unwrap();
    (sk, pk)
}

/// The signature of [`es256_receipt`], as p256 0.14 made it (RFC 6979,
/// key 0x5a × 32, body of counter 9, boot 3): a vector any ES256 signer of
/// receipts must reproduce, and any verifier accept.
const ES256_VECTOR_SIG: [u8; 64] = [
    0xdc, 0x3f, 0x28, 0x8b, 0x20, 0xab, 0x49, 0xd6, 0x04, 0xfc, 0xa5, 0xfd, 0x9f, 0xe1, 0xe5, 0xcb,
    0xc7, 0x01, 0x77, 0xe4, 0x0a, 0x59, 0xfb, 0x77, 0x11, 0x5e, 0x79, 0xef, 0xaa, 0x81, 0x52, 0xd7,
    0xc0, 0x4a, 0xef, 0xda, 0x1c, 0x77, 0x94, 0x37, 0x02, 0x47, 0x71, 0x5c, 0xfe, 0xb1, 0x1e, 0xb4,
    0xbf, 0xc4, 0xba, 0x7b, 0x42, 0xbe, 0x98, 0xb1, 0xfa, 0x98, 0x3c, 0x53, 0x04, 0x1a, 0xf9, 0x74,
];

/// An ES256 receipt signed on the host by RustCrypto p256 (RFC 6979
/// nonce, so always the same bytes).
fn es256_receipt() -> ([u8; RECEIPT_LEN], [u8; 65]) {
    let (sk, pk) = p256_key();
    let mut b = body(9);
    b.alg = ReceiptAlg::Es256;
    b.device_id = device_id(&pk);
    let signed = b.to_bytes();
    let sig: p256::ecdsa::Signature = sk.sign(&signed);
    let mut whole = [0u8; RECEIPT_LEN];
    whole[..BODY_LEN].copy_from_slice(&signed);
    whole[BODY_LEN..].copy_from_slice(&sig.to_bytes());
    (whole, pk)
}

#[test]
fn body_round_trips_and_refuses_other_bytes() {
    let b = body(42);
    let bytes = b.to_bytes();
    assert_eq!(&bytes[..4], b"AQR2");
    assert_eq!(bytes[4], 1);
    assert_eq!(&bytes[21..25], &3u32.to_le_bytes());
    assert_eq!(&bytes[25..33], &42u64.to_le_bytes());
    assert_eq!(ReceiptBody::parse(&bytes), Ok(b));
    assert_eq!(
        ReceiptBody::parse(&bytes[..129]),
        Err(Error::ReceiptMalformed)
    );
    for (at, v) in [(0, b'X'), (4, 0), (4, 3), (129, 0)] {
        let mut bad = bytes;
        bad[at] = v;
        assert_eq!(ReceiptBody::parse(&bad), Err(Error::ReceiptMalformed));
    }
    // Version 1: Ed25519, boot 0.
    let v1 = b.to_v1_bytes();
    assert_eq!(&v1[..4], b"AQR1");
    assert_eq!(&v1[20..28], &42u64.to_le_bytes());
    let back = ReceiptBody::parse(&v1).unwrap();
    assert_eq!((back.version, back.boot, back.counter), (1, 0, 42));
    // A version-1 magic on a version-2 length (and the reverse) is refused.
    let mut mixed = bytes;
    mixed[..4].copy_from_slice(b"AQR1");
    assert_eq!(ReceiptBody::parse(&mixed), Err(Error::ReceiptMalformed));
    let mut mixed = v1;
    mixed[..4].copy_from_slice(b"AQR2");
    assert_eq!(ReceiptBody::parse(&mixed), Err(Error::ReceiptMalformed));
}

#[test]
fn ed25519_receipts_of_both_versions_verify_and_altered_ones_do_not() {
    let sk = SigningKey::from_bytes(&[9; 32]);
    let pk = sk.verifying_key().to_bytes();
    let key = DeviceKey::<RustCrypto>::parse(ReceiptAlg::Ed25519, &pk).unwrap();
    let mut b = body(1);
    b.device_id = device_id(&pk);
    for signed in [b.to_bytes().to_vec(), b.to_v1_bytes().to_vec()] {
        let whole = [signed.clone(), sk.sign(&signed).to_bytes().to_vec()].concat();
        let r = Receipt::parse(&whole).unwrap();
        assert_eq!(r.signed_bytes(), &signed[..]);
        assert_eq!(r.verify(&pk, &key), Ok(()));
        for at in [5, 25, 40, 70, 100, 126, whole.len() - 1] {
            let mut bad = whole.clone();
            bad[at] ^= 1;
            let got = Receipt::parse(&bad).and_then(|r| r.verify(&pk, &key));
            assert!(got.is_err(), "byte {at} altered");
        }
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
        let other_key = DeviceKey::<RustCrypto>::parse(ReceiptAlg::Ed25519, &other).unwrap();
        assert_eq!(
            r.verify(&other, &other_key),
            Err(Error::ReceiptDeviceMismatch)
        );
    }
}

#[test]
fn es256_receipt_signed_on_the_host_verifies() {
    let (whole, pk) = es256_receipt();
    // RFC 6979 makes the signature a function of key and body: this is
    // the vector (its first and last signature bytes pinned).
    assert_eq!(whole.len(), 194);
    assert_eq!(whole[4], 2);
    let key = DeviceKey::<RustCrypto>::parse(ReceiptAlg::Es256, &pk).unwrap();
    let r = Receipt::parse(&whole).unwrap();
    assert_eq!(r.body.alg, ReceiptAlg::Es256);
    assert_eq!(r.body.counter, 9);
    assert_eq!(r.verify(&pk, &key), Ok(()));
    assert_eq!(es256_receipt().0, whole, "deterministic (RFC 6979)");
    assert_eq!(&whole[BODY_LEN..], &ES256_VECTOR_SIG);
}

#[test]
fn es256_receipts_refuse_tampering_and_the_other_algorithm() {
    let (whole, pk) = es256_receipt();
    let key = DeviceKey::<RustCrypto>::parse(ReceiptAlg::Es256, &pk).unwrap();
    for at in 0..whole.len() {
        let mut bad = whole;
        bad[at] ^= 0x10;
        let got = Receipt::parse(&bad).and_then(|r| r.verify(&pk, &key));
        assert!(got.is_err(), "byte {at} altered");
    }
    // The same bytes announced as Ed25519 do not verify under an Ed25519
    // key, and an ES256 receipt does not verify under an Ed25519 key.
    let ed = SigningKey::from_bytes(&[9; 32]).verifying_key().to_bytes();
    let ed_key = DeviceKey::<RustCrypto>::parse(ReceiptAlg::Ed25519, &ed).unwrap();
    let mut r = Receipt::parse(&whole).unwrap();
    r.body.device_id = device_id(&ed);
    r.signed[5..21].copy_from_slice(&device_id(&ed));
    assert_eq!(r.verify(&ed, &ed_key), Err(Error::BadSignature));
    let mut as_ed = whole;
    as_ed[4] = 1;
    let r = Receipt::parse(&as_ed).unwrap();
    assert_eq!(r.verify(&pk, &key), Err(Error::BadSignature));
    // A high-s twin (n − s) is a valid ECDSA signature too; RustCrypto's
    // verify accepts it, which is fine for a receipt (nothing keys on the
    // signature bytes), so only the key and body are what bind it.
    assert!(DeviceKey::<RustCrypto>::parse(ReceiptAlg::Es256, &pk[..64]).is_err());
    assert!(DeviceKey::<RustCrypto>::parse(ReceiptAlg::Ed25519, &pk).is_err());
}

#[test]
fn sequence_reports_gaps_and_repeats_within_a_boot() {
    let mut s = Sequence::new();
    assert_eq!(s.next(0, 5), Ok(Step::Next));
    assert_eq!(s.next(0, 6), Ok(Step::Next));
    assert_eq!(
        s.next(0, 8),
        Err(Error::ReceiptCounterGap {
            expected: 7,
            found: 8
        })
    );
    assert_eq!(s.next(0, 9), Ok(Step::Next));
    assert_eq!(
        s.next(0, 9),
        Err(Error::ReceiptCounterRepeat {
            previous: 9,
            found: 9
        })
    );
    assert_eq!(
        s.next(0, u64::MAX),
        Err(Error::ReceiptCounterGap {
            expected: 10,
            found: u64::MAX
        })
    );
    assert!(s.next(0, 0).is_err());
}

#[test]
fn sequence_tells_a_restart_from_removed_rows() {
    use crate::counter::BLOCK;
    let mut s = Sequence::new();
    assert_eq!(s.next(1, 1), Ok(Step::Next));
    assert_eq!(s.next(1, 2), Ok(Step::Next));
    // Boot 2 starts at the next block: a restart, counters 3..=BLOCK unused.
    assert_eq!(
        s.next(2, BLOCK + 1),
        Ok(Step::Restart {
            from: 3,
            to: BLOCK + 1
        })
    );
    // Boot 3's first receipt removed: its second is not a block start.
    assert_eq!(
        s.next(3, 2 * BLOCK + 2),
        Err(Error::ReceiptCounterGap {
            expected: 2 * BLOCK + 1,
            found: 2 * BLOCK + 2
        })
    );
    // A block start within the same boot, after a skip, is a gap.
    let mut s = Sequence::new();
    assert_eq!(s.next(4, 10), Ok(Step::Next));
    assert!(matches!(
        s.next(4, BLOCK + 1),
        Err(Error::ReceiptCounterGap { .. })
    ));
    // A boot going back is a repeat.
    assert!(matches!(
        s.next(3, BLOCK + 2),
        Err(Error::ReceiptCounterRepeat { .. })
    ));
    // A new boot whose block starts right after the previous counter.
    let mut s = Sequence::new();
    assert_eq!(s.next(1, BLOCK), Ok(Step::Next));
    assert_eq!(
        s.next(2, BLOCK + 1),
        Ok(Step::Restart {
            from: BLOCK + 1,
            to: BLOCK + 1
        })
    );
}

#[test]
fn call_hash_is_canonical_and_binds_every_part() {
    let mut c = Canonicalizer::<8, 16>::new();
    let a = call_hash(&mut c, "m", "a", Some(br#"{"b":1,"a":2}"#)).unwrap();
    let b = call_hash(&mut c, "m", "a", Some(br#"{ "a":2, "b":1.0e0 }"#)).unwrap();
    assert_ne!(a, b, "1 and 1.0 are different canonical numbers");
    let b = call_hash(&mut c, "m", "a", Some(br#"{ "a":2, "b":1 }"#)).unwrap();
    assert_eq!(a, b);
    assert_ne!(
        a,
        call_hash(&mut c, "ma", "", Some(br#"{"a":2,"b":1}"#)).unwrap()
    );
    assert_eq!(
        call_hash(&mut c, "m", "a", None).unwrap(),
        call_hash(&mut c, "m", "a", Some(b"{}")).unwrap()
    );
    let mut h = Sha256::new();
    h.update([1, 0, b'm', 1, 0, b'a']);
    h.update(br#"{"a":2,"b":1}"#);
    assert_eq!(a, <[u8; 32]>::from(h.finalize()));
}

#[test]
fn jti_hash_reads_the_claim() {
    use base64::Engine as _;
    let claims = br#"{"jti":"ab\u0063","exp":1}"#;
    let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
    let token = [b"e30.".as_slice(), enc.as_bytes(), b".c2k"].concat();
    let mut buf = [0u8; 128];
    let got = jti_hash(&token, &mut buf).unwrap();
    assert_eq!(got, jti_text_hash("abc"));
    assert_eq!(
        jti_hash(b"e30.e30.c2k", &mut buf),
        Err(Error::MissingClaim { claim: "jti" })
    );
    assert_eq!(jti_hash(b"e30.e30", &mut buf), Err(Error::TokenMalformed));
}

proptest! {
    /// Any body of either version round-trips; any ES256 receipt with one
    /// bit flipped anywhere is refused.
    #[test]
    fn bodies_round_trip_and_flipped_es256_receipts_fail(
        counter in any::<u64>(), boot in any::<u32>(), seed in any::<[u8; 32]>(),
        bit in 0usize..(RECEIPT_LEN * 8),
    ) {
        let mut b = body(counter);
        b.boot = boot;
        b.jti_hash = seed;
        prop_assert_eq!(ReceiptBody::parse(&b.to_bytes()), Ok(b));
        let v1 = ReceiptBody::parse(&b.to_v1_bytes()).unwrap();
        prop_assert_eq!(v1.counter, counter);
        let (sk, pk) = p256_key();
        b.alg = ReceiptAlg::Es256;
        b.device_id = device_id(&pk);
        let signed = b.to_bytes();
        let sig: p256::ecdsa::Signature = sk.sign(&signed);
        let mut whole = [0u8; RECEIPT_LEN];
        whole[..BODY_LEN].copy_from_slice(&signed);
        whole[BODY_LEN..].copy_from_slice(&sig.to_bytes());
        let key = DeviceKey::<RustCrypto>::parse(ReceiptAlg::Es256, &pk).unwrap();
        prop_assert_eq!(Receipt::parse(&whole).and_then(|r| r.verify(&pk, &key)), Ok(()));
        whole[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(Receipt::parse(&whole).and_then(|r| r.verify(&pk, &key)).is_err());
    }
}

#[test]
fn jti_hash_at_reads_the_claim_where_verify_found_it() {
    use crate::ClaimAt;
    let claims = br#"{"jti":"ab\u0063","exp":1,"x":"abc"}"#;
    let at = |start, len, escaped| {
        Some(ClaimAt {
            start,
            len,
            escaped,
        })
    };
    assert_eq!(
        jti_hash_at(claims, at(8, 8, true)),
        Ok(jti_text_hash("abc"))
    );
    assert_eq!(
        jti_hash_at(claims, at(31, 3, false)),
        Ok(jti_text_hash("abc"))
    );
    let missing = Err(Error::MissingClaim { claim: "jti" });
    assert_eq!(jti_hash_at(claims, None), missing);
    assert_eq!(jti_hash_at(claims, at(30, 100, false)), missing);
    assert_eq!(jti_hash_at(claims, at(usize::MAX, 2, false)), missing);
}
