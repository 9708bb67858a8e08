//! armoriq verifier firmware: reads request frames (`armoriq-frame`) from
//! UART0, runs armoriq-core's invocation check against the keys provisioned
//! at build time, and writes a response frame. Bad frames get an error frame;
//! the loop never stops. No heap; logs go out as defmt over semihosting.
#![no_std]
#![no_main]

mod deferred;
mod es256;
mod hw;
#[cfg(not(armoriq_receipt = "none"))]
mod receipt;
#[cfg(armoriq_p256 = "cm4")]
mod sha256;
mod vectors;

use armoriq_core::canon::Canonicalizer;
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::sig::Backend;
use armoriq_core::verify::{VerifiedStep, verify_invocation_with};
use armoriq_core::{Alg, Call, Error, ErrorKind, RustCrypto, StepProof};
use armoriq_frame::{
    self as frame, Accepted, FrameErrorCode, Progress, RECEIPT_LEN, Receiver, RejectKind, Rejected,
    Request, Response, Stats, VerifyRequest,
};
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use defmt_semihosting as _;
use embedded_io::{Read, ReadReady, Write};
use static_cell::{ConstStaticCell, StaticCell};

/// The keys and verifier settings from the trusted-key file (see build.rs).
mod provision {
    /// A public key's bytes.
    #[allow(dead_code)] // a one-algorithm build never sees the other variant
    pub enum Material {
        /// Uncompressed SEC1 P-256 point.
        Es256([u8; 65]),
        /// Raw Ed25519 key.
        Ed25519([u8; 32]),
    }
    /// One provisioned key.
    pub struct Provisioned {
        /// Its `kid`.
        pub kid: Option<&'static [u8]>,
        /// Its bytes.
        pub key: Material,
    }
    include!(concat!(env!("OUT_DIR"), "/provisioned.rs"));
}

/// Largest request payload accepted (token, call, step, proof).
const MAX_REQUEST: usize = 4096;
/// Receive buffer: one whole frame.
const FRAME_CAP: usize = MAX_REQUEST + frame::OVERHEAD;
/// Room for a token's decoded claims.
const CLAIMS_BUF: usize = 2048;
/// Nesting accepted in steps and params (the canonicalizer recurses once a level).
const DEPTH: usize = 8;
/// Object members held at once while canonicalizing.
const MEMBERS: usize = 64;
/// Polls of an idle UART after which a partial frame is dropped as truncated.
const IDLE_POLLS: u32 = 2_000_000;

static RX: ConstStaticCell<Receiver<FRAME_CAP>> = ConstStaticCell::new(Receiver::new());
static CANON: ConstStaticCell<Canonicalizer<DEPTH, MEMBERS>> =
    ConstStaticCell::new(Canonicalizer::new());
static CLAIMS: ConstStaticCell<[u8; CLAIMS_BUF]> = ConstStaticCell::new([0; CLAIMS_BUF]);
static KEYS: ConstStaticCell<Keys> = ConstStaticCell::new(Keys::new());
static FIRMWARE: StaticCell<Firmware> = StaticCell::new();

/// Key parsing by the P-256 backend ([`es256`]: p256-cm4 or RustCrypto p256)
/// and ed25519-dalek; signature checks go through [`deferred`], which runs
/// them from `main`'s frame, except ES256 with p256-cm4 ([`es256::INLINE`]),
/// verified where core asks for it. An algorithm whose feature (`es256`,
/// `eddsa`) is off is not linked: its keys and signatures are refused.
struct OnDevice;

impl Backend for OnDevice {
    type P256Key = deferred::P256Key;
    type Ed25519Key = deferred::Ed25519Key;

    /// Only the uncompressed form (`0x04 ‖ x ‖ y`, what build.rs provisions),
    /// each coordinate below p and the point on the curve ([`es256::key`]); with
    /// p256-cm4, pinned with its verify table, once, at boot ([`es256::key_pinned`]).
    fn p256_key(sec1: &[u8]) -> Result<Self::P256Key, armoriq_core::Error> {
        es256::key_pinned(sec1)
    }

