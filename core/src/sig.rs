//! Signature verification behind one small trait, so the device path uses the
//! pure-Rust implementations with static dispatch and a host can plug in a
//! faster one (RFC 7518 §3.4 ES256, RFC 8037 §3.1 EdDSA/Ed25519).
//!
//! Every failure of the cryptography is the one opaque [`Error::BadSignature`]:
//! it says nothing about why (RustCrypto `signature::Error`'s reasoning).

use crate::error::Error;

/// A JWS algorithm this crate verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256, signature `r ‖ s` (RFC 7518 §3.4).
    Es256,
    /// Ed25519 (RFC 8037 §3.1).
    EdDsa,
}

impl Alg {
    /// The `alg` header value.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }
}

/// Parsed public keys and verification, per algorithm.
pub trait Backend {
    /// A parsed P-256 public key.
    type P256Key: Clone + core::fmt::Debug;
    /// A parsed Ed25519 public key.
    type Ed25519Key: Clone + core::fmt::Debug;

    /// Parses a SEC1 P-256 point (`0x04 ‖ x ‖ y` or compressed).
    ///
    /// # Errors
    /// [`Error::KeyInvalid`] when the bytes are not a point on the curve.
    fn p256_key(sec1: &[u8]) -> Result<Self::P256Key, Error>;

    /// Parses a raw 32-byte Ed25519 public key.
    ///
    /// # Errors
    /// [`Error::KeyInvalid`] when the bytes do not decode to a point.
    fn ed25519_key(raw: &[u8; 32]) -> Result<Self::Ed25519Key, Error>;

    /// Verifies an ES256 signature (`r ‖ s`, 64 bytes) over `msg`.
    ///
    /// # Errors
    /// [`Error::BadSignature`].
    fn verify_es256(key: &Self::P256Key, msg: &[u8], sig: &[u8]) -> Result<(), Error>;

    /// Verifies an Ed25519 signature (64 bytes) over `msg`.
    ///
    /// # Errors
    /// [`Error::BadSignature`].
    fn verify_ed25519(key: &Self::Ed25519Key, msg: &[u8], sig: &[u8]) -> Result<(), Error>;
}

/// The pure-Rust, `no_std` backend: RustCrypto `p256` and `ed25519-dalek`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

impl Backend for RustCrypto {
    type P256Key = p256::ecdsa::VerifyingKey;
    type Ed25519Key = ed25519_dalek::VerifyingKey;

    fn p256_key(sec1: &[u8]) -> Result<Self::P256Key, Error> {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1).map_err(|_| Error::KeyInvalid)
    }

    fn ed25519_key(raw: &[u8; 32]) -> Result<Self::Ed25519Key, Error> {
        ed25519_dalek::VerifyingKey::from_bytes(raw).map_err(|_| Error::KeyInvalid)
    }

    fn verify_es256(key: &Self::P256Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        use p256::ecdsa::signature::Verifier;
        // `from_slice` rejects a wrong length and r or s that is zero or ≥ n.
        let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|_| Error::BadSignature)?;
        key.verify(msg, &sig).map_err(|_| Error::BadSignature)
    }

    fn verify_ed25519(key: &Self::Ed25519Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        let sig: &[u8; 64] = sig.try_into().map_err(|_| Error::BadSignature)?;
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        // Strict verification: rejects non-canonical S (≥ L), small-order keys
        // and R (RFC 8032 §5.1.7 plus the checks Wycheproof expects).
        key.verify_strict(msg, &sig)
            .map_err(|_| Error::BadSignature)
    }
}
