//! com.atproto.sync.*: repository exports, proofs and status.

use aerie_data::Cid;
use aerie_repo::car;
use aerie_store::{account, repo as repo_table};
use aerie_xrpc::{AccessAuth, AdminAuth, Params, XrpcError};
use axum::body::Bytes;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};
use tokio::sync::{mpsc, oneshot};

use super::repo::{Source, record_key, repo_or_not_found};
use crate::AppState;
use crate::error::{JobError, store_error};

const CAR_TYPE: &str = "application/vnd.ipld.car";

fn car_response(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, CAR_TYPE)], bytes).into_response()
}

fn repo_not_found(did: &str) -> XrpcError {
    XrpcError::named(
        "RepoNotFound",
        format!("Could not find repo for DID: {did}"),
    )
}

/// Who is asking, as far as the availability rule cares: the admin (HTTP basic) or an
/// account (a valid access token). Missing or invalid credentials make an anonymous caller,
/// since these endpoints are public.
#[derive(Debug, Clone, Default)]
pub struct Requester {
    admin: bool,
    did: Option<String>,
}

impl Requester {
    fn may_see_inactive(&self, did: &str) -> bool {
        self.admin || self.did.as_deref() == Some(did)
    }
}

impl FromRequestParts<AppState> for Requester {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &AppState,
    ) -> Result<Requester, std::convert::Infallible> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(Requester::default());
        }
        if AdminAuth::from_request_parts(parts, st).await.is_ok() {
            return Ok(Requester {
                admin: true,
                did: None,
            });
        }
        let did = AccessAuth::from_request_parts(parts, st)
            .await
            .ok()
            .map(|a| a.did);
        Ok(Requester { admin: false, did })
    }
}

/// The account behind `did`, refusing a taken-down or deactivated one as the sync endpoints
/// must, except to the account itself or the admin (as the reference does: an owner can
/// still export their own data).
pub(super) async fn active_account(
    st: &AppState,
    did: &str,
    who: &Requester,
) -> Result<account::Account, XrpcError> {
    let d = did.to_owned();
    let acct = st
        .store()
        .read(move |c| account::by_did(c, &d))
        .await
        .map_err(store_error)?
        .ok_or_else(|| repo_not_found(did))?;
    if who.may_see_inactive(did) {
        return Ok(acct);
    }
    if acct.takedown_ref.is_some() {
        return Err(XrpcError::named(
            "RepoTakendown",
            format!("Repo has been takendown: {did}"),
        ));
    }
    if acct.deactivated_at.is_some() {
        return Err(XrpcError::named(
            "RepoDeactivated",
            format!("Repo has been deactivated: {did}"),
        ));
    }
    Ok(acct)
}

#[derive(Deserialize)]
pub struct DidParams {
    did: String,
}

#[derive(Deserialize)]
pub struct GetRepoParams {
    did: String,
    since: Option<String>,
}

/// Bytes gathered before a chunk is handed to the response body.
const CHUNK: usize = 64 * 1024;
/// Chunks queued between the reading thread and the connection: with a slow client the
/// reader waits, so one download holds about `CHUNK * (CHUNKS_IN_FLIGHT + 1)` bytes.
const CHUNKS_IN_FLIGHT: usize = 4;

type Chunk = Result<Bytes, std::io::Error>;

/// An `io::Write` that cuts what it is given into [`CHUNK`]-sized pieces for the body.
struct ChunkSink {
    buf: Vec<u8>,
    tx: mpsc::Sender<Chunk>,
    /// Set once a send failed because the client went away.
    gone: bool,
}

impl ChunkSink {
    /// Sends what is buffered once a chunk is full.
    fn maybe_send(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }

    /// Sends what is buffered, waiting while the connection is behind. Fails once the
    /// client has gone away, which stops the walk early.
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.blocking_send(Ok(Bytes::from(chunk))).map_err(|_| {
            self.gone = true;
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "getRepo client went away")
        })
    }
}

impl std::io::Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        self.maybe_send()?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // CarWriter flushes once, at the end: that is the last chunk.
        self.send()
    }
}

