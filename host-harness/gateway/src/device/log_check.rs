//! `armoriq logs --verify-receipts`: from the audit log alone, that the
//! enrolled device accepted each call it was asked about. Every receipt must
//! verify against the enrolled key (armoriq-core's strict Ed25519) and name
//! that device; their counters, taken in counter order, must go up one at a
//! time (a gap is a removed row, a repeat a copied or replayed one); and a
//! row whose device verdict is "accepted" must hold its receipt. Counter
//! order, not log order: the device numbers calls as it answers them, and
//! concurrent calls' rows may commit in another order.

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
    let mut report = ReceiptReport::default();
    let mut counters: Vec<(u64, i64)> = Vec::new();
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
        match r.verify::<RustCrypto>(public_key, &key) {
            Ok(()) => report.verified += 1,
            Err(e) => find(format!("{}: {e}", e.name())),
        }
        // Counted even when it does not verify: an altered receipt keeps its
        // place in the sequence (reported once, not also as a gap).
        counters.push((r.body.counter, row.id));
    }
    counters.sort_unstable();
    let mut seq = Sequence::new();
    for &(c, row) in &counters {
        if let Err(e) = seq.next(c) {
            report.findings.push(Finding {
                row,
                problem: format!("{}: {e}", e.name()),
            });
        }
    }
    report.counters = counters
        .first()
        .zip(counters.last())
        .map(|(a, b)| (a.0, b.0));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use armoriq_common::keys::SigningKey;
    use armoriq_core::Alg;
    use armoriq_core::receipt::{ReceiptBody, VERDICT_ACCEPTED, device_id};

    /// Rows holding receipts 1..=n signed by `key`.
    fn rows(key: &SigningKey, pk: &[u8; 32], n: u64) -> Vec<AuditRow> {
        (1..=n)
            .map(|counter| {
                let body = ReceiptBody {
                    device_id: device_id(pk),
                    counter,
                    jti_hash: [1; 32],
                    leaf_hash: [2; 32],
                    call_hash: [3; 32],
                    verdict: VERDICT_ACCEPTED,
                }
                .to_bytes();
                let sig = key.sign(&body).unwrap();
                AuditRow {
                    id: i64::try_from(counter).unwrap(),
                    device_verdict: Some(format!("accepted #{counter}")),
                    receipt: Some(hex::encode([body.as_slice(), &sig].concat())),
                    ..Default::default()
                }
            })
            .collect()
    }

    fn problems(r: &ReceiptReport) -> Vec<(i64, &str)> {
        r.findings
            .iter()
            .map(|f| (f.row, f.problem.split(':').next().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn a_whole_log_verifies_and_every_kind_of_damage_is_found() {
        let (key, _) = SigningKey::generate(Alg::EdDsa).unwrap();
        let pk: [u8; 32] = key.public().raw.try_into().unwrap();
        let good = rows(&key, &pk, 5);
        let r = verify_receipts(&good, &pk).unwrap();
        assert_eq!((r.verified, r.counters), (5, Some((1, 5))));
        assert!(r.findings.is_empty());

        let mut altered = good.clone();
        let text = altered[2].receipt.as_mut().unwrap();
        let flipped = if text.as_bytes()[60] == b'0' {
            "1"
        } else {
            "0"
        };
        text.replace_range(60..61, flipped);
        assert_eq!(
            problems(&verify_receipts(&altered, &pk).unwrap()),
            [(3, "BadSignature")]
        );

        let mut removed = good.clone();
        removed.remove(2);
        assert_eq!(
            problems(&verify_receipts(&removed, &pk).unwrap()),
            [(4, "ReceiptCounterGap")]
        );

        let mut repeated = good.clone();
        repeated.insert(3, good[2].clone());
        assert_eq!(
            problems(&verify_receipts(&repeated, &pk).unwrap()),
            [(3, "ReceiptCounterRepeat")]
        );

        let mut stripped = good.clone();
        stripped[4].receipt = None;
        assert_eq!(
            problems(&verify_receipts(&stripped, &pk).unwrap()),
            [(
                5,
                "the device accepted this call but the row holds no receipt"
            )]
        );

        let (other, _) = SigningKey::generate(Alg::EdDsa).unwrap();
        let other_pk: [u8; 32] = other.public().raw.try_into().unwrap();
        let r = verify_receipts(&good, &other_pk).unwrap();
        assert_eq!(r.verified, 0);
        assert!(
            problems(&r)
                .iter()
                .all(|(_, p)| *p == "ReceiptDeviceMismatch")
        );
    }
}
