//! Blobs: com.atproto.repo.uploadBlob, com.atproto.sync.getBlob, com.atproto.sync.listBlobs.

use aerie_data::Cid;
use aerie_store::blob::{self, BlobMeta};
use aerie_syntax::Datetime;
use aerie_xrpc::{AccessAuth, Params, XrpcError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use crate::AppState;
use crate::error::store_error;

/// com.atproto.repo.uploadBlob: the raw body is streamed to a temporary file (hashed and
/// counted on the way, 413 as soon as it passes the limit), then stored durably and answered
/// with the blob ref.
pub async fn upload_blob(
    State(st): State<AppState>,
    auth: AccessAuth,
    req: Request,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    let limit = st.config().blob_upload_limit;
    // A declared length over the limit is refused before a byte is read.
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > limit) {
        return Err(XrpcError::payload_too_large());
    }
    // The sniffed type wins (as in the reference); the declared one is only the fallback.
    let declared = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = req.into_body().into_data_stream();
    let temp = st
        .blobs()
        .put_stream(&auth.did, body, limit, declared.as_deref())
        .await?;
    let (cid, size, mime) = (temp.cid, temp.size, temp.mime);
    let (did, meta, now) = (
        auth.did.clone(),
        BlobMeta {
            mime_type: mime.clone(),
            size,
        },
        Datetime::now().into_string(),
    );
    st.store()
        .write(move |tx: &aerie_store::Transaction<'_>| blob::insert(tx, &did, &cid, &meta, &now))
        .await
        .map_err(store_error)?;
    Ok(axum::Json(json!({
        "blob": {
            "$type": "blob",
            "ref": { "$link": cid.to_string() },
            "mimeType": mime,
            "size": size,
        }
    })))
}

#[derive(Deserialize)]
pub struct GetBlobParams {
    did: String,
    cid: String,
}

fn blob_not_found() -> XrpcError {
    XrpcError::named("BlobNotFound", "Blob not found")
}

/// com.atproto.sync.getBlob: only blobs some record references are served.
pub async fn get_blob(
    State(st): State<AppState>,
    who: super::sync::Requester,
    Params(p): Params<GetBlobParams>,
) -> Result<Response, XrpcError> {
    let cid: Cid = p
        .cid
        .parse()
        .map_err(|_| XrpcError::invalid_request(format!("Invalid cid: {}", p.cid)))?;
    super::sync::active_account(&st, &p.did, &who).await?;
    let did = p.did.clone();
    let meta = st
        .store()
        .read(
            move |c| -> Result<Option<BlobMeta>, aerie_store::StoreError> {
                // A taken-down blob answers as a missing one, as in the reference.
                if !blob::is_referenced(c, &did, &cid)?
                    || aerie_store::lifecycle::blob_takedown(c, &did, &cid)?.is_some()
                {
                    return Ok(None);
                }
                blob::get(c, &did, &cid)
            },
        )
        .await
        .map_err(store_error)?
        .ok_or_else(blob_not_found)?;
    // Streamed from disk in chunks: a 100 MB video costs the server a read buffer, not
    // 100 MB of memory per download.
    let file = st
        .blobs()
        .open_blob(&p.did, &cid)
        .await?
        .ok_or_else(blob_not_found)?;
    let size = file.size();
    let mut resp = Body::from_stream(file.into_stream()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&meta.mime_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // User content served from the PDS origin must never run as a page.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    // Never rendered inline by a browser that ignores the CSP (as the reference sends).
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{cid}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct ListBlobsParams {
    did: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// com.atproto.sync.listBlobs: CIDs of the blobs the repo's records reference.
pub async fn list_blobs(
    State(st): State<AppState>,
    who: super::sync::Requester,
    Params(p): Params<ListBlobsParams>,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    let limit = p.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(XrpcError::invalid_request(
            "limit must be between 1 and 1000",
        ));
    }
    let cursor: Option<Cid> = p
        .cursor
        .as_deref()
        .map(|c| {
            c.parse()
                .map_err(|_| XrpcError::invalid_request("Invalid cursor"))
        })
        .transpose()?;
    super::sync::active_account(&st, &p.did, &who).await?;
    let did = p.did.clone();
    let cids = st
        .store()
        .read(move |c| blob::list_referenced(c, &did, cursor.as_ref(), limit))
        .await
        .map_err(store_error)?;
    let mut out = json!({ "cids": cids.iter().map(|c| c.to_string()).collect::<Vec<_>>() });
    if cids.len() as u32 == limit
        && let Some(last) = cids.last()
    {
        out["cursor"] = json!(last.to_string());
    }
    Ok(axum::Json(out))
}
