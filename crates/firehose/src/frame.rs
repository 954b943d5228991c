//! Wire frames: a DRISL header map followed by a DRISL body map, in one binary WebSocket
//! message.
//!
//! Encoding is by hand with [`Writer`], keys written in canonical order (shorter first, then
//! bytewise), so the bytes are canonical without sorting. Decoding is strict DRISL (via
//! [`Reader`]), ignores unknown body fields (the event-stream spec asks consumers to), and
//! refuses trailing bytes after the body.

use aerie_data::Cid;
use aerie_data::drisl::{DecodeError, Reader, Writer};
use aerie_syntax::{Datetime, Did, Handle, Tid};

use crate::Error;
use crate::event::{
    AccountEvent, AccountStatus, Action, CommitEvent, Event, IdentityEvent, Info,
    MAX_COMMIT_BLOCKS, MAX_FRAME, MAX_OPS, MAX_SEQ, MAX_SYNC_BLOCKS, RepoOp, RepoPath, SyncEvent,
};

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// A sequenced event.
    Event {
        /// The stream sequence number.
        seq: u64,
        /// The event.
        event: Event,
    },
    /// `#info`.
    Info(Info),
    /// An error frame (`op: -1`); the stream ends after it.
    Error {
        /// The error name, e.g. `FutureCursor`.
        error: String,
        /// Human-readable detail.
        message: Option<String>,
    },
    /// A message type this crate does not decode (e.g. the retired `#handle`, `#migrate`,
    /// `#tombstone`) or an unknown `op`; consumers skip it.
    Unknown {
        /// The header's `op`.
        op: i64,
        /// The header's `t`, if any.
        t: Option<String>,
    },
}

/// `#info` name sent before replaying from the oldest kept event.
pub const OUTDATED_CURSOR: &str = "OutdatedCursor";
/// Error name for a cursor beyond the newest event.
pub const FUTURE_CURSOR: &str = "FutureCursor";
/// Error name for a subscriber that fell too far behind.
pub const CONSUMER_TOO_SLOW: &str = "ConsumerTooSlow";

fn check_seq(seq: u64, message: &'static str) -> Result<(), Error> {
    if seq == 0 || seq > MAX_SEQ {
        return Err(Error::InvalidField {
            message,
            field: "seq",
            reason: format!("{seq} is not in 1..=2^53-1"),
        });
    }
    Ok(())
}

impl Event {
    /// Encode this event with sequence number `seq` as one complete frame (header + body).
    ///
    /// Encode once, store these bytes in the event log, and serve the same bytes to every
    /// subscriber. Refuses a `seq` outside `1..=2^53-1`, more than [`MAX_OPS`] ops, `blocks`
    /// over the limit ([`MAX_COMMIT_BLOCKS`], [`MAX_SYNC_BLOCKS`]), ops whose `cid`/`prev` do
    /// not match their action, and frames over [`MAX_FRAME`] bytes.
    pub fn encode(&self, seq: u64) -> Result<Vec<u8>, Error> {
        let t = self.type_name();
        check_seq(seq, t)?;
        let w = match self {
            Event::Commit(c) => {
                check_commit(c)?;
                let mut w = Writer::with_capacity(c.blocks.len() + 128 * c.ops.len() + 256);
                header(&mut w, t);
                commit_body(&mut w, seq, c);
                w
            }
            Event::Sync(s) => {
                if s.blocks.len() > MAX_SYNC_BLOCKS {
                    return Err(Error::BlocksTooLarge {
                        message: t,
                        len: s.blocks.len(),
                        max: MAX_SYNC_BLOCKS,
                    });
                }
                let mut w = Writer::with_capacity(s.blocks.len() + 200);
                header(&mut w, t);
                // did, rev, seq, time, blocks
                w.map(5)
                    .text("did")
                    .text(s.did.as_str())
                    .text("rev")
                    .text(s.rev.as_str())
                    .text("seq")
                    .uint(seq)
                    .text("time")
                    .text(s.time.as_str())
                    .text("blocks")
                    .bytes(&s.blocks);
                w
            }
            Event::Identity(i) => {
                let mut w = Writer::with_capacity(200);
                header(&mut w, t);
                // did, seq, time, handle
                w.map(3 + usize::from(i.handle.is_some()))
                    .text("did")
                    .text(i.did.as_str())
                    .text("seq")
                    .uint(seq)
                    .text("time")
                    .text(i.time.as_str());
                if let Some(h) = &i.handle {
                    w.text("handle").text(h.as_str());
                }
                w
            }
            Event::Account(a) => {
                let mut w = Writer::with_capacity(200);
                header(&mut w, t);
                // did, seq, time, active, status
                w.map(4 + usize::from(a.status.is_some()))
                    .text("did")
                    .text(a.did.as_str())
                    .text("seq")
                    .uint(seq)
                    .text("time")
                    .text(a.time.as_str())
                    .text("active")
                    .bool(a.active);
                if let Some(s) = &a.status {
                    w.text("status").text(s.as_str());
                }
                w
            }
        };
        let len = w.as_slice().len();
        if len > MAX_FRAME {
            return Err(Error::FrameTooLarge {
                len,
                max: MAX_FRAME,
            });
        }
        Ok(w.into_inner())
    }
}

