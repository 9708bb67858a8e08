//! One connection to the verifier device and the bounded, ordered queue in
//! front of it.
//!
//! The device is one serial line answering one frame at a time, so a single
//! worker thread owns the connection and takes calls from a bounded channel
//! in order. A full queue refuses at once (503); a caller waits at most the
//! device timeout for its answer, queueing included (503 past it). A device
//! that goes silent is drained before the next call (a late answer must not
//! be taken for the next call's); one that closed its line is reopened for
//! the next call (TCP, serial) or stays down (QEMU: the emulator is gone).
//! Nothing is forwarded in any of these cases: the caller fails closed.

use super::spec::DeviceSpec;
use armoriq_device::{Device, DeviceError, QemuOptions};
use armoriq_frame::{DeviceInfo, RejectKind, Request, Response, VerifyRequest};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// One verify-with-receipt request, owned (it crosses to the worker).
#[derive(Clone, Debug)]
pub struct DeviceCall {
    /// The verifier's clock, seconds.
    pub now: i64,
    /// The compact JWS.
    pub token: String,
    /// The call's MCP server.
    pub mcp: String,
    /// The tool.
    pub action: String,
    /// The params JSON text.
    pub params: String,
    /// The step JSON text, as hashed into the plan.
    pub step: String,
    /// The step's index.
    pub index: u64,
    /// The plan's step count.
    pub tree_size: u64,
    /// The step's Merkle siblings.
    pub siblings: Vec<[u8; 32]>,
}

/// What the device said about a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceVerdict {
    /// Accepted, with its signed receipt.
    Accepted {
        /// The receipt (SPEC §7).
        receipt: Vec<u8>,
        /// The step's leaf hash, as the device computed it.
        leaf_hash: [u8; 32],
    },
    /// Refused: the kind (same classes as the host check) and the error.
    Refused {
        /// The class of the refusal.
        kind: RejectKind,
        /// The core error's name (`BadSignature`, `RootMismatch`, …).
        error: String,
    },
}

/// The device could not give a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceFailure {
    /// The queue in front of the device is full.
    QueueFull,
    /// No answer within the device timeout (queueing included).
    Timeout,
    /// The line is down, or the device answered with something else than a
    /// verdict (a frame error names it).
    Unreachable(String),
}

impl std::fmt::Display for DeviceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::QueueFull => f.write_str("device queue full"),
            Self::Timeout => f.write_str("no answer from the device within the timeout"),
            Self::Unreachable(m) => write!(f, "device unreachable: {m}"),
        }
    }
}

enum Job {
    /// A call to check.
    Verify {
        call: DeviceCall,
        reply: oneshot::Sender<Result<DeviceVerdict, DeviceFailure>>,
    },
    /// Its identity (`GET /ready`: the device answers, and is which one).
    Identify {
        reply: oneshot::Sender<Result<DeviceInfo, DeviceFailure>>,
    },
}

impl Job {
    fn is_closed(&self) -> bool {
        match self {
            Self::Verify { reply, .. } => reply.is_closed(),
            Self::Identify { reply } => reply.is_closed(),
        }
    }
}

/// The gateway's handle on the device: cheap to share, safe to call from
/// many requests at once.
#[derive(Debug)]
pub struct DeviceLink {
    tx: SyncSender<Job>,
    /// Calls queued and not yet taken by the worker.
    queued: Arc<AtomicUsize>,
    timeout: Duration,
    /// What the device reported when the gateway connected.
    pub info: DeviceInfo,
    /// Where it is.
    pub spec: DeviceSpec,
}

/// Opens the device named by `spec` (booting QEMU for `qemu:ELF`).
///
/// # Errors
/// The transport's error.
pub fn open(spec: &DeviceSpec, timeout: Duration) -> Result<Device, String> {
    let mut dev = match spec {
        DeviceSpec::Tcp(addr) => Device::connect_tcp(addr),
        DeviceSpec::Serial(path) => Device::open_serial(path),
        DeviceSpec::Qemu(elf) => {
            let opts = QemuOptions::for_elf(elf).map_err(|e| format!("{spec}: {e}"))?;
            Device::boot_qemu(elf, &opts)
        }
    }
    .map_err(|e| format!("{spec}: {e}"))?;
    dev.set_timeout(timeout)
        .map_err(|e| format!("{spec}: {e}"))?;
    Ok(dev)
}