/// com.atproto.sync.getRepo: the whole repo as a CAR (commit, then MST nodes and records
/// in the spec's streamable order), or with `since` the commit root and the blocks written
/// by later revisions. Streamed: a blocking thread walks the repo inside one read
/// transaction (a consistent snapshot even while writes land) and feeds a bounded channel,
/// so memory stays flat however large the repo is.
pub async fn get_repo(
    State(st): State<AppState>,
    who: Requester,
    Params(p): Params<GetRepoParams>,
) -> Result<Response, XrpcError> {
    active_account(&st, &p.did, &who).await?;
    let (tx, mut rx) = mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let (started_tx, started_rx) = oneshot::channel::<Result<(), XrpcError>>();
    let store = st.store().clone();
    tokio::task::spawn_blocking(move || {
        let mut started = Some(started_tx);
        let result = store.read_blocking(|c| {
            stream_repo(c, &p.did, p.since.as_deref(), &mut started, tx.clone())
        });
        if let Err(e) = result {
            match started.take() {
                // Nothing sent yet: the client gets a proper error answer.
                Some(s) => {
                    let _ = s.send(Err(e.into()));
                }
                // Mid-body (already logged): all we can do is cut the response, so that it
                // cannot pass for a whole CAR.
                None => {
                    let _ = tx.blocking_send(Err(std::io::Error::other("getRepo aborted")));
                }
            }
        }
    });
    match started_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(XrpcError::internal(
                "getRepo reader stopped before starting",
            ));
        }
    }
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok((
        [(header::CONTENT_TYPE, CAR_TYPE)],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// The body of [`get_repo`], run on a blocking thread over one reader connection.
/// `started` is answered (and taken) once the repo is found, before the first byte.
fn stream_repo(
    c: &aerie_store::Connection,
    did: &str,
    since: Option<&str>,
    started: &mut Option<oneshot::Sender<Result<(), XrpcError>>>,
    tx: mpsc::Sender<Chunk>,
) -> Result<(), JobError> {
    // One read transaction: every block comes from the same snapshot, so a commit landing
    // mid-walk (and deleting blocks it replaced) cannot tear the export.
    let snapshot = c
        .unchecked_transaction()
        .map_err(aerie_store::StoreError::sqlite("starting getRepo snapshot"))?;
    let repo = repo_or_not_found(&snapshot, did)?;
    if let Some(s) = started.take() {
        // The handler gave up only if the client left; then the sends below fail too.
        let _ = s.send(Ok(()));
    }
    let mut sink = ChunkSink {
        buf: Vec::with_capacity(CHUNK),
        tx,
        gone: false,
    };
    let result = match since {
        None => repo
            .write_car(&Source::new(&snapshot, did), &mut sink)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Some(since) => {
            car::push_header(&mut sink.buf, &[repo.commit_cid()]);
            repo_table::for_each_block(&snapshot, did, Some(since), |cid, bytes| {
                car::push_section(&mut sink.buf, &cid, bytes);
                sink.maybe_send()
                    .map_err(|source| aerie_store::StoreError::Io {
                        context: "streaming getRepo".into(),
                        source,
                    })
            })
            .map_err(|e| e.to_string())
            .and_then(|()| sink.send().map_err(|e| e.to_string()))
        }
    };
    match result {
        // A client that hangs up mid-download is not a server error.
        Err(_) if sink.gone => Ok(()),
        Err(e) => Err(XrpcError::internal(format!("getRepo of {did}: {e}")).into()),
        Ok(()) => Ok(()),
    }
}

/// com.atproto.sync.getCheckout (deprecated): the whole repo, as getRepo.
pub async fn get_checkout(
    st: State<AppState>,
    who: Requester,
    Params(p): Params<DidParams>,
) -> Result<Response, XrpcError> {
    get_repo(
        st,
        who,
        Params(GetRepoParams {
            did: p.did,
            since: None,
        }),
    )
    .await
}

/// com.atproto.sync.getLatestCommit
pub async fn get_latest_commit(
    State(st): State<AppState>,
    who: Requester,
    Params(p): Params<DidParams>,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    active_account(&st, &p.did, &who).await?;
    let did = p.did.clone();
    let root = st
        .store()
        .read(move |c| repo_table::root(c, &did))
        .await
        .map_err(store_error)?
        .ok_or_else(|| repo_not_found(&p.did))?;
    Ok(axum::Json(
        json!({ "cid": root.commit.to_string(), "rev": root.rev }),
    ))
}

/// com.atproto.sync.getHead (deprecated): `{root}`.
pub async fn get_head(
    State(st): State<AppState>,
    who: Requester,
    Params(p): Params<DidParams>,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    active_account(&st, &p.did, &who).await?;
    let did = p.did.clone();
    let root = st
        .store()
        .read(move |c| repo_table::root(c, &did))
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            XrpcError::named(
                "HeadNotFound",
                format!("Could not find root for DID: {}", p.did),
            )
        })?;
    Ok(axum::Json(json!({ "root": root.commit.to_string() })))
}

