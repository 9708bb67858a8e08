//! The decision procedure (reference `evaluate.py` and `conditions.py`).

use crate::EvalError;
use crate::jstime::epoch_ms;
use crate::model::{Bound, Call, Condition, Doc, Member, Op, Prepared, Statement, Verdict};
use crate::text::u16_len;
use serde_json::{Map, Value, json};
use std::cell::OnceCell;

/// A schema-drift obligation.
#[derive(Clone, Debug, PartialEq)]
pub struct Obligation {
    /// Always `"schema_drift"`.
    pub kind: String,
    /// The deciding statement.
    pub statement_id: String,
    /// The hash the condition was bound to.
    pub bound: String,
    /// The call's `schemaHash` (a string or `null`).
    pub observed: Value,
}

/// Which statement decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    /// The deciding document's `policyId`.
    pub policy_id: String,
    /// The deciding statement, `None` for a default.
    pub statement_id: Option<String>,
    /// `provenance.ruleKey`, or `"tools.default"`.
    pub rule_key: String,
    /// `provenance.variant`, or -1 for a default.
    pub variant: i64,
    /// `"floor"`, `"member"`, or the document's `layer`.
    pub layer: String,
}

/// The outcome of [`evaluate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// allow / hold / block.
    pub verdict: Verdict,
    /// The floor's verdict when the floor decided something without winning
    /// outright (see the reference's `floorVerdict`).
    pub floor_verdict: Option<Verdict>,
    /// The deciding statement's `approval`, passed through.
    pub approval: Option<Value>,
    /// Schema-drift obligations.
    pub obligations: Vec<Obligation>,
    /// Which statement decided.
    pub provenance: Provenance,
    /// Set only by [`evaluate_or_block`]: the error that forced `block`.
    pub error: Option<EvalError>,
}

impl Decision {
    /// The reference's output dict: `{verdict, floorVerdict, approval,
    /// obligations, provenance}`; plus `"error": "<Class>: <reason>"` when
    /// the decision came from an error.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("verdict".into(), self.verdict.as_str().into());
        out.insert(
            "floorVerdict".into(),
            self.floor_verdict.map(Verdict::as_str).into(),
        );
        out.insert(
            "approval".into(),
            self.approval.clone().unwrap_or(Value::Null),
        );
        out.insert(
            "obligations".into(),
            self.obligations
                .iter()
                .map(|o| {
                    json!({"type": o.kind, "statementId": o.statement_id, "bound": o.bound, "observed": o.observed})
                })
                .collect(),
        );
        let p = &self.provenance;
        out.insert(
            "provenance".into(),
            json!({
                "policyId": p.policy_id,
                "statementId": p.statement_id,
                "ruleKey": p.rule_key,
                "variant": p.variant,
                "layer": p.layer,
            }),
        );
        if let Some(e) = &self.error {
            out.insert("error".into(), e.to_string().into());
        }
        Value::Object(out)
    }
}

/// The value a field path resolves to (`ABSENT` is `Absent`; an array's
/// `length` is a number that is not in the JSON).
#[derive(Clone, Copy, Debug)]
enum Operand<'a> {
    Absent,
    Json(&'a Value),
    Len(usize),
}

impl<'a> Operand<'a> {
    fn of(v: Option<&'a Value>) -> Self {
        v.map_or(Self::Absent, Self::Json)
    }

    fn number(self) -> Option<f64> {
        match self {
            Self::Json(Value::Number(n)) => n.as_f64(),
            // A usize length is exact in a double up to 2^53.
            Self::Len(n) => Some(n as f64),
            _ => None,
        }
    }

    fn string(self) -> Option<&'a str> {
        match self {
            Self::Json(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// JS `===` as the reference models it.
fn strict_equal(a: Operand<'_>, b: Operand<'_>) -> bool {
    use Operand::{Absent, Json};
    match (a, b) {
        (Absent, Absent) | (Json(Value::Null), Json(Value::Null)) => true,
        (Absent | Json(Value::Null), _) | (_, Absent | Json(Value::Null)) => false,
        (Json(Value::Bool(x)), Json(Value::Bool(y))) => x == y,
        (Json(Value::String(x)), Json(Value::String(y))) => x == y,
        _ => match (a.number(), b.number()) {
            (Some(x), Some(y)) => x == y,
            // Arrays / objects are never the same object; mixed kinds differ.
            _ => false,
        },
    }
}

/// `json.dumps(a) == json.dumps(b)` for parsed JSON: key order matters, an
/// integer differs from a float.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let int = |n: &serde_json::Number| {
                n.as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
            };
            match (int(x), int(y)) {
                (Some(i), Some(j)) => i == j,
                (None, None) => x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits),
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same_json(v1, v2))
        }
        _ => a == b,
    }
}

