//! subscribeRepos over a real WebSocket: every write is sequenced, in order, replayable.

mod server;

use aerie_firehose::{Event, Frame, decode_frame};
use aerie_pds::ConfigArgs;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use server::Server;
use tokio_tungstenite::tungstenite::Message;

async fn read_frames(url: &str, cursor: u64, n: usize) -> Vec<(u64, Event)> {
    let ws_url = format!(
        "{}/xrpc/com.atproto.sync.subscribeRepos?cursor={cursor}",
        url.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let mut out = Vec::new();
    while out.len() < n {
        if let Message::Binary(bytes) = ws.next().await.unwrap().unwrap() {
            match decode_frame(&bytes).unwrap() {
                Frame::Event { seq, event } => out.push((seq, event)),
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }
    out
}

#[tokio::test]
async fn signup_and_writes_are_sequenced_and_replayable() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (st, acct) = s.create_account("alice.test", "alice@example.com").await;
    assert_eq!(st, StatusCode::OK);
    let did = acct["did"].as_str().unwrap().to_owned();
    let access = acct["accessJwt"].as_str().unwrap().to_owned();
    let (st, rec) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access),
            json!({"repo": did, "collection": "com.example.note", "rkey": "n1", "record": {"t": 1}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{rec}");

    let frames = read_frames(&s.url, 0, 5).await;
    let seqs: Vec<u64> = frames.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let kinds: Vec<&str> = frames.iter().map(|(_, e)| e.type_name()).collect();
    assert_eq!(
        kinds,
        ["#identity", "#account", "#commit", "#sync", "#commit"]
    );
    let Event::Commit(c) = &frames[4].1 else {
        unreachable!()
    };
    assert_eq!(c.repo.as_str(), did);
    assert_eq!(c.commit.to_string(), rec["commit"]["cid"]);
    assert_eq!(c.ops.len(), 1);
    assert_eq!(c.ops[0].path.as_str(), "com.example.note/n1");

    // Replaying from a cursor gives only later events.
    let later = read_frames(&s.url, 4, 1).await;
    assert_eq!(later[0].0, 5);
    s.stop().await;
}
