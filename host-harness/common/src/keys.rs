//! Host-side keys: generation and signing (aws-lc-rs), and loading public keys in
//! every encoding the official SDK accepts (hex, PEM SPKI, base64/base64url of
//! raw or SPKI, JWK) plus P-256.

use armoriq_core::Alg;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// SPKI DER prefix of an Ed25519 key (RFC 8410 §4), before the 32 raw bytes.
const ED25519_SPKI: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// SPKI DER prefix of an uncompressed P-256 point (RFC 5480), before `04 ‖ x ‖ y`.
const P256_SPKI: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A public key: its algorithm and raw bytes (32 for Ed25519, the 65-byte
/// uncompressed SEC1 point for P-256).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyBytes {
    /// Algorithm.
    pub alg: Alg,
    /// Raw key bytes.
    pub raw: Vec<u8>,
    /// `kid`, when the encoding carried one (JWK).
    pub kid: Option<String>,
}

impl PublicKeyBytes {
    /// SPKI DER.
    #[must_use]
    pub fn spki_der(&self) -> Vec<u8> {
        let prefix = match self.alg {
            Alg::EdDsa => ED25519_SPKI,
            Alg::Es256 => P256_SPKI,
        };
        [prefix, &self.raw].concat()
    }

    /// PEM `PUBLIC KEY`.
    #[must_use]
    pub fn pem(&self) -> String {
        pem("PUBLIC KEY", &self.spki_der())
    }

    /// JWK (RFC 7517; RFC 8037 for Ed25519).
    #[must_use]
    pub fn jwk(&self) -> serde_json::Value {
        let mut v = match self.alg {
            Alg::EdDsa => serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&self.raw),
            }),
            Alg::Es256 => serde_json::json!({
                "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&self.raw[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&self.raw[33..65]),
            }),
        };
        if let Some(kid) = &self.kid {
            v["kid"] = kid.clone().into();
        }
        v
    }
}

