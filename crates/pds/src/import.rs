//! Importing a repository CAR into a hosted account: `com.atproto.repo.importRepo` (account
//! migration) and, through it, `aerie repo import`.
//!
//! The body is spooled to a temporary file under the data directory (never held twice in
//! memory), then verified completely by [`aerie_repo::verify`]: one root that is a commit
//! for this account's DID, signed by the DID document's current `#atproto` key (or by the
//! account's own key, for a re-import after the DID moved here), a complete and canonical
//! MST, every record present and strict DRISL. Anything else is a 400 `InvalidRequest`
//! naming the problem. Only then, in ONE write job, the account's previous repo (the empty
//! one createAccount made, or an earlier import) is replaced: blocks, record index, blob
//! references (the blobs themselves are "missing" until uploaded), root.
//!
//! An account may import only while deactivated (a migration in progress); the imported
//! commit keeps the old server's signature until activation re-signs it (`activateAccount`).
//! The operator (admin auth, `aerie repo import`) may also replace an active account's repo;
//! that import is re-signed at once under a rev after both the old and the imported one, and
//! announced with `#sync`.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use aerie_data::Cid;
use aerie_repo::verify::{VerifyOptions, verify_car};
use aerie_store::{Transaction, account, blob, repo as repo_table};
use aerie_syntax::{Datetime, Did, Tid};
use aerie_xrpc::XrpcError;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use aerie_firehose::{Event, SyncEvent};
use aerie_repo::repo::Repo;

use crate::AppState;
use crate::error::JobError;
use crate::records::StoreSource;
use crate::sequencer::{self, Sequenced};

/// Largest repository CAR accepted (4 GiB): far above real repositories, and a bound on the
/// temporary file an account can make us write.
pub const MAX_IMPORT_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// The imported commit.
    pub commit: Cid,
    /// Its revision.
    pub rev: Tid,
    /// Records indexed.
    pub records: u64,
    /// Blocks stored.
    pub blocks: u64,
    /// Distinct blobs the records reference.
    pub blobs: u64,
}

/// A temporary file removed when dropped.
pub(crate) struct TempFile(PathBuf);

impl TempFile {
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: a leftover file in tmp/ is harmless and the next start may clean it.
        let _ = std::fs::remove_file(&self.0);
    }
}

fn io_error(what: &str, e: std::io::Error) -> XrpcError {
    XrpcError::internal(format!("{what}: {e}"))
}

/// Streams a request body into a temporary file, refusing more than [`MAX_IMPORT_BYTES`].
pub(crate) async fn spool_body(
    st: &AppState,
    body: axum::body::Body,
) -> Result<TempFile, XrpcError> {
    let dir = st.config().data_directory.join("tmp");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| io_error("creating the import directory", e))?;
    let mut name = [0u8; 12];
    getrandom::fill(&mut name).map_err(XrpcError::internal)?;
    let temp = TempFile(dir.join(format!(
        "import-{}.car",
        data_encoding::HEXLOWER.encode(&name)
    )));
    let mut file = tokio::fs::File::create(temp.path())
        .await
        .map_err(|e| io_error("creating the import file", e))?;
    let mut stream = body.into_data_stream();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| XrpcError::invalid_request(format!("could not read request body: {e}")))?;
        total += chunk.len() as u64;
        if total > MAX_IMPORT_BYTES {
            return Err(XrpcError::payload_too_large());
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| io_error("writing the import file", e))?;
    }
    file.flush()
        .await
        .map_err(|e| io_error("writing the import file", e))?;
    Ok(temp)
}

fn refused(msg: String) -> XrpcError {
    XrpcError::invalid_request(msg)
}

