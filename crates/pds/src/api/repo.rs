//! com.atproto.repo.*: record writes and reads.

use aerie_data::{Cid, Value};
use aerie_repo::mst::{Action, Key};
use aerie_store::{account, repo as repo_table};
use aerie_syntax::{Did, Tid};
use aerie_xrpc::{AccessAuth, Json, Params, XrpcError};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use serde_json::{Value as JsonValue, json};

use crate::AppState;
use crate::error::{JobError, store_error};
use crate::records::{
    self, Committed, MAX_WRITES, PreparedWrite, StoreSource, check_rkey, load_repo,
    parse_collection, parse_rkey, prepare_record,
};

type JsonResult = Result<axum::Json<JsonValue>, XrpcError>;

/// Present-but-null stays `Some(Null)`; absent is `None` (serde's `Option` would merge them).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<JsonValue>, D::Error> {
    JsonValue::deserialize(d).map(Some)
}

fn parse_cid(s: &str, what: &str) -> Result<Cid, XrpcError> {
    s.parse::<Cid>()
        .map_err(|_| XrpcError::invalid_request(format!("Invalid {what}: {s}")))
}

fn parse_swap_record(v: Option<JsonValue>) -> Result<Option<Option<Cid>>, XrpcError> {
    match v {
        None => Ok(None),
        Some(JsonValue::Null) => Ok(Some(None)),
        Some(JsonValue::String(s)) => Ok(Some(Some(parse_cid(&s, "swapRecord")?))),
        Some(_) => Err(XrpcError::invalid_request("Invalid swapRecord")),
    }
}

fn parse_swap_commit(v: Option<String>) -> Result<Option<Cid>, XrpcError> {
    v.map(|s| parse_cid(&s, "swapCommit")).transpose()
}

/// The local account an at-identifier (DID or handle) names.
pub(crate) async fn local_account(
    st: &AppState,
    ident: &str,
) -> Result<Option<account::Account>, XrpcError> {
    let ident = ident.trim().to_owned();
    st.store()
        .read(move |c| {
            if ident.starts_with("did:") {
                account::by_did(c, &ident)
            } else {
                account::by_handle(c, &ident.to_ascii_lowercase())
            }
        })
        .await
        .map_err(store_error)
}

/// Charge `points` of record writes to `did` (see `rate_limit`).
fn charge_writes(st: &AppState, did: &Did, points: u32) -> Result<(), XrpcError> {
    use crate::rate_limit::Limit;
    st.rate_limits()
        .check(&[Limit::WritesHour, Limit::WritesDay], did.as_str(), points)
}

/// The authenticated account's DID, if `repo` names it; writes to other repos are refused.
async fn own_repo(st: &AppState, auth: &AccessAuth, repo: &str) -> Result<Did, XrpcError> {
    let acct = local_account(st, repo)
        .await?
        .ok_or_else(|| XrpcError::invalid_request(format!("Could not find repo: {repo}")))?;
    if acct.did != auth.did {
        return Err(XrpcError::auth_required(
            "Not authorized to write to this repo",
        ));
    }
    // As the reference's write routes (checkTakedown, then checkDeactivated): 401 with the
    // names clients act on (the official app signs a taken-down account out).
    if acct.takedown_ref.is_some() {
        return Err(super::admin::takedown_error());
    }
    if acct.deactivated_at.is_some() {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AccountDeactivated",
            "Account is deactivated",
        ));
    }
    Did::parse(&acct.did).map_err(XrpcError::internal)
}

/// The output of createRecord / putRecord.
fn write_output(r: &records::WriteResult, done: &Committed) -> JsonValue {
    let mut out = json!({ "uri": r.uri, "cid": r.cid.map(|c| c.to_string()) });
    if let Some(c) = commit_json(done) {
        out["commit"] = c;
    }
    if let Some(v) = r.validation {
        out["validationStatus"] = json!(v.as_str());
    }
    out
}