/// com.atproto.sync.getRepoStatus
pub async fn get_repo_status(
    State(st): State<AppState>,
    Params(p): Params<DidParams>,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    let did = p.did.clone();
    let (acct, root) = st
        .store()
        .read(move |c| -> Result<_, aerie_store::StoreError> {
            Ok((account::by_did(c, &did)?, repo_table::root(c, &did)?))
        })
        .await
        .map_err(store_error)?;
    let acct = acct.ok_or_else(|| repo_not_found(&p.did))?;
    let status = if acct.takedown_ref.is_some() {
        Some("takendown")
    } else if acct.deactivated_at.is_some() {
        Some("deactivated")
    } else {
        None
    };
    let mut out = json!({ "did": acct.did, "active": status.is_none() });
    if let Some(s) = status {
        out["status"] = json!(s);
    } else if let Some(r) = root {
        out["rev"] = json!(r.rev);
    }
    Ok(axum::Json(out))
}

#[derive(Deserialize)]
pub struct SyncGetRecordParams {
    did: String,
    collection: String,
    rkey: String,
}

/// com.atproto.sync.getRecord: the proof CAR (commit, MST path, record if present); an
/// absent record gets its proof of absence.
pub async fn get_record(
    State(st): State<AppState>,
    who: Requester,
    Params(p): Params<SyncGetRecordParams>,
) -> Result<Response, XrpcError> {
    active_account(&st, &p.did, &who).await?;
    let key = record_key(&p.collection, &p.rkey)?;
    let did = p.did.clone();
    let bytes = st
        .store()
        .read(move |c| -> Result<Vec<u8>, JobError> {
            let repo = repo_or_not_found(c, &did)?;
            repo.record_proof(&Source::new(c, &did), &key)
                .map_err(|e| XrpcError::internal(e).into())
        })
        .await?;
    Ok(car_response(bytes))
}

/// com.atproto.sync.getBlocks?did&cids=..&cids=..: the named blocks as a root-less CAR;
/// any missing block is an error naming it.
pub async fn get_blocks(
    State(st): State<AppState>,
    who: Requester,
    RawQuery(query): RawQuery,
) -> Result<Response, XrpcError> {
    let mut did = None;
    let mut cids = Vec::new();
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "did" => did = Some(v),
            "cids" => cids.push(
                v.parse::<Cid>()
                    .map_err(|_| XrpcError::invalid_request(format!("Invalid cid: {v}")))?,
            ),
            _ => {}
        }
    }
    let did = did.ok_or_else(|| XrpcError::invalid_request("did is required"))?;
    active_account(&st, &did, &who).await?;
    let bytes = st
        .store()
        .read(move |c| -> Result<Vec<u8>, JobError> {
            let mut out = car::write_car(&[], []);
            let mut missing = Vec::new();
            for cid in &cids {
                match repo_table::block(c, &did, cid)? {
                    Some(b) => car::push_section(&mut out, cid, &b),
                    None => missing.push(cid.to_string()),
                }
            }
            if !missing.is_empty() {
                return Err(XrpcError::named(
                    "BlockNotFound",
                    format!("Could not find cids: {}", missing.join(", ")),
                )
                .into());
            }
            Ok(out)
        })
        .await?;
    Ok(car_response(bytes))
}

/// Decodes `%XX` escapes and `+` (query strings); invalid escapes are kept literally.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Deserialize)]
pub struct ListReposParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// com.atproto.sync.listRepos (DID order; cursor = last DID).
pub async fn list_repos(
    State(st): State<AppState>,
    Params(p): Params<ListReposParams>,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    let limit = p.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(XrpcError::invalid_request(
            "limit must be between 1 and 1000",
        ));
    }
    let rows = st
        .store()
        .read(move |c| -> Result<_, aerie_store::StoreError> {
            let roots = repo_table::list_roots(c, p.cursor.as_deref(), limit)?;
            let mut out = Vec::with_capacity(roots.len());
            for (did, root) in roots {
                let acct = account::by_did(c, &did)?;
                out.push((did, root, acct));
            }
            Ok(out)
        })
        .await
        .map_err(store_error)?;
    let cursor = if rows.len() as u32 == limit {
        rows.last().map(|(d, _, _)| d.clone())
    } else {
        None
    };
    let repos: Vec<JsonValue> = rows
        .into_iter()
        .map(|(did, root, acct)| {
            let status = acct.as_ref().and_then(|a| {
                if a.takedown_ref.is_some() {
                    Some("takendown")
                } else if a.deactivated_at.is_some() {
                    Some("deactivated")
                } else {
                    None
                }
            });
            let mut r = json!({
                "did": did, "head": root.commit.to_string(), "rev": root.rev,
                "active": status.is_none(),
            });
            if let Some(s) = status {
                r["status"] = json!(s);
            }
            r
        })
        .collect();
    let mut out = json!({ "repos": repos });
    if let Some(c) = cursor {
        out["cursor"] = json!(c);
    }
    Ok(axum::Json(out))
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding_handles_escapes_and_junk() {
        assert_eq!(percent_decode("did%3Aplc%3Aabc"), "did:plc:abc");
        assert_eq!(percent_decode("a+b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
