//! The hardware-checked gateway end to end: the unmodified official Python
//! SDK (`scripts/py/sdk_scenarios.py`) against `armoriq serve --device
//! qemu:ELF` (the verifier firmware booted in QEMU by the gateway) with a
//! real MCP server (`scripts/py/mcp_test_server.py`).
//!
//! * The worked example passes, with the device's receipt, verdict and
//!   latency in its audit row; calls per second are printed.
//! * `armoriq logs --verify-receipts` passes on the run's log, and fails on
//!   a copy with one receipt altered and on one with one row removed.
//! * The device killed mid-run: 503 (the SDK raises), an audit row, nothing
//!   forwarded.
//! * A gateway whose IAP key is not the one provisioned on the device: the
//!   host accepts, the device refuses, the call is refused (InvalidToken) and
//!   the row says host and device disagree.
//! * A device too slow (its QEMU stopped): 503 past `--device-timeout-ms`,
//!   and 503 at once when the queue is full; once it runs again, the late
//!   answers are drained and the next call gets its own verdict. `GET
//!   /ready` names the enrolled device while it answers, 503 with the
//!   device's check failed while it does not, and 200 again after.
//! * A device other than the enrolled one: `serve` refuses to start.
//! * A firmware without receipts (protocol revision 1, as every firmware
//!   before issue 19): `enroll` names the cause at once, and a
//!   verify-with-receipt request gets a frame error, not silence.
//!
//! The image is `$ARMORIQ_FIRMWARE_GATEWAY_ELF` (or the same line of
//! `firmware/target/firmware-elf.env`, written by scripts/firmware-ci.sh):
//! the M4F firmware with the development EdDSA key and the gateway's issuer.
//! Without it, or without QEMU or the Python SDK: `SKIPPED`, and a failure
//! under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use armoriq_gateway::store::SqliteStore;
use armoriq_gateway::store::{AuditCursor, AuditRow, AuditStore};
use common::http::{http, json_of};
use common::{ARMORIQ, Proc, create_key, free_port, python, script, start_mcp, wait_port};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const MCP: &str = "weather-mcp";

fn skip(msg: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and {msg}: the device gateway tests cannot run"
    );
    eprintln!("SKIPPED: {msg}");
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The gateway firmware image, from the environment or firmware-elf.env.
fn gateway_elf() -> Option<PathBuf> {
    elf_named("ARMORIQ_FIRMWARE_GATEWAY_ELF")
}

