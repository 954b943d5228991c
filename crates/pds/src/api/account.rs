//! App passwords and the owner's side of the account lifecycle (com.atproto.server):
//! createAppPassword, listAppPasswords, revokeAppPassword, deactivateAccount,
//! checkAccountStatus, requestAccountDelete, deleteAccount. (activateAccount lives with
//! migration, which needs it to re-sign the repo.)
//!
//! Scope rules follow the reference PDS: creating or revoking an app password, deactivating
//! and requesting deletion need a full-access session (the account password); listing app
//! passwords and checking status accept app-password sessions too.

use aerie_firehose::{AccountEvent, AccountStatus, Event};
use aerie_mail::Email;
use aerie_store::{Transaction, account, app_password, email_token, lifecycle, repo as repo_table};
use aerie_syntax::{Datetime, Did};
use aerie_xrpc::{AccessAuth, Json, XrpcError, unix_now};
use axum::extract::{Extension, State};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use crate::error::{JobError, store_error};
use crate::mail::{check_token, new_token};
use crate::rate_limit::{ClientIp, Limit};
use crate::sequencer::{self, Sequenced};
use crate::{AppState, password};

type JsonResult = Result<axum::Json<JsonValue>, XrpcError>;

/// `email_token` purpose of the account deletion code (the reference's name).
pub const DELETE_ACCOUNT_PURPOSE: &str = "delete_account";

/// App-password sessions may not change account or auth settings.
pub(crate) fn require_full_access(auth: &AccessAuth) -> Result<(), XrpcError> {
    if auth.is_full_access() {
        Ok(())
    } else {
        Err(XrpcError::invalid_token("Bad token scope"))
    }
}

/// Whether `s` has the shape of a generated app password (`xxxx-xxxx-xxxx-xxxx`), so login
/// only spends argon2 work on app passwords when the input could be one.
pub(crate) fn looks_like_app_password(s: &str) -> bool {
    s.len() == 19
        && s.split('-').count() == 4
        && s.split('-').all(|g| {
            g.len() == 4
                && g.bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        })
}

/// A new app password: 16 characters of lowercase base32 (80 random bits) in four groups.
fn new_app_password() -> Result<String, XrpcError> {
    let mut buf = [0u8; 10];
    getrandom::fill(&mut buf).map_err(XrpcError::internal)?;
    let s = data_encoding::BASE32_NOPAD
        .encode(&buf)
        .to_ascii_lowercase();
    Ok(format!(
        "{}-{}-{}-{}",
        &s[0..4],
        &s[4..8],
        &s[8..12],
        &s[12..16]
    ))
}

/// The account behind a session, if it still exists.
async fn load(st: &AppState, did: &str) -> Result<account::Account, XrpcError> {
    let d = did.to_owned();
    st.store()
        .read(move |c| account::by_did(c, &d))
        .await
        .map_err(store_error)?
        .ok_or_else(|| XrpcError::named("AccountNotFound", "Account not found"))
}

#[derive(Deserialize)]
pub struct CreateAppPasswordInput {
    name: String,
    #[serde(default)]
    privileged: bool,
}

/// com.atproto.server.createAppPassword (full access only).
pub async fn create_app_password(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<CreateAppPasswordInput>,
) -> JsonResult {
    require_full_access(&auth)?;
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(XrpcError::invalid_request(
            "App password name must be 1 to 100 characters",
        ));
    }
    let acct = load(&st, &auth.did).await?;
    if acct.takedown_ref.is_some() {
        return Err(super::admin::takedown_error());
    }
    let secret = new_app_password()?;
    let row = app_password::AppPassword {
        name: name.clone(),
        password_hash: password::hash(secret.clone()).await?,
        privileged: input.privileged,
        created_at: Datetime::now().into_string(),
    };
    let created_at = row.created_at.clone();
    let did = auth.did.clone();
    st.store()
        .write(move |tx: &Transaction<'_>| app_password::insert(tx, &did, &row))
        .await
        .map_err(|e| match e {
            aerie_store::StoreError::Conflict { .. } => {
                XrpcError::invalid_request("An app password with this name already exists")
            }
            other => store_error(other),
        })?;
    Ok(axum::Json(json!({
        "name": name,
        "password": secret,
        "createdAt": created_at,
        "privileged": input.privileged,
    })))
}

/// com.atproto.server.listAppPasswords (any session).
pub async fn list_app_passwords(State(st): State<AppState>, auth: AccessAuth) -> JsonResult {
    let did = auth.did.clone();
    let rows = st
        .store()
        .read(move |c| app_password::list(c, &did))
        .await
        .map_err(store_error)?;
    let passwords: Vec<JsonValue> = rows
        .into_iter()
        .map(|p| json!({ "name": p.name, "createdAt": p.created_at, "privileged": p.privileged }))
        .collect();
    Ok(axum::Json(json!({ "passwords": passwords })))
}

