//! Account migration and inter-service auth: getServiceAuth (outbound tokens), the
//! [`ServiceAuth`] extractor (inbound tokens), createAccount with an existing DID,
//! importRepo, listMissingBlobs, the PLC operation trio (request/sign/submit) and
//! activateAccount (re-signs the imported repo with this server's key).
//!
//! The official sequence, old PDS = A, new PDS = B:
//! 1. A: getServiceAuth {aud: B's DID, lxm: com.atproto.server.createAccount}
//! 2. B: createAccount {did, handle, email, password} with that token: deactivated account,
//!    fresh signing key, an empty repo, no events.
//! 3. A: sync.getRepo -> B: repo.importRepo (full verification, see [`crate::import`]).
//! 4. B: repo.listMissingBlobs -> A: sync.getBlob -> B: repo.uploadBlob.
//! 5. B: identity.getRecommendedDidCredentials; A: requestPlcOperationSignature (token by
//!    email), signPlcOperation (A's rotation key); B: submitPlcOperation.
//! 6. B: server.activateAccount (#identity, #account, #sync with the re-signed commit);
//!    A: server.deactivateAccount.

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use aerie_data::Cid;
use aerie_firehose::{Event, SyncEvent};
use aerie_identity::service_auth::{self, Audience, Expectations, MintRequest};
use aerie_repo::repo::Repo;
use aerie_store::{
    Transaction, account, email_token, invite, lifecycle, repo as repo_table, reserved_key,
};
use aerie_syntax::{Datetime, Did, Handle, Nsid, Tid};
use aerie_xrpc::{AccessAuth, BearerToken, Params, XrpcError, unix_now};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use crate::error::{JobError, store_error};
use crate::records::StoreSource;
use crate::sequencer::{self, Sequenced};
use crate::{AppState, password, session};

type JsonResult = Result<axum::Json<JsonValue>, XrpcError>;

/// The `email_token` purpose of the PLC operation code.
pub const PLC_TOKEN_PURPOSE: &str = "plc_operation";

/// The lexicon method of createAccount, the `lxm` a migration token must carry.
const CREATE_ACCOUNT: &str = "com.atproto.server.createAccount";

fn identity_error(e: aerie_identity::IdentityError) -> XrpcError {
    match e.xrpc_error_name() {
        Some("BadExpiration") => XrpcError::named("BadExpiration", e.to_string()),
        Some(name) => XrpcError::new(StatusCode::UNAUTHORIZED, name, e.to_string()),
        None => XrpcError::auth_required(e.to_string()),
    }
}

pub(super) fn account_key(acct: &account::Account) -> Result<SigningKey, XrpcError> {
    SigningKey::from_bytes(KeyType::K256, &acct.signing_key)
        .map_err(|e| XrpcError::internal(format!("stored signing key of {}: {e}", acct.did)))
}

pub(super) async fn load_account(st: &AppState, did: &str) -> Result<account::Account, XrpcError> {
    let d = did.to_owned();
    st.store()
        .read(move |c| account::by_did(c, &d))
        .await
        .map_err(store_error)?
        .ok_or_else(|| XrpcError::named("AccountNotFound", "Account not found"))
}

fn parse_did(s: &str) -> Result<Did, XrpcError> {
    Did::parse(s).map_err(|_| XrpcError::invalid_request(format!("Invalid DID: {s}")))
}

// ---------------------------------------------------------------------------------------
// Outbound: getServiceAuth

#[derive(Deserialize)]
pub struct GetServiceAuthParams {
    aud: String,
    exp: Option<i64>,
    lxm: Option<String>,
}