/// An image named by the variable `var`, from the environment or firmware-elf.env.
fn elf_named(var: &str) -> Option<PathBuf> {
    let from_env = std::env::var_os(var).filter(|v| !v.is_empty());
    let from_file = || {
        let text = std::fs::read_to_string(repo().join("firmware/target/firmware-elf.env")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{var}=")).map(str::to_owned))
            .map(Into::into)
    };
    let elf: PathBuf = from_env.map(PathBuf::from).or_else(from_file)?;
    elf.is_file().then_some(elf)
}

fn ready() -> Option<(PathBuf, PathBuf)> {
    if !armoriq_device::qemu_available(Path::new("qemu-system-arm")) {
        skip("qemu-system-arm is not installed (scripts/firmware-ci.sh installs it)");
        return None;
    }
    let Some(elf) = gateway_elf() else {
        skip("no ARMORIQ_FIRMWARE_GATEWAY_ELF (run scripts/firmware-ci.sh)");
        return None;
    };
    let py = python()?;
    Some((elf, py))
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A gateway on its own state directory, checking calls on the device.
struct DeviceGateway {
    dir: PathBuf,
    elf: PathBuf,
    py: PathBuf,
    backend: u16,
    proxy: u16,
    key: String,
    proc: Option<Proc>,
    /// More `serve` flags.
    extra: Vec<String>,
}

impl DeviceGateway {
    /// State, keys, `armoriq.yaml`; the development IAP key (the one the
    /// image trusts) when `dev_key`; the device enrolled.
    fn new(elf: &Path, py: &Path, mcp_port: u16, dev_key: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("armoriq-dev-e2e-{}", uuid::Uuid::new_v4()));
        let state = dir.join("state");
        std::fs::create_dir_all(&state).unwrap();
        if dev_key {
            let k = state.join("iap-ed25519.pem");
            std::fs::copy(repo().join("firmware/keys/dev/ed25519.pem"), &k).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
        let yaml = format!(
            "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: weather-agent\n\
             environment: sandbox\nmcp_servers:\n- id: {MCP}\n  url: http://127.0.0.1:{mcp_port}/mcp\n  auth: none\n\
             policy:\n  allow: []\n  deny: []\n"
        );
        std::fs::write(dir.join("armoriq.yaml"), yaml).unwrap();
        let key = create_key(&state, false);
        let g = Self {
            dir,
            elf: elf.to_owned(),
            py: py.to_owned(),
            backend: free_port(),
            proxy: free_port(),
            key,
            proc: None,
            extra: Vec::new(),
        };
        let out = g.armoriq(&["device", "enroll", "--device", &g.spec(), "--state-dir"]);
        assert!(out.status.success(), "enroll: {out:?}");
        let enrolled: Value = serde_json::from_slice(&out.stdout).unwrap();
        // ES256 receipts (issue 28): an uncompressed P-256 point.
        assert_eq!(enrolled["alg"], "ES256", "{enrolled}");
        assert_eq!(enrolled["public_key"].as_str().unwrap().len(), 130);
        g
    }

    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn spec(&self) -> String {
        format!("qemu:{}", self.elf.display())
    }

    /// `armoriq ARGS… <state dir>` (the last argument is the state dir).
    fn armoriq(&self, args: &[&str]) -> std::process::Output {
        Command::new(ARMORIQ)
            .args(args)
            .arg(self.state())
            .output()
            .unwrap()
    }

    fn serve_command(&self) -> Command {
        let mut c = Command::new(ARMORIQ);
        c.arg("serve")
            .arg("--state-dir")
            .arg(self.state())
            .arg("--config")
            .arg(self.dir.join("armoriq.yaml"))
            .arg("--backend")
            .arg(format!("127.0.0.1:{}", self.backend))
            .arg("--proxy")
            .arg(format!("127.0.0.1:{}", self.proxy))
            .args(["--device", &self.spec()])
            .args(if self.extra.is_empty() {
                vec!["--device-timeout-ms".to_owned(), "3000".to_owned()]
            } else {
                self.extra.clone()
            })
            .env("ARMORIQ_LOG", "warn");
        c
    }

    fn start(&mut self) {
        let mut child = self
            .serve_command()
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        wait_port(self.backend, "armoriq serve --device", &mut child);
        wait_port(self.proxy, "armoriq serve --device", &mut child);
        self.proc = Some(Proc(child));
    }

    fn stop(&mut self) {
        self.proc.take();
    }

    fn scenario(&self, name: &str) -> Value {
        Self::result(name, &self.spawn_scenario(name).wait_with_output().unwrap())
    }

    fn spawn_scenario(&self, name: &str) -> std::process::Child {
        Command::new(&self.py)
            .arg("-W")
            .arg("ignore")
            .arg(script("sdk_scenarios.py"))
            .arg(name)
            .env("ARMORIQ_API_KEY", &self.key)
            .env(
                "ARMORIQ_BACKEND_URL",
                format!("http://127.0.0.1:{}", self.backend),
            )
            .env("PROXY_ENDPOINT", format!("http://127.0.0.1:{}", self.proxy))
            .env("OTEL_SDK_DISABLED", "true")
            .env("ARMORIQ_OBSERVABILITY", "off")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn result(name: &str, out: &std::process::Output) -> Value {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|_| {
                panic!(
                    "scenario {name}: no JSON\nstdout: {stdout}\nstderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert!(v.get("scenario_error").is_none(), "scenario {name}: {v}");
        v
    }

    fn rows(&self) -> Vec<AuditRow> {
        let store = SqliteStore::open(&self.state().join("armoriq.db")).unwrap();
        block_on(store.audit_page(AuditCursor::START, 100_000))
            .unwrap()
            .rows
    }

    /// `GET /ready` on the backend: (status, body).
    fn ready(&self) -> (u16, Value) {
        let (s, b) = http(self.backend, "GET", "/ready", &[], b"").unwrap();
        (s, json_of(&b))
    }

    /// The QEMU the gateway booted: its child process.
    fn qemu_pid(&self) -> u32 {
        let pid = self.proc.as_ref().unwrap().0.id();
        let mut kids = Vec::new();
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
            let p = task.unwrap().path().join("children");
            let text = std::fs::read_to_string(p).unwrap_or_default();
            kids.extend(text.split_whitespace().map(|s| s.parse::<u32>().unwrap()));
        }
        let qemu: Vec<u32> = kids
            .into_iter()
            .filter(|k| {
                std::fs::read_to_string(format!("/proc/{k}/cmdline"))
                    .is_ok_and(|c| c.contains("qemu-system-arm"))
            })
            .collect();
        assert_eq!(qemu.len(), 1, "one QEMU child of armoriq serve");
        qemu[0]
    }

    /// `logs --verify-receipts --json` on a state directory.
    fn verify_receipts(state: &Path) -> (bool, Value) {
        let out = Command::new(ARMORIQ)
            .args(["logs", "--verify-receipts", "--json", "--state-dir"])
            .arg(state)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!("verify-receipts: {}", String::from_utf8_lossy(&out.stderr))
        });
        (out.status.success(), v)
    }

    /// A copy of the (stopped) gateway's state with `sql` applied.
    fn tampered_copy(&self, name: &str, sql: &str) -> PathBuf {
        let copy = self.dir.join(name);
        std::fs::create_dir_all(&copy).unwrap();
        for f in std::fs::read_dir(self.state()).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), copy.join(f.file_name())).unwrap();
        }
        let st = Command::new(&self.py)
            .arg("-c")
            .arg(
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
                 n=c.execute(sys.argv[2]).rowcount; c.commit(); assert n==1, n",
            )
            .arg(copy.join("armoriq.db"))
            .arg(sql)
            .status()
            .unwrap();
        assert!(st.success(), "{sql}");
        copy
    }
}

