//! The host's signature backend (issue: host-speed signatures): ring's
//! ECDSA P-256 and Ed25519, behind the core's [`Backend`] trait, so the same
//! `jws::verify` / `verify_invocation` run 5–6× faster on a server than with
//! the pure-Rust device backend.

use armoriq_core::{Backend, Error};
use ring::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};

/// ring 0.17 (BoringSSL-derived assembly for P-256 and Ed25519).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ring;

impl Backend for Ring {
    type P256Key = [u8; 65];
    type Ed25519Key = [u8; 32];

    fn p256_key(sec1: &[u8]) -> Result<Self::P256Key, Error> {
        // Validate the point (on the curve, not identity) and normalise to the
        // uncompressed form ring takes.
        let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1).map_err(|_| Error::KeyInvalid)?;
        let point = k.to_sec1_point(false);
        point.as_bytes().try_into().map_err(|_| Error::KeyInvalid)
    }

    fn ed25519_key(raw: &[u8; 32]) -> Result<Self::Ed25519Key, Error> {
        // Same acceptance as the pure-Rust backend: the bytes must decode to a point.
        <armoriq_core::RustCrypto as Backend>::ed25519_key(raw)?;
        Ok(*raw)
    }

    fn verify_es256(key: &Self::P256Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key)
            .verify(msg, sig)
            .map_err(|_| Error::BadSignature)
    }

    fn verify_ed25519(key: &Self::Ed25519Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        UnparsedPublicKey::new(&ED25519, key)
            .verify(msg, sig)
            .map_err(|_| Error::BadSignature)
    }
}

/// The backend the host uses by default: ring with the `ring-backend`
/// feature (on by default), else the core's pure-Rust one.
#[cfg(feature = "ring-backend")]
pub type HostBackend = Ring;
/// The backend the host uses by default.
#[cfg(not(feature = "ring-backend"))]
pub type HostBackend = armoriq_core::RustCrypto;
