//! Minted plans as the proxy needs them: each step's JSON text, its `mcp` and
//! `action`, and its RFC 9162 inclusion proof, built once per plan and kept
//! in memory (plans never change after minting).

use crate::store::PlanRecord;
use armoriq_common::proofs::{PlanHashes, plan_hashes};
use armoriq_core::json::{Kind, Value};
use armoriq_core::{Call, Canonicalizer, Error, Profile, SignedIntent, StepProof};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// One step.
#[derive(Clone, Debug)]
pub struct Step {
    /// `mcp`.
    pub mcp: String,
    /// `action`.
    pub action: String,
    /// The step's JSON text as minted.
    pub json: String,
    /// Sibling hashes, leaf to root.
    pub siblings: Vec<[u8; 32]>,
    /// The step's RFC 9162 leaf hash, lowercase hex.
    pub leaf_hash: String,
}

/// A plan ready for invocation checks.
#[derive(Debug)]
pub struct ReadyPlan {
    /// The stored record.
    pub record: PlanRecord,
    /// Steps in order.
    pub steps: Vec<Step>,
}

/// How a call relates to a plan.
#[derive(Debug)]
pub enum StepMatch {
    /// Step `index` verified (proof and call = step).
    Verified(u64),
    /// No step matched; the core rejection for the closest step, if any had
    /// the same mcp and action.
    Mismatch(Option<Error>),
}

fn field(v: &Value<'_>, name: &str) -> Option<String> {
    v.members()
        .find(|(k, _)| k.eq_str(name))
        .and_then(|(_, v)| v.as_str())
        .and_then(|s| {
            s.as_unescaped()
                .map(str::to_owned)
                .or_else(|| Some(s.chars().collect()))
        })
}

impl ReadyPlan {
    /// Splits the plan text into steps and builds every proof.
    ///
    /// # Errors
    /// The plan is not one the IAP would have minted.
    pub fn build(record: PlanRecord) -> Result<Self, String> {
        let (_, hashes) = plan_hashes(record.plan_json.as_bytes(), Profile::ArmorIq)
            .map_err(|e| e.to_string())?;
        Self::from_hashes(record, &hashes)
    }

