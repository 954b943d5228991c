//! `aerie repo ...` (being written).

use clap::Args;

/// Arguments of `aerie repo`.
#[derive(Debug, Args)]
pub struct RepoArgs {}

/// Run `aerie repo`.
pub fn run(_args: RepoArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("aerie repo: not implemented yet")
}
