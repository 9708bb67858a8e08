//! The host's signature backend: aws-lc-rs (AWS-LC's assembly for P-256 and
//! Ed25519) behind the core's [`Backend`] trait, with keys parsed once when
//! they are loaded (`ParsedPublicKey`) instead of on every verification.
//!
//! Chosen by measurement (BENCHMARKS in the closing note of the issue): in one
//! criterion run, bare ES256 verify took ring 123 µs, aws-lc-rs 128 µs, p256
//! 387 µs; bare Ed25519 verify took aws-lc-rs 62 µs, ed25519-dalek 89 µs,
//! ring 105 µs. aws-lc-rs is the fastest or level on both and is the backend
//! `jsonwebtoken` and rustls use, so hosts carry one crypto library.

use armoriq_core::{Backend, Error};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey};

/// A key parsed by aws-lc-rs.
#[derive(Clone)]
pub struct AwsKey(ParsedPublicKey);

impl std::fmt::Debug for AwsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AwsKey(..)")
    }
}

/// aws-lc-rs.
#[derive(Clone, Copy, Debug, Default)]
pub struct AwsLc;

impl Backend for AwsLc {
    type P256Key = AwsKey;
    type Ed25519Key = AwsKey;

    fn p256_key(sec1: &[u8]) -> Result<Self::P256Key, Error> {
        // Validate as the device backend does (on the curve, not identity),
        // then hand aws-lc-rs the uncompressed point.
        let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1).map_err(|_| Error::KeyInvalid)?;
        let point = k.to_sec1_point(false);
        ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point.as_bytes())
            .map(AwsKey)
            .map_err(|_| Error::KeyInvalid)
    }

    fn ed25519_key(raw: &[u8; 32]) -> Result<Self::Ed25519Key, Error> {
        // Same acceptance as the pure-Rust backend: the bytes must decode to a point.
        <armoriq_core::RustCrypto as Backend>::ed25519_key(raw)?;
        ParsedPublicKey::new(&ED25519, raw)
            .map(AwsKey)
            .map_err(|_| Error::KeyInvalid)
    }

    fn verify_es256(key: &Self::P256Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        key.0.verify_sig(msg, sig).map_err(|_| Error::BadSignature)
    }

    fn verify_ed25519(key: &Self::Ed25519Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        key.0.verify_sig(msg, sig).map_err(|_| Error::BadSignature)
    }
}

/// The backend the host uses by default: aws-lc-rs with the `aws-lc` feature
/// (on by default), else the core's pure-Rust one.
#[cfg(feature = "aws-lc")]
pub type HostBackend = AwsLc;
/// The backend the host uses by default.
#[cfg(not(feature = "aws-lc"))]
pub type HostBackend = armoriq_core::RustCrypto;
