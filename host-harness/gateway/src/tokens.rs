//! The IAP's signing key, token minting, and the proxy's verified-token cache.

use armoriq_common::backend::HostBackend;
use armoriq_common::keys::SigningKey;
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::{Alg, Error, SignedIntent};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;

/// The IAP's Ed25519 key (what the official SDK's `local` mode checks
/// `jwt_token` and the CSRG token against) and its trusted key set.
pub struct Signer {
    key: SigningKey,
    /// Raw 32-byte public key.
    pub public_raw: Vec<u8>,
    /// `kid` in token headers.
    pub kid: String,
    keys: KeySet<HostBackend, 1>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(kid={})", self.kid)
    }
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
        let public_raw = key.public().raw;
        let kid = hex::encode(&Sha256::digest(&public_raw)[..8]);
        let raw: [u8; 32] = public_raw
            .as_slice()
            .try_into()
            .map_err(|_| "Ed25519 public key is not 32 bytes".to_owned())?;
        let mut keys = KeySet::new();
        keys.add_ed25519(Some(kid.as_bytes()), &raw)
            .map_err(|e| format!("public key: {e}"))?;
        Ok(Self {
            key,
            public_raw,
            kid,
            keys,
        })
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
    pub fn keys(&self) -> &KeySet<HostBackend, 1> {
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
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            capacity,
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
            hit.check_time(expect.now, expect.leeway)?;
            return Ok(hit);
        }
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

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
