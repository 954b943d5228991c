//! The repository write path: prepare records, build the next commit under the repo's lock,
//! persist it in one store write job.
//!
//! ```text
//! lock(did) -> read root + signing key, load Repo, check swaps, apply_writes (reader thread)
//!           -> ONE write job: blocks, record index, dropped blocks, repo root   (group commit)
//!           -> unlock -> answer
//! ```
//! The firehose sequencer (issue 3) hooks into [`persist_commit`]: it runs inside the write
//! job with the full [`CommitData`], so the event and the commit share the transaction.

use std::borrow::Cow;

use aerie_crypto::{KeyType, SigningKey};
use aerie_data::{Cid, Value};
use aerie_lexicon::{Catalog, ValidationStatus, validate_for_write};
use aerie_repo::mst::{Action, BlockSource, Key, SourceError};
use aerie_repo::repo::{CommitData, Repo, Write};
use aerie_store::{Connection, StoreError, Transaction, account, repo as repo_table};
use aerie_syntax::{Datetime, Did, Nsid, RecordKey, Tid};
use aerie_xrpc::XrpcError;

use crate::error::JobError;
use crate::{AppState, sequencer};

/// Largest record, as encoded CBOR (relays refuse record blocks over 1,000,000 bytes).
pub const MAX_RECORD_BYTES: usize = 1_000_000;
/// Most writes in one applyWrites call.
pub const MAX_WRITES: usize = 200;

/// The store's blocks of one repo as an MST block source.
pub struct StoreSource<'c> {
    conn: &'c Connection,
    did: &'c str,
}

impl<'c> StoreSource<'c> {
    /// Blocks of `did` read through `conn`.
    pub fn new(conn: &'c Connection, did: &'c str) -> Self {
        StoreSource { conn, did }
    }
}

impl BlockSource for StoreSource<'_> {
    fn block(&self, cid: &Cid) -> Result<Option<Cow<'_, [u8]>>, SourceError> {
        repo_table::block(self.conn, self.did, cid)
            .map(|b| b.map(Cow::Owned))
            .map_err(|e| Box::new(e) as SourceError)
    }
}

/// One requested record write, validated.
#[derive(Debug, Clone)]
pub struct PreparedWrite {
    /// Create, update or delete (`None` = putRecord: update if present, else create).
    pub action: Option<Action>,
    /// The collection.
    pub collection: Nsid,
    /// The record key.
    pub rkey: RecordKey,
    /// Canonical DRISL of the record (not for deletes).
    pub record: Option<Vec<u8>>,
    /// Expected current record CID: `Some(None)` = must not exist.
    pub swap_record: Option<Option<Cid>>,
    /// What lexicon validation said (`None` when skipped with `validate: false`).
    pub validation: Option<ValidationStatus>,
    /// Blobs the record references (must have been uploaded to this repo).
    pub blobs: Vec<Cid>,
}

/// What one write did.
#[derive(Debug, Clone)]
pub struct WriteResult {
    /// The action finally applied.
    pub action: Action,
    /// `at://did/collection/rkey`.
    pub uri: String,
    /// The record CID (creates and updates).
    pub cid: Option<Cid>,
    /// `validationStatus` to report.
    pub validation: Option<ValidationStatus>,
}

/// The outcome of a commit.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The new commit, or `None` if nothing changed (deleting an absent record).
    pub commit: Option<(Cid, String)>,
    /// One result per write, in request order.
    pub results: Vec<WriteResult>,
}

fn invalid(msg: impl Into<String>) -> XrpcError {
    XrpcError::invalid_request(msg.into())
}

/// Parses a collection NSID.
pub fn parse_collection(s: &str) -> Result<Nsid, XrpcError> {
    Nsid::parse(s).map_err(|_| invalid(format!("Invalid collection: {s}")))
}

/// Parses a record key.
pub fn parse_rkey(s: &str) -> Result<RecordKey, XrpcError> {
    RecordKey::parse(s).map_err(|_| invalid(format!("Invalid record key: {s}")))
}

/// A record ready to write: canonical bytes, validation status, referenced blobs.
pub type Prepared = (Vec<u8>, Option<ValidationStatus>, Vec<Cid>);

/// Checks a record key against the collection's schema (`tid`, `literal:self`, ...).
pub fn check_rkey(collection: &Nsid, rkey: &RecordKey) -> Result<(), XrpcError> {
    aerie_lexicon::check_rkey(Catalog::builtin(), collection, rkey)
        .map_err(|e| invalid(e.to_string()))
}

