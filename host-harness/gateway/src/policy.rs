//! Policy decisions for the gateway: allow, hold or block a call.
//!
//! Sources, strictest verdict wins:
//! * `policy: {allow, deny}` of `armoriq.yaml`: refs `"<server>.<tool>"`, with
//!   `armoriq-policy`'s globs (`*`, `?` within a `/` segment, `**` across). A deny match blocks; when the allow
//!   list is non-empty, a call matching none of it blocks.
//! * Armor Policy v2 documents (`policy.json` beside `armoriq.yaml`, or
//!   `armoriq policy load FILE`), evaluated with `armoriq-policy`.

use armoriq_common::yaml::PolicyLists;
use serde_json::Value;

/// allow < hold < block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Wait for a human.
    Hold,
    /// Refuse.
    Block,
}

impl Verdict {
    /// `allow` / `hold` / `block`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Hold => "hold",
            Self::Block => "block",
        }
    }
}

/// A decision with its provenance.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// Why, as the SDK's reason strings have it (`<verdict>:<rule>`).
    pub reason: String,
    /// The rule that decided, if any.
    pub rule: Option<String>,
    /// Approval requirements (Armor Policy v2 `approval`).
    pub approval: Option<Value>,
    /// Obligations (schema drift).
    pub obligations: Vec<Value>,
}

impl Decision {
    fn allow(reason: &str) -> Self {
        Self {
            verdict: Verdict::Allow,
            reason: reason.into(),
            rule: None,
            approval: None,
            obligations: Vec::new(),
        }
    }
}

/// One call, as policy sees it.
#[derive(Clone, Debug)]
pub struct PolicyCall<'a> {
    /// MCP server id.
    pub mcp: &'a str,
    /// Tool.
    pub tool: &'a str,
    /// Arguments.
    pub args: &'a Value,
    /// The user, if known.
    pub email: Option<&'a str>,
    /// Unix seconds.
    pub now: i64,
}

/// The gateway's policy.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    allow: Vec<ListRule>,
    deny: Vec<ListRule>,
    /// Armor Policy v2 `{floor?, agent?, group?}`, parsed once.
    bound: Option<armoriq_policy::Bound>,
    /// The v2 document as loaded (shown by the console).
    document: Option<Value>,
}

/// One `armoriq.yaml` allow/deny ref, compiled once with `armoriq-policy`'s
/// glob (the same matcher the Armor Policy v2 rules use: `*` and `?` stop at
/// `/`, `**` crosses it), so a ref means the same thing in both sources.
#[derive(Clone, Debug)]
struct ListRule {
    text: String,
    glob: armoriq_policy::Glob,
}

impl ListRule {
    fn compile(refs: &[String]) -> Vec<Self> {
        refs.iter()
            .map(|r| Self {
                text: r.clone(),
                glob: armoriq_policy::Glob::new(r),
            })
            .collect()
    }

    fn find<'a>(rules: &'a [Self], reference: &str) -> Option<&'a str> {
        rules
            .iter()
            .find(|r| r.glob.matches(reference))
            .map(|r| r.text.as_str())
    }
}

impl Policy {
    /// From `armoriq.yaml` lists and an optional v2 bound (or one document,
    /// taken as the agent layer).
    ///
    /// # Errors
    /// The v2 document does not load (its error class and reason).
    pub fn new(lists: PolicyLists, bound: Option<&Value>) -> Result<Self, String> {
        let document = bound;
        let bound = bound
            .map(armoriq_policy::Bound::from_json_or_doc)
            .transpose()
            .map_err(|e| format!("Armor Policy v2: {}: {}", e.class_name(), e.reason()))?;
        Ok(Self {
            allow: ListRule::compile(&lists.allow),
            deny: ListRule::compile(&lists.deny),
            document: document.cloned(),
            bound,
        })
    }

    /// The Armor Policy v2 document (or bound) as loaded, if any.
    pub fn document(&self) -> Option<&Value> {
        self.document.as_ref()
    }

    /// `armoriq.yaml`'s allow and deny refs, as written.
    pub fn list_refs(&self) -> (Vec<&str>, Vec<&str>) {
        fn refs(rules: &[ListRule]) -> Vec<&str> {
            rules.iter().map(|r| r.text.as_str()).collect()
        }
        (refs(&self.allow), refs(&self.deny))
    }

