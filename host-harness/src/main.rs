//! `armoriq`: the command-line face of armoriq-rs.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cli;

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
    /// Write the canonical JSON of a document (no trailing newline).
    Canon(cli::canon::CanonArgs),
    /// Hash plans and check step proofs.
    #[command(subcommand)]
    Plan(cli::plan::PlanCommand),
    /// Generate a signing key pair (ES256 or EdDSA).
    Keygen(cli::token::KeygenArgs),
    /// Mint and verify intent tokens (compact JWS).
    #[command(subcommand)]
    Token(cli::token::TokenCommand),
    /// Run the gateway: IAP (backend) and proxy, policy, audit, MCP forwarding.
    Serve(cli::gateway::ServeArgs),
    /// Manage the gateway's API keys.
    #[command(subcommand)]
    Keys(cli::gateway::KeysCommand),
    /// Approve a held call (a pending delegation).
    Approve(cli::gateway::DecideArgs),
    /// Reject a held call (a pending delegation).
    Reject(cli::gateway::DecideArgs),
    /// List delegations (held calls).
    Delegations(cli::gateway::DelegationsArgs),
    /// Show the gateway's audit log.
    Logs(cli::gateway::LogsArgs),
    /// Write armoriq.yaml (the official layout), probing each MCP server.
    Init(cli::client::InitArgs),
    /// Check armoriq.yaml: syntax, API key, MCP servers, policy refs.
    Validate(cli::client::ValidateArgs),
    /// Store an API key in ~/.armoriq/credentials.json (the official format).
    Login(cli::client::LoginArgs),
    /// Remove a stored profile.
    Logout(cli::client::ProfileArgs),
    /// Show the stored profile.
    Whoami(cli::client::ProfileArgs),
    /// Show the profile, armoriq.yaml, and whether backend and proxy answer.
    Status(cli::client::StatusArgs),
    /// Ask the verifier firmware (QEMU, serial or TCP) for a verdict.
    #[command(subcommand)]
    Device(cli::device::DeviceCommand),
    /// Evaluate and check Armor Policy v2 documents.
    #[command(subcommand)]
    Policy(cli::policy::PolicyCommand),
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Command::Canon(a) => cli::canon::run(&a),
        Command::Plan(c) => cli::plan::run(c),
        Command::Keygen(a) => cli::token::keygen(&a),
        Command::Token(c) => cli::token::run(c),
        Command::Device(c) => cli::device::run(c),
        Command::Policy(c) => cli::policy::run(c),
        Command::Serve(a) => cli::gateway::serve(&a),
        Command::Keys(c) => cli::gateway::keys(&c),
        Command::Approve(a) => cli::gateway::decide(&a, true),
        Command::Reject(a) => cli::gateway::decide(&a, false),
        Command::Delegations(a) => cli::gateway::delegations(&a),
        Command::Logs(a) => cli::gateway::logs(&a),
        Command::Init(a) => cli::client::init(&a),
        Command::Validate(a) => cli::client::validate(&a),
        Command::Login(a) => cli::client::login(&a),
        Command::Logout(a) => cli::client::logout(&a),
        Command::Whoami(a) => cli::client::whoami(&a),
        Command::Status(a) => cli::client::status(&a),
    }
}
