//! Where the IAP's signing keys come from, and how a running gateway swaps
//! them when another gateway rotates.
//!
//! * Without an operator secret, on SQLite: the state directory's
//!   `iap-ed25519.pem`, created on first start — one gateway, one key, as
//!   it has always been.
//! * With an operator secret (`ARMORIQ_SECRET` / `--secret-file`), and
//!   always on a shared store: the store's sealed keys
//!   ([`crate::store::SigningKeyStore`], sealed by [`crate::sealed`]). The
//!   first gateway to start adds generation 1; every gateway reads back the
//!   one that won, so nodes starting together agree. The newest generation
//!   signs; every stored generation verifies.
//!
//! [`KeyRing`] holds the current [`Signer`] behind a lock and hands out
//! snapshots (`Arc<Signer>`): a request signs and states its public key from
//! one snapshot even if a rotation lands in the middle. The sync task
//! ([`crate::sync`]) calls [`KeyRing::reload`] on `Change::SigningKeys`.
//!
//! Every stored generation is opened at load, not only the newest: the
//! stored public key must be the sealed private key's, so a row added by
//! someone without the secret cannot slip a key into the trusted set.

use crate::sealed::{OperatorSecret, signing_key_aad};
use crate::store::{SealedSigningKey, Store};
use crate::tokens::{Signer, kid_of};
use armoriq_common::keys::SigningKey;
use armoriq_core::Alg;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// How many times a rotation retries when another node took its generation.
const ROTATE_ATTEMPTS: usize = 8;

/// Where the keys are loaded from.
enum Source {
    /// `iap-ed25519.pem` in the state directory (never changes at runtime).
    File,
    /// The store, sealed under this secret.
    Store(Arc<OperatorSecret>),
}

/// The IAP's keys as they stand, swappable at runtime.
pub struct KeyRing {
    current: RwLock<Arc<Signer>>,
    source: Source,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyRing({:?})", self.current())
    }
}

impl KeyRing {
    /// A fixed key (the state directory's file, or a test's).
    pub fn fixed(signer: Signer) -> Self {
        Self {
            current: RwLock::new(Arc::new(signer)),
            source: Source::File,
        }
    }

    /// `iap-ed25519.pem` in `dir`, created on first start.
    ///
    /// # Errors
    /// As [`Signer::load_or_create`].
    pub fn from_state_dir(dir: &Path) -> Result<Self, String> {
        Signer::load_or_create(dir).map(Self::fixed)
    }

    /// The store's keys, generation 1 created if there is none.
    ///
    /// # Errors
    /// The store failed, or a stored key does not open under `secret`.
    pub async fn from_store(
        store: &dyn Store,
        secret: Arc<OperatorSecret>,
    ) -> Result<Self, String> {
        let signer = load_or_create(store, &secret).await?;
        Ok(Self {
            current: RwLock::new(Arc::new(signer)),
            source: Source::Store(secret),
        })
    }