/// Asks for the device's identity (protocol revision 2). A firmware that
/// predates it answers "unknown frame type": said so plainly.
///
/// # Errors
/// The transport's error, or a firmware without receipts.
pub fn device_info(dev: &mut Device) -> Result<DeviceInfo, String> {
    let answer = dev
        .request(&Request::DeviceInfo)
        .map_err(|e| format!("DeviceInfo: {e}"))?;
    match answer.response() {
        Response::DeviceInfo(i) => Ok(i),
        Response::FrameError(armoriq_frame::FrameErrorCode::UnknownType(t)) => Err(format!(
            "the device firmware does not know request type {t:#04x} (DeviceInfo): it predates \
             protocol revision 2 (signed receipts); flash a firmware built with feature `receipts`"
        )),
        other => Err(format!("DeviceInfo: unexpected answer {other:?}")),
    }
}

impl DeviceLink {
    /// Starts the worker over an opened device whose identity is `info`;
    /// at most `queue` calls wait for it.
    ///
    /// # Errors
    /// The worker thread cannot be started.
    pub fn start(
        dev: Device,
        spec: DeviceSpec,
        info: DeviceInfo,
        timeout: Duration,
        queue: usize,
    ) -> Result<Self, String> {
        let (tx, rx) = sync_channel(queue.max(1));
        let worker_spec = spec.clone();
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = queued.clone();
        std::thread::Builder::new()
            .name("armoriq-device".into())
            .spawn(move || worker(dev, &worker_spec, timeout, &rx, &taken))
            .map_err(|e| format!("device worker: {e}"))?;
        Ok(Self {
            tx,
            queued,
            timeout,
            info,
            spec,
        })
    }

    /// Queues `call` and waits for the device's verdict (at most the timeout).
    ///
    /// # Errors
    /// [`DeviceFailure`]: the caller must not forward the call.
    pub async fn verify(&self, call: DeviceCall) -> Result<DeviceVerdict, DeviceFailure> {
        let (reply, answer) = oneshot::channel();
        self.ask(Job::Verify { call, reply }, answer).await
    }

    /// Asks the device for its identity through the same queue (so it
    /// waits its turn behind the calls), at most the timeout.
    ///
    /// # Errors
    /// [`DeviceFailure`]: the device did not answer.
    pub async fn identify(&self) -> Result<DeviceInfo, DeviceFailure> {
        let (reply, answer) = oneshot::channel();
        self.ask(Job::Identify { reply }, answer).await
    }

    async fn ask<T>(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<T, DeviceFailure>>,
    ) -> Result<T, DeviceFailure> {
        // Counted before the send, so the worker never takes one uncounted.
        self.queued.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(e) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                return Err(match e {
                    TrySendError::Full(_) => DeviceFailure::QueueFull,
                    TrySendError::Disconnected(_) => {
                        DeviceFailure::Unreachable("device worker stopped".into())
                    }
                });
            }
        }
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(v)) => v,
            Ok(Err(_)) => Err(DeviceFailure::Unreachable("device worker stopped".into())),
            Err(_) => Err(DeviceFailure::Timeout),
        }
    }

    /// Calls waiting for the device now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// The connection's state, as the worker sees it.
enum Line {
    Up(Device),
    /// Silent past the timeout: drain late answers before the next request.
    Stale(Device),
    Down(String),
}

fn worker(
    dev: Device,
    spec: &DeviceSpec,
    timeout: Duration,
    rx: &Receiver<Job>,
    queued: &AtomicUsize,
) {
    let mut line = Line::Up(dev);
    while let Ok(job) = rx.recv() {
        queued.fetch_sub(1, Ordering::Relaxed);
        if job.is_closed() {
            continue; // its caller gave up (timeout): do not spend the device on it
        }
        line = match line {
            Line::Stale(mut d) => {
                drain(&mut d, timeout);
                Line::Up(d)
            }
            Line::Down(why) if !matches!(spec, DeviceSpec::Qemu(_)) => match open(spec, timeout) {
                Ok(d) => Line::Up(d),
                Err(e) => Line::Down(format!("{why}; reopening: {e}")),
            },
            other => other,
        };
        line = match job {
            Job::Verify { call, reply } => {
                let (next, result) = exchange(line, spec, |d| ask(d, &call));
                let _ = reply.send(result);
                next
            }
            Job::Identify { reply } => {
                let (next, result) = exchange(line, spec, identify);
                let _ = reply.send(result);
                next
            }
        };
    }
}

