//! The throwaway PostgreSQL that `bash scripts/pg.sh` starts for the tests:
//! its admin URL (`ARMORIQ_TEST_PG_URL`), a fresh database per test, and
//! stopping or starting the server (`ARMORIQ_TEST_PG_CTL`).
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::process::Command;

/// The admin URL, or `None` (the caller skips, printing SKIPPED) when the
/// tests do not run under `scripts/pg.sh`; under `CI=true` it must be set.
pub fn admin_url() -> Option<String> {
    match std::env::var("ARMORIQ_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "ARMORIQ_TEST_PG_URL is not set (CI=true): run the tests under `bash scripts/pg.sh`"
            );
            eprintln!("SKIPPED: ARMORIQ_TEST_PG_URL is not set (run under bash scripts/pg.sh)");
            None
        }
    }
}

/// Runs SQL on the admin database with `psql`.
pub fn psql(admin: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([admin, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A new, empty database on the test server; its URL.
pub fn fresh_database(admin: &str) -> String {
    let name = format!("armoriq_n_{}", uuid::Uuid::new_v4().simple());
    psql(admin, &format!("CREATE DATABASE {name}"));
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// `stop`, `start`, `restart` or `kill` the test server.
pub fn ctl(action: &str) {
    let script = std::env::var("ARMORIQ_TEST_PG_CTL").expect("ARMORIQ_TEST_PG_CTL (scripts/pg.sh)");
    let out = Command::new("bash")
        .arg(script)
        .arg(action)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg ctl {action}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
