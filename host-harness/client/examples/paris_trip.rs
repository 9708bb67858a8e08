//! A session: one user, one plan from the LLM's tool calls, a check before
//! each call, the call through the proxy, a report after it.
//!
//! ```text
//! export ARMORIQ_API_KEY=… ARMORIQ_BACKEND_URL=http://127.0.0.1:3000 PROXY_ENDPOINT=http://127.0.0.1:3001
//! cargo run -p armoriq-client --example paris_trip
//! ```

use armoriq_client::{
    ArmorIQClient, ArmorIqError, ReportOptions, SessionMode, SessionOptions, ToolCall,
};
use serde_json::json;
use std::process::ExitCode;
use std::time::Instant;

async fn run() -> Result<(), ArmorIqError> {
    let mcp = std::env::var("ARMORIQ_MCP").unwrap_or_else(|_| "weather-mcp".into());
    let client = ArmorIQClient::from_env()?;

    // Sessions for one user: tokens are minted for alice.
    let alice = client.for_user("alice@example.com");
    let mut session = alice.start_session(SessionOptions {
        mode: SessionMode::Sdk,
        ..SessionOptions::default()
    });

    // The tool calls the LLM proposed, named `<mcp>__<tool>`.
    let weather = format!("{mcp}__get_weather");
    let email = format!("{mcp}__send_email");
    let calls = vec![
        ToolCall::new(&weather, json!({"city": "Paris", "units": "metric"}))?,
        ToolCall::new(
            &email,
            json!({"to": "alice@example.com", "subject": "Paris trip"}),
        )?,
    ];
    let token = session
        .start_plan(&calls, Some("Plan a trip to Paris"))
        .await?;
    println!(
        "plan {} minted for alice ({} steps)",
        token.plan_id.as_deref().unwrap_or("?"),
        token.total_steps
    );

    for call in &calls {
        let args = call.args();
        let decision = session.check(&call.name, &args, None).await?;
        println!("check {} → {}", call.name, decision.action);
        if !decision.allowed {
            continue;
        }
        let t0 = Instant::now();
        let outcome = session.dispatch(&call.name, &args).await;
        let status = match &outcome {
            Ok(r) => {
                println!(
                    "  {}",
                    r.result["content"][0]["text"].as_str().unwrap_or("")
                );
                r.status.clone()
            }
            Err(e) => {
                println!("  failed: {}: {e}", e.kind());
                "error".into()
            }
        };
        session
            .report(
                &call.name,
                &args,
                &outcome.map(|r| r.result).unwrap_or_default(),
                &ReportOptions {
                    status,
                    duration_ms: Some(t0.elapsed().as_secs_f64() * 1000.0),
                    is_delegated: None,
                },
            )
            .await;
    }

    // A tool the plan never declared is blocked before any request.
    let payment = format!("{mcp}__send_payment");
    let d = session
        .check(&payment, &json!({"amount": 10, "recipient": "eve"}), None)
        .await?;
    println!(
        "check {payment} → {} ({})",
        d.action,
        d.reason.as_deref().unwrap_or("")
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: {}", e.kind(), e);
            eprintln!("hint: {}", e.hint());
            ExitCode::FAILURE
        }
    }
}
