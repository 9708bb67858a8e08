//! `armoriq demo`, the README's main job: it runs with nothing but the
//! binary (no Python, no network), exits 0, and shows each call's verdict,
//! the approved payment running once, and the audit rows.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

#[test]
fn the_demo_runs_the_loop_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_armoriq"))
        .arg("demo")
        // No Python, no network, no configuration: the demo needs none.
        .env_remove("ARMORIQ_API_KEY")
        .env_remove("ARMORIQ_BACKEND_URL")
        .env_remove("PROXY_ENDPOINT")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("run armoriq demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for (n, want) in [
        (1, "expected allowed; got allowed → Paris:"),
        (
            2,
            "expected IntentMismatch; got IntentMismatch: CallMismatch",
        ),
        (
            3,
            "expected IntentMismatch; got IntentMismatch: demo-mcp.delete_records is not a step",
        ),
        (
            4,
            "expected PolicyHold; got PolicyHold: hold:tools.send_payment#0",
        ),
        (5, "expected allowed; got allowed → paid 250.0 to acme"),
        (6, "is no unspent approval of this call"),
    ] {
        assert!(stdout.contains(want), "call {n}: {want:?} not in\n{stdout}");
    }
    assert!(!stdout.contains("UNEXPECTED"), "{stdout}");
    assert!(stdout.contains("payments made: 1\n"), "{stdout}");
    // The audit rows, in order, with the approver named.
    let outcomes: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("audit log"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.trim_start().starts_with("device:"))
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect();
    assert_eq!(
        outcomes,
        [
            "key_created",
            "minted",
            "allowed",
            "mismatched",
            "mismatched",
            "held",
            "approved",
            "allowed_delegated",
            "held"
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains("approved by Boss <boss@example.com> via admin"),
        "{stdout}"
    );
}
