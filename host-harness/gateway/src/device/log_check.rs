//! `armoriq logs --verify-receipts`: from the audit log alone, that the
//! enrolled device accepted each call it was asked about. Every receipt must
//! verify against the enrolled key (armoriq-core's strict Ed25519) and name
//! that device; their counters, read in log order, must go up one at a time
//! (a gap is a removed row, a repeat a copied or replayed one); and a row
//! whose device verdict is "accepted" must hold its receipt.

use crate::store::AuditRow;
use armoriq_core::RustCrypto;
use armoriq_core::receipt::{Receipt, Sequence};
use armoriq_core::sig::Backend;

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
}

/// Checks every receipt of `rows` (in log order) against `public_key`.
///
/// # Errors
/// The enrolled key is not an Ed25519 key.
pub fn verify_receipts(rows: &[AuditRow], public_key: &[u8; 32]) -> Result<ReceiptReport, String> {
    let key = RustCrypto::ed25519_key(public_key).map_err(|e| format!("enrolled key: {e}"))?;
    let mut seq = Sequence::new();
    let mut report = ReceiptReport::default();
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
        // The counter first: an altered receipt still takes its place in
        // the sequence (so it is reported once, not also as a gap).
        let counted = seq.next(r.body.counter);
        match r.verify::<RustCrypto>(public_key, &key) {
            Ok(()) => report.verified += 1,
            Err(e) => find(format!("{}: {e}", e.name())),
        }
        if let Err(e) = counted {
            find(format!("{}: {e}", e.name()));
        }
        let c = r.body.counter;
        report.counters = Some(report.counters.map_or((c, c), |(lo, _)| (lo, c)));
    }
    Ok(report)
}