/// Turns a record's JSON into canonical DRISL: data-model checks, `$type` defaulted to (or
/// required to equal) the collection, lexicon validation per the `validate` flag, size limit.
pub fn prepare_record(
    collection: &Nsid,
    json: &serde_json::Value,
    validate: Option<bool>,
) -> Result<Prepared, XrpcError> {
    let mut value =
        aerie_data::json::from_json(json).map_err(|e| invalid(format!("Invalid record: {e}")))?;
    let Value::Map(map) = &mut value else {
        return Err(invalid("Invalid record: expected an object"));
    };
    match map.get("$type") {
        None => {
            map.insert(
                "$type".to_owned(),
                Value::String(collection.as_str().to_owned()),
            );
        }
        Some(Value::String(t)) if t == collection.as_str() => {}
        Some(other) => {
            let got = other.as_str().unwrap_or("(not a string)");
            return Err(invalid(format!(
                "Invalid $type: expected {}, got {got}",
                collection.as_str()
            )));
        }
    }
    aerie_data::validate_record(&value).map_err(|e| invalid(format!("Invalid record: {e}")))?;
    let status = validate_for_write(Catalog::builtin(), collection, &value, validate)
        .map_err(|e| invalid(e.to_string()))?;
    let blobs = value
        .blob_refs()
        .map_err(|e| invalid(format!("Invalid blob reference: {e}")))?
        .iter()
        .map(|b| *b.cid())
        .collect();
    let bytes = aerie_data::drisl::encode(&value);
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(XrpcError::named(
            "InvalidRecord",
            format!(
                "Record too large: {} bytes (max {MAX_RECORD_BYTES})",
                bytes.len()
            ),
        ));
    }
    Ok((bytes, status, blobs))
}

/// Applies `writes` to `did`'s repo as one commit. `swap_commit` must equal the current
/// commit if given.
pub async fn commit_writes(
    st: &AppState,
    did: &Did,
    writes: Vec<PreparedWrite>,
    swap_commit: Option<Cid>,
) -> Result<Committed, XrpcError> {
    let _guard = st.repo_locks().lock(did.as_str()).await;
    let did_s = did.as_str().to_owned();
    // Blob references per record path; a delete clears the path's references.
    let blob_refs: Vec<(String, Vec<Cid>)> = writes
        .iter()
        .map(|w| {
            (
                format!("{}/{}", w.collection.as_str(), w.rkey.as_str()),
                w.blobs.clone(),
            )
        })
        .collect();
    let prepared = st
        .store()
        .read(move |conn| build_commit(conn, &did_s, &writes, swap_commit))
        .await?;
    let (commit, prev_commit, results) = match prepared {
        Ok(built) => built,
        Err(results) => {
            return Ok(Committed {
                commit: None,
                results,
            });
        }
    };
    let out = (commit.cid, commit.rev.as_str().to_owned());
    let (did_s, did_c) = (did.as_str().to_owned(), did.clone());
    let (event, released) = st
        .store()
        .write(move |tx: &Transaction<'_>| -> Result<_, JobError> {
            persist_commit(tx, &did_s, &commit, Some(prev_commit))?;
            let released = crate::blob_gc::update_refs(tx, &did_s, &blob_refs)?;
            let event = sequencer::append(tx, &sequencer::commit_event(&did_c, &commit)?)?;
            Ok((event, released))
        })
        .await
        .map_err(XrpcError::from)?;
    sequencer::publish(st.firehose(), vec![event]).await;
    crate::blob_gc::remove_files(st, did.as_str(), &released).await;
    Ok(Committed {
        commit: Some(out),
        results,
    })
}

/// A built commit, the commit it replaces, and the per-write results; or, when nothing
/// changes, just the results.
type Built = Result<(CommitData, Cid, Vec<WriteResult>), Vec<WriteResult>>;

