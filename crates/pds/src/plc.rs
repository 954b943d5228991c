//! DID creation: the did:plc genesis operation of a new account and where it is sent.
//!
//! In dev mode without `PDS_DID_PLC_URL` the directory runs inside this process
//! ([`aerie_plc::server::PlcState`], persisted in the data directory) and is also served
//! over HTTP at the root of the PDS's own origin, so clients of a local network use
//! `http://localhost:2583` as their PLC URL (`GET /did:plc:...`).

use std::path::Path;

use aerie_crypto::SigningKey;
use aerie_plc::SignedOperation;
use aerie_plc::server::PlcState;
use aerie_syntax::{Datetime, Did, Handle};
use aerie_xrpc::XrpcError;
use axum::http::StatusCode;

use crate::Error;

/// Where PLC operations go.
#[derive(Clone)]
pub enum PlcClient {
    /// An HTTP PLC directory.
    Remote {
        /// Base URL without trailing slash.
        url: String,
        /// Shared HTTP client.
        http: reqwest::Client,
    },
    /// The in-process directory.
    InProcess(PlcState),
}

fn upstream(msg: String) -> XrpcError {
    XrpcError::new(StatusCode::BAD_GATEWAY, "UpstreamFailure", msg)
}

impl PlcClient {
    /// A client of the directory at `url`.
    pub fn remote(url: &str) -> PlcClient {
        PlcClient::Remote {
            url: url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// The in-process directory, persisted under `data_dir`.
    pub fn in_process(data_dir: &Path) -> Result<PlcClient, Error> {
        PlcState::open(data_dir)
            .map(PlcClient::InProcess)
            .map_err(|e| Error::Config(format!("opening the in-process PLC directory: {e}")))
    }

    /// Submits a signed operation for `did`.
    pub async fn submit(&self, did: &Did, op: &SignedOperation) -> Result<(), XrpcError> {
        match self {
            PlcClient::InProcess(state) => {
                let (state, did, op) = (state.clone(), did.clone(), op.clone());
                tokio::task::spawn_blocking(move || state.submit(&did, op, Datetime::now()))
                    .await
                    .map_err(XrpcError::internal)?
                    .map(|_| ())
                    .map_err(|e| upstream(format!("PLC directory refused the operation: {e}")))
            }
            PlcClient::Remote { url, http } => {
                let resp = http
                    .post(format!("{url}/{}", did.as_str()))
                    .json(&op.to_json())
                    .send()
                    .await
                    .map_err(|e| upstream(format!("PLC directory unreachable: {e}")))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    Err(upstream(format!(
                        "PLC directory refused the operation ({status}): {body:.300}"
                    )))
                }
            }
        }
    }

    /// The DID document of `did`, if the directory knows it.
    pub async fn document(&self, did: &Did) -> Option<serde_json::Value> {
        match self {
            PlcClient::InProcess(state) => {
                let op = state.last_operation(did)?;
                aerie_plc::DocumentData::from_operation(did, op.operation())
                    .map(|d| d.to_did_document())
            }
            PlcClient::Remote { url, http } => {
                let resp = http
                    .get(format!("{url}/{}", did.as_str()))
                    .send()
                    .await
                    .ok()?;
                if !resp.status().is_success() {
                    return None;
                }
                resp.json().await.ok()
            }
        }
    }

    /// The latest operation of `did`'s log.
    pub async fn last_operation(&self, did: &Did) -> Result<Option<SignedOperation>, XrpcError> {
        match self {
            PlcClient::InProcess(state) => Ok(state.last_operation(did)),
            PlcClient::Remote { url, http } => {
                let resp = http
                    .get(format!("{url}/{}/log/last", did.as_str()))
                    .send()
                    .await
                    .map_err(|e| upstream(format!("PLC directory unreachable: {e}")))?;
                if resp.status() == StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !resp.status().is_success() {
                    return Err(upstream(format!(
                        "PLC directory answered {} for the last operation",
                        resp.status()
                    )));
                }
                let json: serde_json::Value = resp
                    .json()
                    .await
                    .map_err(|e| upstream(format!("PLC directory sent bad JSON: {e}")))?;
                SignedOperation::from_json(&json)
                    .map(Some)
                    .map_err(|e| upstream(format!("PLC directory sent a bad operation: {e}")))
            }
        }
    }

    /// The router of the in-process directory.
    pub fn in_process_router(&self) -> Option<axum::Router> {
        match self {
            PlcClient::InProcess(state) => Some(aerie_plc::server::router(state.clone())),
            PlcClient::Remote { .. } => None,
        }
    }
}

/// Builds, signs (with the PDS rotation key) and submits the genesis operation of a new
/// account, returning its DID.
pub async fn create_did(
    plc: &PlcClient,
    rotation_key: &SigningKey,
    signing_key: &SigningKey,
    handle: &Handle,
    pds_endpoint: &str,
) -> Result<Did, XrpcError> {
    let (did, op) = aerie_plc::genesis(
        &[rotation_key.public_key()],
        &signing_key.public_key(),
        handle,
        pds_endpoint,
        rotation_key,
    )
    .map_err(XrpcError::internal)?;
    plc.submit(&did, &op).await?;
    Ok(did)
}

/// Moves `did`'s `at://` alias to `handle` with a new operation signed by the PDS rotation
/// key (which must still be one of the DID's rotation keys).
pub async fn update_handle(
    plc: &PlcClient,
    rotation_key: &SigningKey,
    did: &Did,
    handle: &Handle,
) -> Result<(), XrpcError> {
    let last = plc
        .last_operation(did)
        .await?
        .ok_or_else(|| XrpcError::internal(format!("no PLC log for {}", did.as_str())))?;
    let mut next = aerie_plc::PlcOperation::following(&last)
        .ok_or_else(|| XrpcError::invalid_request("The DID is tombstoned"))?;
    let alias = format!("at://{}", handle.as_str());
    // Keep other aliases; replace the at:// one (the first, by convention) with the new one.
    next.also_known_as.retain(|a| !a.starts_with("at://"));
    next.also_known_as.insert(0, alias);
    let op = aerie_plc::Operation::Plc(next).sign(rotation_key);
    plc.submit(did, &op).await
}

/// The DID document shown to clients (createAccount, sessions, describeRepo): for did:plc the
/// directory's current document; for any other method (did:web, whose owner hosts the
/// document) the one the resolver fetches, since no PLC directory knows it.
pub async fn did_document(st: &crate::AppState, did: &Did) -> Option<serde_json::Value> {
    if did.method() == "plc" {
        return st.plc().document(did).await;
    }
    let doc = st.resolver().resolve_did(did).await.ok()?;
    serde_json::to_value(&*doc).ok()
}