    /// As [`ReadyPlan::build`], with the proofs already computed (at mint).
    ///
    /// # Errors
    /// The plan text has no steps array or fewer proofs than steps.
    pub fn from_hashes(record: PlanRecord, hashes: &PlanHashes) -> Result<Self, String> {
        let text = record.plan_json.as_bytes();
        let plan = Value::parse(text, 64).map_err(|e| e.to_string())?;
        let steps_v = plan
            .members()
            .find(|(k, _)| k.eq_str("steps"))
            .map(|(_, v)| v)
            .filter(|v| v.kind() == Kind::Array)
            .ok_or("plan has no steps array")?;
        let mut steps = Vec::new();
        for (i, s) in steps_v.elements().enumerate() {
            let proof = hashes.step_proofs.get(i).ok_or("proof missing")?;
            let siblings = proof
                .siblings
                .iter()
                .map(|h| {
                    let mut out = [0u8; 32];
                    hex::decode_to_slice(h, &mut out).map(|()| out)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            steps.push(Step {
                mcp: field(&s, "mcp").unwrap_or_default(),
                action: field(&s, "action").unwrap_or_default(),
                json: String::from_utf8_lossy(s.bytes()).into_owned(),
                siblings,
                leaf_hash: proof.leaf_hash.clone(),
            });
        }
        Ok(Self { record, steps })
    }

    /// Finds the step this call is, verifying its proof against the signed
    /// root and the call against the step with the core's `verify_step`.
    /// Steps with the same `mcp` and `action` are tried in order.
    pub fn find_step(
        &self,
        signed: &SignedIntent,
        mcp: &str,
        action: &str,
        params: &[u8],
    ) -> StepMatch {
        let mut canon = Canonicalizer::<32, 1024>::new();
        let call = Call {
            mcp,
            action,
            params: Some(params),
        };
        let tree_size = u64::try_from(self.steps.len()).unwrap_or(u64::MAX);
        let mut last = None;
        for (i, s) in self.steps.iter().enumerate() {
            if s.mcp != mcp || s.action != action {
                continue;
            }
            let proof = StepProof {
                step: s.json.as_bytes(),
                index: u64::try_from(i).unwrap_or(u64::MAX),
                tree_size,
                siblings: &s.siblings,
            };
            match armoriq_core::verify_step(&mut canon, signed, &call, &proof) {
                Ok(v) => return StepMatch::Verified(v.index),
                Err(r) => last = Some(r),
            }
        }
        StepMatch::Mismatch(last)
    }

    /// The first step with this `mcp` and `action` whose params are
    /// `args` (canonical JSON, `armoriq` profile; a step that declares no
    /// params takes any): the step a held call is, for a request that carries no token
    /// (the SDK's `/delegation/request`). The same step [`find_step`]
    /// verifies for such a call.
    ///
    /// [`find_step`]: ReadyPlan::find_step
    pub fn step_with_args(&self, mcp: &str, action: &str, args: &str) -> Option<u64> {
        self.steps.iter().enumerate().find_map(|(i, s)| {
            if s.mcp != mcp || s.action != action {
                return None;
            }
            let step = Value::parse(s.json.as_bytes(), 64).ok()?;
            let same = match step.members().find(|(k, _)| k.eq_str("params")) {
                None => true,
                Some((_, p)) => {
                    armoriq_common::canonical::canonical_bytes(p.bytes(), Profile::ArmorIq).ok()?
                        == args.as_bytes()
                }
            };
            same.then(|| u64::try_from(i).unwrap_or(u64::MAX))
        })
    }

    /// Whether any step names this mcp and action.
    pub fn declares(&self, mcp: &str, action: &str) -> bool {
        self.steps
            .iter()
            .any(|s| s.mcp == mcp && s.action == action)
    }
}

/// Ready plans by id (bounded), each with when it was cached.
pub struct PlanCache {
    map: RwLock<HashMap<String, (Arc<ReadyPlan>, Instant)>>,
    capacity: usize,
    ttl: Option<Duration>,
}

impl PlanCache {
    /// At most `capacity` plans, kept until forgotten.
    pub fn new(capacity: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            capacity,
            ttl: None,
        }
    }

    /// Entries older than `ttl` are not served (the caller reads the store
    /// again): the backstop when other gateways may revoke a plan.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// A cached plan (not past the time to live).
    pub fn get(&self, id: &str) -> Option<Arc<ReadyPlan>> {
        let m = self.map.read().ok()?;
        let (p, at) = m.get(id)?;
        match self.ttl {
            Some(ttl) if at.elapsed() >= ttl => None,
            _ => Some(p.clone()),
        }
    }

    /// Caches a plan.
    pub fn put(&self, p: Arc<ReadyPlan>) {
        if let Ok(mut m) = self.map.write() {
            if m.len() >= self.capacity {
                m.clear();
            }
            m.insert(p.record.plan_id.clone(), (p, Instant::now()));
        }
    }

    /// Drops a plan (status changed).
    pub fn forget(&self, id: &str) {
        if let Ok(mut m) = self.map.write() {
            m.remove(id);
        }
    }

    /// Drops every plan (changes may have been missed).
    pub fn clear(&self) {
        if let Ok(mut m) = self.map.write() {
            m.clear();
        }
    }

    /// Number of cached plans.
    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no plan is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_time_proofs_equal_rebuilt_ones() {
        let plan = r#"{"steps":[{"mcp":"m","action":"a","params":{"x":1.0}},{"mcp":"m","action":"b"},{"mcp":"n","action":"a"}]}"#;
        let record = PlanRecord {
            plan_id: "p".into(),
            plan_hash: String::new(),
            merkle_root: String::new(),
            plan_json: plan.into(),
            step_count: 3,
            intent_reference: "i".into(),
            user_email: None,
            agent_id: None,
            expires_at: 0,
            status: crate::store::PlanStatus::Active,
        };
        let (_, hashes) = plan_hashes(plan.as_bytes(), Profile::ArmorIq).unwrap();
        let a = ReadyPlan::from_hashes(record.clone(), &hashes).unwrap();
        let b = ReadyPlan::build(record).unwrap();
        assert_eq!(a.steps.len(), 3);
        for (x, y) in a.steps.iter().zip(&b.steps) {
            assert_eq!(
                (&x.mcp, &x.action, &x.json, &x.siblings),
                (&y.mcp, &y.action, &y.json, &y.siblings)
            );
        }
        assert!(a.declares("n", "a") && !a.declares("n", "b"));
    }
}
