//! Property: random writes across several accounts, then replaying the firehose from cursor
//! 0 and applying every `#commit` (its ops, with the record blocks taken from its CAR slice)
//! to per-DID states rebuilds every repository exactly: the same records with the same CIDs as
//! listRecords, and the last commit of each DID is getLatestCommit's.

mod server;

use std::collections::BTreeMap;
use std::time::Duration;

use aerie_firehose::{Action, Event, Frame, decode_frame};
use aerie_pds::ConfigArgs;
use aerie_repo::car::{CarLimits, read_car_slice};
use aerie_repo::mst::BlockSource;
use futures_util::StreamExt;
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use server::Server;
use tokio_tungstenite::tungstenite::Message;

const ACCOUNTS: usize = 3;
const RKEYS: [&str; 4] = ["k1", "k2", "k3", "k4"];

#[derive(Debug, Clone, Copy)]
enum Write {
    Put {
        account: usize,
        rkey: usize,
        value: u8,
    },
    Delete {
        account: usize,
        rkey: usize,
    },
}

fn write_strategy() -> impl Strategy<Value = Write> {
    prop_oneof![
        3 => (0..ACCOUNTS, 0..RKEYS.len(), any::<u8>())
            .prop_map(|(account, rkey, value)| Write::Put { account, rkey, value }),
        1 => (0..ACCOUNTS, 0..RKEYS.len()).prop_map(|(account, rkey)| Write::Delete { account, rkey }),
    ]
}

/// Per DID: path -> record CID, and the last commit CID.
type State = BTreeMap<String, (BTreeMap<String, String>, String)>;

async fn run(writes: Vec<Write>) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let mut accounts = Vec::new();
    for i in 0..ACCOUNTS {
        let (st, a) = s
            .create_account(&format!("user{i}.test"), &format!("user{i}@example.com"))
            .await;
        assert_eq!(st, StatusCode::OK, "{a}");
        accounts.push((
            a["did"].as_str().unwrap().to_owned(),
            a["accessJwt"].as_str().unwrap().to_owned(),
        ));
    }
    let mut events = 4 * ACCOUNTS as u64;
    let mut exists = [[false; RKEYS.len()]; ACCOUNTS];
    for w in writes {
        let (account, rkey, body, path) = match w {
            Write::Put {
                account,
                rkey,
                value,
            } => (
                account,
                rkey,
                json!({"repo": accounts[account].0, "collection": "com.example.item",
                       "rkey": RKEYS[rkey], "record": {"v": value}}),
                "/xrpc/com.atproto.repo.putRecord",
            ),
            // Deleting a missing record is a no-op; only real deletes are written.
            Write::Delete { account, rkey } if exists[account][rkey] => (
                account,
                rkey,
                json!({"repo": accounts[account].0, "collection": "com.example.item",
                       "rkey": RKEYS[rkey]}),
                "/xrpc/com.atproto.repo.deleteRecord",
            ),
            Write::Delete { .. } => continue,
        };
        let (st, out) = s.post(path, Some(&accounts[account].1), body).await;
        assert_eq!(st, StatusCode::OK, "{out}");
        exists[account][rkey] = matches!(w, Write::Put { .. });
        events += 1;
    }

    // Replay everything and apply it.
    let ws_url = format!(
        "{}/xrpc/com.atproto.sync.subscribeRepos?cursor=0",
        s.url.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let mut state = State::new();
    let mut last_seq = 0;
    while last_seq < events {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("frames keep coming")
            .unwrap()
            .unwrap();
        let Message::Binary(bytes) = msg else {
            continue;
        };
        let Frame::Event { seq, event } = decode_frame(&bytes).unwrap() else {
            panic!("unexpected frame");
        };
        assert_eq!(seq, last_seq + 1, "no gap, no duplicate");
        last_seq = seq;
        let Event::Commit(c) = event else { continue };
        let car = read_car_slice(&c.blocks, CarLimits::default()).unwrap();
        assert_eq!(car.roots, [c.commit]);
        let entry = state.entry(c.repo.as_str().to_owned()).or_default();
        for op in &c.ops {
            match op.action {
                Action::Create | Action::Update => {
                    let cid = op.cid.expect("create/update carries a cid");
                    assert!(
                        car.blocks.block(&cid).unwrap().is_some(),
                        "the record block is in the slice"
                    );
                    entry.0.insert(op.path.as_str().to_owned(), cid.to_string());
                }
                Action::Delete => {
                    entry.0.remove(op.path.as_str());
                }
            }
        }
        entry.1 = c.commit.to_string();
    }

    for (did, _) in &accounts {
        let (st, list) = s
            .get(
                &format!(
                    "/xrpc/com.atproto.repo.listRecords?repo={did}&collection=com.example.item&limit=100"
                ),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{list}");
        let served: BTreeMap<String, String> = list["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let uri = r["uri"].as_str().unwrap();
                let path = uri.splitn(4, '/').nth(3).unwrap().to_owned();
                (path, r["cid"].as_str().unwrap().to_owned())
            })
            .collect();
        let (rebuilt, last_commit) = state.get(did).cloned().unwrap_or_default();
        assert_eq!(rebuilt, served, "records of {did}");
        let (st, latest) = s
            .get(
                &format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{latest}");
        assert_eq!(latest["cid"], last_commit.as_str(), "head commit of {did}");
    }
    s.stop().await;
}

proptest! {
    // Each case starts a server and signs up three accounts (Argon2), so only a few cases.
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]
    #[test]
    fn replaying_from_cursor_zero_rebuilds_every_repo(writes in prop::collection::vec(write_strategy(), 1..25)) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(writes));
    }
}
