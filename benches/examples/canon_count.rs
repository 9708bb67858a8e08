//! Deterministic instruction counts of the canonical hash (run under
//! `valgrind --tool=callgrind`): canonical-hashes a plan of the size given in
//! bytes (default 64 KiB) once per profile.
use armoriq_benches::plan_of_size;
use armoriq_core::canon::{Canonicalizer, Profile};

fn main() {
    let size = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(64 * 1024);
    let profile = match std::env::args().nth(2).as_deref() {
        Some("jcs") => Profile::Jcs,
        _ => Profile::ArmorIq,
    };
    let plan = plan_of_size(size);
    let mut c = Canonicalizer::<32, 256>::new();
    let d = c
        .sha256(std::hint::black_box(plan.as_bytes()), profile)
        .unwrap();
    println!("{} bytes -> {:02x?}", plan.len(), &d[..4]);
}
