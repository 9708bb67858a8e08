//! Signed receipts (SPEC §7) on the device: `DeviceInfo` names the key and
//! the counter, every accepted verify-with-receipt request carries a receipt
//! that armoriq-core verifies against that key, with the token's `jti`, the
//! step's leaf hash and the call's hash in it and the counter one up; a
//! refused call gets none. On the Cortex-M4F, an ES256 receipt and the ES256
//! check together stay within 1.2 M instructions and a 1.0 M regression
//! ceiling (exact, with the QEMU plugin); the Ed25519-receipt image (`$ARMORIQ_FIRMWARE_ED25519_RECEIPTS_ELF`)
//! is measured in the same run, within issue 19's 1.5 M. RFC 6979's P-256 /
//! SHA-256 vectors (A.2.5) come out of the `test-vectors` images' signer
//! exactly.

use super::counts::{plugin, regions, symbol};
use super::{
    Image, NOW, Owned, algs, boot, dev_signer, elf_var, fixture, images, options, qemu_ok, skip,
    tamper,
};
use armoriq_core::RustCrypto;
use armoriq_core::canon::Canonicalizer;
use armoriq_core::receipt::{self, DeviceKey, Receipt, ReceiptAlg};
use armoriq_device::Device;
use armoriq_frame::{self as frame, DeviceInfo, DeviceKeyAlg, Request, Response, VerifyRequest};

/// ES256 receipt and ES256 check together on the Cortex-M4F: issue 28's
/// budget, **met** and asserted (963,683–974,716 measured over eight runs'
/// tokens, was 1,257,745–1,271,220: p256-cm4's verify with the pinned key's
/// and the base point's tables, built once at boot, and the receipt's `jti`
/// taken from the check's decoded claims; see firmware/README.md).
const M4_INSNS_ES256_RECEIPT_TARGET: u64 = 1_200_000;
/// The regression ceiling also asserted, on the M4F and the M33: the highest
/// measured (974,716 on the M4F, 983,147 on the M33 over eight runs' tokens)
/// and ~5 % for the ES256 check's variation between tokens (the receipt does
/// not vary; the check's additions follow the digits of the signature's two
/// scalars, and each run signs new tokens).
const M4_INSNS_ES256_RECEIPT: u64 = 1_030_000;
/// Ed25519 receipt and ES256 check together on the Cortex-M4F (issue 19).
const M4_INSNS_ED25519_RECEIPT: u64 = 1_500_000;

fn device_info(dev: &mut Device) -> DeviceInfo {
    match dev.request(&Request::DeviceInfo).unwrap().response() {
        Response::DeviceInfo(d) => d,
        other => panic!("not device info: {other:?}"),
    }
}

/// The verdict and receipt of a verify-with-receipt request.
fn receipted(
    dev: &mut Device,
    req: VerifyRequest<'_>,
) -> Result<(frame::Accepted, Receipt, u32), String> {
    match dev
        .request(&Request::VerifyReceipt(req))
        .unwrap()
        .response()
    {
        Response::Receipted {
            accepted,
            receipt,
            sign_ticks,
        } => Ok((accepted, Receipt::parse(receipt).unwrap(), sign_ticks)),
        Response::Rejected(r) => Err(format!("{}: {}", r.kind.as_str(), r.error)),
        other => panic!("not a verdict: {other:?}"),
    }
}

