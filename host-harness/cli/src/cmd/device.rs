//! `armoriq device verify` and `armoriq device stats`: ask the verifier
//! firmware (in QEMU, on a serial line or over TCP) for a verdict.

use crate::cmd::{EXIT_BAD_INPUT, EXIT_REJECTED, fail};
use armoriq_common::proofs::StepProof;
use armoriq_core::hex;
use armoriq_device::{Device, QemuOptions};
use armoriq_frame::{Request, Response, VerifyRequest};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the device is.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// Boot this firmware ELF in qemu-system-arm and talk to its UART0.
    #[arg(long, value_name = "FIRMWARE_ELF")]
    qemu: Option<PathBuf>,
    /// A serial device or pty (put in raw mode with `stty -F PATH raw -echo`).
    #[arg(long, value_name = "PATH")]
    serial: Option<PathBuf>,
    /// A UART served over TCP, e.g. `127.0.0.1:4444` from `cargo run` in firmware/.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<String>,
}

/// QEMU settings for `--qemu`.
#[derive(clap::Args, Debug)]
pub struct QemuArgs {
    /// QEMU machine (default: from the ELF's ARM build attributes: mps2-an385 for
    /// Armv7-M, mps2-an386 for Armv7E-M, mps2-an505 for Armv8-M Mainline).
    #[arg(long)]
    machine: Option<String>,
    /// Run QEMU with `-icount shift=0` (deterministic tick counts).
    #[arg(long)]
    icount: bool,
    /// Write QEMU's stdout (the binary defmt log; decode with `defmt-print -e ELF`) here.
    #[arg(long, value_name = "FILE")]
    defmt_log: Option<PathBuf>,
}

