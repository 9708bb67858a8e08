//! The MCP catalogue: `GET /mcp/my-servers` (the configured servers, what
//! the official SDK's `list_mcps` reads under `data`) and
//! `GET /mcp/tools/{mcp}` (OpenAI-compatible tool schemas built from the
//! server's real `tools/list`, what `get_mcp_tool_schemas` reads under
//! `data.tools`). Tool lists are cached per server for [`TOOLS_TTL`]; an
//! unknown server is 404, an unreachable one 502/504 (the SDK raises
//! `MCPInvocationException` for each). Credentials in the configuration
//! never appear in an answer.

use crate::AppState;
use crate::auth::ApiKey;
use crate::error::{GatewayError, GwResult};
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use rmcp::model::Tool;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a server's tool list is served from the cache.
pub const TOOLS_TTL: Duration = Duration::from_secs(30);

/// Tool schemas per server, each with the time it was listed.
#[derive(Default)]
pub struct ToolCache {
    map: RwLock<HashMap<String, (Instant, Value)>>,
}

impl ToolCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, mcp: &str) -> Option<Value> {
        let m = self.map.read().ok()?;
        let (at, v) = m.get(mcp)?;
        (at.elapsed() < TOOLS_TTL).then(|| v.clone())
    }

    /// Drops every cached tool list.
    pub fn clear(&self) {
        if let Ok(mut m) = self.map.write() {
            m.clear();
        }
    }

    fn put(&self, mcp: &str, tools: Value) {
        if let Ok(mut m) = self.map.write() {
            m.insert(mcp.to_owned(), (Instant::now(), tools));
        }
    }
}

/// One MCP tool as an OpenAI function tool:
/// `{"type":"function","function":{"name","description","parameters"}}`.
pub fn openai_schema(t: &Tool) -> Value {
    let mut parameters = Value::Object((*t.input_schema).clone());
    if parameters.get("type").is_none() {
        parameters["type"] = json!("object");
    }
    json!({
        "type": "function",
        "function": {
            "name": t.name,
            "description": t.description.as_deref().or(t.title.as_deref()).unwrap_or_default(),
            "parameters": parameters,
        }
    })
}

/// `GET /mcp/my-servers`.
pub async fn my_servers(State(st): State<AppState>, _: ApiKey) -> GwResult<Json<Value>> {
    let data: Vec<Value> = st
        .mcp
        .servers()
        .into_iter()
        .map(|s| {
            json!({"id": s.id, "name": s.id, "mcpId": s.id, "url": s.url,
                   "description": s.description, "transport": "streamable-http",
                   "status": "active"})
        })
        .collect();
    Ok(Json(json!({"success": true, "data": data})))
}

/// The server's tools as OpenAI schemas, through the cache.
///
/// # Errors
/// `NotFound` (unknown server), `McpUnavailable`, `McpTimeout`.
pub async fn tool_schemas(st: &AppState, mcp: &str) -> GwResult<Value> {
    if !st.mcp.knows(mcp) {
        return Err(GatewayError::NotFound(format!(
            "unknown MCP server {mcp:?} (configured: {})",
            st.mcp.ids().join(", ")
        )));
    }
    if let Some(v) = st.tools.get(mcp) {
        return Ok(v);
    }
    let tools = st.mcp.list_tools(mcp).await?;
    let v = Value::Array(tools.iter().map(openai_schema).collect());
    st.tools.put(mcp, v.clone());
    Ok(v)
}

/// `GET /mcp/tools/{mcp}`.
pub async fn tools(
    State(st): State<AppState>,
    _: ApiKey,
    Path(mcp): Path<String>,
) -> GwResult<Json<Value>> {
    let tools = tool_schemas(&st, &mcp).await?;
    Ok(Json(
        json!({"success": true, "data": {"mcpId": mcp, "name": mcp, "tools": tools}}),
    ))
}

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/mcp/my-servers", get(my_servers))
        .route("/mcp/tools/{mcp}", get(tools))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn mcp_tools_become_openai_functions() {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]});
        let t = Tool::new(
            "get_weather",
            "Current weather for a city.",
            Arc::new(schema.as_object().unwrap().clone()),
        );
        let v = openai_schema(&t);
        assert_eq!(v["type"], "function");
        assert_eq!(v["function"]["name"], "get_weather");
        assert_eq!(v["function"]["description"], "Current weather for a city.");
        assert_eq!(v["function"]["parameters"], schema);
        let cache = ToolCache::new();
        assert!(cache.get("m").is_none());
        cache.put("m", json!([v]));
        assert_eq!(
            cache.get("m").unwrap()[0]["function"]["name"],
            "get_weather"
        );
    }
}