impl Drop for DeviceGateway {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn invokes(rows: &[AuditRow]) -> Vec<&AuditRow> {
    rows.iter().filter(|r| r.route == "invoke").collect()
}

#[test]
fn official_sdk_through_the_device_checked_gateway() {
    let Some((elf, py)) = ready() else { return };
    let mcp_port = free_port();
    let _mcp = start_mcp(&py, MCP, mcp_port);
    let mut g = DeviceGateway::new(&elf, &py, mcp_port, true);
    g.start();

    // The worked example, with its receipt.
    let v = g.scenario("worked_example");
    assert_eq!(v["status"], "success", "{v}");
    assert!(v["text"].as_str().unwrap().contains("Boston"), "{v}");
    let rows = g.rows();
    let row = *invokes(&rows).last().unwrap();
    assert_eq!(row.outcome, "allowed");
    // A version-2 receipt (SPEC §7): 130-byte body, 64-byte ES256 signature.
    assert_eq!(row.receipt.as_deref().map(str::len), Some(2 * 194));
    assert!(
        row.device_verdict
            .as_deref()
            .unwrap()
            .starts_with("accepted #"),
        "{row:?}"
    );
    assert!(row.device_latency_us.unwrap() > 0);

    // Calls per second through gateway + device (sequential, one SDK client).
    let t = g.scenario("throughput");
    eprintln!(
        "throughput through armoriq serve --device qemu: {:.1} calls/s ({} calls in {:.2} s)",
        t["calls_per_second"].as_f64().unwrap(),
        t["calls"],
        t["seconds"].as_f64().unwrap()
    );
    // Four SDK clients at once: the device's queue serialises them.
    let kids: Vec<_> = (0..4).map(|_| g.spawn_scenario("throughput")).collect();
    let runs: Vec<Value> = kids
        .into_iter()
        .map(|k| DeviceGateway::result("throughput", &k.wait_with_output().unwrap()))
        .collect();
    let calls: u64 = runs.iter().map(|r| r["calls"].as_u64().unwrap()).sum();
    let secs = runs
        .iter()
        .map(|r| r["seconds"].as_f64().unwrap())
        .fold(0.0, f64::max);
    eprintln!(
        "throughput with 4 concurrent SDK clients: {:.1} calls/s ({calls} calls in {secs:.2} s)",
        calls as f64 / secs
    );
    let latencies: Vec<i64> = invokes(&g.rows())
        .iter()
        .filter_map(|r| r.device_latency_us)
        .collect();
    let mut sorted = latencies.clone();
    sorted.sort_unstable();
    eprintln!(
        "device round trip (audit rows): median {} µs over {} calls",
        sorted[sorted.len() / 2],
        sorted.len()
    );

    // The run's log verifies.
    let (ok, report) = DeviceGateway::verify_receipts(&g.state());
    assert!(ok, "{report}");
    let verified = report["verified"].as_u64().unwrap();
    assert!(verified >= 42 + 4 * 41, "{report}");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);

