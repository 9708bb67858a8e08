//! Issue 29 end to end: an approval covers exactly the call a person
//! approved, once, until it expires, and every decision is an audit row
//! naming who made it, whichever surface they used (`armoriq approve`, the
//! JSON route, the console). Driven by the unmodified official Python SDK
//! (`scripts/py/sdk_scenarios.py`: `bound_approval`, `approval_expires`)
//! against `armoriq serve` with a real MCP server, on SQLite and on
//! PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use armoriq_gateway::store::{AuditRow, DelegationStatus};
use serde_json::Value;

#[macro_use]
mod common;
use common::free_port;
use common::gateway::{Backend, Gateway, MCP, exception, python};

on_both_backends!(
    an_approval_covers_exactly_the_approved_call
    approvals_expire
);

/// The rows a scenario added, after `before`.
fn rows_since(g: &Gateway, before: armoriq_gateway::store::AuditCursor) -> Vec<AuditRow> {
    g.audit_after(before)
}

fn outcomes(rows: &[AuditRow]) -> Vec<&str> {
    rows.iter().map(|r| r.outcome.as_str()).collect()
}

fn an_approval_covers_exactly_the_approved_call(backend: Backend) {
    if common::python().is_none() {
        return;
    }
    let mcp_port = free_port();
    let _mcp = common::start_mcp(&python(), MCP, mcp_port);
    let Some(g) = Gateway::new(backend, mcp_port, true, &[]) else {
        return;
    };
    // The policy's hold names boss@example.com as the approver.
    let boss = g.cli(&[
        "keys",
        "create",
        "--admin",
        "--name",
        "Boss",
        "--email",
        "boss@example.com",
    ]);
    for (way, route) in [("cli", "cli"), ("api", "admin"), ("console", "console")] {
        let before = g.last_audit();
        let v = g.scenario_env(
            "bound_approval",
            &[("APPROVE_VIA", way), ("BOSS_ADMIN_KEY", boss.as_str())],
        );
        let first = v["first"]["held"]
            .as_str()
            .expect("acme was held")
            .to_owned();
        assert_eq!(exception(&v["first"]), "PolicyHoldException", "{way}: {v}");
        // Mallory's call naming acme's approval is held as its own call:
        // nothing is paid to mallory.
        assert_eq!(
            exception(&v["mallory"]),
            "PolicyHoldException",
            "{way}: {v}"
        );
        let mallory_hold = v["mallory"]["held"].as_str().unwrap().to_owned();
        assert_ne!(mallory_hold, first, "{way}: {v}");
        // The approved call runs, once.
        assert_eq!(exception(&v["acme"]), "none", "{way}: {v}");
        assert_eq!(v["acme"]["text"], "paid 5000.0 to acme", "{way}: {v}");
        assert_eq!(
            exception(&v["acme_again"]),
            "PolicyHoldException",
            "{way}: {v}"
        );
        // The log: the approval is a row naming the approver and the call.
        let rows = rows_since(&g, before);
        assert_eq!(
            outcomes(&rows),
            [
                "minted",
                "held",
                "approved",
                "held",
                "allowed_delegated",
                "held"
            ],
            "{way}: {rows:#?}"
        );
        let approved = &rows[2];
        assert_eq!(approved.route, route, "{way}");
        let actor = approved.actor.as_deref().unwrap_or_default();
        assert!(actor.contains("boss@example.com"), "{way}: {approved:?}");
        let reason = approved.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains(&first) && reason.contains("\"recipient\":\"acme\""),
            "{way}: {reason}"
        );
        assert_eq!(
            (approved.step, approved.tool.as_deref()),
            (Some(0), Some("send_payment"))
        );
        assert!(
            rows[3]
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("is no unspent approval of this call"),
            "{way}: {:?}",
            rows[3]
        );
        assert_eq!((rows[3].step, rows[4].step), (Some(1), Some(0)), "{way}");
        assert!(
            rows[4]
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains(&first),
            "{way}: {:?}",
            rows[4]
        );
        // The store agrees: acme's delegation executed, mallory's waits.
        let (a, m) = (first.clone(), mallory_hold.clone());
        let (a, m) = g.with_store(move |s| {
            Box::pin(async move {
                let now = armoriq_gateway::now_ms();
                Ok((
                    s.get_delegation(&a, now).await?.unwrap(),
                    s.get_delegation(&m, now).await?.unwrap(),
                ))
            })
        });
        assert_eq!(a.status, DelegationStatus::Executed, "{way}");
        assert_eq!(a.decided_by.as_deref(), Some("boss@example.com"), "{way}");
        assert_eq!(
            (m.status, m.step, m.arguments.as_str()),
            (
                DelegationStatus::Pending,
                Some(1),
                r#"{"amount":9000,"recipient":"mallory"}"#
            ),
            "{way}"
        );
        println!("{way}: {}", serde_json::to_string(&v).unwrap_or_default());
    }
}

fn approvals_expire(backend: Backend) {
    if common::python().is_none() {
        return;
    }
    let mcp_port = free_port();
    let _mcp = common::start_mcp(&python(), MCP, mcp_port);
    let Some(g) = Gateway::new(backend, mcp_port, true, &["--approval-ttl", "2"]) else {
        return;
    };
    let before = g.last_audit();
    let v: Value = g.scenario_env("approval_expires", &[("APPROVAL_TTL", "2")]);
    // The SDK's waiting invoke_with_policy raises its DelegationException
    // once the held call's delegation reads as expired.
    assert_eq!(exception(&v["waited"]), "DelegationException", "{v}");
    assert!(
        v["waited"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{v}"
    );
    // An approval not used before its own expiry lets nothing through.
    assert_eq!(v["approval"]["exit"], 0, "{v}");
    assert_eq!(exception(&v["late"]), "PolicyHoldException", "{v}");
    assert_ne!(v["late"]["held"], v["held"]["held"], "{v}");
    let held = v["held"]["held"].as_str().unwrap().to_owned();
    let d = g.with_store(move |s| {
        Box::pin(async move { s.get_delegation(&held, armoriq_gateway::now_ms()).await })
    });
    assert_eq!(d.unwrap().status, DelegationStatus::Expired);
    let rows = g.audit_after(before);
    assert!(
        outcomes(&rows).starts_with(&["minted", "held", "held", "approved", "held"]),
        "{rows:#?}"
    );
}
