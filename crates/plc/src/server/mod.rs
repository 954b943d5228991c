//! A PLC directory server for local networks and tests (`aerie plc`), speaking the subset of
//! the plc.directory HTTP API that PDSs and clients use:
//!
//! | route | answer |
//! |---|---|
//! | `POST /{did}` | validate and store a signed operation (JSON); 400 `{"message"}` if refused |
//! | `GET /{did}` | DID document; 404 unknown, 410 tombstoned |
//! | `GET /{did}/data` | identity state (`/data` form); 404 / 410 likewise |
//! | `GET /{did}/log` | operations of the current history |
//! | `GET /{did}/log/audit` | every entry, nullified ones included |
//! | `GET /{did}/log/last` | the latest operation |
//! | `GET /export?after=&count=` | JSON lines of entries in acceptance order |
//! | `GET /_health` | `{"version"}` |
//!
//! State lives in memory and in an append-only JSON-lines file (one fsync per accepted
//! operation), replayed at start.

mod store;

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use aerie_syntax::{Datetime, Did};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as Json, json};

use store::Directory;
pub use store::LOG_FILE;

use crate::{Accepted, DocumentData, LogEntry, PlcError, SignedOperation, check_incoming};

/// Largest request body accepted; operations are at most 7500 bytes of CBOR, and their JSON
/// is of the same order.
const MAX_BODY: usize = 64 * 1024;
/// Most entries one `/export` page returns, as plc.directory.
const MAX_EXPORT: usize = 1000;

/// The directory's shared state: a cheap, cloneable handle.
///
/// A std mutex (not tokio's) guards it: critical sections never await, and the one slow
/// part, the fsync of an accepted operation, runs on a blocking thread via
/// `spawn_blocking`, which also keeps submissions to one DID strictly serialised.
#[derive(Clone)]
pub struct PlcState {
    inner: Arc<Mutex<Directory>>,
}

impl PlcState {
    /// A directory that keeps nothing on disk (tests, throwaway dev networks).
    pub fn in_memory() -> PlcState {
        PlcState {
            inner: Arc::new(Mutex::new(Directory::in_memory())),
        }
    }

    /// A directory persisted in `data_dir/plc-ops.jsonl`, replaying what is there.
    pub fn open(data_dir: &Path) -> Result<PlcState, PlcError> {
        Ok(PlcState {
            inner: Arc::new(Mutex::new(Directory::open(data_dir)?)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Directory> {
        // A panic while holding the lock cannot leave a half-applied entry (memory is
        // changed only after the durable write), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validates and stores an operation submitted at `now`. Blocking: it fsyncs.
    pub fn submit(
        &self,
        did: &Did,
        op: SignedOperation,
        now: Datetime,
    ) -> Result<Accepted, PlcError> {
        check_incoming(&op)?;
        self.lock().submit(did, op, now)
    }

    /// `did`'s audit log (empty if unknown).
    pub fn audit_log(&self, did: &Did) -> Vec<LogEntry> {
        self.lock().audit_log(did).to_vec()
    }

    /// The latest operation of `did`'s current history.
    pub fn last_operation(&self, did: &Did) -> Option<SignedOperation> {
        self.lock()
            .audit_log(did)
            .iter()
            .rev()
            .find(|e| !e.nullified)
            .map(|e| e.operation.clone())
    }
}

/// The directory's routes over `state`.
pub fn router(state: PlcState) -> Router {
    Router::new()
        .route("/_health", get(health))
        .route("/export", get(export))
        .route("/{did}", get(document).post(submit))
        .route("/{did}/data", get(data))
        .route("/{did}/log", get(log))
        .route("/{did}/log/audit", get(audit))
        .route("/{did}/log/last", get(last))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Serves the directory on `listener` until `shutdown` completes, then drains connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: PlcState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// An error answer in plc.directory's shape: `{"message": ...}`.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "message": self.1 }))).into_response()
    }
}

impl From<PlcError> for ApiError {
    fn from(e: PlcError) -> ApiError {
        if e.is_client_error() {
            ApiError(StatusCode::BAD_REQUEST, e.to_string())
        } else {
            // The store's own failure: say little to the client, keep the detail in the log.
            eprintln!("plc directory: {e}");
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error".to_owned(),
            )
        }
    }
}

fn not_registered(did: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("DID not registered: {did}"))
}

fn json_response(content_type: &'static str, body: &Json) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

async fn health() -> axum::Json<Json> {
    axum::Json(json!({ "version": concat!("aerie-plc ", env!("CARGO_PKG_VERSION")) }))
}

async fn submit(
    State(state): State<PlcState>,
    UrlPath(did): UrlPath<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let did = Did::parse(&did).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let json: Json = serde_json::from_slice(&body)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))?;
    let op = SignedOperation::from_json(&json)?;
    let now = Datetime::now();
    tokio::task::spawn_blocking(move || state.submit(&did, op, now))
        .await
        .map_err(|e| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("submission task failed: {e}"),
            )
        })??;
    Ok(StatusCode::OK.into_response())
}