fn is_array_index(key: &str) -> bool {
    let b = key.as_bytes();
    match b {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.len() <= 9 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

fn child<'a>(node: Operand<'a>, key: &str) -> Operand<'a> {
    match node {
        Operand::Json(Value::Object(m)) => Operand::of(m.get(key)),
        Operand::Json(Value::Array(a)) => {
            if key == "length" {
                Operand::Len(a.len())
            } else if is_array_index(key) {
                key.parse::<usize>()
                    .ok()
                    .and_then(|i| a.get(i))
                    .map_or(Operand::Absent, Operand::Json)
            } else {
                Operand::Absent
            }
        }
        _ => Operand::Absent,
    }
}

fn resolve<'a>(call: &'a Call, field: &str) -> Operand<'a> {
    let mut parts = field.split('.');
    let root = parts.next().unwrap_or("");
    let mut base = if root == "args" {
        Operand::of(call.arguments.as_ref())
    } else {
        child(Operand::of(call.derived.as_ref()), root)
    };
    for key in parts {
        base = child(base, key);
    }
    base
}

fn condition_holds(call: &Call, c: &Condition) -> Result<bool, EvalError> {
    let actual = resolve(call, &c.field);
    if c.op == Op::Exists {
        let present = Value::Bool(!matches!(actual, Operand::Absent));
        return Ok(match &c.value {
            None | Some(Value::Null) => !matches!(actual, Operand::Absent),
            Some(expected) => strict_equal(Operand::Json(&present), Operand::Json(expected)),
        });
    }
    if matches!(actual, Operand::Absent) {
        return Ok(false);
    }
    let expected = Operand::of(c.value.as_ref());
    let numeric = |test: fn(f64, f64) -> bool| match (actual.number(), expected.number()) {
        (Some(a), Some(e)) => test(a, e),
        _ => false,
    };
    let includes = |list: &Vec<Value>| {
        list.iter()
            .any(|item| strict_equal(Operand::Json(item), actual))
    };
    let strings = actual.string().zip(expected.string());
    Ok(match c.op {
        Op::Exists => unreachable_exists(),
        Op::Eq => strict_equal(actual, expected),
        Op::Ne => !strict_equal(actual, expected),
        Op::Gt => numeric(|a, e| a > e),
        Op::Gte => numeric(|a, e| a >= e),
        Op::Lt => numeric(|a, e| a < e),
        Op::Lte => numeric(|a, e| a <= e),
        Op::In => matches!(c.value.as_ref(), Some(Value::Array(l)) if includes(l)),
        Op::NotIn => matches!(c.value.as_ref(), Some(Value::Array(l)) if !includes(l)),
        Op::Glob => match (strings, &c.prepared) {
            (Some((a, _)), Prepared::Glob(g)) => g.matches(a),
            _ => false,
        },
        Op::Regex | Op::NotRegex => match (strings, &c.prepared) {
            (Some((a, _)), Prepared::Regex(r)) => {
                r.as_ref().map_err(Clone::clone)?.search(a)? == (c.op == Op::Regex)
            }
            _ => false,
        },
        Op::StartsWith => strings.is_some_and(|(a, e)| a.starts_with(e)),
    })
}

/// `Exists` returns before the match; kept total without a panic.
fn unreachable_exists() -> bool {
    false
}

