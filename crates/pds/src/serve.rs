//! Starting and stopping the server.

use std::future::Future;
use std::net::SocketAddr;

use aerie_store::{Store, StoreOptions};
use aerie_xrpc::catch_panic_layer;
use axum::Router;
use tokio::net::TcpListener;

use crate::{AppState, Config, Error, api};

/// The database file inside the data directory.
pub const DB_FILE: &str = "aerie.sqlite";

/// Opens the store and builds the state for `config`.
pub async fn open(config: Config) -> Result<AppState, Error> {
    let store = Store::open(
        &config.data_directory.join(DB_FILE),
        StoreOptions::default(),
    )
    .map_err(|e| Error::Store(e.to_string()))?;
    AppState::new(config, store).await
}

/// The full router: XRPC routes, panic recovery, and in dev mode the in-process PLC
/// directory at the root of the same origin (`GET /did:plc:...`), because PLC clients build
/// absolute paths (`new URL("/" + did, plcUrl)`) and so cannot use a sub-path. Its routes
/// are reached only when no PDS route matches.
pub fn router(state: AppState) -> Router {
    let blob_limit = usize::try_from(state.config().blob_upload_limit).unwrap_or(usize::MAX);
    let mut app = api::routes(blob_limit);
    if let Some(plc) = state.plc().in_process_router() {
        app = app.fallback_service(plc.fallback(aerie_xrpc::fallback));
    }
    app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::rate_limit::per_ip,
    ))
    .layer(catch_panic_layer())
    .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let firehose = state.firehose().clone();
    // Removes uploads no record took up; stops with the server (drop guard).
    let _sweeper = crate::blob_gc::Sweeper::start(state.clone());
    // Deletes accounts deactivated with a deleteAfter that has passed.
    let _account_sweeper = crate::account_sweep::Sweeper::start(state.clone());
    // The firehose window pruner and crawler notifier, stopped by their guards on return.
    let _pruner =
        crate::seq_prune::spawn(state.store().clone(), state.config().repo_backfill_limit);
    let _crawlers = crate::crawlers::spawn(
        firehose.clone(),
        crate::crawlers::Crawlers::new(
            &state.config().hostname,
            &state.config().crawlers,
            crate::crawlers::NOTIFY_INTERVAL,
        ),
    );
    // Subscribers hold their WebSocket open forever; end them so the drain can finish.
    let shutdown = async move {
        shutdown.await;
        firehose.shutdown();
    };
    // The peer address feeds per-IP rate limits.
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|source| Error::Io {
        context: "serving HTTP".into(),
        source,
    })
}

/// Binds `PDS_BIND_HOST:PDS_PORT` and serves until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> Result<(), Error> {
    let addr = format!("{}:{}", config.bind_host, config.port);
    let state = open(config).await?;
    let listener = TcpListener::bind(&addr).await.map_err(|source| Error::Io {
        context: format!("binding {addr}"),
        source,
    })?;
    let local: SocketAddr = listener.local_addr().map_err(|source| Error::Io {
        context: "reading the bound address".into(),
        source,
    })?;
    let c = state.config();
    tracing::info!(
        address = %local,
        public_url = %c.public_url,
        dev_mode = c.dev_mode,
        data = %c.data_directory.display(),
        "aerie PDS listening"
    );
    serve(listener, state, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
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
        () = ctrl_c => {},
        () = term => {},
    }
}
