//! A small MCP server in Rust: `get_weather` and `send_payment` over
//! streamable HTTP at `/mcp`, built on rmcp's server side.
//!
//! It is the upstream `armoriq demo` starts in its own process, so the demo
//! needs no Python and no network. It keeps a ledger of the payments it made,
//! so a caller can see how many times a payment really ran (an approval must
//! let a held payment through exactly once).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let server = armoriq_mcp_server::McpServer::start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("MCP at {}", server.url());
//! server.stop().await;
//! # Ok(()) }
//! ```

mod tools;

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use tools::{Payment, Tools};

/// A running server.
pub struct McpServer {
    addr: SocketAddr,
    ledger: Arc<Mutex<Vec<Payment>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl McpServer {
    /// Binds `addr` (port 0 picks a free one) and serves until [`McpServer::stop`].
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let ledger = Arc::new(Mutex::new(Vec::new()));
        let tools = Tools::new(ledger.clone());
        let service = StreamableHttpService::new(
            move || Ok(tools.clone()),
            Arc::new(LocalSessionManager::default()),
            // One JSON answer per request (no SSE stream), as a plain tool
            // server answers.
            StreamableHttpServerConfig::default()
                .with_sse_keep_alive(None)
                .with_json_response(true),
        );
        let app = axum::Router::new().nest_service("/mcp", service);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                eprintln!("armoriq-mcp-server: stopped: {e}");
            }
        });
        Ok(Self {
            addr,
            ledger,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its MCP endpoint, `http://ADDR/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// The payments made so far, in order.
    pub fn payments(&self) -> Vec<Payment> {
        match self.ledger.lock() {
            Ok(l) => l.clone(),
            Err(e) => e.into_inner().clone(),
        }
    }

    /// Stops serving; open sessions end with it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // A session's stream may keep the graceful shutdown waiting.
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
