//! The IAP's signing key, token minting, and the proxy's verified-token cache.
//!
//! A [`Signer`] is one snapshot of the IAP's keys: the key that signs (the
//! newest generation) and every key that verifies (all stored generations,
//! so a token signed before a rotation verifies until it expires). Where the
//! snapshot comes from, and how it is swapped when another gateway rotates,
//! is [`crate::signer`].

use armoriq_common::backend::HostBackend;
use armoriq_common::keys::SigningKey;
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::{Alg, Error, SignedIntent};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

/// The most key generations trusted at once (the newest ones; an older
/// generation's tokens expired long ago: tokens live at most a day).
pub const MAX_TRUSTED_KEYS: usize = 16;

/// The trusted key set: every generation's public key, by `kid`.
pub type TrustedKeys = KeySet<HostBackend, MAX_TRUSTED_KEYS>;

/// The IAP's Ed25519 key (what the official SDK's `local` mode checks
/// `jwt_token` and the CSRG token against) and its trusted key set.
pub struct Signer {
    key: SigningKey,
    /// Raw 32-byte public key of the signing key.
    pub public_raw: Vec<u8>,
    /// `kid` in token headers.
    pub kid: String,
    /// The signing key's generation in the store (`None`: the state
    /// directory's `iap-ed25519.pem`).
    pub generation: Option<i64>,
    keys: TrustedKeys,
    trusted_raw: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Signer(kid={}, generation={:?}, trusted={})",
            self.kid,
            self.generation,
            self.trusted_raw.len()
        )
    }
}

/// The `kid` of an Ed25519 public key: the first 8 bytes of its SHA-256, hex.
pub fn kid_of(public_raw: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_raw)[..8])
}

impl Signer {
    /// Loads `iap-ed25519.pem` from `dir`, creating it (mode 0600) on first start.
    ///
    /// # Errors
    /// The file cannot be read, created or parsed.
    pub fn load_or_create(dir: &Path) -> Result<Self, String> {
        let path = dir.join("iap-ed25519.pem");
        let key = if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            SigningKey::from_pem(&text).map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            let (key, der) = SigningKey::generate(Alg::EdDsa)?;
            let mut f = crate::store::create_private_file(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            std::io::Write::write_all(
                &mut f,
                armoriq_common::keys::pem("PRIVATE KEY", &der).as_bytes(),
            )
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            f.sync_all().map_err(|e| e.to_string())?;
            key
        };
        if key.alg() != Alg::EdDsa {
            return Err(format!(
                "{}: the IAP key must be Ed25519 (the official SDK checks EdDSA tokens)",
                path.display()
            ));
        }
        Self::with_trusted(key, None, &[])
    }

    /// `key` signs (it is generation `generation`); it and every key in
    /// `older` (raw Ed25519 public keys) verify. Only the newest
    /// [`MAX_TRUSTED_KEYS`] are kept.
    ///
    /// # Errors
    /// `key` is not Ed25519, or a public key is not 32 bytes.
    pub fn with_trusted(
        key: SigningKey,
        generation: Option<i64>,
        older: &[Vec<u8>],
    ) -> Result<Self, String> {
        if key.alg() != Alg::EdDsa {
            return Err(
                "the IAP key must be Ed25519 (the official SDK checks EdDSA tokens)".into(),
            );
        }
        let public_raw = key.public().raw;
        let kid = kid_of(&public_raw);
        let mut all: Vec<&[u8]> = older.iter().map(Vec::as_slice).collect();
        all.retain(|k| *k != public_raw.as_slice());
        let skip = all.len().saturating_sub(MAX_TRUSTED_KEYS - 1);
        let mut keys = KeySet::new();
        let mut trusted_raw = Vec::new();
        for pk in all.into_iter().skip(skip).chain([public_raw.as_slice()]) {
            let raw: [u8; 32] = pk
                .try_into()
                .map_err(|_| "Ed25519 public key is not 32 bytes".to_owned())?;
            keys.add_ed25519(Some(kid_of(&raw).as_bytes()), &raw)
                .map_err(|e| format!("public key: {e}"))?;
            trusted_raw.push(raw);
        }
        Ok(Self {
            key,
            public_raw,
            kid,
            generation,
            keys,
            trusted_raw,
        })
    }

