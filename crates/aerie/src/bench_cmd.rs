//! `aerie bench`: load a PDS on loopback and report throughput and latency.

use std::process::ExitCode;
use std::time::Duration;

use aerie_loadgen::{BenchConfig, Scenario, Target};
use anyhow::Context;
use clap::Args;

/// Creates accounts on a PDS (Aerie or any other), then drives concurrent workers against it
/// and reports requests/s, errors by XRPC name, latency percentiles and bytes. Only loopback
/// URLs are accepted unless `--allow-remote` is given.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Base URL of the PDS, e.g. http://127.0.0.1:2583 (plain http only).
    #[arg(long)]
    url: String,
    /// Accounts to create before the measured phase.
    #[arg(long, default_value_t = 10)]
    accounts: u32,
    /// Concurrent workers, each with one request in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: u32,
    /// Seconds of load (default 10 when --requests is not given).
    #[arg(long)]
    duration: Option<f64>,
    /// Total requests; with --duration too, whichever comes first ends the run.
    #[arg(long)]
    requests: Option<u64>,
    /// create-records, get-records, mixed or create-accounts.
    #[arg(long, default_value = "create-records")]
    scenario: Scenario,
    /// Posts each account writes during setup for get-records and mixed.
    #[arg(long, default_value_t = 10)]
    seed_records: u32,
    /// Admin password, to mint an invite code when the server requires one.
    #[arg(long, env = "AERIE_BENCH_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// An existing invite code with enough uses for every account created.
    #[arg(long)]
    invite_code: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Allow a non-loopback host. Only for servers you run and may load.
    #[arg(long)]
    allow_remote: bool,
}

/// Runs the benchmark on a single-threaded runtime: the load generator usually shares the
/// machine with the server under test, so it should take as little CPU as it can.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let target = Target::parse(&args.url, args.allow_remote)?;
    let mut config = BenchConfig::new(target, args.scenario);
    config.accounts = args.accounts;
    config.concurrency = args.concurrency;
    config.max_requests = args.requests;
    config.duration = match (args.duration, args.requests) {
        (Some(secs), _) => Some(
            Duration::try_from_secs_f64(secs)
                .map_err(|_| anyhow::anyhow!("--duration must be a positive number of seconds"))?,
        ),
        (None, Some(_)) => None,
        (None, None) => config.duration,
    };
    config.seed_records = args.seed_records;
    config.admin_password = args.admin_password;
    config.invite_code = args.invite_code;
    config.validate()?;

    if !args.json {
        eprintln!(
            "aerie bench: {} against {} ({} accounts, {} workers); setting up",
            config.scenario, config.target, config.accounts, config.concurrency
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(aerie_loadgen::run(&config))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}
