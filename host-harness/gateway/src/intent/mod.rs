//! The intent check: is this call a step of a plan this gateway signed?
//! No routes here; the proxy ([`crate::proxy`]) and the trust routes use it.
//!
//! * [`intake`]: the token(s) a request carries, verified, with their plan.
//! * [`jwt`]: the JWT (`intent_token.jwt_token`).
//! * [`csrg`]: the CSRG token object (the TypeScript SDK).
//! * [`plan`]: loading the stored plan a token names; re-anchored plans.
//! * [`delegated`]: delegated tokens and what they may do.
//! * [`proof`]: the TypeScript SDK's proof headers.
//! * [`step`]: the step check itself, [`check_step`].

pub mod csrg;
pub mod delegated;
pub mod intake;
pub mod jwt;
pub mod plan;
pub mod proof;
pub mod step;

pub use intake::{TokenParts, TokenRef, one_csrg, signed_intent};
pub use jwt::check_token;
pub use plan::{csrg_plan, jwt_plan, load_plan};
pub use step::{StepCall, check_step};