/// com.atproto.server.getServiceAuth: a JWT signed with the account's repo key, for `aud`,
/// optionally bound to one method. Protected methods are refused; createAccount (migration)
/// and chat methods need a full-access or privileged app-password session.
pub async fn get_service_auth(
    State(st): State<AppState>,
    auth: AccessAuth,
    Params(p): Params<GetServiceAuthParams>,
) -> JsonResult {
    service_auth::check_audience(&p.aud).map_err(|e| XrpcError::invalid_request(e.to_string()))?;
    let lxm = match &p.lxm {
        Some(m) => Some(
            Nsid::parse(m).map_err(|_| XrpcError::invalid_request(format!("Invalid lxm: {m}")))?,
        ),
        None => None,
    };
    if let Some(m) = &lxm {
        if service_auth::is_protected_method(m.as_str()) {
            return Err(XrpcError::invalid_request(format!(
                "cannot request a service auth token for the following protected method: {}",
                m.as_str()
            )));
        }
        let privileged = auth.is_full_access()
            || auth.claims.scope == aerie_xrpc::jwt::SCOPE_APP_PASS_PRIVILEGED;
        if service_auth::is_privileged_method(m.as_str()) && !privileged {
            return Err(XrpcError::invalid_request(format!(
                "insufficient access to request a service auth token for the following method: {}",
                m.as_str()
            )));
        }
    }
    let now = unix_now();
    let exp = service_auth::requested_expiry(now, p.exp, lxm.is_some()).map_err(identity_error)?;
    let acct = load_account(&st, &auth.did).await?;
    if acct.takedown_ref.is_some() {
        return Err(super::admin::takedown_error());
    }
    let key = account_key(&acct)?;
    let iss = parse_did(&acct.did)?;
    let token = service_auth::mint(
        &key,
        &MintRequest {
            iss: &iss,
            aud: &p.aud,
            lxm: lxm.as_ref(),
            iat: now,
            exp,
        },
    )
    .map_err(XrpcError::internal)?;
    Ok(axum::Json(json!({ "token": token })))
}

// ---------------------------------------------------------------------------------------
// Inbound service auth

/// A verified inter-service token addressed to this PDS for the method being called (the
/// route's NSID), signed by the issuer's current atproto key (resolved, refreshed once on a
/// mismatch).
#[derive(Debug, Clone)]
pub struct ServiceAuth {
    /// The issuing account (the `iss` claim without any `#service` suffix).
    pub iss: Did,
    /// The verified claims.
    pub claims: service_auth::ServiceClaims,
}

impl FromRequestParts<AppState> for ServiceAuth {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, XrpcError> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, st).await?;
        let lxm = parts
            .uri
            .path()
            .strip_prefix("/xrpc/")
            .unwrap_or_default()
            .to_owned();
        verify_service_token(st, &token, &lxm).await
    }
}

/// Verifies `token` as a service token for method `lxm` addressed to this PDS.
pub async fn verify_service_token(
    st: &AppState,
    token: &str,
    lxm: &str,
) -> Result<ServiceAuth, XrpcError> {
    let me = Did::parse(&st.config().service_did)
        .map_err(|e| XrpcError::internal(format!("service DID: {e}")))?;
    let audience = Audience::new(me).with_service_id(aerie_identity::ATPROTO_PDS_ID);
    let expect = Expectations {
        audience: Some(&audience),
        lxm: Some(lxm),
        now: unix_now(),
    };
    let claims = service_auth::verify(token, &expect, st.resolver())
        .await
        .map_err(identity_error)?;
    let iss = claims.iss_did().map_err(identity_error)?;
    Ok(ServiceAuth { iss, claims })
}

// ---------------------------------------------------------------------------------------
// createAccount with an existing DID

/// The createAccount fields a migration uses.
pub(crate) struct MigrationSignup {
    pub did: String,
    pub handle: String,
    pub email: Option<String>,
    pub password: Option<String>,
    pub invite_code: Option<String>,
}

/// What createAccount answers for a migrated account.
pub(crate) struct MigratedAccount {
    pub access_jwt: String,
    pub refresh_jwt: String,
    pub handle: String,
    pub did: String,
    pub did_doc: Option<JsonValue>,
}