    /// Whether any rule is configured.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty() && self.bound.is_none()
    }

    /// Whether an Armor Policy v2 bound is loaded.
    pub fn has_v2(&self) -> bool {
        self.bound.is_some()
    }

    /// Decides a call. Never fails: an evaluation error is a block with the
    /// error kept as the reason.
    pub fn decide(&self, call: &PolicyCall<'_>) -> Decision {
        let reference = format!("{}.{}", call.mcp, call.tool);
        let mut best = Decision::allow("no_active_policy");
        if let Some(rule) = ListRule::find(&self.deny, &reference) {
            return Decision {
                verdict: Verdict::Block,
                reason: format!("block:deny:{rule}"),
                rule: Some(format!("deny:{rule}")),
                approval: None,
                obligations: Vec::new(),
            };
        }
        if !self.allow.is_empty() {
            match ListRule::find(&self.allow, &reference) {
                Some(rule) => best = Decision::allow(&format!("allow:allow:{rule}")),
                None => {
                    return Decision {
                        verdict: Verdict::Block,
                        reason: format!("block:not-in-allow-list:{reference}"),
                        rule: Some("allow-list".into()),
                        approval: None,
                        obligations: Vec::new(),
                    };
                }
            }
        }
        if let Some(bound) = &self.bound {
            let d = evaluate_v2(bound, call);
            if d.verdict > best.verdict || best.reason == "no_active_policy" {
                best = d;
            }
        }
        best
    }
}

fn iso8601(now: i64) -> String {
    armoriq_common::time::format_instant(now.saturating_mul(1000))
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SS.000Z`.
pub fn iso_time(now: i64) -> String {
    iso8601(now)
}

/// Unix milliseconds → `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso_time_ms(ms: i64) -> String {
    armoriq_common::time::format_instant(ms)
}

fn evaluate_v2(bound: &armoriq_policy::Bound, call: &PolicyCall<'_>) -> Decision {
    // The call as the official SDK's `decide_locally` builds it: the bare tool
    // name, no schema hash or capabilities, millisecond UTC time, the member.
    let c = armoriq_policy::Call {
        tool: call.tool.to_owned(),
        arguments: Some(call.args.clone()),
        derived: None,
        timestamp: Some(iso8601(call.now)),
        member: call.email.map(|e| armoriq_policy::Member {
            membership_id: None,
            email: Some(e.to_owned()),
            groups: Vec::new(),
            product: None,
        }),
        capabilities: Vec::new(),
        schema_hash: Some(Value::Null),
    };
    let d = armoriq_policy::evaluate_or_block(&c, bound);
    let verdict = match d.verdict {
        armoriq_policy::Verdict::Allow => Verdict::Allow,
        armoriq_policy::Verdict::Hold => Verdict::Hold,
        armoriq_policy::Verdict::Block => Verdict::Block,
    };
    if let Some(e) = &d.error {
        return Decision {
            verdict: Verdict::Block,
            reason: format!(
                "block:policy-not-evaluable: {}: {}",
                e.class_name(),
                e.reason()
            ),
            rule: Some("policy-error".into()),
            approval: None,
            obligations: Vec::new(),
        };
    }
    let rule = if d.provenance.statement_id.is_some() {
        format!("{}#{}", d.provenance.rule_key, d.provenance.variant)
    } else {
        "tools.default".to_owned()
    };
    let json = d.to_json();
    Decision {
        verdict,
        reason: format!("{}:{rule}", verdict.as_str()),
        rule: Some(rule),
        approval: d.approval.clone().filter(|a| !a.is_null()),
        obligations: json
            .get("obligations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_armoriq_policy_globs() {
        let m = |p: &str, t: &str| ListRule::find(&ListRule::compile(&[p.to_owned()]), t).is_some();
        assert!(m("stripe.*", "stripe.create_refund"));
        assert!(m("*", "a.b"));
        assert!(m("*.delete_*", "github.delete_repo"));
        assert!(!m("stripe.*", "github.x"));
        assert!(!m("a.b", "a.bc"));
        // The v2 rules' matcher: `*` stops at `/`, `**` crosses it (the old
        // list matcher let `*` cross `/`, so a ref meant two things).
        assert!(!m("files.*", "files.read/etc"));
        assert!(m("files.**", "files.read/etc"));
        for (p, t) in [("a.*", "a.b/c"), ("*.x", "y/z.x"), ("a.?", "a./")] {
            assert_eq!(m(p, t), armoriq_policy::match_glob(p, t), "{p} vs {t}");
        }
    }

    #[test]
    fn lists() {
        let p = Policy::new(
            PolicyLists {
                allow: vec!["w.*".into()],
                deny: vec!["w.delete".into()],
            },
            None,
        )
        .unwrap();
        let args = serde_json::json!({});
        let call = |tool| PolicyCall {
            mcp: "w",
            tool,
            args: &args,
            email: None,
            now: 0,
        };
        assert_eq!(p.decide(&call("get")).verdict, Verdict::Allow);
        assert_eq!(p.decide(&call("delete")).verdict, Verdict::Block);
        let other = PolicyCall {
            mcp: "x",
            ..call("get")
        };
        assert_eq!(p.decide(&other).verdict, Verdict::Block);
    }

    #[test]
    fn iso() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(iso_time_ms(1_700_000_000_042), "2023-11-14T22:13:20.042Z");
    }
}
