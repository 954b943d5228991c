//! Frame encoding and strict decoding, against the subscribeRepos lexicon and sync 1.1 rules.

use std::collections::BTreeSet;

use aerie_data::drisl::{Writer, decode, decode_prefix, encode};
use aerie_data::{Cid, Value};
use aerie_firehose::{
    AccountEvent, AccountStatus, Action, CommitEvent, Error, Event, Frame, IdentityEvent, Info,
    MAX_COMMIT_BLOCKS, MAX_OPS, MAX_SEQ, RepoOp, RepoPath, SyncEvent, decode_frame, encode_error,
    encode_info,
};
use aerie_syntax::{Datetime, Did, Handle, Tid};

fn did() -> Did {
    Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap()
}

fn time() -> Datetime {
    Datetime::parse("2026-11-25T23:00:00.000Z").unwrap()
}

fn tid(s: &str) -> Tid {
    Tid::parse(s).unwrap()
}

fn path(s: &str) -> RepoPath {
    RepoPath::parse(s).unwrap()
}

fn commit_event(prev_data: Option<Cid>) -> CommitEvent {
    let a = Cid::for_cbor(b"record a");
    let b = Cid::for_cbor(b"record b");
    let c = Cid::for_cbor(b"record c");
    CommitEvent::new(
        did(),
        Cid::for_cbor(b"commit"),
        tid("3lbbbbbbbbbb2"),
        prev_data.map(|_| tid("3laaaaaaaaaa2")),
        b"car bytes".to_vec(),
        vec![
            RepoOp::create(path("app.bsky.feed.post/3lbbbbbbbbbb2"), a),
            RepoOp::update(path("app.bsky.actor.profile/self"), b, c),
            RepoOp::delete(path("app.bsky.feed.like/3l2222222222a"), a),
        ],
        prev_data,
        time(),
    )
}

