//! Plans: the official SDK's `ToolCall`, `default_tool_name_parser`,
//! `build_plan_from_tool_calls` and `hash_tool_calls`
//! (`armoriq_sdk/plan_builder.py`, `tool_name.py`), byte for byte.
//!
//! JSON is kept as text so that key order (HTTP bodies are not sorted),
//! big integers and float spellings survive exactly as the caller wrote them,
//! the way Python dicts keep them.

use crate::error::{ArmorIqError, Result};
use armoriq_core::Profile;
use armoriq_core::json::{Kind, Value as JValue};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Nesting limit when reading caller JSON.
const DEPTH: usize = 128;

/// A plan as JSON text (an object with `steps`), kept in the caller's key
/// order.
#[derive(Clone, Debug)]
pub struct Plan {
    text: String,
    value: Value,
}

impl Plan {
    /// A plan from JSON text. Only "is an object with `steps`" is checked, as
    /// `capture_plan` does.
    ///
    /// # Errors
    /// `InvalidInput` with the official messages.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ArmorIqError::InvalidInput(format!("plan is not JSON: {e}")))?;
        check_plan(Some(&value))?;
        let text = py_json(text)?;
        Ok(Self { text, value })
    }

    /// A plan from a `serde_json::Value` (keys in the value's order).
    ///
    /// # Errors
    /// As [`Plan::from_json`].
    pub fn from_value(value: &Value) -> Result<Self> {
        check_plan(Some(value))?;
        let text = serde_json::to_string(value)
            .map_err(|e| ArmorIqError::InvalidInput(format!("plan: {e}")))?;
        Ok(Self {
            text,
            value: value.clone(),
        })
    }

    /// The JSON text as it goes on the wire.
    pub fn as_json(&self) -> &str {
        &self.text
    }

    /// The parsed plan.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// `plan.steps` (empty when not an array).
    pub fn steps(&self) -> &[Value] {
        self.value
            .get("steps")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

/// `capture_plan`'s three checks, with the official messages.
///
/// # Errors
/// `InvalidInput`.
pub fn check_plan(plan: Option<&Value>) -> Result<()> {
    let Some(plan) = plan.filter(|p| !p.is_null()) else {
        return Err(ArmorIqError::InvalidInput(
            "Plan structure is required. You must provide an explicit plan with the MCP and actions you want to execute."
                .into(),
        ));
    };
    let Some(obj) = plan.as_object() else {
        return Err(ArmorIqError::InvalidInput(
            "Plan must be a dictionary".into(),
        ));
    };
    match obj.get("steps") {
        None => Err(ArmorIqError::InvalidInput(
            "Plan must contain 'steps' key".into(),
        )),
        // The SDK fails on `len(None)` in its log line: a TypeError.
        Some(Value::Null) => Err(ArmorIqError::InvalidInput(
            "object of type 'NoneType' has no len()".into(),
        )),
        Some(_) => Ok(()),
    }
}

/// One tool call from an LLM: `ToolCall(name, args)`.
#[derive(Clone, Debug)]
pub struct ToolCall {
    /// The tool's name as the LLM sent it (`Stripe__create_refund`).
    pub name: String,
    args: String,
}

impl ToolCall {
    /// A call with `args` (an object; `null` means `{}`).
    ///
    /// # Errors
    /// `InvalidInput` when `args` is neither an object nor falsy.
    pub fn new(name: impl Into<String>, args: Value) -> Result<Self> {
        let text = serde_json::to_string(&args)
            .map_err(|e| ArmorIqError::InvalidInput(format!("args: {e}")))?;
        Self::from_args_json(name, &text)
    }

    /// A call whose args are JSON text (kept in its key order, numbers as
    /// written).
    ///
    /// # Errors
    /// `InvalidInput` when the text is not JSON, or not an object and not
    /// falsy in Python's sense (`null`, `[]`, `0`, `""`, `false` become `{}`).
    pub fn from_args_json(name: impl Into<String>, args: &str) -> Result<Self> {
        let v = JValue::parse(args.as_bytes(), DEPTH)
            .map_err(|e| ArmorIqError::InvalidInput(format!("args are not JSON: {e}")))?;
        let args = if falsy(&v) {
            "{}".to_owned()
        } else if v.kind() == Kind::Object {
            py_json(args)?
        } else {
            return Err(ArmorIqError::InvalidInput(
                "1 validation error for ToolCall\nargs\n  Input should be a valid dictionary"
                    .into(),
            ));
        };
        Ok(Self {
            name: name.into(),
            args,
        })
    }

    /// The args as JSON text (an object).
    pub fn args_json(&self) -> &str {
        &self.args
    }

    /// The args parsed.
    pub fn args(&self) -> Value {
        serde_json::from_str(&self.args).unwrap_or_else(|_| Value::Object(Default::default()))
    }
}

/// Reads a JSON array of tool calls (`[{"name", "args"?, …}]`) as the SDK
/// reads a list of dicts: extra members dropped, falsy args → `{}`.
///
/// # Errors
/// `InvalidInput` for a missing or non-string name, or non-object args.
pub fn tool_calls_from_json(text: &str) -> Result<Vec<ToolCall>> {
    let v = JValue::parse(text.as_bytes(), DEPTH)
        .map_err(|e| ArmorIqError::InvalidInput(format!("tool calls are not JSON: {e}")))?;
    if v.kind() != Kind::Array {
        return Err(ArmorIqError::InvalidInput(
            "tool calls must be a JSON array".into(),
        ));
    }
    let mut out = Vec::new();
    for item in v.elements() {
        if item.kind() != Kind::Object {
            return Err(ArmorIqError::InvalidInput(
                "each tool call must be an object with `name`".into(),
            ));
        }
        let (mut name, mut args) = (None, None);
        for (k, val) in item.members() {
            if k.eq_str("name") {
                name = Some(val);
            } else if k.eq_str("args") {
                args = Some(val);
            }
        }
        let name = name.ok_or_else(|| ArmorIqError::InvalidInput("'name'".into()))?;
        let name: String = name.as_str().map(|s| s.chars().collect()).ok_or_else(|| {
            ArmorIqError::InvalidInput(
                "1 validation error for ToolCall\nname\n  Input should be a valid string".into(),
            )
        })?;
        let args_text = match args {
            Some(a) => std::str::from_utf8(a.bytes()).unwrap_or("{}"),
            None => "{}",
        };
        out.push(ToolCall::from_args_json(name, args_text)?);
    }
    Ok(out)
}

fn falsy(v: &JValue<'_>) -> bool {
    match v.kind() {
        Kind::Null => true,
        Kind::Bool => v.bytes() == b"false",
        Kind::Number => std::str::from_utf8(v.bytes())
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .is_some_and(|x| x == 0.0),
        Kind::String => v.bytes().len() <= 2,
        Kind::Array => v.elements().next().is_none(),
        Kind::Object => v.members().next().is_none(),
    }
}

/// A tool-name parser: the name → `(mcp, action)`.
pub type ToolNameParser = std::sync::Arc<dyn Fn(&str) -> Result<(String, String)> + Send + Sync>;

/// `split_prefixed_tool_name`: strip `mcp__` when another `__` follows, then
/// split at the first `__` (an empty side means no split).
pub fn split_prefixed_tool_name(name: &str) -> Option<(String, String)> {
    let rest = match name.strip_prefix("mcp__") {
        Some(r) if r.contains("__") => r,
        _ => name,
    };
    let (server, tool) = rest.split_once("__")?;
    if server.is_empty() || tool.is_empty() {
        return None;
    }
    Some((server.to_owned(), tool.to_owned()))
}

/// `default_tool_name_parser(default_mcp_name)` as a function.
///
/// # Errors
/// `InvalidInput` with the official messages.
pub fn parse_tool_name(name: &str, default_mcp_name: Option<&str>) -> Result<(String, String)> {
    if let Some(pair) = split_prefixed_tool_name(name) {
        return Ok(pair);
    }
    if name.contains("__") {
        return Err(ArmorIqError::InvalidInput(format!(
            "Tool \"{name}\" has a malformed MCP prefix."
        )));
    }
    match default_mcp_name {
        Some(d) => Ok((d.to_owned(), name.to_owned())),
        None => Err(ArmorIqError::InvalidInput(format!(
            "Tool \"{name}\" is not namespaced as <MCP>__<action> and no default_mcp_name was set on the session."
        ))),
    }
}

/// `default_tool_name_parser(default_mcp_name)`.
pub fn default_tool_name_parser(default_mcp_name: Option<&str>) -> ToolNameParser {
    let d = default_mcp_name.map(str::to_owned);
    std::sync::Arc::new(move |name: &str| parse_tool_name(name, d.as_deref()))
}

/// `build_plan_from_tool_calls`: `{"goal", "steps": [{"action", "tool",
/// "mcp", "params", "description"}]}` in that key order; an empty goal is
/// `"agent task"`.
///
/// # Errors
/// The parser's error.
pub fn build_plan_from_tool_calls(
    tool_calls: &[ToolCall],
    goal: Option<&str>,
    tool_name_parser: Option<&ToolNameParser>,
    default_mcp_name: Option<&str>,
) -> Result<Plan> {
    let goal = goal.filter(|g| !g.is_empty()).unwrap_or("agent task");
    let mut text = String::from("{\"goal\":");
    text.push_str(&json_str(goal));
    text.push_str(",\"steps\":[");
    for (i, tc) in tool_calls.iter().enumerate() {
        let (mcp, action) = match tool_name_parser {
            Some(p) => p(&tc.name)?,
            None => parse_tool_name(&tc.name, default_mcp_name)?,
        };
        if i > 0 {
            text.push(',');
        }
        let a = json_str(&action);
        text.push_str(&format!(
            "{{\"action\":{a},\"tool\":{a},\"mcp\":{},\"params\":{},\"description\":{}}}",
            json_str(&mcp),
            tc.args,
            json_str(&format!("Call {action} on {mcp}"))
        ));
    }
    text.push_str("]}");
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| ArmorIqError::InvalidInput(format!("plan: {e}")))?;
    Ok(Plan { text, value })
}