    #[inline(never)]
    fn ed25519_key(raw: &[u8; 32]) -> Result<Self::Ed25519Key, armoriq_core::Error> {
        if cfg!(feature = "eddsa") {
            RustCrypto::ed25519_key(raw)
        } else {
            Err(armoriq_core::Error::KeyInvalid)
        }
    }

    fn verify_es256(
        key: &Self::P256Key,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), armoriq_core::Error> {
        if !cfg!(feature = "es256") {
            Err(armoriq_core::Error::BadSignature)
        } else if es256::INLINE {
            let sig = <&[u8; 64]>::try_from(sig).map_err(|_| armoriq_core::Error::BadSignature)?;
            es256::verify(key, msg, sig)
        } else {
            deferred::ask(deferred::KeyRef::Es256(key), msg, sig)
        }
    }

    fn verify_ed25519(
        key: &Self::Ed25519Key,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), armoriq_core::Error> {
        if cfg!(feature = "eddsa") {
            deferred::ask(deferred::KeyRef::Ed25519(key), msg, sig)
        } else {
            Err(armoriq_core::Error::BadSignature)
        }
    }
}

type Keys = KeySet<OnDevice, { provision::KEY_COUNT }>;

/// SysTick as a free-running 24-bit down-counter on the core clock. Under
/// QEMU `-icount shift=0` a tick is a fixed number of instructions (40 on
/// mps2-an386's 25 MHz clock), so the counts are deterministic.
struct Ticks(SYST);

impl Ticks {
    fn new(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        Self(syst)
    }

    fn now(&self) -> u32 {
        SYST::get_current()
    }

    fn since(&self, start: u32) -> u32 {
        start.wrapping_sub(SYST::get_current()) & 0x00FF_FFFF
    }
}

#[inline(never)]
fn provision_keys(keys: &mut Keys) -> Result<(), armoriq_core::Error> {
    for k in &provision::KEYS {
        match &k.key {
            provision::Material::Es256(sec1) => keys.add_es256(k.kid, sec1)?,
            provision::Material::Ed25519(raw) => keys.add_ed25519(k.kid, raw)?,
        }
    }
    Ok(())
}

const fn reject_kind(k: ErrorKind) -> RejectKind {
    match k {
        ErrorKind::IntentMismatch => RejectKind::IntentMismatch,
        ErrorKind::InvalidToken => RejectKind::InvalidToken,
        ErrorKind::TokenExpired => RejectKind::TokenExpired,
        _ => RejectKind::InvalidInput,
    }
}

/// The request handler.
struct Server {
    keys: &'static Keys,
    canon: &'static mut Canonicalizer<DEPTH, MEMBERS>,
    claims: &'static mut [u8; CLAIMS_BUF],
    ticks: Ticks,
    /// SysTick at the start of the check under way.
    t0: u32,
    /// The bare verify whose signature check was recorded, if that is what
    /// `main` is running (else an invocation check's).
    bare: Option<frame::Alg>,
    served: u32,
    frame_errors: u32,
    stack_size: u32,
    /// The request under way asked for a receipt.
    want_receipt: bool,
    /// SysTick ticks of the last check, taken where its measured region ends.
    check_ticks: u32,
    /// The device's receipt key and counter.
    #[cfg(not(armoriq_receipt = "none"))]
    signer: receipt::Signer,
}

/// An accepted check, with its receipt and the ticks signing took when one
/// was asked for.
type Concluded = Result<(VerifiedStep, Option<([u8; RECEIPT_LEN], u32)>), Error>;

/// The verify request in a request, and whether it asks for a receipt.
const fn verify_of<'r, 'a>(req: &'r Request<'a>) -> Option<(&'r VerifyRequest<'a>, bool)> {
    match req {
        Request::Verify(v) => Some((v, false)),
        Request::VerifyReceipt(v) => Some((v, true)),
        _ => None,
    }
}