/// Verifies the CAR at `path` and makes it `did`'s repository (see the module docs).
/// `expected_key` is the DID document's current signing key, if it could be resolved.
/// `allow_active` (operator imports) also replaces an active account's repo: the commit is
/// then re-signed with the account's key under a newer rev, and `#sync` announces it.
pub async fn import_car_file(
    st: &AppState,
    did: &Did,
    path: &Path,
    expected_key: Option<PublicKey>,
    allow_active: bool,
) -> Result<ImportSummary, XrpcError> {
    let d = did.as_str().to_owned();
    let acct = st
        .store()
        .read(move |c| account::by_did(c, &d))
        .await
        .map_err(crate::error::store_error)?
        .ok_or_else(|| XrpcError::named("AccountNotFound", "Account not found"))?;
    if acct.deactivated_at.is_none() && !allow_active {
        return Err(refused(
            "Repo import is only accepted while the account is deactivated (during migration)"
                .into(),
        ));
    }
    let signing_key =
        SigningKey::from_bytes(KeyType::K256, &acct.signing_key).map_err(XrpcError::internal)?;
    let own_key = signing_key.public_key();
    let (path, did_c) = (path.to_path_buf(), did.clone());
    let verified = tokio::task::spawn_blocking(move || {
        let file =
            std::fs::File::open(&path).map_err(|e| io_error("opening the import file", e))?;
        let options = VerifyOptions {
            did: Some(did_c),
            ..VerifyOptions::default()
        };
        let verified = verify_car(BufReader::new(file), &options)
            .map_err(|e| refused(format!("Invalid repository CAR: {e}")))?;
        let signed_by = |k: &PublicKey| verified.commit.verify(k).is_ok();
        if !expected_key.as_ref().is_some_and(signed_by) && !signed_by(&own_key) {
            return Err(refused(match expected_key {
                Some(_) => "Invalid repository CAR: the commit is not signed by the DID's \
                            current #atproto key"
                    .into(),
                None => "Invalid repository CAR: the DID's signing key could not be resolved \
                         and the commit is not signed by this account's key"
                    .into(),
            }));
        }
        let mut refs = Vec::with_capacity(verified.entries.len());
        for record in verified.records() {
            let record = record.map_err(|e| refused(format!("Invalid record: {e}")))?;
            let blobs: Vec<Cid> = record
                .value
                .blob_refs()
                .map_err(|e| refused(format!("Invalid blob reference in {}: {e}", record.path)))?
                .iter()
                .map(|b| *b.cid())
                .collect();
            if !blobs.is_empty() {
                refs.push((record.path.to_string(), blobs));
            }
        }
        Ok::<_, XrpcError>((verified, refs))
    })
    .await
    .map_err(XrpcError::internal)??;
    let (verified, blob_refs) = verified;

    let _guard = st.repo_locks().lock(did.as_str()).await;
    let (did_s, did_c) = (did.as_str().to_owned(), did.clone());
    let (summary, events) = st
        .store()
        .write(
            move |tx: &Transaction<'_>| -> Result<(ImportSummary, Vec<Sequenced>), JobError> {
                let acct = account::by_did(tx, &did_s)?
                    .ok_or_else(|| XrpcError::named("AccountNotFound", "Account not found"))?;
                let active = acct.deactivated_at.is_none();
                if active && !allow_active {
                    return Err(refused(
                        "Repo import is only accepted while the account is deactivated".into(),
                    )
                    .into());
                }
                // An operator import must not move an active repo's rev backwards.
                let prev_rev = repo_table::root(tx, &did_s)?.and_then(|r| Tid::parse(&r.rev).ok());
                clear_repo(tx, &did_s)?;
                let commit = &verified.commit;
                let rev = commit.rev();
                let rev_s = rev.as_str();
                repo_table::put_blocks(
                    tx,
                    &did_s,
                    rev_s,
                    verified.blocks.iter().map(|(c, b)| (*c, b)),
                )?;
                for (key, cid) in &verified.entries {
                    repo_table::put_record(tx, &did_s, key.collection(), key.rkey(), cid, rev_s)?;
                }
                let mut distinct = std::collections::HashSet::new();
                for (path, blobs) in &blob_refs {
                    blob::set_record_blobs(tx, &did_s, path, blobs)?;
                    distinct.extend(blobs.iter().copied());
                }
                let commit_cid = verified.report.commit_cid;
                repo_table::set_root(
                    tx,
                    &did_s,
                    repo_table::RepoRoot {
                        commit: commit_cid,
                        rev: rev_s,
                        data: *commit.data(),
                    },
                    Datetime::now().as_str(),
                )?;
                let mut summary = ImportSummary {
                    commit: commit_cid,
                    rev,
                    records: verified.entries.len() as u64,
                    blocks: verified.blocks.len() as u64,
                    blobs: distinct.len() as u64,
                };
                if !active {
                    return Ok((summary, Vec::new()));
                }
                // An active repo is announced now, always under a fresh rev signed by the
                // account's key: relays must see the rev move forward (a restored backup is
                // older than the repo it replaces) and the key the DID document names.
                let after = prev_rev.map_or(rev, |p| p.max(rev));
                let src = StoreSource::new(tx, &did_s);
                let mut repo = Repo::load(&src, commit_cid).map_err(XrpcError::internal)?;
                let resigned = repo
                    .resign(&signing_key, crate::records::next_rev(&after)?)
                    .map_err(XrpcError::internal)?;
                crate::records::persist_commit(tx, &did_s, &resigned, Some(commit_cid))?;
                summary.commit = resigned.cid;
                summary.rev = resigned.rev;
                let (rev, blocks) = (resigned.rev, resigned.car_slice());
                let event = sequencer::append(
                    tx,
                    &Event::Sync(SyncEvent {
                        did: did_c.clone(),
                        rev,
                        blocks,
                        time: Datetime::now(),
                    }),
                )?;
                Ok((summary, vec![event]))
            },
        )
        .await
        .map_err(XrpcError::from)?;
    sequencer::publish(st.firehose(), events).await;
    Ok(summary)
}

/// Removes `did`'s blocks, record index and blob references (not its uploaded blobs).
fn clear_repo(tx: &Transaction<'_>, did: &str) -> Result<(), aerie_store::StoreError> {
    let mut cids = Vec::new();
    repo_table::for_each_block(tx, did, None, |cid, _| {
        cids.push(cid);
        Ok(())
    })?;
    repo_table::delete_blocks(tx, did, cids.iter())?;
    for collection in repo_table::collections(tx, did)? {
        for (rkey, _) in repo_table::list_records(tx, did, &collection, u32::MAX, None, false)? {
            repo_table::delete_record(tx, did, &collection, &rkey)?;
            blob::set_record_blobs(tx, did, &format!("{collection}/{rkey}"), &[])?;
        }
    }
    Ok(())
}
