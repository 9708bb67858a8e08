//! Signature checks run from the top of the stack.
//!
//! ed25519-dalek's strict verify takes ~7.8 KiB of stack by itself (a 5.4 KiB
//! frame with two NAF arrays and two lookup tables, plus the table
//! construction under it). Where armoriq-core asks for it, inside the JWS
//! check under the request handler, ~1.8 KiB more are in use, which put the
//! peak at ~9.6 KiB. So the handler does not verify the signature where core
//! asks for it; an invocation check is run as:
//!
//! (ES256 with p256-cm4, ~2.2 KiB of stack, is verified where core asks for
//! it, in one pass: see [`crate::es256::INLINE`].)
//!
//! 1. **Record.** `verify_invocation_with` runs with the backend in record
//!    mode. When core asks for the signature check, the backend keeps the key
//!    (a copy), the signing input's place in the receive buffer and the
//!    signature, and answers "bad signature", which ends the pass. If core
//!    rejected the token before it got to the signature, that is the verdict.
//! 2. **Verify.** Back in `main`, with nothing else on the stack, [`run`]
//!    verifies the recorded signature.
//! 3. **Answer.** `verify_invocation_with` runs again on the same bytes with
//!    the backend in answer mode: the one check it asks for gets the verdict
//!    of step 2 if the key, the message and the signature are the recorded
//!    ones, and "bad signature" otherwise (and for any further check).
//!
//! Core's order is kept: nothing after the signature (claims, step, call) is
//! looked at before the signature has verified. The bare verify of the
//! benchmark records its key, message and signature directly and is run by
//! [`run`] too.

use armoriq_core::keys::PublicKey;
use armoriq_core::sig::Backend;
use armoriq_core::{Error, RustCrypto};
use core::cell::RefCell;
use core::ops::Range;
use cortex_m::interrupt::{self, Mutex};

/// A parsed P-256 key.
pub type P256Key = crate::es256::P256Key;
/// A parsed Ed25519 key.
pub type Ed25519Key = <RustCrypto as Backend>::Ed25519Key;

/// The key of a signature check, borrowed.
#[derive(Clone, Copy)]
pub enum KeyRef<'a> {
    /// P-256.
    Es256(&'a P256Key),
    /// Ed25519.
    Ed25519(&'a Ed25519Key),
}

impl<'a, B> From<&'a PublicKey<B>> for KeyRef<'a>
where
    B: Backend<P256Key = P256Key, Ed25519Key = Ed25519Key>,
{
    fn from(k: &'a PublicKey<B>) -> Self {
        match k {
            PublicKey::Es256(k) => Self::Es256(k),
            PublicKey::EdDsa(k) => Self::Ed25519(k),
        }
    }
}

/// A recorded key. `None` first and an explicit tag, so that the job starts
/// as all zeros and sits in `.bss` (without the tag, `None` can be a niche
/// value of a key's fields, which put the job in `.data`: 284 B of flash).
#[repr(u8)]
enum Key {
    None,
    Es256(P256Key),
    Ed25519(Ed25519Key),
}

impl Key {
    fn is(&self, k: KeyRef<'_>) -> bool {
        match (self, k) {
            (Self::Es256(a), KeyRef::Es256(b)) => cfg!(feature = "es256") && a == b,
            (Self::Ed25519(a), KeyRef::Ed25519(b)) => cfg!(feature = "eddsa") && a == b,
            _ => false,
        }
    }
}

/// Where a check is. (No data in the variants: `Idle` is 0, so the job is
/// all zeros.)
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No check under way: every signature is refused.
    Idle,
    /// Pass 1: record the first signature check, refuse it.
    Record,
    /// Pass 2: answer the recorded check with `Job::verified`, once.
    Answer,
}

struct Job {
    mode: Mode,
    /// What [`run`] found.
    verified: bool,
    /// Addresses of the receive buffer's frame: the message is located in it.
    frame: Range<usize>,
    key: Key,
    /// The message's place in the frame.
    msg: Range<usize>,
    sig: [u8; 64],
}

static JOB: Mutex<RefCell<Job>> = Mutex::new(RefCell::new(Job {
    mode: Mode::Idle,
    verified: false,
    frame: 0..0,
    key: Key::None,
    msg: 0..0,
    sig: [0; 64],
}));

fn addrs(b: &[u8]) -> Range<usize> {
    let start = b.as_ptr().addr();
    start..start.wrapping_add(b.len())
}

/// `msg`'s place in `frame` (both address ranges), if it lies in it.
fn place(frame: &Range<usize>, msg: &[u8]) -> Option<Range<usize>> {
    let m = addrs(msg);
    (m.start >= frame.start && m.end <= frame.end && m.start <= m.end)
        .then(|| m.start - frame.start..m.end - frame.start)
}

