//! The axum handler over a real socket, read with tokio-tungstenite and decoded with our own
//! decoder.

use std::net::SocketAddr;
use std::sync::Arc;

use aerie_firehose::{
    Config, Event, FUTURE_CURSOR, Firehose, Frame, IdentityEvent, MemoryLog, decode_frame,
    subscribe_repos,
};
use aerie_syntax::{Datetime, Did, Handle};
use axum::Router;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const PATH: &str = "/xrpc/com.atproto.sync.subscribeRepos";

struct Server {
    addr: SocketAddr,
    log: Arc<MemoryLog>,
    firehose: Firehose,
}

impl Server {
    async fn start() -> Server {
        Server::start_with(Config::default()).await
    }

    async fn start_with(config: Config) -> Server {
        let log = Arc::new(MemoryLog::new());
        let firehose = Firehose::open(log.clone(), config).await.unwrap();
        let app = Router::new()
            .route(PATH, get(subscribe_repos))
            .with_state(firehose.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server {
            addr,
            log,
            firehose,
        }
    }

    fn event(seq: u64) -> Event {
        Event::Identity(IdentityEvent {
            did: Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap(),
            handle: Some(Handle::parse(&format!("user{seq}.example.com")).unwrap()),
            time: Datetime::parse("2026-11-25T23:00:00.000Z").unwrap(),
        })
    }

    async fn emit(&self, seq: u64) {
        let frame: Arc<[u8]> = Server::event(seq).encode(seq).unwrap().into();
        self.log.append(seq, frame.clone()).unwrap();
        self.firehose.publish(seq, frame).await;
    }

    fn url(&self, query: &str) -> String {
        format!("ws://{}{PATH}{query}", self.addr)
    }
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn read_frame(ws: &mut Client) -> Frame {
    loop {
        match ws.next().await.expect("stream ended").unwrap() {
            Message::Binary(b) => return decode_frame(&b).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_replays_from_cursor_then_streams_live_binary_frames() {
    let server = Server::start().await;
    for s in 1..=3 {
        server.emit(s).await;
    }
    let (mut ws, response) = tokio_tungstenite::connect_async(server.url("?cursor=1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    for seq in [2, 3] {
        assert_eq!(
            read_frame(&mut ws).await,
            Frame::Event {
                seq,
                event: Server::event(seq)
            }
        );
    }
    // Client messages are ignored, not answered or fatal.
    ws.send(Message::text("hello")).await.unwrap();
    server.emit(4).await;
    assert_eq!(
        read_frame(&mut ws).await,
        Frame::Event {
            seq: 4,
            event: Server::event(4)
        }
    );
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn websocket_future_cursor_sends_error_frame_then_closes() {
    let server = Server::start().await;
    server.emit(1).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.url("?cursor=99"))
        .await
        .unwrap();
    let Frame::Error { error, .. } = read_frame(&mut ws).await else {
        panic!("expected an error frame")
    };
    assert_eq!(error, FUTURE_CURSOR);
    match ws.next().await.expect("close frame").unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected close, got {other:?}"),
    }
}

#[tokio::test]
async fn websocket_without_cursor_is_live_only() {
    let server = Server::start().await;
    server.emit(1).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.url(""))
        .await
        .unwrap();
    // The subscription exists once the upgrade has completed; wait until the server counts
    // it before publishing, so "live" is well defined.
    while server.firehose.subscriber_count() == 0 {
        tokio::task::yield_now().await;
    }
    server.emit(2).await;
    assert!(matches!(
        read_frame(&mut ws).await,
        Frame::Event { seq: 2, .. }
    ));
}

#[tokio::test]
async fn websocket_rejects_malformed_cursor_before_upgrade() {
    let server = Server::start().await;
    let err = tokio_tungstenite::connect_async(server.url("?cursor=abc"))
        .await
        .unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 400),
        other => panic!("expected an HTTP error, got {other:?}"),
    }
}

#[tokio::test]
async fn websocket_server_shutdown_closes_the_stream() {
    let server = Server::start().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.url(""))
        .await
        .unwrap();
    while server.firehose.subscriber_count() == 0 {
        tokio::task::yield_now().await;
    }
    server.firehose.shutdown();
    match ws.next().await.expect("close frame").unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected close, got {other:?}"),
    }
}

#[tokio::test]
async fn plain_http_get_gets_an_xrpc_error_not_a_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start().await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        format!("GET {PATH} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    let status_line = response.lines().next().unwrap();
    assert!(status_line.contains(" 4"), "{status_line}");
    assert!(
        response.contains(r#"{"error":"InvalidRequest""#),
        "{response}"
    );
}

#[tokio::test]
async fn subscribers_beyond_the_cap_get_503() {
    let server = Server::start_with(Config {
        max_subscribers: 1,
        ..Config::default()
    })
    .await;
    let (_first, _) = tokio_tungstenite::connect_async(server.url(""))
        .await
        .unwrap();
    let err = tokio_tungstenite::connect_async(server.url(""))
        .await
        .unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), 503),
        other => panic!("expected an HTTP error, got {other:?}"),
    }
}
