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

/// com.atproto.identity.resolveHandle: local accounts first; other handles through DNS
/// TXT `_atproto.<handle>` and `https://<handle>/.well-known/atproto-did` (cached). A handle
/// under one of our own domains that no account holds is not looked up elsewhere.
pub async fn resolve_handle(
    State(st): State<AppState>,
    Params(p): Params<ResolveHandleParams>,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    let handle = Handle::parse(&p.handle.to_ascii_lowercase())
        .map_err(|_| XrpcError::invalid_request("Error: handle must be a valid handle"))?;
    if let Some(did) = local_did(&st, &handle).await? {
        return Ok(axum::Json(json!({ "did": did })));
    }
    let not_found = || XrpcError::named("HandleNotFound", "Unable to resolve handle");
    let ours = st
        .config()
        .service_handle_domains
        .iter()
        .any(|d| handle.as_str().ends_with(d.as_str()));
    if ours {
        return Err(not_found());
    }
    match st.resolver().resolve_handle(&handle).await {
        Ok(did) => Ok(axum::Json(json!({ "did": did.as_str() }))),
        Err(_) => Err(not_found()),
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

#[derive(Deserialize)]
pub struct UpdateHandleInput {
    handle: String,
}

/// com.atproto.identity.updateHandle: new handle in the PLC log, then in the account table.
pub async fn update_handle(
    State(st): State<AppState>,
    auth: aerie_xrpc::AccessAuth,
    aerie_xrpc::Json(input): aerie_xrpc::Json<UpdateHandleInput>,
) -> Result<(), XrpcError> {
    let handle =
        super::server::check_new_handle(&input.handle, &st.config().service_handle_domains)?;
    let did = aerie_syntax::Did::parse(&auth.did).map_err(XrpcError::internal)?;
    use crate::rate_limit::Limit;
    st.rate_limits()
        .check(&[Limit::HandleShort, Limit::HandleDay], did.as_str(), 1)?;
    let _guard = st.repo_locks().lock(did.as_str()).await;
    if let Some(owner) = local_did(&st, &handle).await? {
        if owner == auth.did {
            return Ok(());
        }
        return Err(XrpcError::named(
            "HandleNotAvailable",
            format!("Handle already taken: {}", handle.as_str()),
        ));
    }
    if did.method() == "plc" {
        crate::plc::update_handle(st.plc(), st.rotation_key(), &did, &handle).await?;
    } else {
        // A did:web document is its owner's to edit: the new handle must already be in it
        // (as the reference checks), read fresh rather than from the cache.
        let doc = st
            .resolver()
            .refresh_did(&did)
            .await
            .map_err(|e| XrpcError::invalid_request(format!("Could not resolve DID: {e}")))?;
        if doc.handle().as_ref() != Some(&handle) {
            return Err(XrpcError::invalid_request(
                "DID is not properly configured for handle",
            ));
        }
    }
    let (d, h, did_c, handle_c) = (
        auth.did.clone(),
        handle.as_str().to_owned(),
        did.clone(),
        handle.clone(),
    );
    let event = st
        .store()
        .write(
            move |tx: &aerie_store::Transaction<'_>| -> Result<_, crate::error::JobError> {
                if !account::set_handle(tx, &d, &h)? {
                    return Err(XrpcError::invalid_request("Account not found").into());
                }
                Ok(crate::sequencer::append(
                    tx,
                    &crate::sequencer::identity_event(&did_c, Some(&handle_c)),
                )?)
            },
        )
        .await?;
    crate::sequencer::publish(st.firehose(), vec![event]).await;
    Ok(())
}

/// com.atproto.identity.getRecommendedDidCredentials: what the DID document should hold for
/// this PDS to host the account.
pub async fn get_recommended_did_credentials(
    State(st): State<AppState>,
    auth: aerie_xrpc::AccessAuth,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    let d = auth.did.clone();
    let acct = st
        .store()
        .read(move |c| account::by_did(c, &d))
        .await
        .map_err(store_error)?
        .ok_or_else(|| XrpcError::invalid_request("Account not found"))?;
    let key = aerie_crypto::SigningKey::from_bytes(aerie_crypto::KeyType::K256, &acct.signing_key)
        .map_err(XrpcError::internal)?;
    let aka: Vec<String> = acct.handle.iter().map(|h| format!("at://{h}")).collect();
    Ok(axum::Json(json!({
        "rotationKeys": [st.rotation_key().public_key().to_did_key()],
        "alsoKnownAs": aka,
        "verificationMethods": { "atproto": key.public_key().to_did_key() },
        "services": {
            "atproto_pds": {
                "type": "AtprotoPersonalDataServer",
                "endpoint": st.config().public_url,
            }
        },
    })))
}