fn with_job<R>(fail: R, f: impl FnOnce(&mut Job) -> R) -> R {
    interrupt::free(|cs| match JOB.borrow(cs).try_borrow_mut() {
        Ok(mut job) => f(&mut job),
        Err(_) => fail,
    })
}

/// Starts pass 1 of a check whose token lies in `frame`.
pub fn begin(frame: &[u8]) {
    with_job((), |job| {
        job.mode = Mode::Record;
        job.verified = false;
        job.frame = addrs(frame);
        job.key = Key::None;
    });
}

/// Whether pass 1 recorded a signature check (then `main` calls [`run`]).
pub fn recorded() -> bool {
    with_job(false, |job| {
        job.mode == Mode::Record && !matches!(job.key, Key::None)
    })
}

/// Records a check of `sig` over `msg` (in `frame`) with `key` directly: the
/// bare verify of the benchmark.
pub fn record(frame: &[u8], key: KeyRef<'_>, msg: &[u8], sig: &[u8]) {
    begin(frame);
    let _ = ask(key, msg, sig);
}

/// The backend's signature check (see the module documentation).
///
/// # Errors
/// [`Error::BadSignature`] unless this is pass 2 and the recorded check, with
/// the same inputs, verified.
pub fn ask(key: KeyRef<'_>, msg: &[u8], sig: &[u8]) -> Result<(), Error> {
    let Ok(sig) = <[u8; 64]>::try_from(sig) else {
        // Both algorithms' signatures are 64 bytes; core passes no other.
        return Err(Error::BadSignature);
    };
    with_job(Err(Error::BadSignature), |job| {
        let Some(msg) = place(&job.frame, msg) else {
            return Err(Error::BadSignature);
        };
        match job.mode {
            Mode::Record if matches!(job.key, Key::None) => {
                job.key = match key {
                    KeyRef::Es256(k) => Key::Es256(*k),
                    KeyRef::Ed25519(k) => Key::Ed25519(*k),
                };
                job.msg = msg;
                job.sig = sig;
                Err(Error::BadSignature)
            }
            Mode::Answer => {
                job.mode = Mode::Idle;
                let same = job.key.is(key) && job.msg == msg && job.sig == sig;
                if same && job.verified {
                    Ok(())
                } else {
                    Err(Error::BadSignature)
                }
            }
            Mode::Record | Mode::Idle => Err(Error::BadSignature),
        }
    })
}

/// Verifies the recorded signature (its message in `frame`, which must be the
/// frame of [`begin`]) and arms pass 2 with the verdict. Called from `main`,
/// so the cryptography has (almost) the whole stack.
#[inline(never)]
pub fn run(frame: &[u8]) {
    with_job((), |job| {
        if job.mode != Mode::Record {
            return;
        }
        let msg = if job.frame == addrs(frame) {
            frame.get(job.msg.clone())
        } else {
            None
        };
        let ok = match (&job.key, msg) {
            (Key::Es256(k), Some(m)) => verify_es256_now(k, m, &job.sig).is_ok(),
            (Key::Ed25519(k), Some(m)) => verify_ed25519_now(k, m, &job.sig).is_ok(),
            _ => false,
        };
        job.verified = ok;
        job.mode = Mode::Answer;
    });
}

/// The verdict [`run`] reached for a directly [`record`]ed check; ends it.
pub fn take_verdict() -> bool {
    with_job(false, |job| {
        let ok = job.mode == Mode::Answer && job.verified;
        job.mode = Mode::Idle;
        job.key = Key::None;
        ok
    })
}

/// Ends a check.
pub fn end() {
    with_job((), |job| {
        job.mode = Mode::Idle;
        job.key = Key::None;
    });
}

/// ES256 verify, out of line (inlined together, the two algorithms' frames
/// add up). Refused when the `es256` feature is off.
#[inline(never)]
fn verify_es256_now(key: &P256Key, msg: &[u8], sig: &[u8; 64]) -> Result<(), Error> {
    if cfg!(feature = "es256") {
        crate::es256::verify(key, msg, sig)
    } else {
        Err(Error::BadSignature)
    }
}

/// Ed25519 strict verify, out of line. Refused when the `eddsa` feature is off.
#[inline(never)]
fn verify_ed25519_now(key: &Ed25519Key, msg: &[u8], sig: &[u8; 64]) -> Result<(), Error> {
    if cfg!(feature = "eddsa") {
        RustCrypto::verify_ed25519(key, msg, sig)
    } else {
        Err(Error::BadSignature)
    }
}
