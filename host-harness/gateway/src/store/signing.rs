//! The IAP's signing keys kept in the store, so that every gateway on one
//! database signs with the same key and trusts the same set. The store only
//! ever holds a key sealed (AES-256-GCM under a key derived from the
//! operator's secret, see `crate::sealed`): never the key in plain text.
//!
//! Keys are numbered by generation. The first is created once however many
//! nodes start together: each node tries to add generation 1 (`INSERT … ON
//! CONFLICT DO NOTHING`) and then reads back whichever key won. Rotation
//! adds generation `max + 1`; the newest generation signs, every stored one
//! verifies (tokens signed before a rotation verify until they expire).

use super::StoreFuture;

/// One sealed signing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedSigningKey {
    /// 1, 2, … (unique; the newest signs).
    pub generation: i64,
    /// The `kid` tokens signed with it carry.
    pub kid: String,
    /// The raw public key (32 bytes for Ed25519).
    pub public_raw: Vec<u8>,
    /// The private key, sealed: nonce then ciphertext and tag.
    pub sealed: Vec<u8>,
    /// Unix milliseconds.
    pub created_ms: i64,
}

/// Signing keys.
pub trait SigningKeyStore: Send + Sync {
    /// Adds `key` unless its generation is taken, atomically (`INSERT … ON
    /// CONFLICT DO NOTHING`): of several nodes adding the same generation at
    /// once exactly one gets `true`. Tells every node (see
    /// [`ChangeFeed`](super::ChangeFeed)) when it added one.
    fn add_signing_key<'a>(&'a self, key: &'a SealedSigningKey) -> StoreFuture<'a, bool>;
    /// Every signing key, oldest generation first.
    fn signing_keys(&self) -> StoreFuture<'_, Vec<SealedSigningKey>>;
}
