//! The worked example: capture a plan, get an intent token, invoke
//! `get_weather` through `armoriq serve`, and watch a changed call be refused.
//!
//! ```text
//! export ARMORIQ_API_KEY=$(armoriq keys create --state-dir /tmp/aq/state)
//! armoriq serve --state-dir /tmp/aq/state --config armoriq.yaml &
//! export ARMORIQ_BACKEND_URL=http://127.0.0.1:3000 PROXY_ENDPOINT=http://127.0.0.1:3001
//! cargo run -p armoriq-client --example weather -- Paris
//! ```
//!
//! `ARMORIQ_MCP` names the MCP server (default `weather-mcp`, the id in
//! armoriq.yaml).

use armoriq_client::{ArmorIQClient, ArmorIqError};
use serde_json::json;
use std::process::ExitCode;

async fn run() -> Result<(), ArmorIqError> {
    let mcp = std::env::var("ARMORIQ_MCP").unwrap_or_else(|_| "weather-mcp".into());
    let city = std::env::args().nth(1).unwrap_or_else(|| "Paris".into());

    // Key, backend and proxy from ARMORIQ_API_KEY, ARMORIQ_BACKEND_URL,
    // PROXY_ENDPOINT (or ~/.armoriq/credentials.json after `armoriq login`).
    let client = ArmorIQClient::from_env()?;

    // 1. Capture the plan the agent intends to run.
    let params = json!({"city": city, "units": "metric"});
    let plan = json!({
        "goal": format!("Tell the user the weather in {city}"),
        "steps": [{"action": "get_weather", "mcp": mcp, "params": params,
                   "description": "Look up the weather"}],
    });
    let capture = client.capture_plan(
        "gpt-4o",
        &format!("What's the weather in {city}?"),
        Some(&plan),
        None,
    )?;

    // 2. Get an intent token for it (checked locally against the plan sent).
    let token = client.get_intent_token(&capture, None, 300, None).await?;
    println!(
        "token: plan_id={} plan_hash={} expires in {:.0}s",
        token.plan_id.as_deref().unwrap_or("?"),
        token.plan_hash,
        token.time_until_expiry()
    );

    // 3. Invoke the planned step through the proxy.
    let result = client
        .invoke(&mcp, "get_weather", &token, Some(&params), None)
        .await?;
    let text = result.result["content"][0]["text"].as_str().unwrap_or("");
    println!("{} → {}", result.action, text);

    // 4. A call the plan did not contain is refused.
    let other = json!({"city": "Atlantis", "units": "metric"});
    match client
        .invoke(&mcp, "get_weather", &token, Some(&other), None)
        .await
    {
        Err(e) => println!("refused as it should be: {}: {}", e.kind(), e),
        Ok(_) => println!("unexpected: a call outside the plan ran"),
    }
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
