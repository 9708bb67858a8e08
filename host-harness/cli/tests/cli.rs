//! The `armoriq` binary as scripts see it: bytes on stdout, one error line on
//! stderr, exit codes 0 / 1 / 2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn armoriq(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_armoriq"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("armoriq-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn canon_writes_bytes_without_newline() {
    let out = armoriq(&["canon"], br#" {"b": [1, 2.50, "\u00e9"], "a": -0} "#);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, br#"{"a":0,"b":[1,2.5,"\u00e9"]}"#);
    let out = armoriq(
        &["canon", "--profile", "jcs", "-"],
        br#"{"b":1e21,"a":"\u00e9"}"#,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, "{\"a\":\"é\",\"b\":1e+21}".as_bytes());
}

#[test]
fn canon_reads_a_file() {
    let d = tmpdir("file");
    let f = write(&d, "in.json", br#"{"z":null,"a":[true,false]}"#);
    let out = armoriq(&["canon", &f], b"");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, br#"{"a":[true,false],"z":null}"#);
}

#[test]
fn canon_bad_input_is_exit_2_with_one_line_naming_kind_and_offset() {
    for (input, variant, offset) in [
        (&br#"{"a":1,"a":2}"#[..], "DuplicateKey", "byte 7"),
        (b"[1,2", "UnexpectedEnd", "byte 4"),
        (b"[NaN]", "NonFiniteNumber", "byte 1"),
        (b"\"\\ud800\"", "LoneSurrogate", "byte 1"),
        (b"[01]", "InvalidNumber", "byte 1"),
        (b"\"\xff\"", "InvalidUtf8", "byte 1"),
        (b"{} x", "TrailingData", "byte 3"),
    ] {
        let out = armoriq(&["canon"], input);
        assert_eq!(out.status.code(), Some(2), "{input:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: InvalidInput: "), "{err}");
        assert!(
            err.contains(variant) && err.contains(offset),
            "{input:?}: {err}"
        );
    }
    let out = armoriq(&["canon", "/nonexistent/file.json"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn plan_hash_prints_the_four_fields_and_proofs_verify() {
    let plan = br#"{"goal":"g","steps":[
        {"action":"a","mcp":"m","params":{"x":1}},
        {"action":"b","mcp":"m"},
        {"action":"c","mcp":"n","params":{"y":[1,2]}}]}"#;
    let out = armoriq(&["plan", "hash"], plan);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["merkle_root", "ordered_paths", "plan_hash", "step_proofs"]
    );
    assert_eq!(
        v["ordered_paths"],
        serde_json::json!(["/steps/[0]", "/steps/[1]", "/steps/[2]"])
    );
    // plan_hash is the SHA-256 of the canonical bytes `armoriq canon` prints.
    let canon = armoriq(&["canon"], plan).stdout;
    let want = {
        use sha2::Digest;
        hex(&sha2::Sha256::digest(&canon))
    };
    assert_eq!(v["plan_hash"], want.as_str());

    let root = v["merkle_root"].as_str().unwrap().to_owned();
    let steps: serde_json::Value = serde_json::from_slice(plan).unwrap();
    let d = tmpdir("verify");
    for i in 0..3 {
        let proof = write(
            &d,
            &format!("p{i}.json"),
            v["step_proofs"][i].to_string().as_bytes(),
        );
        let step = write(
            &d,
            &format!("s{i}.json"),
            steps["steps"][i].to_string().as_bytes(),
        );
        let ok = armoriq(
            &[
                "plan",
                "verify-step",
                "--merkle-root",
                &root,
                "--proof",
                &proof,
                "--step",
                &step,
            ],
            b"",
        );
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        // The same proof with another step: not in the tree.
        let other = write(
            &d,
            "other.json",
            steps["steps"][(i + 1) % 3].to_string().as_bytes(),
        );
        let no = armoriq(
            &[
                "plan",
                "verify-step",
                "--merkle-root",
                &root,
                "--proof",
                &proof,
                "--step",
                &other,
            ],
            b"",
        );
        assert_eq!(no.status.code(), Some(1));
        // A changed sibling, index or size: not in the tree.
        for mutate in ["sibling", "index", "size"] {
            let mut p = v["step_proofs"][i].clone();
            p.as_object_mut().unwrap().remove("leaf_hash");
            p.as_object_mut().unwrap().remove("proof");
            match mutate {
                "sibling" => {
                    let s = p["siblings"][0].as_str().unwrap().to_owned();
                    let flipped = flip_first_hex_digit(&s);
                    p["siblings"][0] = flipped.into();
                }
                "index" => p["index"] = ((i + 1) % 3).into(),
                _ => p["tree_size"] = 1.into(),
            }
            let bad = write(&d, "bad.json", p.to_string().as_bytes());
            let no = armoriq(
                &[
                    "plan",
                    "verify-step",
                    "--merkle-root",
                    &root,
                    "--proof",
                    &bad,
                    "--step",
                    &step,
                ],
                b"",
            );
            assert_eq!(no.status.code(), Some(1), "{mutate} step {i}");
        }
    }
    // RFC 9162 proofs do not bind the tree size by themselves: index 0 of 3
    // and of 4 leaves share a path. `--tree-size` binds it to the signed count.
    let mut p = v["step_proofs"][0].clone();
    p["tree_size"] = 4.into();
    let p4 = write(&d, "p4.json", p.to_string().as_bytes());
    let s0 = write(&d, "s0.json", steps["steps"][0].to_string().as_bytes());
    let args = [
        "plan",
        "verify-step",
        "--merkle-root",
        &root,
        "--proof",
        &p4,
        "--step",
        &s0,
    ];
    assert_eq!(armoriq(&args, b"").status.code(), Some(0));
    let mut bound = args.to_vec();
    bound.extend(["--tree-size", "3"]);
    assert_eq!(armoriq(&bound, b"").status.code(), Some(1));

    // Unusable input: exit 2.
    let proof = write(&d, "p.json", b"{not json");
    let step = write(&d, "s.json", steps["steps"][0].to_string().as_bytes());
    let bad = armoriq(
        &[
            "plan",
            "verify-step",
            "--merkle-root",
            &root,
            "--proof",
            &proof,
            "--step",
            &step,
        ],
        b"",
    );
    assert_eq!(bad.status.code(), Some(2));
    let proof = write(&d, "p.json", v["step_proofs"][0].to_string().as_bytes());
    let bad = armoriq(
        &[
            "plan",
            "verify-step",
            "--merkle-root",
            "zz",
            "--proof",
            &proof,
            "--step",
            &step,
        ],
        b"",
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn invalid_plans_exit_2_with_the_validation_message() {
    for (plan, msg) in [
        (&b"[]"[..], "plan must be a JSON object"),
        (b"{}", "plan must contain a 'steps' member"),
        (br#"{"steps":{}}"#, "plan 'steps' must be an array"),
        (br#"{"steps":[]}"#, "plan 'steps' must not be empty"),
        (br#"{"steps":[1]}"#, "steps[0] must be an object"),
        (
            br#"{"steps":[{"mcp":"m","action":"a"},{"mcp":"m"}]}"#,
            "steps[1] has no 'action'",
        ),
        (
            br#"{"steps":[{"mcp":"m","action":7}]}"#,
            "steps[0].action must be a string",
        ),
        (
            br#"{"steps":[{"mcp":"","action":"a"}]}"#,
            "steps[0].mcp must not be empty",
        ),
        (
            br#"{"steps":[{"mcp":"m","action":"a","params":[]}]}"#,
            "steps[0].params must be an object",
        ),
    ] {
        let out = armoriq(&["plan", "hash"], plan);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(msg), "{err}");
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn flip_first_hex_digit(s: &str) -> String {
    match s.strip_prefix('0') {
        Some(rest) => format!("1{rest}"),
        None => format!("0{}", &s[1..]),
    }
}
