//! Write one frame of each kind to a directory, for cross-checking with other decoders
//! (Python `atproto`, `@atproto/xrpc-server`): `cargo run -p aerie-firehose --example
//! dump_frames -- <dir>`.

use aerie_data::Cid;
use aerie_firehose::{
    AccountEvent, AccountStatus, CommitEvent, Event, IdentityEvent, Info, RepoOp, RepoPath,
    SyncEvent, encode_error, encode_info,
};
use aerie_syntax::{Datetime, Did, Handle, Tid};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: dump_frames <dir>")?;
    let did = Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz")?;
    let time = Datetime::parse("2026-11-25T23:00:00.000Z")?;
    let rev = Tid::parse("3lbbbbbbbbbb2")?;
    let (a, b) = (Cid::for_cbor(b"record a"), Cid::for_cbor(b"record b"));
    let frames: Vec<(&str, Vec<u8>)> = vec![
        (
            "commit",
            Event::Commit(CommitEvent::new(
                did.clone(),
                Cid::for_cbor(b"commit"),
                rev,
                Some(Tid::parse("3laaaaaaaaaa2")?),
                vec![1, 2, 3],
                vec![
                    RepoOp::create(RepoPath::parse("app.bsky.feed.post/3lbbbbbbbbbb2")?, a),
                    RepoOp::update(RepoPath::parse("app.bsky.actor.profile/self")?, b, a),
                    RepoOp::delete(RepoPath::parse("app.bsky.feed.like/3l2222222222a")?, b),
                ],
                Some(Cid::for_cbor(b"prev data")),
                time.clone(),
            ))
            .encode(1)?,
        ),
        (
            "first_commit",
            Event::Commit(CommitEvent::new(
                did.clone(),
                Cid::for_cbor(b"commit"),
                rev,
                None,
                vec![1, 2, 3],
                vec![],
                None,
                time.clone(),
            ))
            .encode(2)?,
        ),
        (
            "sync",
            Event::Sync(SyncEvent {
                did: did.clone(),
                rev,
                blocks: vec![4, 5],
                time: time.clone(),
            })
            .encode(3)?,
        ),
        (
            "identity",
            Event::Identity(IdentityEvent {
                did: did.clone(),
                handle: Some(Handle::parse("alice.example.com")?),
                time: time.clone(),
            })
            .encode(4)?,
        ),
        (
            "account",
            Event::Account(AccountEvent {
                did,
                active: false,
                status: Some(AccountStatus::Deactivated),
                time,
            })
            .encode(5)?,
        ),
        (
            "info",
            encode_info(&Info {
                name: "OutdatedCursor".into(),
                message: Some("Requested cursor exceeded limit. Possibly missing events".into()),
            }),
        ),
        (
            "error",
            encode_error("FutureCursor", Some("Cursor in the future.")),
        ),
    ];
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in frames {
        std::fs::write(format!("{dir}/{name}.bin"), bytes)?;
    }
    Ok(())
}