    /// Whether `raw` is one of the trusted public keys (any generation).
    pub fn trusts(&self, raw: &[u8; 32]) -> bool {
        self.trusted_raw.contains(raw)
    }

    /// Number of trusted keys.
    pub fn trusted_count(&self) -> usize {
        self.trusted_raw.len()
    }

    /// Lowercase hex of the public key.
    pub fn public_hex(&self) -> String {
        hex::encode(&self.public_raw)
    }

    /// The public key as JWK.
    pub fn public_jwk(&self) -> serde_json::Value {
        let mut p = self.key.public();
        p.kid = Some(self.kid.clone());
        p.jwk()
    }

    /// The public key as PEM.
    pub fn public_pem(&self) -> String {
        self.key.public().pem()
    }

    /// A compact JWS over the canonical form of `claims`.
    ///
    /// # Errors
    /// Canonicalization or signing failed.
    pub fn sign_jwt(&self, claims: &serde_json::Value) -> Result<String, String> {
        let canonical = canonical(claims)?;
        self.key.sign_jwt(&canonical, Some(&self.kid))
    }

    /// Ed25519 signature (hex) over `msg`.
    ///
    /// # Errors
    /// Signing failed.
    pub fn sign_hex(&self, msg: &[u8]) -> Result<String, String> {
        self.key.sign(msg).map(hex::encode)
    }

    /// The trusted key set for verification.
    pub fn keys(&self) -> &TrustedKeys {
        &self.keys
    }
}

/// `canonical_json` (the ArmorIQ profile) of a value.
///
/// # Errors
/// The value holds something canonical JSON refuses.
pub fn canonical(v: &serde_json::Value) -> Result<Vec<u8>, String> {
    let text = serde_json::to_vec(v).map_err(|e| e.to_string())?;
    armoriq_common::canonical::canonical_bytes(&text, armoriq_core::Profile::ArmorIq)
        .map_err(|e| e.to_string())
}

/// Verified tokens by SHA-256 of the token text. A hit skips signature and
/// claim parsing; the time window is checked again on every call.
pub struct TokenCache {
    map: RwLock<HashMap<[u8; 32], SignedIntent>>,
    capacity: usize,
    /// Tokens found verified here (`armoriq_token_cache_hits_total`).
    pub hits: prometheus_client::metrics::counter::Counter,
    /// Tokens verified in full (`armoriq_token_cache_misses_total`).
    pub misses: prometheus_client::metrics::counter::Counter,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            capacity,
            hits: prometheus_client::metrics::counter::Counter::default(),
            misses: prometheus_client::metrics::counter::Counter::default(),
        }
    }

    /// Verifies `token` (signature, time, intent claims), using the cache.
    ///
    /// # Errors
    /// The core's rejection.
    pub fn verify(
        &self,
        token: &str,
        signer: &Signer,
        expect: &Expect<'_>,
    ) -> Result<SignedIntent, Error> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if self.capacity > 0
            && let Some(hit) = self.map.read().ok().and_then(|m| m.get(&digest).copied())
        {
            self.hits.inc();
            hit.check_time(expect.now, expect.leeway)?;
            return Ok(hit);
        }
        self.misses.inc();
        let mut buf = vec![0u8; token.len()];
        let signed = armoriq_core::verify_token(token.as_bytes(), expect, signer.keys(), &mut buf)?;
        if self.capacity > 0
            && let Ok(mut m) = self.map.write()
        {
            if m.len() >= self.capacity {
                let now = expect.now;
                m.retain(|_, v| v.exp >= now);
                if m.len() >= self.capacity {
                    m.clear();
                }
            }
            m.insert(digest, signed);
        }
        Ok(signed)
    }

    /// Drops every cached token (the trusted keys changed, or a resync).
    pub fn clear(&self) {
        if let Ok(mut m) = self.map.write() {
            m.clear();
        }
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
