//! Typed policy documents and calls, read strictly from JSON.
//!
//! Strictness: a field that is present must have the documented type, and the
//! fields the reference reads unconditionally (`id`, `effect`, `match`,
//! `provenance`, `policyId`, `layer`, `defaults.tools`, `tool`, `order`) must be
//! present. Missing `KeyError`s and wrong-type `TypeError`s are reported at load
//! time here, where the reference raises them only if evaluation reaches the
//! field. Where the reference is deliberately lenient this reader is too:
//! a missing `expiresAt` (not live), missing `statements` / `conditions`,
//! unknown extra fields, a falsy document (`null`, `{}`, `[]`, `""`, `0`,
//! `false`) meaning "not bound", a non-string `member.email` being ignored.
//!
//! Patterns are compiled here but their errors (`NotPortable`, ...) are kept
//! and raised only when evaluation reaches the condition, as the reference does.

use crate::EvalError;
use crate::jsregex::JsRegex;
use crate::text::Glob;
use serde_json::{Map, Value};

/// An effect / verdict, ranked `allow < hold < block`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Rank 0.
    Allow,
    /// Rank 1.
    Hold,
    /// Rank 2.
    Block,
}

impl Verdict {
    /// `VERDICT_RANK`: allow 0, hold 1, block 2.
    pub fn rank(self) -> u8 {
        match self {
            Self::Allow => 0,
            Self::Hold => 1,
            Self::Block => 2,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Hold => "hold",
            Self::Block => "block",
        }
    }

    /// The wire name parsed; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "allow" => Self::Allow,
            "hold" => Self::Hold,
            "block" => Self::Block,
            _ => return None,
        })
    }

    /// `stricter(a, b)`: `a` unless `b` ranks strictly higher.
    pub fn stricter(self, other: Self) -> Self {
        if self.rank() >= other.rank() {
            self
        } else {
            other
        }
    }
}

/// Condition operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Field presence compared (JS `===`) with `value`, default `true`.
    Exists,
    /// JS `===`.
    Eq,
    /// Not JS `===`.
    Ne,
    /// Numeric `>` on doubles.
    Gt,
    /// Numeric `>=`.
    Gte,
    /// Numeric `<`.
    Lt,
    /// Numeric `<=`.
    Lte,
    /// `value` is an array that includes the field (SameValueZero).
    In,
    /// `value` is an array that does not include the field.
    NotIn,
    /// Full glob match on UTF-16 code units.
    Glob,
    /// Portable regex, search semantics.
    Regex,
    /// Portable regex does not match.
    NotRegex,
    /// UTF-16 prefix.
    StartsWith,
}

impl Op {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "exists" => Self::Exists,
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "in" => Self::In,
            "notIn" => Self::NotIn,
            "glob" => Self::Glob,
            "regex" => Self::Regex,
            "notRegex" => Self::NotRegex,
            "startsWith" => Self::StartsWith,
            _ => return None,
        })
    }
}

/// A pattern prepared at load time.
#[derive(Clone, Debug)]
pub(crate) enum Prepared {
    None,
    Glob(Glob),
    Regex(Result<JsRegex, EvalError>),
}

/// One condition of a statement.
#[derive(Clone, Debug)]
pub struct Condition {
    /// Dotted path: `args.…` reads `call.arguments`, any other root `call.derived`.
    pub field: String,
    /// The operator.
    pub op: Op,
    /// The operand; `Some(Value::Null)` (an explicit `null`) differs from `None`.
    pub value: Option<Value>,
    /// `schemaBinding.schemaHash`, for schema-drift obligations.
    pub schema_hash: Option<String>,
    pub(crate) prepared: Prepared,
}

/// `match.tool` with its `order`.
#[derive(Clone, Debug)]
pub struct RuleMatch {
    /// Exact tool name or glob.
    pub tool: String,
    /// Variant order (compared as doubles, stable).
    pub order: f64,
    pub(crate) glob: Option<Glob>,
}

/// A statement's subject (member scope).
#[derive(Clone, Debug)]
pub struct Subject {
    /// `membershipId`, any JSON value.
    pub membership_id: Option<Value>,
    /// `email`, compared case-insensitively.
    pub email: Option<String>,
    /// `group`, any JSON value.
    pub group: Option<Value>,
    /// `product`, any JSON value.
    pub product: Option<Value>,
    pub(crate) raw: Map<String, Value>,
}