/// PEM armour with 64-column lines.
#[must_use]
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// The DER inside a PEM block with the given label.
fn unpem(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = text[start..].find(&end)? + start;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

fn from_spki(der: &[u8]) -> Option<PublicKeyBytes> {
    if let Some(raw) = der.strip_prefix(ED25519_SPKI).filter(|r| r.len() == 32) {
        return Some(PublicKeyBytes {
            alg: Alg::EdDsa,
            raw: raw.to_vec(),
            kid: None,
        });
    }
    let raw = der.strip_prefix(P256_SPKI).filter(|r| r.len() == 65)?;
    Some(PublicKeyBytes {
        alg: Alg::Es256,
        raw: raw.to_vec(),
        kid: None,
    })
}

fn from_raw(raw: &[u8]) -> Option<PublicKeyBytes> {
    match raw.len() {
        32 => Some(PublicKeyBytes {
            alg: Alg::EdDsa,
            raw: raw.to_vec(),
            kid: None,
        }),
        65 if raw[0] == 4 => Some(PublicKeyBytes {
            alg: Alg::Es256,
            raw: raw.to_vec(),
            kid: None,
        }),
        _ => from_spki(raw),
    }
}

/// Reads a public key from text: a JWK (`{"kty":…}`, or `{"public_key"|"publicKey"|
/// "pem"|"key"|"jwk": …}` as the gateway answers), PEM SPKI, hex of the raw key,
/// or base64/base64url (padded or not) of the raw key or of SPKI DER.
///
/// # Errors
/// A message saying which encodings were tried.
pub fn parse_public_key(text: &str) -> Result<PublicKeyBytes, String> {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(t) {
        return from_json(&v);
    }
    if t.contains("-----BEGIN") {
        return unpem(t, "PUBLIC KEY")
            .and_then(|der| from_spki(&der))
            .ok_or_else(|| "PEM is not an Ed25519 or P-256 SubjectPublicKeyInfo".to_owned());
    }
    if t.len().is_multiple_of(2) && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let raw: Vec<u8> = (0..t.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
            .collect();
        if let Some(k) = from_raw(&raw) {
            return Ok(k);
        }
    }
    let unpadded = t.trim_end_matches('=');
    for engine in [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &URL_SAFE_NO_PAD,
    ] {
        if let Ok(raw) = engine.decode(unpadded)
            && let Some(k) = from_raw(&raw)
        {
            return Ok(k);
        }
    }
    Err("not a public key: expected JWK, PEM (SPKI), hex, or base64 of a raw or SPKI Ed25519/P-256 key".into())
}

fn from_json(v: &serde_json::Value) -> Result<PublicKeyBytes, String> {
    if let Some(s) = v.as_str() {
        return parse_public_key(s);
    }
    for k in ["public_key", "publicKey", "pem", "key", "jwk"] {
        if let Some(inner) = v.get(k) {
            return from_json(inner);
        }
    }
    let kid = v.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
    let coord = |name: &str| -> Result<Vec<u8>, String> {
        let s = v
            .get(name)
            .and_then(|x| x.as_str())
            .ok_or(format!("JWK has no '{name}'"))?;
        URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|e| format!("JWK '{name}': {e}"))
    };
    match (
        v.get("kty").and_then(|x| x.as_str()),
        v.get("crv").and_then(|x| x.as_str()),
    ) {
        (Some("OKP"), Some("Ed25519") | None) => {
            let x = coord("x")?;
            if x.len() != 32 {
                return Err("JWK 'x' is not 32 bytes".into());
            }
            Ok(PublicKeyBytes {
                alg: Alg::EdDsa,
                raw: x,
                kid,
            })
        }
        (Some("EC"), Some("P-256")) => {
            let (x, y) = (coord("x")?, coord("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("JWK 'x'/'y' are not 32 bytes".into());
            }
            Ok(PublicKeyBytes {
                alg: Alg::Es256,
                raw: [&[4u8][..], &x, &y].concat(),
                kid,
            })
        }
        _ => Err("JWK is not an Ed25519 (OKP) or P-256 (EC) key".into()),
    }
}

/// A private key that signs tokens.
pub enum SigningKey {
    /// P-256.
    Es256(EcdsaKeyPair),
    /// Ed25519.
    EdDsa(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str(match self {
            Self::Es256(_) => "SigningKey::Es256(..)",
            Self::EdDsa(_) => "SigningKey::EdDsa(..)",
        })
    }
}

impl SigningKey {
    /// Generates a key; returns it with its PKCS#8 DER.
    ///
    /// # Errors
    /// When the system RNG fails.
    pub fn generate(alg: Alg) -> Result<(Self, Vec<u8>), String> {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            Alg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng),
            Alg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng),
        }
        .map_err(|_| "key generation failed".to_owned())?;
        let der = pkcs8.as_ref().to_vec();
        Ok((Self::from_pkcs8(&der)?, der))
    }

    /// Reads a PKCS#8 DER private key (P-256 or Ed25519).
    ///
    /// # Errors
    /// When it is neither.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        if let Ok(k) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Ok(Self::Es256(k));
        }
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(Self::EdDsa)
            .map_err(|_| "not a PKCS#8 P-256 or Ed25519 private key".to_owned())
    }

    /// Reads a PEM `PRIVATE KEY` (PKCS#8).
    ///
    /// # Errors
    /// When the text is not one.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let der = unpem(text, "PRIVATE KEY").ok_or("expected a PEM 'PRIVATE KEY' (PKCS#8)")?;
        Self::from_pkcs8(&der)
    }

    /// The algorithm.
    #[must_use]
    pub const fn alg(&self) -> Alg {
        match self {
            Self::Es256(_) => Alg::Es256,
            Self::EdDsa(_) => Alg::EdDsa,
        }
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> PublicKeyBytes {
        let raw = match self {
            Self::Es256(k) => k.public_key().as_ref().to_vec(),
            Self::EdDsa(k) => k.public_key().as_ref().to_vec(),
        };
        PublicKeyBytes {
            alg: self.alg(),
            raw,
            kid: None,
        }
    }

    /// Signs `msg` (ES256: `r ‖ s`; Ed25519: RFC 8032).
    ///
    /// # Errors
    /// When the RNG fails (ECDSA).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Self::Es256(k) => k
                .sign(&SystemRandom::new(), msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "signing failed".to_owned()),
            Self::EdDsa(k) => Ok(k.sign(msg).as_ref().to_vec()),
        }
    }

    /// A compact JWS over `claims` (JSON text) with header
    /// `{"alg","typ":"JWT"[,"kid"]}`.
    ///
    /// # Errors
    /// When signing fails.
    pub fn sign_jwt(&self, claims: &[u8], kid: Option<&str>) -> Result<String, String> {
        let mut header = serde_json::json!({"alg": self.alg().name(), "typ": "JWT"});
        if let Some(kid) = kid {
            header["kid"] = kid.into();
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig = self.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}