/// `hash_tool_calls`: lowercase hex SHA-256 of the canonical JSON
/// (Python `sort_keys=True, separators=(",",":"), ensure_ascii=True`) of
/// `[{"name", "args"}]`. A local cache key only; never sent.
///
/// # Errors
/// `InvalidInput` when the args cannot be canonicalized.
pub fn hash_tool_calls(tool_calls: &[ToolCall]) -> Result<String> {
    let mut text = String::from("[");
    for (i, tc) in tool_calls.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            "{{\"name\":{},\"args\":{}}}",
            json_str(&tc.name),
            tc.args
        ));
    }
    text.push(']');
    let canonical =
        armoriq_common::canonical::canonical_bytes(text.as_bytes(), Profile::ArmorIq)
            .map_err(|e| ArmorIqError::InvalidInput(format!("tool calls: {}: {e}", e.name())))?;
    Ok(hex::encode(Sha256::digest(&canonical)))
}

/// A JSON string literal as httpx writes it (raw UTF-8).
pub(crate) fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Rewrites JSON text the way Python's `json.loads` + httpx `json.dumps(
/// ensure_ascii=False, separators=(",",":"))` would: duplicate keys collapse
/// (first position, last value), numbers in Python `repr` spelling, strings
/// raw UTF-8, compact.
///
/// # Errors
/// `InvalidInput` when the text is not JSON.
pub fn py_json(text: &str) -> Result<String> {
    let v = JValue::parse(text.as_bytes(), DEPTH)
        .map_err(|e| ArmorIqError::InvalidInput(format!("not JSON: {e}")))?;
    let mut out = String::with_capacity(text.len());
    write_py(&v, &mut out)?;
    Ok(out)
}