fn conditions_hold(call: &Call, conditions: &[Condition]) -> Result<bool, EvalError> {
    for c in conditions {
        if !condition_holds(call, c)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Per-evaluation state: the call and its timestamp, parsed once.
struct Ctx<'a> {
    call: &'a Call,
    now: OnceCell<Result<Option<i64>, EvalError>>,
}

impl Ctx<'_> {
    fn is_live(&self, expires_at: Option<&str>) -> Result<bool, EvalError> {
        if expires_at == Some("never") {
            return Ok(true);
        }
        let expiry = expires_at.map(epoch_ms).transpose()?.flatten();
        let now = self
            .now
            .get_or_init(|| {
                self.call
                    .timestamp
                    .as_deref()
                    .map(epoch_ms)
                    .transpose()
                    .map(Option::flatten)
            })
            .clone()?;
        Ok(matches!((expiry, now), (Some(e), Some(n)) if e > n))
    }

    fn live<'d>(&self, doc: &'d Doc) -> Result<Vec<&'d Statement>, EvalError> {
        if !self.is_live(doc.expires_at.as_deref())? {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(doc.statements.len());
        for s in &doc.statements {
            if self.is_live(s.expires_at.as_deref())? {
                out.push(s);
            }
        }
        Ok(out)
    }
}

struct LayerDecision<'d> {
    statement: &'d Statement,
    obligations: Vec<Obligation>,
}

fn key_beats(candidate: &str, incumbent: &str) -> bool {
    let (cg, ig) = (
        crate::text::is_glob(candidate),
        crate::text::is_glob(incumbent),
    );
    if cg != ig {
        return !cg;
    }
    u16_len(candidate) > u16_len(incumbent)
}

fn select_rule_key<'d>(statements: &[&'d Statement], tool: &str) -> Option<&'d str> {
    let mut best: Option<&'d str> = None;
    for s in statements {
        let Some(rule) = &s.rule else { continue };
        let matches = match &rule.glob {
            Some(g) => g.matches(tool),
            None => rule.tool == tool,
        };
        if matches && best.is_none_or(|b| key_beats(&rule.tool, b)) {
            best = Some(&rule.tool);
        }
    }
    best
}

fn drift(statement: &Statement, call: &Call) -> Vec<Obligation> {
    let Some(observed) = &call.schema_hash else {
        return Vec::new();
    };
    statement
        .conditions
        .iter()
        .filter_map(|c| c.schema_hash.as_ref())
        .filter(|b| observed.as_str() != Some(b.as_str()))
        .map(|b| Obligation {
            kind: "schema_drift".into(),
            statement_id: statement.id.clone(),
            bound: b.clone(),
            observed: observed.clone(),
        })
        .collect()
}

fn decide_rule<'d>(
    statements: &[&'d Statement],
    call: &Call,
) -> Result<Option<LayerDecision<'d>>, EvalError> {
    let Some(key) = select_rule_key(statements, &call.tool) else {
        return Ok(None);
    };
    let mut variants: Vec<(&'d Statement, f64)> = statements
        .iter()
        .filter_map(|s| {
            s.rule
                .as_ref()
                .filter(|r| r.tool == key)
                .map(|r| (*s, r.order))
        })
        .collect();
    // Stable, and -0.0 == 0.0 as in Python's sort on floats.
    variants.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
    for (s, _) in variants {
        if conditions_hold(call, &s.conditions)? {
            return Ok(Some(LayerDecision {
                statement: s,
                obligations: drift(s, call),
            }));
        }
    }
    Ok(None)
}

fn decide_capabilities<'d>(
    statements: &[&'d Statement],
    call: &Call,
) -> Result<Option<LayerDecision<'d>>, EvalError> {
    let mut best: Option<&'d Statement> = None;
    for s in statements {
        let Some(cap) = &s.capability else { continue };
        if !call.capabilities.iter().any(|t| t == cap) || !conditions_hold(call, &s.conditions)? {
            continue;
        }
        if best.is_none_or(|b| s.effect.rank() >= b.effect.rank()) {
            best = Some(s);
        }
    }
    Ok(best.map(|statement| LayerDecision {
        statement,
        obligations: Vec::new(),
    }))
}

fn decide_layer<'d>(
    statements: &[&'d Statement],
    call: &Call,
) -> Result<Option<LayerDecision<'d>>, EvalError> {
    let rule = decide_rule(statements, call)?;
    let capability = decide_capabilities(statements, call)?;
    Ok(match (rule, capability) {
        (None, c) => c,
        (r, None) => r,
        (Some(r), Some(c)) => {
            if c.statement.effect.rank() > r.statement.effect.rank() {
                Some(c)
            } else {
                Some(r)
            }
        }
    })
}

