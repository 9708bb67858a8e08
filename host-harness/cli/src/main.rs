//! `armoriq`: the command-line face of armoriq-rs.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd;
mod io;

#[derive(Parser, Debug)]
#[command(
    name = "armoriq",
    version,
    about = "Open, self-hostable ArmorIQ intent assurance"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// See the loop work: a gateway, an MCP server and six calls, in one process.
    Demo(cmd::demo::DemoArgs),
    /// Write the canonical JSON of a document (no trailing newline).
    Canon(cmd::canon::CanonArgs),
    /// Hash plans and check step proofs.
    #[command(subcommand)]
    Plan(cmd::plan::PlanCommand),
    /// Generate a signing key pair (ES256 or EdDSA).
    Keygen(cmd::token::KeygenArgs),
    /// Mint and verify intent tokens (compact JWS).
    #[command(subcommand)]
    Token(cmd::token::TokenCommand),
    /// Run the gateway: IAP (backend) and proxy, policy, audit, MCP forwarding.
    Serve(cmd::gateway::ServeArgs),
    /// Manage the gateway's API keys.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    /// Show the gateway's store: location, backend, schema, signing keys.
    #[command(subcommand)]
    Store(cmd::store::StoreCommand),
    /// Approve a held call (a pending delegation).
    Approve(cmd::gateway::DecideArgs),
    /// Reject a held call (a pending delegation).
    Reject(cmd::gateway::DecideArgs),
    /// List delegations (held calls).
    Delegations(cmd::gateway::DelegationsArgs),
    /// Show the gateway's audit log.
    Logs(cmd::gateway::LogsArgs),
    /// Show the LLM token usage the gateway stored.
    Usage(cmd::usage::UsageArgs),
    /// Write armoriq.yaml (the official layout), probing each MCP server.
    Init(cmd::init::InitArgs),
    /// Check armoriq.yaml: syntax, API key, MCP servers, policy refs.
    Validate(cmd::client::ValidateArgs),
    /// Store an API key in ~/.armoriq/credentials.json (the official format).
    Login(cmd::client::LoginArgs),
    /// Remove a stored profile.
    Logout(cmd::client::ProfileArgs),
    /// Show the stored profile.
    Whoami(cmd::client::ProfileArgs),
    /// Show the profile, armoriq.yaml, and whether backend and proxy answer.
    Status(cmd::client::StatusArgs),
    /// Ask the verifier firmware (QEMU, serial or TCP) for a verdict.
    #[command(subcommand)]
    Device(cmd::device::DeviceCommand),
    /// Evaluate and check Armor Policy v2 documents.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Command::Demo(a) => cmd::demo::run(&a),
        Command::Canon(a) => cmd::canon::run(&a),
        Command::Plan(c) => cmd::plan::run(c),
        Command::Keygen(a) => cmd::token::keygen(&a),
        Command::Token(c) => cmd::token::run(c),
        Command::Device(c) => cmd::device::run(c),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Serve(a) => cmd::gateway::serve(&a),
        Command::Keys(c) => cmd::keys::keys(&c),
        Command::Store(c) => cmd::store::run(&c),
        Command::Approve(a) => cmd::gateway::decide(&a, true),
        Command::Reject(a) => cmd::gateway::decide(&a, false),
        Command::Delegations(a) => cmd::gateway::delegations(&a),
        Command::Logs(a) => cmd::gateway::logs(&a),
        Command::Usage(a) => cmd::usage::usage(&a),
        Command::Init(a) => cmd::init::init(&a),
        Command::Validate(a) => cmd::client::validate(&a),
        Command::Login(a) => cmd::client::login(&a),
        Command::Logout(a) => cmd::client::logout(&a),
        Command::Whoami(a) => cmd::client::whoami(&a),
        Command::Status(a) => cmd::client::status(&a),
    }
}
