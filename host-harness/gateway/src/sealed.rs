//! The operator's secret, and the IAP signing keys sealed under it.
//!
//! Several gateways on one database must sign with the same key, so the key
//! lives in the store — but the store is the wrong place to trust with a
//! private key in plain text (backups, replicas, a read-only DBA). Each key
//! is therefore sealed with AES-256-GCM under a key derived (HKDF-SHA256)
//! from a secret only the gateways hold: `ARMORIQ_SECRET`, or the file named
//! by `--secret-file`. A random 96-bit nonce is drawn for every seal, and the
//! key's generation and kid are bound in as additional authenticated data,
//! so a sealed blob copied onto another row does not open.
//!
//! The secret is never logged or written anywhere by the gateway, and its
//! `Debug` form shows nothing of it.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use std::path::Path;

/// The environment variable holding the operator secret.
pub const SECRET_ENV: &str = "ARMORIQ_SECRET";

/// The shortest secret accepted (bytes): a secret an attacker can guess
/// opens every sealed key in a stolen database.
pub const MIN_SECRET_BYTES: usize = 16;

/// HKDF salt: names this use, so the same secret used elsewhere derives an
/// unrelated key.
const SALT: &[u8] = b"armoriq signing-key seal v1";
/// HKDF info: the one key derived from it.
const INFO: &[u8] = b"aes-256-gcm";
/// AES-GCM tag length.
const TAG_LEN: usize = 16;

/// The AES-256-GCM key derived from the operator's secret.
pub struct OperatorSecret {
    key: LessSafeKey,
}

impl std::fmt::Debug for OperatorSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorSecret(..)")
    }
}

/// Why a sealed blob did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Shorter than a nonce and a tag: not something [`OperatorSecret::seal`] made.
    Truncated,
    /// The tag did not check: another secret, another row's blob, or tampering.
    Rejected,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Truncated => "sealed key is truncated",
            Self::Rejected => "sealed key does not open under this secret",
        })
    }
}

impl std::error::Error for OpenError {}

impl OperatorSecret {
    /// Derives the sealing key from `secret` (its bytes as given).
    ///
    /// # Errors
    /// A secret shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the operator secret must be at least {MIN_SECRET_BYTES} bytes \
                 (e.g. `openssl rand -hex 32`)"
            ));
        }
        let prk = Salt::new(HKDF_SHA256, SALT).extract(secret);
        let okm = prk
            .expand(&[INFO], &AES_256_GCM)
            .map_err(|_| "cannot derive the sealing key".to_owned())?;
        Ok(Self {
            key: LessSafeKey::new(UnboundKey::from(okm)),
        })
    }

    /// The secret from `file` when given (surrounding whitespace, such as
    /// the trailing newline of `echo … > file`, is not part of it), else
    /// from `$ARMORIQ_SECRET`, else none.
    ///
    /// # Errors
    /// The file cannot be read, or the secret is empty or too short.
    pub fn from_file_or_env(file: Option<&Path>) -> Result<Option<Self>, String> {
        if let Some(path) = file {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("--secret-file {}: {e}", path.display()))?;
            return Self::new(bytes.trim_ascii())
                .map(Some)
                .map_err(|e| format!("--secret-file {}: {e}", path.display()));
        }
        match std::env::var_os(SECRET_ENV) {
            None => Ok(None),
            Some(v) => {
                let v = v
                    .into_string()
                    .map_err(|_| format!("{SECRET_ENV} is not valid UTF-8"))?;
                Self::new(v.trim().as_bytes())
                    .map(Some)
                    .map_err(|e| format!("{SECRET_ENV}: {e}"))
            }
        }
    }

    /// Seals `plain`, bound to `aad`: a fresh random nonce, then the
    /// ciphertext and its tag.
    ///
    /// # Errors
    /// The system RNG or the cipher failed.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| "system RNG failed".to_owned())?;
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| "cannot seal the signing key".to_owned())?;
        let mut out = Vec::with_capacity(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens what [`OperatorSecret::seal`] made with the same `aad`.
    ///
    /// # Errors
    /// [`OpenError`].
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Truncated);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Truncated)?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut body)
            .map_err(|_| OpenError::Rejected)?;
        Ok(plain.to_vec())
    }
}

/// The additional authenticated data of a sealed signing key: its
/// generation and kid, so a blob only opens on the row it was made for.
pub fn signing_key_aad(generation: i64, kid: &str) -> Vec<u8> {
    format!("armoriq-signing-key/v1;generation={generation};kid={kid}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &[u8] = b"correct horse battery staple";

    #[test]
    fn round_trip_with_fresh_nonces() {
        let s = OperatorSecret::new(S).unwrap();
        let aad = signing_key_aad(1, "abcd");
        let a = s.seal(b"private key", &aad).unwrap();
        let b = s.seal(b"private key", &aad).unwrap();
        assert_ne!(a, b, "each seal draws its own nonce");
        assert!(!a.windows(11).any(|w| w == b"private key"));
        assert_eq!(s.open(&a, &aad).unwrap(), b"private key");
        // The same secret derives the same key in another process.
        let again = OperatorSecret::new(S).unwrap();
        assert_eq!(again.open(&b, &aad).unwrap(), b"private key");
    }

    #[test]
    fn wrong_secret_swapped_row_or_tampering_does_not_open() {
        let s = OperatorSecret::new(S).unwrap();
        let sealed = s.seal(b"k", &signing_key_aad(1, "aa")).unwrap();
        let other = OperatorSecret::new(b"another secret, long enough").unwrap();
        assert_eq!(
            other.open(&sealed, &signing_key_aad(1, "aa")),
            Err(OpenError::Rejected)
        );
        // Moved to another generation's or kid's row.
        assert_eq!(
            s.open(&sealed, &signing_key_aad(2, "aa")),
            Err(OpenError::Rejected)
        );
        assert_eq!(
            s.open(&sealed, &signing_key_aad(1, "ab")),
            Err(OpenError::Rejected)
        );
        let mut flipped = sealed.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert_eq!(
            s.open(&flipped, &signing_key_aad(1, "aa")),
            Err(OpenError::Rejected)
        );
        assert_eq!(
            s.open(&sealed[..20], &signing_key_aad(1, "aa")),
            Err(OpenError::Truncated)
        );
    }

    #[test]
    fn short_secrets_are_refused_and_debug_shows_nothing() {
        assert!(OperatorSecret::new(b"short").is_err());
        let s = OperatorSecret::new(S).unwrap();
        let dbg = format!("{s:?}");
        assert_eq!(dbg, "OperatorSecret(..)");
    }

    #[test]
    fn secret_file_is_trimmed() {
        let dir = std::env::temp_dir().join(format!("armoriq-sealed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("secret");
        std::fs::write(&f, [S, b"\n"].concat()).unwrap();
        let from_file = OperatorSecret::from_file_or_env(Some(&f)).unwrap().unwrap();
        let sealed = OperatorSecret::new(S).unwrap().seal(b"x", b"a").unwrap();
        assert_eq!(from_file.open(&sealed, b"a").unwrap(), b"x");
        assert!(OperatorSecret::from_file_or_env(Some(&dir.join("missing"))).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