fn commit_json(c: &Committed) -> Option<JsonValue> {
    c.commit
        .as_ref()
        .map(|(cid, rev)| json!({ "cid": cid.to_string(), "rev": rev }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRecordInput {
    repo: String,
    collection: String,
    rkey: Option<String>,
    validate: Option<bool>,
    record: JsonValue,
    swap_commit: Option<String>,
}

/// com.atproto.repo.createRecord (rkey defaults to a fresh TID).
pub async fn create_record(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<CreateRecordInput>,
) -> JsonResult {
    let did = own_repo(&st, &auth, &input.repo).await?;
    charge_writes(&st, &did, crate::rate_limit::CREATE_POINTS)?;
    let collection = parse_collection(&input.collection)?;
    let rkey = match &input.rkey {
        Some(k) => parse_rkey(k)?,
        None => parse_rkey(Tid::now().as_str())?,
    };
    check_rkey(&collection, &rkey)?;
    let (record, validation, blobs) = prepare_record(&collection, &input.record, input.validate)?;
    let swap_commit = parse_swap_commit(input.swap_commit)?;
    let write = PreparedWrite {
        action: Some(Action::Create),
        collection,
        rkey,
        record: Some(record),
        swap_record: None,
        validation,
        blobs,
    };
    let done = records::commit_writes(&st, &did, vec![write], swap_commit).await?;
    let r = done
        .results
        .first()
        .ok_or_else(|| XrpcError::internal("create produced no result"))?;
    Ok(axum::Json(write_output(r, &done)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRecordInput {
    repo: String,
    collection: String,
    rkey: String,
    validate: Option<bool>,
    record: JsonValue,
    #[serde(default, deserialize_with = "present")]
    swap_record: Option<JsonValue>,
    swap_commit: Option<String>,
}

/// com.atproto.repo.putRecord (create or replace; `swapRecord: null` = must not exist).
pub async fn put_record(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<PutRecordInput>,
) -> JsonResult {
    let did = own_repo(&st, &auth, &input.repo).await?;
    charge_writes(&st, &did, crate::rate_limit::UPDATE_POINTS)?;
    let collection = parse_collection(&input.collection)?;
    let rkey = parse_rkey(&input.rkey)?;
    check_rkey(&collection, &rkey)?;
    let (record, validation, blobs) = prepare_record(&collection, &input.record, input.validate)?;
    let write = PreparedWrite {
        action: None,
        collection,
        rkey,
        record: Some(record),
        swap_record: parse_swap_record(input.swap_record)?,
        validation,
        blobs,
    };
    let swap_commit = parse_swap_commit(input.swap_commit)?;
    let done = records::commit_writes(&st, &did, vec![write], swap_commit).await?;
    let r = done
        .results
        .first()
        .ok_or_else(|| XrpcError::internal("put produced no result"))?;
    Ok(axum::Json(write_output(r, &done)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRecordInput {
    repo: String,
    collection: String,
    rkey: String,
    swap_record: Option<String>,
    swap_commit: Option<String>,
}

/// com.atproto.repo.deleteRecord (deleting an absent record is a no-op).
pub async fn delete_record(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<DeleteRecordInput>,
) -> JsonResult {
    let did = own_repo(&st, &auth, &input.repo).await?;
    charge_writes(&st, &did, crate::rate_limit::DELETE_POINTS)?;
    let write = PreparedWrite {
        action: Some(Action::Delete),
        collection: parse_collection(&input.collection)?,
        rkey: parse_rkey(&input.rkey)?,
        record: None,
        swap_record: input
            .swap_record
            .map(|s| parse_cid(&s, "swapRecord").map(Some))
            .transpose()?,
        validation: None,
        blobs: Vec::new(),
    };
    let swap_commit = parse_swap_commit(input.swap_commit)?;
    let done = records::commit_writes(&st, &did, vec![write], swap_commit).await?;
    Ok(axum::Json(match commit_json(&done) {
        Some(c) => json!({ "commit": c }),
        None => json!({}),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyWritesInput {
    repo: String,
    validate: Option<bool>,
    writes: Vec<JsonValue>,
    swap_commit: Option<String>,
}

/// com.atproto.repo.applyWrites: up to 200 creates/updates/deletes, all or nothing.
pub async fn apply_writes(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<ApplyWritesInput>,
) -> JsonResult {
    let did = own_repo(&st, &auth, &input.repo).await?;
    // Each write of the batch counts: create 3, update 2, delete 1.
    let points = input
        .writes
        .iter()
        .map(|w| match w["$type"].as_str() {
            Some("com.atproto.repo.applyWrites#create") => crate::rate_limit::CREATE_POINTS,
            Some("com.atproto.repo.applyWrites#update") => crate::rate_limit::UPDATE_POINTS,
            _ => crate::rate_limit::DELETE_POINTS,
        })
        .sum();
    charge_writes(&st, &did, points)?;
    if input.writes.len() > MAX_WRITES {
        return Err(XrpcError::invalid_request(format!(
            "Too many writes. Max: {MAX_WRITES}"
        )));
    }
    let mut writes = Vec::with_capacity(input.writes.len());
    for w in &input.writes {
        let ty = w["$type"].as_str().unwrap_or("");
        let action = match ty.strip_prefix("com.atproto.repo.applyWrites") {
            Some("#create") => Action::Create,
            Some("#update") => Action::Update,
            Some("#delete") => Action::Delete,
            _ => {
                return Err(XrpcError::invalid_request(format!(
                    "Invalid write $type: {ty:?}"
                )));
            }
        };
        let collection = parse_collection(w["collection"].as_str().unwrap_or(""))?;
        let rkey = match (w["rkey"].as_str(), action) {
            (Some(k), _) => parse_rkey(k)?,
            (None, Action::Create) => parse_rkey(Tid::now().as_str())?,
            (None, _) => return Err(XrpcError::invalid_request("rkey is required")),
        };
        let (record, validation, blobs) = match action {
            Action::Delete => (None, None, Vec::new()),
            _ => {
                check_rkey(&collection, &rkey)?;
                let (bytes, status, blobs) =
                    prepare_record(&collection, &w["value"], input.validate)?;
                (Some(bytes), status, blobs)
            }
        };
        writes.push(PreparedWrite {
            action: Some(action),
            collection,
            rkey,
            record,
            swap_record: None,
            validation,
            blobs,
        });
    }
    let swap_commit = parse_swap_commit(input.swap_commit)?;
    let done = records::commit_writes(&st, &did, writes, swap_commit).await?;
    let results: Vec<JsonValue> = done
        .results
        .iter()
        .map(|r| match r.action {
            Action::Create | Action::Update => {
                let mut out = json!({
                    "$type": if r.action == Action::Create {
                        "com.atproto.repo.applyWrites#createResult"
                    } else {
                        "com.atproto.repo.applyWrites#updateResult"
                    },
                    "uri": r.uri,
                    "cid": r.cid.map(|c| c.to_string()),
                });
                if let Some(v) = r.validation {
                    out["validationStatus"] = json!(v.as_str());
                }
                out
            }
            Action::Delete => json!({ "$type": "com.atproto.repo.applyWrites#deleteResult" }),
        })
        .collect();
    let mut out = json!({ "results": results });
    if let Some(c) = commit_json(&done) {
        out["commit"] = c;
    }
    Ok(axum::Json(out))
}

#[derive(Deserialize)]
pub struct GetRecordParams {
    repo: String,
    collection: String,
    rkey: String,
    cid: Option<String>,
}

/// com.atproto.repo.getRecord (optionally pinned to a CID).
pub async fn get_record(
    State(st): State<AppState>,
    Params(p): Params<GetRecordParams>,
) -> JsonResult {
    let collection = parse_collection(&p.collection)?;
    let rkey = parse_rkey(&p.rkey)?;
    let want = p.cid.as_deref().map(|c| parse_cid(c, "cid")).transpose()?;
    let acct = local_account(&st, &p.repo)
        .await?
        .ok_or_else(|| XrpcError::invalid_request(format!("Could not find repo: {}", p.repo)))?;
    let uri = format!(
        "at://{}/{}/{}",
        acct.did,
        collection.as_str(),
        rkey.as_str()
    );
    let not_found =
        || XrpcError::named("RecordNotFound", format!("Could not locate record: {uri}"));
    let did = acct.did.clone();
    let found = st
        .store()
        .read(move |c| -> Result<Option<(Cid, Vec<u8>)>, JobError> {
            let Some(cid) = repo_table::record_cid(c, &did, collection.as_str(), rkey.as_str())?
            else {
                return Ok(None);
            };
            if want.is_some_and(|w| w != cid)
                || aerie_store::lifecycle::record_takedown(
                    c,
                    &did,
                    collection.as_str(),
                    rkey.as_str(),
                )?
                .is_some()
            {
                return Ok(None);
            }
            Ok(repo_table::block(c, &did, &cid)?.map(|b| (cid, b)))
        })
        .await?;
    let (cid, bytes) = found.ok_or_else(not_found)?;
    Ok(axum::Json(json!({
        "uri": uri,
        "cid": cid.to_string(),
        "value": record_json(&bytes)?,
    })))
}

fn record_json(bytes: &[u8]) -> Result<JsonValue, XrpcError> {
    let value: Value = aerie_data::drisl::decode(bytes).map_err(XrpcError::internal)?;
    Ok(aerie_data::json::to_json(&value))
}

/// One listed record: rkey, CID and its DRISL bytes.
type RecordRow = (String, Cid, Vec<u8>);

#[derive(Deserialize)]
pub struct ListRecordsParams {
    repo: String,
    collection: String,
    limit: Option<u32>,
    cursor: Option<String>,
    reverse: Option<bool>,
}

/// com.atproto.repo.listRecords (newest rkey first; `reverse` for oldest first).
pub async fn list_records(
    State(st): State<AppState>,
    Params(p): Params<ListRecordsParams>,
) -> JsonResult {
    let limit = p.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(XrpcError::invalid_request(
            "limit must be between 1 and 100",
        ));
    }
    let collection = parse_collection(&p.collection)?;
    let acct = local_account(&st, &p.repo)
        .await?
        .ok_or_else(|| XrpcError::invalid_request(format!("Could not find repo: {}", p.repo)))?;
    let did = acct.did.clone();
    let (cursor, reverse) = (p.cursor, p.reverse.unwrap_or(false));
    let coll = collection.as_str().to_owned();
    let (rows, last) = st
        .store()
        .read(
            move |c| -> Result<(Vec<RecordRow>, Option<String>), JobError> {
                let page =
                    repo_table::list_records(c, &did, &coll, limit, cursor.as_deref(), reverse)?;
                // The cursor is the page's last key even when that record is hidden, so a page of
                // taken-down records does not end the listing early.
                let last = page.last().map(|(rkey, _)| rkey.clone());
                let mut out = Vec::with_capacity(page.len());
                for (rkey, cid) in page {
                    if aerie_store::lifecycle::record_takedown(c, &did, &coll, &rkey)?.is_some() {
                        continue;
                    }
                    if let Some(bytes) = repo_table::block(c, &did, &cid)? {
                        out.push((rkey, cid, bytes));
                    }
                }
                Ok((out, last))
            },
        )
        .await?;
    let mut records = Vec::with_capacity(rows.len());
    for (rkey, cid, bytes) in &rows {
        records.push(json!({
            "uri": format!("at://{}/{}/{rkey}", acct.did, collection.as_str()),
            "cid": cid.to_string(),
            "value": record_json(bytes)?,
        }));
    }
    let mut out = json!({ "records": records });
    if let Some(rkey) = last {
        out["cursor"] = json!(rkey);
    }
    Ok(axum::Json(out))
}

#[derive(Deserialize)]
pub struct DescribeRepoParams {
    repo: String,
}

/// com.atproto.repo.describeRepo
pub async fn describe_repo(
    State(st): State<AppState>,
    Params(p): Params<DescribeRepoParams>,
) -> JsonResult {
    let acct = local_account(&st, &p.repo).await?.ok_or_else(|| {
        XrpcError::named("RepoNotFound", format!("Could not find user: {}", p.repo))
    })?;
    let did = acct.did.clone();
    let collections = st
        .store()
        .read(move |c| repo_table::collections(c, &did))
        .await
        .map_err(store_error)?;
    let did_doc = match Did::parse(&acct.did) {
        Ok(d) => crate::plc::did_document(&st, &d).await,
        Err(_) => None,
    };
    let handle = acct
        .handle
        .clone()
        .unwrap_or_else(|| "handle.invalid".into());
    let handle_is_correct = did_doc
        .as_ref()
        .and_then(|d| d["alsoKnownAs"].as_array())
        .is_some_and(|aka| {
            aka.iter()
                .any(|a| a.as_str() == Some(&format!("at://{handle}")))
        });
    Ok(axum::Json(json!({
        "handle": handle,
        "did": acct.did,
        "didDoc": did_doc.unwrap_or(JsonValue::Null),
        "collections": collections,
        "handleIsCorrect": handle_is_correct,
    })))
}

/// Reads a record through the MST rather than the index (used by sync.getRecord proofs).
pub(crate) fn record_key(collection: &str, rkey: &str) -> Result<Key, XrpcError> {
    Key::from_parts(collection, rkey)
        .map_err(|e| XrpcError::invalid_request(format!("Invalid record path: {e}")))
}

/// Loads a repo for reads, `RepoNotFound` if absent.
pub(crate) fn repo_or_not_found(
    conn: &aerie_store::Connection,
    did: &str,
) -> Result<aerie_repo::repo::Repo, JobError> {
    load_repo(conn, did)?.ok_or_else(|| {
        JobError::Xrpc(XrpcError::named(
            "RepoNotFound",
            format!("Could not find repo for DID: {did}"),
        ))
    })
}

/// Source type re-exported for sync handlers.
pub(crate) type Source<'c> = StoreSource<'c>;