    /// The keys now: sign and state the public key from one snapshot.
    pub fn current(&self) -> Arc<Signer> {
        self.current
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Whether the keys live in the store (and may change at runtime).
    pub fn is_stored(&self) -> bool {
        matches!(self.source, Source::Store(_))
    }

    /// Whether the store holds a newer generation than the one signing (a
    /// cheap check: no key is opened).
    ///
    /// # Errors
    /// The store failed.
    pub async fn newer_in(&self, store: &dyn Store) -> Result<bool, String> {
        if !self.is_stored() {
            return Ok(false);
        }
        let keys = store.signing_keys().await.map_err(|e| e.to_string())?;
        let newest = keys.iter().map(|k| k.generation).max();
        Ok(newest > self.current().generation)
    }

    /// Reads the store's keys again and puts them in force; true when the
    /// signing key changed. A fixed key never changes.
    ///
    /// # Errors
    /// The store failed or a key does not open; the keys in force stay.
    pub async fn reload(&self, store: &dyn Store) -> Result<bool, String> {
        let Source::Store(secret) = &self.source else {
            return Ok(false);
        };
        let keys = store.signing_keys().await.map_err(|e| e.to_string())?;
        let fresh = open_all(&keys, secret)?;
        let changed = fresh.kid != self.current().kid;
        match self.current.write() {
            Ok(mut slot) => *slot = Arc::new(fresh),
            Err(e) => *e.into_inner() = Arc::new(fresh),
        }
        Ok(changed)
    }
}

/// The store's keys, adding generation 1 when there is none: several nodes
/// starting at once each try, one wins, all read back the winner.
///
/// # Errors
/// The store failed, or a stored key does not open under `secret`.
pub async fn load_or_create(store: &dyn Store, secret: &OperatorSecret) -> Result<Signer, String> {
    let mut keys = store.signing_keys().await.map_err(|e| e.to_string())?;
    if keys.is_empty() {
        let first = new_sealed(secret, 1)?;
        store
            .add_signing_key(&first)
            .await
            .map_err(|e| e.to_string())?;
        keys = store.signing_keys().await.map_err(|e| e.to_string())?;
    }
    open_all(&keys, secret)
}

/// Adds generation `max + 1` (retrying when another node took it) and
/// returns it. Every node reloads on the change feed's `SigningKeys`.
///
/// # Errors
/// The store failed, the secret does not open the keys already there, or
/// other nodes kept taking the generation.
pub async fn rotate(
    store: &dyn Store,
    secret: &OperatorSecret,
) -> Result<SealedSigningKey, String> {
    for _ in 0..ROTATE_ATTEMPTS {
        let keys = store.signing_keys().await.map_err(|e| e.to_string())?;
        // Rotating under another secret would leave nodes unable to sign.
        if !keys.is_empty() {
            open_all(&keys, secret)?;
        }
        let next = keys.iter().map(|k| k.generation).max().unwrap_or(0) + 1;
        let key = new_sealed(secret, next)?;
        if store
            .add_signing_key(&key)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(key);
        }
    }
    Err(format!(
        "other gateways kept adding signing keys: gave up after {ROTATE_ATTEMPTS} attempts"
    ))
}

/// A fresh Ed25519 key, sealed as generation `generation`.
///
/// # Errors
/// The system RNG failed.
pub fn new_sealed(secret: &OperatorSecret, generation: i64) -> Result<SealedSigningKey, String> {
    let (key, der) = SigningKey::generate(Alg::EdDsa)?;
    let public_raw = key.public().raw;
    let kid = kid_of(&public_raw);
    let sealed = secret.seal(&der, &signing_key_aad(generation, &kid))?;
    Ok(SealedSigningKey {
        generation,
        kid,
        public_raw,
        sealed,
        created_ms: crate::now_ms(),
    })
}

/// Opens every stored key (oldest first): the newest signs, all verify.
///
/// # Errors
/// No key, or one that does not open under `secret` or whose stored public
/// key is not its own.
fn open_all(keys: &[SealedSigningKey], secret: &OperatorSecret) -> Result<Signer, String> {
    let Some(newest) = keys.iter().max_by_key(|k| k.generation) else {
        return Err("the store holds no signing key".into());
    };
    let mut signing = None;
    for k in keys {
        let key = open_one(k, secret)?;
        if k.generation == newest.generation {
            signing = Some(key);
        }
    }
    let key = signing.ok_or_else(|| "the newest signing key vanished".to_owned())?;
    let older: Vec<Vec<u8>> = keys
        .iter()
        .filter(|k| k.generation != newest.generation)
        .map(|k| k.public_raw.clone())
        .collect();
    Signer::with_trusted(key, Some(newest.generation), &older)
}

