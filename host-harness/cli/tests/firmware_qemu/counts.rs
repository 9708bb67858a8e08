//! Exact instruction counts on the device (the QEMU TCG plugin
//! `firmware/bench/insncount.c`), against the budgets of firmware/README.md.

use super::{
    Image, M4_INSNS_EDDSA, M4_INSNS_ES256, NOW, Owned, algs, bare_verify, dev_signer, firmware_dir,
    fixture, images, options, skip, verify, within_overhead_budget,
};
use armoriq_device::Device;
use armoriq_frame as frame;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The instruction-count plugin (`firmware/bench/insncount.c`, built by
/// scripts/firmware-ci.sh): `$ARMORIQ_QEMU_PLUGIN` or
/// `firmware/target/libinsncount.so`.
pub(super) fn plugin() -> Option<PathBuf> {
    let p = std::env::var_os("ARMORIQ_QEMU_PLUGIN").map_or_else(
        || firmware_dir().join("target/libinsncount.so"),
        PathBuf::from,
    );
    p.is_file().then_some(p)
}

/// A symbol's address (Thumb bit cleared) from `nm`.
pub(super) fn symbol(elf: &Path, name: &str) -> u64 {
    for nm in ["arm-none-eabi-nm", "llvm-nm", "nm"] {
        let Ok(out) = Command::new(nm).arg(elf).output() else {
            continue;
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut parts = line.split_whitespace();
            if let (Some(addr), Some(_), Some(sym)) = (parts.next(), parts.next(), parts.next())
                && sym == name
            {
                return u64::from_str_radix(addr, 16).unwrap() & !1;
            }
        }
    }
    panic!("symbol {name} not found in {} (no nm?)", elf.display());
}

/// Region counts the plugin has logged so far.
pub(super) fn regions(log: &Path, want: usize) -> Vec<u64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let got: Vec<u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("insncount: region "))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        if got.len() >= want || std::time::Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Exact instruction counts of the invocation check and of the bare verify,
/// with the TCG plugin counting between the firmware's bench markers; they
/// repeat exactly, agree with the SysTick ticks and meet the budgets.
#[test]
fn exact_instruction_counts_with_plugin() {
    if images().is_empty() {
        return;
    }
    let Some(so) = plugin() else {
        return skip("no instruction-count plugin (scripts/firmware-ci.sh builds it)");
    };
    for img in images() {
        for alg in algs() {
            exact_counts_on(img, &so, alg);
        }
    }
}

fn exact_counts_on(img: &Image, so: &Path, alg: frame::Alg) {
    let elf = &img.elf;
    let (start, end) = (
        symbol(elf, "armoriq_bench_start"),
        symbol(elf, "armoriq_bench_end"),
    );
    let (key, kid, _) = dev_signer(alg);
    let log = std::env::temp_dir().join(format!(
        "armoriq-insncount-{}-{alg:?}.log",
        std::process::id()
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
    let f = fixture(&key, kid);
    let o = Owned::new(&f, 1);
    let t1 = verify(&mut dev, o.request(&f.token, NOW)).unwrap().ticks;
    let t2 = verify(&mut dev, o.request(&f.token, NOW)).unwrap().ticks;
    let bare_ticks = bare_verify(&mut dev, alg, &f.token);
    let r = regions(&log, 3);
    drop(dev);
    let _ = std::fs::remove_file(&log);
    assert_eq!(r.len(), 3, "{alg:?}: plugin regions {r:?}");
    let (check, again, bare) = (r[0], r[1], r[2]);
    assert_eq!(check, again, "{alg:?}: identical checks, different counts");
    let tick = img.insns_per_tick();
    for (ticks, insns) in [(t1, check), (t2, again), (bare_ticks, bare)] {
        let approx = u64::from(ticks) * tick;
        assert!(
            approx.abs_diff(insns) <= 2 * tick + 64,
            "{alg:?}: {ticks} ticks vs {insns} instructions"
        );
    }
    let ratio = check as f64 / bare as f64;
    eprintln!(
        "{} {alg:?}: invocation check {check} instructions, bare signature verify {bare} \
         instructions, overhead {} ({ratio:.4}x)",
        img.machine,
        check - bare
    );
    assert!(
        within_overhead_budget(alg, check, bare),
        "{alg:?}: {ratio:.4}x, overhead {}",
        check - bare
    );
    if img.main {
        let budget = match alg {
            frame::Alg::Es256 => M4_INSNS_ES256,
            frame::Alg::EdDsa => M4_INSNS_EDDSA,
        };
        assert!(check <= budget, "{alg:?}: {check} instructions > {budget}");
    }
}
