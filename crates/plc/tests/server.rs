//! The directory server over a real socket on 127.0.0.1, with its log file in a temp dir.

use std::net::SocketAddr;

use aerie_crypto::{KeyType, SigningKey};
use aerie_plc::server::{LOG_FILE, PlcState, serve};
use aerie_plc::{Operation, PlcOperation, SignedOperation, genesis};
use aerie_syntax::{Did, Handle};
use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

struct Response {
    status: u16,
    content_type: String,
    body: String,
}

impl Response {
    fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request with `Connection: close`, read to the end.
async fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> Response {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    Response {
        status,
        content_type,
        body: body.to_owned(),
    }
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(state: PlcState) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async move {
            let _ = rx.await;
        }));
        Server {
            addr,
            stop: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.expect("join").expect("serve");
    }

    async fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, "").await
    }

    async fn post(&self, did: &Did, op: &SignedOperation) -> Response {
        request(
            self.addr,
            "POST",
            &format!("/{did}"),
            &op.to_json().to_string(),
        )
        .await
    }
}

fn key(n: u8, key_type: KeyType) -> SigningKey {
    SigningKey::from_bytes(key_type, &[n; 32]).expect("valid scalar")
}

#[tokio::test]
async fn directory_accepts_rejects_serves_and_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(PlcState::open(dir.path()).expect("open")).await;

    let health = server.get("/_health").await;
    assert_eq!(health.status, 200);
    assert!(health.json()["version"].is_string());

    // Genesis.
    let rotation = key(1, KeyType::P256);
    let signing = key(2, KeyType::K256);
    let (did, genesis_op) = genesis(
        &[rotation.public_key()],
        &signing.public_key(),
        &Handle::parse("alice.test").expect("handle"),
        "https://pds.test",
        &rotation,
    )
    .expect("genesis");
    let unknown = server.get(&format!("/{did}")).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let res = server.post(&did, &genesis_op).await;
    assert_eq!(res.status, 200, "{}", res.body);

    let doc = server.get(&format!("/{did}")).await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.content_type, "application/did+ld+json");
    let doc = doc.json();
    assert_eq!(doc["id"], did.as_str());
    assert_eq!(doc["alsoKnownAs"][0], "at://alice.test");
    assert_eq!(
        doc["verificationMethod"][0]["publicKeyMultibase"],
        signing.public_key().to_multikey()
    );
    assert_eq!(doc["service"][0]["serviceEndpoint"], "https://pds.test");

    // Rotation: hand control to a new key (k256), signed by the current one.
    let new_rotation = key(3, KeyType::K256);
    let mut next = PlcOperation::following(&genesis_op).expect("live");
    next.rotation_keys = vec![new_rotation.public_key().to_did_key()];
    let rotate = Operation::Plc(next).sign(&rotation);
    let res = server.post(&did, &rotate).await;
    assert_eq!(res.status, 200, "{}", res.body);

    // The old key no longer controls the DID: a bad signature, refused with a message.
    let mut next = PlcOperation::following(&rotate).expect("live");
    next.also_known_as = vec!["at://mallory.test".to_owned()];
    let stale = Operation::Plc(next.clone()).sign(&rotation);
    let res = server.post(&did, &stale).await;
    assert_eq!(res.status, 400);
    assert!(
        res.json()["message"]
            .as_str()
            .expect("message")
            .contains("invalid signature"),
        "{}",
        res.body
    );

    // Garbage and a second genesis for the same DID are refused too.
    let res = request(server.addr, "POST", &format!("/{did}"), "{not json").await;
    assert_eq!(res.status, 400);
    assert!(res.json()["message"].is_string());
    let res = server.post(&did, &genesis_op).await;
    assert_eq!(res.status, 400, "{}", res.body);

    // Read back.
    let log = server.get(&format!("/{did}/log")).await.json();
    assert_eq!(log.as_array().map(Vec::len), Some(2));
    assert_eq!(log[1], rotate.to_json());
    let audit = server.get(&format!("/{did}/log/audit")).await.json();
    assert_eq!(audit[0]["cid"], genesis_op.cid().to_string());
    assert_eq!(audit[1]["cid"], rotate.cid().to_string());
    assert_eq!(audit[1]["nullified"], false);
    assert_eq!(audit[1]["did"], did.as_str());
    assert!(
        audit[1]["createdAt"]
            .as_str()
            .expect("createdAt")
            .ends_with('Z')
    );
    assert_eq!(
        server.get(&format!("/{did}/log/last")).await.json(),
        rotate.to_json()
    );
    let data = server.get(&format!("/{did}/data")).await.json();
    assert_eq!(
        data["rotationKeys"][0],
        new_rotation.public_key().to_did_key()
    );
    let export = server.get("/export").await;
    assert_eq!(export.status, 200);
    assert_eq!(export.body.lines().count(), 2);

    // Tombstone: the document is gone (410), the log stays readable.
    let tomb = Operation::Tombstone {
        prev: rotate.cid().to_string(),
    }
    .sign(&new_rotation);
    assert_eq!(server.post(&did, &tomb).await.status, 200);
    assert_eq!(server.get(&format!("/{did}")).await.status, 410);
    assert_eq!(server.get(&format!("/{did}/data")).await.status, 410);
    assert_eq!(
        server.get(&format!("/{did}/log/last")).await.json(),
        tomb.to_json()
    );
    assert_eq!(
        server.get("/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").await.status,
        404
    );
    server.stop().await;

    // Restart from the log file: the same history comes back.
    let reopened = PlcState::open(dir.path()).expect("reopen");
    let entries = reopened.audit_log(&did);
    let cids: Vec<_> = entries.iter().map(|e| e.cid).collect();
    assert_eq!(cids, [genesis_op.cid(), rotate.cid(), tomb.cid()]);
}

#[tokio::test]
async fn torn_tail_of_log_file_is_dropped_on_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rotation = key(1, KeyType::K256);
    let (did, op) = genesis(
        &[rotation.public_key()],
        &rotation.public_key(),
        &Handle::parse("bob.test").expect("handle"),
        "https://pds.test",
        &rotation,
    )
    .expect("genesis");
    let state = PlcState::open(dir.path()).expect("open");
    state
        .submit(&did, op.clone(), aerie_syntax::Datetime::now())
        .expect("accepted");
    drop(state);

    let path = dir.path().join(LOG_FILE);
    let good = std::fs::read(&path).expect("read");
    let mut torn = good.clone();
    torn.extend_from_slice(b"{\"did\":\"did:plc:half-writ");
    std::fs::write(&path, &torn).expect("write");

    let state = PlcState::open(dir.path()).expect("reopen despite torn tail");
    assert_eq!(state.audit_log(&did).len(), 1);
    assert_eq!(
        std::fs::read(&path).expect("read"),
        good,
        "torn tail truncated"
    );

    // A corrupt complete line in the middle is an error, not silently skipped.
    let mut corrupt = b"{\"oops\":1}\n".to_vec();
    corrupt.extend_from_slice(&good);
    std::fs::write(&path, &corrupt).expect("write");
    assert!(matches!(
        PlcState::open(dir.path()),
        Err(aerie_plc::PlcError::CorruptLog { line: 1, .. })
    ));
}
