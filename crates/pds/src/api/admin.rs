//! com.atproto.admin.*, authenticated with HTTP basic `admin:<PDS_ADMIN_PASSWORD>`:
//! account views and search, takedowns (repo subjects), credentials, handles, invite rights
//! and deletion.

use aerie_data::Cid;
use aerie_store::{
    Transaction, account, invite, lifecycle,
    lifecycle::{AdminDetails, Search},
};
use aerie_syntax::{Did, Handle};
use aerie_xrpc::{AdminAuth, Json, Params, XrpcError};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use super::account::{account_event, delete_account_everywhere};
use crate::error::{JobError, store_error};
use crate::sequencer::{self, Sequenced};
use crate::{AppState, password};

type JsonResult = Result<axum::Json<JsonValue>, XrpcError>;

/// 401 `AccountTakedown`, as the reference answers a taken-down account.
pub(crate) fn takedown_error() -> XrpcError {
    XrpcError::new(
        StatusCode::UNAUTHORIZED,
        "AccountTakedown",
        "Account has been taken down",
    )
}

fn parse_did(did: &str) -> Result<Did, XrpcError> {
    Did::parse(did).map_err(|_| XrpcError::invalid_request(format!("Invalid DID: {did}")))
}

fn account_not_found() -> XrpcError {
    XrpcError::named("AccountNotFound", "Account not found")
}

/// The account named by a DID or a handle (the `account` field of several admin inputs).
async fn resolve_account(st: &AppState, ident: &str) -> Result<account::Account, XrpcError> {
    let ident = ident.trim().to_ascii_lowercase();
    st.store()
        .read(move |c| {
            if ident.starts_with("did:") {
                account::by_did(c, &ident)
            } else {
                account::by_handle(c, &ident)
            }
        })
        .await
        .map_err(store_error)?
        .ok_or_else(account_not_found)
}

