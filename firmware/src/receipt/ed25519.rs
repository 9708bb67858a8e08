//! Ed25519 receipt signatures (feature `receipts-ed25519`): RFC 8032 written
//! out over curve25519-dalek (the crate ed25519-dalek, already in the image
//! for EdDSA verification, is built on; the expanded key is computed once at
//! boot).
//!
//! The one expensive step, `r·B`, must not take the table-less path (a
//! variable-base multiplication, ~1.5 M instructions on the Cortex-M4): it
//! uses curve25519-dalek's radix-16 basepoint table (`precomputed-tables`,
//! 30,720 B of flash), so a signature costs 64 constant-time table lookups
//! and mixed additions, one inversion and four SHA-512 blocks. (Building that
//! table in RAM at boot instead does not fit: curve25519-dalek builds it by
//! value, 30 KiB on a stack of 26 KiB.) The nonce is deterministic
//! (`SHA-512(prefix ‖ M)`), so no RNG is needed.

use armoriq_core::receipt::ReceiptAlg;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::{Scalar, clamp_integer};
use sha2::{Digest, Sha512};

/// The receipts' algorithm.
pub const ALG: ReceiptAlg = ReceiptAlg::Ed25519;

/// The device's Ed25519 key, expanded.
pub struct Key {
    /// The secret scalar `a` (clamped, reduced mod ℓ).
    secret: Scalar,
    /// The nonce prefix (second half of `SHA-512(seed)`).
    prefix: [u8; 32],
    /// `A = a·B`, compressed.
    public_key: [u8; 32],
}

impl Key {
    /// Expands the seed (RFC 8032 §5.1.5); returns the key and `A`.
    pub fn boot(seed: &[u8; 32]) -> Option<(Self, [u8; 32])> {
        let h: [u8; 64] = Sha512::digest(seed).into();
        let (lo, hi) = h.split_at(32);
        let lo: [u8; 32] = lo.try_into().ok()?;
        let prefix: [u8; 32] = hi.try_into().ok()?;
        let secret = Scalar::from_bytes_mod_order(clamp_integer(lo));
        let public_key = EdwardsPoint::mul_base(&secret).compress().to_bytes();
        Some((
            Self {
                secret,
                prefix,
                public_key,
            },
            public_key,
        ))
    }

    /// RFC 8032 §5.1.6: `r = H(prefix ‖ M)`, `R = r·B`, `k = H(R ‖ A ‖ M)`,
    /// `S = r + k·a`; the signature is `R ‖ S`.
    #[inline(never)]
    pub fn sign(&self, msg: &[u8]) -> Option<[u8; 64]> {
        let r = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(self.prefix)
                .chain_update(msg)
                .finalize()
                .into(),
        );
        let big_r = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let k = Scalar::from_bytes_mod_order_wide(
            &Sha512::new()
                .chain_update(big_r)
                .chain_update(self.public_key)
                .chain_update(msg)
                .finalize()
                .into(),
        );
        let s = k * self.secret + r;
        let mut sig = [0u8; 64];
        let (a, b) = sig.split_at_mut(32);
        a.copy_from_slice(&big_r);
        b.copy_from_slice(s.as_bytes());
        Some(sig)
    }
}
