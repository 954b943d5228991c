//! Service proxying: XRPC methods this PDS does not implement itself are forwarded for a
//! signed-in account to another service, with a fresh service-auth token, as the reference
//! PDS does (spec: "Service proxying", `atproto-proxy`).
//!
//! The target is the `atproto-proxy: <did>#<service id>` header's service (its DID document
//! resolved, the endpoint of that service entry), or for `app.bsky.*` without the header the
//! configured AppView (`PDS_BSKY_APP_VIEW_URL` / `_DID`, audience `<did>#bsky_appview`).
//! The token: `iss` the account, `aud` the target, `lxm` the method, 60 s, signed with the
//! account's repo key. Methods the reference never proxies (account, session and admin
//! methods) are refused. The answer (status, body, the headers clients read) is passed back
//! as it comes.

use aerie_identity::service_auth::{self, MintRequest};
use aerie_syntax::{Did, Nsid};
use aerie_xrpc::{AccessAuth, XrpcError, unix_now};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::Response;

use super::migration::{account_key, load_account};
use crate::AppState;

/// Largest request body forwarded (JSON procedures; uploads go to their own services).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Lifetime of the minted token, as the reference.
const TOKEN_SECS: i64 = 60;

/// Request headers passed on to the service.
const REQUEST_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "atproto-accept-labelers",
    "content-type",
    "x-bsky-topics",
];

/// Response headers passed back to the client.
const RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "content-language",
    "atproto-content-labelers",
    "atproto-repo-rev",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
];

/// `/xrpc/{method}` for every method without a route of its own.
pub async fn forward(
    State(st): State<AppState>,
    Path(method): Path<String>,
    auth: Result<AccessAuth, XrpcError>,
    req: Request,
) -> Result<Response, XrpcError> {
    let Ok(nsid) = Nsid::parse(&method) else {
        return Err(XrpcError::method_not_implemented());
    };
    let proxy_header = req
        .headers()
        .get("atproto-proxy")
        .map(|v| v.to_str().map(str::to_owned))
        .transpose()
        .map_err(|_| XrpcError::invalid_request("Invalid atproto-proxy header"))?;
    if proxy_header.is_none() && !method.starts_with("app.bsky.") {
        return Err(XrpcError::method_not_implemented());
    }
    if service_auth::is_protected_method(&method) || method.starts_with("com.atproto.admin.") {
        return Err(XrpcError::invalid_request(format!(
            "Method can not be proxied: {method}"
        )));
    }
    let auth = auth?;
    if service_auth::is_privileged_method(&method) && !auth.is_full_access() && !privileged(&auth) {
        return Err(XrpcError::new(
            StatusCode::FORBIDDEN,
            "InvalidToken",
            "Bad token method",
        ));
    }
    let (origin, aud) = match proxy_header {
        Some(h) => target_of_header(&st, &h).await?,
        None => match &st.config().app_view {
            Some((url, did)) => (url.clone(), format!("{did}#bsky_appview")),
            None => return Err(XrpcError::method_not_implemented()),
        },
    };

    let acct = load_account(&st, &auth.did).await?;
    if acct.takedown_ref.is_some() {
        return Err(super::admin::takedown_error());
    }
    let iss = Did::parse(&acct.did).map_err(XrpcError::internal)?;
    let now = unix_now();
    let token = service_auth::mint(
        &account_key(&acct)?,
        &MintRequest {
            iss: &iss,
            aud: &aud,
            lxm: Some(&nsid),
            iat: now,
            exp: now + TOKEN_SECS,
        },
    )
    .map_err(XrpcError::internal)?;

    let (parts, body) = req.into_parts();
    let mut url = format!("{origin}/xrpc/{method}");
    if let Some(q) = parts.uri.query() {
        url.push('?');
        url.push_str(q);
    }
    let body = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| XrpcError::payload_too_large())?;
    let mut out = st
        .proxy_http()
        .request(parts.method.clone(), &url)
        .bearer_auth(token);
    out = copy_headers(out, &parts.headers);
    if !body.is_empty() {
        out = out.body(body);
    }
    let upstream = out.send().await.map_err(|e| {
        tracing::warn!(%url, error = %e, "proxied request failed");
        upstream_failure()
    })?;
    let mut resp = Response::builder().status(upstream.status());
    for name in RESPONSE_HEADERS {
        if let Some(v) = upstream.headers().get(*name) {
            resp = resp.header(*name, v.clone());
        }
    }
    // Service answers are JSON views, small enough to take whole.
    let bytes = upstream.bytes().await.map_err(|e| {
        tracing::warn!(%url, error = %e, "proxied response failed");
        upstream_failure()
    })?;
    resp.body(Body::from(bytes)).map_err(XrpcError::internal)
}

/// An app password made with `privileged: true` (it may reach the chat service).
fn privileged(auth: &AccessAuth) -> bool {
    auth.claims.scope == aerie_xrpc::jwt::SCOPE_APP_PASS_PRIVILEGED
}

/// The service behind an `atproto-proxy` header `<did>#<id>`: its origin and the audience.
async fn target_of_header(st: &AppState, value: &str) -> Result<(String, String), XrpcError> {
    let bad =
        |why: &str| XrpcError::invalid_request(format!("Invalid atproto-proxy header: {why}"));
    let (did, id) = value
        .split_once('#')
        .filter(|(_, id)| !id.is_empty() && !id.contains('#') && !id.contains(' '))
        .ok_or_else(|| bad("expected <did>#<service id>"))?;
    let did = Did::parse(did).map_err(|_| bad("not a DID"))?;
    let doc = st
        .resolver()
        .resolve_did(&did)
        .await
        .map_err(|e| bad(&format!("could not resolve {did}: {e}")))?;
    let origin = doc
        .service_endpoint(id)
        .ok_or_else(|| bad(&format!("{did} has no service #{id}")))?;
    Ok((origin, value.to_owned()))
}

fn copy_headers(mut out: reqwest::RequestBuilder, headers: &HeaderMap) -> reqwest::RequestBuilder {
    for name in REQUEST_HEADERS {
        if let Some(v) = headers.get(*name) {
            out = out.header(HeaderName::from_static(name), v.clone());
        }
    }
    if !headers.contains_key(header::ACCEPT) {
        out = out.header(header::ACCEPT, "application/json");
    }
    out
}

fn upstream_failure() -> XrpcError {
    XrpcError::new(
        StatusCode::BAD_GATEWAY,
        "UpstreamFailure",
        "Upstream service unreachable",
    )
}