fn check_commit(c: &CommitEvent) -> Result<(), Error> {
    if c.ops.len() > MAX_OPS {
        return Err(Error::TooManyOps {
            count: c.ops.len(),
            max: MAX_OPS,
        });
    }
    if c.blocks.len() > MAX_COMMIT_BLOCKS {
        return Err(Error::BlocksTooLarge {
            message: "#commit",
            len: c.blocks.len(),
            max: MAX_COMMIT_BLOCKS,
        });
    }
    c.ops.iter().try_for_each(RepoOp::check)
}

fn header(w: &mut Writer, t: &str) {
    // Canonical order: "t" (1 byte) before "op" (2 bytes).
    w.map(2).text("t").text(t).text("op").uint(1);
}

fn commit_body(w: &mut Writer, seq: u64, c: &CommitEvent) {
    // Canonical key order: ops, rev, seq, repo, time, blobs, since, blocks, commit, rebase,
    // tooBig, prevData.
    w.map(11 + usize::from(c.prev_data.is_some()));
    w.text("ops").array(c.ops.len());
    for op in &c.ops {
        // cid, path, prev, action
        w.map(3 + usize::from(op.prev.is_some()))
            .text("cid")
            .opt_link(op.cid.as_ref())
            .text("path")
            .text(op.path.as_str());
        if let Some(prev) = &op.prev {
            w.text("prev").link(prev);
        }
        w.text("action").text(op.action.as_str());
    }
    w.text("rev").text(c.rev.as_str());
    w.text("seq").uint(seq);
    w.text("repo").text(c.repo.as_str());
    w.text("time").text(c.time.as_str());
    w.text("blobs").array(c.blobs.len());
    for b in &c.blobs {
        w.link(b);
    }
    w.text("since");
    match &c.since {
        Some(s) => w.text(s.as_str()),
        None => w.null(),
    };
    w.text("blocks").bytes(&c.blocks);
    w.text("commit").link(&c.commit);
    w.text("rebase").bool(c.rebase);
    w.text("tooBig").bool(c.too_big);
    if let Some(d) = &c.prev_data {
        w.text("prevData").link(d);
    }
}

/// Encode an `#info` frame.
pub fn encode_info(info: &Info) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + info.message.as_ref().map_or(0, String::len));
    header(&mut w, "#info");
    w.map(1 + usize::from(info.message.is_some()))
        .text("name")
        .text(&info.name);
    if let Some(m) = &info.message {
        w.text("message").text(m);
    }
    w.into_inner()
}

/// Encode an error frame (`{op: -1}` + `{error, message}`); the stream must close after it.
pub fn encode_error(error: &str, message: Option<&str>) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + message.map_or(0, str::len));
    w.map(1).text("op").int(-1);
    w.map(1 + usize::from(message.is_some()))
        .text("error")
        .text(error);
    if let Some(m) = message {
        w.text("message").text(m);
    }
    w.into_inner()
}

