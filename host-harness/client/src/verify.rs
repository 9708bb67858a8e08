//! Local token verification: the IAP key and the checks of a minted token
//! against the plan the client sent.

use crate::client::ArmorIQClient;
use crate::error::{ArmorIqError, Result};
use crate::token::{IntentToken, now_f64};
use crate::util::{lock, truthy};
use armoriq_common::backend::HostBackend;
use armoriq_core::Profile;
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;

impl ArmorIQClient {
    /// The trusted IAP key: configured, else `GET {backend}/iap/public-key`
    /// (fetched once; retried on the next call after a failure).
    ///
    /// # Errors
    /// `InvalidToken` when the key cannot be had.
    pub async fn iap_public_key(&self) -> Result<[u8; 32]> {
        if let Some(k) = *lock(&self.inner.trusted_key) {
            return Ok(k);
        }
        let url = format!("{}/iap/public-key", self.inner.backend);
        let r = self
            .inner
            .http
            .send("GET", &url, &[], None, None)
            .await
            .map_err(|e| {
                ArmorIqError::InvalidToken(format!(
                    "cannot fetch the IAP public key from {url}: {e}"
                ))
            })?;
        if r.status >= 400 {
            return Err(ArmorIqError::InvalidToken(format!(
                "cannot fetch the IAP public key from {url}: HTTP {}",
                r.status
            )));
        }
        let k = parse_trusted_key(&r.text)
            .map_err(|e| ArmorIqError::InvalidToken(format!("IAP public key from {url}: {e}")))?;
        *lock(&self.inner.trusted_key) = Some(k);
        Ok(k)
    }

    /// The local check of a token against the plan it carries (see the
    /// module docs). Run after every mint and before every invoke when
    /// local verification is on.
    ///
    /// # Errors
    /// `InvalidToken` naming what does not hold; `TokenExpired`.
    pub async fn verify_locally(&self, token: &IntentToken) -> Result<()> {
        let key = self.iap_public_key().await?;
        if token.jwt_token.is_none()
            && token
                .raw_token
                .token
                .pointer("/resource_scope/delegation_id")
                .is_some()
        {
            return check_delegated(token, &key);
        }
        let signed = self.verify_jwt(token, &key)?;
        let (_, hashes) = armoriq_common::proofs::plan_hashes(
            token.raw_token.plan.as_json().as_bytes(),
            Profile::ArmorIq,
        )
        .map_err(|e| bad(format!("the plan sent cannot be hashed: {}: {e}", e.name())))?;
        check_plan_agrees(token, &signed, &hashes)?;
        check_csrg(token, &key, &hashes)
    }

    /// The `jwt_token`, verified with the core against `key`, the expected
    /// `iss` / `aud` and the time window.
    fn verify_jwt(&self, token: &IntentToken, key: &[u8; 32]) -> Result<SignedClaims> {
        let jwt = token
            .jwt_token
            .as_deref()
            .ok_or_else(|| bad("the mint response has no jwt_token".into()))?;
        let mut keys: KeySet<HostBackend, 1> = KeySet::new();
        keys.add_ed25519(None, key)
            .map_err(|e| bad(format!("IAP public key: {e}")))?;
        let o = &self.inner.opts;
        let expect = Expect {
            now: now_f64() as i64,
            leeway: o.leeway,
            audience: o.expected_audience.as_deref(),
            issuer: o.expected_issuer.as_deref(),
        };
        let mut buf = vec![0u8; jwt.len()];
        let signed =
            armoriq_core::verify_token(jwt.as_bytes(), &expect, &keys, &mut buf).map_err(|r| {
                let msg = format!("jwt_token: {}: {r}", r.name());
                if r.kind() == armoriq_core::ErrorKind::TokenExpired {
                    ArmorIqError::TokenExpired {
                        message: format!("local token check failed: {msg}"),
                        token_id: token.token_id.clone(),
                        expired_at: token.expires_at,
                    }
                } else {
                    bad(msg)
                }
            })?;
        Ok(SignedClaims {
            plan_hash: signed.plan_hash,
            merkle_root: signed.merkle_root,
            step_count: signed.step_count,
        })
    }
}

/// What the checks need of the verified JWT.
struct SignedClaims {
    plan_hash: [u8; 32],
    merkle_root: [u8; 32],
    step_count: u64,
}