impl Server {
    /// Reads bytes until a frame or a frame error is in, and handles it.
    /// Returns `true` when a signature check was recorded: `main` then runs
    /// it ([`deferred::run`]) and calls [`Server::finish`].
    #[inline(never)]
    fn serve(&mut self, uart: &mut hw::Uart, rx: &mut Receiver<FRAME_CAP>) -> bool {
        let resp = loop {
            match next_byte(uart, rx.is_partial()) {
                None => {
                    defmt::warn!("frame dropped: line idle after {=[u8]:x}", rx.frame());
                    if let Some(e) = rx.abort() {
                        self.frame_errors = self.frame_errors.wrapping_add(1);
                        break Response::FrameError(e.into()).into();
                    }
                }
                Some(b) => match rx.push(b) {
                    Progress::Pending => {}
                    Progress::Error(e) => {
                        defmt::warn!("bad frame: {}", e.name());
                        self.frame_errors = self.frame_errors.wrapping_add(1);
                        break Response::FrameError(e.into()).into();
                    }
                    Progress::Frame => break self.request(rx.frame()),
                },
            }
        };
        if matches!(resp, Handled::Signature) {
            return true;
        }
        self.respond(uart, &resp);
        false
    }

    /// A whole frame: a response, or a recorded signature check to run.
    fn request<'f>(&mut self, frame: &'f [u8]) -> Handled<'f> {
        match request_in(frame) {
            Ok(Request::Verify(req)) => self.begin_check(frame, &req, false),
            Ok(Request::VerifyReceipt(req)) => self.begin_check(frame, &req, true),
            Ok(Request::DeviceInfo) => Handled::Response(self.device_info()),
            Ok(Request::SignVector { key, msg }) => Handled::Response(self.sign_vector(&key, msg)),
            Ok(Request::BareVerify { alg, token }) => {
                if self.bare_begin(frame, alg, token) {
                    Handled::Signature
                } else {
                    Handled::Response(Response::BareVerify {
                        ok: false,
                        ticks: 0,
                    })
                }
            }
            Ok(Request::Stats) => Handled::Response(self.stats()),
            Err(e) => {
                defmt::warn!("bad request: {}", e.name());
                self.frame_errors = self.frame_errors.wrapping_add(1);
                Handled::Response(Response::FrameError(FrameErrorCode::from(e)))
            }
        }
    }

    /// Pass 1 of an invocation check: a verdict, or a recorded signature
    /// check for `main` to run.
    fn begin_check<'f>(
        &mut self,
        frame: &'f [u8],
        req: &VerifyRequest<'_>,
        want_receipt: bool,
    ) -> Handled<'f> {
        if want_receipt && cfg!(armoriq_receipt = "none") {
            // What a firmware without receipts is: one that predates them.
            return Handled::Response(Response::FrameError(FrameErrorCode::UnknownType(
                frame::TYPE_VERIFY_RECEIPT,
            )));
        }
        self.want_receipt = want_receipt;
        self.t0 = self.ticks.now();
        hw::armoriq_bench_start();
        deferred::begin(frame);
        let verdict = self.check(req);
        if deferred::recorded() {
            return Handled::Signature;
        }
        // Decided without a recorded signature check (rejected before it,
        // or ES256 verified inline): that is the verdict.
        let concluded = self.conclude(req, verdict);
        deferred::end();
        self.verdict(concluded)
    }

    /// After [`deferred::run`]: pass 2 of the check (or the bare verify's
    /// verdict), and the response.
    #[inline(never)]
    fn finish(&mut self, uart: &mut hw::Uart, rx: &Receiver<FRAME_CAP>) {
        if let Some(alg) = self.bare.take() {
            hw::armoriq_bench_end();
            let ticks = self.ticks.since(self.t0);
            let ok = deferred::take_verdict();
            // Per-request logs are `debug` (compiled out at the default
            // DEFMT_LOG=info: ~250 B of the M4F's 64 KiB; issue 28).
            defmt::debug!("bare {} verify ok={} ({} ticks)", alg_name(alg), ok, ticks);
            return self.respond(uart, &Response::BareVerify { ok, ticks }.into());
        }
        // The frame's bytes are unchanged since `serve` decoded them.
        let req = request_in(rx.frame());
        let resp = if let Ok(r) = &req
            && let Some((req, _)) = verify_of(r)
        {
            let verdict = self.check(req);
            let concluded = self.conclude(req, verdict);
            deferred::end();
            self.verdict(concluded)
        } else {
            // Cannot happen: `serve` decoded this frame as a verify request.
            hw::armoriq_bench_end();
            deferred::end();
            defmt::error!("recorded check without its request");
            Response::Rejected(Rejected {
                kind: RejectKind::InvalidInput,
                error: "Internal",
                ticks: 0,
            })
            .into()
        };
        self.respond(uart, &resp);
    }

    /// armoriq-core's invocation check of `v` (one pass; see [`deferred`]).
    #[inline(never)]
    fn check(&mut self, v: &VerifyRequest<'_>) -> Result<VerifiedStep, Error> {
        let call = Call {
            mcp: v.mcp,
            action: v.action,
            params: v.params,
        };
        let proof = StepProof {
            step: v.step,
            index: v.index,
            tree_size: v.tree_size,
            siblings: v.siblings,
        };
        let expect = Expect {
            now: v.now,
            leeway: provision::LEEWAY,
            audience: provision::AUDIENCE,
            issuer: provision::ISSUER,
        };
        verify_invocation_with(
            self.canon,
            v.token,
            &call,
            &proof,
            &expect,
            self.keys,
            self.claims,
        )
    }

    /// A finished check, with its receipt when one was asked for; ends the
    /// measured region (a receipt is part of the call's cost, so it is
    /// inside). A receipt that cannot be made (no `jti`) refuses the call.
    #[inline(never)]
    fn conclude(
        &mut self,
        req: &VerifyRequest<'_>,
        verdict: Result<VerifiedStep, Error>,
    ) -> Concluded {
        if !self.want_receipt {
            hw::armoriq_bench_end();
            self.check_ticks = self.ticks.since(self.t0);
            return verdict.map(|ok| (ok, None));
        }
        let signed = self.sign(req, verdict);
        hw::armoriq_bench_end();
        self.check_ticks = self.ticks.since(self.t0);
        signed
    }

    /// The receipt of an accepted call.
    #[cfg(not(armoriq_receipt = "none"))]
    fn sign(&mut self, req: &VerifyRequest<'_>, verdict: Result<VerifiedStep, Error>) -> Concluded {
        let ok = verdict?;
        let t = self.ticks.now();
        let r = self.signer.receipt(req, &ok, self.canon, self.claims)?;
        Ok((ok, Some((r, self.ticks.since(t)))))
    }

    /// Without receipts a receipt is never asked for ([`Server::begin_check`]).
    #[cfg(armoriq_receipt = "none")]
    fn sign(&mut self, _: &VerifyRequest<'_>, verdict: Result<VerifiedStep, Error>) -> Concluded {
        verdict.map(|ok| (ok, None))
    }

    /// The device's identity (revision 3), or "unknown type" without receipts.
    fn device_info(&self) -> Response<'static> {
        #[cfg(not(armoriq_receipt = "none"))]
        {
            Response::DeviceInfo(frame::DeviceInfo {
                revision: frame::PROTOCOL_REVISION,
                alg: receipt::ALG,
                public_key: self.signer.public_key,
                device_id: self.signer.device_id,
                counter: self.signer.signed,
                boot: self.signer.boot_number(),
            })
        }
        #[cfg(armoriq_receipt = "none")]
        {
            Response::FrameError(FrameErrorCode::UnknownType(frame::TYPE_DEVICE_INFO))
        }
    }

    /// An RFC 6979 signature with the request's key ([`vectors`]).
    fn sign_vector(&self, key: &[u8; 32], msg: &[u8]) -> Response<'static> {
        let t = self.ticks.now();
        vectors::sign(key, msg, || self.ticks.since(t))
    }

    /// The response to a finished check.
    fn verdict(&self, verdict: Concluded) -> Handled<'static> {
        let ticks = self.check_ticks;
        match verdict {
            Ok((ok, receipt)) => {
                defmt::debug!(
                    "accepted step {} of {} ({} ticks)",
                    ok.index,
                    ok.step_count,
                    ticks
                );
                let accepted = Accepted {
                    index: ok.index,
                    step_count: ok.step_count,
                    exp: ok.exp,
                    plan_hash: ok.plan_hash,
                    merkle_root: ok.merkle_root,
                    leaf_hash: ok.leaf_hash,
                    ticks,
                };
                match receipt {
                    Some((receipt, sign_ticks)) => {
                        Handled::Receipted(accepted, receipt, sign_ticks)
                    }
                    None => Response::Accepted(accepted).into(),
                }
            }
            Err(r) => {
                let kind = reject_kind(r.kind());
                defmt::warn!(
                    "rejected: {}: {} ({} ticks)",
                    kind.as_str(),
                    r.name(),
                    ticks
                );
                Response::Rejected(Rejected {
                    kind,
                    error: r.name(),
                    ticks,
                })
                .into()
            }
        }
    }

    /// Records the signature check of `token` with the first key of `alg`,
    /// the baseline the invocation check is compared with; `false` if there
    /// is nothing to check.
    #[inline(never)]
    fn bare_begin(&mut self, frame: &[u8], alg: frame::Alg, token: &[u8]) -> bool {
        let want = match alg {
            frame::Alg::Es256 => Alg::Es256,
            frame::Alg::EdDsa => Alg::EdDsa,
        };
        let Some(dot) = token.iter().rposition(|&b| b == b'.') else {
            return false;
        };
        let (msg, sig64) = token.split_at(dot);
        let mut sig = [0u8; 96];
        let Ok(sig) = armoriq_core::b64::decode(sig64.get(1..).unwrap_or_default(), &mut sig, 0)
        else {
            return false;
        };
        if sig.len() != 64 {
            return false;
        }
        if let Some((key, msg)) = vectors::vector_key(alg, msg) {
            let Ok(key) = key else { return false };
            deferred::record(frame, deferred::KeyRef::Es256(&key), msg, sig);
        } else {
            let Some(key) = self.keys.iter().map(|k| k.key()).find(|k| k.alg() == want) else {
                return false;
            };
            deferred::record(frame, key.into(), msg, sig);
        }
        self.bare = Some(alg);
        self.t0 = self.ticks.now();
        hw::armoriq_bench_start();
        true
    }

    fn stats(&self) -> Response<'static> {
        Response::Stats(Stats {
            served: self.served,
            frame_errors: self.frame_errors,
            stack_peak: hw::stack_peak(),
            stack_size: self.stack_size,
            keys: self.keys.len() as u32,
        })
    }

    fn respond(&mut self, uart: &mut hw::Uart, resp: &Handled<'_>) {
        match resp {
            Handled::Response(r) => send(uart, r),
            Handled::Receipted(accepted, receipt, sign_ticks) => send(
                uart,
                &Response::Receipted {
                    accepted: *accepted,
                    receipt,
                    sign_ticks: *sign_ticks,
                },
            ),
            Handled::Signature => return,
        }
        self.served = self.served.wrapping_add(1);
    }
}