    // The device killed mid-run: 503, an audit row, nothing forwarded.
    let qemu = g.qemu_pid();
    let st = Command::new("kill")
        .args(["-9", &qemu.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let gone = g.scenario("invoke_raising");
    assert_eq!(gone["exception"], "MCPInvocationException", "{gone}");
    assert!(
        gone["message"].as_str().unwrap().contains("device"),
        "{gone}"
    );
    let rows = g.rows();
    let row = *invokes(&rows).last().unwrap();
    assert_eq!(row.outcome, "device_unavailable", "{row:?}");
    assert!(row.receipt.is_none());
    assert!(
        row.device_verdict
            .as_deref()
            .unwrap()
            .starts_with("unreachable"),
        "{row:?}"
    );
    // Still 503 on the next call (a QEMU that is gone is not rebooted).
    assert_eq!(
        g.scenario("invoke_raising")["exception"],
        "MCPInvocationException"
    );
    g.stop();

    // One receipt altered (a byte of its body), one row removed: both found.
    let mid = invokes(&g.rows())
        .iter()
        .filter(|r| r.receipt.is_some())
        .nth(10)
        .map(|r| r.id)
        .unwrap();
    let altered = g.tampered_copy(
        "altered",
        &format!(
            "UPDATE audit SET receipt = substr(receipt, 1, 100) || \
             (CASE substr(receipt, 101, 1) WHEN '0' THEN '1' ELSE '0' END) || \
             substr(receipt, 102) WHERE id = {mid}"
        ),
    );
    let (ok, report) = DeviceGateway::verify_receipts(&altered);
    assert!(!ok, "{report}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["row"], mid);
    assert!(
        findings[0]["problem"]
            .as_str()
            .unwrap()
            .starts_with("BadSignature"),
        "{report}"
    );
    let removed = g.tampered_copy("removed", &format!("DELETE FROM audit WHERE id = {mid}"));
    let (ok, report) = DeviceGateway::verify_receipts(&removed);
    assert!(!ok, "{report}");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert!(
        findings[0]["problem"]
            .as_str()
            .unwrap()
            .starts_with("ReceiptCounterGap"),
        "{report}"
    );
}

#[test]
fn the_device_is_the_last_word_and_must_be_the_enrolled_one() {
    let Some((elf, py)) = ready() else { return };
    let mcp_port = free_port();
    let _mcp = start_mcp(&py, MCP, mcp_port);
    // The gateway's own fresh IAP key: the device does not trust it.
    let mut g = DeviceGateway::new(&elf, &py, mcp_port, false);
    g.extra = ["--device-timeout-ms", "8000", "--device-queue", "1"]
        .map(str::to_owned)
        .to_vec();
    g.start();
    let v = g.scenario("invoke_raising");
    assert_eq!(v["exception"], "InvalidTokenException", "{v}");
    let rows = g.rows();
    let row = *invokes(&rows).last().unwrap();
    assert_eq!(row.outcome, "invalid", "{row:?}");
    assert!(row.receipt.is_none());
    assert_eq!(
        row.device_verdict.as_deref(),
        Some("refused: InvalidToken: BadSignature")
    );
    assert!(
        row.reason.as_deref().unwrap().contains("disagree"),
        "{row:?}"
    );

    // Too slow: the device's QEMU stopped. Three calls at once on a queue of
    // one: one waits on the line, one in the queue, one is refused at once;
    // the two that waited get 503 past the timeout. Nothing is forwarded.
    let qemu = g.qemu_pid().to_string();
    let signal = |sig: &str| {
        let st = Command::new("kill").args([sig, &qemu]).status().unwrap();
        assert!(st.success());
    };
    // Ready: the device answers and is the enrolled one.
    let (st, v) = g.ready();
    assert_eq!(st, 200, "{v}");
    let enrolled: Value =
        serde_json::from_slice(&std::fs::read(g.state().join("device-key.json")).unwrap()).unwrap();
    assert_eq!(v["checks"]["device"]["ok"], true, "{v}");
    assert_eq!(
        v["checks"]["device"]["device_id"], enrolled["device_id"],
        "{v}"
    );
    let before = g.rows().len();
    signal("-STOP");
    let kids: Vec<_> = (0..3).map(|_| g.spawn_scenario("invoke_raising")).collect();
    let results: Vec<Value> = kids
        .into_iter()
        .map(|k| DeviceGateway::result("invoke_raising", &k.wait_with_output().unwrap()))
        .collect();
    // Not ready while it does not answer (the probe waits its turn on the
    // line, at most the device timeout), the store's check still passing.
    let (st, ready) = g.ready();
    signal("-CONT");
    assert_eq!(st, 503, "{ready}");
    assert_eq!(ready["checks"]["device"]["ok"], false, "{ready}");
    assert!(ready["checks"]["device"]["error"].is_string(), "{ready}");
    assert_eq!(ready["checks"]["store"]["ok"], true, "{ready}");
    for v in &results {
        assert_eq!(v["exception"], "MCPInvocationException", "{v}");
    }
    let rows = g.rows();
    let mut verdicts: Vec<&str> = invokes(&rows[before..])
        .iter()
        .map(|r| {
            assert_eq!(r.outcome, "device_unavailable", "{r:?}");
            r.device_verdict.as_deref().unwrap()
        })
        .collect();
    verdicts.sort_unstable();
    assert_eq!(verdicts, ["queue_full", "timeout", "timeout"], "{rows:?}");
    // Running again: late answers drained, the next call gets its own verdict.
    let v = g.scenario("invoke_raising");
    assert_eq!(v["exception"], "InvalidTokenException", "{v}");
    let (st, v) = g.ready();
    assert_eq!(st, 200, "ready again: {v}");
    g.stop();

    // Another enrolled key: serve refuses the device and does not start.
    let enrolled = g.state().join("device-key.json");
    let mut e: Value = serde_json::from_slice(&std::fs::read(&enrolled).unwrap()).unwrap();
    e["public_key"] = Value::String(format!("04{}", "11".repeat(64)));
    std::fs::write(&enrolled, e.to_string()).unwrap();
    let out = g.serve_command().output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not the enrolled one"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_firmware_without_receipts_is_named_not_waited_for() {
    if !armoriq_device::qemu_available(Path::new("qemu-system-arm")) {
        return skip("qemu-system-arm is not installed");
    }
    let Some(elf) = elf_named("ARMORIQ_FIRMWARE_NO_RECEIPTS_ELF") else {
        return skip("no ARMORIQ_FIRMWARE_NO_RECEIPTS_ELF (run scripts/firmware-ci.sh)");
    };
    let dir = std::env::temp_dir().join(format!("armoriq-dev-old-{}", uuid::Uuid::new_v4()));
    let t0 = std::time::Instant::now();
    let out = Command::new(ARMORIQ)
        .args(["device", "enroll", "--device"])
        .arg(format!("qemu:{}", elf.display()))
        .arg("--state-dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("predates protocol revision 2"), "{err}");
    assert!(t0.elapsed() < std::time::Duration::from_secs(20));
    assert!(!dir.join("device-key.json").exists());

    let mut dev = armoriq_device::Device::boot_qemu(
        &elf,
        &armoriq_device::QemuOptions::for_elf(&elf).unwrap(),
    )
    .unwrap();
    let req = armoriq_frame::VerifyRequest {
        now: 0,
        token: b"a.b.c",
        mcp: "m",
        action: "a",
        params: None,
        step: b"{}",
        index: 0,
        tree_size: 1,
        siblings: &[],
    };
    let answer = dev
        .request(&armoriq_frame::Request::VerifyReceipt(req))
        .unwrap();
    assert_eq!(
        answer.response(),
        armoriq_frame::Response::FrameError(armoriq_frame::FrameErrorCode::UnknownType(
            armoriq_frame::TYPE_VERIFY_RECEIPT
        ))
    );
    // And it keeps serving the revision-1 requests.
    assert!(matches!(
        dev.request(&armoriq_frame::Request::Stats)
            .unwrap()
            .response(),
        armoriq_frame::Response::Stats(_)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