fn bad(m: String) -> ArmorIqError {
    ArmorIqError::InvalidToken(format!("local token check failed: {m}"))
}

/// The JWT's `plan_hash`, `merkle_root` and step count, and the mint
/// answer's `plan_hash` / `merkle_root`, are those of the plan sent.
fn check_plan_agrees(
    token: &IntentToken,
    signed: &SignedClaims,
    hashes: &armoriq_common::proofs::PlanHashes,
) -> Result<()> {
    if hex::encode(signed.plan_hash) != hashes.plan_hash {
        return Err(bad(format!(
            "the token signs plan_hash {} but the plan the client sent hashes to {} (plan substituted)",
            hex::encode(signed.plan_hash),
            hashes.plan_hash
        )));
    }
    if hex::encode(signed.merkle_root) != hashes.merkle_root {
        return Err(bad(format!(
            "the token signs merkle_root {} but the plan the client sent has root {}",
            hex::encode(signed.merkle_root),
            hashes.merkle_root
        )));
    }
    if signed.step_count != token.raw_token.plan.steps().len() as u64 {
        return Err(bad(format!(
            "the token signs {} steps, the plan has {}",
            signed.step_count,
            token.raw_token.plan.steps().len()
        )));
    }
    for (name, v) in [
        ("plan_hash", Some(token.plan_hash.as_str())),
        ("merkle_root", token.raw_token.merkle_root.as_deref()),
    ] {
        let want = if name == "plan_hash" {
            &hashes.plan_hash
        } else {
            &hashes.merkle_root
        };
        if v != Some(want.as_str()) {
            return Err(bad(format!(
                "response {name} {v:?} is not the plan's {want}"
            )));
        }
    }
    Ok(())
}

/// The CSRG token object, when there is one: signed by the same key over
/// the same `plan_hash`.
fn check_csrg(
    token: &IntentToken,
    key: &[u8; 32],
    hashes: &armoriq_common::proofs::PlanHashes,
) -> Result<()> {
    if truthy(&token.raw_token.token) {
        let text = serde_json::to_vec(&token.raw_token.token).map_err(|e| bad(e.to_string()))?;
        let mut scratch = vec![0u8; text.len() * 2 + 64];
        let csrg = armoriq_core::csrg::verify::<HostBackend>(&text, Some(key), &mut scratch)
            .map_err(|e| bad(format!("CSRG token: {}: {e}", e.name())))?;
        if csrg.plan_hash != hashes.plan_hash {
            return Err(bad(format!(
                "the CSRG token signs plan_hash {} but the plan hashes to {}",
                csrg.plan_hash, hashes.plan_hash
            )));
        }
    }
    Ok(())
}

/// A delegated token (no JWT): its CSRG token signed by the IAP key, not
/// expired (RFC 7519 §4.1.4: expired at `expires_at`), over the plan it
/// carries.
fn check_delegated(token: &IntentToken, key: &[u8; 32]) -> Result<()> {
    let text = serde_json::to_vec(&token.raw_token.token).map_err(|e| bad(e.to_string()))?;
    let mut scratch = vec![0u8; text.len() * 2 + 64];
    let csrg = armoriq_core::csrg::verify::<HostBackend>(&text, Some(key), &mut scratch)
        .map_err(|e| bad(format!("delegated CSRG token: {}: {e}", e.name())))?;
    if now_f64() >= csrg.expires_at {
        return Err(ArmorIqError::TokenExpired {
            message: format!("delegated token expired at {}", csrg.expires_at),
            token_id: token.token_id.clone(),
            expired_at: csrg.expires_at,
        });
    }
    if csrg.plan_hash != token.plan_hash {
        return Err(bad(
            "the delegated token's plan_hash is not the one it states".into(),
        ));
    }
    Ok(())
}

pub(crate) fn parse_trusted_key(text: &str) -> std::result::Result<[u8; 32], String> {
    let k = armoriq_common::keys::parse_public_key(text)?;
    if k.alg != armoriq_core::Alg::EdDsa {
        return Err("the IAP key must be Ed25519".into());
    }
    k.raw
        .as_slice()
        .try_into()
        .map_err(|_| "the Ed25519 key is not 32 bytes".to_owned())
}