/// createAccount with `did`: the caller proves control of the DID with a service token
/// from its current PDS (iss = the DID, aud = us, lxm = createAccount). The account starts
/// deactivated with a fresh signing key and an empty repo; no events until activation.
pub(crate) async fn create_account_with_did(
    st: &AppState,
    headers: &HeaderMap,
    input: MigrationSignup,
) -> Result<MigratedAccount, XrpcError> {
    let did = parse_did(&input.did)?;
    let missing = || {
        XrpcError::auth_required(format!(
            "Missing auth to create account with did: {}",
            did.as_str()
        ))
    };
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(missing)?;
    let auth = verify_service_token(st, token, CREATE_ACCOUNT).await?;
    if auth.iss != did {
        return Err(missing());
    }
    let cfg = st.config();
    let handle = super::server::check_new_handle(&input.handle, &cfg.service_handle_domains)?;
    let email = input
        .email
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| XrpcError::invalid_request("Email is required"))?;
    if !super::server::is_plausible_email(&email) {
        return Err(XrpcError::invalid_request(
            "This email address is not supported, please use a different email.",
        ));
    }
    let password = input
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| XrpcError::invalid_request("Password is required"))?;
    if password.len() > password::MAX_NEW_PASSWORD_LEN {
        return Err(XrpcError::named(
            "InvalidPassword",
            "Password too long. Maximum length is 256 characters.",
        ));
    }
    let invite_code = if cfg.invite_required {
        Some(
            input
                .invite_code
                .filter(|c| !c.is_empty())
                .ok_or_else(|| XrpcError::named("InvalidInviteCode", "No invite code provided"))?,
        )
    } else {
        None
    };
    let password_hash = password::hash(password).await?;
    // The key reserveSigningKey handed out for this DID (it may already be in a signed PLC
    // operation), else a fresh one.
    let d = did.as_str().to_owned();
    let reserved = st
        .store()
        .read(move |c| reserved_key::get(c, &d))
        .await
        .map_err(store_error)?;
    let signing_key = match reserved {
        Some(bytes) => {
            SigningKey::from_bytes(KeyType::K256, &bytes).map_err(XrpcError::internal)?
        }
        None => SigningKey::generate(KeyType::K256).map_err(XrpcError::internal)?,
    };
    let (_, commit) = Repo::create(did.clone(), &signing_key, Tid::now());
    let tokens = session::issue(st.keys(), did.as_str(), session::new_token_id()?);
    let now = Datetime::now().into_string();
    let key_bytes = signing_key.to_bytes();
    let (did_s, handle_s, row) = (
        did.as_str().to_owned(),
        handle.as_str().to_owned(),
        tokens.row.clone(),
    );
    st.store()
        .write(move |tx: &Transaction<'_>| -> Result<(), JobError> {
            if account::by_did(tx, &did_s)?.is_some() {
                return Err(
                    XrpcError::invalid_request(format!("Account already exists: {did_s}")).into(),
                );
            }
            if account::by_handle(tx, &handle_s)?.is_some() {
                return Err(XrpcError::named(
                    "HandleNotAvailable",
                    format!("Handle already taken: {handle_s}"),
                )
                .into());
            }
            if let Some(code) = &invite_code {
                if !invite::is_usable(tx, code)? {
                    return Err(XrpcError::named(
                        "InvalidInviteCode",
                        "Provided invite code not available",
                    )
                    .into());
                }
                invite::record_use(tx, code, &did_s, &now)?;
            }
            account::insert(
                tx,
                &account::NewAccount {
                    did: &did_s,
                    handle: &handle_s,
                    email: Some(&email),
                    password_hash: Some(&password_hash),
                    signing_key: &key_bytes,
                    created_at: &now,
                },
            )?;
            lifecycle::set_deactivated(tx, &did_s, Some(&now), None)?;
            reserved_key::delete(tx, &did_s)?;
            crate::records::persist_commit(tx, &did_s, &commit, None)?;
            session::store_row(tx, &row)?;
            Ok(())
        })
        .await?;
    let did_doc = crate::plc::did_document(st, &did).await;
    Ok(MigratedAccount {
        access_jwt: tokens.access,
        refresh_jwt: tokens.refresh,
        handle: handle.into_string(),
        did: did.into_string(),
        did_doc,
    })
}

// ---------------------------------------------------------------------------------------
// Blobs

