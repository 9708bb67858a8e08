//! The plan model (SPEC §2) and its hashes (SPEC §3).
//!
//! A plan is `{"goal"?: str, "steps": [step, …], "metadata"?: object, …}`; a step
//! is `{"action": str, "mcp": str, "params"?: object, …}`. Extra members are
//! kept and hashed. `plan_hash` is the SHA-256 of the canonical plan; the
//! Merkle tree's leaves are the canonical steps in order (RFC 9162 leaf prefix),
//! and `merkle_root` is its root.

use crate::canon::{Canonicalizer, Profile};
use crate::error::Error;
use crate::json::{JsonStr, Kind, Value};
use crate::merkle::{HASH_LEN, RootBuilder, leaf_hasher};
use core::fmt;

/// Default step limit: a plan is a list of tool calls an agent intends to
/// make; 1,024 is far beyond a real plan and keeps proofs at ≤ 10 hashes.
pub const DEFAULT_MAX_STEPS: usize = 1024;

/// A validated plan: a view into the caller's bytes.
#[derive(Clone, Copy, Debug)]
pub struct Plan<'a> {
    steps: Value<'a>,
    count: usize,
}

/// Finds the only member named `name`; two of them are ambiguous.
fn member<'a>(obj: &Value<'a>, name: &str) -> Result<Option<Value<'a>>, Error> {
    let mut found = None;
    for (k, v) in obj.members() {
        if k.eq_str(name) {
            if found.is_some() {
                return Err(Error::DuplicateKey { at: v.offset() });
            }
            found = Some(v);
        }
    }
    Ok(found)
}

fn required_str<'a>(step: &Value<'a>, i: usize, field: &'static str) -> Result<JsonStr<'a>, Error> {
    let v = member(step, field)?.ok_or(Error::StepFieldMissing { step: i, field })?;
    let s = v
        .as_str()
        .ok_or(Error::StepFieldNotString { step: i, field })?;
    if s.is_empty() {
        return Err(Error::StepFieldEmpty { step: i, field });
    }
    Ok(s)
}

impl<'a> Plan<'a> {
    /// Parses and validates a plan: strict JSON nested at most `depth` deep,
    /// then the rules of SPEC §2, checked in document order so the first
    /// defect is the one reported. At most `MAX_STEPS` steps.
    ///
    /// # Errors
    /// A JSON defect; [`Error::PlanNotObject`], [`Error::StepsMissing`],
    /// [`Error::StepsNotArray`], [`Error::StepsEmpty`], [`Error::StepLimit`],
    /// [`Error::StepNotObject`], [`Error::StepFieldMissing`],
    /// [`Error::StepFieldNotString`], [`Error::StepFieldEmpty`],
    /// [`Error::ParamsNotObject`]; [`Error::DuplicateKey`] for a repeated
    /// `steps`, `action`, `mcp` or `params`.
    pub fn parse<const MAX_STEPS: usize>(input: &'a [u8], depth: usize) -> Result<Self, Error> {
        let root = Value::parse(input, depth)?;
        if root.kind() != Kind::Object {
            return Err(Error::PlanNotObject);
        }
        let steps = member(&root, "steps")?.ok_or(Error::StepsMissing)?;
        if steps.kind() != Kind::Array {
            return Err(Error::StepsNotArray);
        }
        let mut count = 0usize;
        for (i, step) in steps.elements().enumerate() {
            if i >= MAX_STEPS {
                return Err(Error::StepLimit { limit: MAX_STEPS });
            }
            if step.kind() != Kind::Object {
                return Err(Error::StepNotObject { step: i });
            }
            required_str(&step, i, "action")?;
            required_str(&step, i, "mcp")?;
            if let Some(p) = member(&step, "params")?
                && p.kind() != Kind::Object
            {
                return Err(Error::ParamsNotObject { step: i });
            }
            count = i.saturating_add(1);
        }
        if count == 0 {
            return Err(Error::StepsEmpty);
        }
        Ok(Self { steps, count })
    }

    /// Number of steps.
    #[must_use]
    pub const fn step_count(&self) -> usize {
        self.count
    }

    /// The steps' JSON values, in order.
    pub fn steps(&self) -> impl Iterator<Item = Step<'a>> + 'a {
        self.steps.elements().map(|value| Step { value })
    }
}

/// One validated step.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    value: Value<'a>,
}

