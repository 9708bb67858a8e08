//! `armoriq demo`: the whole loop in one process, on temporary state.
//!
//! It starts an MCP server (weather and payments, `armoriq-mcp-server`) and
//! a gateway on loopback ports, mints an intent token for a two-step plan
//! with the Rust SDK, and then makes five calls through the proxy: the
//! planned call (allowed), the same tool with changed arguments and a tool
//! the plan does not name (both refused), a payment the policy holds, and
//! that payment again once an approver approved it (it runs, once). It ends
//! with the audit rows. Exit 0 when every call behaved as expected, 1 when
//! one did not, 2 when the demo could not run.

use crate::cmd::gateway::print_row;
use crate::cmd::{EXIT_BAD_INPUT, EXIT_REJECTED, fail};
use armoriq_client::{ArmorIQClient, ArmorIqError, IntentToken};
use armoriq_gateway::builder::{GatewayBuilder, Running, new_api_key};
use armoriq_gateway::now_ms;
use armoriq_gateway::ops::{self, Actor, Surface};
use armoriq_gateway::store::{AuditCursor, NewApiKey, Role};
use armoriq_mcp_server::McpServer;
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;

/// `armoriq demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Keep the temporary state directory (database, keys, policy) and print it.
    #[arg(long)]
    keep: bool,
}

const MCP: &str = "demo-mcp";
const USER: &str = "alice@example.com";
const APPROVER: &str = "boss@example.com";