/// Decode one frame strictly: both parts canonical DRISL maps, no trailing bytes, required
/// fields present with valid syntax. Unknown body fields are skipped; unknown message types
/// and ops become [`Frame::Unknown`].
pub fn decode_frame(frame: &[u8]) -> Result<Frame, Error> {
    if frame.len() > MAX_FRAME {
        return Err(Error::FrameTooLarge {
            len: frame.len(),
            max: MAX_FRAME,
        });
    }
    let mut r = Reader::new(frame);
    let (op, t) = decode_header(&mut r)?;
    let header_len = r.position();
    let body = &frame[header_len..];
    let mut r = Reader::new(body);
    let cbor = |source: DecodeError| Error::Cbor {
        part: "body",
        source,
    };
    let out = match (op, t.as_deref()) {
        (-1, _) => {
            let mut error = None;
            let mut message = None;
            fields(&mut r, |key, r| {
                match key {
                    "error" => error = Some(r.text()?.to_owned()),
                    "message" => message = Some(r.text()?.to_owned()),
                    _ => r.skip()?,
                }
                Ok(())
            })
            .map_err(cbor)?;
            let error = error.ok_or(Error::MissingField {
                message: "error frame",
                field: "error",
            })?;
            Frame::Error { error, message }
        }
        (1, Some("#commit")) => decode_commit(&mut r)?,
        (1, Some("#sync")) => decode_sync(&mut r)?,
        (1, Some("#identity")) => decode_identity(&mut r)?,
        (1, Some("#account")) => decode_account(&mut r)?,
        (1, Some("#info")) => {
            let mut name = None;
            let mut message = None;
            fields(&mut r, |key, r| {
                match key {
                    "name" => name = Some(r.text()?.to_owned()),
                    "message" => message = Some(r.text()?.to_owned()),
                    _ => r.skip()?,
                }
                Ok(())
            })
            .map_err(cbor)?;
            let name = name.ok_or(Error::MissingField {
                message: "#info",
                field: "name",
            })?;
            Frame::Info(Info { name, message })
        }
        (1, None) => {
            return Err(Error::Header {
                reason: "op 1 without t",
            });
        }
        _ => {
            // Still check the body is well-formed: bad framing means drop the connection.
            r.skip().map_err(cbor)?;
            Frame::Unknown { op, t }
        }
    };
    r.finish().map_err(cbor)?;
    Ok(out)
}

fn decode_header(r: &mut Reader<'_>) -> Result<(i64, Option<String>), Error> {
    let cbor = |source: DecodeError| Error::Cbor {
        part: "header",
        source,
    };
    let mut op = None;
    let mut t = None;
    fields(r, |key, r| {
        match key {
            "op" => op = Some(r.int()?),
            "t" => t = Some(r.text()?.to_owned()),
            _ => r.skip()?,
        }
        Ok(())
    })
    .map_err(cbor)?;
    let op = op.ok_or(Error::Header {
        reason: "missing op",
    })?;
    Ok((op, t))
}

/// Walk a map's entries in canonical key order, handing each key to `f`, which must read (or
/// skip) exactly one value.
fn fields<'a>(
    r: &mut Reader<'a>,
    mut f: impl FnMut(&'a str, &mut Reader<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let n = r.map_len()?;
    let mut prev: Option<&'a str> = None;
    for _ in 0..n {
        let key = r.next_key(prev)?;
        f(key, r)?;
        prev = Some(key);
    }
    Ok(())
}

fn invalid(message: &'static str, field: &'static str, reason: impl ToString) -> Error {
    Error::InvalidField {
        message,
        field,
        reason: reason.to_string(),
    }
}

fn req<T>(v: Option<T>, message: &'static str, field: &'static str) -> Result<T, Error> {
    v.ok_or(Error::MissingField { message, field })
}

fn parse_did(s: Option<&str>, message: &'static str, field: &'static str) -> Result<Did, Error> {
    Did::parse(req(s, message, field)?).map_err(|e| invalid(message, field, e))
}

fn parse_tid(s: &str, message: &'static str, field: &'static str) -> Result<Tid, Error> {
    Tid::parse(s).map_err(|e| invalid(message, field, e))
}

