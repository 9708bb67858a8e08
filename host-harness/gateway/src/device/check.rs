//! The proxy's device step: after the host's own check (token, plan, step,
//! policy), the call goes to the device, and is forwarded only on its
//! accept, with a receipt the gateway checks before it stores it in the
//! call's audit row.
//!
//! * Device refusal: the same error kinds as the host check (so the SDKs
//!   raise the same exceptions), the device's reason, and the audit row
//!   marks the disagreement (the host had accepted).
//! * Device full, silent, down, or answering with a receipt that does not
//!   verify against the enrolled key or does not name this call: 503, an
//!   audit row, nothing forwarded.

use super::link::{DeviceCall, DeviceFailure, DeviceLink, DeviceVerdict};
use crate::audit::{Audit, elapsed_us};
use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use armoriq_core::RustCrypto;
use armoriq_core::canon::Canonicalizer;
use armoriq_core::receipt::{self, DeviceKey, Receipt};
use armoriq_frame::RejectKind;
use std::time::Instant;

/// The call the host accepted, as the device is asked about it.
pub struct HostAccepted<'a> {
    /// The compact JWS.
    pub token: &'a str,
    /// The MCP server.
    pub mcp: &'a str,
    /// The tool.
    pub action: &'a str,
    /// The params JSON text (control members taken out).
    pub params: &'a str,
    /// The plan the token signed.
    pub plan: &'a ReadyPlan,
    /// The step the host matched.
    pub step: u64,
}

/// Asks the device about a call the host accepted; `Ok` means forward it.
/// Fills the audit row's device columns either way.
///
/// # Errors
/// The device's refusal as the host's error of the same kind, or
/// `DeviceUnavailable` (503).
pub async fn check_on_device(
    link: &DeviceLink,
    call: &HostAccepted<'_>,
    now: i64,
    audit: &mut Audit,
) -> GwResult<()> {
    let step = usize::try_from(call.step)
        .ok()
        .and_then(|i| call.plan.steps.get(i))
        .ok_or_else(|| GatewayError::Internal(format!("step {} not in plan", call.step)))?;
    let dc = DeviceCall {
        now,
        token: call.token.to_owned(),
        mcp: call.mcp.to_owned(),
        action: call.action.to_owned(),
        params: call.params.to_owned(),
        step: step.json.clone(),
        index: call.step,
        tree_size: u64::try_from(call.plan.steps.len()).unwrap_or(u64::MAX),
        siblings: step.siblings.clone(),
    };
    let t0 = Instant::now();
    let verdict = link.verify(dc).await;
    audit.row.device_latency_us = Some(elapsed_us(t0));
    match verdict {
        Ok(DeviceVerdict::Accepted { receipt, leaf_hash }) => {
            let checked = authentic(link, call, &receipt, &leaf_hash);
            audit.row.receipt = Some(hex::encode(receipt));
            match checked {
                Ok(counter) => {
                    audit.row.device_verdict = Some(format!("accepted #{counter}"));
                    Ok(())
                }
                Err(why) => {
                    audit.row.device_verdict = Some(format!("receipt_invalid: {why}"));
                    Err(GatewayError::DeviceUnavailable(format!(
                        "the device's receipt does not check: {why}"
                    )))
                }
            }
        }
        Ok(DeviceVerdict::Refused { kind, error }) => {
            tracing::warn!(
                tool = call.action, %error, kind = kind.as_str(),
                "host and device disagree: the host accepted, the device refused"
            );
            audit.row.device_verdict = Some(format!("refused: {}: {error}", kind.as_str()));
            let msg = format!(
                "{error}: refused by the verifier device (the host check had accepted: \
                 host and device disagree)"
            );
            Err(match kind {
                RejectKind::TokenExpired => GatewayError::TokenExpired(msg),
                RejectKind::IntentMismatch => GatewayError::IntentMismatch(msg),
                RejectKind::InvalidToken | RejectKind::InvalidInput => {
                    GatewayError::InvalidToken(msg)
                }
            })
        }
        Err(f) => {
            audit.row.device_verdict = Some(failure_verdict(&f));
            Err(GatewayError::DeviceUnavailable(f.to_string()))
        }
    }
}

fn failure_verdict(f: &DeviceFailure) -> String {
    match f {
        DeviceFailure::QueueFull => "queue_full".into(),
        DeviceFailure::Timeout => "timeout".into(),
        DeviceFailure::Unreachable(m) => format!("unreachable: {m}"),
    }
}

/// The receipt is the enrolled device's signature over this very call (the
/// token's `jti`, the step's leaf hash, the call's hash): its counter.
fn authentic(
    link: &DeviceLink,
    call: &HostAccepted<'_>,
    bytes: &[u8],
    leaf_hash: &[u8; 32],
) -> Result<u64, String> {
    let r = Receipt::parse(bytes).map_err(|e| e.name().to_owned())?;
    let pk = link.info.key();
    let key = DeviceKey::<RustCrypto>::parse(super::enrolled::receipt_alg(link.info.alg), pk)
        .map_err(|e| e.name().to_owned())?;
    r.verify(pk, &key).map_err(|e| e.name().to_owned())?;
    let mut buf = vec![0u8; call.token.len()];
    let jti =
        receipt::jti_hash(call.token.as_bytes(), &mut buf).map_err(|e| e.name().to_owned())?;
    let mut canon = Canonicalizer::<32, 256>::new();
    let ch = receipt::call_hash(
        &mut canon,
        call.mcp,
        call.action,
        Some(call.params.as_bytes()),
    )
    .map_err(|e| e.name().to_owned())?;
    if r.body.jti_hash != jti || r.body.leaf_hash != *leaf_hash || r.body.call_hash != ch {
        return Err("it names another call".into());
    }
    Ok(r.body.counter)
}