#[derive(Deserialize)]
pub struct ListMissingBlobsParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// com.atproto.repo.listMissingBlobs: blobs the account's records reference that were never
/// uploaded here, in CID byte order; `cursor` is the last CID returned.
pub async fn list_missing_blobs(
    State(st): State<AppState>,
    auth: AccessAuth,
    Params(p): Params<ListMissingBlobsParams>,
) -> JsonResult {
    let limit = p.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(XrpcError::invalid_request(
            "limit must be between 1 and 1000",
        ));
    }
    let mut cursor = match &p.cursor {
        Some(c) => Some(
            c.parse::<Cid>()
                .map_err(|_| XrpcError::invalid_request("Invalid cursor"))?,
        ),
        None => None,
    };
    let did = auth.did.clone();
    let missing = st
        .store()
        .read(
            move |c| -> Result<Vec<(Cid, String)>, aerie_store::StoreError> {
                let mut out = Vec::new();
                // Page through the referenced blobs until `limit` missing ones are found.
                loop {
                    let page = aerie_store::blob::list_referenced(c, &did, cursor.as_ref(), 500)?;
                    let Some(last) = page.last().copied() else {
                        return Ok(out);
                    };
                    for cid in page {
                        if aerie_store::blob::get(c, &did, &cid)?.is_none() {
                            let path = first_record_path(c, &did, &cid)?;
                            out.push((cid, path));
                            if out.len() == limit as usize {
                                return Ok(out);
                            }
                        }
                    }
                    cursor = Some(last);
                }
            },
        )
        .await
        .map_err(store_error)?;
    let next = (missing.len() == limit as usize)
        .then(|| missing.last().map(|(c, _)| c.to_string()))
        .flatten();
    let blobs: Vec<JsonValue> = missing
        .iter()
        .map(|(cid, path)| {
            json!({ "cid": cid.to_string(), "recordUri": format!("at://{}/{path}", auth.did) })
        })
        .collect();
    let mut out = json!({ "blobs": blobs });
    if let Some(n) = next {
        out["cursor"] = json!(n);
    }
    Ok(axum::Json(out))
}

/// One record path referencing `cid` (listMissingBlobs reports one `recordUri` per blob).
fn first_record_path(
    c: &aerie_store::Connection,
    did: &str,
    cid: &Cid,
) -> Result<String, aerie_store::StoreError> {
    aerie_store::blob::record_paths(c, did, cid)
        .map(|paths| paths.into_iter().next().unwrap_or_default())
}

// ---------------------------------------------------------------------------------------
// PLC operations

