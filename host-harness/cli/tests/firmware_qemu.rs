//! The verifier firmware under QEMU: real ES256 and EdDSA tokens minted here
//! with the firmware's development keys (`firmware/keys/dev/`) go over its
//! UART; each check gets the right verdict, bad frames get error frames, and
//! the firmware keeps serving. Wycheproof's ECDSA P-256 vectors run through
//! both P-256 backends (p256-cm4, RustCrypto) on the device.
//!
//! Images (paths written by `scripts/firmware-ci.sh` into
//! `firmware/target/firmware-elf.env`): `$ARMORIQ_FIRMWARE_ELF` (Cortex-M4F,
//! `mps2-an386`, or an M3 ELF: `mps2-an385`; built here with `cargo build
//! --release` in `firmware/` if unset), `$ARMORIQ_FIRMWARE_ELF_M3`
//! (`mps2-an385`) and `$ARMORIQ_FIRMWARE_ELF_M33` (`mps2-an505`); every test
//! runs on each image set. `$ARMORIQ_FIRMWARE_VECTORS_ELF` and
//! `$ARMORIQ_FIRMWARE_VECTORS_ELF_M3` are the `test-vectors` images for the
//! Wycheproof run. Without `qemu-system-arm`, or with an image variable
//! unset, the tests fail when `CI=true` and are skipped otherwise.
//! For an image built with one algorithm (`--no-default-features --features
//! es256,p256-cm4` and `ARMORIQ_FIRMWARE_KEYS=keys/trusted-es256.json`, or
//! `eddsa`), set `ARMORIQ_FIRMWARE_ALGS` to `es256` or `eddsa`: the other
//! algorithm's checks are skipped (set the M3 and M33 variables empty: those
//! images carry both algorithms).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use armoriq_common::keys::SigningKey;
use armoriq_common::proofs::{PlanHashes, plan_hashes};
use armoriq_core::Profile;
use armoriq_device::{Device, QemuOptions, qemu_available};
use armoriq_frame::{
    self as frame, Accepted, Field, FrameErrorCode, RejectKind, Request, Response, VerifyRequest,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[path = "firmware_qemu/counts.rs"]
mod counts;
#[path = "firmware_qemu/receipts.rs"]
mod receipts;
#[path = "firmware_qemu/wycheproof.rs"]
mod wycheproof;

const NOW: i64 = 1_800_000_000;
const EXP: i64 = NOW + 300;
/// `leeway` in firmware/keys/trusted.json.
const LEEWAY: i64 = 5;
/// Budgets (firmware/README.md): invocation check / bare verify, per
/// algorithm; instructions of the check on the Cortex-M4F image; stack.
const RATIO_ES256: f64 = 1.20;
/// ES256: issue 18's "check ≤ 1.20× the bare verify", or the absolute
/// overhead it allowed then on the M4F (0.20 × its 741,080-instruction bare
/// verify): since issue 28 p256-cm4's verify uses the pinned key's
/// precomputed tables (~470 k), so the unchanged ~140 k of JSON, canonical
/// and Merkle work is 1.30× of it; the ratio is still printed
/// (firmware/README.md). The M3 (RustCrypto p256) meets the ratio.
const OVERHEAD_ES256: u64 = 148_216;
const RATIO_EDDSA: f64 = 1.15;
const M4_INSNS_ES256: u64 = 1_000_000;
const M4_INSNS_EDDSA: u64 = 2_050_000;
const STACK: u32 = 8 * 1024;

fn firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware")
}

/// A firmware image and the QEMU machine it runs on.
struct Image {
    elf: PathBuf,
    machine: String,
    /// Whether this is `$ARMORIQ_FIRMWARE_ELF` on the Cortex-M4F (the
    /// instruction budgets).
    main: bool,
}

impl Image {
    /// Instructions per SysTick tick under `-icount shift=0` (1 ns per
    /// instruction): the core clock is 25 MHz on mps2-an385/an386, 20 MHz on
    /// mps2-an505.
    fn insns_per_tick(&self) -> u64 {
        if self.machine == "mps2-an505" { 50 } else { 40 }
    }
}

/// `SKIPPED` with the reason, or a failure under `CI=true`.
fn skip(msg: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and {msg}: the firmware tests cannot run"
    );
    eprintln!("SKIPPED: {msg}");
}

