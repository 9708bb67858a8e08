//! The device's signed receipts (SPEC §7, `armoriq_core::receipt`): its own
//! key signs, for every call it accepts through a verify-with-receipt
//! request, the 130-byte version-2 body naming the algorithm, the device, the
//! boot, a counter, the token's `jti`, the step's leaf hash and the call's
//! hash.
//!
//! The signature (cfg `armoriq_receipt`, build.rs):
//! * `es256-cm4` (feature `receipts`, the default, on the M4F and the M33):
//!   ECDSA P-256 / SHA-256 through p256-cm4, the P-256 already in the image
//!   for ES256 verification ([`es256`]), nonce per RFC 6979 ([`rfc6979`]).
//! * `es256-rustcrypto` (feature `receipts` on the M3): RustCrypto `p256`'s
//!   `SigningKey` (RFC 6979 built in).
//! * `ed25519` (feature `receipts-ed25519`): RFC 8032 over curve25519-dalek
//!   ([`ed25519`]), for EdDSA-only deployments.
//!
//! The key: on QEMU it is provisioned at build (`ARMORIQ_DEVICE_KEY`, a
//! PKCS#8 PEM). On a board with a TRNG it would be generated on first boot
//! into the flash page for secrets; the QEMU boards have neither, so that
//! path is not built.
//!
//! The counter: the QEMU boards' flash does not persist across runs, so these
//! images keep it in RAM and sign boot 0 ("no lasting counter", SPEC §7): it
//! starts at 1 at every boot. A board with flash would run
//! `armoriq_core::counter`'s block reservation (two flash pages; at boot a
//! block of 1,024 counters past the newest record, boot number one up; a
//! record each 1,024 receipts) and sign its boot number; that module is
//! pure and tested on the host. It is not linked here: its ~550 B of code
//! (scan, placement, the RAM stand-in for the pages) do not fit the M4F
//! image's 64 KiB next to the ES256 signer (README, issue 28).

use armoriq_core::canon::Canonicalizer;
use armoriq_core::receipt::{
    self, BODY_LEN, RECEIPT_LEN, ReceiptAlg, ReceiptBody, VERDICT_ACCEPTED,
};
use armoriq_core::verify::VerifiedStep;
use armoriq_frame::{DeviceKeyAlg, MAX_DEVICE_KEY_LEN, VerifyRequest};

#[cfg(armoriq_receipt = "ed25519")]
mod ed25519;
#[cfg(any(armoriq_receipt = "es256-cm4", armoriq_receipt = "es256-rustcrypto"))]
pub mod es256;
#[cfg(armoriq_receipt = "es256-cm4")]
mod rfc6979;

#[cfg(armoriq_receipt = "ed25519")]
use ed25519 as imp;
#[cfg(any(armoriq_receipt = "es256-cm4", armoriq_receipt = "es256-rustcrypto"))]
use es256 as imp;

/// Why no receipt was signed for an accepted call.
pub type Refusal = armoriq_core::Error;

/// The device's receipt key, counter and counter pages.
pub struct Signer {
    key: imp::Key,
    /// The public key (its first `imp::ALG.key_len()` bytes).
    pub public_key: [u8; MAX_DEVICE_KEY_LEN],
    /// [`receipt::device_id`] of the public key.
    pub device_id: [u8; receipt::DEVICE_ID_LEN],
    /// The last receipt's counter (0: none yet this boot).
    pub signed: u64,
}

/// The frame's name of the receipt algorithm.
pub const ALG: DeviceKeyAlg = match imp::ALG {
    ReceiptAlg::Ed25519 => DeviceKeyAlg::Ed25519,
    ReceiptAlg::Es256 => DeviceKeyAlg::Es256,
};

impl Signer {
    /// The provisioned key and this boot's counter block. `None` when the
    /// key is not one, or the counter cannot go on.
    #[inline(never)]
    pub fn boot() -> Option<Self> {
        let (key, pk) = imp::Key::boot(&crate::provision::DEVICE_KEY)?;
        let pk = pk.get(..imp::ALG.key_len())?;
        let mut public_key = [0u8; MAX_DEVICE_KEY_LEN];
        public_key.get_mut(..pk.len())?.copy_from_slice(pk);
        Some(Self {
            key,
            public_key,
            device_id: receipt::device_id(pk),
            signed: 0,
        })
    }

    /// This boot's number: 0, no lasting counter (see above).
    pub const fn boot_number(&self) -> u32 {
        0
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
        let jti_hash = receipt::jti_hash_at(claims, ok.jti)?;
        let call_hash = receipt::call_hash(canon, req.mcp, req.action, req.params)?;
        let counter = self
            .signed
            .checked_add(1)
            .ok_or(Refusal::ReceiptCounterExhausted)?;
        let body = ReceiptBody {
            version: 2,
            alg: imp::ALG,
            device_id: self.device_id,
            boot: self.boot_number(),
            counter,
            jti_hash,
            leaf_hash: ok.leaf_hash,
            call_hash,
            verdict: VERDICT_ACCEPTED,
        };
        let mut out = [0u8; RECEIPT_LEN];
        let (msg, s) = out.split_at_mut(BODY_LEN);
        let msg: &mut [u8; BODY_LEN] = msg.try_into().map_err(|_| Refusal::ReceiptMalformed)?;
        body.write(msg);
        let sig = self.key.sign(msg).ok_or(Refusal::BadSignature)?;
        s.copy_from_slice(&sig);
        self.signed = counter;
        Ok(out)
    }
}

/// RFC 6979 test vectors (`test-vectors` images): an ES256 signature of
/// `msg` with the private scalar `key`, through the receipt's signer.
#[cfg(all(
    feature = "test-vectors",
    any(armoriq_receipt = "es256-cm4", armoriq_receipt = "es256-rustcrypto")
))]
pub fn sign_vector(key: &[u8; 32], msg: &[u8]) -> Option<[u8; 64]> {
    let (k, _) = imp::Key::boot(key)?;
    k.sign(msg)
}
