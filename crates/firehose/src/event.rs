//! Message types of `com.atproto.sync.subscribeRepos` (sync 1.1), in working form.
//!
//! These carry no `seq`: the sequencer assigns it inside the write transaction and passes it
//! to [`Event::encode`](crate::Event::encode). Decoded frames pair the two again in
//! [`Frame::Event`](crate::Frame::Event).

use std::fmt;

use aerie_data::Cid;
use aerie_syntax::{Datetime, Did, Handle, Nsid, RecordKey, Tid};

use crate::Error;

/// Largest `seq` a frame may carry: seqs must stay exact in JavaScript numbers (< 2^53).
pub const MAX_SEQ: u64 = (1 << 53) - 1;
/// Most ops in one `#commit`.
pub const MAX_OPS: usize = 200;
/// Most bytes in the `blocks` CAR slice of a `#commit`.
pub const MAX_COMMIT_BLOCKS: usize = 2_000_000;
/// Most bytes in the `blocks` of a `#sync` (the lexicon's `maxLength`: only the commit block).
pub const MAX_SYNC_BLOCKS: usize = 10_000;
/// Most bytes in one whole frame (header and body).
pub const MAX_FRAME: usize = 5_000_000;

/// What an op does to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A new record.
    Create,
    /// A new value for an existing record.
    Update,
    /// Removal of a record.
    Delete,
}

impl Action {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    /// Parse the wire spelling.
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "create" => Some(Action::Create),
            "update" => Some(Action::Update),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record path `<collection NSID>/<record key>`, validated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoPath(String);

impl RepoPath {
    /// Parse and validate `collection/rkey`.
    pub fn parse(s: &str) -> Result<RepoPath, Error> {
        let bad = |reason: String| Error::InvalidField {
            message: "repoOp",
            field: "path",
            reason,
        };
        let (collection, rkey) = s
            .split_once('/')
            .ok_or_else(|| bad(format!("{s:?} has no '/'")))?;
        Nsid::parse(collection).map_err(|e| bad(e.to_string()))?;
        RecordKey::parse(rkey).map_err(|e| bad(e.to_string()))?;
        Ok(RepoPath(s.to_owned()))
    }

    /// From parts that are already valid.
    pub fn new(collection: &Nsid, rkey: &RecordKey) -> RepoPath {
        RepoPath(format!("{}/{}", collection.as_str(), rkey.as_str()))
    }

    /// The path text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One record operation of a `#commit` (`com.atproto.sync.subscribeRepos#repoOp`).
///
/// Sync 1.1 shape: create has `cid` and no `prev`; update has both; delete has `prev` and a
/// null `cid`. The constructors build exactly these; [`Event::encode`] refuses any other mix.
/// Decoding accepts a missing `prev` (pre-1.1 producers) so a consumer can decide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoOp {
    /// Create, update or delete.
    pub action: Action,
    /// The record path.
    pub path: RepoPath,
    /// The new record CID; `None` for deletes.
    pub cid: Option<Cid>,
    /// The record CID before this commit; `None` for creates.
    pub prev: Option<Cid>,
}

impl RepoOp {
    /// A record created at `path` with CID `cid`.
    pub fn create(path: RepoPath, cid: Cid) -> RepoOp {
        RepoOp {
            action: Action::Create,
            path,
            cid: Some(cid),
            prev: None,
        }
    }

    /// The record at `path` changed from `prev` to `cid`.
    pub fn update(path: RepoPath, cid: Cid, prev: Cid) -> RepoOp {
        RepoOp {
            action: Action::Update,
            path,
            cid: Some(cid),
            prev: Some(prev),
        }
    }

    /// The record at `path` (last CID `prev`) was deleted.
    pub fn delete(path: RepoPath, prev: Cid) -> RepoOp {
        RepoOp {
            action: Action::Delete,
            path,
            cid: None,
            prev: Some(prev),
        }
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        let reason = match (self.action, self.cid.is_some(), self.prev.is_some()) {
            (Action::Create, true, false)
            | (Action::Update, true, true)
            | (Action::Delete, false, true) => return Ok(()),
            (Action::Create, _, _) => "create needs cid and no prev",
            (Action::Update, _, _) => "update needs cid and prev",
            (Action::Delete, _, _) => "delete needs prev and a null cid",
        };
        Err(Error::InvalidOp {
            action: self.action.as_str(),
            path: self.path.0.clone(),
            reason,
        })
    }
}

/// `#commit`: a signed repo commit with the CAR slice a consumer needs to verify and invert it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitEvent {
    /// The repo's DID (wire name `repo`).
    pub repo: Did,
    /// CID of the commit block (also root 0 of `blocks`).
    pub commit: Cid,
    /// The commit's revision.
    pub rev: Tid,
    /// The previous commit's revision; `None` for a repo's first commit.
    pub since: Option<Tid>,
    /// CAR slice: the commit, new MST nodes and records, and the nodes needed to invert the
    /// ops. At most [`MAX_COMMIT_BLOCKS`] bytes.
    pub blocks: Vec<u8>,
    /// The record operations, at most [`MAX_OPS`].
    pub ops: Vec<RepoOp>,
    /// The previous commit's MST root (`data`); `None` for a repo's first commit.
    pub prev_data: Option<Cid>,
    /// When the event was sequenced.
    pub time: Datetime,
    /// Deprecated, always `false` from this PDS; kept so a consumer can reject `true`.
    pub rebase: bool,
    /// Deprecated, always `false` from this PDS; kept so a consumer can reject `true`.
    pub too_big: bool,
    /// Deprecated, always empty from this PDS.
    pub blobs: Vec<Cid>,
}

