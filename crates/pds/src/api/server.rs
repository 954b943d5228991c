//! com.atproto.server.*: describeServer, accounts, sessions, invite codes.

use aerie_crypto::{KeyType, SigningKey};
use aerie_repo::repo::Repo;
use aerie_store::{Transaction, account, invite, token};
use aerie_syntax::{Datetime, Did, Handle, Tid};
use aerie_xrpc::{
    AccessAuth, AdminAuth, BearerToken, Json, Params, RefreshAuth, XrpcError, unix_now,
};
use axum::extract::{Extension, State};
use serde::{Deserialize, Serialize};
use serde_json::{Value as JsonValue, json};

use crate::error::{JobError, store_error};
use crate::rate_limit::{ClientIp, Limit};
use crate::sequencer::{self, Sequenced};
use crate::session::{self, REFRESH_GRACE_SECS};
use crate::{AppState, password, plc};

type JsonResult<T> = Result<axum::Json<T>, XrpcError>;

/// `GET /xrpc/_health`.
pub async fn health() -> axum::Json<JsonValue> {
    axum::Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}

/// com.atproto.server.describeServer
pub async fn describe_server(State(st): State<AppState>) -> axum::Json<JsonValue> {
    let c = st.config();
    let mut out = json!({
        "did": c.service_did,
        "availableUserDomains": c.service_handle_domains,
        "inviteCodeRequired": c.invite_required,
        "phoneVerificationRequired": false,
        "links": {},
        "contact": {},
    });
    if let Some(u) = &c.privacy_policy_url {
        out["links"]["privacyPolicy"] = json!(u);
    }
    if let Some(u) = &c.terms_of_service_url {
        out["links"]["termsOfService"] = json!(u);
    }
    if let Some(e) = &c.contact_email_address {
        out["contact"]["email"] = json!(e);
    }
    axum::Json(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAccountInput {
    email: Option<String>,
    handle: String,
    did: Option<String>,
    invite_code: Option<String>,
    password: Option<String>,
    #[allow(dead_code)] // accepted for compatibility; a recovery key is not supported yet
    recovery_key: Option<String>,
    plc_op: Option<JsonValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAccountOutput {
    access_jwt: String,
    refresh_jwt: String,
    handle: String,
    did: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    did_doc: Option<JsonValue>,
}

/// Checks a new handle against the service's domains, the way the reference does for
/// hosted handles: one label in front of a service domain, 3 to 18 characters.
pub(crate) fn check_new_handle(raw: &str, domains: &[String]) -> Result<Handle, XrpcError> {
    let handle = Handle::parse(&raw.trim().to_ascii_lowercase())
        .map_err(|_| XrpcError::named("InvalidHandle", "Input/handle must be a valid handle"))?;
    let h = handle.as_str();
    let allow_test = domains.iter().any(|d| d.ends_with(".test"));
    if handle.has_disallowed_tld(allow_test) {
        return Err(XrpcError::named(
            "InvalidHandle",
            "Handle TLD is invalid or disallowed",
        ));
    }
    let Some(domain) = domains.iter().find(|d| h.ends_with(d.as_str())) else {
        return Err(XrpcError::named(
            "UnsupportedDomain",
            "Not a supported handle domain",
        ));
    };
    let front = &h[..h.len() - domain.len()];
    if front.contains('.') {
        return Err(XrpcError::named(
            "InvalidHandle",
            "Invalid characters in handle",
        ));
    }
    if front.len() < 3 {
        return Err(XrpcError::named("InvalidHandle", "Handle too short"));
    }
    if front.len() > 18 {
        return Err(XrpcError::named("InvalidHandle", "Handle too long"));
    }
    Ok(handle)
}

/// A deliberately loose email check: one `@`, something before it, a dotted domain after.
pub(crate) fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && email.len() <= 254
}

/// com.atproto.server.createAccount (new did:plc accounts; migration with `did` is not
/// supported yet).
pub async fn create_account(
    State(st): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: axum::http::HeaderMap,
    Json(input): Json<CreateAccountInput>,
) -> JsonResult<CreateAccountOutput> {
    st.rate_limits()
        .check(&[Limit::CreateAccount], &ip.key(), 1)?;
    if input.plc_op.is_some() {
        return Err(XrpcError::invalid_request(
            "Submitting a plcOp with createAccount is not supported",
        ));
    }
    if let Some(did) = input.did {
        // Account migration: the DID exists; the old PDS vouches with a service token.
        let signup = super::migration::MigrationSignup {
            did,
            handle: input.handle,
            email: input.email,
            password: input.password,
            invite_code: input.invite_code,
        };
        let out = super::migration::create_account_with_did(&st, &headers, signup).await?;
        return Ok(axum::Json(CreateAccountOutput {
            access_jwt: out.access_jwt,
            refresh_jwt: out.refresh_jwt,
            handle: out.handle,
            did: out.did,
            did_doc: out.did_doc,
        }));
    }
    let cfg = st.config();
    let handle = check_new_handle(&input.handle, &cfg.service_handle_domains)?;
    let email = input
        .email
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| XrpcError::invalid_request("Email is required"))?;
    if !is_plausible_email(&email) {
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
        let code = input
            .invite_code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| XrpcError::named("InvalidInviteCode", "No invite code provided"))?;
        Some(code)
    } else {
        None
    };

    // Cheap checks first, so a taken handle does not cost a PLC operation. The account
    // insert below re-checks under the UNIQUE constraints.
    let (h, e, code) = (
        handle.as_str().to_owned(),
        email.clone(),
        invite_code.clone(),
    );
    st.store()
        .read(move |c| -> Result<(), JobError> {
            if account::by_handle(c, &h)?.is_some() {
                return Err(XrpcError::named(
                    "HandleNotAvailable",
                    format!("Handle already taken: {h}"),
                )
                .into());
            }
            if account::by_email(c, &e)?.is_some() {
                return Err(XrpcError::invalid_request(format!("Email already taken: {e}")).into());
            }
            if let Some(code) = &code
                && !invite::is_usable(c, code)?
            {
                return Err(invite_unavailable().into());
            }
            Ok(())
        })
        .await?;

    let password_hash = password::hash(password).await?;
    let signing_key = SigningKey::generate(KeyType::K256).map_err(XrpcError::internal)?;
    let did = plc::create_did(
        st.plc(),
        st.rotation_key(),
        &signing_key,
        &handle,
        &cfg.public_url,
    )
    .await?;

    let (_, commit) = Repo::create(did.clone(), &signing_key, Tid::now());
    let tokens = session::issue(st.keys(), did.as_str(), session::new_token_id()?);
    let now = Datetime::now().into_string();
    let key_bytes = signing_key.to_bytes();
    let (did_s, handle_s, row) = (
        did.as_str().to_owned(),
        handle.as_str().to_owned(),
        tokens.row.clone(),
    );
    let (did_c, handle_c) = (did.clone(), handle.clone());
    let events = st
        .store()
        .write(
            move |tx: &Transaction<'_>| -> Result<Vec<Sequenced>, JobError> {
                if let Some(code) = &invite_code {
                    if !invite::is_usable(tx, code)? {
                        return Err(invite_unavailable().into());
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
                crate::records::persist_commit(tx, &did_s, &commit, None)?;
                session::store_row(tx, &row)?;
                // As the reference: #identity, #account (active), the first #commit, then
                // #sync (the repo's starting state, for consumers that skip the commit).
                Ok(vec![
                    sequencer::append(tx, &sequencer::identity_event(&did_c, Some(&handle_c)))?,
                    sequencer::append(tx, &sequencer::active_event(&did_c))?,
                    sequencer::append(tx, &sequencer::commit_event(&did_c, &commit)?)?,
                    sequencer::append(tx, &sequencer::sync_event(&did_c, &commit)?)?,
                ])
            },
        )
        .await?;
    sequencer::publish(st.firehose(), events).await;

    let did_doc = st.plc().document(&did).await;
    Ok(axum::Json(CreateAccountOutput {
        access_jwt: tokens.access,
        refresh_jwt: tokens.refresh,
        handle: handle.into_string(),
        did: did.into_string(),
        did_doc,
    }))
}

fn invite_unavailable() -> XrpcError {
    XrpcError::named("InvalidInviteCode", "Provided invite code not available")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionInput {
    identifier: String,
    password: String,
}

/// The session shape shared by createSession, refreshSession and getSession.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_jwt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_jwt: Option<String>,
    handle: String,
    did: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    did_doc: Option<JsonValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    email_confirmed: bool,
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
}

async fn session_output(
    st: &AppState,
    acct: account::Account,
    tokens: Option<session::Tokens>,
) -> SessionOutput {
    let did_doc = match Did::parse(&acct.did) {
        Ok(did) => crate::plc::did_document(st, &did).await,
        Err(_) => None,
    };
    let status = if acct.takedown_ref.is_some() {
        Some("takendown")
    } else if acct.deactivated_at.is_some() {
        Some("deactivated")
    } else {
        None
    };
    SessionOutput {
        access_jwt: tokens.as_ref().map(|t| t.access.clone()),
        refresh_jwt: tokens.map(|t| t.refresh),
        handle: acct.handle.unwrap_or_else(|| "handle.invalid".to_owned()),
        did: acct.did,
        did_doc,
        email: acct.email,
        email_confirmed: acct.email_confirmed_at.is_some(),
        active: status.is_none(),
        status,
    }
}

async fn account_by_did(st: &AppState, did: &str) -> Result<account::Account, XrpcError> {
    let d = did.to_owned();
    st.store()
        .read(move |c| account::by_did(c, &d))
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            XrpcError::invalid_request(format!("Could not find user info for account: {did}"))
        })
}

