//! Handle resolution: com.atproto.identity.resolveHandle and `/.well-known/atproto-did`.

use aerie_store::account;
use aerie_syntax::Handle;
use aerie_xrpc::{Params, XrpcError};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use crate::AppState;
use crate::error::store_error;

#[derive(Deserialize)]
pub struct ResolveHandleParams {
    handle: String,
}

async fn local_did(st: &AppState, handle: &Handle) -> Result<Option<String>, XrpcError> {
    let h = handle.as_str().to_owned();
    Ok(st
        .store()
        .read(move |c| account::by_handle(c, &h))
        .await
        .map_err(store_error)?
        .map(|a| a.did))
}

/// com.atproto.identity.resolveHandle: local accounts (DNS and HTTPS resolution of
/// external handles is not implemented yet).
pub async fn resolve_handle(
    State(st): State<AppState>,
    Params(p): Params<ResolveHandleParams>,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    let handle = Handle::parse(&p.handle.to_ascii_lowercase())
        .map_err(|_| XrpcError::invalid_request("Error: handle must be a valid handle"))?;
    match local_did(&st, &handle).await? {
        Some(did) => Ok(axum::Json(json!({ "did": did }))),
        None => Err(XrpcError::invalid_request("Unable to resolve handle")),
    }
}

/// `GET /.well-known/atproto-did` for hosted handles: the DID as text/plain, by `Host`.
pub async fn well_known_did(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "User not found").into_response();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.rsplit_once(':')
                .map_or(h, |(name, _)| name)
                .to_ascii_lowercase()
        });
    let Some(handle) = host.and_then(|h| Handle::parse(&h).ok()) else {
        return not_found();
    };
    match local_did(&st, &handle).await {
        Ok(Some(did)) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], did).into_response()
        }
        Ok(None) => not_found(),
        Err(e) => e.into_response(),
    }
}