/// The latest entry of `did`'s current history, or 404.
fn latest(state: &PlcState, did: &str) -> Result<(Did, SignedOperation), ApiError> {
    let parsed = Did::parse(did).map_err(|_| not_registered(did))?;
    let op = state
        .last_operation(&parsed)
        .ok_or_else(|| not_registered(did))?;
    Ok((parsed, op))
}

/// The state of a live DID, or 404 / 410.
fn live_data(state: &PlcState, did: &str) -> Result<DocumentData, ApiError> {
    let (parsed, op) = latest(state, did)?;
    DocumentData::from_operation(&parsed, op.operation())
        .ok_or_else(|| ApiError(StatusCode::GONE, format!("DID not available: {did}")))
}

async fn document(
    State(state): State<PlcState>,
    UrlPath(did): UrlPath<String>,
) -> Result<Response, ApiError> {
    let data = live_data(&state, &did)?;
    Ok(json_response(
        "application/did+ld+json",
        &data.to_did_document(),
    ))
}

async fn data(
    State(state): State<PlcState>,
    UrlPath(did): UrlPath<String>,
) -> Result<Response, ApiError> {
    let data = live_data(&state, &did)?;
    Ok(json_response("application/json", &data.to_json()))
}

async fn log(
    State(state): State<PlcState>,
    UrlPath(did): UrlPath<String>,
) -> Result<Response, ApiError> {
    let parsed = Did::parse(&did).map_err(|_| not_registered(&did))?;
    let ops: Vec<Json> = state
        .audit_log(&parsed)
        .iter()
        .filter(|e| !e.nullified)
        .map(|e| e.operation.to_json())
        .collect();
    if ops.is_empty() {
        return Err(not_registered(&did));
    }
    Ok(json_response("application/json", &Json::Array(ops)))
}

async fn audit(
    State(state): State<PlcState>,
    UrlPath(did): UrlPath<String>,
) -> Result<Response, ApiError> {
    let parsed = Did::parse(&did).map_err(|_| not_registered(&did))?;
    let entries: Vec<Json> = state
        .audit_log(&parsed)
        .iter()
        .map(LogEntry::to_json)
        .collect();
    if entries.is_empty() {
        return Err(not_registered(&did));
    }
    Ok(json_response("application/json", &Json::Array(entries)))
}

async fn last(
    State(state): State<PlcState>,
    UrlPath(did): UrlPath<String>,
) -> Result<Response, ApiError> {
    let (_, op) = latest(&state, &did)?;
    Ok(json_response("application/json", &op.to_json()))
}

#[derive(serde::Deserialize)]
struct ExportParams {
    after: Option<String>,
    count: Option<usize>,
}

async fn export(
    State(state): State<PlcState>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let after = match params.after.as_deref() {
        Some(a) => Some(
            Datetime::parse(a)
                .map_err(|e| {
                    ApiError(
                        StatusCode::BAD_REQUEST,
                        format!("invalid after parameter: {e}"),
                    )
                })?
                .to_unix_micros(),
        ),
        None => None,
    };
    let count = params.count.unwrap_or(MAX_EXPORT);
    if count == 0 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "invalid count parameter".to_owned(),
        ));
    }
    let lines: Vec<String> = state
        .lock()
        .export(after, count.min(MAX_EXPORT))
        .into_iter()
        .map(|e| e.to_json().to_string())
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/jsonlines")],
        lines.join("\n"),
    )
        .into_response())
}