/// One request on the line as it stands; the line as it is after it.
fn exchange<T>(
    line: Line,
    spec: &DeviceSpec,
    f: impl FnOnce(&mut Device) -> Result<Result<T, DeviceFailure>, DeviceError>,
) -> (Line, Result<T, DeviceFailure>) {
    match line {
        Line::Up(mut d) => match f(&mut d) {
            Err(DeviceError::Timeout) => (Line::Stale(d), Err(DeviceFailure::Timeout)),
            Err(e @ (DeviceError::Io(_) | DeviceError::Closed)) => {
                let why = e.to_string();
                tracing::error!(device = %spec, %why, "device line down");
                (
                    Line::Down(why.clone()),
                    Err(DeviceFailure::Unreachable(why)),
                )
            }
            Err(e) => (
                Line::Stale(d),
                Err(DeviceFailure::Unreachable(e.to_string())),
            ),
            Ok(v) => (Line::Up(d), v),
        },
        Line::Down(why) => {
            let r = Err(DeviceFailure::Unreachable(why.clone()));
            (Line::Down(why), r)
        }
        Line::Stale(d) => (Line::Stale(d), Err(DeviceFailure::Timeout)),
    }
}

/// The device's identity, as a verdict of the line.
fn identify(d: &mut Device) -> Result<Result<DeviceInfo, DeviceFailure>, DeviceError> {
    let mut answer = d.request(&Request::DeviceInfo)?;
    // A late verdict on a call whose caller gave up is not this answer
    // (the drain before this request may have ended before it came).
    while matches!(
        answer.response(),
        Response::Receipted { .. } | Response::Rejected(_)
    ) {
        answer = d.read_response()?;
    }
    Ok(match answer.response() {
        Response::DeviceInfo(i) => Ok(i),
        other => Err(DeviceFailure::Unreachable(format!(
            "unexpected answer to DeviceInfo: {other:?}"
        ))),
    })
}

/// Reads and drops whatever the device still sends (a late answer).
fn drain(d: &mut Device, timeout: Duration) {
    let _ = d.set_timeout(Duration::from_millis(50));
    let until = Instant::now() + timeout;
    while Instant::now() < until && d.read_response().is_ok() {}
    let _ = d.set_timeout(timeout);
}

fn ask(
    d: &mut Device,
    c: &DeviceCall,
) -> Result<Result<DeviceVerdict, DeviceFailure>, DeviceError> {
    let req = VerifyRequest {
        now: c.now,
        token: c.token.as_bytes(),
        mcp: &c.mcp,
        action: &c.action,
        params: Some(c.params.as_bytes()),
        step: c.step.as_bytes(),
        index: c.index,
        tree_size: c.tree_size,
        siblings: &c.siblings,
    };
    let mut answer = d.request(&Request::VerifyReceipt(req))?;
    // A late answer to an identity probe whose caller gave up (`/ready`
    // while the device was stalled) is not this call's verdict: read on.
    while matches!(answer.response(), Response::DeviceInfo(_)) {
        answer = d.read_response()?;
    }
    Ok(match answer.response() {
        Response::Receipted {
            accepted, receipt, ..
        } => Ok(DeviceVerdict::Accepted {
            receipt: receipt.to_vec(),
            leaf_hash: accepted.leaf_hash,
        }),
        Response::Rejected(r) => Ok(DeviceVerdict::Refused {
            kind: r.kind,
            error: r.error.to_owned(),
        }),
        Response::FrameError(e) => Err(DeviceFailure::Unreachable(format!(
            "the device refused the frame: {} ({e:?})",
            e.name()
        ))),
        other => Err(DeviceFailure::Unreachable(format!(
            "unexpected answer {other:?}"
        ))),
    })
}
