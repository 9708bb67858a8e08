//! Forwarding to MCP servers: one `tools/call` over streamable HTTP with the
//! official Rust MCP SDK (`rmcp`). A session per server is opened on first
//! use and kept; a transport failure drops it so the next call reconnects.

use crate::error::GatewayError;
use crate::mcp_http::TracedHttp;
use crate::telemetry::TraceContext;
use armoriq_common::yaml::McpServer;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, RequestMetaObject, Tool};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

type Session = Arc<RunningService<RoleClient, ()>>;

struct Server {
    cfg: McpServer,
    session: Mutex<Option<Session>>,
}

/// The configured MCP servers, by id.
pub struct McpPool {
    servers: HashMap<String, Arc<Server>>,
    timeout: Duration,
}

impl McpPool {
    /// A pool over `servers`; each call (connect + call) is bounded by `timeout`.
    pub fn new(servers: &[McpServer], timeout: Duration) -> Self {
        Self {
            servers: servers
                .iter()
                .map(|s| {
                    (
                        s.id.clone(),
                        Arc::new(Server {
                            cfg: s.clone(),
                            session: Mutex::new(None),
                        }),
                    )
                })
                .collect(),
            timeout,
        }
    }

    /// Whether `mcp` is configured.
    pub fn knows(&self, mcp: &str) -> bool {
        self.servers.contains_key(mcp)
    }

    /// Configured server ids.
    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<_> = self.servers.keys().cloned().collect();
        v.sort();
        v
    }

    /// Calls `tool` on `mcp` with `args`; the request carries `trace` (W3C
    /// trace context) in its `_meta` and HTTP headers.
    ///
    /// # Errors
    /// `NotFound` for an unknown server, `McpTimeout`, `McpUnavailable`.
    pub async fn call(
        &self,
        mcp: &str,
        tool: &str,
        args: serde_json::Map<String, serde_json::Value>,
        trace: Option<TraceContext>,
    ) -> Result<CallToolResult, GatewayError> {
        let server = self
            .servers
            .get(mcp)
            .ok_or_else(|| GatewayError::NotFound(format!("unknown MCP server {mcp:?}")))?;
        let mut params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
        if let Some(t) = trace {
            let mut meta = RequestMetaObject::new();
            meta.set_traceparent(t.traceparent);
            if let Some(ts) = t.tracestate {
                meta.set_tracestate(ts);
            }
            params.meta = Some(meta);
        }
        match tokio::time::timeout(self.timeout, server.call(params)).await {
            Ok(r) => r,
            Err(_) => {
                // A hung server: forget the session so the next call starts fresh.
                server.session.lock().await.take();
                Err(GatewayError::McpTimeout(format!(
                    "MCP server {mcp:?} did not answer within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
    }
}

impl McpPool {
    /// The server's tools (`tools/list`, every page).
    ///
    /// # Errors
    /// `NotFound` for an unknown server, `McpTimeout`, `McpUnavailable`.
    pub async fn list_tools(&self, mcp: &str) -> Result<Vec<Tool>, GatewayError> {
        let server = self
            .servers
            .get(mcp)
            .ok_or_else(|| GatewayError::NotFound(format!("unknown MCP server {mcp:?}")))?;
        match tokio::time::timeout(self.timeout, server.list_tools()).await {
            Ok(r) => r,
            Err(_) => {
                server.session.lock().await.take();
                Err(GatewayError::McpTimeout(format!(
                    "MCP server {mcp:?} did not list its tools within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
    }

    /// The configured servers, sorted by id.
    pub fn servers(&self) -> Vec<McpServer> {
        let mut v: Vec<_> = self.servers.values().map(|s| s.cfg.clone()).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
}

impl Server {
    /// A new session, opened in a task of its own: rmcp's session worker,
    /// spawned inside, must not inherit the span of the call that happened
    /// to open it (that span would never close, nor be exported).
    async fn connect(&self) -> Result<Session, GatewayError> {
        let server = self.cfg.clone();
        tokio::spawn(Self::open(server))
            .await
            .map_err(|e| GatewayError::Internal(format!("MCP session task: {e}")))?
    }

    async fn open(server: McpServer) -> Result<Session, GatewayError> {
        let mut cfg = StreamableHttpClientTransportConfig::with_uri(server.url.clone());
        match server.auth.header() {
            Some(("authorization", v)) => {
                cfg = cfg.auth_header(v.trim_start_matches("Bearer ").to_owned());
            }
            Some((name, v)) => {
                let mut h = HashMap::new();
                if let (Ok(n), Ok(v)) = (
                    axum::http::HeaderName::from_bytes(name.as_bytes()),
                    axum::http::HeaderValue::from_str(&v),
                ) {
                    h.insert(n, v);
                }
                cfg = cfg.custom_headers(h);
            }
            None => {}
        }
        // A pooled client with TCP_NODELAY: rmcp's default turns pooling off
        // (a stall from delayed ACKs when a body was left unread); with
        // Nagle off that stall cannot happen, and reusing the connection
        // saves a TCP handshake per call. No redirects: an MCP endpoint is
        // configured, not discovered.
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GatewayError::Internal(format!("HTTP client: {e}")))?;
        let transport = StreamableHttpClientTransport::with_client(TracedHttp(http), cfg);
        let running = ().serve(transport).await.map_err(|e| {
            GatewayError::McpUnavailable(format!(
                "cannot open an MCP session with {:?} at {}: {e}",
                server.id, server.url
            ))
        })?;
        Ok(Arc::new(running))
    }

    /// The open session, or a new one.
    async fn session(&self) -> Result<Session, GatewayError> {
        let mut slot = self.session.lock().await;
        match slot.as_ref() {
            Some(s) if !s.is_closed() => Ok(s.clone()),
            _ => {
                let s = self.connect().await?;
                *slot = Some(s.clone());
                Ok(s)
            }
        }
    }

    /// A transport failure on `session`: forget it (the next use reconnects).
    async fn failed(&self, session: &Session, e: impl std::fmt::Display) -> GatewayError {
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, session)) {
            slot.take();
        }
        GatewayError::McpUnavailable(format!("MCP server {:?} failed: {e}", self.cfg.id))
    }

    async fn call(&self, params: CallToolRequestParams) -> Result<CallToolResult, GatewayError> {
        let session = self.session().await?;
        match session.call_tool(params).await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.failed(&session, e).await),
        }
    }

    async fn list_tools(&self) -> Result<Vec<Tool>, GatewayError> {
        let session = self.session().await?;
        match session.list_all_tools().await {
            Ok(r) => Ok(r),
            Err(e) => Err(self.failed(&session, e).await),
        }
    }
}