fn write_py(v: &JValue<'_>, out: &mut String) -> Result<()> {
    match v.kind() {
        Kind::Null | Kind::Bool => out.push_str(std::str::from_utf8(v.bytes()).unwrap_or("null")),
        Kind::Number => {
            let c = armoriq_common::canonical::canonical_bytes(v.bytes(), Profile::ArmorIq)
                .map_err(|e| ArmorIqError::InvalidInput(format!("number: {e}")))?;
            out.push_str(&String::from_utf8_lossy(&c));
        }
        Kind::String => {
            let s: String = v.as_str().map(|s| s.chars().collect()).unwrap_or_default();
            out.push_str(&json_str(&s));
        }
        Kind::Array => {
            out.push('[');
            for (i, e) in v.elements().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_py(&e, out)?;
            }
            out.push(']');
        }
        Kind::Object => {
            let mut members: Vec<(String, JValue<'_>)> = Vec::new();
            for (k, val) in v.members() {
                let key: String = k.chars().collect();
                match members.iter_mut().find(|(n, _)| *n == key) {
                    Some(slot) => slot.1 = val,
                    None => members.push((key, val)),
                }
            }
            out.push('{');
            for (i, (k, val)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_str(k));
                out.push(':');
                write_py(val, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors(name: &str) -> Value {
        let path = format!(
            "{}/../../../shared/vectors/armoriq/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let alt = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path)
            .or_else(|_| std::fs::read_to_string(&alt))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn plans_and_hashes_match_the_sdk() {
        let v = vectors("plans_and_tool_call_hashes.json");
        let cases = v["cases"].as_array().unwrap();
        assert!(cases.len() >= 10);
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let calls = tool_calls_from_json(c["input"]["tool_calls_json"].as_str().unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let h = hash_tool_calls(&calls).unwrap();
            assert_eq!(
                h,
                c["hash_tool_calls"]["sha256_hex_by_sdk"].as_str().unwrap(),
                "{name}"
            );
            let built = &c["build_plan_from_tool_calls_by_sdk"];
            let plan = build_plan_from_tool_calls(
                &calls,
                c["input"]["goal"].as_str(),
                None,
                c["input"]["default_mcp_name"].as_str(),
            )
            .unwrap();
            assert_eq!(
                plan.as_json(),
                built["httpx_request_body_plan_fragment"].as_str().unwrap(),
                "{name}"
            );
            let canon = armoriq_common::canonical::canonical_bytes(
                plan.as_json().as_bytes(),
                Profile::ArmorIq,
            )
            .unwrap();
            assert_eq!(
                String::from_utf8(canon).unwrap(),
                built["plan_canonical_json_by_sdk"].as_str().unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn hash_edge_cases() {
        let v = vectors("hash_tool_calls_edge_cases.json");
        let by = |case: &str| -> String {
            v["cases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["case"] == case)
                .unwrap()["sha256_hex_by_sdk"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(hash_tool_calls(&[]).unwrap(), by("empty_list"));
        for (case, args) in [
            ("args_none", "null"),
            ("args_empty_list_falsy", "[]"),
            ("tuple_value_becomes_array", r#"{"t":[1,2]}"#),
        ] {
            let tc = ToolCall::from_args_json("a__b", args).unwrap();
            assert_eq!(hash_tool_calls(&[tc]).unwrap(), by(case), "{case}");
        }
        let missing = tool_calls_from_json(r#"[{"name":"a__b"}]"#).unwrap();
        assert_eq!(hash_tool_calls(&missing).unwrap(), by("args_missing"));
        assert!(tool_calls_from_json(r#"[{"name":1,"args":{}}]"#).is_err());
        assert!(tool_calls_from_json(r#"[{"name":"a__b","args":[1]}]"#).is_err());
        assert!(tool_calls_from_json(r#"[{"args":{}}]"#).is_err());
    }

    #[test]
    fn tool_name_parsing_matches_the_sdk() {
        let v = vectors("tool_name_parsing.json");
        let cases = v["cases"].as_array().unwrap();
        assert!(!cases.is_empty());
        for c in cases {
            let name = c["name"].as_str().unwrap();
            let split = split_prefixed_tool_name(name).map(|(m, a)| json!([m, a]));
            assert_eq!(
                split.unwrap_or(Value::Null),
                c["split_prefixed_tool_name_by_sdk"],
                "{name}"
            );
            for (key, default) in [
                ("default_tool_name_parser(None)_by_sdk", None),
                (
                    "default_tool_name_parser('default-mcp')_by_sdk",
                    Some("default-mcp"),
                ),
            ] {
                let want = &c[key];
                let got = default_tool_name_parser(default)(name);
                if let Some(ok) = want.get("ok") {
                    let (m, a) = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(json!([m, a]), *ok, "{name}");
                } else {
                    assert_eq!(
                        got.unwrap_err().message(),
                        want["error"].as_str().unwrap(),
                        "{name}"
                    );
                }
            }
        }
    }

    use serde_json::json;

    #[test]
    fn capture_plan_validation_messages() {
        let v = vectors("capture_plan_validation.json");
        for c in v["cases"].as_array().unwrap() {
            let got = check_plan(Some(&c["plan"]));
            match c["result"].get("message") {
                Some(m) => assert_eq!(
                    got.unwrap_err().message(),
                    m.as_str().unwrap(),
                    "{}",
                    c["case"]
                ),
                None => assert!(got.is_ok(), "{}", c["case"]),
            }
        }
    }
}
