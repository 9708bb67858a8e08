//! The host's signature backends behind the core's [`Backend`] trait, with
//! keys parsed once when they are loaded instead of on every verification:
//! [`AwsLc`] (AWS-LC's assembly for both algorithms, `ParsedPublicKey`) and
//! [`Host`], the default, which takes each algorithm from the backend that
//! measured fastest: aws-lc-rs for ES256, the core's pure-Rust strict
//! Ed25519 for EdDSA. aws-lc-rs is also what `jsonwebtoken` and rustls use,
//! so a host carries one C crypto library.

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

/// The host's default backend, each algorithm on its fastest verifier
/// measured side by side (`cargo run --release -p armoriq-benches --example
/// paired`, one run, 80 alternating rounds): ES256 on aws-lc-rs with the key
/// parsed once (49.2 µs; ring 53.4 µs, p256 464 µs); Ed25519 on the core's
/// pure-Rust strict check (ed25519-dalek with its precomputed tables and the
/// R-order test done on bytes: 31.9 µs; aws-lc-rs 37.1 µs, ring 47.3 µs).
/// The verdicts are the same on every backend (Wycheproof, both suites).
#[derive(Clone, Copy, Debug, Default)]
pub struct Host;

impl Backend for Host {
    type P256Key = AwsKey;
    type Ed25519Key = <armoriq_core::RustCrypto as Backend>::Ed25519Key;

    fn p256_key(sec1: &[u8]) -> Result<Self::P256Key, Error> {
        AwsLc::p256_key(sec1)
    }

    fn ed25519_key(raw: &[u8; 32]) -> Result<Self::Ed25519Key, Error> {
        armoriq_core::RustCrypto::ed25519_key(raw)
    }

    fn verify_es256(key: &Self::P256Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        AwsLc::verify_es256(key, msg, sig)
    }

    fn verify_ed25519(key: &Self::Ed25519Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        armoriq_core::RustCrypto::verify_ed25519(key, msg, sig)
    }
}

/// The backend the host uses by default: [`Host`] with the `aws-lc` feature
/// (on by default), else the core's pure-Rust one.
#[cfg(feature = "aws-lc")]
pub type HostBackend = Host;
/// The backend the host uses by default.
#[cfg(not(feature = "aws-lc"))]
pub type HostBackend = armoriq_core::RustCrypto;
