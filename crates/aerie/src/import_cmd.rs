//! `aerie repo import FILE.car --did DID`: make a repository CAR an account's repo on a
//! RUNNING server.
//!
//! Protocol: `com.atproto.repo.importRepo?did=DID` with HTTP basic admin auth, so the
//! server's single writer, per-repo lock, verification and firehose do the work exactly as
//! for a migration; the command never opens the database itself (which would race the
//! server). The server re-verifies everything; the command verifies the file first anyway,
//! so a broken or foreign file is reported before anything is sent. An active account's repo
//! is replaced and announced (`#sync`) under a new rev signed with the account's key; a
//! deactivated (migrating) account's keeps its signature until activation.
//!
//! Progress (on a terminal only): the local verification as a percentage of the file, then
//! the upload.

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aerie_repo::verify::{VerifyOptions, verify_car_bytes};
use aerie_syntax::Did;
use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde_json::Value;

/// Arguments of `aerie repo import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The repository CAR (as served by com.atproto.sync.getRepo).
    file: PathBuf,
    /// The account whose repository it becomes (must exist on the server; the CAR's commit
    /// must name this DID).
    #[arg(long)]
    did: String,
    /// The running server.
    #[arg(long, default_value = "http://localhost:2583")]
    url: String,
    /// The server's admin password (PDS_ADMIN_PASSWORD).
    #[arg(long, env = "PDS_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// A dev server's data directory: its secrets.json supplies the admin password.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Runs `aerie repo import`.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let did = Did::parse(&args.did).map_err(|e| anyhow!("--did {:?}: {e}", args.did))?;
    let password = admin_password(args.admin_password, args.data_dir.as_deref())?;
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    // Verified in place, on every core, before anything is sent.
    let verified = verify_car_bytes(
        &bytes,
        &VerifyOptions {
            did: Some(did.clone()),
            ..VerifyOptions::default()
        },
    )
    .with_context(|| format!("{} is not a valid repository", args.file.display()))?;
    let report = &verified.report;
    eprintln!(
        "{}: {} records, {} blocks, rev {} (commit {})",
        args.file.display(),
        report.records,
        report.blocks,
        report.rev.as_str(),
        report.commit_cid
    );
    drop(verified);

    let url = format!(
        "{}/xrpc/com.atproto.repo.importRepo?did={}",
        args.url.trim_end_matches('/'),
        did.as_str()
    );
    if io::stderr().is_terminal() {
        eprintln!(
            "uploading {:.1} MiB to {} ...",
            bytes.len() as f64 / (1024.0 * 1024.0),
            args.url
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (status, body) = runtime.block_on(async {
        let resp = reqwest::Client::new()
            .post(&url)
            .basic_auth("admin", Some(&password))
            .header("content-type", "application/vnd.ipld.car")
            .body(bytes)
            .send()
            .await
            .with_context(|| format!("sending to {}", args.url))?;
        let status = resp.status();
        let text = resp.text().await.context("reading the answer")?;
        Ok::<_, anyhow::Error>((status, text))
    })?;
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    if !status.is_success() {
        bail!(
            "the server refused the import ({status}): {} {}",
            json["error"].as_str().unwrap_or(""),
            json["message"].as_str().unwrap_or(&json.to_string())
        );
    }
    println!(
        "imported {} records into {} at rev {} (commit {}); {} blobs referenced: upload any \
         missing ones (com.atproto.repo.listMissingBlobs)",
        json["records"],
        did.as_str(),
        json["rev"].as_str().unwrap_or("?"),
        json["commit"].as_str().unwrap_or("?"),
        json["blobs"]
    );
    Ok(ExitCode::SUCCESS)
}

fn admin_password(flag: Option<String>, data_dir: Option<&Path>) -> anyhow::Result<String> {
    if let Some(p) = flag {
        return Ok(p);
    }
    let Some(dir) = data_dir else {
        bail!(
            "the admin password is needed: pass --admin-password, set PDS_ADMIN_PASSWORD, or \
             give a dev server's --data-dir"
        );
    };
    let path = dir.join("secrets.json");
    let v: Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))?;
    v["admin_password"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{} has no admin_password", path.display()))
}
