//! armoriq verifier firmware: reads request frames (`armoriq-frame`) from
//! UART0, runs armoriq-core's invocation check against the keys provisioned
//! at build time, and writes a response frame. Bad frames get an error frame;
//! the loop never stops. No heap; logs go out as defmt over semihosting.
#![no_std]
#![no_main]

mod hw;

use armoriq_core::canon::Canonicalizer;
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::sig::Backend;
use armoriq_core::verify::verify_invocation_with;
use armoriq_core::{Alg, Call, ErrorKind, RustCrypto, StepProof};
use armoriq_frame::{
    self as frame, Accepted, FrameErrorCode, Progress, Receiver, RejectKind, Rejected, Request,
    Response, Stats, VerifyRequest,
};
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use defmt_semihosting as _;
use embedded_io::{Read, ReadReady, Write};
use static_cell::ConstStaticCell;

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

/// RustCrypto (p256, ed25519-dalek), with each algorithm's verification kept
/// out of line: inlined together, their frames add up (7.4 KiB of stack for
/// the pair against ~5.4 KiB for either alone). An algorithm whose feature
/// (`es256`, `eddsa`) is off is not linked: its keys and signatures are refused.
struct OnDevice;

impl Backend for OnDevice {
    type P256Key = <RustCrypto as Backend>::P256Key;
    type Ed25519Key = <RustCrypto as Backend>::Ed25519Key;

    #[inline(never)]
    fn p256_key(sec1: &[u8]) -> Result<Self::P256Key, armoriq_core::Error> {
        if cfg!(feature = "es256") {
            RustCrypto::p256_key(sec1)
        } else {
            Err(armoriq_core::Error::KeyInvalid)
        }
    }

    #[inline(never)]
    fn ed25519_key(raw: &[u8; 32]) -> Result<Self::Ed25519Key, armoriq_core::Error> {
        if cfg!(feature = "eddsa") {
            RustCrypto::ed25519_key(raw)
        } else {
            Err(armoriq_core::Error::KeyInvalid)
        }
    }

    #[inline(never)]
    fn verify_es256(
        key: &Self::P256Key,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), armoriq_core::Error> {
        if cfg!(feature = "es256") {
            RustCrypto::verify_es256(key, msg, sig)
        } else {
            Err(armoriq_core::Error::BadSignature)
        }
    }

