//! subscribeRepos cursor rules, catch-up and the backfill window, end to end over a real
//! WebSocket against the real server.

mod server;

use std::time::Duration;

use aerie_firehose::{Event, Frame, decode_frame};
use aerie_pds::ConfigArgs;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use server::Server;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Upper bound on waiting for one frame, so a broken server fails the test instead of
/// hanging it (not a speed assertion: frames normally arrive in milliseconds).
const FRAME_WAIT: Duration = Duration::from_secs(30);

async fn connect(url: &str, cursor: Option<u64>) -> Ws {
    let mut ws_url = format!(
        "{}/xrpc/com.atproto.sync.subscribeRepos",
        url.replace("http://", "ws://")
    );
    if let Some(c) = cursor {
        ws_url.push_str(&format!("?cursor={c}"));
    }
    tokio_tungstenite::connect_async(ws_url).await.unwrap().0
}

/// The next frame, or `None` once the server closed the stream.
async fn next_frame(ws: &mut Ws) -> Option<Frame> {
    loop {
        let msg = tokio::time::timeout(FRAME_WAIT, ws.next())
            .await
            .expect("a frame or the close within the wait")?;
        match msg {
            Ok(Message::Binary(bytes)) => return Some(decode_frame(&bytes).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn next_event(ws: &mut Ws) -> (u64, Event) {
    match next_frame(ws).await {
        Some(Frame::Event { seq, event }) => (seq, event),
        other => panic!("expected an event, got {other:?}"),
    }
}

struct Account {
    did: String,
    access: String,
}

async fn signup(s: &Server, name: &str) -> Account {
    let (st, acct) = s
        .create_account(&format!("{name}.test"), &format!("{name}@example.com"))
        .await;
    assert_eq!(st, StatusCode::OK, "{acct}");
    Account {
        did: acct["did"].as_str().unwrap().to_owned(),
        access: acct["accessJwt"].as_str().unwrap().to_owned(),
    }
}

async fn write(s: &Server, a: &Account, rkey: &str) {
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&a.access),
            json!({"repo": a.did, "collection": "com.example.note", "rkey": rkey,
                   "record": {"text": rkey}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn signup_emits_identity_account_commit_then_sync_as_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let alice = signup(&s, "alice").await;
    let mut ws = connect(&s.url, Some(0)).await;
    let mut kinds = Vec::new();
    for want in 1..=4 {
        let (seq, event) = next_event(&mut ws).await;
        assert_eq!(seq, want);
        assert_eq!(event.did().as_str(), alice.did);
        kinds.push(event);
    }
    let names: Vec<&str> = kinds.iter().map(Event::type_name).collect();
    assert_eq!(names, ["#identity", "#account", "#commit", "#sync"]);
    // The #sync names the same revision as the first #commit.
    let (Event::Commit(c), Event::Sync(sync)) = (&kinds[2], &kinds[3]) else {
        unreachable!()
    };
    assert_eq!(c.rev, sync.rev);
    assert!(!sync.blocks.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn no_cursor_means_live_events_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let alice = signup(&s, "alice").await;
    let mut ws = connect(&s.url, None).await;
    // The subscription exists once the upgrade answered; the write comes after it.
    write(&s, &alice, "live1").await;
    let (seq, event) = next_event(&mut ws).await;
    assert_eq!(seq, 5, "the four signup events are not replayed");
    assert_eq!(event.type_name(), "#commit");
    s.stop().await;
}

#[tokio::test]
async fn cursor_within_window_replays_then_hands_over_to_live_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let alice = signup(&s, "alice").await;
    for i in 0..3 {
        write(&s, &alice, &format!("old{i}")).await;
    }
    let mut ws = connect(&s.url, Some(2)).await;
    let mut seqs = Vec::new();
    for _ in 0..5 {
        seqs.push(next_event(&mut ws).await.0);
    }
    for i in 0..4 {
        write(&s, &alice, &format!("new{i}")).await;
    }
    for _ in 0..4 {
        seqs.push(next_event(&mut ws).await.0);
    }
    assert_eq!(seqs, (3..=11).collect::<Vec<u64>>());
    s.stop().await;
}

#[tokio::test]
async fn cursor_beyond_head_gets_future_cursor_and_the_stream_closes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    signup(&s, "alice").await;
    let mut ws = connect(&s.url, Some(1000)).await;
    match next_frame(&mut ws).await {
        Some(Frame::Error { error, .. }) => assert_eq!(error, "FutureCursor"),
        other => panic!("expected FutureCursor, got {other:?}"),
    }
    assert_eq!(
        next_frame(&mut ws).await,
        None,
        "closed after the error frame"
    );
    // The head itself is a valid cursor: nothing to replay, then live.
    let alice_again = signup(&s, "bob").await;
    let mut ws = connect(&s.url, Some(8)).await;
    write(&s, &alice_again, "x").await;
    assert_eq!(next_event(&mut ws).await.0, 9);
    s.stop().await;
}

#[tokio::test]
async fn cursor_older_than_the_window_gets_outdated_cursor_then_the_oldest_kept_event() {
    let dir = tempfile::tempdir().unwrap();
    let args = ConfigArgs {
        repo_backfill_limit_ms: Some(1500),
        ..ConfigArgs::default()
    };
    let s = Server::start(dir.path(), args).await;
    let alice = signup(&s, "alice").await;
    // Let the signup events age out of the window.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    write(&s, &alice, "fresh").await;
    let mut ws = connect(&s.url, Some(0)).await;
    match next_frame(&mut ws).await {
        Some(Frame::Info(info)) => assert_eq!(info.name, "OutdatedCursor"),
        other => panic!("expected #info OutdatedCursor, got {other:?}"),
    }
    let (seq, event) = next_event(&mut ws).await;
    assert_eq!(seq, 5);
    assert_eq!(event.type_name(), "#commit");
    s.stop().await;
}

#[tokio::test]
async fn pruner_removes_events_outside_the_window_and_seqs_keep_increasing() {
    let dir = tempfile::tempdir().unwrap();
    let store = aerie_store::Store::open(
        &dir.path().join("prune.sqlite"),
        aerie_store::StoreOptions::default(),
    )
    .unwrap();
    let frame = b"frame".to_vec();
    for at in ["2020-01-01T00:00:00.000Z", "2020-01-01T00:00:01.000Z"] {
        let frame = frame.clone();
        store
            .write(move |tx| {
                let n = aerie_store::seq::next(tx)?;
                aerie_store::seq::append(tx, n, "did:plc:a", "#commit", &frame, at)
            })
            .await
            .unwrap();
    }
    let removed = aerie_pds::seq_prune::prune_once(&store, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert_eq!(store.read(aerie_store::seq::count).await.unwrap(), 0);
    let n = store.write(|tx| aerie_store::seq::next(tx)).await.unwrap();
    assert_eq!(n, 3, "a pruned seq is never handed out again");
}

#[tokio::test]
async fn paused_consumer_catches_up_from_the_log_with_no_missing_seq() {
    let dir = tempfile::tempdir().unwrap();
    // A ring of 2 events: a consumer that pauses for 30 writes must read most of them back
    // from SQLite.
    let args = ConfigArgs {
        firehose_ring_events: Some(2),
        ..ConfigArgs::default()
    };
    let s = Server::start(dir.path(), args).await;
    let alice = signup(&s, "alice").await;
    let bob = signup(&s, "bob").await;
    let mut ws = connect(&s.url, Some(0)).await;
    assert_eq!(next_event(&mut ws).await.0, 1);
    // Paused: the test does not read while the writes happen.
    for i in 0..15 {
        write(&s, &alice, &format!("a{i}")).await;
        write(&s, &bob, &format!("b{i}")).await;
    }
    let mut seqs = vec![1];
    while seqs.len() < 8 + 30 {
        seqs.push(next_event(&mut ws).await.0);
    }
    assert_eq!(seqs, (1..=38).collect::<Vec<u64>>());
    s.stop().await;
}

/// A live consumer that falls further behind than `PDS_FIREHOSE_MAX_BEHIND_BYTES` (counted
/// from when it subscribed, net of what it was sent) gets `#error ConsumerTooSlow` over the
/// socket and the connection is closed, as the reference does; until then it is served in
/// order.
#[tokio::test]
async fn a_consumer_too_far_behind_gets_consumer_too_slow_and_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let args = ConfigArgs {
        firehose_max_behind_bytes: Some(256 * 1024),
        firehose_ring_events: Some(4),
        ..ConfigArgs::default()
    };
    let s = Server::start(dir.path(), args).await;
    let alice = signup(&s, "slow").await;
    let mut ws = connect(&s.url, None).await;
    // Paused while ~20 MB of commits are sequenced: several times what the loopback socket
    // buffers absorb for a reader that does not read (a 4 MiB send buffer and a receive
    // window that only grows as the application reads), so most of it is still owed when
    // the consumer reads again.
    let text = "x".repeat(60_000);
    for i in 0..330 {
        let (st, body) = s
            .post(
                "/xrpc/com.atproto.repo.createRecord",
                Some(&alice.access),
                json!({"repo": alice.did, "collection": "com.example.note",
                       "rkey": format!("r{i:03}"), "record": {"text": text}}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
    }
    let mut seqs = Vec::new();
    let error = loop {
        match next_frame(&mut ws).await {
            Some(Frame::Event { seq, .. }) => seqs.push(seq),
            Some(Frame::Error { error, message }) => break (error, message),
            other => panic!("expected events then an error, got {other:?} after {seqs:?}"),
        }
    };
    assert_eq!(
        error,
        (
            "ConsumerTooSlow".to_owned(),
            Some("Stream consumer too slow".to_owned())
        )
    );
    assert!(
        next_frame(&mut ws).await.is_none(),
        "closed after the error"
    );
    // What it was sent before falling too far behind came in order, without gaps, and was
    // well short of everything written.
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert!(seqs.len() < 330, "{} of 330 commits sent first", seqs.len());
    s.stop().await;
}
