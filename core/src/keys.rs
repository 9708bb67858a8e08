//! Trusted public keys: a fixed-capacity set, each key with its algorithm and
//! an optional `kid`. The key decides the algorithm; a token's header only has
//! to agree with it.

use crate::b64;
use crate::error::Error;
use crate::json::{Kind, Value};
use crate::sig::{Alg, Backend};

/// Longest `kid` kept.
pub const MAX_KID: usize = 64;

/// A parsed public key.
#[derive(Clone, Debug)]
pub enum PublicKey<B: Backend> {
    /// P-256.
    Es256(B::P256Key),
    /// Ed25519.
    EdDsa(B::Ed25519Key),
}

impl<B: Backend> PublicKey<B> {
    /// The algorithm this key verifies.
    #[must_use]
    pub const fn alg(&self) -> Alg {
        match self {
            Self::Es256(_) => Alg::Es256,
            Self::EdDsa(_) => Alg::EdDsa,
        }
    }

    /// Verifies `sig` over `msg` with this key.
    ///
    /// # Errors
    /// [`Error::BadSignature`].
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
        match self {
            Self::Es256(k) => B::verify_es256(k, msg, sig),
            Self::EdDsa(k) => B::verify_ed25519(k, msg, sig),
        }
    }
}

/// One trusted key.
#[derive(Clone, Debug)]
pub struct TrustedKey<B: Backend> {
    kid: heapless::Vec<u8, MAX_KID>,
    has_kid: bool,
    key: PublicKey<B>,
}

impl<B: Backend> TrustedKey<B> {
    /// The key.
    pub const fn key(&self) -> &PublicKey<B> {
        &self.key
    }

    /// The key's `kid`, if it has one.
    #[must_use]
    pub fn kid(&self) -> Option<&[u8]> {
        self.has_kid.then_some(self.kid.as_slice())
    }
}

/// Up to `N` trusted keys.
#[derive(Clone, Debug)]
pub struct KeySet<B: Backend, const N: usize> {
    keys: heapless::Vec<TrustedKey<B>, N>,
}

