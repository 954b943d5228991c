//! `aerie plc`: a did:plc directory for local networks and tests.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

/// Runs a PLC directory server (validates signed did:plc operations, serves DID documents
/// and audit logs) with its log in DATA_DIR/plc-ops.jsonl.
#[derive(Debug, Args)]
pub struct PlcArgs {
    /// Port to listen on.
    #[arg(long, env = "PLC_PORT", default_value_t = 2582)]
    port: u16,
    /// Address to bind; loopback by default, since this directory is for local networks.
    #[arg(long, env = "PLC_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Directory holding the operation log (created if missing).
    #[arg(long, env = "PLC_DATA_DIR")]
    data_dir: PathBuf,
}

/// Serves until Ctrl-C or SIGTERM, then drains connections.
pub fn run(args: PlcArgs) -> anyhow::Result<ExitCode> {
    let state = aerie_plc::server::PlcState::open(&args.data_dir)
        .with_context(|| format!("opening PLC data dir {}", args.data_dir.display()))?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(args.host, args.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        eprintln!("aerie plc: listening on http://{}", listener.local_addr()?);
        aerie_plc::server::serve(listener, state, shutdown_signal())
            .await
            .context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, only SIGTERM stops the server.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