/// Runs the demo.
pub fn run(a: &DemoArgs) -> ExitCode {
    let dir =
        std::env::temp_dir().join(format!("armoriq-demo-{}-{}", std::process::id(), now_ms()));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let out = rt.block_on(demo(&dir));
    if a.keep {
        println!("\nstate kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    match out {
        Ok(0) => {
            println!("\nevery call behaved as the plan and the policy say.");
            ExitCode::SUCCESS
        }
        Ok(n) => {
            eprintln!("\n{n} call(s) did not behave as expected");
            ExitCode::from(EXIT_REJECTED)
        }
        Err(e) => fail(format!("the demo could not run: {e}"), EXIT_BAD_INPUT),
    }
}

/// The plan: the weather in Paris, then a payment of 250 to acme.
fn plan() -> Value {
    json!({
        "goal": "Check the weather in Paris, then pay the tour operator",
        "steps": [
            {"action": "get_weather", "mcp": MCP, "params": {"city": "Paris", "units": "metric"},
             "description": "Look up the weather"},
            {"action": "send_payment", "mcp": MCP, "params": {"recipient": "acme", "amount": 250},
             "description": "Pay the tour operator"}
        ]
    })
}

/// The policy: payments wait for boss@example.com; everything else is allowed.
fn policy() -> Value {
    json!({"agent": {
        "policyId": "demo-policy", "layer": "agent", "expiresAt": "never",
        "defaults": {"tools": "allow"},
        "statements": [
            {"id": "payments-need-approval", "effect": "hold",
             "match": {"tool": "send_payment", "order": 1}, "conditions": [],
             "approval": {"approvers": [APPROVER], "minApprovals": 1},
             "expiresAt": "never", "provenance": {"ruleKey": "tools.send_payment", "variant": 0}}
        ]
    }})
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Starts the MCP server and the gateway; returns them with the agent's key.
async fn start(dir: &Path) -> Result<(McpServer, Running, String), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mcp = McpServer::start(loopback)
        .await
        .map_err(|e| format!("MCP server: {e}"))?;
    println!(
        "upstream   MCP server `{MCP}` at {} (get_weather, send_payment)",
        mcp.url()
    );
    let config = dir.join("armoriq.yaml");
    write(
        &config,
        &format!(
            "version: v1\nidentity: {{api_key: unused, user_id: {USER}, agent_id: demo-agent}}\n\
             mcp_servers:\n- id: {MCP}\n  url: {}\n  auth: none\n",
            mcp.url()
        ),
    )?;
    let policy_path = dir.join("policy.json");
    write(&policy_path, &policy().to_string())?;
    let agent_key = new_api_key("ak_test_")?;
    let running = GatewayBuilder::new()
        .state_dir(dir.join("state"))
        .listen(loopback, loopback)
        .config(Some(config))
        .policy(Some(policy_path))
        .first_api_key(agent_key.clone(), Role::Agent)
        .build()
        .await?
        .start()
        .await?;
    if running.backend_url() == running.proxy_url() {
        println!("gateway    IAP and proxy at {}", running.backend_url());
    } else {
        let (iap, proxy) = (running.backend_url(), running.proxy_url());
        println!("gateway    IAP at {iap}, proxy at {proxy}");
    }
    println!("policy     send_payment is held for {APPROVER}; other tools are allowed");
    Ok((mcp, running, agent_key))
}

/// What one call was expected to do and what it did.
struct Check {
    failures: usize,
}

impl Check {
    fn expect(&mut self, n: u32, what: &str, got: &Result<String, ArmorIqError>, want: &str) {
        let (ok, said) = match got {
            Ok(text) => (want == "allowed", format!("allowed → {text}")),
            Err(e) => (e.kind() == want, format!("{}: {}", e.kind(), reason(e))),
        };
        let mark = if ok { "ok" } else { "UNEXPECTED" };
        println!("\n{n}. {what}\n   expected {want}; got {said}  [{mark}]");
        if !ok {
            self.failures += 1;
        }
    }
}

/// The gateway's own words for a refusal (the SDK's message wraps them in
/// the body it received).
fn reason(e: &ArmorIqError) -> String {
    if let ArmorIqError::PolicyHold {
        reason: Some(r), ..
    } = e
    {
        return r.clone();
    }
    let m = e.message();
    m.split_once("'message': '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map_or_else(|| m.to_owned(), |(said, _)| said.to_owned())
}

async fn call(
    c: &ArmorIQClient,
    tool: &str,
    token: &IntentToken,
    params: Value,
) -> Result<String, ArmorIqError> {
    let r = c
        .invoke(MCP, tool, token, Some(&params), Some(USER))
        .await?;
    Ok(r.result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Approves held call `id` as the approver would: `POST
/// /admin/delegations/{id}/approve` with their admin key.
async fn approve(backend: &str, key: &str, id: &str) -> Result<Value, String> {
    let url = format!("{backend}/admin/delegations/{id}/approve");
    let key = key.to_owned();
    tokio::task::spawn_blocking(move || {
        let r = reqwest::blocking::Client::new()
            .post(&url)
            .header("X-API-Key", key)
            .send()
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = r.status();
        let body: Value = r.json().map_err(|e| format!("POST {url}: {e}"))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("POST {url}: {status}: {body}"))
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn demo(dir: &Path) -> Result<usize, String> {
    let (mcp, running, agent_key) = start(dir).await?;
    let backend = running.backend_url();
    // The approver: an admin key that names boss@example.com.
    let boss_key = new_api_key("ak_test_")?;
    let boss = NewApiKey {
        key: boss_key.clone(),
        role: Role::Admin,
        label: "demo approver".into(),
        name: Some("Boss".into()),
        email: Some(APPROVER.into()),
    };
    ops::create_key(
        running.gateway.store.as_ref(),
        &Actor::new("demo", Surface::Cli),
        &boss,
        now_ms(),
    )
    .await
    .map_err(|e| e.reason())?;

    let client = ArmorIQClient::builder()
        .api_key(agent_key)
        .backend_endpoint(backend.clone())
        .proxy_endpoint(running.proxy_url())
        .user_id(USER)
        .agent_id("demo-agent")
        .use_production(false)
        .build()
        .map_err(|e| e.to_string())?;
    let plan = plan();
    let capture = client
        .capture_plan("demo", "Weather in Paris, then pay acme", Some(&plan), None)
        .map_err(|e| e.to_string())?;
    let token = client
        .get_intent_token(&capture, None, 300, None)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "\nplan       2 steps: get_weather(Paris), send_payment(acme, 250)\n\
         token      plan_hash {} merkle_root {}, signed by the IAP, expires in {:.0}s",
        token.plan_hash,
        token.raw_token.merkle_root.as_deref().unwrap_or("?"),
        token.time_until_expiry()
    );

    let mut check = Check { failures: 0 };
    let paris = json!({"city": "Paris", "units": "metric"});
    let got = call(&client, "get_weather", &token, paris).await;
    check.expect(1, "get_weather(Paris): step 1 of the plan", &got, "allowed");

    let london = json!({"city": "London", "units": "metric"});
    let got = call(&client, "get_weather", &token, london).await;
    check.expect(
        2,
        "get_weather(London): the plan's tool, other arguments",
        &got,
        "IntentMismatch",
    );

    let got = call(
        &client,
        "delete_records",
        &token,
        json!({"table": "payments"}),
    )
    .await;
    check.expect(
        3,
        "delete_records: a tool the plan does not name",
        &got,
        "IntentMismatch",
    );

    let acme = json!({"recipient": "acme", "amount": 250});
    let got = call(&client, "send_payment", &token, acme.clone()).await;
    let held = match &got {
        Err(ArmorIqError::PolicyHold { delegation_id, .. }) => delegation_id.clone(),
        _ => None,
    };
    check.expect(
        4,
        "send_payment(acme, 250): step 2, held by the policy",
        &got,
        "PolicyHold",
    );
    println!("   payments made so far: {}", mcp.payments().len());

    let Some(held) = held else {
        return Err("the held payment named no approval to decide".into());
    };
    let decided = approve(&backend, &boss_key, &held).await?;
    println!(
        "\n   {APPROVER} approves {held} (POST /admin/delegations/{held}/approve): {}",
        decided["status"].as_str().unwrap_or("?")
    );

    let mut retry = acme.clone();
    retry["_delegation_id"] = json!(held);
    let got = call(&client, "send_payment", &token, retry.clone()).await;
    check.expect(
        5,
        "send_payment(acme, 250) again, naming the approval",
        &got,
        "allowed",
    );
    let got = call(&client, "send_payment", &token, retry).await;
    check.expect(
        6,
        "the same payment a third time: the approval is spent",
        &got,
        "PolicyHold",
    );
    let payments = mcp.payments();
    println!("   payments made: {}", payments.len());
    if payments.len() != 1 {
        check.failures += 1;
        println!("   UNEXPECTED: the approved payment should have run exactly once");
    }

    println!("\naudit log (armoriq logs):");
    let page = running
        .gateway
        .store
        .audit_page(AuditCursor::START, 100)
        .await
        .map_err(|e| e.to_string())?;
    for row in &page.rows {
        print_row(row, false);
    }
    running.shutdown().await?;
    mcp.stop().await;
    Ok(check.failures)
}