/// The ELF named by `var`, if set and not empty (it must then be a file).
fn elf_var(var: &str) -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os(var).filter(|v| !v.is_empty())?);
    assert!(p.is_file(), "{var}={} is not a file", p.display());
    Some(p)
}

fn qemu_ok() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let ok = qemu_available(Path::new("qemu-system-arm"));
        if !ok {
            skip(
                "qemu-system-arm is not installed (Debian: apt-get install qemu-system-arm; \
                 scripts/firmware-ci.sh does it)",
            );
        }
        ok
    })
}

/// The images to test: empty (skip) when QEMU is missing outside CI.
fn images() -> &'static [Image] {
    static IMAGES: OnceLock<Vec<Image>> = OnceLock::new();
    IMAGES.get_or_init(|| {
        if !qemu_ok() {
            return Vec::new();
        }
        let elf = elf_var("ARMORIQ_FIRMWARE_ELF").unwrap_or_else(build_m4);
        let machine = QemuOptions::for_elf(&elf).unwrap().machine;
        let main = machine == "mps2-an386";
        let mut v = vec![Image { elf, machine, main }];
        for (var, machine) in [
            ("ARMORIQ_FIRMWARE_ELF_M3", "mps2-an385"),
            ("ARMORIQ_FIRMWARE_ELF_M33", "mps2-an505"),
        ] {
            match elf_var(var) {
                Some(elf) => v.push(Image {
                    elf,
                    machine: machine.into(),
                    main: false,
                }),
                None => skip(&format!("{var} is not set (scripts/firmware-ci.sh)")),
            }
        }
        v
    })
}

fn build_m4() -> PathBuf {
    let dir = firmware_dir();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "thumbv7em-none-eabihf"])
        .current_dir(&dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("ARMORIQ_FIRMWARE_KEYS")
        .status()
        .expect("run cargo build in firmware/");
    assert!(status.success(), "building the firmware failed");
    dir.join("target/thumbv7em-none-eabihf/release/armoriq-firmware")
}

fn boot(img: &Image, icount: bool) -> Device {
    let mut opts = options(img);
    opts.icount = icount;
    Device::boot_qemu(&img.elf, &opts).expect("boot the firmware in QEMU")
}

fn options(img: &Image) -> QemuOptions {
    QemuOptions {
        machine: img.machine.clone(),
        ..QemuOptions::default()
    }
}

/// The algorithms the image verifies: `$ARMORIQ_FIRMWARE_ALGS` (`es256`,
/// `eddsa`, comma-separated), both by default.
fn algs() -> Vec<frame::Alg> {
    let list = std::env::var("ARMORIQ_FIRMWARE_ALGS").unwrap_or_else(|_| "es256,eddsa".into());
    let algs: Vec<frame::Alg> = list
        .split(',')
        .map(|a| match a.trim() {
            "es256" => frame::Alg::Es256,
            "eddsa" => frame::Alg::EdDsa,
            other => panic!("ARMORIQ_FIRMWARE_ALGS: unknown algorithm {other:?}"),
        })
        .collect();
    assert!(!algs.is_empty(), "ARMORIQ_FIRMWARE_ALGS is empty");
    algs
}

/// The development key of `alg` and the `kid` its tokens carry (the ES256
/// tokens name theirs; the EdDSA ones leave the key to the algorithm).
fn dev_signer(alg: frame::Alg) -> (SigningKey, Option<&'static str>, frame::Alg) {
    match alg {
        frame::Alg::Es256 => (dev_key("es256.pem"), Some("dev-es256"), alg),
        frame::Alg::EdDsa => (dev_key("ed25519.pem"), None, alg),
    }
}

