//! Signed receipts (SPEC §7) on the device: `DeviceInfo` names the key and
//! the counter, every accepted verify-with-receipt request carries a receipt
//! that armoriq-core verifies against that key, with the token's `jti`, the
//! step's leaf hash and the call's hash in it and the counter one up; a
//! refused call gets none. On the Cortex-M4F, a receipt and the ES256 check
//! together stay within 1.5 M instructions (exact, with the QEMU plugin).

use super::counts::{plugin, regions, symbol};
use super::{NOW, Owned, algs, boot, dev_signer, fixture, images, options, tamper};
use armoriq_core::RustCrypto;
use armoriq_core::canon::Canonicalizer;
use armoriq_core::receipt::{self, Receipt};
use armoriq_core::sig::Backend;
use armoriq_device::Device;
use armoriq_frame::{self as frame, DeviceInfo, Request, Response, VerifyRequest};

/// Receipt and ES256 check together on the Cortex-M4F (issue 19).
const M4_INSNS_ES256_RECEIPT: u64 = 1_500_000;

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
        } => Ok((accepted, Receipt::parse(&receipt).unwrap(), sign_ticks)),
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
        assert_eq!(info.device_id, receipt::device_id(&info.public_key));
        assert_eq!(
            info.counter, 0,
            "{}: a fresh boot has signed nothing",
            img.machine
        );
        let key = RustCrypto::ed25519_key(&info.public_key).unwrap();
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
                r.verify::<RustCrypto>(&info.public_key, &key).unwrap();
                seq.next(r.body.counter).unwrap();
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
    }
}

/// Exact instructions of the ES256 check with its receipt on the
/// Cortex-M4F, against the plain check of the same call: the receipt's cost.
#[test]
fn receipt_and_es256_check_within_budget() {
    let Some(img) = images().iter().find(|i| i.main) else {
        return;
    };
    if !algs().contains(&frame::Alg::Es256) {
        return;
    }
    let Some(so) = plugin() else {
        return super::skip("no instruction-count plugin (scripts/firmware-ci.sh builds it)");
    };
    let elf = &img.elf;
    let (start, end) = (
        symbol(elf, "armoriq_bench_start"),
        symbol(elf, "armoriq_bench_end"),
    );
    let log = std::env::temp_dir().join(format!("armoriq-receipt-{}.log", std::process::id()));
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
    assert_eq!(with, again, "two receipts of one call, different counts");
    eprintln!(
        "{} ES256: check {check} instructions, check + receipt {with} instructions \
         (receipt {}; budget {M4_INSNS_ES256_RECEIPT})",
        img.machine,
        with - check
    );
    assert!(
        with <= M4_INSNS_ES256_RECEIPT,
        "ES256 check + receipt: {with} instructions > {M4_INSNS_ES256_RECEIPT}"
    );
}