impl<'a> Step<'a> {
    /// The step's bytes as they stand in the plan.
    #[must_use]
    pub fn bytes(&self) -> &'a [u8] {
        self.value.bytes()
    }

    /// A member of the step by name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        member(&self.value, name).ok().flatten()
    }

    /// The step's `action` (validated non-empty string).
    #[must_use]
    pub fn action(&self) -> Option<JsonStr<'a>> {
        self.get("action").and_then(|v| v.as_str())
    }

    /// The step's `mcp` (validated non-empty string).
    #[must_use]
    pub fn mcp(&self) -> Option<JsonStr<'a>> {
        self.get("mcp").and_then(|v| v.as_str())
    }
}

/// The hashes SPEC §3 defines for a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanDigest {
    /// SHA-256 of the canonical plan.
    pub plan_hash: [u8; HASH_LEN],
    /// RFC 9162 root over the canonical steps.
    pub merkle_root: [u8; HASH_LEN],
    /// Number of steps (the tree size).
    pub step_count: usize,
}

/// The path ArmorIQ names step `i` by: `/steps/[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepPath(pub usize);

impl fmt::Display for StepPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/steps/[{}]", self.0)
    }
}

/// Plan hashing with fixed limits: `DEPTH` and `MEMBERS` as in
/// [`Canonicalizer`], `MAX_STEPS` as in [`Plan::parse`].
#[derive(Clone, Debug, Default)]
pub struct PlanHasher<
    const DEPTH: usize = { crate::canon::DEFAULT_DEPTH },
    const MEMBERS: usize = { crate::canon::DEFAULT_MEMBERS },
    const MAX_STEPS: usize = DEFAULT_MAX_STEPS,
> {
    canon: Canonicalizer<DEPTH, MEMBERS>,
}

impl<const DEPTH: usize, const MEMBERS: usize, const MAX_STEPS: usize>
    PlanHasher<DEPTH, MEMBERS, MAX_STEPS>
{
    /// A hasher with empty scratch.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            canon: Canonicalizer::new(),
        }
    }

    /// The canonicalizer inside, for other documents under the same limits.
    pub fn canonicalizer(&mut self) -> &mut Canonicalizer<DEPTH, MEMBERS> {
        &mut self.canon
    }

    /// Validates `input` as a plan.
    ///
    /// # Errors
    /// As [`Plan::parse`].
    pub fn parse<'a>(&self, input: &'a [u8]) -> Result<Plan<'a>, Error> {
        Plan::parse::<MAX_STEPS>(input, DEPTH)
    }

    /// `SHA-256(0x00 ‖ canonical(step))`: the step's Merkle leaf hash.
    ///
    /// # Errors
    /// As [`Canonicalizer::canonicalize`].
    pub fn leaf_hash(&mut self, step: &[u8], profile: Profile) -> Result<[u8; HASH_LEN], Error> {
        let mut h = leaf_hasher();
        self.canon.canonicalize(step, profile, &mut h)?;
        Ok(sha2::Digest::finalize(h).into())
    }

    /// Validates the plan and computes `plan_hash`, `merkle_root` and the step
    /// count, calling `each_leaf(i, leaf_hash)` for every step in order (the
    /// host uses it to build proofs; pass `|_, _| ()` otherwise).
    ///
    /// # Errors
    /// As [`Plan::parse`] and [`Canonicalizer::canonicalize`].
    pub fn digest_with<F: FnMut(usize, &[u8; HASH_LEN])>(
        &mut self,
        input: &[u8],
        profile: Profile,
        mut each_leaf: F,
    ) -> Result<PlanDigest, Error> {
        let plan = self.parse(input)?;
        let plan_hash = self.canon.sha256(input, profile)?;
        let mut tree = RootBuilder::<32>::new();
        for (i, step) in plan.steps().enumerate() {
            let leaf = self.leaf_hash(step.bytes(), profile)?;
            each_leaf(i, &leaf);
            tree.push(leaf)?;
        }
        Ok(PlanDigest {
            plan_hash,
            merkle_root: tree.root(),
            step_count: plan.step_count(),
        })
    }

    /// As [`PlanHasher::digest_with`] without the per-leaf callback.
    ///
    /// # Errors
    /// As [`PlanHasher::digest_with`].
    pub fn digest(&mut self, input: &[u8], profile: Profile) -> Result<PlanDigest, Error> {
        self.digest_with(input, profile, |_, _| ())
    }
}
