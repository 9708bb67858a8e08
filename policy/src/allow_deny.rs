//! The simple `armoriq.yaml` lists (`policy: {allow, deny}` plus `hold`) as an
//! Armor Policy v2 document.

use crate::text::{Glob, is_glob};
use serde_json::{Value, json};

/// Translates `armoriq.yaml` policy lists into one v2 document (`layer`
/// `"agent"`, `policyId` `"armoriq.yaml"`, never expiring).
///
/// Mapping:
/// - Each ref (`"<server>.<tool>"`, or a glob with `*` / `**` / `?`) becomes a
///   rule key verbatim: the gateway evaluates `call.tool = "<mcp>.<action>"`,
///   so `"github.create_issue"` matches exactly that call and `"github.*"`
///   every action of the `github` server (`*` does not cross `/`).
/// - A key gets one unconditional statement. Its effect is `block` if the key
///   is in `deny`, else `hold` if it is in `hold`, else `allow`.
/// - An **exact** key also takes the strictest list whose ref matches it:
///   `allow: ["fs.write"]` with `deny: ["fs.*"]` blocks `fs.write`. Between
///   two overlapping globs the v2 rule applies: the longer key decides
///   (`allow: ["files.*"]`, `deny: ["*.rm"]` allows `files.rm`). List the
///   exact refs you mean to deny when globs overlap.
/// - Default (`defaults.tools`): `allow` when `allow` is empty, else `block`.
pub fn doc_from_allow_deny(allow: &[String], deny: &[String], hold: &[String]) -> Value {
    let lists: [(&str, &[String]); 3] = [("deny", deny), ("hold", hold), ("allow", allow)];
    let mut keys: Vec<&str> = Vec::new();
    for (_, refs) in lists {
        for r in refs {
            if !keys.contains(&r.as_str()) {
                keys.push(r);
            }
        }
    }
    let covers =
        |r: &str, key: &str| r == key || (!is_glob(key) && is_glob(r) && Glob::new(r).matches(key));
    let statements: Vec<Value> = keys
        .iter()
        .filter_map(|&key| {
            let (name, _) = lists
                .iter()
                .find(|(_, refs)| refs.iter().any(|r| covers(r, key)))?;
            let effect = match *name {
                "deny" => "block",
                other => other,
            };
            Some(json!({
                "id": format!("{name}:{key}"),
                "effect": effect,
                "match": {"tool": key, "order": 0},
                "conditions": [],
                "expiresAt": "never",
                "provenance": {"ruleKey": format!("tools.{key}"), "variant": 0},
            }))
        })
        .collect();
    json!({
        "policyId": "armoriq.yaml",
        "layer": "agent",
        "expiresAt": "never",
        "defaults": {"tools": if allow.is_empty() { "allow" } else { "block" }},
        "statements": statements,
    })
}
