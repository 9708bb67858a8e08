//! Inputs shared by the benchmarks: deterministic plans of a chosen size, and
//! the typed claims and validation the `jsonwebtoken` peer decodes with, and
//! the signed-token fixture of the invocation benches ([`invocation`]).

pub mod invocation;

/// A plan of roughly `target_bytes` of JSON: realistic steps (action, mcp,
/// params with strings, numbers, a nested object and a little non-ASCII),
/// written with keys out of order so canonicalization has sorting to do.
#[must_use]
pub fn plan_of_size(target_bytes: usize) -> String {
    let mut steps = Vec::new();
    let mut len = 64;
    let mut i = 0u64;
    while len < target_bytes {
        let step = format!(
            concat!(
                r#"{{"params":{{"order_id":"ord_{i}","amount":{amt},"currency":"EUR","#,
                r#""note":"Rückerstattung für Bestellung {i} ✓","ratio":{ratio},"#,
                r#""tags":["refund","priority-{p}"],"meta":{{"z":{i},"a":true,"m":null}}}},"#,
                r#""mcp":"stripe-mcp","description":"Call create_refund on stripe-mcp","#,
                r#""action":"create_refund","tool":"create_refund"}}"#
            ),
            i = i,
            amt = 1000 + i * 37,
            ratio = 0.25 + (i as f64) / 8.0,
            p = i % 5
        );
        len += step.len() + 1;
        steps.push(step);
        i += 1;
    }
    format!(
        r#"{{"steps":[{}],"metadata":{{"source":"bench","version":2}},"goal":"Refund the flagged orders"}}"#,
        steps.join(",")
    )
}

/// The intent token's claims as a `jsonwebtoken` user would declare them:
/// the peer decodes into this (typed fields are what a fair user writes, and
/// cheaper than `serde_json::Value`).
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code, reason = "decoded to be measured, not read")]
pub struct IntentClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject.
    pub sub: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Token id.
    pub jti: String,
    /// Plan id.
    pub plan_id: String,
    /// Hex SHA-256 of the canonical plan.
    pub plan_hash: String,
    /// Hex Merkle root of the plan's steps.
    pub merkle_root: String,
    /// Number of steps.
    pub step_count: u64,
}

/// `jsonwebtoken` validation equivalent to the core's checks: the algorithm,
/// `exp` with no leeway, `aud` and `iss`.
#[must_use]
pub fn jwt_validation(alg: jsonwebtoken::Algorithm) -> jsonwebtoken::Validation {
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_audience(&["armoriq-proxy"]);
    v.set_issuer(&["armoriq-iap"]);
    v.leeway = 0;
    v
}