/// com.atproto.server.createSession (identifier = handle, DID or email).
pub async fn create_session(
    State(st): State<AppState>,
    Json(input): Json<CreateSessionInput>,
) -> JsonResult<SessionOutput> {
    let bad = || XrpcError::auth_required("Invalid identifier or password");
    let ident = input.identifier.trim().to_lowercase();
    let tried = ident.clone();
    let acct = st
        .store()
        .read(move |c| {
            if ident.contains('@') {
                account::by_email(c, &ident)
            } else if ident.starts_with("did:") {
                account::by_did(c, &ident)
            } else {
                account::by_handle(c, &ident)
            }
        })
        .await
        .map_err(store_error)?;
    // Login attempts count per account whichever identifier names it (handle, email or DID),
    // before any password is checked.
    let key = acct.as_ref().map_or(tried, |a| a.did.clone());
    st.rate_limits()
        .check(&[Limit::SessionShort, Limit::SessionDay], &key, 1)?;
    let Some(acct) = acct else {
        // Spend the same work as a real check so timing does not reveal unknown accounts.
        password::verify_nothing(input.password).await;
        return Err(bad());
    };
    let Some(stored) = acct.password_hash.clone() else {
        return Err(bad());
    };
    // The account password first; else an app password (scoped session).
    let app_pass = if password::verify(input.password.clone(), stored).await {
        None
    } else {
        match super::account::match_app_password(&st, &acct.did, &input.password).await? {
            Some(p) => Some(p),
            None => return Err(bad()),
        }
    };
    if acct.takedown_ref.is_some() {
        return Err(super::admin::takedown_error());
    }
    let grant = match &app_pass {
        None => session::Grant::Full,
        Some(p) => session::Grant::AppPassword {
            name: &p.name,
            privileged: p.privileged,
        },
    };
    let tokens = session::issue_with(st.keys(), &acct.did, session::new_token_id()?, grant);
    let row = tokens.row.clone();
    st.store()
        .write(move |tx: &Transaction<'_>| session::store_row(tx, &row))
        .await
        .map_err(store_error)?;
    Ok(axum::Json(session_output(&st, acct, Some(tokens)).await))
}

/// com.atproto.server.getSession
pub async fn get_session(
    State(st): State<AppState>,
    auth: AccessAuth,
) -> JsonResult<SessionOutput> {
    let acct = account_by_did(&st, &auth.did).await?;
    Ok(axum::Json(session_output(&st, acct, None).await))
}

/// com.atproto.server.refreshSession: rotates the refresh token. The old token stays
/// valid for a short grace period and, if replayed, yields the same next token id.
pub async fn refresh_session(
    State(st): State<AppState>,
    auth: RefreshAuth,
) -> JsonResult<SessionOutput> {
    let now = unix_now();
    let jti = auth.jti.clone();
    let row = st
        .store()
        .read(move |c| token::get(c, &jti))
        .await
        .map_err(store_error)?;
    let revoked = || XrpcError::named("ExpiredToken", "Token has been revoked");
    let row = row.ok_or_else(revoked)?;
    if row.did != auth.did || row.expires_at <= now {
        return Err(revoked());
    }
    let acct = account_by_did(&st, &auth.did).await?;
    if acct.takedown_ref.is_some() {
        return Err(super::admin::takedown_error());
    }
    let next_id = match row.next_id.clone() {
        Some(id) => id,
        None => session::new_token_id()?,
    };
    // A session opened with an app password stays one; a revoked app password ends it.
    let app_pass = match &row.app_password_name {
        None => None,
        Some(name) => {
            let (d, n) = (acct.did.clone(), name.clone());
            let p = st
                .store()
                .read(move |c| aerie_store::app_password::get(c, &d, &n))
                .await
                .map_err(store_error)?;
            Some(p.ok_or_else(revoked)?)
        }
    };
    let grant = match &app_pass {
        None => session::Grant::Full,
        Some(p) => session::Grant::AppPassword {
            name: &p.name,
            privileged: p.privileged,
        },
    };
    let tokens = session::issue_with(st.keys(), &acct.did, next_id.clone(), grant);
    let (old, did, new_row) = (auth.jti, acct.did.clone(), tokens.row.clone());
    st.store()
        .write(move |tx: &Transaction<'_>| {
            token::mark_rotated(tx, &old, &next_id, now + REFRESH_GRACE_SECS)?;
            session::store_row(tx, &new_row)?;
            token::delete_expired(tx, &did, now).map(|_| ())
        })
        .await
        .map_err(store_error)?;
    Ok(axum::Json(session_output(&st, acct, Some(tokens)).await))
}

