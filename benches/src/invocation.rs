//! The one invocation fixture every token benchmark measures (criterion's
//! `tokens`, the `paired` timer and the `instr_count` driver): a four-step
//! plan, the intent token for it signed with a key from a constant seed, and
//! the Merkle proof of its first step, with the call that matches that step.
//!
//! Both signatures are deterministic (Ed25519 by construction, ES256 with
//! RFC 6979 nonces), so the token's bytes, and with them the instruction
//! counts, are the same on every run.

use armoriq_common::keys::SigningKey;
use armoriq_common::proofs::plan_hashes;
use armoriq_core::hex;
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::{Alg, Backend, Call, Profile, StepProof, VerifiedStep, verify_invocation};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use std::hint::black_box;

/// The verifier's clock.
pub const NOW: i64 = 1_800_000_000;
/// `exp`, 2100-01-01T00:00:00Z: `jsonwebtoken` checks it against the real clock.
pub const EXP: i64 = 4_102_444_800;
/// The signing keys' seed.
pub const SEED: [u8; 32] = [7; 32];

/// The call of the fixture: the first step, params in another key order (so
/// the check canonicalizes both sides).
pub const CALL: Call<'static> = Call {
    mcp: "weather-mcp",
    action: "get_weather",
    params: Some(br#"{"units":"metric","city":"Boston"}"#),
};

/// What the verifier expects of the token.
pub const EXPECT: Expect<'static> = Expect {
    now: NOW,
    leeway: 0,
    audience: Some("armoriq-proxy"),
    issuer: Some("armoriq-iap"),
};

/// A signed intent token with the proof of its plan's first step.
pub struct Fixture {
    /// The algorithm it is signed with.
    pub alg: Alg,
    /// The compact JWS.
    pub token: String,
    /// The public key: SEC1 uncompressed point (ES256) or 32 raw bytes (EdDSA).
    pub public: Vec<u8>,
    /// The first step's JSON, as planned.
    pub step: String,
    /// Its audit path.
    pub siblings: Vec<[u8; 32]>,
}

/// PKCS#8 v1 DER of the Ed25519 key with seed `seed` (RFC 8410).
#[must_use]
pub fn ed25519_pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

impl Fixture {
    /// The fixture signed with `alg`.
    ///
    /// # Panics
    /// Only if the host's plan hashing or signing fails on these fixed inputs.
    #[must_use]
    pub fn new(alg: Alg) -> Self {
        let plan = serde_json::json!({"goal": "weather", "steps": [
            {"action": "get_weather", "mcp": "weather-mcp", "params": {"city": "Boston", "units": "metric"}},
            {"action": "send_email", "mcp": "mail-mcp", "params": {"to": "team@example.com"}},
            {"action": "log", "mcp": "audit"},
            {"action": "notify", "mcp": "chat", "params": {"channel": "ops"}},
        ]});
        let (_, h) = plan_hashes(plan.to_string().as_bytes(), Profile::ArmorIq).expect("plan");
        let claims = serde_json::json!({
            "iss": "armoriq-iap", "aud": "armoriq-proxy", "sub": "alice@example.com",
            "iat": NOW - 10, "exp": EXP, "jti": "intent-42", "plan_id": "plan-1",
            "plan_hash": h.plan_hash, "merkle_root": h.merkle_root, "step_count": 4,
        });
        let (token, public) = match alg {
            Alg::EdDsa => {
                let key = SigningKey::from_pkcs8(&ed25519_pkcs8(&SEED)).expect("Ed25519 key");
                let token = key
                    .sign_jwt(claims.to_string().as_bytes(), None)
                    .expect("sign");
                (token, key.public().raw)
            }
            Alg::Es256 => {
                // The host signer draws random nonces; p256 signs with RFC 6979.
                let key = p256::ecdsa::SigningKey::from_slice(&SEED).expect("P-256 key");
                let public = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
                let input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","typ":"JWT"}"#),
                    URL_SAFE_NO_PAD.encode(claims.to_string())
                );
                let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
                let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()));
                (token, public)
            }
        };
        Self {
            alg,
            token,
            public,
            step: plan["steps"][0].to_string(),
            siblings: h.step_proofs[0]
                .siblings
                .iter()
                .map(|s| hex::decode::<32>(s.as_bytes()).expect("a hex digest"))
                .collect(),
        }
    }

    /// The fixture's public key in a key set of backend `B`.
    ///
    /// # Panics
    /// Only if the backend refuses the fixture's own key.
    #[must_use]
    pub fn key_set<B: Backend>(&self) -> KeySet<B, 2> {
        let mut keys = KeySet::new();
        match self.alg {
            Alg::Es256 => keys.add_es256(None, &self.public),
            Alg::EdDsa => keys.add_ed25519(
                None,
                self.public.as_slice().try_into().expect("32-byte key"),
            ),
        }
        .expect("the fixture's key");
        keys
    }

    /// The measured call: the full invocation check (parse, signature,
    /// claims, Merkle proof, call = step) against `keys`.
    ///
    /// # Panics
    /// If the check refuses the fixture (a bench must not time a failure).
    pub fn check<B: Backend>(&self, keys: &KeySet<B, 2>) -> VerifiedStep {
        let proof = StepProof {
            step: self.step.as_bytes(),
            index: 0,
            tree_size: 4,
            siblings: &self.siblings,
        };
        let mut buf = [0u8; 1024];
        verify_invocation(
            black_box(self.token.as_bytes()),
            &CALL,
            &proof,
            &EXPECT,
            keys,
            &mut buf,
        )
        .expect("the fixture verifies")
    }

    /// The signing input and the decoded signature, for the bare verifies.
    ///
    /// # Panics
    /// Never on the fixture's own token.
    #[must_use]
    pub fn signed_parts(&self) -> (&str, Vec<u8>) {
        let (input, sig) = self.token.rsplit_once('.').expect("a compact JWS");
        (input, URL_SAFE_NO_PAD.decode(sig).expect("base64url"))
    }

    /// The peer's view: `jsonwebtoken`'s algorithm and decoding key for the
    /// fixture's public key.
    ///
    /// # Panics
    /// Never on the fixture's own key.
    #[must_use]
    pub fn jwt_key(&self) -> (jsonwebtoken::Algorithm, jsonwebtoken::DecodingKey) {
        match self.alg {
            Alg::Es256 => (
                jsonwebtoken::Algorithm::ES256,
                jsonwebtoken::DecodingKey::from_ec_components(
                    &URL_SAFE_NO_PAD.encode(&self.public[1..33]),
                    &URL_SAFE_NO_PAD.encode(&self.public[33..65]),
                )
                .expect("P-256 point"),
            ),
            Alg::EdDsa => (
                jsonwebtoken::Algorithm::EdDSA,
                jsonwebtoken::DecodingKey::from_ed_der(&self.public),
            ),
        }
    }

    /// The peer's measured call: `jsonwebtoken` decoding the same token into
    /// typed claims, with signature, `exp`, `aud` and `iss` checked.
    ///
    /// # Panics
    /// If the peer refuses the fixture.
    pub fn jwt_decode(
        &self,
        key: &jsonwebtoken::DecodingKey,
        validation: &jsonwebtoken::Validation,
    ) -> jsonwebtoken::TokenData<crate::IntentClaims> {
        jsonwebtoken::decode::<crate::IntentClaims>(black_box(&self.token), key, validation)
            .expect("the peer verifies the fixture")
    }
}
