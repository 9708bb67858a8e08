//! Differential test against the official ArmorIQ Python SDK (0.8.17): thousands
//! of generated JSON documents canonicalized by `armoriq_sdk.crypto_verify.
//! canonical_json(json.loads(text))` and by our `armoriq` profile must be
//! byte-identical. The generator is seeded, so a failure reproduces.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use armoriq_common::canonical::canonical_bytes;
use armoriq_core::Profile;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// The Python with armoriq-sdk installed: `$ARMORIQ_PYTHON` or `<repo>/.venv`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ARMORIQ_PYTHON") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../.venv/bin/python"
    ));
    assert!(
        p.exists(),
        "no Python reference environment: run `bash scripts/setup-python.sh` (or set ARMORIQ_PYTHON)"
    );
    p
}

/// xorshift64*: small, seeded, good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

const CHAR_POOL: &[char] = &[
    'a',
    'Z',
    '0',
    ' ',
    '/',
    '"',
    '\\',
    '\u{0}',
    '\u{1}',
    '\u{8}',
    '\u{9}',
    '\u{a}',
    '\u{c}',
    '\u{d}',
    '\u{1f}',
    '\u{7f}',
    '\u{80}',
    'é',
    'ß',
    'ÿ',
    'Ā',
    '東',
    '京',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{e000}',
    '\u{f8ff}',
    '\u{ff61}',
    '\u{fffd}',
    '😀',
    '😂',
    '𝄞',
    '\u{10ffff}',
    '\u{1f600}',
];

fn gen_char(r: &mut Rng) -> char {
    match r.below(4) {
        0 => CHAR_POOL[r.below(CHAR_POOL.len() as u64) as usize],
        1 => char::from_u32(0x20 + r.below(0x5f) as u32).unwrap(),
        2 => loop {
            if let Some(c) = char::from_u32(r.below(0x11_0000) as u32) {
                break c;
            }
        },
        _ => char::from_u32(0x61 + r.below(26) as u32).unwrap(),
    }
}

fn gen_string(r: &mut Rng) -> String {
    let n = r.below(12);
    (0..n).map(|_| gen_char(r)).collect()
}