/// com.atproto.server.deleteSession: revokes the refresh token (expired ones accepted).
pub async fn delete_session(
    State(st): State<AppState>,
    BearerToken(token): BearerToken,
) -> Result<(), XrpcError> {
    let auth = RefreshAuth::verify(st.keys(), &token, true)?;
    st.store()
        .write(move |tx: &Transaction<'_>| token::delete(tx, &auth.jti).map(|_| ()))
        .await
        .map_err(store_error)
}

fn random_code_part() -> Result<String, XrpcError> {
    let mut buf = [0u8; 5];
    getrandom::fill(&mut buf).map_err(XrpcError::internal)?;
    // 40 random bits -> 8 base32 characters; the reference uses two 5-character groups.
    let s = data_encoding::BASE32_NOPAD
        .encode(&buf)
        .to_ascii_lowercase();
    Ok(s[..5].to_owned())
}

fn new_invite_code(hostname: &str) -> Result<String, XrpcError> {
    Ok(format!(
        "{}-{}-{}",
        hostname.replace('.', "-"),
        random_code_part()?,
        random_code_part()?
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInviteCodeInput {
    use_count: i64,
    for_account: Option<String>,
}

/// com.atproto.server.createInviteCode (admin).
pub async fn create_invite_code(
    State(st): State<AppState>,
    _: AdminAuth,
    Json(input): Json<CreateInviteCodeInput>,
) -> JsonResult<JsonValue> {
    if input.use_count < 1 {
        return Err(XrpcError::invalid_request("useCount must be at least 1"));
    }
    let code = new_invite_code(&st.config().hostname)?;
    let for_account = input.for_account.unwrap_or_else(|| "admin".to_owned());
    let (c, now) = (code.clone(), Datetime::now().into_string());
    st.store()
        .write(move |tx: &Transaction<'_>| {
            invite::insert(tx, &c, input.use_count, &for_account, "admin", &now)
        })
        .await
        .map_err(store_error)?;
    Ok(axum::Json(json!({ "code": code })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInviteCodesInput {
    #[serde(default = "one")]
    code_count: i64,
    use_count: i64,
    #[serde(default)]
    for_accounts: Vec<String>,
}

fn one() -> i64 {
    1
}

/// com.atproto.server.createInviteCodes (admin).
pub async fn create_invite_codes(
    State(st): State<AppState>,
    _: AdminAuth,
    Json(input): Json<CreateInviteCodesInput>,
) -> JsonResult<JsonValue> {
    if input.use_count < 1 || !(1..=1000).contains(&input.code_count) {
        return Err(XrpcError::invalid_request(
            "useCount must be at least 1 and codeCount between 1 and 1000",
        ));
    }
    let accounts = if input.for_accounts.is_empty() {
        vec!["admin".to_owned()]
    } else {
        input.for_accounts
    };
    let mut out = Vec::with_capacity(accounts.len());
    for acct in accounts {
        let codes = (0..input.code_count)
            .map(|_| new_invite_code(&st.config().hostname))
            .collect::<Result<Vec<_>, _>>()?;
        out.push((acct, codes));
    }
    let (rows, now, uses) = (out.clone(), Datetime::now().into_string(), input.use_count);
    st.store()
        .write(move |tx: &Transaction<'_>| {
            for (acct, codes) in &rows {
                for c in codes {
                    invite::insert(tx, c, uses, acct, "admin", &now)?;
                }
            }
            Ok(())
        })
        .await
        .map_err(store_error)?;
    let codes: Vec<JsonValue> = out
        .into_iter()
        .map(|(account, codes)| json!({ "account": account, "codes": codes }))
        .collect();
    Ok(axum::Json(json!({ "codes": codes })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetAccountInviteCodesParams {
    #[serde(default = "yes")]
    include_used: bool,
}

fn yes() -> bool {
    true
}

/// com.atproto.server.getAccountInviteCodes (codes issued to the caller).
pub async fn get_account_invite_codes(
    State(st): State<AppState>,
    auth: AccessAuth,
    Params(p): Params<GetAccountInviteCodesParams>,
) -> JsonResult<JsonValue> {
    let did = auth.did.clone();
    let codes = st
        .store()
        .read(move |c| invite::for_account(c, &did))
        .await
        .map_err(store_error)?;
    let codes: Vec<JsonValue> = codes
        .into_iter()
        .filter(|c| p.include_used || (c.uses.len() as i64) < c.available)
        .map(|c| {
            json!({
                "code": c.code,
                "available": c.available,
                "disabled": c.disabled,
                "forAccount": c.for_account,
                "createdBy": c.created_by,
                "createdAt": c.created_at,
                "uses": c.uses.iter().map(|u| json!({"usedBy": u.used_by, "usedAt": u.used_at})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "codes": codes })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<String> {
        vec![".test".to_owned()]
    }

    #[test]
    fn hosted_handle_is_one_label_of_3_to_18_characters() {
        assert!(check_new_handle("Alice.TEST", &domains()).is_ok());
        let err = |h: &str| check_new_handle(h, &domains()).unwrap_err();
        assert_eq!(err("al.test").message(), Some("Handle too short"));
        assert_eq!(
            err("a234567890123456789.test").message(),
            Some("Handle too long")
        );
        assert_eq!(err("a.bob.test").error(), "InvalidHandle");
        assert_eq!(err("alice.example.com").error(), "UnsupportedDomain");
        assert_eq!(err("not a handle").error(), "InvalidHandle");
    }

    #[test]
    fn email_check_is_loose_but_not_empty() {
        assert!(is_plausible_email("a@b.co"));
        for bad in ["", "a", "@b.co", "a@b", "a@@b.co", "a b@c.co", "a@.co"] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn invite_codes_look_like_the_reference() {
        let c = new_invite_code("pds.example.com").unwrap();
        let parts: Vec<&str> = c.rsplitn(3, '-').collect();
        assert_eq!(parts[2], "pds-example-com");
        assert_eq!(parts[0].len(), 5);
        assert_eq!(parts[1].len(), 5);
    }
}