/// `com.atproto.admin.defs#accountView` of an account.
fn account_view(
    acct: &account::Account,
    details: &AdminDetails,
    invites: &[invite::InviteCode],
) -> JsonValue {
    let mut v = json!({
        "did": acct.did,
        "handle": acct.handle.as_deref().unwrap_or("handle.invalid"),
        "indexedAt": acct.created_at,
        "invitesDisabled": details.invites_disabled,
        "invites": invites.iter().map(|c| json!({
            "code": c.code,
            "available": c.available,
            "disabled": c.disabled,
            "forAccount": c.for_account,
            "createdBy": c.created_by,
            "createdAt": c.created_at,
            "uses": c.uses.iter().map(|u| json!({"usedBy": u.used_by, "usedAt": u.used_at})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    if let Some(e) = &acct.email {
        v["email"] = json!(e);
    }
    if let Some(t) = &acct.email_confirmed_at {
        v["emailConfirmedAt"] = json!(t);
    }
    if let Some(t) = &acct.deactivated_at {
        v["deactivatedAt"] = json!(t);
    }
    if let Some(code) = &details.invited_by {
        v["invitedBy"] = json!({ "code": code });
    }
    v
}

/// The views of the accounts among `dids` that exist, in the given order.
async fn views(st: &AppState, dids: Vec<String>) -> Result<Vec<JsonValue>, XrpcError> {
    st.store()
        .read(
            move |c| -> Result<Vec<JsonValue>, aerie_store::StoreError> {
                let mut out = Vec::with_capacity(dids.len());
                for did in &dids {
                    let (Some(acct), Some(details)) =
                        (account::by_did(c, did)?, lifecycle::admin_details(c, did)?)
                    else {
                        continue;
                    };
                    let invites = invite::for_account(c, did)?;
                    out.push(account_view(&acct, &details, &invites));
                }
                Ok(out)
            },
        )
        .await
        .map_err(store_error)
}

#[derive(Deserialize)]
pub struct DidParam {
    did: String,
}

/// com.atproto.admin.getAccountInfo
pub async fn get_account_info(
    State(st): State<AppState>,
    _: AdminAuth,
    Params(p): Params<DidParam>,
) -> JsonResult {
    views(&st, vec![p.did])
        .await?
        .pop()
        .map(axum::Json)
        .ok_or_else(account_not_found)
}

/// com.atproto.admin.getAccountInfos?dids=..&dids=..
pub async fn get_account_infos(
    State(st): State<AppState>,
    _: AdminAuth,
    Params(pairs): Params<Vec<(String, String)>>,
) -> JsonResult {
    let dids: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "dids")
        .map(|(_, v)| v)
        .collect();
    if dids.is_empty() || dids.len() > 100 {
        return Err(XrpcError::invalid_request(
            "dids must name 1 to 100 accounts",
        ));
    }
    Ok(axum::Json(json!({ "infos": views(&st, dids).await? })))
}

#[derive(Deserialize)]
pub struct SearchParams {
    email: Option<String>,
    handle: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// com.atproto.admin.searchAccounts: by email prefix (and, beyond the lexicon, handle
/// prefix); DID order, the cursor is the last DID of the page.
pub async fn search_accounts(
    State(st): State<AppState>,
    _: AdminAuth,
    Params(p): Params<SearchParams>,
) -> JsonResult {
    let limit = p.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(XrpcError::invalid_request(
            "limit must be between 1 and 100",
        ));
    }
    let dids = st
        .store()
        .read(move |c| {
            lifecycle::search(
                c,
                Search {
                    email: p.email.as_deref().filter(|e| !e.is_empty()),
                    handle: p.handle.as_deref().filter(|h| !h.is_empty()),
                    after_did: p.cursor.as_deref(),
                },
                limit,
            )
        })
        .await
        .map_err(store_error)?;
    let cursor = (dids.len() as u32 == limit)
        .then(|| dids.last().cloned())
        .flatten();
    let mut out = json!({ "accounts": views(&st, dids).await? });
    if let Some(c) = cursor {
        out["cursor"] = json!(c);
    }
    Ok(axum::Json(out))
}

#[derive(Deserialize)]
pub struct StatusAttr {
    applied: bool,
    #[serde(rename = "ref")]
    reference: Option<String>,
}

#[derive(Deserialize)]
pub struct UpdateSubjectStatusInput {
    subject: JsonValue,
    takedown: Option<StatusAttr>,
    deactivated: Option<StatusAttr>,
}

/// The DID of a `#repoRef` subject; record and blob subjects are not supported here.
fn repo_subject(subject: &JsonValue) -> Result<String, XrpcError> {
    let ty = subject.get("$type").and_then(JsonValue::as_str);
    match (ty, subject.get("did").and_then(JsonValue::as_str)) {
        (Some("com.atproto.admin.defs#repoRef") | None, Some(did))
            if subject.get("cid").is_none() =>
        {
            Ok(did.to_owned())
        }
        _ => Err(XrpcError::invalid_request(
            "Only repo subjects (com.atproto.admin.defs#repoRef) are supported",
        )),
    }
}

/// com.atproto.admin.updateSubjectStatus. Blob and record subjects: see
/// `update_part_status`. Repo subjects: takedown and deactivation,
/// applied or lifted, each announced with `#account`. A takedown also ends the account's
/// sessions (refresh tokens).
pub async fn update_subject_status(
    State(st): State<AppState>,
    _: AdminAuth,
    Json(input): Json<UpdateSubjectStatusInput>,
) -> JsonResult {
    if let Some(part) = part_subject(&input.subject)? {
        return update_part_status(&st, part, &input.subject, input.takedown).await;
    }
    let did_s = repo_subject(&input.subject)?;
    let did = parse_did(&did_s)?;
    let _guard = st.repo_locks().lock(did.as_str()).await;
    let (d, did_c, now) = (
        did_s.clone(),
        did.clone(),
        aerie_syntax::Datetime::now().into_string(),
    );
    let (takedown, deactivated) = (input.takedown, input.deactivated);
    let takedown_out = takedown
        .as_ref()
        .map(|t| json!({ "applied": t.applied, "ref": t.reference }));
    let events = st
        .store()
        .write(
            move |tx: &Transaction<'_>| -> Result<Vec<Sequenced>, JobError> {
                let acct = account::by_did(tx, &d)?.ok_or_else(account_not_found)?;
                let mut taken_down = acct.takedown_ref.is_some();
                let mut is_deactivated = acct.deactivated_at.is_some();
                if let Some(t) = &takedown {
                    let r = t
                        .applied
                        .then(|| t.reference.clone().unwrap_or(now.clone()));
                    lifecycle::set_takedown(tx, &d, r.as_deref())?;
                    if t.applied {
                        lifecycle::revoke_sessions(tx, &d)?;
                    }
                    taken_down = t.applied;
                }
                if let Some(x) = &deactivated {
                    let at = x.applied.then_some(now.as_str());
                    lifecycle::set_deactivated(tx, &d, at, None)?;
                    is_deactivated = x.applied;
                }
                if (taken_down, is_deactivated)
                    == (acct.takedown_ref.is_some(), acct.deactivated_at.is_some())
                {
                    return Ok(Vec::new());
                }
                Ok(vec![sequencer::append(
                    tx,
                    &account_event(&did_c, (taken_down, is_deactivated)),
                )?])
            },
        )
        .await?;
    sequencer::publish(st.firehose(), events).await;
    let mut out = json!({
        "subject": { "$type": "com.atproto.admin.defs#repoRef", "did": did_s },
    });
    if let Some(t) = takedown_out {
        out["takedown"] = t;
    }
    Ok(axum::Json(out))
}

#[derive(Deserialize)]
pub struct SubjectParams {
    did: Option<String>,
    uri: Option<String>,
    blob: Option<String>,
}

/// com.atproto.admin.getSubjectStatus: repo (`did`), record (`uri`) or blob (`did` + `blob`).
pub async fn get_subject_status(
    State(st): State<AppState>,
    _: AdminAuth,
    Params(p): Params<SubjectParams>,
) -> JsonResult {
    if let Some(uri) = &p.uri {
        let part = record_part(uri)?;
        return get_part_status(&st, part).await;
    }
    if let (Some(did), Some(blob)) = (&p.did, &p.blob) {
        let part = blob_part(did, blob)?;
        return get_part_status(&st, part).await;
    }
    let Some(did) = p.did.filter(|_| p.uri.is_none() && p.blob.is_none()) else {
        return Err(XrpcError::invalid_request(
            "Only repo subjects (did) are supported",
        ));
    };
    let d = did.clone();
    let acct = st
        .store()
        .read(move |c| account::by_did(c, &d))
        .await
        .map_err(store_error)?
        .ok_or_else(|| XrpcError::named("NotFound", "Subject not found"))?;
    let mut out = json!({
        "subject": { "$type": "com.atproto.admin.defs#repoRef", "did": did },
        "takedown": { "applied": acct.takedown_ref.is_some() },
        "deactivated": { "applied": acct.deactivated_at.is_some() },
    });
    if let Some(r) = acct.takedown_ref {
        out["takedown"]["ref"] = json!(r);
    }
    Ok(axum::Json(out))
}

/// A subject smaller than a repo: one blob or one record of an account.
enum Part {
    Blob {
        did: String,
        cid: Cid,
    },
    Record {
        did: String,
        collection: String,
        rkey: String,
        uri: String,
    },
}

impl Part {
    fn did(&self) -> &str {
        match self {
            Part::Blob { did, .. } | Part::Record { did, .. } => did,
        }
    }
}

fn blob_part(did: &str, cid: &str) -> Result<Part, XrpcError> {
    let did = parse_did(did)?.as_str().to_owned();
    let cid = cid
        .parse()
        .map_err(|_| XrpcError::invalid_request(format!("Invalid cid: {cid}")))?;
    Ok(Part::Blob { did, cid })
}

/// `at://<did>/<collection>/<rkey>`; a handle authority is refused (subjects name DIDs).
fn record_part(uri: &str) -> Result<Part, XrpcError> {
    let bad = || XrpcError::invalid_request(format!("Invalid record uri: {uri}"));
    let rest = uri.strip_prefix("at://").ok_or_else(bad)?;
    let mut parts = rest.split('/');
    let (Some(did), Some(collection), Some(rkey), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let did = Did::parse(did).map_err(|_| bad())?.as_str().to_owned();
    let collection = aerie_syntax::Nsid::parse(collection).map_err(|_| bad())?;
    let rkey = aerie_syntax::RecordKey::parse(rkey).map_err(|_| bad())?;
    Ok(Part::Record {
        did,
        collection: collection.as_str().to_owned(),
        rkey: rkey.as_str().to_owned(),
        uri: uri.to_owned(),
    })
}

/// A blob (`#repoBlobRef`) or record (`strongRef`) subject; None for anything else, which
/// the repo-subject path judges.
fn part_subject(subject: &JsonValue) -> Result<Option<Part>, XrpcError> {
    let field = |k: &str| subject.get(k).and_then(JsonValue::as_str);
    match field("$type") {
        Some("com.atproto.admin.defs#repoBlobRef") => match (field("did"), field("cid")) {
            (Some(did), Some(cid)) => blob_part(did, cid).map(Some),
            _ => Err(XrpcError::invalid_request("repoBlobRef needs did and cid")),
        },
        Some("com.atproto.repo.strongRef") => match field("uri") {
            Some(uri) => record_part(uri).map(Some),
            None => Err(XrpcError::invalid_request("strongRef needs uri")),
        },
        _ => Ok(None),
    }
}

fn subject_not_found() -> XrpcError {
    XrpcError::named("NotFound", "Subject not found")
}

/// The takedown reference of `part`, or NotFound if the blob or record does not exist; for
/// a record also its current CID.
fn part_state(
    c: &aerie_store::Connection,
    part: &Part,
) -> Result<(Option<String>, Option<Cid>), JobError> {
    Ok(match part {
        Part::Blob { did, cid } => {
            aerie_store::blob::get(c, did, cid)?.ok_or_else(subject_not_found)?;
            (lifecycle::blob_takedown(c, did, cid)?, None)
        }
        Part::Record {
            did,
            collection,
            rkey,
            ..
        } => {
            let cid = aerie_store::repo::record_cid(c, did, collection, rkey)?
                .ok_or_else(subject_not_found)?;
            (
                lifecycle::record_takedown(c, did, collection, rkey)?,
                Some(cid),
            )
        }
    })
}

/// updateSubjectStatus for a blob or record: records or lifts the takedown; a blob's bytes
/// are quarantined (or restored) once the row committed. `deactivated` has no meaning here.
async fn update_part_status(
    st: &AppState,
    part: Part,
    subject: &JsonValue,
    takedown: Option<StatusAttr>,
) -> JsonResult {
    let mut out = json!({ "subject": subject });
    let Some(t) = takedown else {
        return Ok(axum::Json(out));
    };
    let reference = t.applied.then(|| {
        t.reference
            .clone()
            .unwrap_or_else(|| aerie_syntax::Datetime::now().into_string())
    });
    let _guard = st.repo_locks().lock(part.did()).await;
    let (part, r) = st
        .store()
        .write(move |tx: &Transaction<'_>| -> Result<_, JobError> {
            part_state(tx, &part)?;
            match &part {
                Part::Blob { did, cid } => {
                    lifecycle::set_blob_takedown(tx, did, cid, reference.as_deref())?
                }
                Part::Record {
                    did,
                    collection,
                    rkey,
                    ..
                } => {
                    lifecycle::set_record_takedown(tx, did, collection, rkey, reference.as_deref())?
                }
            }
            Ok((part, reference))
        })
        .await?;
    if let Part::Blob { did, cid } = &part {
        if r.is_some() {
            st.blobs().quarantine(did, cid).await?;
        } else {
            st.blobs().unquarantine(did, cid).await?;
        }
    }
    out["takedown"] = json!({ "applied": t.applied });
    if let Some(r) = r {
        out["takedown"]["ref"] = json!(r);
    }
    Ok(axum::Json(out))
}

/// getSubjectStatus for a blob or record.
async fn get_part_status(st: &AppState, part: Part) -> JsonResult {
    let (part, (r, record_cid)) = st
        .store()
        .read(move |c| -> Result<_, JobError> {
            let state = part_state(c, &part)?;
            Ok((part, state))
        })
        .await?;
    let subject = match (&part, record_cid) {
        (Part::Blob { did, cid }, _) => json!({
            "$type": "com.atproto.admin.defs#repoBlobRef",
            "did": did,
            "cid": cid.to_string(),
        }),
        (Part::Record { uri, .. }, cid) => json!({
            "$type": "com.atproto.repo.strongRef",
            "uri": uri,
            "cid": cid.map(|c| c.to_string()),
        }),
    };
    let mut out = json!({ "subject": subject, "takedown": { "applied": r.is_some() } });
    if let Some(r) = r {
        out["takedown"]["ref"] = json!(r);
    }
    Ok(axum::Json(out))
}

#[derive(Deserialize)]
pub struct DeleteAccountInput {
    did: String,
}

/// com.atproto.admin.deleteAccount: everything of the account goes; `#account` deleted.
pub async fn delete_account(
    State(st): State<AppState>,
    _: AdminAuth,
    Json(input): Json<DeleteAccountInput>,
) -> Result<(), XrpcError> {
    let did = parse_did(&input.did)?;
    delete_account_everywhere(&st, &did).await
}

#[derive(Deserialize)]
pub struct UpdateHandleInput {
    did: String,
    handle: String,
}

/// com.atproto.admin.updateAccountHandle: a handle under one of our domains gets the
/// signup rules; any other valid handle is the admin's call. PLC first, then the account
/// row and `#identity`.
pub async fn update_account_handle(
    State(st): State<AppState>,
    _: AdminAuth,
    Json(input): Json<UpdateHandleInput>,
) -> Result<(), XrpcError> {
    let did = parse_did(&input.did)?;
    let raw = input.handle.trim().to_ascii_lowercase();
    let domains = &st.config().service_handle_domains;
    let handle = if domains.iter().any(|d| raw.ends_with(d.as_str())) {
        super::server::check_new_handle(&raw, domains)?
    } else {
        Handle::parse(&raw)
            .map_err(|_| XrpcError::named("InvalidHandle", "Input/handle must be a valid handle"))?
    };
    let _guard = st.repo_locks().lock(did.as_str()).await;
    let (h, d) = (handle.as_str().to_owned(), input.did.clone());
    let (owner, acct) = st
        .store()
        .read(move |c| -> Result<_, aerie_store::StoreError> {
            Ok((account::by_handle(c, &h)?, account::by_did(c, &d)?))
        })
        .await
        .map_err(store_error)?;
    if acct.is_none() {
        return Err(account_not_found());
    }
    if let Some(o) = owner {
        if o.did == input.did {
            return Ok(());
        }
        return Err(XrpcError::named(
            "HandleNotAvailable",
            format!("Handle already taken: {}", handle.as_str()),
        ));
    }
    crate::plc::update_handle(st.plc(), st.rotation_key(), &did, &handle).await?;
    let (d, h, did_c, handle_c) = (
        input.did.clone(),
        handle.as_str().to_owned(),
        did.clone(),
        handle.clone(),
    );
    let event = st
        .store()
        .write(move |tx: &Transaction<'_>| -> Result<_, JobError> {
            account::set_handle(tx, &d, &h)?;
            Ok(sequencer::append(
                tx,
                &sequencer::identity_event(&did_c, Some(&handle_c)),
            )?)
        })
        .await?;
    sequencer::publish(st.firehose(), vec![event]).await;
    Ok(())
}

#[derive(Deserialize)]
pub struct UpdateEmailInput {
    account: String,
    email: String,
}

/// com.atproto.admin.updateAccountEmail (`account` is a DID or handle).
pub async fn update_account_email(
    State(st): State<AppState>,
    _: AdminAuth,
    Json(input): Json<UpdateEmailInput>,
) -> Result<(), XrpcError> {
    let email = input.email.trim().to_owned();
    if !super::server::is_plausible_email(&email) {
        return Err(XrpcError::invalid_request("Invalid email address"));
    }
    let acct = resolve_account(&st, &input.account).await?;
    st.store()
        .write(move |tx: &Transaction<'_>| lifecycle::set_email(tx, &acct.did, &email))
        .await
        .map_err(store_error)?;
    Ok(())
}

#[derive(Deserialize)]
pub struct UpdatePasswordInput {
    did: String,
    password: String,
}

/// com.atproto.admin.updateAccountPassword: new password; existing sessions end.
pub async fn update_account_password(
    State(st): State<AppState>,
    _: AdminAuth,
    Json(input): Json<UpdatePasswordInput>,
) -> Result<(), XrpcError> {
    if input.password.is_empty() || input.password.len() > password::MAX_NEW_PASSWORD_LEN {
        return Err(XrpcError::named(
            "InvalidPassword",
            "Password must be 1 to 256 characters",
        ));
    }
    let hash = password::hash(input.password).await?;
    let did = input.did;
    let found = st
        .store()
        .write(move |tx: &Transaction<'_>| lifecycle::set_password(tx, &did, &hash))
        .await
        .map_err(store_error)?;
    if found {
        Ok(())
    } else {
        Err(account_not_found())
    }
}

#[derive(Deserialize)]
pub struct InvitesInput {
    account: String,
    #[allow(dead_code)] // part of the lexicon; not stored
    note: Option<String>,
}

async fn set_invites_disabled(st: &AppState, ident: &str, disabled: bool) -> Result<(), XrpcError> {
    let acct = resolve_account(st, ident).await?;
    st.store()
        .write(move |tx: &Transaction<'_>| lifecycle::set_invites_disabled(tx, &acct.did, disabled))
        .await
        .map_err(store_error)?;
    Ok(())
}

/// com.atproto.admin.disableAccountInvites
pub async fn disable_account_invites(
    State(st): State<AppState>,
    _: AdminAuth,
    Json(input): Json<InvitesInput>,
) -> Result<(), XrpcError> {
    set_invites_disabled(&st, &input.account, true).await
}

/// com.atproto.admin.enableAccountInvites
pub async fn enable_account_invites(
    State(st): State<AppState>,
    _: AdminAuth,
    Json(input): Json<InvitesInput>,
) -> Result<(), XrpcError> {
    set_invites_disabled(&st, &input.account, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_repo_subjects_are_accepted() {
        let ok = json!({"$type": "com.atproto.admin.defs#repoRef", "did": "did:plc:abc"});
        assert_eq!(repo_subject(&ok).unwrap(), "did:plc:abc");
        let blob = json!({"$type": "com.atproto.admin.defs#repoBlobRef", "did": "did:plc:abc", "cid": "bafy"});
        assert!(repo_subject(&blob).is_err());
        let record = json!({"$type": "com.atproto.repo.strongRef", "uri": "at://x", "cid": "bafy"});
        assert!(repo_subject(&record).is_err());
    }
}
