//! Tests of `logs --verify-receipts` ([`super`]): both receipt algorithms,
//! version-1 receipts, every kind of damage, and restarts.
#![allow(clippy::unwrap_used)]
use super::*;
use armoriq_common::keys::SigningKey;
use armoriq_core::Alg;
use armoriq_core::counter::BLOCK;
use armoriq_core::receipt::{ReceiptAlg, ReceiptBody, VERDICT_ACCEPTED, device_id};

fn key(alg: Alg) -> (SigningKey, EnrolledKey) {
    let (key, _) = SigningKey::generate(alg).unwrap();
    let alg = match alg {
        Alg::EdDsa => ReceiptAlg::Ed25519,
        Alg::Es256 => ReceiptAlg::Es256,
    };
    let bytes = key.public().raw;
    (key, EnrolledKey { alg, bytes })
}

/// A row holding the receipt of `(boot, counter)` signed by `key`
/// (version 2; version 1 when `v1`).
fn row(key: &SigningKey, pk: &EnrolledKey, id: i64, boot: u32, counter: u64, v1: bool) -> AuditRow {
    let body = ReceiptBody {
        version: 2,
        alg: pk.alg,
        device_id: device_id(&pk.bytes),
        boot,
        counter,
        jti_hash: [1; 32],
        leaf_hash: [2; 32],
        call_hash: [3; 32],
        verdict: VERDICT_ACCEPTED,
    };
    let signed = if v1 {
        body.to_v1_bytes().to_vec()
    } else {
        body.to_bytes().to_vec()
    };
    let sig = key.sign(&signed).unwrap();
    AuditRow {
        id,
        device_verdict: Some(format!("accepted #{counter}")),
        receipt: Some(hex::encode([signed.as_slice(), &sig].concat())),
        ..Default::default()
    }
}

/// Rows holding receipts 1..=n of boot 1.
fn rows(key: &SigningKey, pk: &EnrolledKey, n: u64) -> Vec<AuditRow> {
    (1..=n)
        .map(|c| row(key, pk, i64::try_from(c).unwrap(), 1, c, false))
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
    for alg in [Alg::EdDsa, Alg::Es256] {
        let (key, pk) = key(alg);
        let good = rows(&key, &pk, 5);
        let r = verify_receipts(&good, &pk).unwrap();
        assert_eq!((r.verified, r.counters), (5, Some((1, 5))), "{alg:?}");
        assert!(r.findings.is_empty() && r.restarts.is_empty());

        let mut altered = good.clone();
        let text = altered[2].receipt.as_mut().unwrap();
        // A hex digit inside the jti hash (byte 40).
        let flipped = if text.as_bytes()[80] == b'0' {
            "1"
        } else {
            "0"
        };
        text.replace_range(80..81, flipped);
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

        let (_, other_pk) = self::key(alg);
        let r = verify_receipts(&good, &other_pk).unwrap();
        assert_eq!(r.verified, 0);
        assert!(
            problems(&r)
                .iter()
                .all(|(_, p)| *p == "ReceiptDeviceMismatch")
        );
    }
}

#[test]
fn a_receipt_of_the_other_algorithm_does_not_verify() {
    let (ed, ed_pk) = key(Alg::EdDsa);
    let (_, es_pk) = key(Alg::Es256);
    // Signed by the Ed25519 key, but naming the ES256 device.
    let forged = EnrolledKey {
        alg: ReceiptAlg::Ed25519,
        bytes: es_pk.bytes.clone(),
    };
    let rows = vec![row(&ed, &forged, 1, 1, 1, false)];
    assert_eq!(
        problems(&verify_receipts(&rows, &es_pk).unwrap()),
        [(1, "BadSignature")]
    );
    assert!(verify_receipts(&rows, &ed_pk).unwrap().verified == 0);
}

#[test]
fn version_1_receipts_still_verify() {
    let (key, pk) = key(Alg::EdDsa);
    let rows: Vec<_> = (1..=3)
        .map(|c| row(&key, &pk, c as i64, 0, c, true))
        .collect();
    let r = verify_receipts(&rows, &pk).unwrap();
    assert_eq!(r.verified, 3);
    assert!(r.findings.is_empty());
}

#[test]
fn a_restart_is_reported_and_removed_rows_around_it_are_found() {
    let (key, pk) = key(Alg::Es256);
    // Boot 1 signs 1..=3; boot 2 starts at the next block.
    let mut log: Vec<_> = (1..=3)
        .map(|c| row(&key, &pk, c as i64, 1, c, false))
        .collect();
    for (i, c) in (BLOCK + 1..=BLOCK + 3).enumerate() {
        log.push(row(&key, &pk, 4 + i as i64, 2, c, false));
    }
    let r = verify_receipts(&log, &pk).unwrap();
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(
        r.restarts,
        [Restart {
            row: 4,
            boot: 2,
            from: 4,
            to: BLOCK + 1
        }]
    );
    // The new boot's first receipt removed: a gap, not a restart.
    let mut cut = log.clone();
    cut.remove(3);
    let r = verify_receipts(&cut, &pk).unwrap();
    assert_eq!(problems(&r), [(5, "ReceiptCounterGap")]);
    // A receipt in the middle of boot 1 removed: a gap.
    let mut cut = log.clone();
    cut.remove(1);
    assert_eq!(
        problems(&verify_receipts(&cut, &pk).unwrap()),
        [(3, "ReceiptCounterGap")]
    );
}