/// Writes `s` as a JSON string, choosing among the equivalent spellings.
fn write_string(r: &mut Rng, s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        let must = c == '"' || c == '\\' || (c as u32) < 0x20;
        if must || r.chance(15) {
            match (c, r.below(2)) {
                ('"', 0) => out.push_str("\\\""),
                ('\\', 0) => out.push_str("\\\\"),
                ('/', 0) => out.push_str("\\/"),
                ('\n', 0) => out.push_str("\\n"),
                ('\t', 0) => out.push_str("\\t"),
                ('\u{8}', 0) => out.push_str("\\b"),
                ('\u{c}', 0) => out.push_str("\\f"),
                ('\r', 0) => out.push_str("\\r"),
                _ => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        if r.chance(50) {
                            write!(out, "\\u{u:04x}").unwrap();
                        } else {
                            write!(out, "\\u{u:04X}").unwrap();
                        }
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

fn gen_number(r: &mut Rng, out: &mut String) {
    match r.below(9) {
        0 => out.push_str(["0", "-0", "-0.0", "0.0", "0e0", "-0E-0"][r.below(6) as usize]),
        1 => {
            // Integers of 1 to 60 digits.
            if r.chance(40) {
                out.push('-');
            }
            let n = 1 + r.below(60);
            out.push(char::from(b'1' + r.below(9) as u8));
            for _ in 1..n {
                out.push(char::from(b'0' + r.below(10) as u8));
            }
        }
        2 => write!(out, "{}", r.next() as i64 >> r.below(64)).unwrap(),
        3..=5 => {
            // Any finite double, in Rust's shortest forms.
            let x = loop {
                let x = f64::from_bits(r.next());
                if x.is_finite() {
                    break x;
                }
            };
            match r.below(3) {
                0 => write!(out, "{x:e}").unwrap(),
                1 => write!(out, "{x:E}").unwrap(),
                _ => write!(out, "{x:?}").unwrap(),
            }
        }
        6 => {
            // Decimal text with many digits, rounded by the parser.
            if r.chance(50) {
                out.push('-');
            }
            write!(out, "{}.{}", r.below(1_000_000_000), r.next()).unwrap();
            if r.chance(50) {
                let e = r.below(600) as i64 - 300;
                write!(
                    out,
                    "{}{}{e}",
                    ["e", "E"][r.below(2) as usize],
                    if e >= 0 && r.chance(50) { "+" } else { "" }
                )
                .unwrap();
            }
        }
        7 => {
            // Powers of ten around the repr/exponent switch points.
            let e = r.below(50) as i64 - 25;
            write!(out, "1e{e}").unwrap();
        }
        _ => {
            // Subnormals and the largest doubles.
            let x = if r.chance(50) {
                f64::from_bits(r.below(1 << 52))
            } else {
                f64::MAX / (1 + r.below(1000)) as f64
            };
            write!(out, "{x:e}").unwrap();
        }
    }
}

fn gen_value(r: &mut Rng, depth: u32, out: &mut String) {
    let ws = |r: &mut Rng, out: &mut String| {
        if r.chance(10) {
            out.push_str([" ", "\n", "\t", "\r\n  "][r.below(4) as usize]);
        }
    };
    let container = depth < 22 && r.chance(if depth < 3 { 70 } else { 35 });
    if container && r.chance(50) {
        out.push('[');
        let n = r.below(5);
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            ws(r, out);
            gen_value(r, depth + 1, out);
            ws(r, out);
        }
        out.push(']');
    } else if container {
        out.push('{');
        let n = r.below(6);
        let mut seen = HashSet::new();
        let mut first = true;
        for _ in 0..n {
            let k = gen_string(r);
            if !seen.insert(k.clone()) {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            ws(r, out);
            write_string(r, &k, out);
            ws(r, out);
            out.push(':');
            ws(r, out);
            gen_value(r, depth + 1, out);
        }
        out.push('}');
    } else {
        match r.below(6) {
            0 => out.push_str(["true", "false", "null"][r.below(3) as usize]),
            1 | 2 => gen_number(r, out),
            _ => {
                let s = gen_string(r);
                write_string(r, &s, out);
            }
        }
    }
}

#[test]
fn canonical_json_matches_the_official_sdk() {
    const CASES: usize = 5000;
    let mut r = Rng(0x5EED_A1B2_C3D4_E5F6);
    let docs: Vec<String> = (0..CASES)
        .map(|_| {
            let mut s = String::new();
            gen_value(&mut r, 0, &mut s);
            s
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("armoriq-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("docs.json");
    std::fs::write(&input, serde_json::to_string(&docs).unwrap()).unwrap();

    let oracle = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/py/canon_oracle.py"
    );
    let out = Command::new(python())
        .arg(oracle)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), CASES);

    let (mut agreed, mut mismatches) = (0, Vec::new());
    for (doc, want) in docs.iter().zip(&lines) {
        let ours = canonical_bytes(doc.as_bytes(), Profile::ArmorIq);
        match (ours, want.strip_prefix("ERR ")) {
            (Ok(bytes), None) if hex(&bytes) == *want => agreed += 1,
            (ours, _) => mismatches.push(format!(
                "input {doc}\n  sdk  {}\n  ours {}",
                want.strip_prefix("ERR ")
                    .map_or_else(|| unhex_lossy(want), |e| format!("error {e}")),
                ours.map_or_else(
                    |e| format!("error {e}"),
                    |b| String::from_utf8_lossy(&b).into_owned()
                ),
            )),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {CASES} differ; first ones:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!("differential: {agreed} of {CASES} documents byte-identical with armoriq-sdk 0.8.17");
    std::fs::remove_dir_all(&dir).ok();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex_lossy(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