impl<B: Backend, const N: usize> Default for KeySet<B, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backend, const N: usize> KeySet<B, N> {
    /// An empty set.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            keys: heapless::Vec::new(),
        }
    }

    /// The keys, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = &TrustedKey<B>> {
        self.keys.iter()
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds a parsed key.
    ///
    /// # Errors
    /// [`Error::KeySetFull`]; [`Error::KeyInvalid`] for a `kid` over [`MAX_KID`] bytes.
    pub fn add(&mut self, kid: Option<&[u8]>, key: PublicKey<B>) -> Result<(), Error> {
        let mut k = heapless::Vec::new();
        if let Some(id) = kid {
            k.extend_from_slice(id).map_err(|_| Error::KeyInvalid)?;
        }
        self.keys
            .push(TrustedKey {
                kid: k,
                has_kid: kid.is_some(),
                key,
            })
            .map_err(|_| Error::KeySetFull { capacity: N })
    }

    /// Adds a P-256 key from its SEC1 encoding.
    ///
    /// # Errors
    /// As [`Backend::p256_key`] and [`KeySet::add`].
    pub fn add_es256(&mut self, kid: Option<&[u8]>, sec1: &[u8]) -> Result<(), Error> {
        self.add(kid, PublicKey::Es256(B::p256_key(sec1)?))
    }

    /// Adds an Ed25519 key from its 32 raw bytes.
    ///
    /// # Errors
    /// As [`Backend::ed25519_key`] and [`KeySet::add`].
    pub fn add_ed25519(&mut self, kid: Option<&[u8]>, raw: &[u8; 32]) -> Result<(), Error> {
        self.add(kid, PublicKey::EdDsa(B::ed25519_key(raw)?))
    }

    /// Adds a public key given as a JWK (RFC 7517): `{"kty":"EC","crv":"P-256",
    /// "x","y"}` or `{"kty":"OKP","crv":"Ed25519","x"}` (RFC 8037 §2), with
    /// optional `kid`, and `alg` that must then agree with the key type.
    ///
    /// # Errors
    /// [`Error::KeyInvalid`] for anything else; [`Error::KeySetFull`].
    pub fn add_jwk(&mut self, jwk: &[u8]) -> Result<(), Error> {
        let v = Value::parse(jwk, 4).map_err(|_| Error::KeyInvalid)?;
        if v.kind() != Kind::Object {
            return Err(Error::KeyInvalid);
        }
        let mut kty = None;
        let mut crv = None;
        let mut x = None;
        let mut y = None;
        let mut kid = None;
        let mut alg = None;
        let mut usage = None;
        for (k, val) in v.members() {
            if k.eq_str("key_ops") {
                // RFC 7517 §4.3: a key whose operations exclude "verify" is not
                // for verifying.
                if val.kind() != Kind::Array
                    || !val
                        .elements()
                        .any(|o| o.as_str().is_some_and(|s| s.eq_str("verify")))
                {
                    return Err(Error::KeyInvalid);
                }
                continue;
            }
            let slot = if k.eq_str("kty") {
                &mut kty
            } else if k.eq_str("crv") {
                &mut crv
            } else if k.eq_str("x") {
                &mut x
            } else if k.eq_str("y") {
                &mut y
            } else if k.eq_str("kid") {
                &mut kid
            } else if k.eq_str("alg") {
                &mut alg
            } else if k.eq_str("use") {
                &mut usage
            } else {
                continue;
            };
            if slot.is_some() {
                return Err(Error::KeyInvalid);
            }
            let s = val
                .as_str()
                .and_then(|s| s.as_unescaped())
                .ok_or(Error::KeyInvalid)?;
            *slot = Some(s);
        }
        // RFC 7517 §4.2: an encryption key is not a signature key.
        if usage.is_some_and(|u| u != "sig") {
            return Err(Error::KeyInvalid);
        }
        let kid = kid.map(str::as_bytes);
        let coord = |c: Option<&str>| -> Result<[u8; 32], Error> {
            let mut out = [0u8; 32];
            let got = b64::decode(c.ok_or(Error::KeyInvalid)?.as_bytes(), &mut out, 0)
                .map_err(|_| Error::KeyInvalid)?;
            if got.len() != 32 {
                return Err(Error::KeyInvalid);
            }
            Ok(out)
        };
        match (kty, crv) {
            (Some("EC"), Some("P-256")) => {
                if alg.is_some_and(|a| a != "ES256") {
                    return Err(Error::KeyInvalid);
                }
                let (xb, yb) = (coord(x)?, coord(y)?);
                let mut sec1 = [0u8; 65];
                for (dst, src) in sec1.iter_mut().zip([4u8].iter().chain(&xb).chain(&yb)) {
                    *dst = *src;
                }
                self.add_es256(kid, &sec1)
            }
            (Some("OKP"), Some("Ed25519")) => {
                if alg.is_some_and(|a| a != "EdDSA") || y.is_some() {
                    return Err(Error::KeyInvalid);
                }
                self.add_ed25519(kid, &coord(x)?)
            }
            _ => Err(Error::KeyInvalid),
        }
    }

    /// The key for a token: the one whose `kid` is the header's `kid`; else
    /// (no such key, or no `kid` in the header) the first key of the header's
    /// algorithm that has no `kid` of its own (a key loaded without a `kid`
    /// vouches for any). A header `kid` that only keys with other `kid`s could
    /// answer is [`Error::UnknownKid`].
    ///
    /// # Errors
    /// [`Error::UnknownKid`], [`Error::AlgMismatch`], [`Error::NoMatchingKey`].
    pub fn select(&self, kid: Option<&[u8]>, alg: Alg) -> Result<&PublicKey<B>, Error> {
        if let Some(kid) = kid {
            if let Some(k) = self.keys.iter().find(|k| k.kid() == Some(kid)) {
                if k.key.alg() != alg {
                    return Err(Error::AlgMismatch);
                }
                return Ok(&k.key);
            }
            return self
                .keys
                .iter()
                .find(|k| !k.has_kid && k.key.alg() == alg)
                .map(|k| &k.key)
                .ok_or(Error::UnknownKid);
        }
        if let Some(k) = self.keys.iter().find(|k| k.key.alg() == alg) {
            return Ok(&k.key);
        }
        if let Some(k) = self.keys.iter().find(|k| k.key.alg() == alg) {
            return Ok(&k.key);
        }
        if self.keys.is_empty() {
            Err(Error::NoMatchingKey)
        } else {
            Err(Error::AlgMismatch)
        }
    }
}
