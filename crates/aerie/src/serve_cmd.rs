//! `aerie serve`: the Personal Data Server.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

/// Runs the PDS. With nothing configured: dev mode on port 2583, data in ./data, secrets
/// generated there, handles under `.test`, an in-process PLC directory on the same origin. Every flag
/// also reads the reference PDS's environment variable (PDS_HOSTNAME, PDS_PORT, ...).
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    // Boxed: the config has many optional fields and would bloat the Command enum.
    config: Box<aerie_pds::ConfigArgs>,
}

/// Serves until Ctrl-C or SIGTERM, then drains connections.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = args.config.resolve()?;
    if config.dev_mode {
        eprintln!(
            "aerie serve: dev mode; secrets in {}",
            config.data_directory.join("secrets.json").display()
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(aerie_pds::serve::run(config))?;
    Ok(ExitCode::SUCCESS)
}