fn build_commit(
    conn: &Connection,
    did: &str,
    writes: &[PreparedWrite],
    swap_commit: Option<Cid>,
) -> Result<Built, JobError> {
    let root = repo_table::root(conn, did)?
        .ok_or_else(|| XrpcError::named("RepoNotFound", format!("Could not find repo: {did}")))?;
    if let Some(expected) = swap_commit
        && expected != root.commit
    {
        return Err(
            XrpcError::named("InvalidSwap", format!("Commit was at {}", root.commit)).into(),
        );
    }
    let acct = account::by_did(conn, did)?
        .ok_or_else(|| XrpcError::named("RepoNotFound", format!("Could not find repo: {did}")))?;
    let key = SigningKey::from_bytes(KeyType::K256, &acct.signing_key)
        .map_err(|e| XrpcError::internal(format!("stored signing key of {did}: {e}")))?;
    let src = StoreSource::new(conn, did);
    let mut repo = Repo::load(&src, root.commit).map_err(XrpcError::internal)?;

    let mut repo_writes = Vec::with_capacity(writes.len());
    let mut results = Vec::with_capacity(writes.len());
    // Results of creates and updates, whose CIDs the commit reports: (index, path).
    let mut hashed = Vec::new();
    for w in writes {
        let key_path = Key::from_parts(w.collection.as_str(), w.rkey.as_str())
            .map_err(|e| invalid(format!("Invalid record path: {e}")))?;
        if !w.blobs.is_empty()
            && let Some(record) = &w.record
        {
            crate::blob_gc::verify_refs(conn, did, record)?;
        }
        let current = repo.get(&src, &key_path).map_err(XrpcError::internal)?;
        if let Some(expected) = w.swap_record
            && expected != current
        {
            return Err(XrpcError::named(
                "InvalidSwap",
                match current {
                    Some(c) => format!("Record was at {c}"),
                    None => "Record was at null".to_owned(),
                },
            )
            .into());
        }
        let action = match (w.action, current) {
            (Some(Action::Create), Some(_)) => {
                return Err(invalid(format!(
                    "Record already exists: {}/{}",
                    w.collection.as_str(),
                    w.rkey.as_str()
                ))
                .into());
            }
            (Some(Action::Update), None) => {
                return Err(XrpcError::named(
                    "RecordNotFound",
                    format!(
                        "Could not find record: {}/{}",
                        w.collection.as_str(),
                        w.rkey.as_str()
                    ),
                )
                .into());
            }
            // Deleting what is not there is "ensure it does not exist": nothing to do, but
            // applyWrites still reports a result for it.
            (Some(Action::Delete), None) => {
                results.push(WriteResult {
                    action: Action::Delete,
                    uri: format!("at://{did}/{}/{}", w.collection.as_str(), w.rkey.as_str()),
                    cid: None,
                    validation: None,
                });
                continue;
            }
            (Some(a), _) => a,
            (None, Some(_)) => Action::Update,
            (None, None) => Action::Create,
        };
        let uri = format!("at://{did}/{}/{}", w.collection.as_str(), w.rkey.as_str());
        let write = match action {
            Action::Delete => Write::delete(key_path),
            a => {
                let bytes = w.record.clone().ok_or_else(|| invalid("record missing"))?;
                // The record's CID comes back in the commit's ops (hashed once, there).
                hashed.push((results.len(), key_path.clone()));
                if a == Action::Create {
                    Write::create(key_path, bytes)
                } else {
                    Write::update(key_path, bytes)
                }
            }
        };
        repo_writes.push(write);
        results.push(WriteResult {
            action,
            uri,
            cid: None,
            validation: w.validation,
        });
    }
    if repo_writes.is_empty() {
        return Ok(Err(results));
    }
    let rev = next_rev(&repo.rev())?;
    let commit = repo
        .apply_writes(&src, &repo_writes, &key, rev)
        .map_err(|e| match e {
            aerie_repo::Error::BadWrite { .. } => invalid(e.to_string()),
            other => XrpcError::internal(other),
        })?;
    // The ops are sorted by path and hold every created or updated record's CID.
    for (i, path) in hashed {
        let op = commit
            .ops
            .binary_search_by(|op| op.path.cmp(&path))
            .ok()
            .and_then(|j| commit.ops[j].cid);
        results[i].cid = Some(op.ok_or_else(|| {
            XrpcError::internal(format!("the commit has no op for written record {path}"))
        })?);
    }
    Ok(Ok((commit, root.commit, results)))
}

/// The rev of the commit after one at `prev`: from the process-wide TID clock, so it never
/// repeats here, and above `prev` even when that came from a clock ahead of ours.
pub(crate) fn next_rev(prev: &Tid) -> Result<Tid, XrpcError> {
    Tid::next_after(prev).map_err(XrpcError::internal)
}

/// Stores a commit: new blocks, record index, dropped blocks (including the replaced commit
/// block, as the reference does, so `getRepo?since=` carries only the current commit), the
/// new root. Runs inside the write job; this is where the sequencer will append the
/// `#commit` event.
pub fn persist_commit(
    tx: &Transaction<'_>,
    did: &str,
    commit: &CommitData,
    prev_commit: Option<Cid>,
) -> Result<(), StoreError> {
    let rev = commit.rev.as_str();
    repo_table::put_blocks(
        tx,
        did,
        rev,
        commit.new_blocks.iter().map(|(c, b)| (*c, b.as_slice())),
    )?;
    for op in &commit.ops {
        let path = op.path.as_str();
        let (collection, rkey) = path.split_once('/').unwrap_or((path, ""));
        match op.cid {
            Some(cid) => repo_table::put_record(tx, did, collection, rkey, &cid, rev)?,
            None => {
                repo_table::delete_record(tx, did, collection, rkey)?;
            }
        }
    }
    // A removed record CID may still back another path; keep it then.
    let mut drop = Vec::with_capacity(commit.removed_blocks.len());
    for cid in &commit.removed_blocks {
        if !repo_table::record_cid_in_use(tx, did, cid)? {
            drop.push(*cid);
        }
    }
    drop.extend(prev_commit.filter(|c| *c != commit.cid));
    repo_table::delete_blocks(tx, did, drop.iter())?;
    repo_table::set_root(
        tx,
        did,
        repo_table::RepoRoot {
            commit: commit.cid,
            rev,
            data: commit.data,
        },
        Datetime::now().as_str(),
    )
}

/// Loads `did`'s current repo for reads (no lock needed: a root is always complete).
pub fn load_repo(conn: &Connection, did: &str) -> Result<Option<Repo>, JobError> {
    let Some(root) = repo_table::root(conn, did)? else {
        return Ok(None);
    };
    let src = StoreSource::new(conn, did);
    Repo::load(&src, root.commit)
        .map(Some)
        .map_err(|e| XrpcError::internal(e).into())
}
