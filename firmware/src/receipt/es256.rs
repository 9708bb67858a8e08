//! ES256 receipt signatures: ECDSA P-256 / SHA-256, `r ‖ s`, with a
//! deterministic nonce (RFC 6979), so no RNG is needed.
//!
//! * `es256-cm4` (M4F, M33): p256-cm4's `sign` (constant time: a fixed-base
//!   comb over its 1 KiB basepoint table, Montgomery arithmetic in assembly),
//!   the nonce from [`super::rfc6979`] (HMAC-SHA256).
//! * `es256-rustcrypto` (M3): RustCrypto p256's `SigningKey` (its own RFC 6979
//!   over the same HMAC-SHA256).

use armoriq_core::receipt::ReceiptAlg;

/// The receipts' algorithm.
pub const ALG: ReceiptAlg = ReceiptAlg::Es256;

#[cfg(armoriq_receipt = "es256-cm4")]
mod imp {
    use super::super::rfc6979::{Nonces, Prefix};
    use crate::es256::words;

    /// Nonces tried before giving up (each fails with probability ~2⁻³²).
    const TRIES: usize = 8;

    /// The device's P-256 key as p256-cm4 takes it.
    pub struct Key {
        /// The scalar, big-endian (the RFC 6979 input).
        d: [u8; 32],
        /// Its constant part of the RFC 6979 nonce.
        prefix: Prefix,
        /// The scalar as little-endian words.
        words: [u32; 8],
    }

    /// Little-endian words to big-endian bytes.
    fn bytes(w: &[u32; 8]) -> [u8; 32] {
        let mut le = [0u8; 32];
        for (c, w) in le.chunks_exact_mut(4).zip(w) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        let mut be = [0u8; 32];
        p256_cm4::convert_endianness(&mut be, &le);
        be
    }

    impl Key {
        /// The key of scalar `d` (big-endian) and its uncompressed point;
        /// `None` unless 1 ≤ d < n.
        pub fn boot(d: &[u8; 32]) -> Option<(Self, [u8; 65])> {
            let w = words(d);
            let (mut x, mut y) = ([0u32; 8], [0u32; 8]);
            if !p256_cm4::keygen(&mut x, &mut y, &w) {
                return None;
            }
            let mut pk = [0u8; 65];
            p256_cm4::point_to_octet_string_uncompressed(&mut pk, &x, &y);
            Some((
                Self {
                    d: *d,
                    prefix: Prefix::new(d),
                    words: w,
                },
                pk,
            ))
        }

        /// `r ‖ s` over SHA-256(`msg`).
        #[inline(never)]
        pub fn sign(&self, msg: &[u8]) -> Option<[u8; 64]> {
            let h = crate::sha256::digest(msg);
            let mut nonces = Nonces::new(&self.prefix, &self.d, &h);
            let (mut r, mut s) = ([0u32; 8], [0u32; 8]);
            for _ in 0..TRIES {
                let k = words(&nonces.next_k());
                if p256_cm4::sign(&mut r, &mut s, &h, &self.words, &k) {
                    let mut sig = [0u8; 64];
                    let (a, b) = sig.split_at_mut(32);
                    a.copy_from_slice(&bytes(&r));
                    b.copy_from_slice(&bytes(&s));
                    return Some(sig);
                }
            }
            None
        }
    }
}

#[cfg(armoriq_receipt = "es256-rustcrypto")]
mod imp {
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};

    /// The device's P-256 key.
    pub struct Key(SigningKey);

    impl Key {
        /// The key of scalar `d` (big-endian) and its uncompressed point;
        /// `None` unless 1 ≤ d < n.
        pub fn boot(d: &[u8; 32]) -> Option<(Self, [u8; 65])> {
            let sk = SigningKey::from_slice(d).ok()?;
            let pt = sk.verifying_key().to_sec1_point(false);
            let pk = <[u8; 65]>::try_from(pt.as_bytes()).ok()?;
            Some((Self(sk), pk))
        }

        /// `r ‖ s` over SHA-256(`msg`), RFC 6979 nonce.
        #[inline(never)]
        pub fn sign(&self, msg: &[u8]) -> Option<[u8; 64]> {
            let sig: Signature = self.0.try_sign(msg).ok()?;
            Some(sig.to_bytes().into())
        }
    }
}

pub use imp::Key;
