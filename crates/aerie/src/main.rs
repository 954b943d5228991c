//! The `aerie` command: one binary for every role.

use clap::{Parser, Subcommand};

mod account_cmd;
mod bench_cmd;
mod doctor_cmd;
mod import_cmd;
mod plc_cmd;
mod repo_cmd;
mod serve_cmd;

/// Aerie: an AT Protocol Personal Data Server and relay.
#[derive(Debug, Parser)]
#[command(name = "aerie", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect, verify and export repository CAR files.
    Repo(repo_cmd::RepoArgs),
    /// Run a did:plc directory server for local networks and tests.
    Plc(plc_cmd::PlcArgs),
    /// Run the Personal Data Server (dev mode on http://localhost:2583 when unconfigured).
    Serve(serve_cmd::ServeArgs),
    /// Load-test a PDS on loopback (Aerie or any other) and report throughput and latency.
    Bench(bench_cmd::BenchArgs),
    /// Check the PDS configuration (directories, database, PLC, SMTP) and send a test mail.
    Doctor(doctor_cmd::DoctorArgs),
    /// Manage accounts on a running PDS (admin password, over HTTP).
    Account(account_cmd::AccountArgs),
    /// Create invite codes on a running PDS (admin password, over HTTP).
    Invite(account_cmd::InviteArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Repo(args) => repo_cmd::run(args),
        Command::Plc(args) => plc_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Doctor(args) => doctor_cmd::run(args),
        Command::Account(args) => account_cmd::run_account(args),
        Command::Invite(args) => account_cmd::run_invite(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
