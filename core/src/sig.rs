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

/// The canonical encodings of the eight points of small order (the 8-torsion
/// of edwards25519: identity, order 2, two of order 4, four of order 8).
/// A test derives them from curve25519-dalek's `EIGHT_TORSION`.
pub const SMALL_ORDER_ENCODINGS: [[u8; 32]; 8] = [
    [
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x80,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x85,
    ],
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0xfa,
    ],
];

/// A parsed Ed25519 public key of the pure-Rust backend: the decompressed
/// point (ed25519-dalek keeps it, so no verification decodes the key again)
/// and whether it has small order, found once when the key is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ed25519Key {
    key: ed25519_dalek::VerifyingKey,
    weak: bool,
}

/// The pure-Rust, `no_std` backend: RustCrypto `p256` and `ed25519-dalek`.
///
/// ES256 needs the `p256` feature (a default one). Without it P-256 keys are
/// refused ([`Error::KeyInvalid`]), so no ES256 signature can verify: that
/// build is for a verifier that plugs its own P-256 implementation into its
/// [`Backend`] and keeps only this Ed25519 part (the Cortex-M4 firmware).
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

/// [`RustCrypto`]'s P-256 key: p256's, or a type with no values when the
/// `p256` feature is off.
#[cfg(feature = "p256")]
type RustCryptoP256Key = p256::ecdsa::VerifyingKey;
#[cfg(not(feature = "p256"))]
type RustCryptoP256Key = core::convert::Infallible;

impl Backend for RustCrypto {
    type P256Key = RustCryptoP256Key;
    type Ed25519Key = Ed25519Key;

    #[cfg(feature = "p256")]
    fn p256_key(sec1: &[u8]) -> Result<Self::P256Key, Error> {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1).map_err(|_| Error::KeyInvalid)
    }

    #[cfg(not(feature = "p256"))]
    fn p256_key(_sec1: &[u8]) -> Result<Self::P256Key, Error> {
        Err(Error::KeyInvalid)
    }

    fn ed25519_key(raw: &[u8; 32]) -> Result<Self::Ed25519Key, Error> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(raw).map_err(|_| Error::KeyInvalid)?;
        Ok(Ed25519Key {
            key,
            weak: key.is_weak(),
        })
    }

    #[cfg(not(feature = "p256"))]
    fn verify_es256(key: &Self::P256Key, _msg: &[u8], _sig: &[u8]) -> Result<(), Error> {
        // No key of this type exists.
        match *key {}
    }

    #[cfg(feature = "p256")]
    fn verify_es256(key: &Self::P256Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        use p256::ecdsa::signature::Verifier;
        // `from_slice` rejects a wrong length and r or s that is zero or ≥ n.
        let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|_| Error::BadSignature)?;
        key.verify(msg, &sig).map_err(|_| Error::BadSignature)
    }

    /// Strict Ed25519 verification: exactly the verdicts of ed25519-dalek's
    /// `verify_strict` (S < L, neither A nor R of small order, then the
    /// cofactorless equation `encode([S]B − [k]A) = R`, RFC 8032 §5.1.7 plus
    /// the checks Wycheproof expects), for about 15 % less work:
    /// `verify_strict` decompresses R only to test its order, but when the
    /// equation holds R is the canonical encoding of a point, so its order is
    /// small exactly when its bytes are one of [`SMALL_ORDER_ENCODINGS`];
    /// when the equation fails, the verdict is a rejection either way. A's
    /// order is tested once, when the key is parsed.
    fn verify_ed25519(key: &Self::Ed25519Key, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        use ed25519_dalek::Verifier;
        let sig: &[u8; 64] = sig.try_into().map_err(|_| Error::BadSignature)?;
        let r = sig.first_chunk::<32>().ok_or(Error::BadSignature)?;
        if key.weak || SMALL_ORDER_ENCODINGS.contains(r) {
            return Err(Error::BadSignature);
        }
        // The cofactorless check; it refuses S ≥ L itself.
        key.key
            .verify(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .map_err(|_| Error::BadSignature)
    }
}