/// Characters with a lowercase mapping newer than Unicode 14.0 (Python
/// 3.11's `str.lower()` leaves them alone; Rust's tables map them).
fn newer_than_unicode_14(c: char) -> bool {
    matches!(
        c,
        '\u{1C89}'
            | '\u{A7CB}'
            | '\u{A7CC}'
            | '\u{A7CE}'
            | '\u{A7D2}'
            | '\u{A7D4}'
            | '\u{A7DA}'
            | '\u{A7DC}'
            | '\u{10D50}'..='\u{10D65}'
            | '\u{16EA0}'..='\u{16EB8}'
    )
}

/// Python 3.11 `str.lower()`: full Unicode lowercase with the final-sigma
/// rule, as of Unicode 14.0. Runs between characters Python does not map are
/// lowered on their own, which keeps the final-sigma context Python sees
/// (those characters are unassigned there: neither cased nor case-ignorable).
fn py_lower(s: &str) -> String {
    if !s.chars().any(newer_than_unicode_14) {
        return s.to_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    for c in s.chars() {
        if newer_than_unicode_14(c) {
            out.push_str(&run.to_lowercase());
            run.clear();
            out.push(c);
        } else {
            run.push(c);
        }
    }
    out.push_str(&run.to_lowercase());
    out
}

fn subject_finds(member: &Member, s: &crate::model::Subject, finder: usize) -> bool {
    match finder {
        0 => s.membership_id.as_ref().is_some_and(|id| {
            strict_equal(
                Operand::Json(id),
                Operand::of(member.membership_id.as_ref()),
            )
        }),
        1 => match (&s.email, &member.email) {
            (Some(se), Some(pe)) => py_lower(se) == py_lower(pe),
            _ => false,
        },
        2 => s.group.as_ref().is_some_and(|g| {
            member
                .groups
                .iter()
                .any(|pg| strict_equal(Operand::Json(pg), Operand::Json(g)))
        }),
        _ => s
            .product
            .as_ref()
            .is_some_and(|p| strict_equal(Operand::Json(p), Operand::of(member.product.as_ref()))),
    }
}

fn member_scope<'d>(statements: &[&'d Statement], member: Option<&Member>) -> Vec<&'d Statement> {
    let Some(member) = member else {
        return Vec::new();
    };
    // membershipId, then email, then group, then product.
    let winner = (0..4).find_map(|finder| {
        statements
            .iter()
            .filter_map(|s| s.subject.as_ref())
            .find(|subject| subject_finds(member, subject, finder))
    });
    let Some(winner) = winner else {
        return Vec::new();
    };
    statements
        .iter()
        .filter(|s| {
            s.subject
                .as_ref()
                .is_some_and(|sub| same_subject(&sub.raw, &winner.raw))
        })
        .copied()
        .collect()
}

fn same_subject(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((k1, v1), (k2, v2))| k1 == k2 && same_json(v1, v2))
}

fn from_decision(d: &LayerDecision<'_>, doc: &Doc, layer: &str) -> Decision {
    let s = d.statement;
    Decision {
        verdict: s.effect,
        floor_verdict: None,
        approval: s.approval.clone(),
        obligations: d.obligations.clone(),
        provenance: Provenance {
            policy_id: doc.policy_id.clone(),
            statement_id: Some(s.id.clone()),
            rule_key: s.rule_key.clone(),
            variant: s.variant,
            layer: layer.to_owned(),
        },
        error: None,
    }
}

fn from_default(doc: &Doc) -> Decision {
    Decision {
        verdict: doc.default_tools,
        floor_verdict: None,
        approval: None,
        obligations: Vec::new(),
        provenance: Provenance {
            policy_id: doc.policy_id.clone(),
            statement_id: None,
            rule_key: "tools.default".into(),
            variant: -1,
            layer: doc.layer.clone(),
        },
        error: None,
    }
}

fn most_specific(bound: &Bound) -> Option<&Doc> {
    bound
        .agent
        .as_ref()
        .or(bound.group.as_ref())
        .or(bound.floor.as_ref())
}