#[test]
fn accepted_calls_carry_receipts_that_verify_and_count() {
    for img in images() {
        let mut dev = boot(img, false);
        let info = device_info(&mut dev);
        assert_eq!(info.revision, frame::PROTOCOL_REVISION);
        assert_eq!(
            info.alg,
            DeviceKeyAlg::Es256,
            "{}: ES256 receipts",
            img.machine
        );
        assert_eq!(info.device_id, receipt::device_id(info.key()));
        assert_eq!(
            (info.counter, info.boot),
            (0, 0),
            "{}: a fresh boot has signed nothing (RAM counter: boot 0)",
            img.machine
        );
        let key = DeviceKey::<RustCrypto>::parse(ReceiptAlg::Es256, info.key()).unwrap();
        let mut seq = receipt::Sequence::new();
        let mut canon = Canonicalizer::<8, 64>::new();
        let mut n = 0;
        for alg in algs() {
            let (sk, kid, _) = dev_signer(alg);
            let f = fixture(&sk, kid);
            for i in 0..2 {
                let o = Owned::new(&f, i);
                let (acc, r, sign_ticks) = receipted(&mut dev, o.request(&f.token, NOW)).unwrap();
                n += 1;
                r.verify(info.key(), &key).unwrap();
                assert_eq!((r.body.version, r.body.alg), (2, ReceiptAlg::Es256));
                seq.next(r.body.boot, r.body.counter).unwrap();
                assert_eq!(r.body.counter, n);
                assert_eq!(r.body.jti_hash, receipt::jti_text_hash("intent-42"));
                assert_eq!(r.body.leaf_hash, acc.leaf_hash);
                let want = receipt::call_hash(
                    &mut canon,
                    &o.mcp,
                    &o.action,
                    o.params.as_deref().map(str::as_bytes),
                )
                .unwrap();
                assert_eq!(r.body.call_hash, want);
                assert!(sign_ticks > 0);
                // A refused call: no receipt, the counter stays.
                let bad = tamper(&f.token);
                let refused = receipted(&mut dev, o.request(&bad, NOW)).unwrap_err();
                assert!(refused.starts_with("InvalidToken"), "{refused}");
            }
        }
        assert_eq!(device_info(&mut dev).counter, n);
        // The signer's stack on top of the check's: within the 8 KiB budget.
        let s = super::stats(&mut dev);
        eprintln!(
            "{}: stack peak after checks with ES256 receipts: {} B",
            img.machine, s.stack_peak
        );
        assert!(s.stack_peak <= super::STACK, "{s:?}");
    }
}

/// Exact instructions of the ES256 check alone and with its receipt (the
/// receipt's cost is the difference) on `img`, and the receipt's algorithm.
fn measure(img: &Image, so: &std::path::Path) -> (u64, u64, DeviceKeyAlg) {
    let elf = &img.elf;
    let (start, end) = (
        symbol(elf, "armoriq_bench_start"),
        symbol(elf, "armoriq_bench_end"),
    );
    let log = std::env::temp_dir().join(format!(
        "armoriq-receipt-{}-{}.log",
        std::process::id(),
        img.machine
    ));
    let _ = std::fs::remove_file(&log);
    let mut opts = options(img);
    opts.icount = true;
    opts.extra_args = vec![
        "-plugin".into(),
        format!("{},start={start:#x},end={end:#x}", so.display()).into(),
        "-d".into(),
        "plugin".into(),
        "-D".into(),
        log.clone().into(),
    ];
    let mut dev = Device::boot_qemu(elf, &opts).unwrap();
    let alg = device_info(&mut dev).alg;
    let (sk, kid, _) = dev_signer(frame::Alg::Es256);
    let f = fixture(&sk, kid);
    let o = Owned::new(&f, 0);
    super::verify(&mut dev, o.request(&f.token, NOW)).unwrap();
    receipted(&mut dev, o.request(&f.token, NOW)).unwrap();
    receipted(&mut dev, o.request(&f.token, NOW)).unwrap();
    let r = regions(&log, 3);
    drop(dev);
    let _ = std::fs::remove_file(&log);
    assert_eq!(r.len(), 3, "plugin regions {r:?}");
    let (check, with, again) = (r[0], r[1], r[2]);
    assert_eq!(
        with, again,
        "{}: two receipts of one call, different counts (signing is constant time)",
        img.machine
    );
    (check, with, alg)
}