impl CommitEvent {
    /// A sync 1.1 commit event (`rebase` and `tooBig` false, `blobs` empty).
    #[allow(clippy::too_many_arguments)] // mirrors the wire fields one to one
    pub fn new(
        repo: Did,
        commit: Cid,
        rev: Tid,
        since: Option<Tid>,
        blocks: Vec<u8>,
        ops: Vec<RepoOp>,
        prev_data: Option<Cid>,
        time: Datetime,
    ) -> CommitEvent {
        CommitEvent {
            repo,
            commit,
            rev,
            since,
            blocks,
            ops,
            prev_data,
            time,
            rebase: false,
            too_big: false,
            blobs: Vec::new(),
        }
    }
}

/// `#sync`: "the repo is now at this commit"; consumers that disagree re-fetch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEvent {
    /// The repo's DID.
    pub did: Did,
    /// The commit's revision.
    pub rev: Tid,
    /// CAR holding only the commit block (root 0). At most [`MAX_SYNC_BLOCKS`] bytes.
    pub blocks: Vec<u8>,
    /// When the event was sequenced.
    pub time: Datetime,
}

/// `#identity`: the account's identity may have changed; refresh caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityEvent {
    /// The account's DID.
    pub did: Did,
    /// The current handle, if known (may be `handle.invalid`).
    pub handle: Option<Handle>,
    /// When the event was sequenced.
    pub time: Datetime,
}

/// Why an account is not active (`#account.status`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    /// Taken down by the host.
    Takendown,
    /// Suspended for a while.
    Suspended,
    /// Deleted.
    Deleted,
    /// Deactivated by its owner.
    Deactivated,
    /// The host's copy is out of sync (relays).
    Desynchronized,
    /// Rate limited (relays).
    Throttled,
    /// A value this crate does not know (kept from decoded frames).
    Other(String),
}

impl AccountStatus {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            AccountStatus::Takendown => "takendown",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Deleted => "deleted",
            AccountStatus::Deactivated => "deactivated",
            AccountStatus::Desynchronized => "desynchronized",
            AccountStatus::Throttled => "throttled",
            AccountStatus::Other(s) => s,
        }
    }

    /// From the wire spelling (unknown values become [`AccountStatus::Other`]).
    pub fn parse(s: &str) -> AccountStatus {
        match s {
            "takendown" => AccountStatus::Takendown,
            "suspended" => AccountStatus::Suspended,
            "deleted" => AccountStatus::Deleted,
            "deactivated" => AccountStatus::Deactivated,
            "desynchronized" => AccountStatus::Desynchronized,
            "throttled" => AccountStatus::Throttled,
            other => AccountStatus::Other(other.to_owned()),
        }
    }
}

/// `#account`: the account's hosting status at this service changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEvent {
    /// The account's DID.
    pub did: Did,
    /// Whether the repo can be fetched from this host.
    pub active: bool,
    /// Why not, when `active` is false.
    pub status: Option<AccountStatus>,
    /// When the event was sequenced.
    pub time: Datetime,
}

/// `#info`: an informational message (not persisted, no seq).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The info name, e.g. `OutdatedCursor`.
    pub name: String,
    /// Human-readable detail.
    pub message: Option<String>,
}

/// A sequenced firehose event (everything that is persisted and carries a seq).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `#commit`.
    Commit(CommitEvent),
    /// `#sync`.
    Sync(SyncEvent),
    /// `#identity`.
    Identity(IdentityEvent),
    /// `#account`.
    Account(AccountEvent),
}

impl Event {
    /// The frame header's `t`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Commit(_) => "#commit",
            Event::Sync(_) => "#sync",
            Event::Identity(_) => "#identity",
            Event::Account(_) => "#account",
        }
    }

    /// The account the event is about.
    pub fn did(&self) -> &Did {
        match self {
            Event::Commit(e) => &e.repo,
            Event::Sync(e) => &e.did,
            Event::Identity(e) => &e.did,
            Event::Account(e) => &e.did,
        }
    }
}
