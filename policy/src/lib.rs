//! Armor Policy v2 evaluation, behaviourally identical to the reference
//! `armoriq-policy-ir` 0.1.3 (`armoriq_policy_ir.evaluate`).
//!
//! - [`Bound`], [`Doc`], [`Statement`], [`Condition`] and [`Call`] are read
//!   strictly from JSON (see [`model`] for what "strict" means here).
//! - [`evaluate`] runs the decision procedure: verdict ranks, liveness by
//!   `expiresAt`, floor first, member-scoped statements before subject-less
//!   ones, rule-key choice, ordered variants, capability statements, defaults,
//!   schema-drift obligations.
//! - JavaScript semantics where the reference has them: UTF-16 lengths and
//!   globs, doubles, `===`, the portable regex subset ([`EvalError::NotPortable`]
//!   outside it), strict ISO-8601 ([`EvalError::UnsupportedTime`]).
//! - Every error must be treated as `block`: [`evaluate_or_block`].
//!
//! Known differences from the reference, all failing closed:
//! - malformed documents are rejected when loaded (`KeyError` / `TypeError`),
//!   where the reference fails only if evaluation reaches the bad field;
//! - a date-time without offset is read as UTC (the reference uses the host's
//!   zone; identical under `TZ=UTC`);
//! - patterns that compile to more than 100 000 automaton instructions (huge
//!   `{n}` counts) are [`EvalError::ResourceLimit`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod allow_deny;
mod error;
mod eval;
mod jsregex;
mod jstime;
pub mod model;
mod text;

pub use allow_deny::doc_from_allow_deny;
pub use error::EvalError;
pub use eval::{Decision, Obligation, Provenance, evaluate, evaluate_json, evaluate_or_block};
pub use jsregex::JsRegex;
pub use model::{Bound, Call, Condition, Doc, Member, Op, RuleMatch, Statement, Subject, Verdict};
pub use text::{Glob, is_glob, match_glob};

use serde_json::Value;

/// [`evaluate_json`] with every error (bad input included) turned into a
/// `block` decision that keeps the reason (`"error": "<Class>: <reason>"`).
pub fn evaluate_json_or_block(call: &Value, bound: &Value) -> Value {
    let bound = match Bound::from_json(bound) {
        Ok(b) => b,
        Err(e) => return eval::blocked(None, e).to_json(),
    };
    match Call::from_json(call) {
        Ok(call) => evaluate_or_block(&call, &bound).to_json(),
        Err(e) => {
            let id = bound
                .agent
                .as_ref()
                .or(bound.group.as_ref())
                .or(bound.floor.as_ref());
            eval::blocked(id.map(|d| d.policy_id.clone()), e).to_json()
        }
    }
}