/// com.atproto.identity.requestPlcOperationSignature: stores a one-time code (the
/// `plc_operation` email token) the account must quote to signPlcOperation, and mails it
/// through the PDS outbox (without SMTP: logged in dev mode, dropped in production; see
/// `crate::mail`).
pub async fn request_plc_operation_signature(
    State(st): State<AppState>,
    auth: AccessAuth,
) -> Result<(), XrpcError> {
    if !auth.is_full_access() {
        return Err(XrpcError::invalid_request(
            "an app password cannot request PLC operation signatures",
        ));
    }
    let acct = load_account(&st, &auth.did).await?;
    let email = acct
        .email
        .ok_or_else(|| XrpcError::invalid_request("account does not have an email address"))?;
    let token = crate::mail::new_token()?;
    let (did, t, now) = (auth.did.clone(), token.clone(), unix_now());
    st.store()
        .write(move |tx: &Transaction<'_>| email_token::put(tx, PLC_TOKEN_PURPOSE, &did, &t, now))
        .await
        .map_err(store_error)?;
    st.outbox()
        .send(&email, aerie_mail::Email::PlcOperation { token: &token })
        .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignPlcOperationInput {
    token: Option<String>,
    rotation_keys: Option<Vec<String>>,
    also_known_as: Option<Vec<String>>,
    verification_methods: Option<std::collections::BTreeMap<String, String>>,
    services: Option<JsonValue>,
}

/// com.atproto.identity.signPlcOperation: the next operation after the DID's last one with
/// the given fields replaced, signed with this PDS's rotation key; needs the emailed code.
pub async fn sign_plc_operation(
    State(st): State<AppState>,
    auth: AccessAuth,
    aerie_xrpc::Json(input): aerie_xrpc::Json<SignPlcOperationInput>,
) -> JsonResult {
    if !auth.is_full_access() {
        return Err(XrpcError::invalid_request(
            "an app password cannot sign PLC operations",
        ));
    }
    let token = input.token.filter(|t| !t.is_empty()).ok_or_else(|| {
        XrpcError::invalid_request("email confirmation token required to sign PLC operations")
    })?;
    let did = parse_did(&auth.did)?;
    let (d, now) = (auth.did.clone(), unix_now());
    st.store()
        .write(move |tx: &Transaction<'_>| -> Result<(), JobError> {
            let stored = email_token::get(tx, PLC_TOKEN_PURPOSE, &d)?;
            crate::mail::check_token(stored.as_ref(), &token, now)?;
            email_token::delete(tx, PLC_TOKEN_PURPOSE, &d)?;
            Ok(())
        })
        .await?;
    let last = st.plc().last_operation(&did).await?.ok_or_else(|| {
        XrpcError::invalid_request("This server can only sign did:plc operations")
    })?;
    let mut next = aerie_plc::PlcOperation::following(&last)
        .ok_or_else(|| XrpcError::invalid_request("The DID is tombstoned"))?;
    if let Some(k) = input.rotation_keys {
        next.rotation_keys = k;
    }
    if let Some(a) = input.also_known_as {
        next.also_known_as = a;
    }
    if let Some(v) = input.verification_methods {
        next.verification_methods = v;
    }
    if let Some(s) = input.services {
        next.services = parse_services(&s)?;
    }
    let op = aerie_plc::Operation::Plc(next).sign(st.rotation_key());
    // The reference refuses to sign what the directory would reject; do the same check.
    aerie_plc::check_incoming(&op)
        .map_err(|e| XrpcError::invalid_request(format!("Invalid PLC operation: {e}")))?;
    Ok(axum::Json(json!({ "operation": op.to_json() })))
}

/// `services` as the lexicon gives it: `{id: {type, endpoint}}`.
fn parse_services(
    v: &JsonValue,
) -> Result<std::collections::BTreeMap<String, aerie_plc::Service>, XrpcError> {
    let bad = || XrpcError::invalid_request("Invalid services: expected {id: {type, endpoint}}");
    let mut out = std::collections::BTreeMap::new();
    for (id, s) in v.as_object().ok_or_else(bad)? {
        let field = |name: &str| s.get(name).and_then(JsonValue::as_str).map(str::to_owned);
        out.insert(
            id.clone(),
            aerie_plc::Service {
                service_type: field("type").ok_or_else(bad)?,
                endpoint: field("endpoint").ok_or_else(bad)?,
            },
        );
    }
    Ok(out)
}

#[derive(Deserialize)]
pub struct SubmitPlcOperationInput {
    operation: JsonValue,
}

/// com.atproto.identity.submitPlcOperation: forwards a signed operation for the caller's DID
/// to the PLC directory, after checking it keeps this PDS in charge (our rotation key, our
/// endpoint, the account's signing key, its handle) so a mistake cannot strand the account.
pub async fn submit_plc_operation(
    State(st): State<AppState>,
    auth: AccessAuth,
    aerie_xrpc::Json(input): aerie_xrpc::Json<SubmitPlcOperationInput>,
) -> Result<(), XrpcError> {
    if !auth.is_full_access() {
        return Err(XrpcError::invalid_request(
            "an app password cannot submit PLC operations",
        ));
    }
    let did = parse_did(&auth.did)?;
    let op = aerie_plc::SignedOperation::from_json(&input.operation)
        .map_err(|e| XrpcError::invalid_request(format!("Invalid PLC operation: {e}")))?;
    let acct = load_account(&st, &auth.did).await?;
    let key = account_key(&acct)?;
    let Some(plc) = op.operation().normalized() else {
        return Err(XrpcError::invalid_request(
            "Invalid PLC operation: a tombstone would deactivate the DID",
        ));
    };
    let rotation = st.rotation_key().public_key().to_did_key();
    if !plc.rotation_keys.contains(&rotation) {
        return Err(XrpcError::invalid_request(
            "Rotation keys do not include server's rotation key",
        ));
    }
    let pds = plc.services.get("atproto_pds");
    if pds.map(|s| s.service_type.as_str()) != Some(aerie_identity::ATPROTO_PDS_TYPE) {
        return Err(XrpcError::invalid_request("Missing atproto_pds service"));
    }
    if pds.map(|s| s.endpoint.trim_end_matches('/'))
        != Some(st.config().public_url.trim_end_matches('/'))
    {
        return Err(XrpcError::invalid_request(
            "Incorrect endpoint on atproto_pds service",
        ));
    }
    if plc.verification_methods.get("atproto") != Some(&key.public_key().to_did_key()) {
        return Err(XrpcError::invalid_request("Incorrect signing key"));
    }
    if let Some(h) = &acct.handle
        && plc.also_known_as.first() != Some(&format!("at://{h}"))
    {
        return Err(XrpcError::invalid_request(
            "Incorrect handle in alsoKnownAs",
        ));
    }
    st.plc().submit(&did, &op).await?;
    st.resolver().forget_did(&did);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Activation

/// com.atproto.server.activateAccount: checks that the DID document now names this PDS and
/// the account's key, re-signs the repo with that key under a new rev when its commit is
/// signed by another key (an imported repo), clears the deactivation and emits #identity,
/// #account (active) and #sync, in that order, in one write job.
pub async fn activate_account(
    State(st): State<AppState>,
    auth: AccessAuth,
) -> Result<(), XrpcError> {
    let acct = load_account(&st, &auth.did).await?;
    let did = parse_did(&acct.did)?;
    let key = account_key(&acct)?;
    let doc = st
        .resolver()
        .refresh_did(&did)
        .await
        .map_err(|e| XrpcError::invalid_request(format!("Could not resolve DID: {e}")))?;
    let endpoint = doc.pds_endpoint();
    if endpoint.as_deref().map(|e| e.trim_end_matches('/'))
        != Some(st.config().public_url.trim_end_matches('/'))
    {
        return Err(XrpcError::invalid_request(format!(
            "DID document names another PDS ({}); update the DID first",
            endpoint.as_deref().unwrap_or("none")
        )));
    }
    if doc.signing_key().ok().as_ref() != Some(&key.public_key()) {
        return Err(XrpcError::invalid_request(
            "DID document signing key does not match the account's key",
        ));
    }
    let handle = acct.handle.as_deref().and_then(|h| Handle::parse(h).ok());
    let _guard = st.repo_locks().lock(did.as_str()).await;
    let (did_s, did_c) = (did.as_str().to_owned(), did.clone());
    let public = key.public_key();
    let events = st
        .store()
        .write(
            move |tx: &Transaction<'_>| -> Result<Vec<Sequenced>, JobError> {
                let root = repo_table::root(tx, &did_s)?.ok_or_else(|| {
                    XrpcError::named("RepoNotFound", format!("Could not find repo: {did_s}"))
                })?;
                let src = StoreSource::new(tx, &did_s);
                let mut repo = Repo::load(&src, root.commit).map_err(XrpcError::internal)?;
                let sync_commit = if repo.commit().verify(&public).is_ok() {
                    let bytes = repo_table::block(tx, &did_s, &root.commit)?.ok_or_else(|| {
                        XrpcError::internal(format!("commit block of {did_s} missing"))
                    })?;
                    let car =
                        aerie_repo::car::write_car(&[root.commit], [(&root.commit, &bytes[..])]);
                    (repo.rev(), car)
                } else {
                    let rev = crate::records::next_rev(&repo.rev())?;
                    let commit = repo.resign(&key, rev).map_err(XrpcError::internal)?;
                    crate::records::persist_commit(tx, &did_s, &commit, Some(root.commit))?;
                    (commit.rev, commit.car_slice())
                };
                lifecycle::set_deactivated(tx, &did_s, None, None)?;
                let (rev, blocks) = sync_commit;
                Ok(vec![
                    sequencer::append(tx, &sequencer::identity_event(&did_c, handle.as_ref()))?,
                    sequencer::append(tx, &sequencer::active_event(&did_c))?,
                    sequencer::append(
                        tx,
                        &Event::Sync(SyncEvent {
                            did: did_c.clone(),
                            rev,
                            blocks,
                            time: Datetime::now(),
                        }),
                    )?,
                ])
            },
        )
        .await?;
    sequencer::publish(st.firehose(), events).await;
    Ok(())
}

/// The key the old repo must be signed with: the DID document's current #atproto key.
pub(crate) async fn resolved_signing_key(st: &AppState, did: &Did) -> Result<PublicKey, XrpcError> {
    st.resolver()
        .refresh_did(did)
        .await
        .and_then(|doc| doc.signing_key())
        .map_err(|e| {
            XrpcError::invalid_request(format!(
                "Could not resolve the signing key of {}: {e}",
                did.as_str()
            ))
        })
}

// ---------------------------------------------------------------------------------------
// importRepo

/// com.atproto.repo.importRepo: the body is a repository CAR (see [`crate::import`]).
///
/// Two callers: the account itself (Bearer session; a migration into a deactivated
/// account), or the operator with HTTP basic admin auth and `?did=` (`aerie repo import`),
/// who may also replace an active account's repo: then the import is re-signed with the
/// account's key if needed and announced with `#sync` in the same write job.
pub async fn import_repo(
    State(st): State<AppState>,
    req: axum::extract::Request,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    let (mut parts, body) = req.into_parts();
    let is_basic = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "));
    let (did, by_admin) = if is_basic {
        aerie_xrpc::AdminAuth::from_request_parts(&mut parts, &st).await?;
        let Params(p) = Params::<AdminImportParams>::from_request_parts(&mut parts, &st).await?;
        (parse_did(&p.did)?, true)
    } else {
        let auth = AccessAuth::from_request_parts(&mut parts, &st).await?;
        (parse_did(&auth.did)?, false)
    };
    let temp = crate::import::spool_body(&st, body).await?;
    // An unresolvable DID is not fatal yet: the CAR may still be signed by the account's own
    // key (a re-import after the DID already moved here); import_car_file decides.
    let key = resolved_signing_key(&st, &did).await.ok();
    let summary = crate::import::import_car_file(&st, &did, temp.path(), key, by_admin).await?;
    // The lexicon declares no output; the summary helps operators and costs clients nothing.
    Ok(axum::Json(json!({
        "commit": summary.commit.to_string(),
        "rev": summary.rev.as_str(),
        "records": summary.records,
        "blocks": summary.blocks,
        "blobs": summary.blobs,
    })))
}

#[derive(Deserialize)]
pub struct AdminImportParams {
    did: String,
}

// ---------------------------------------------------------------------------------------
// reserveSigningKey

#[derive(Deserialize)]
pub struct ReserveSigningKeyInput {
    did: Option<String>,
}

/// com.atproto.server.reserveSigningKey: a repo signing key for an account that will be
/// created here (no auth, as the reference). With `did`, asking again returns the same key
/// and createAccount for that DID uses it; without, the key is filed under its own did:key.
pub async fn reserve_signing_key(
    State(st): State<AppState>,
    aerie_xrpc::Json(input): aerie_xrpc::Json<ReserveSigningKeyInput>,
) -> JsonResult {
    let did = input.did.as_deref().map(parse_did).transpose()?;
    let fresh = SigningKey::generate(KeyType::K256).map_err(XrpcError::internal)?;
    let key_id = match &did {
        Some(d) => d.as_str().to_owned(),
        None => fresh.public_key().to_did_key(),
    };
    let (bytes, now) = (fresh.to_bytes(), Datetime::now().into_string());
    let kept = st
        .store()
        .write(move |tx: &Transaction<'_>| reserved_key::reserve(tx, &key_id, &bytes, &now))
        .await
        .map_err(store_error)?;
    let key = SigningKey::from_bytes(KeyType::K256, &kept).map_err(XrpcError::internal)?;
    Ok(axum::Json(
        json!({ "signingKey": key.public_key().to_did_key() }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_parse_from_the_lexicon_shape_and_reject_anything_else() {
        let ok = parse_services(&json!({
            "atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": "https://pds.example"}
        }))
        .unwrap();
        assert_eq!(ok["atproto_pds"].endpoint, "https://pds.example");
        assert_eq!(ok["atproto_pds"].service_type, "AtprotoPersonalDataServer");
        for bad in [
            json!([]),
            json!({"atproto_pds": {"type": "X"}}),
            json!({"atproto_pds": {"endpoint": 5, "type": "X"}}),
        ] {
            assert_eq!(parse_services(&bad).unwrap_err().error(), "InvalidRequest");
        }
    }

    #[test]
    fn next_rev_is_after_a_rev_from_the_future() {
        let future = Tid::from_u64(Tid::now().as_u64() + (1 << 40));
        assert!(crate::records::next_rev(&future).unwrap() > future);
        let past = Tid::from_u64(1 << 20);
        assert!(crate::records::next_rev(&past).unwrap() > past);
    }

    #[test]
    fn service_auth_failures_keep_the_reference_names() {
        let expired = aerie_identity::IdentityError::JwtExpired { exp: 1, now: 100 };
        let e = identity_error(expired);
        assert_eq!((e.status().as_u16(), e.error()), (401, "JwtExpired"));
        let bad_exp = aerie_identity::IdentityError::BadExpiration { reason: "past" };
        let e = identity_error(bad_exp);
        assert_eq!((e.status().as_u16(), e.error()), (400, "BadExpiration"));
    }
}
