//! Helpers shared by the integration tests that start processes on loopback.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

/// Each test, once per backend: `mod NAME { fn sqlite(), fn postgres() }`
/// (the test file imports `Backend` from [`gateway`]).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident)*) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Backend::Sqlite);
            }
            #[test]
            fn postgres() {
                super::$name(super::Backend::Postgres);
            }
        }
    )*};
}

pub mod gateway;
pub mod http;
pub mod pg;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// The JSON object a scenario script printed last (`scripts/py`,
/// `scripts/ts`), failing the test with its output when there is none or
/// when it reports a `scenario_error`.
pub fn scenario_result(out: &std::process::Output, what: &str) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "{what}: no JSON result\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        v.get("scenario_error").is_none(),
        "{what} failed: {v}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

/// The reference Python (`ARMORIQ_PYTHON`, else the project's `.venv`), or
/// `None` (the caller skips) when absent outside CI; under `CI=true` its
/// absence fails the test.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("ARMORIQ_PYTHON").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../.venv/bin/python"
            ))
        },
        PathBuf::from,
    );
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "no Python reference environment at {} (CI=true): run `bash scripts/setup-python.sh`",
        p.display()
    );
    eprintln!("skipping: no Python at {}", p.display());
    None
}

/// A script of `scripts/py/`.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/py")).join(name)
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `port` accepts connections; fails if `child` exits first or
/// after 30 s.
pub fn wait_port(port: u16, what: &str, child: &mut Child) {
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited early: {st}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `armoriq` binary under test.
pub const ARMORIQ: &str = env!("CARGO_BIN_EXE_armoriq");

/// `armoriq keys create [--admin]` on `state`; the key it prints.
pub fn create_key(state: &std::path::Path, admin: bool) -> String {
    let mut c = std::process::Command::new(ARMORIQ);
    c.args(["keys", "create", "--state-dir"]).arg(state);
    if admin {
        c.arg("--admin");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `armoriq serve` on `state` with `config`, on two free loopback ports,
/// waited for until both listen: (the process, backend port, proxy port).
pub fn spawn_serve(state: &std::path::Path, config: &std::path::Path) -> (Proc, u16, u16) {
    let (backend, proxy) = (free_port(), free_port());
    let mut child = std::process::Command::new(ARMORIQ)
        .arg("serve")
        .arg("--state-dir")
        .arg(state)
        .arg("--config")
        .arg(config)
        .arg("--backend")
        .arg(format!("127.0.0.1:{backend}"))
        .arg("--proxy")
        .arg(format!("127.0.0.1:{proxy}"))
        .env("ARMORIQ_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    wait_port(backend, "armoriq serve", &mut child);
    wait_port(proxy, "armoriq serve", &mut child);
    (Proc(child), backend, proxy)
}

/// The official `mcp` SDK's streamable-HTTP server (`scripts/py/mcp_test_server.py`)
/// as MCP server `id` on `port`, waited for until it listens.
pub fn start_mcp(python: &std::path::Path, id: &str, port: u16) -> Proc {
    start_mcp_with(python, id, port, &[])
}

/// [`start_mcp`] with more arguments (`--trace-tool`).
pub fn start_mcp_with(python: &std::path::Path, id: &str, port: u16, extra: &[&str]) -> Proc {
    let mut child = std::process::Command::new(python)
        .arg(script("mcp_test_server.py"))
        .arg(id)
        .arg(port.to_string())
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port, "MCP test server", &mut child);
    Proc(child)
}
