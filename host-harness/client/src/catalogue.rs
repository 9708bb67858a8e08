//! The MCP catalogue and preflight: `list_mcps`, `get_mcp_tool_schemas`,
//! `refine`, with the official SDK's requests and errors.

use crate::client::ArmorIQClient;
use crate::error::{ArmorIqError, Result};
use serde_json::{Value, json};
use std::time::Duration;

impl ArmorIQClient {
    /// `list_mcps()`: `GET {backend}/mcp/my-servers`, the `data` list.
    ///
    /// # Errors
    /// `McpInvocation` on ≥ 400 or a transport error.
    pub async fn list_mcps(&self) -> Result<Vec<Value>> {
        let v = self.get_data("/mcp/my-servers", "list_mcps failed").await?;
        Ok(v.get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// `get_mcp_tool_schemas(mcp)`: `GET {backend}/mcp/tools/{mcp}`, the
    /// OpenAI-compatible schemas in `data.tools`.
    ///
    /// # Errors
    /// `McpInvocation` on ≥ 400 or a transport error.
    pub async fn get_mcp_tool_schemas(&self, mcp: &str) -> Result<Vec<Value>> {
        let path = format!("/mcp/tools/{}", crate::util::urlenc(mcp));
        let v = self
            .get_data(&path, &format!("get_mcp_tool_schemas({mcp}) failed"))
            .await?;
        Ok(v.pointer("/data/tools")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    async fn get_data(&self, path: &str, what: &str) -> Result<Value> {
        let url = format!("{}{path}", self.backend_endpoint());
        let err = |m: String, status| ArmorIqError::McpInvocation {
            message: format!("{what}: {m}"),
            mcp: String::new(),
            action: String::new(),
            status,
        };
        let r = self
            .http()
            .send("GET", &url, &[self.key_header()], None, None)
            .await
            .map_err(|e| err(e.message, None))?;
        if r.status >= 400 {
            return Err(err(format!("{} {}", r.status, r.text), Some(r.status)));
        }
        Ok(r.json().unwrap_or_else(|| json!({})))
    }

    /// `refine(req)`: `POST {backend}/iap/sdk/preflight` with the request's
    /// `agent_id`, `user_prompt`, `tool_calls`, `authority_snapshot`. Fails
    /// closed: a transport error, a non-2xx answer or one without `decision`
    /// is an error, never an accepted plan.
    ///
    /// # Errors
    /// `Configuration` (the SDK's base `ArmorIQException`) with the SDK's
    /// messages.
    pub async fn refine(&self, req: &Value) -> Result<Value> {
        let field = |k: &str| req.get(k).cloned().unwrap_or(Value::Null);
        let body = json!({
            "agent_id": field("agent_id"), "user_prompt": field("user_prompt"),
            "tool_calls": field("tool_calls"), "authority_snapshot": field("authority_snapshot"),
        })
        .to_string();
        let r = self
            .post_json("/iap/sdk/preflight", &body, Some(Duration::from_secs(30)))
            .await
            .map_err(|e| {
                ArmorIqError::Configuration(format!(
                    "pap refine() transport error (fail-closed): {}",
                    e.message
                ))
            })?;
        if !(200..300).contains(&r.status) {
            return Err(ArmorIqError::Configuration(format!(
                "pap refine() failed (fail-closed): HTTP {}: {}",
                r.status, r.text
            )));
        }
        let data = r
            .json()
            .filter(|d| d.get("decision").is_some_and(|x| !x.is_null() && x != ""))
            .ok_or_else(|| {
                ArmorIqError::Configuration(
                    "pap refine() got malformed response (fail-closed)".into(),
                )
            })?;
        let g = |k: &str, d: Value| data.get(k).cloned().unwrap_or(d);
        Ok(json!({
            "decision": g("decision", Value::Null), "intent_id": g("intent_id", Value::Null),
            "violations": g("violations", json!([])),
            "offending_interfaces": g("offending_interfaces", json!([])),
            "predicate_fails": g("predicate_fails", json!([])), "meta": g("meta", json!({})),
        }))
    }
}