/// A policy statement.
#[derive(Clone, Debug)]
pub struct Statement {
    /// `id`.
    pub id: String,
    /// `effect`.
    pub effect: Verdict,
    /// `match.tool` / `match.order`.
    pub rule: Option<RuleMatch>,
    /// `match.capability`.
    pub capability: Option<String>,
    /// `conditions`, all of which must hold.
    pub conditions: Vec<Condition>,
    /// `expiresAt`: `"never"`, an ISO time, or `None` (not live).
    pub expires_at: Option<String>,
    /// `subject`, if member-scoped.
    pub subject: Option<Subject>,
    /// `approval`, passed through (`null` reads as `None`).
    pub approval: Option<Value>,
    /// `provenance.ruleKey`.
    pub rule_key: String,
    /// `provenance.variant`.
    pub variant: i64,
}

/// A policy document (one layer).
#[derive(Clone, Debug)]
pub struct Doc {
    /// `policyId`.
    pub policy_id: String,
    /// `layer`, reported in provenance.
    pub layer: String,
    /// `expiresAt`: `"never"`, an ISO time, or `None` (not live).
    pub expires_at: Option<String>,
    /// `defaults.tools`.
    pub default_tools: Verdict,
    /// `statements`.
    pub statements: Vec<Statement>,
}

/// The documents bound to a target.
#[derive(Clone, Debug, Default)]
pub struct Bound {
    /// Organisation floor.
    pub floor: Option<Doc>,
    /// Agent layer.
    pub agent: Option<Doc>,
    /// Group layer.
    pub group: Option<Doc>,
}

/// The calling member.
#[derive(Clone, Debug, Default)]
pub struct Member {
    /// `membershipId`, any JSON value (`Some(Null)` for an explicit `null`).
    pub membership_id: Option<Value>,
    /// `email` if it is a string.
    pub email: Option<String>,
    /// `groups`.
    pub groups: Vec<Value>,
    /// `product`, any JSON value.
    pub product: Option<Value>,
}

/// A tool call to decide.
#[derive(Clone, Debug)]
pub struct Call {
    /// Tool name as the gateway evaluates it (`"<mcp>.<action>"`).
    pub tool: String,
    /// `arguments`, any JSON value.
    pub arguments: Option<Value>,
    /// `derived`, any JSON value.
    pub derived: Option<Value>,
    /// `timestamp` (ISO-8601).
    pub timestamp: Option<String>,
    /// `member`.
    pub member: Option<Member>,
    /// `capabilities` tags.
    pub capabilities: Vec<String>,
    /// `schemaHash` if present: a string or `null`.
    pub schema_hash: Option<Value>,
}

fn key_error(path: &str) -> EvalError {
    EvalError::KeyError(format!("{path}: missing"))
}

fn type_error(path: &str, want: &str, got: &Value) -> EvalError {
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    EvalError::TypeError(format!("{path}: expected {want}, got {kind}"))
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, EvalError> {
    v.as_object()
        .ok_or_else(|| type_error(path, "an object", v))
}

fn req<'a>(m: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value, EvalError> {
    m.get(key)
        .ok_or_else(|| key_error(&format!("{path}.{key}")))
}

fn string(v: &Value, path: &str) -> Result<String, EvalError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| type_error(path, "a string", v))
}

fn req_string(m: &Map<String, Value>, key: &str, path: &str) -> Result<String, EvalError> {
    string(req(m, key, path)?, &format!("{path}.{key}"))
}

/// A present string, or `None` for missing / `null`.
fn opt_string(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, EvalError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => string(v, &format!("{path}.{key}")).map(Some),
    }
}