fn open_one(k: &SealedSigningKey, secret: &OperatorSecret) -> Result<SigningKey, String> {
    let der = secret
        .open(&k.sealed, &signing_key_aad(k.generation, &k.kid))
        .map_err(|e| {
            format!(
                "signing key generation {} (kid {}) in the store does not open ({e}): \
                 ARMORIQ_SECRET / --secret-file is not the secret the other gateways use",
                k.generation, k.kid
            )
        })?;
    let key = SigningKey::from_pkcs8(&der)
        .map_err(|e| format!("signing key generation {}: {e}", k.generation))?;
    if key.public().raw != k.public_raw || kid_of(&k.public_raw) != k.kid {
        return Err(format!(
            "signing key generation {} (kid {}): the stored public key is not the sealed key's",
            k.generation, k.kid
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SigningKeyStore, SqliteStore};

    fn secret(s: &str) -> Arc<OperatorSecret> {
        Arc::new(OperatorSecret::new(s.as_bytes()).unwrap())
    }

    fn store() -> (tempdir::Dir, Arc<SqliteStore>) {
        let d = tempdir::Dir::new("signer");
        let s = SqliteStore::open(&d.0.join("armoriq.db")).unwrap();
        (d, Arc::new(s))
    }

    /// A directory removed on drop (no tempfile crate here).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new(tag: &str) -> Self {
                let p =
                    std::env::temp_dir().join(format!("armoriq-{tag}-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[tokio::test]
    async fn nodes_starting_together_agree_on_one_key() {
        let (_d, s) = store();
        let sec = secret("the operator secret, 32 bytes...");
        let (a, b, c) = tokio::join!(
            KeyRing::from_store(s.as_ref(), sec.clone()),
            KeyRing::from_store(s.as_ref(), sec.clone()),
            KeyRing::from_store(s.as_ref(), sec.clone()),
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        assert_eq!(a.current().kid, b.current().kid);
        assert_eq!(b.current().kid, c.current().kid);
        assert_eq!(a.current().generation, Some(1));
        assert_eq!(s.signing_keys().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_wrong_secret_refuses_to_start_and_to_rotate() {
        let (_d, s) = store();
        KeyRing::from_store(s.as_ref(), secret("the operator secret, 32 bytes..."))
            .await
            .unwrap();
        let e = KeyRing::from_store(s.as_ref(), secret("some other secret entirely"))
            .await
            .unwrap_err();
        assert!(
            e.contains("is not the secret the other gateways use"),
            "{e}"
        );
        let e = rotate(s.as_ref(), &secret("some other secret entirely"))
            .await
            .unwrap_err();
        assert!(e.contains("is not the secret"), "{e}");
    }

    #[tokio::test]
    async fn rotation_signs_with_the_new_key_and_trusts_every_generation() {
        let (_d, s) = store();
        let sec = secret("the operator secret, 32 bytes...");
        let ring = KeyRing::from_store(s.as_ref(), sec.clone()).await.unwrap();
        let old = ring.current();
        let added = rotate(s.as_ref(), &sec).await.unwrap();
        assert_eq!(added.generation, 2);
        assert!(ring.reload(s.as_ref()).await.unwrap());
        let new = ring.current();
        assert_eq!(new.kid, added.kid);
        assert_eq!(new.generation, Some(2));
        assert_eq!(new.trusted_count(), 2);
        let old_raw: [u8; 32] = old.public_raw.as_slice().try_into().unwrap();
        assert!(new.trusts(&old_raw));
        // A snapshot taken before the rotation still signs with the old key.
        assert_eq!(old.generation, Some(1));
        // Reloading with nothing new changes nothing.
        assert!(!ring.reload(s.as_ref()).await.unwrap());
    }

    #[tokio::test]
    async fn many_rotations_keep_the_newest_generations_trusted() {
        let (_d, s) = store();
        let sec = secret("the operator secret, 32 bytes...");
        let mut kids = Vec::new();
        for _ in 0..(crate::tokens::MAX_TRUSTED_KEYS + 4) {
            kids.push(rotate(s.as_ref(), &sec).await.unwrap().kid);
        }
        // Still starts (the key set does not overflow), signs with the
        // newest, trusts the newest MAX_TRUSTED_KEYS.
        let ring = KeyRing::from_store(s.as_ref(), sec).await.unwrap();
        let cur = ring.current();
        assert_eq!(cur.kid, *kids.last().unwrap());
        assert_eq!(cur.trusted_count(), crate::tokens::MAX_TRUSTED_KEYS);
        let trusted: Vec<String> = cur
            .keys()
            .iter()
            .map(|k| String::from_utf8(k.kid().unwrap().to_vec()).unwrap())
            .collect();
        assert_eq!(trusted, kids[4..].to_vec());
    }

    #[tokio::test]
    async fn a_row_moved_to_another_generation_does_not_open() {
        let (_d, s) = store();
        let sec = secret("the operator secret, 32 bytes...");
        let mut k = new_sealed(&sec, 1).unwrap();
        k.generation = 2;
        assert!(s.add_signing_key(&k).await.unwrap());
        let e = KeyRing::from_store(s.as_ref(), sec).await.unwrap_err();
        assert!(e.contains("generation 2"), "{e}");
    }

    #[tokio::test]
    async fn a_public_key_without_its_sealed_key_is_refused() {
        let (_d, s) = store();
        let sec = secret("the operator secret, 32 bytes...");
        let mut k = new_sealed(&sec, 1).unwrap();
        let other = new_sealed(&sec, 1).unwrap();
        k.public_raw = other.public_raw;
        assert!(s.add_signing_key(&k).await.unwrap());
        let e = KeyRing::from_store(s.as_ref(), sec).await.unwrap_err();
        assert!(e.contains("not the sealed key's"), "{e}");
    }
}