/// The request in a frame that the receiver has checked (header, length
/// and CRC: [`Progress::Frame`]).
fn request_in(frame: &[u8]) -> Result<Request<'_>, frame::DecodeError> {
    let h = frame::parse_header::<MAX_REQUEST>(frame)?;
    let payload = frame
        .get(frame::HEADER_LEN..frame::HEADER_LEN + h.len)
        .unwrap_or_default();
    frame::request_payload(h.ty, payload)
}

/// What a frame came to.
// No heap to box the response in: it is built once per frame, in `serve`.
#[allow(clippy::large_enum_variant)]
enum Handled<'f> {
    Response(Response<'f>),
    /// An accepted call's verdict and receipt (the answer borrows it when it
    /// is sent).
    Receipted(Accepted, [u8; RECEIPT_LEN], u32),
    /// A signature check was recorded.
    Signature,
}

impl<'f> From<Response<'f>> for Handled<'f> {
    fn from(r: Response<'f>) -> Self {
        Self::Response(r)
    }
}

const fn alg_name(alg: frame::Alg) -> &'static str {
    match alg {
        frame::Alg::Es256 => Alg::Es256.name(),
        frame::Alg::EdDsa => Alg::EdDsa.name(),
    }
}

#[inline(never)]
fn send(uart: &mut hw::Uart, resp: &Response<'_>) {
    // The largest answer: a verdict with its receipt (335 B).
    let mut out = [0u8; 336];
    match frame::encode_response(resp, &mut out) {
        Ok(n) => {
            let Ok(()) = uart.write_all(out.get(..n).unwrap_or_default());
            let Ok(()) = uart.flush();
        }
        Err(_) => defmt::error!("response does not encode"),
    }
}

