//! The device's signed receipts (SPEC §7, `armoriq_core::receipt`): its own
//! Ed25519 key signs, for every call it accepts through a verify-with-receipt
//! request, the 125-byte body naming the device, a counter, the token's
//! `jti`, the step's leaf hash and the call's hash.
//!
//! Signing is RFC 8032 Ed25519 written out over curve25519-dalek (the
//! expanded key is computed once at boot). The one expensive step, `r·B`,
//! must not take the table-less path (a variable-base multiplication, ~1.5 M
//! instructions on the Cortex-M4, which would break the 1.5 M budget of a
//! receipt and an ES256 check): it uses curve25519-dalek's radix-16
//! basepoint table (`precomputed-tables`, 30,720 B of flash), so a signature
//! costs 64 constant-time table lookups and mixed additions, one inversion
//! and four SHA-512 blocks. (Building that table in RAM at boot instead does
//! not fit: curve25519-dalek builds it by value, 30 KiB on a stack of
//! 26 KiB.) The nonce is deterministic (`SHA-512(prefix ‖ M)`), so no RNG is
//! needed.
//!
//! The key: on QEMU it is provisioned at build (`ARMORIQ_DEVICE_KEY`, a
//! PKCS#8 PEM; default `keys/dev/device-ed25519.pem`). On a board with a
//! TRNG it would be generated on first boot into the flash page for secrets;
//! the QEMU boards have neither, so that path is not built. The counter
//! lives in RAM: it starts at 1 at every boot (a restarted device shows in
//! the log as a counter that went back).

use crate::provision;
use armoriq_core::canon::Canonicalizer;
use armoriq_core::receipt::{self, BODY_LEN, RECEIPT_LEN, ReceiptBody, VERDICT_ACCEPTED};
use armoriq_core::verify::VerifiedStep;
use armoriq_frame::VerifyRequest;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::{Scalar, clamp_integer};
use sha2::{Digest, Sha512};

/// The device's receipt key and counter.
pub struct Signer {
    /// The secret scalar `a` (clamped, reduced mod ℓ).
    secret: Scalar,
    /// The nonce prefix (second half of `SHA-512(seed)`).
    prefix: [u8; 32],
    /// `A = a·B`, compressed.
    pub public_key: [u8; 32],
    /// [`receipt::device_id`] of the public key.
    pub device_id: [u8; receipt::DEVICE_ID_LEN],
    /// The last receipt's counter (0: none yet).
    pub counter: u64,
}

/// Why no receipt was signed for an accepted call.
pub type Refusal = armoriq_core::Error;

impl Signer {
    /// Expands the provisioned seed (RFC 8032 §5.1.5).
    #[inline(never)]
    pub fn boot() -> Self {
        let h: [u8; 64] = Sha512::digest(provision::DEVICE_SEED).into();
        let (lo, hi) = h.split_at(32);
        let lo: [u8; 32] = lo.try_into().unwrap_or_default();
        let prefix: [u8; 32] = hi.try_into().unwrap_or_default();
        let secret = Scalar::from_bytes_mod_order(clamp_integer(lo));
        let public_key = EdwardsPoint::mul_base(&secret).compress().to_bytes();
        Self {
            secret,
            prefix,
            public_key,
            device_id: receipt::device_id(&public_key),
            counter: 0,
        }
    }

    /// The receipt for an accepted call: its body (the token's `jti`, the
    /// step's leaf hash, the call's hash, the next counter) and the
    /// signature. `claims` is scratch for the token's decoded claims.
    #[inline(never)]
    pub fn receipt<const D: usize, const M: usize>(
        &mut self,
        req: &VerifyRequest<'_>,
        ok: &VerifiedStep,
        canon: &mut Canonicalizer<D, M>,
        claims: &mut [u8],
    ) -> Result<[u8; RECEIPT_LEN], Refusal> {
        let body = ReceiptBody {
            device_id: self.device_id,
            counter: self.counter.wrapping_add(1),
            jti_hash: receipt::jti_hash(req.token, claims)?,
            leaf_hash: ok.leaf_hash,
            call_hash: receipt::call_hash(canon, req.mcp, req.action, req.params)?,
            verdict: VERDICT_ACCEPTED,
        };
        let msg = body.to_bytes();
        let sig = self.sign(&msg);
        self.counter = body.counter;
        let mut out = [0u8; RECEIPT_LEN];
        let (b, s) = out.split_at_mut(BODY_LEN);
        b.copy_from_slice(&msg);
        s.copy_from_slice(&sig);
        Ok(out)
    }

    /// RFC 8032 §5.1.6: `r = H(prefix ‖ M)`, `R = r·B`, `k = H(R ‖ A ‖ M)`,
    /// `S = r + k·a`; the signature is `R ‖ S`.
    #[inline(never)]
    fn sign(&self, msg: &[u8]) -> [u8; 64] {
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
        sig
    }
}