fn parse_time(s: Option<&str>, message: &'static str) -> Result<Datetime, Error> {
    Datetime::parse(req(s, message, "time")?).map_err(|e| invalid(message, "time", e))
}

fn parse_seq(seq: Option<i64>, message: &'static str) -> Result<u64, Error> {
    let seq = req(seq, message, "seq")?;
    let seq = u64::try_from(seq).map_err(|_| invalid(message, "seq", "negative"))?;
    check_seq(seq, message)?;
    Ok(seq)
}

fn body_err(source: DecodeError) -> Error {
    Error::Cbor {
        part: "body",
        source,
    }
}

struct RawOp<'a> {
    action: Option<&'a str>,
    path: Option<&'a str>,
    /// Outer `None`: key absent (an error: `cid` is required, though nullable).
    cid: Option<Option<Cid>>,
    prev: Option<Cid>,
}

fn read_op<'a>(r: &mut Reader<'a>) -> Result<RawOp<'a>, DecodeError> {
    let mut op = RawOp {
        action: None,
        path: None,
        cid: None,
        prev: None,
    };
    fields(r, |key, r| {
        match key {
            "action" => op.action = Some(r.text()?),
            "path" => op.path = Some(r.text()?),
            "cid" => op.cid = Some(r.opt_link()?),
            "prev" => op.prev = r.opt_link()?,
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(op)
}

fn op_from_raw(op: RawOp<'_>) -> Result<RepoOp, Error> {
    const M: &str = "repoOp";
    let action = req(op.action, M, "action")?;
    let action =
        Action::parse(action).ok_or_else(|| invalid(M, "action", format!("{action:?}")))?;
    Ok(RepoOp {
        action,
        path: RepoPath::parse(req(op.path, M, "path")?)?,
        cid: req(op.cid, M, "cid")?,
        prev: op.prev,
    })
}

fn decode_commit(r: &mut Reader<'_>) -> Result<Frame, Error> {
    const M: &str = "#commit";
    let mut seq = None;
    let mut repo = None;
    let mut commit = None;
    let mut rev = None;
    let mut since: Option<Option<&str>> = None;
    let mut blocks = None;
    let mut ops: Option<Vec<RawOp<'_>>> = None;
    let mut blobs = None;
    let mut prev_data = None;
    let mut time = None;
    let mut rebase = None;
    let mut too_big = None;
    let mut too_many_ops = None;
    fields(r, |key, r| {
        match key {
            "seq" => seq = Some(r.int()?),
            "repo" => repo = Some(r.text()?),
            "commit" => commit = Some(r.link()?),
            "rev" => rev = Some(r.text()?),
            "since" => {
                since = Some(if r.is_null() {
                    r.null()?;
                    None
                } else {
                    Some(r.text()?)
                })
            }
            "blocks" => blocks = Some(r.bytes()?),
            "ops" => {
                let n = r.array_len()?;
                if n > MAX_OPS {
                    too_many_ops = Some(n);
                }
                let mut v = Vec::with_capacity(n.min(MAX_OPS));
                for _ in 0..n {
                    v.push(read_op(r)?);
                }
                ops = Some(v);
            }
            "blobs" => {
                let n = r.array_len()?;
                let mut v = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    v.push(r.link()?);
                }
                blobs = Some(v);
            }
            "prevData" => prev_data = r.opt_link()?,
            "time" => time = Some(r.text()?),
            "rebase" => rebase = Some(r.bool()?),
            "tooBig" => too_big = Some(r.bool()?),
            _ => r.skip()?,
        }
        Ok(())
    })
    .map_err(body_err)?;
    if let Some(count) = too_many_ops {
        return Err(Error::TooManyOps {
            count,
            max: MAX_OPS,
        });
    }
    let blocks = req(blocks, M, "blocks")?;
    if blocks.len() > MAX_COMMIT_BLOCKS {
        return Err(Error::BlocksTooLarge {
            message: M,
            len: blocks.len(),
            max: MAX_COMMIT_BLOCKS,
        });
    }
    let seq = parse_seq(seq, M)?;
    let ops = req(ops, M, "ops")?
        .into_iter()
        .map(op_from_raw)
        .collect::<Result<Vec<_>, Error>>()?;
    let event = CommitEvent {
        repo: parse_did(repo, M, "repo")?,
        commit: req(commit, M, "commit")?,
        rev: parse_tid(req(rev, M, "rev")?, M, "rev")?,
        since: match req(since, M, "since")? {
            Some(s) => Some(parse_tid(s, M, "since")?),
            None => None,
        },
        blocks: blocks.to_vec(),
        ops,
        prev_data,
        time: parse_time(time, M)?,
        rebase: req(rebase, M, "rebase")?,
        too_big: req(too_big, M, "tooBig")?,
        blobs: req(blobs, M, "blobs")?,
    };
    Ok(Frame::Event {
        seq,
        event: Event::Commit(event),
    })
}

fn decode_sync(r: &mut Reader<'_>) -> Result<Frame, Error> {
    const M: &str = "#sync";
    let (mut seq, mut did, mut rev, mut blocks, mut time) = (None, None, None, None, None);
    fields(r, |key, r| {
        match key {
            "seq" => seq = Some(r.int()?),
            "did" => did = Some(r.text()?),
            "rev" => rev = Some(r.text()?),
            "blocks" => blocks = Some(r.bytes()?),
            "time" => time = Some(r.text()?),
            _ => r.skip()?,
        }
        Ok(())
    })
    .map_err(body_err)?;
    let blocks = req(blocks, M, "blocks")?;
    if blocks.len() > MAX_SYNC_BLOCKS {
        return Err(Error::BlocksTooLarge {
            message: M,
            len: blocks.len(),
            max: MAX_SYNC_BLOCKS,
        });
    }
    Ok(Frame::Event {
        seq: parse_seq(seq, M)?,
        event: Event::Sync(SyncEvent {
            did: parse_did(did, M, "did")?,
            rev: parse_tid(req(rev, M, "rev")?, M, "rev")?,
            blocks: blocks.to_vec(),
            time: parse_time(time, M)?,
        }),
    })
}

fn decode_identity(r: &mut Reader<'_>) -> Result<Frame, Error> {
    const M: &str = "#identity";
    let (mut seq, mut did, mut handle, mut time) = (None, None, None, None);
    fields(r, |key, r| {
        match key {
            "seq" => seq = Some(r.int()?),
            "did" => did = Some(r.text()?),
            "handle" => {
                // Optional and nullable in practice: treat null as absent.
                handle = if r.is_null() {
                    r.null()?;
                    None
                } else {
                    Some(r.text()?)
                }
            }
            "time" => time = Some(r.text()?),
            _ => r.skip()?,
        }
        Ok(())
    })
    .map_err(body_err)?;
    Ok(Frame::Event {
        seq: parse_seq(seq, M)?,
        event: Event::Identity(IdentityEvent {
            did: parse_did(did, M, "did")?,
            handle: match handle {
                Some(h) => Some(Handle::parse(h).map_err(|e| invalid(M, "handle", e))?),
                None => None,
            },
            time: parse_time(time, M)?,
        }),
    })
}

fn decode_account(r: &mut Reader<'_>) -> Result<Frame, Error> {
    const M: &str = "#account";
    let (mut seq, mut did, mut active, mut status, mut time) = (None, None, None, None, None);
    fields(r, |key, r| {
        match key {
            "seq" => seq = Some(r.int()?),
            "did" => did = Some(r.text()?),
            "active" => active = Some(r.bool()?),
            "status" => {
                status = if r.is_null() {
                    r.null()?;
                    None
                } else {
                    Some(r.text()?)
                }
            }
            "time" => time = Some(r.text()?),
            _ => r.skip()?,
        }
        Ok(())
    })
    .map_err(body_err)?;
    Ok(Frame::Event {
        seq: parse_seq(seq, M)?,
        event: Event::Account(AccountEvent {
            did: parse_did(did, M, "did")?,
            active: req(active, M, "active")?,
            status: status.map(AccountStatus::parse),
            time: parse_time(time, M)?,
        }),
    })
}