/// Split a frame into its header and body values, both through the generic strict decoder,
/// and check each part is canonical (re-encoding gives the same bytes).
fn parts(frame: &[u8]) -> (Value, Value) {
    let (header, n) = decode_prefix(frame).unwrap();
    let body = decode(&frame[n..]).unwrap();
    assert_eq!(encode(&header), frame[..n], "header is canonical");
    assert_eq!(encode(&body), frame[n..], "body is canonical");
    (header, body)
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_map().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn commit_frame_carries_every_sync_1_1_field_canonically() {
    let prev_data = Cid::for_cbor(b"old mst root");
    let event = Event::Commit(commit_event(Some(prev_data)));
    let frame = event.encode(7).unwrap();
    let (header, body) = parts(&frame);
    let h = header.as_map().unwrap();
    assert_eq!(h["op"], Value::Integer(1));
    assert_eq!(h["t"], Value::String("#commit".into()));
    assert_eq!(
        keys(&body),
        BTreeSet::from([
            "seq", "rebase", "tooBig", "repo", "commit", "rev", "since", "blocks", "ops", "blobs",
            "prevData", "time"
        ])
    );
    let b = body.as_map().unwrap();
    assert_eq!(b["seq"], Value::Integer(7));
    assert_eq!(b["rebase"], Value::Bool(false));
    assert_eq!(b["tooBig"], Value::Bool(false));
    assert_eq!(b["blobs"], Value::Array(vec![]));
    assert_eq!(b["prevData"], Value::Link(prev_data));
    assert_eq!(b["since"], Value::String("3laaaaaaaaaa2".into()));
    let Value::Array(ops) = &b["ops"] else {
        panic!("ops is not an array")
    };
    assert_eq!(keys(&ops[0]), BTreeSet::from(["action", "path", "cid"]));
    assert_eq!(
        keys(&ops[1]),
        BTreeSet::from(["action", "path", "cid", "prev"])
    );
    assert_eq!(ops[2].as_map().unwrap()["cid"], Value::Null);
    assert_eq!(
        decode_frame(&frame).unwrap(),
        Frame::Event { seq: 7, event }
    );
}

#[test]
fn first_commit_has_null_since_and_no_prev_data() {
    let event = Event::Commit(commit_event(None));
    let frame = event.encode(1).unwrap();
    let (_, body) = parts(&frame);
    let b = body.as_map().unwrap();
    assert_eq!(b["since"], Value::Null);
    assert!(!b.contains_key("prevData"));
    assert_eq!(
        decode_frame(&frame).unwrap(),
        Frame::Event { seq: 1, event }
    );
}

#[test]
fn sync_identity_account_frames_round_trip() {
    let events = [
        Event::Sync(SyncEvent {
            did: did(),
            rev: tid("3lbbbbbbbbbb2"),
            blocks: vec![1, 2, 3],
            time: time(),
        }),
        Event::Identity(IdentityEvent {
            did: did(),
            handle: Some(Handle::parse("alice.example.com").unwrap()),
            time: time(),
        }),
        Event::Identity(IdentityEvent {
            did: did(),
            handle: None,
            time: time(),
        }),
        Event::Account(AccountEvent {
            did: did(),
            active: true,
            status: None,
            time: time(),
        }),
        Event::Account(AccountEvent {
            did: did(),
            active: false,
            status: Some(AccountStatus::Deactivated),
            time: time(),
        }),
    ];
    let expected_keys: [&[&str]; 5] = [
        &["seq", "did", "rev", "blocks", "time"],
        &["seq", "did", "time", "handle"],
        &["seq", "did", "time"],
        &["seq", "did", "time", "active"],
        &["seq", "did", "time", "active", "status"],
    ];
    for (event, expected) in events.into_iter().zip(expected_keys) {
        let frame = event.encode(42).unwrap();
        let (header, body) = parts(&frame);
        assert_eq!(
            header.as_map().unwrap()["t"],
            Value::String(event.type_name().into())
        );
        assert_eq!(keys(&body), expected.iter().copied().collect());
        assert_eq!(
            decode_frame(&frame).unwrap(),
            Frame::Event { seq: 42, event }
        );
    }
}

#[test]
fn info_and_error_frames_round_trip() {
    let info = Info {
        name: "OutdatedCursor".into(),
        message: Some("old".into()),
    };
    let frame = encode_info(&info);
    parts(&frame);
    assert_eq!(decode_frame(&frame).unwrap(), Frame::Info(info));

    let frame = encode_error("FutureCursor", Some("Cursor in the future."));
    let (header, _) = parts(&frame);
    // The error header is exactly {op: -1}: no `t`.
    assert_eq!(keys(&header), BTreeSet::from(["op"]));
    assert_eq!(header.as_map().unwrap()["op"], Value::Integer(-1));
    assert_eq!(
        decode_frame(&frame).unwrap(),
        Frame::Error {
            error: "FutureCursor".into(),
            message: Some("Cursor in the future.".into())
        }
    );
}

#[test]
fn commit_with_more_than_200_ops_is_refused() {
    let mut c = commit_event(None);
    let cid = Cid::for_cbor(b"x");
    c.ops = (0..=MAX_OPS)
        .map(|i| RepoOp::create(path(&format!("app.bsky.feed.like/k{i}")), cid))
        .collect();
    assert!(matches!(
        Event::Commit(c.clone()).encode(1),
        Err(Error::TooManyOps { count: 201, .. })
    ));
    c.ops.pop();
    assert!(Event::Commit(c).encode(1).is_ok());
}

#[test]
fn commit_blocks_over_2_000_000_bytes_are_refused() {
    let mut c = commit_event(None);
    c.blocks = vec![0; MAX_COMMIT_BLOCKS + 1];
    assert!(matches!(
        Event::Commit(c.clone()).encode(1),
        Err(Error::BlocksTooLarge { len, .. }) if len == MAX_COMMIT_BLOCKS + 1
    ));
    c.blocks.pop();
    assert!(Event::Commit(c).encode(1).is_ok());
}

#[test]
fn sync_blocks_over_10_000_bytes_are_refused() {
    let event = Event::Sync(SyncEvent {
        did: did(),
        rev: tid("3lbbbbbbbbbb2"),
        blocks: vec![0; 10_001],
        time: time(),
    });
    assert!(matches!(event.encode(1), Err(Error::BlocksTooLarge { .. })));
}

#[test]
fn ops_must_match_their_action() {
    let cid = Cid::for_cbor(b"x");
    let bad = [
        RepoOp {
            action: Action::Create,
            path: path("app.bsky.feed.post/a"),
            cid: Some(cid),
            prev: Some(cid),
        },
        RepoOp {
            action: Action::Update,
            path: path("app.bsky.feed.post/a"),
            cid: Some(cid),
            prev: None,
        },
        RepoOp {
            action: Action::Delete,
            path: path("app.bsky.feed.post/a"),
            cid: Some(cid),
            prev: Some(cid),
        },
    ];
    for op in bad {
        let mut c = commit_event(None);
        c.ops = vec![op];
        assert!(matches!(
            Event::Commit(c).encode(1),
            Err(Error::InvalidOp { .. })
        ));
    }
}

#[test]
fn seq_must_be_positive_and_below_2_pow_53() {
    let event = Event::Commit(commit_event(None));
    assert!(event.encode(0).is_err());
    assert!(event.encode(MAX_SEQ + 1).is_err());
    assert!(event.encode(MAX_SEQ).is_ok());
}

#[test]
fn repo_path_needs_nsid_slash_record_key() {
    assert!(RepoPath::parse("app.bsky.feed.post/3lbbbbbbbbbb2").is_ok());
    for bad in [
        "app.bsky.feed.post",
        "app.bsky.feed.post/",
        "nope/abc",
        "app.bsky.feed.post/a/b",
    ] {
        assert!(RepoPath::parse(bad).is_err(), "{bad}");
    }
}

fn frame_of(header: &Value, body: &Value) -> Vec<u8> {
    let mut v = encode(header);
    v.extend(encode(body));
    v
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

#[test]
fn decode_refuses_trailing_bytes_after_body() {
    let mut frame = Event::Commit(commit_event(None)).encode(3).unwrap();
    frame.push(0);
    assert!(matches!(
        decode_frame(&frame),
        Err(Error::Cbor { part: "body", .. })
    ));
}

#[test]
fn decode_refuses_non_canonical_key_order() {
    // Header with "op" before "t": not canonical (shorter keys first).
    let mut w = Writer::new();
    w.map(2).text("op").uint(1).text("t").text("#info");
    w.map(1).text("name").text("x");
    assert!(matches!(
        decode_frame(w.as_slice()),
        Err(Error::Cbor { part: "header", .. })
    ));
}

#[test]
fn decode_skips_unknown_body_fields() {
    let header = map(&[
        ("op", Value::Integer(1)),
        ("t", Value::String("#info".into())),
    ]);
    let body = map(&[
        ("name", Value::String("OutdatedCursor".into())),
        ("zzzNew", Value::Integer(5)),
    ]);
    assert_eq!(
        decode_frame(&frame_of(&header, &body)).unwrap(),
        Frame::Info(Info {
            name: "OutdatedCursor".into(),
            message: None
        })
    );
}

#[test]
fn retired_and_unknown_message_types_decode_as_unknown() {
    for t in ["#handle", "#tombstone", "#migrate", "#somethingNew"] {
        let header = map(&[("op", Value::Integer(1)), ("t", Value::String(t.into()))]);
        let body = map(&[("seq", Value::Integer(1))]);
        assert_eq!(
            decode_frame(&frame_of(&header, &body)).unwrap(),
            Frame::Unknown {
                op: 1,
                t: Some(t.into())
            }
        );
    }
    let header = map(&[("op", Value::Integer(2))]);
    let body = map(&[]);
    assert!(matches!(
        decode_frame(&frame_of(&header, &body)).unwrap(),
        Frame::Unknown { op: 2, t: None }
    ));
}

#[test]
fn decode_reports_missing_required_field() {
    let header = map(&[
        ("op", Value::Integer(1)),
        ("t", Value::String("#account".into())),
    ]);
    let body = map(&[
        ("seq", Value::Integer(1)),
        ("did", Value::String(did().as_str().into())),
        ("time", Value::String(time().as_str().into())),
    ]);
    assert!(matches!(
        decode_frame(&frame_of(&header, &body)),
        Err(Error::MissingField {
            message: "#account",
            field: "active"
        })
    ));
}

#[test]
fn decode_refuses_invalid_did_and_bad_seq() {
    let header = map(&[
        ("op", Value::Integer(1)),
        ("t", Value::String("#identity".into())),
    ]);
    let ok_body = |seq: i64, did: &str| {
        map(&[
            ("seq", Value::Integer(seq)),
            ("did", Value::String(did.into())),
            ("time", Value::String(time().as_str().into())),
        ])
    };
    assert!(decode_frame(&frame_of(&header, &ok_body(1, did().as_str()))).is_ok());
    assert!(matches!(
        decode_frame(&frame_of(&header, &ok_body(1, "not-a-did"))),
        Err(Error::InvalidField { field: "did", .. })
    ));
    for seq in [0, -5] {
        assert!(matches!(
            decode_frame(&frame_of(&header, &ok_body(seq, did().as_str()))),
            Err(Error::InvalidField { field: "seq", .. })
        ));
    }
}

#[test]
fn decode_refuses_commit_with_more_than_200_ops() {
    // Built by hand: the encoder would refuse it.
    let mut c = commit_event(None);
    let cid = Cid::for_cbor(b"x");
    c.ops = vec![RepoOp::create(path("app.bsky.feed.like/k"), cid)];
    let frame = Event::Commit(c).encode(1).unwrap();
    let (header, body) = parts(&frame);
    let mut body = body.as_map().unwrap().clone();
    let Value::Array(ops) = body["ops"].clone() else {
        panic!("ops is not an array")
    };
    body.insert("ops".into(), Value::Array(vec![ops[0].clone(); 201]));
    assert!(matches!(
        decode_frame(&frame_of(&header, &Value::Map(body))),
        Err(Error::TooManyOps { count: 201, .. })
    ));
}

#[test]
fn decode_never_panics_on_truncated_frames() {
    let frame = Event::Commit(commit_event(Some(Cid::for_cbor(b"d"))))
        .encode(9)
        .unwrap();
    for n in 0..frame.len() {
        assert!(decode_frame(&frame[..n]).is_err(), "prefix of {n} bytes");
    }
}

#[test]
fn decode_never_panics_on_corrupted_bytes() {
    let frames = [
        Event::Commit(commit_event(Some(Cid::for_cbor(b"d"))))
            .encode(9)
            .unwrap(),
        encode_error("FutureCursor", Some("m")),
        encode_info(&Info {
            name: "OutdatedCursor".into(),
            message: None,
        }),
    ];
    for frame in frames {
        for i in 0..frame.len() {
            for v in [
                0x00, 0x17, 0x18, 0x1f, 0x3b, 0x5f, 0x7f, 0x9f, 0xbf, 0xd8, 0xf7, 0xff,
            ] {
                let mut bad = frame.clone();
                bad[i] = v;
                // Any outcome but a panic is fine; a changed byte can still decode.
                let _ = decode_frame(&bad);
            }
        }
    }
}