fn verdict(v: &Value, path: &str) -> Result<Verdict, EvalError> {
    let name = v
        .as_str()
        .ok_or_else(|| type_error(path, "allow, hold or block", v))?;
    Verdict::from_name(name)
        .ok_or_else(|| EvalError::KeyError(format!("{path}: {name:?} is not allow, hold or block")))
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

impl Condition {
    /// Reads one condition.
    pub fn from_json(v: &Value, path: &str) -> Result<Self, EvalError> {
        let m = object(v, path)?;
        let field = req_string(m, "field", path)?;
        let op_v = req(m, "op", path)?;
        let op_name = op_v
            .as_str()
            .ok_or_else(|| type_error(&format!("{path}.op"), "a string", op_v))?;
        let op = Op::from_name(op_name).ok_or_else(|| {
            EvalError::KeyError(format!("{path}.op: unknown operator {op_name:?}"))
        })?;
        let value = m.get("value").cloned();
        let schema_hash = match m.get("schemaBinding") {
            Some(b) if truthy(b) => {
                let bm = object(b, &format!("{path}.schemaBinding"))?;
                opt_string(bm, "schemaHash", &format!("{path}.schemaBinding"))?
            }
            _ => None,
        };
        let prepared = match (op, &value) {
            (Op::Glob, Some(Value::String(p))) => Prepared::Glob(Glob::new(p)),
            (Op::Regex | Op::NotRegex, Some(Value::String(p))) => Prepared::Regex(JsRegex::new(p)),
            _ => Prepared::None,
        };
        Ok(Self {
            field,
            op,
            value,
            schema_hash,
            prepared,
        })
    }
}

impl Subject {
    fn from_json(v: &Value, path: &str) -> Result<Self, EvalError> {
        let m = object(v, path)?;
        Ok(Self {
            membership_id: m.get("membershipId").cloned(),
            email: match m.get("email") {
                None => None,
                Some(e) => Some(string(e, &format!("{path}.email"))?),
            },
            group: m.get("group").cloned(),
            product: m.get("product").cloned(),
            raw: m.clone(),
        })
    }
}

impl Statement {
    /// Reads one statement.
    pub fn from_json(v: &Value, path: &str) -> Result<Self, EvalError> {
        let m = object(v, path)?;
        let id = req_string(m, "id", path)?;
        let effect = verdict(req(m, "effect", path)?, &format!("{path}.effect"))?;
        let mpath = format!("{path}.match");
        let mm = object(req(m, "match", path)?, &mpath)?;
        let rule = match mm.get("tool") {
            None => None,
            Some(t) => {
                let tool = string(t, &format!("{mpath}.tool"))?;
                let o = req(mm, "order", &mpath)?;
                let order = match o {
                    Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                    _ => return Err(type_error(&format!("{mpath}.order"), "a number", o)),
                };
                let glob = crate::text::is_glob(&tool).then(|| Glob::new(&tool));
                Some(RuleMatch { tool, order, glob })
            }
        };
        let capability = match mm.get("capability") {
            None => None,
            Some(c) => Some(string(c, &format!("{mpath}.capability"))?),
        };
        let conditions = match m.get("conditions") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, c)| Condition::from_json(c, &format!("{path}.conditions[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(type_error(&format!("{path}.conditions"), "an array", other));
            }
        };
        let expires_at = opt_string(m, "expiresAt", path)?;
        let subject = match m.get("subject") {
            None | Some(Value::Null) => None,
            Some(s) => Some(Subject::from_json(s, &format!("{path}.subject"))?),
        };
        let approval = m.get("approval").filter(|a| !a.is_null()).cloned();
        let ppath = format!("{path}.provenance");
        let pm = object(req(m, "provenance", path)?, &ppath)?;
        let rule_key = req_string(pm, "ruleKey", &ppath)?;
        let vv = req(pm, "variant", &ppath)?;
        let variant = vv
            .as_i64()
            .ok_or_else(|| type_error(&format!("{ppath}.variant"), "an integer", vv))?;
        Ok(Self {
            id,
            effect,
            rule,
            capability,
            conditions,
            expires_at,
            subject,
            approval,
            rule_key,
            variant,
        })
    }
}

impl Doc {
    /// Reads one document.
    pub fn from_json(v: &Value, path: &str) -> Result<Self, EvalError> {
        let m = object(v, path)?;
        let policy_id = req_string(m, "policyId", path)?;
        let layer = req_string(m, "layer", path)?;
        let expires_at = opt_string(m, "expiresAt", path)?;
        let dpath = format!("{path}.defaults");
        let dm = object(req(m, "defaults", path)?, &dpath)?;
        let default_tools = verdict(req(dm, "tools", &dpath)?, &format!("{dpath}.tools"))?;
        let statements = match m.get("statements") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, s)| Statement::from_json(s, &format!("{path}.statements[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(type_error(&format!("{path}.statements"), "an array", other));
            }
        };
        Ok(Self {
            policy_id,
            layer,
            expires_at,
            default_tools,
            statements,
        })
    }

    /// A bound slot: falsy values mean "not bound", as in the reference.
    fn slot(m: &Map<String, Value>, key: &str) -> Result<Option<Self>, EvalError> {
        match m.get(key) {
            Some(v) if truthy(v) => Self::from_json(v, &format!("bound.{key}")).map(Some),
            _ => Ok(None),
        }
    }
}