#[derive(Deserialize)]
pub struct RevokeAppPasswordInput {
    name: String,
}

/// com.atproto.server.revokeAppPassword (full access only): the password and every session
/// opened with it end (its refresh tokens are deleted; access tokens expire on their own).
pub async fn revoke_app_password(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<RevokeAppPasswordInput>,
) -> Result<(), XrpcError> {
    require_full_access(&auth)?;
    let did = auth.did.clone();
    st.store()
        .write(move |tx: &Transaction<'_>| app_password::revoke(tx, &did, &input.name))
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Finds the app password `presented` belongs to, checking each of the account's hashes
/// (an account has few; each check is one argon2 verification).
pub(crate) async fn match_app_password(
    st: &AppState,
    did: &str,
    presented: &str,
) -> Result<Option<app_password::AppPassword>, XrpcError> {
    if !looks_like_app_password(presented) {
        return Ok(None);
    }
    let d = did.to_owned();
    let rows = st
        .store()
        .read(move |c| app_password::list(c, &d))
        .await
        .map_err(store_error)?;
    for row in rows {
        if password::verify(presented.to_owned(), row.password_hash.clone()).await {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// The `#account` event for an account's current state.
pub(crate) fn account_event(did: &Did, acct_state: (bool, bool)) -> Event {
    let (taken_down, deactivated) = acct_state;
    let status = if taken_down {
        Some(AccountStatus::Takendown)
    } else if deactivated {
        Some(AccountStatus::Deactivated)
    } else {
        None
    };
    Event::Account(AccountEvent {
        did: did.clone(),
        active: status.is_none(),
        status,
        time: Datetime::now(),
    })
}

fn parse_did(did: &str) -> Result<Did, XrpcError> {
    Did::parse(did).map_err(|_| XrpcError::invalid_request(format!("Invalid DID: {did}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeactivateAccountInput {
    delete_after: Option<String>,
}

/// com.atproto.server.deactivateAccount (full access only): the repo stops being served
/// (RepoDeactivated) and `#account {active: false, status: "deactivated"}` is emitted.
/// `deleteAfter` schedules deletion: `account_sweep` deletes the account once it passes.
pub async fn deactivate_account(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<DeactivateAccountInput>,
) -> Result<(), XrpcError> {
    require_full_access(&auth)?;
    if let Some(d) = &input.delete_after {
        Datetime::parse(d)
            .map_err(|_| XrpcError::invalid_request("deleteAfter must be a datetime"))?;
    }
    let did = parse_did(&auth.did)?;
    let _guard = st.repo_locks().lock(did.as_str()).await;
    let (d, now) = (auth.did.clone(), Datetime::now().into_string());
    let events = st
        .store()
        .write(
            move |tx: &Transaction<'_>| -> Result<Vec<Sequenced>, JobError> {
                let acct = account::by_did(tx, &d)?
                    .ok_or_else(|| XrpcError::named("AccountNotFound", "Account not found"))?;
                lifecycle::set_deactivated(tx, &d, Some(&now), input.delete_after.as_deref())?;
                Ok(vec![sequencer::append(
                    tx,
                    &account_event(&did, (acct.takedown_ref.is_some(), true)),
                )?])
            },
        )
        .await?;
    sequencer::publish(st.firehose(), events).await;
    Ok(())
}

/// com.atproto.server.checkAccountStatus (any session), with the reference's fields.
pub async fn check_account_status(State(st): State<AppState>, auth: AccessAuth) -> JsonResult {
    let acct = load(&st, &auth.did).await?;
    let did = parse_did(&auth.did)?;
    let d = auth.did.clone();
    let (root, counts) = st
        .store()
        .read(move |c| -> Result<_, aerie_store::StoreError> {
            Ok((repo_table::root(c, &d)?, lifecycle::repo_counts(c, &d)?))
        })
        .await
        .map_err(store_error)?;
    // The DID is valid for this server when its document names us and the account's key.
    let valid_did = match st.resolver().resolve_did(&did).await {
        Ok(doc) => {
            let ours = doc
                .pds_endpoint()
                .as_deref()
                .map(|e| e.trim_end_matches('/'))
                == Some(st.config().public_url.trim_end_matches('/'));
            let key = aerie_crypto::SigningKey::from_bytes(
                aerie_crypto::KeyType::K256,
                &acct.signing_key,
            )
            .ok()
            .map(|k| k.public_key());
            ours && key.is_some() && doc.signing_key().ok() == key
        }
        Err(_) => false,
    };
    let (commit, rev) = match &root {
        Some(r) => (json!(r.commit.to_string()), json!(r.rev)),
        None => (JsonValue::Null, JsonValue::Null),
    };
    Ok(axum::Json(json!({
        "activated": acct.deactivated_at.is_none(),
        "validDid": valid_did,
        "repoCommit": commit,
        "repoRev": rev,
        "repoBlocks": counts.blocks,
        "indexedRecords": counts.records,
        "privateStateValues": 0,
        "expectedBlobs": counts.expected_blobs,
        "importedBlobs": counts.imported_blobs,
    })))
}

/// com.atproto.server.requestAccountDelete (full access only): stores a deletion code and
/// mails it. Without SMTP the outbox logs the mail in dev mode and drops it in production
/// (see `mail.rs`), so in production an operator must configure mail for self-service
/// deletion; `aerie account` / admin deleteAccount work regardless.
pub async fn request_account_delete(
    State(st): State<AppState>,
    auth: AccessAuth,
) -> Result<(), XrpcError> {
    require_full_access(&auth)?;
    let acct = load(&st, &auth.did).await?;
    if acct.takedown_ref.is_some() {
        return Err(super::admin::takedown_error());
    }
    let email = acct
        .email
        .clone()
        .ok_or_else(|| XrpcError::invalid_request("account does not have an email address"))?;
    let token = new_token()?;
    let (d, t, now) = (auth.did.clone(), token.clone(), unix_now());
    st.store()
        .write(move |tx: &Transaction<'_>| {
            email_token::put(tx, DELETE_ACCOUNT_PURPOSE, &d, &t, now)
        })
        .await
        .map_err(store_error)?;
    st.outbox()
        .send(&email, Email::DeleteAccount { token: &token })
        .await
}

#[derive(Deserialize)]
pub struct DeleteAccountInput {
    did: String,
    password: String,
    token: String,
}

/// com.atproto.server.deleteAccount: the account password plus the mailed code delete the
/// account and all its data.
pub async fn delete_account(
    State(st): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Json(input): Json<DeleteAccountInput>,
) -> Result<(), XrpcError> {
    st.rate_limits()
        .check(&[Limit::DeleteAccount], &ip.key(), 1)?;
    let did = parse_did(&input.did)?;
    let d = input.did.clone();
    let found = st
        .store()
        .read(move |c| -> Result<_, aerie_store::StoreError> {
            Ok((
                account::by_did(c, &d)?,
                email_token::get(c, DELETE_ACCOUNT_PURPOSE, &d)?,
            ))
        })
        .await
        .map_err(store_error)?;
    let (Some(acct), stored) = found else {
        return Err(XrpcError::invalid_request("account not found"));
    };
    let ok = match acct.password_hash {
        Some(h) => password::verify(input.password, h).await,
        None => false,
    };
    if !ok {
        return Err(XrpcError::auth_required("Invalid did or password"));
    }
    check_token(stored.as_ref(), &input.token, unix_now())?;
    delete_account_everywhere(&st, &did).await
}

/// Deletes `did`'s account, repo, records, sessions, tokens, firehose history and blobs, and
/// emits `#account {active: false, status: "deleted"}` (the only event of the DID kept, as
/// in the reference). Shared by deleteAccount and the admin's deleteAccount.
pub(crate) async fn delete_account_everywhere(st: &AppState, did: &Did) -> Result<(), XrpcError> {
    let _guard = st.repo_locks().lock(did.as_str()).await;
    let (d, did_c) = (did.as_str().to_owned(), did.clone());
    let events = st
        .store()
        .write(
            move |tx: &Transaction<'_>| -> Result<Vec<Sequenced>, JobError> {
                if !lifecycle::delete_account(tx, &d)? {
                    return Err(XrpcError::invalid_request("account not found").into());
                }
                Ok(vec![sequencer::append(
                    tx,
                    &Event::Account(AccountEvent {
                        did: did_c,
                        active: false,
                        status: Some(AccountStatus::Deleted),
                        time: Datetime::now(),
                    }),
                )?])
            },
        )
        .await?;
    sequencer::publish(st.firehose(), events).await;
    // Blob bytes go after the rows: a crash in between leaves unreferenced files, never rows
    // pointing at missing files.
    if let Err(e) = st.blobs().delete_all(did.as_str()).await {
        tracing::warn!(did = %did.as_str(), error = %e, "removing blobs of a deleted account")
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_app_passwords_have_the_four_group_shape() {
        let p = new_app_password().unwrap();
        assert!(looks_like_app_password(&p), "{p}");
        assert_ne!(new_app_password().unwrap(), p);
    }

    #[test]
    fn only_four_groups_of_four_base32_characters_look_like_app_passwords() {
        assert!(looks_like_app_password("abcd-efgh-ijkl-mn23"));
        for s in [
            "abcd-efgh-ijkl-mn2",
            "abcd-efgh-ijkl-mn234",
            "ABCD-efgh-ijkl-mn23",
            "abcd-efgh-ijkl-mn18",
            "abcdefghijklmnopqrs",
            "hunter2hunter2",
        ] {
            assert!(!looks_like_app_password(s), "{s}");
        }
    }
}