/// The next byte; `None` when a frame is partly in and the line stays idle.
fn next_byte(uart: &mut hw::Uart, partial: bool) -> Option<u8> {
    if partial {
        let mut polls = IDLE_POLLS;
        loop {
            let Ok(ready) = uart.read_ready();
            if ready {
                break;
            }
            polls -= 1;
            if polls == 0 {
                return None;
            }
        }
    }
    let mut b = [0u8; 1];
    let Ok(_) = uart.read(&mut b);
    Some(b[0])
}

/// Everything `main` works with, in a static: its frame is kept small because
/// the signature checks run from there (see [`deferred`]).
struct Firmware {
    server: Server,
    uart: hw::Uart,
    rx: &'static mut Receiver<FRAME_CAP>,
}

/// Boot: keys, peripherals, statics. Out of line so that none of it stays in
/// `main`'s frame.
#[inline(never)]
fn setup(stack_size: u32) -> &'static mut Firmware {
    let keys = KEYS.take();
    if let Err(e) = provision_keys(keys) {
        defmt::error!("provisioned key rejected: {}", e.name());
        semihosting::process::exit(3)
    }
    let keys: &Keys = keys;
    #[cfg(not(armoriq_receipt = "none"))]
    let Some(signer) = receipt::Signer::boot() else {
        defmt::error!("device receipt key rejected, or the receipt counter cannot go on");
        semihosting::process::exit(3)
    };
    let Some(cp) = cortex_m::Peripherals::take() else {
        semihosting::process::exit(4)
    };
    let Some(uart) = hw::Uart::take() else {
        semihosting::process::exit(4)
    };
    defmt::info!(
        "armoriq-firmware: {} trusted keys, stack {} B, serving UART0",
        keys.len(),
        stack_size
    );
    let server = Server {
        keys,
        canon: CANON.take(),
        claims: CLAIMS.take(),
        ticks: Ticks::new(cp.SYST),
        t0: 0,
        bare: None,
        served: 0,
        frame_errors: 0,
        stack_size,
        want_receipt: false,
        check_ticks: 0,
        #[cfg(not(armoriq_receipt = "none"))]
        signer,
    };
    FIRMWARE.init(Firmware {
        server,
        uart,
        rx: RX.take(),
    })
}

#[entry]
fn main() -> ! {
    let stack_size = hw::paint_stack();
    let Firmware { server, uart, rx } = setup(stack_size);
    loop {
        if server.serve(uart, rx) {
            // The deepest call of all, from here: nothing else is on the stack.
            deferred::run(rx.frame());
            server.finish(uart, rx);
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    defmt::error!("panic");
    semihosting::process::exit(101)
}
