//! `armoriq logs --verify-receipts`: from the audit log alone, that the
//! enrolled device accepted each call it was asked about. Every receipt must
//! verify against the enrolled key (armoriq-core: strict Ed25519 or ECDSA
//! P-256, the receipt's algorithm must be the key's) and name that device;
//! their counters, taken in counter order, must go up one at a time within
//! a boot (a gap is a removed row, a repeat a copied or replayed one), and a
//! later boot's first counter must be the first of a counter block (a
//! restart: reported, not a finding; `armoriq_core::counter`); and a row
//! whose device verdict is "accepted" must hold its receipt. Counter order,
//! not log order: the device numbers calls as it answers them, and
//! concurrent calls' rows may commit in another order.

use super::enrolled::EnrolledKey;
use crate::store::AuditRow;
use armoriq_core::RustCrypto;
use armoriq_core::receipt::{DeviceKey, Receipt, Sequence, Step};

/// One problem found in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The audit row's id.
    pub row: i64,
    /// What is wrong (the core error's name and message).
    pub problem: String,
}

/// What the check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptReport {
    /// Receipts that verified.
    pub verified: usize,
    /// The first and last counter seen.
    pub counters: Option<(u64, u64)>,
    /// Problems, in log order.
    pub findings: Vec<Finding>,
    /// Restarts of the device: the row of a later boot's first receipt and
    /// the counters its restart skipped (`from..to`, never signed).
    pub restarts: Vec<Restart>,
}

/// A device restart seen in the receipts' counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restart {
    /// The audit row of the new boot's first receipt.
    pub row: i64,
    /// The new boot's number.
    pub boot: u32,
    /// The first counter skipped.
    pub from: u64,
    /// The new boot's first counter.
    pub to: u64,
}

/// Checks every receipt of `rows` (in log order) against the enrolled key.
///
/// # Errors
/// The enrolled key is not a key of its algorithm.
pub fn verify_receipts(rows: &[AuditRow], enrolled: &EnrolledKey) -> Result<ReceiptReport, String> {
    let public_key = enrolled.bytes.as_slice();
    let key = DeviceKey::<RustCrypto>::parse(enrolled.alg, public_key)
        .map_err(|e| format!("enrolled key: {e}"))?;
    let mut report = ReceiptReport::default();
    let mut counters: Vec<(u64, u32, i64)> = Vec::new();
    for row in rows {
        let mut find = |problem: String| {
            report.findings.push(Finding {
                row: row.id,
                problem,
            });
        };
        let Some(text) = &row.receipt else {
            if row
                .device_verdict
                .as_deref()
                .is_some_and(|v| v.starts_with("accepted"))
            {
                find("the device accepted this call but the row holds no receipt".into());
            }
            continue;
        };
        let Some(bytes) = hex::decode(text).ok() else {
            find("the receipt is not hex".into());
            continue;
        };
        let r = match Receipt::parse(&bytes) {
            Ok(r) => r,
            Err(e) => {
                find(format!("{}: {e}", e.name()));
                continue;
            }
        };
        match r.verify(public_key, &key) {
            Ok(()) => report.verified += 1,
            Err(e) => find(format!("{}: {e}", e.name())),
        }
        // Counted even when it does not verify: an altered receipt keeps its
        // place in the sequence (reported once, not also as a gap).
        counters.push((r.body.counter, r.body.boot, row.id));
    }
    counters.sort_unstable();
    let mut seq = Sequence::new();
    for &(c, boot, row) in &counters {
        match seq.next(boot, c) {
            Ok(Step::Next) => {}
            Ok(Step::Restart { from, to }) => report.restarts.push(Restart {
                row,
                boot,
                from,
                to,
            }),
            Err(e) => report.findings.push(Finding {
                row,
                problem: format!("{}: {e}", e.name()),
            }),
        }
    }
    report.counters = counters
        .first()
        .zip(counters.last())
        .map(|(a, b)| (a.0, b.0));
    Ok(report)
}

#[cfg(test)]
#[path = "log_check_tests.rs"]
mod tests;
