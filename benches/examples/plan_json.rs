//! Writes the benchmark plan of a given size (`armoriq_benches::plan_of_size`)
//! to stdout, so that other implementations (the Python SDK in
//! `scripts/benchmarks.sh`) are measured on the very same bytes:
//! `plan_json 2048 > plan-2KiB.json`.
use std::io::Write;

fn main() {
    let size = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2 * 1024);
    std::io::stdout()
        .write_all(armoriq_benches::plan_of_size(size).as_bytes())
        .expect("stdout");
}