fn dev_key(name: &str) -> SigningKey {
    let p = firmware_dir().join("keys/dev").join(name);
    SigningKey::from_pem(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn plan() -> serde_json::Value {
    serde_json::json!({"goal": "weather", "steps": [
        {"action": "get_weather", "mcp": "weather-mcp", "params": {"city": "Boston"}},
        {"action": "send_email", "mcp": "mail-mcp", "params": {"to": "team@example.com", "n": 1.0}},
        {"action": "log", "mcp": "audit"},
    ]})
}

struct Fixture {
    plan: serde_json::Value,
    hashes: PlanHashes,
    token: String,
}

fn fixture(key: &SigningKey, kid: Option<&str>) -> Fixture {
    let plan = plan();
    let (_, hashes) = plan_hashes(plan.to_string().as_bytes(), Profile::ArmorIq).unwrap();
    let claims = serde_json::json!({
        "iss": "armoriq-iap", "aud": "armoriq-proxy", "sub": "alice@example.com",
        "iat": NOW - 10, "nbf": NOW - 10, "exp": EXP, "jti": "intent-42", "plan_id": "plan-1",
        "plan_hash": hashes.plan_hash, "merkle_root": hashes.merkle_root,
        "step_count": hashes.step_proofs.len(),
    });
    let token = key.sign_jwt(claims.to_string().as_bytes(), kid).unwrap();
    Fixture {
        plan,
        hashes,
        token,
    }
}

fn unhex32(s: &str) -> [u8; 32] {
    armoriq_core::hex::decode::<32>(s.as_bytes()).unwrap()
}

/// The request for step `i`, exactly as signed.
struct Owned {
    step: String,
    params: Option<String>,
    mcp: String,
    action: String,
    siblings: Vec<[u8; 32]>,
    index: u64,
    tree_size: u64,
}

impl Owned {
    fn new(f: &Fixture, i: usize) -> Self {
        let s = &f.plan["steps"][i];
        Self {
            step: s.to_string(),
            // The same params written differently: canonically equal.
            params: s
                .get("params")
                .map(|p| serde_json::to_string_pretty(p).unwrap()),
            mcp: s["mcp"].as_str().unwrap().into(),
            action: s["action"].as_str().unwrap().into(),
            siblings: f.hashes.step_proofs[i]
                .siblings
                .iter()
                .map(|h| unhex32(h))
                .collect(),
            index: i as u64,
            tree_size: f.hashes.step_proofs.len() as u64,
        }
    }

    fn request<'a>(&'a self, token: &'a str, now: i64) -> VerifyRequest<'a> {
        VerifyRequest {
            now,
            token: token.as_bytes(),
            mcp: &self.mcp,
            action: &self.action,
            params: self.params.as_deref().map(str::as_bytes),
            step: self.step.as_bytes(),
            index: self.index,
            tree_size: self.tree_size,
            siblings: &self.siblings,
        }
    }
}

fn verify(dev: &mut Device, req: VerifyRequest<'_>) -> Result<Accepted, (RejectKind, String)> {
    let answer = dev.request(&Request::Verify(req)).expect("device answers");
    match answer.response() {
        Response::Accepted(a) => Ok(a),
        Response::Rejected(r) => Err((r.kind, r.error.to_owned())),
        other => panic!("not a verdict: {other:?}"),
    }
}

fn rejected(kind: RejectKind, error: &str) -> Result<Accepted, (RejectKind, String)> {
    Err((kind, error.to_owned()))
}

/// Flips one base64url character in the middle of the payload part.
fn tamper(token: &str) -> String {
    let first_dot = token.find('.').unwrap();
    let second_dot = token[first_dot + 1..].find('.').unwrap() + first_dot + 1;
    let at = (first_dot + second_dot) / 2;
    let mut b = token.as_bytes().to_vec();
    b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

fn stats(dev: &mut Device) -> frame::Stats {
    match dev.request(&Request::Stats).unwrap().response() {
        Response::Stats(s) => s,
        other => panic!("not stats: {other:?}"),
    }
}

fn check_invocations(key: &SigningKey, kid: Option<&str>) {
    for img in images() {
        check_invocations_on(img, key, kid);
    }
}

fn check_invocations_on(img: &Image, key: &SigningKey, kid: Option<&str>) {
    let mut dev = boot(img, false);
    let f = fixture(key, kid);
    for i in 0..3 {
        let o = Owned::new(&f, i);
        let ok = verify(&mut dev, o.request(&f.token, NOW)).unwrap();
        assert_eq!(ok.index, i as u64);
        assert_eq!(ok.step_count, 3);
        assert_eq!(ok.exp, EXP);
        assert_eq!(ok.merkle_root, unhex32(&f.hashes.merkle_root));
        assert_eq!(ok.plan_hash, unhex32(&f.hashes.plan_hash));
        assert_eq!(
            ok.leaf_hash,
            unhex32(&f.hashes.step_proofs[i].leaf_hash),
            "step {i}"
        );
    }
    let o = Owned::new(&f, 1);
    // Tampered token.
    let bad = tamper(&f.token);
    assert_eq!(
        verify(&mut dev, o.request(&bad, NOW)),
        rejected(RejectKind::InvalidToken, "BadSignature")
    );
    // Signed by a key the device does not trust.
    let (stranger, _) = SigningKey::generate(key.alg()).unwrap();
    let foreign = fixture(&stranger, kid).token;
    let r = verify(&mut dev, o.request(&foreign, NOW)).unwrap_err();
    assert_eq!(r.0, RejectKind::InvalidToken, "{r:?}");
    // Expired from `exp` + leeway on (RFC 7519 §4.1.4: at `exp` it is
    // already expired), and not yet valid.
    assert_eq!(
        verify(&mut dev, o.request(&f.token, EXP + LEEWAY)),
        rejected(RejectKind::TokenExpired, "Expired")
    );
    assert!(verify(&mut dev, o.request(&f.token, EXP + LEEWAY - 1)).is_ok());
    assert_eq!(
        verify(&mut dev, o.request(&f.token, NOW - 10 - LEEWAY - 1)),
        rejected(RejectKind::InvalidToken, "NotYetValid")
    );
    // Wrong step: another step's body with this step's proof.
    let other = f.plan["steps"][2].to_string();
    assert_eq!(
        verify(
            &mut dev,
            VerifyRequest {
                step: other.as_bytes(),
                ..o.request(&f.token, NOW)
            }
        ),
        rejected(RejectKind::IntentMismatch, "RootMismatch")
    );
    // Wrong proofs: a flipped sibling, another index, another tree size.
    let mut sib = o.siblings.clone();
    sib[0][7] ^= 0x10;
    assert_eq!(
        verify(
            &mut dev,
            VerifyRequest {
                siblings: &sib,
                ..o.request(&f.token, NOW)
            }
        ),
        rejected(RejectKind::IntentMismatch, "RootMismatch")
    );
    assert_eq!(
        verify(
            &mut dev,
            VerifyRequest {
                index: 0,
                ..o.request(&f.token, NOW)
            }
        )
        .unwrap_err()
        .0,
        RejectKind::IntentMismatch
    );
    assert_eq!(
        verify(
            &mut dev,
            VerifyRequest {
                tree_size: 4,
                ..o.request(&f.token, NOW)
            }
        ),
        rejected(RejectKind::IntentMismatch, "StepCountMismatch")
    );
    // The call is not the step.
    for (mcp, action, params) in [
        ("other-mcp", "send_email", o.params.as_deref()),
        ("mail-mcp", "delete_everything", o.params.as_deref()),
        (
            "mail-mcp",
            "send_email",
            Some(r#"{"to":"attacker@example.com","n":1}"#),
        ),
        ("mail-mcp", "send_email", None),
    ] {
        assert_eq!(
            verify(
                &mut dev,
                VerifyRequest {
                    mcp,
                    action,
                    params: params.map(str::as_bytes),
                    ..o.request(&f.token, NOW)
                }
            ),
            rejected(RejectKind::IntentMismatch, "CallMismatch"),
            "{mcp} {action} {params:?}"
        );
    }
    // Still serving, and nothing counted as a frame error.
    verify(&mut dev, o.request(&f.token, NOW)).unwrap();
    let s = stats(&mut dev);
    assert_eq!(s.served, 3 + 2 + 3 + 1 + 3 + 4 + 1);
    assert_eq!(s.frame_errors, 0);
    assert_eq!(s.keys as usize, algs().len());
    assert!(s.stack_peak > 0 && s.stack_peak < s.stack_size, "{s:?}");
    eprintln!(
        "{} {:?}: stack peak after the checks: {} B",
        img.machine,
        key.alg(),
        s.stack_peak
    );
    assert_eq!(dev.qemu_exited().unwrap(), None, "the firmware stopped");
}

#[test]
fn es256_invocations_on_device() {
    if !algs().contains(&frame::Alg::Es256) {
        eprintln!("SKIPPED: the image has no ES256 (ARMORIQ_FIRMWARE_ALGS)");
        return;
    }
    check_invocations(&dev_key("es256.pem"), Some("dev-es256"));
}

#[test]
fn eddsa_invocations_on_device() {
    if !algs().contains(&frame::Alg::EdDsa) {
        eprintln!("SKIPPED: the image has no EdDSA (ARMORIQ_FIRMWARE_ALGS)");
        return;
    }
    check_invocations(&dev_key("ed25519.pem"), None);
}

fn frame_error(dev: &mut Device) -> FrameErrorCode {
    match dev.read_response().unwrap().response() {
        Response::FrameError(c) => c,
        other => panic!("not a frame error: {other:?}"),
    }
}

fn raw_frame(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = b"AQ".to_vec();
    b.push(frame::VERSION);
    b.push(ty);
    b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend_from_slice(payload);
    let crc = frame::crc32(&b[2..]);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn bad_frames_get_error_frames_and_the_device_keeps_serving() {
    for img in images() {
        bad_frames_on(img);
    }
}

fn bad_frames_on(img: &Image) {
    let mut dev = boot(img, false);
    let (key, kid, _) = dev_signer(*algs().last().unwrap());
    let f = fixture(&key, kid);
    let o = Owned::new(&f, 0);
    let mut good = vec![0u8; 4096];
    let n = frame::encode_request(&Request::Verify(o.request(&f.token, NOW)), &mut good).unwrap();
    good.truncate(n);

    // Garbage: one error for the run.
    dev.send_raw(b"\x00\x01garbage bytes, no magic\xff\xfe")
        .unwrap();
    assert_eq!(frame_error(&mut dev), FrameErrorCode::BadMagic);
    verify(&mut dev, o.request(&f.token, NOW)).unwrap();
    // A bit flipped in transit.
    let mut corrupt = good.clone();
    corrupt[40] ^= 0x04;
    dev.send_raw(&corrupt).unwrap();
    assert_eq!(frame_error(&mut dev), FrameErrorCode::Checksum);
    // A header announcing more than the device accepts.
    let mut huge = b"AQ\x01\x01".to_vec();
    huge.extend_from_slice(&100_000u32.to_le_bytes());
    dev.send_raw(&huge).unwrap();
    assert_eq!(frame_error(&mut dev), FrameErrorCode::Oversized);
    // Wrong version.
    let mut v9 = good.clone();
    v9[2] = 9;
    dev.send_raw(&v9[..8]).unwrap();
    assert_eq!(frame_error(&mut dev), FrameErrorCode::BadVersion(9));
    // Good CRC, unknown type; good CRC, truncated payload.
    dev.send_raw(&raw_frame(0x42, b"")).unwrap();
    assert_eq!(frame_error(&mut dev), FrameErrorCode::UnknownType(0x42));
    dev.send_raw(&raw_frame(frame::TYPE_VERIFY, &[1, 2, 3]))
        .unwrap();
    assert_eq!(frame_error(&mut dev), FrameErrorCode::Malformed(Field::Now));
    // A frame cut short: dropped when the line stays idle.
    dev.send_raw(&good[..good.len() / 2]).unwrap();
    assert_eq!(frame_error(&mut dev), FrameErrorCode::Truncated);
    // Still serving.
    let ok = verify(&mut dev, o.request(&f.token, NOW)).unwrap();
    assert_eq!(ok.index, 0);
    // An idle line after a whole frame is not a truncated frame.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let s = stats(&mut dev);
    assert_eq!(s.frame_errors, 7, "{s:?}");
    assert_eq!(s.served, 9, "{s:?}");
    assert_eq!(dev.qemu_exited().unwrap(), None, "the firmware stopped");
}

/// The budget on the invocation check against the bare verify (instructions):
/// EdDSA a ratio, ES256 the ratio or an overhead ([`OVERHEAD_ES256`]).
fn within_overhead_budget(alg: frame::Alg, check: u64, bare: u64) -> bool {
    let ratio = check as f64 / bare as f64;
    match alg {
        frame::Alg::Es256 => ratio <= RATIO_ES256 || check.saturating_sub(bare) <= OVERHEAD_ES256,
        frame::Alg::EdDsa => ratio <= RATIO_EDDSA,
    }
}

/// A bare verify of `token` with the first key of `alg`: its ticks.
fn bare_verify(dev: &mut Device, alg: frame::Alg, token: &str) -> u32 {
    let req = Request::BareVerify {
        alg,
        token: token.as_bytes(),
    };
    match dev.request(&req).unwrap().response() {
        Response::BareVerify { ok: true, ticks } => ticks,
        other => panic!("bare verify: {other:?}"),
    }
}

/// Under `-icount shift=0` the tick counts are deterministic (to the
/// instructions of one SysTick tick): the same check twice costs the same,
/// and the invocation check is compared with the bare signature verify of
/// the same token.
#[test]
fn tick_counts_are_deterministic_under_icount() {
    for img in images() {
        for (key, kid, alg) in algs().into_iter().map(dev_signer) {
            let mut dev = boot(img, true);
            let f = fixture(&key, kid);
            let o = Owned::new(&f, 1);
            let a = verify(&mut dev, o.request(&f.token, NOW)).unwrap().ticks;
            let b = verify(&mut dev, o.request(&f.token, NOW)).unwrap().ticks;
            // Where the check starts within a tick is the only freedom left,
            // so identical checks agree within one tick.
            assert!(
                a.abs_diff(b) <= 1,
                "{alg:?}: identical checks took {a} and {b} ticks"
            );
            let bare = bare_verify(&mut dev, alg, &f.token);
            assert!(bare > 0 && a > bare, "{alg:?}: check {a} vs bare {bare}");
            let ratio = f64::from(a) / f64::from(bare);
            let s = stats(&mut dev);
            let tick = img.insns_per_tick();
            eprintln!(
                "{} {alg:?}: invocation check {a} ticks (~{} instructions), bare signature verify \
                 {bare} ticks (~{} instructions), ratio {ratio:.4}; stack peak {} B",
                img.machine,
                u64::from(a) * tick,
                u64::from(bare) * tick,
                s.stack_peak
            );
            // Ticks to instructions, with a tick's slack on each.
            assert!(
                within_overhead_budget(alg, u64::from(a - 1) * tick, u64::from(bare + 1) * tick),
                "{alg:?}: check is {ratio:.4}x the bare verify"
            );
            assert!(
                s.stack_peak <= STACK,
                "{alg:?}: stack peak {} B",
                s.stack_peak
            );
        }
    }
}

/// `armoriq device verify --qemu`: exit 0 with the verdict as JSON, exit 1
/// with `error: <kind>: <error>`, from files as `armoriq plan hash` and
/// `armoriq token mint` write them; params are passed through verbatim.
#[test]
fn cli_device_verify() {
    for img in images() {
        cli_device_verify_on(img);
    }
}

fn cli_device_verify_on(img: &Image) {
    let elf = &img.elf;
    let (key, kid, _) = dev_signer(algs()[0]);
    let f = fixture(&key, kid);
    let dir = std::env::temp_dir().join(format!("armoriq-device-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let token = write("token.jwt", &format!("{}\n", f.token));
    let step = write("step.json", &f.plan["steps"][1].to_string());
    let proof = write(
        "proof.json",
        &serde_json::to_string(&f.hashes.step_proofs[1]).unwrap(),
    );
    // Same params, other spacing and key order: canonically equal.
    let call = write(
        "call.json",
        r#"{"mcp": "mail-mcp", "action": "send_email", "params": {"n": 1.0, "to": "team@example.com"}}"#,
    );
    let run = |now: i64, call: &Path| {
        Command::new(env!("CARGO_BIN_EXE_armoriq"))
            .args(["device", "verify", "--machine", &img.machine, "--qemu"])
            .arg(elf)
            .arg("--token")
            .arg(&token)
            .arg("--call")
            .arg(call)
            .arg("--step")
            .arg(&step)
            .arg("--proof")
            .arg(&proof)
            .args(["--now", &now.to_string()])
            .output()
            .unwrap()
    };
    let out = run(NOW, &call);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "accepted");
    assert_eq!(v["index"], 1);
    assert_eq!(v["merkle_root"], f.hashes.merkle_root.as_str());
    let out = run(EXP + LEEWAY + 1, &call);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: TokenExpired: Expired"
    );
    let other = write(
        "other.json",
        r#"{"mcp":"mail-mcp","action":"send_email","params":{"n":2,"to":"team@example.com"}}"#,
    );
    let out = run(NOW, &other);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: IntentMismatch: CallMismatch"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