impl Bound {
    /// Reads `{floor?, agent?, group?}`.
    pub fn from_json(v: &Value) -> Result<Self, EvalError> {
        let m = object(v, "bound")?;
        Ok(Self {
            floor: Doc::slot(m, "floor")?,
            agent: Doc::slot(m, "agent")?,
            group: Doc::slot(m, "group")?,
        })
    }

    /// Reads either a bound `{floor?, agent?, group?}` or, if the object has
    /// any of a document's own keys (`policyId`, `layer`, `defaults`,
    /// `statements`), a single document taken as the agent layer.
    pub fn from_json_or_doc(v: &Value) -> Result<Self, EvalError> {
        let is_doc = ["policyId", "layer", "defaults", "statements"]
            .iter()
            .any(|k| v.get(k).is_some());
        if is_doc {
            return Ok(Self {
                agent: Some(Doc::from_json(v, "doc")?),
                ..Self::default()
            });
        }
        Self::from_json(v)
    }
}

impl Member {
    fn from_json(v: &Value) -> Result<Self, EvalError> {
        let m = object(v, "call.member")?;
        let groups = match m.get("groups") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => return Err(type_error("call.member.groups", "an array", other)),
        };
        Ok(Self {
            membership_id: m.get("membershipId").cloned(),
            email: m.get("email").and_then(Value::as_str).map(str::to_owned),
            groups,
            product: m.get("product").cloned(),
        })
    }
}

impl Call {
    /// Reads a call.
    pub fn from_json(v: &Value) -> Result<Self, EvalError> {
        let m = object(v, "call")?;
        let tool = req_string(m, "tool", "call")?;
        let member = match m.get("member") {
            None | Some(Value::Null) => None,
            Some(p) => Some(Member::from_json(p)?),
        };
        let capabilities = match m.get("capabilities") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, t)| string(t, &format!("call.capabilities[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(type_error("call.capabilities", "an array", other)),
        };
        let schema_hash = match m.get("schemaHash") {
            None => None,
            Some(h @ (Value::String(_) | Value::Null)) => Some(h.clone()),
            Some(other) => return Err(type_error("call.schemaHash", "a string", other)),
        };
        Ok(Self {
            tool,
            arguments: m.get("arguments").cloned(),
            derived: m.get("derived").cloned(),
            timestamp: opt_string(m, "timestamp", "call")?,
            member,
            capabilities,
            schema_hash,
        })
    }
}

impl Bound {
    /// Problems the reference would raise only when evaluation reaches them:
    /// patterns outside the portable subset (or rejected by `re`) and
    /// `expiresAt` values that are not ISO-8601. Each comes with its JSON
    /// path. An empty list means no statement can fail that way (the call's
    /// own timestamp can still be bad).
    pub fn latent_errors(&self) -> Vec<(String, EvalError)> {
        let mut out = Vec::new();
        for (name, doc) in [
            ("floor", &self.floor),
            ("agent", &self.agent),
            ("group", &self.group),
        ] {
            let Some(doc) = doc else { continue };
            let time = |path: String, t: &Option<String>, out: &mut Vec<(String, EvalError)>| {
                if let Some(t) = t.as_deref().filter(|t| *t != "never")
                    && let Err(e) = crate::jstime::epoch_ms(t)
                {
                    out.push((path, e));
                }
            };
            time(format!("{name}.expiresAt"), &doc.expires_at, &mut out);
            for (i, s) in doc.statements.iter().enumerate() {
                time(
                    format!("{name}.statements[{i}].expiresAt"),
                    &s.expires_at,
                    &mut out,
                );
                for (j, c) in s.conditions.iter().enumerate() {
                    if let Prepared::Regex(Err(e)) = &c.prepared {
                        out.push((
                            format!("{name}.statements[{i}].conditions[{j}].value"),
                            e.clone(),
                        ));
                    }
                }
            }
        }
        out
    }
}
