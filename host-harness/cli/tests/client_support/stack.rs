//! The stack the end-to-end tests run against. Starting it lives here only,
//! so moving to an in-process gateway is a change to this file.

use super::{MCP, temp_dir};
use crate::common::{Proc, create_key, free_port, spawn_serve};
use armoriq_client::{ArmorIQClient, ClientOptions};
use std::path::{Path, PathBuf};

/// `armoriq serve` with `policy.json` (holds payments over 1000), the deny
/// list `weather-mcp.delete_records`, and a real MCP server behind it.
pub struct Stack {
    pub dir: PathBuf,
    pub mcp_port: u16,
    pub backend: u16,
    pub proxy: u16,
    pub key: String,
    pub _mcp: Proc,
    pub _gw: Proc,
}

impl Stack {
    pub fn start(py: &Path) -> Self {
        let mcp_port = free_port();
        let mcp = crate::common::start_mcp(py, MCP, mcp_port);
        let dir = temp_dir("client-e2e");
        std::fs::write(
            dir.join("armoriq.yaml"),
            format!(
                "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: weather-agent\n\
                 environment: sandbox\nmcp_servers:\n- id: {MCP}\n  url: http://127.0.0.1:{mcp_port}/mcp\n  auth: none\n\
                 policy:\n  allow: []\n  deny:\n  - {MCP}.delete_records\n"
            ),
        )
        .unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/policy.json"),
            dir.join("policy.json"),
        )
        .unwrap();
        let key = create_key(&dir.join("state"), false);
        let (gw, backend, proxy) = spawn_serve(&dir.join("state"), &dir.join("armoriq.yaml"));
        Self {
            dir,
            mcp_port,
            backend,
            proxy,
            key,
            _mcp: mcp,
            _gw: gw,
        }
    }

    pub fn options(&self) -> ClientOptions {
        ArmorIQClient::builder()
            .api_key(&self.key)
            .backend_endpoint(format!("http://127.0.0.1:{}", self.backend))
            .proxy_endpoint(format!("http://127.0.0.1:{}", self.proxy))
            .user_id("default")
            .agent_id("weather-agent")
            .credentials_path(self.dir.join("no-credentials.json"))
    }

    pub fn client(&self) -> ArmorIQClient {
        self.options().build().unwrap()
    }
}