/// `armoriq device …`
#[derive(clap::Subcommand, Debug)]
pub enum DeviceCommand {
    /// Send one invocation to the firmware and print its verdict: exit 0 and a
    /// JSON line when accepted, 1 and `error: <kind>: <error>` when rejected,
    /// 2 when the request could not be made or the device refused the frame.
    Verify {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        qemu: QemuArgs,
        /// The compact JWS token, or a file holding it.
        #[arg(long)]
        token: String,
        /// The call `{"mcp","action","params"?}` as JSON, or a file holding it.
        #[arg(long)]
        call: String,
        /// The step's JSON, or a file holding it.
        #[arg(long)]
        step: String,
        /// The step proof as `armoriq plan hash` prints it (`index`,
        /// `tree_size`, `siblings`), or a file holding it.
        #[arg(long)]
        proof: String,
        /// Verification time, seconds since the epoch (default: now).
        #[arg(long)]
        now: Option<i64>,
    },
    /// Print the firmware's counters (requests served, frame errors, stack use).
    Stats {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        qemu: QemuArgs,
    },
    /// Read the device's receipt key (`DeviceInfo`) and pin it in the
    /// gateway's state directory: `armoriq serve --device` then accepts only
    /// this device, and `armoriq logs --verify-receipts` checks receipts
    /// against its key. Prints the enrolled key and device id as JSON.
    Enroll {
        /// The device: `tcp:HOST:PORT`, `serial:PATH` or `qemu:ELF`.
        #[arg(long, value_name = "SPEC")]
        device: armoriq_gateway::device::DeviceSpec,
        /// The gateway's state directory. Default: $ARMORIQ_STATE_DIR or ~/.armoriq/gateway.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// Runs `armoriq device …`.
pub fn run(c: DeviceCommand) -> ExitCode {
    match c {
        DeviceCommand::Verify {
            target,
            qemu,
            token,
            call,
            step,
            proof,
            now,
        } => verify(&target, &qemu, &token, &call, &step, &proof, now),
        DeviceCommand::Stats { target, qemu } => stats(&target, &qemu),
        DeviceCommand::Enroll { device, state_dir } => enroll(&device, state_dir),
    }
}

/// `armoriq device enroll`.
fn enroll(spec: &armoriq_gateway::device::DeviceSpec, state_dir: Option<PathBuf>) -> ExitCode {
    use armoriq_gateway::device::{device_info, enrolled, open};
    let dir = state_dir.unwrap_or_else(armoriq_gateway::settings::default_state_dir);
    let info = open(spec, armoriq_device::DEFAULT_TIMEOUT).and_then(|mut d| device_info(&mut d));
    let info = match info {
        Ok(i) => i,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    match enrolled::save(&dir, &info) {
        Ok(e) => {
            println!(
                "{}",
                serde_json::json!({"alg": e.alg, "public_key": e.public_key,
                                   "device_id": e.device_id, "counter": info.counter,
                                   "boot": info.boot, "revision": info.revision,
                                   "file": enrolled::path(&dir)})
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, EXIT_BAD_INPUT),
    }
}

/// A file's contents when `arg` names one, else `arg` itself.
fn value_or_file(arg: &str) -> Result<Vec<u8>, String> {
    let p = Path::new(arg);
    if p.is_file() {
        std::fs::read(p).map_err(|e| format!("{arg}: {e}"))
    } else {
        Ok(arg.as_bytes().to_vec())
    }
}

fn connect(t: &Target, q: &QemuArgs) -> Result<Device, String> {
    if let Some(elf) = &t.qemu {
        // An explicit --machine wins; else the ELF's architecture picks it.
        let mut opts = match &q.machine {
            Some(m) => QemuOptions {
                machine: m.clone(),
                ..QemuOptions::default()
            },
            None => QemuOptions::for_elf(elf)?,
        };
        opts.icount = q.icount;
        opts.log.clone_from(&q.defmt_log);
        return Device::boot_qemu(elf, &opts).map_err(|e| e.to_string());
    }
    if let Some(p) = &t.serial {
        return Device::open_serial(p).map_err(|e| e.to_string());
    }
    match &t.tcp {
        Some(addr) => Device::connect_tcp(addr).map_err(|e| e.to_string()),
        None => Err("one of --qemu, --serial, --tcp is required".into()),
    }
}

struct Parsed {
    token: Vec<u8>,
    mcp: String,
    action: String,
    params: Option<Vec<u8>>,
    step: Vec<u8>,
    proof: StepProof,
    siblings: Vec<[u8; 32]>,
}

fn parse_inputs(token: &str, call: &str, step: &str, proof: &str) -> Result<Parsed, String> {
    let token = value_or_file(token)?.trim_ascii().to_vec();
    let call_text = value_or_file(call)?;
    let call_json: serde_json::Value =
        serde_json::from_slice(&call_text).map_err(|e| format!("--call: not JSON: {e}"))?;
    let field = |name: &str| {
        call_json[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("--call: {name:?} must be a string"))
    };
    let (mcp, action) = (field("mcp")?, field("action")?);
    // The params go to the device verbatim (the device compares them
    // canonically), so take their bytes from the text, not a re-serialization.
    let params = armoriq_core::json::Value::parse(&call_text, 64)
        .map_err(|e| format!("--call: {e}"))?
        .members()
        .find(|(k, _)| k.eq_str("params"))
        .map(|(_, v)| v.bytes().to_vec());
    let step = value_or_file(step)?.trim_ascii().to_vec();
    let proof: StepProof = serde_json::from_slice(&value_or_file(proof)?)
        .map_err(|e| format!("--proof: not a step proof: {e}"))?;
    let siblings = proof
        .siblings
        .iter()
        .map(|s| {
            hex::decode::<32>(s.as_bytes())
                .map_err(|_| format!("--proof: sibling {s:?} is not 64 hex characters"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Parsed {
        token,
        mcp,
        action,
        params,
        step,
        proof,
        siblings,
    })
}

fn hex32(h: &[u8; 32]) -> String {
    armoriq_common::proofs::hex32(h)
}

fn verify(
    target: &Target,
    qemu: &QemuArgs,
    token: &str,
    call: &str,
    step: &str,
    proof: &str,
    now: Option<i64>,
) -> ExitCode {
    let p = match parse_inputs(token, call, step, proof) {
        Ok(p) => p,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let now = now.unwrap_or_else(armoriq_common::time::now_secs);
    let mut dev = match connect(target, qemu) {
        Ok(d) => d,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let req = Request::Verify(VerifyRequest {
        now,
        token: &p.token,
        mcp: &p.mcp,
        action: &p.action,
        params: p.params.as_deref(),
        step: &p.step,
        index: p.proof.index,
        tree_size: p.proof.tree_size,
        siblings: &p.siblings,
    });
    let answer = match dev.request(&req) {
        Ok(a) => a,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    match answer.response() {
        Response::Accepted(a) => {
            println!(
                "{}",
                serde_json::json!({
                    "verdict": "accepted",
                    "index": a.index,
                    "step_count": a.step_count,
                    "exp": a.exp,
                    "plan_hash": hex32(&a.plan_hash),
                    "merkle_root": hex32(&a.merkle_root),
                    "leaf_hash": hex32(&a.leaf_hash),
                    "ticks": a.ticks,
                })
            );
            ExitCode::SUCCESS
        }
        Response::Rejected(r) => {
            eprintln!("error: {}: {}", r.kind.as_str(), r.error);
            ExitCode::from(EXIT_REJECTED)
        }
        Response::FrameError(code) => fail(
            format!("the device refused the request frame: {code:?}"),
            EXIT_BAD_INPUT,
        ),
        other => fail(format!("unexpected answer: {other:?}"), EXIT_BAD_INPUT),
    }
}

fn stats(target: &Target, qemu: &QemuArgs) -> ExitCode {
    let mut dev = match connect(target, qemu) {
        Ok(d) => d,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let answer = match dev.request(&Request::Stats) {
        Ok(a) => a,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    match answer.response() {
        Response::Stats(s) => {
            println!(
                "{}",
                serde_json::json!({
                    "served": s.served,
                    "frame_errors": s.frame_errors,
                    "stack_peak": s.stack_peak,
                    "stack_size": s.stack_size,
                    "keys": s.keys,
                })
            );
            ExitCode::SUCCESS
        }
        other => fail(format!("unexpected answer: {other:?}"), EXIT_BAD_INPUT),
    }
}