/// The ES256 check with its ES256 receipt on every image, and on the
/// Cortex-M4F against the Ed25519-receipt image of the same run: the
/// figures of firmware/README.md (issue 28), and the 1.2 M budget.
#[test]
fn receipt_and_es256_check_within_budget() {
    if !algs().contains(&frame::Alg::Es256) || images().is_empty() {
        return;
    }
    let Some(so) = plugin() else {
        return super::skip("no instruction-count plugin (scripts/firmware-ci.sh builds it)");
    };
    // The board from the ELF's build attributes (CI builds the M4F one).
    let ed = elf_var("ARMORIQ_FIRMWARE_ED25519_RECEIPTS_ELF").map(|elf| {
        let machine = armoriq_device::QemuOptions::for_elf(&elf).unwrap().machine;
        let img = Image {
            elf,
            machine,
            main: false,
        };
        let (check, with, alg) = measure(&img, &so);
        assert_eq!(alg, DeviceKeyAlg::Ed25519);
        eprintln!(
            "{} Ed25519-receipt image: check {check}, check + receipt {with}, \
             receipt {} instructions (M4F budget {M4_INSNS_ED25519_RECEIPT})",
            img.machine,
            with - check
        );
        if img.machine == "mps2-an386" {
            assert!(with <= M4_INSNS_ED25519_RECEIPT, "Ed25519 receipt: {with}");
        }
        (check, with)
    });
    if ed.is_none() {
        skip("ARMORIQ_FIRMWARE_ED25519_RECEIPTS_ELF is not set (scripts/firmware-ci.sh)");
    }
    for img in images() {
        let (check, with, alg) = measure(img, &so);
        assert_eq!(alg, DeviceKeyAlg::Es256);
        let receipt = with - check;
        let ratios = ed.map_or(String::new(), |(ec, ew)| {
            format!(
                "; against the Ed25519-receipt image: receipt {:.4}x, check + receipt {:.4}x",
                receipt as f64 / (ew - ec) as f64,
                with as f64 / ew as f64
            )
        });
        eprintln!(
            "{} ES256 receipt: check {check}, check + receipt {with}, receipt {receipt} \
             instructions{ratios}",
            img.machine
        );
        if img.main {
            eprintln!(
                "{} ES256 check + ES256 receipt {with} against issue 28's target \
                 {M4_INSNS_ES256_RECEIPT_TARGET}: {}",
                img.machine,
                if with <= M4_INSNS_ES256_RECEIPT_TARGET {
                    "met"
                } else {
                    "NOT met"
                }
            );
            assert!(
                with <= M4_INSNS_ES256_RECEIPT_TARGET,
                "ES256 check + ES256 receipt: {with} instructions > issue 28's budget \
                 {M4_INSNS_ES256_RECEIPT_TARGET}"
            );
            assert!(
                with <= M4_INSNS_ES256_RECEIPT,
                "ES256 check + ES256 receipt: {with} instructions > the regression ceiling \
                 {M4_INSNS_ES256_RECEIPT}"
            );
        }
    }
}

/// RFC 6979 A.2.5 (P-256, SHA-256): the private key and, for the messages
/// "sample" and "test", the signature `r ‖ s`.
const RFC6979_KEY: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
const RFC6979_SIGS: [(&str, &str, &str); 2] = [
    (
        "sample",
        "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
        "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
    ),
    (
        "test",
        "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367",
        "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083",
    ),
];

/// The receipt signer of the `test-vectors` images reproduces RFC 6979's
/// signatures: p256-cm4 with the firmware's nonce on the M4F and the M33,
/// RustCrypto p256 on the M3.
#[test]
fn rfc6979_vectors_on_device() {
    if !qemu_ok() {
        return;
    }
    let key: [u8; 32] = hex::decode(RFC6979_KEY).unwrap().try_into().unwrap();
    for (var, machine) in [
        ("ARMORIQ_FIRMWARE_VECTORS_ELF", "mps2-an386"),
        ("ARMORIQ_FIRMWARE_VECTORS_ELF_M33", "mps2-an505"),
        ("ARMORIQ_FIRMWARE_VECTORS_ELF_M3", "mps2-an385"),
    ] {
        let Some(elf) = elf_var(var) else {
            skip(&format!("{var} is not set (scripts/firmware-ci.sh)"));
            continue;
        };
        let img = Image {
            elf,
            machine: machine.into(),
            main: false,
        };
        let mut dev = boot(&img, false);
        for (msg, r, s) in RFC6979_SIGS {
            let req = Request::SignVector {
                key,
                msg: msg.as_bytes(),
            };
            let (sig, ticks) = match dev.request(&req).unwrap().response() {
                Response::Signed { signature, ticks } => (signature, ticks),
                other => panic!("{machine}: not a signature: {other:?}"),
            };
            assert_eq!(
                hex::encode(sig),
                format!("{r}{s}"),
                "{machine}: RFC 6979 A.2.5 {msg:?}"
            );
            eprintln!("{machine}: RFC 6979 A.2.5 {msg:?}: r, s as the RFC ({ticks} ticks)");
        }
        // A scalar out of range (0) is refused, never signed with.
        match dev
            .request(&Request::SignVector {
                key: [0; 32],
                msg: b"sample",
            })
            .unwrap()
            .response()
        {
            Response::Rejected(r) => assert_eq!(r.error, "KeyInvalid"),
            other => panic!("{machine}: key 0 answered {other:?}"),
        }
    }
}