    #[inline(never)]
    fn verify_ed25519(
        key: &Self::Ed25519Key,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), armoriq_core::Error> {
        if cfg!(feature = "eddsa") {
            RustCrypto::verify_ed25519(key, msg, sig)
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

struct Verifier<'k> {
    keys: &'k Keys,
    canon: &'static mut Canonicalizer<DEPTH, MEMBERS>,
    claims: &'static mut [u8; CLAIMS_BUF],
    ticks: Ticks,
}

impl Verifier<'_> {
    #[inline(never)]
    fn verify(&mut self, v: &VerifyRequest<'_>) -> Response<'static> {
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
        let t0 = self.ticks.now();
        hw::armoriq_bench_start();
        let verdict = verify_invocation_with(
            self.canon,
            v.token,
            &call,
            &proof,
            &expect,
            self.keys,
            self.claims,
        );
        hw::armoriq_bench_end();
        let ticks = self.ticks.since(t0);
        match verdict {
            Ok(ok) => {
                defmt::info!(
                    "accepted step {} of {} ({} ticks)",
                    ok.index,
                    ok.step_count,
                    ticks
                );
                Response::Accepted(Accepted {
                    index: ok.index,
                    step_count: ok.step_count,
                    exp: ok.exp,
                    plan_hash: ok.plan_hash,
                    merkle_root: ok.merkle_root,
                    leaf_hash: ok.leaf_hash,
                    ticks,
                })
            }
            Err(r) => {
                let kind = reject_kind(r.kind);
                defmt::warn!(
                    "rejected: {}: {} ({} ticks)",
                    kind.as_str(),
                    r.error.name(),
                    ticks
                );
                Response::Rejected(Rejected {
                    kind,
                    error: r.error.name(),
                    ticks,
                })
            }
        }
    }

    /// Only the signature check of `token` with the first key of `alg`: the
    /// baseline the invocation check is compared with.
    #[inline(never)]
    fn bare_verify(&mut self, alg: frame::Alg, token: &[u8]) -> Response<'static> {
        let want = match alg {
            frame::Alg::Es256 => Alg::Es256,
            frame::Alg::EdDsa => Alg::EdDsa,
        };
        let fail = Response::BareVerify {
            ok: false,
            ticks: 0,
        };
        let Some(dot) = token.iter().rposition(|&b| b == b'.') else {
            return fail;
        };
        let (msg, sig64) = token.split_at(dot);
        let mut sig = [0u8; 96];
        let Ok(sig) = armoriq_core::b64::decode(sig64.get(1..).unwrap_or_default(), &mut sig, 0)
        else {
            return fail;
        };
        let Some(key) = self.keys.iter().map(|k| k.key()).find(|k| k.alg() == want) else {
            return fail;
        };
        let t0 = self.ticks.now();
        hw::armoriq_bench_start();
        let ok = key.verify(msg, sig).is_ok();
        hw::armoriq_bench_end();
        let ticks = self.ticks.since(t0);
        defmt::info!("bare {} verify ok={} ({} ticks)", want.name(), ok, ticks);
        Response::BareVerify { ok, ticks }
    }
}

#[inline(never)]
fn send(uart: &mut hw::Uart, resp: &Response<'_>) {
    let mut out = [0u8; 192];
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

#[entry]
fn main() -> ! {
    let stack_size = hw::paint_stack();
    let keys = KEYS.take();
    if let Err(e) = provision_keys(keys) {
        defmt::error!("provisioned key rejected: {}", e.name());
        semihosting::process::exit(3)
    }
    let keys: &Keys = keys;
    let Some(cp) = cortex_m::Peripherals::take() else {
        semihosting::process::exit(4)
    };
    let Some(mut uart) = hw::Uart::take() else {
        semihosting::process::exit(4)
    };
    let rx = RX.take();
    let mut v = Verifier {
        keys,
        canon: CANON.take(),
        claims: CLAIMS.take(),
        ticks: Ticks::new(cp.SYST),
    };
    defmt::info!(
        "armoriq-firmware: {} trusted keys, stack {} B, serving UART0",
        keys.len(),
        stack_size
    );
    let (mut served, mut frame_errors) = (0u32, 0u32);
    loop {
        let resp = match next_byte(&mut uart, rx.is_partial()) {
            None => {
                defmt::warn!("frame dropped: line idle after {=[u8]:x}", rx.frame());
                rx.abort().map(|e| {
                    frame_errors = frame_errors.wrapping_add(1);
                    Response::FrameError(e.into())
                })
            }
            Some(b) => match rx.push(b) {
                Progress::Pending => None,
                Progress::Error(e) => {
                    defmt::warn!("bad frame: {}", e.name());
                    frame_errors = frame_errors.wrapping_add(1);
                    Some(Response::FrameError(e.into()))
                }
                Progress::Frame => Some(match frame::decode_request::<MAX_REQUEST>(rx.frame()) {
                    Ok((Request::Verify(req), _)) => v.verify(&req),
                    Ok((Request::BareVerify { alg, token }, _)) => v.bare_verify(alg, token),
                    Ok((Request::Stats, _)) => Response::Stats(Stats {
                        served,
                        frame_errors,
                        stack_peak: hw::stack_peak(),
                        stack_size,
                        keys: keys.len() as u32,
                    }),
                    Err(e) => {
                        defmt::warn!("bad request: {}", e.name());
                        frame_errors = frame_errors.wrapping_add(1);
                        Response::FrameError(FrameErrorCode::from(e))
                    }
                }),
            },
        };
        if let Some(resp) = resp {
            send(&mut uart, &resp);
            served = served.wrapping_add(1);
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    defmt::error!("panic");
    semihosting::process::exit(101)
}