fn subjectless<'d>(statements: &[&'d Statement]) -> Vec<&'d Statement> {
    statements
        .iter()
        .filter(|s| s.subject.is_none())
        .copied()
        .collect()
}

fn decide_candidate(cx: &Ctx<'_>, bound: &Bound) -> Result<Decision, EvalError> {
    for doc in [bound.agent.as_ref(), bound.group.as_ref()]
        .into_iter()
        .flatten()
    {
        let statements = cx.live(doc)?;
        let scoped = member_scope(&statements, cx.call.member.as_ref());
        if let Some(m) = decide_layer(&scoped, cx.call)? {
            return Ok(from_decision(&m, doc, "member"));
        }
        if let Some(own) = decide_layer(&subjectless(&statements), cx.call)? {
            return Ok(from_decision(&own, doc, &doc.layer));
        }
    }
    most_specific(bound)
        .map(from_default)
        .ok_or_else(|| EvalError::ValueError("evaluate: no document is bound to the target".into()))
}

/// Decides `call` against the bound documents, exactly as
/// `armoriq_policy_ir.evaluate` 0.1.3 does.
pub fn evaluate(call: &Call, bound: &Bound) -> Result<Decision, EvalError> {
    let cx = Ctx {
        call,
        now: OnceCell::new(),
    };
    let floor = match &bound.floor {
        Some(doc) => {
            let live = cx.live(doc)?;
            decide_layer(&subjectless(&live), call)?.map(|d| (d, doc))
        }
        None => None,
    };
    if let Some((f, doc)) = &floor
        && f.statement.effect == Verdict::Block
    {
        return Ok(from_decision(f, doc, "floor"));
    }
    let candidate = decide_candidate(&cx, bound)?;
    let floor_verdict = floor.as_ref().map(|(f, _)| f.statement.effect);
    if let (Some((f, doc)), Some(fv)) = (&floor, floor_verdict)
        && fv.rank() > candidate.verdict.rank()
    {
        return Ok(Decision {
            floor_verdict: Some(fv),
            ..from_decision(f, doc, "floor")
        });
    }
    Ok(Decision {
        floor_verdict,
        ..candidate
    })
}

/// [`evaluate`], with every error turned into `block` (the reason kept in
/// [`Decision::error`]). Provenance then names the most specific bound
/// document (or `""`), statement `None`, rule key `"error"`, variant -1 and
/// layer `"error"`.
pub fn evaluate_or_block(call: &Call, bound: &Bound) -> Decision {
    evaluate(call, bound)
        .unwrap_or_else(|e| blocked(most_specific(bound).map(|d| d.policy_id.clone()), e))
}

pub(crate) fn blocked(policy_id: Option<String>, e: EvalError) -> Decision {
    Decision {
        verdict: Verdict::Block,
        floor_verdict: None,
        approval: None,
        obligations: Vec::new(),
        provenance: Provenance {
            policy_id: policy_id.unwrap_or_default(),
            statement_id: None,
            rule_key: "error".into(),
            variant: -1,
            layer: "error".into(),
        },
        error: Some(e),
    }
}

/// Parses `call` and `bound` ([`Call::from_json`], [`Bound::from_json`]),
/// evaluates, and returns the reference's output dict.
pub fn evaluate_json(call: &Value, bound: &Value) -> Result<Value, EvalError> {
    let call = Call::from_json(call)?;
    let bound = Bound::from_json(bound)?;
    evaluate(&call, &bound).map(|d| d.to_json())
}

#[cfg(test)]
mod tests {
    use super::py_lower;

    #[test]
    fn lower_like_python_3_11() {
        assert_eq!(py_lower("CFO@Example.COM"), "cfo@example.com");
        assert_eq!(py_lower("ΑΣ Σ"), "ας σ");
        assert_eq!(py_lower("İ"), "i\u{307}");
        // Unicode 16 letters Python 3.11 does not lower.
        assert_eq!(py_lower("A\u{1C89}ΣB\u{10D50}"), "a\u{1C89}σb\u{10D50}");
        assert_eq!(py_lower("AΣ\u{1C89}"), "aς\u{1C89}");
        assert_eq!(py_lower("\u{1C89}ΣA"), "\u{1C89}σa");
    }
}
