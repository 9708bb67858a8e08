//! LLM token usage: `record_token_usage`, `initialize_usage_stream`,
//! `reset_usage_stream`, `record_token_usage_batch`, `report_usage_run`.
//! As in the official SDK, only a bad argument is an error (`InvalidInput`,
//! the SDK's `ValueError`, before anything is sent); transport and HTTP
//! failures come back as `{"ok": false, …}`.

use crate::client::ArmorIQClient;
use crate::error::{ArmorIqError, Result};
use crate::http::{self, Body};
use serde_json::{Value, json};
use std::time::Duration;

/// The usage calls' timeout (the SDK's `USAGE_SYNC_TIMEOUT_MS`).
const USAGE_TIMEOUT: Duration = Duration::from_millis(5000);

/// Whether `d` is a real `YYYY-MM-DD` calendar date.
fn is_usage_date(d: &str) -> bool {
    let b = d.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = d.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(day)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1 && (1..=days).contains(&day)
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok_and(|u| (1..=8).contains(&u.get_version_num()))
}

fn invalid(reason: &str) -> Value {
    json!({"ok": false, "retryable": false, "reason": reason})
}

impl ArmorIQClient {
    /// `record_token_usage(product, session_id, entries, usage_date,
    /// usage_hour, repo, device_id, device_name, armored)`: one session's
    /// per-model counts for one UTC hour; posting the same hour again
    /// replaces them.
    ///
    /// # Errors
    /// `InvalidInput` naming `usage_date` or `usage_hour`.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_token_usage(
        &self,
        product: &str,
        session_id: &str,
        entries: &[Value],
        usage_date: &str,
        usage_hour: u8,
        repo: Option<&str>,
        device_id: Option<&str>,
        device_name: Option<&str>,
        armored: Option<bool>,
    ) -> Result<Value> {
        if !is_usage_date(usage_date) {
            return Err(ArmorIqError::InvalidInput(format!(
                "usage_date must be a UTC calendar date as YYYY-MM-DD, got {usage_date:?}"
            )));
        }
        if usage_hour > 23 {
            return Err(ArmorIqError::InvalidInput(format!(
                "usage_hour must be an integer from 0 to 23 (UTC hour of usage_date), got {usage_hour}"
            )));
        }
        if entries.is_empty() {
            return Ok(json!({"ok": true, "recorded": 0}));
        }
        let body = Body::new()
            .put("product", &product)
            .put("sessionId", &session_id)
            .put("entries", &entries)
            .put("usageDate", &usage_date)
            .put("usageHour", &usage_hour)
            .opt("repo", repo.filter(|s| !s.is_empty()).as_ref())
            .opt("deviceId", device_id.filter(|s| !s.is_empty()).as_ref())
            .opt("deviceName", device_name.filter(|s| !s.is_empty()).as_ref())
            .opt("armored", armored.as_ref())
            .finish();
        let url = format!("{}/dashboard/token-usage", self.backend_endpoint());
        let o = self.options();
        match http::retry_post(
            self.http(),
            &url,
            &[self.key_header()],
            &body,
            o.max_retries,
            o.backoff,
            None,
        )
        .await
        {
            Ok(r) => Ok(json!({
                "ok": r.status < 400, "status": r.status,
                "recorded": if r.status < 400 { r.json().and_then(|j| j.get("recorded").cloned()) } else { None },
            })),
            Err(e) => Ok(json!({"ok": false, "reason": e.message})),
        }
    }

    /// `initialize_usage_stream()`: the device key's stream generation.
    pub async fn initialize_usage_stream(&self) -> Value {
        self.usage_call("POST", "/dashboard/token-usage/stream", "{}", |d| {
            d.get("generation")
                .and_then(Value::as_str)
                .is_some_and(is_uuid)
        })
        .await
    }

    /// `reset_usage_stream(generation, reset_id)`.
    pub async fn reset_usage_stream(&self, generation: &str, reset_id: &str) -> Value {
        if !is_uuid(generation) || !is_uuid(reset_id) {
            return invalid("generation and resetId must be UUIDs");
        }
        let body = json!({"generation": generation, "resetId": reset_id}).to_string();
        self.usage_call("POST", "/dashboard/token-usage/stream/reset", &body, |d| {
            d.get("generation")
                .and_then(Value::as_str)
                .is_some_and(is_uuid)
        })
        .await
    }

    /// `record_token_usage_batch(batch)`: up to 100 hourly snapshots; the
    /// answer must acknowledge each snapshot sent.
    pub async fn record_token_usage_batch(&self, batch: &Value) -> Value {
        let ok_ids = ["generation", "batchId"]
            .iter()
            .all(|k| batch.get(*k).and_then(Value::as_str).is_some_and(is_uuid));
        let snaps = batch.get("snapshots").and_then(Value::as_array);
        if !ok_ids {
            return invalid("generation and batchId must be UUIDs");
        }
        let Some(snaps) = snaps.filter(|s| (1..=100).contains(&s.len())) else {
            return invalid("a batch must hold 1 to 100 snapshots");
        };
        let sent = snaps.clone();
        self.usage_call(
            "POST",
            "/dashboard/token-usage/batch",
            &batch.to_string(),
            move |d| {
                let Some(results) = d.get("results").and_then(Value::as_array) else {
                    return false;
                };
                results.len() == sent.len()
                    && sent.iter().zip(results).all(|(s, r)| {
                        ["sessionId", "usageDate", "usageHour"]
                            .iter()
                            .all(|k| r.get(*k) == s.get(*k))
                            && r.get("status")
                                .and_then(Value::as_str)
                                .is_some_and(|x| ["applied", "present", "superseded"].contains(&x))
                    })
            },
        )
        .await
    }

    /// `report_usage_run(run_id, report)`.
    pub async fn report_usage_run(&self, run_id: &str, report: &Value) -> Value {
        if !is_uuid(run_id) {
            return invalid("runId must be a UUID");
        }
        let id = run_id.to_owned();
        self.usage_call(
            "PUT",
            &format!("/dashboard/token-usage/runs/{run_id}"),
            &report.to_string(),
            move |d| {
                d.get("applied").is_some_and(Value::is_boolean)
                    && d.pointer("/run/runId").and_then(Value::as_str) == Some(id.as_str())
            },
        )
        .await
    }

    /// One attempt; `{ok, status, value}` or `{ok: false, status,
    /// retryable, reason}`.
    async fn usage_call(
        &self,
        method: &str,
        path: &str,
        body: &str,
        ack_ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let url = format!("{}{path}", self.backend_endpoint());
        let r = match self
            .http()
            .send(
                method,
                &url,
                &[self.key_header()],
                Some(body),
                Some(USAGE_TIMEOUT),
            )
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return json!({"ok": false, "retryable": true, "unreachable": true,
                              "reason": e.message});
            }
        };
        let data = r.json().unwrap_or_else(|| json!(r.text));
        if r.status >= 400 {
            let reason = data
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| format!("HTTP {}", r.status), str::to_owned);
            return json!({"ok": false, "status": r.status,
                          "retryable": r.status >= 500 || r.status == 408 || r.status == 429,
                          "reason": reason});
        }
        if !ack_ok(&data) {
            return json!({"ok": false, "status": r.status, "retryable": false,
                          "reason": "the acknowledgement does not match what was sent"});
        }
        json!({"ok": true, "status": r.status, "value": data})
    }
}
