//! The WebSocket endpoint `com.atproto.sync.subscribeRepos`.

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::{Firehose, Subscription};

/// Largest message accepted from a client. Clients have nothing to say on this stream
/// (their messages are ignored), so a small cap keeps a misbehaving one cheap.
const CLIENT_MESSAGE_MAX: usize = 16 * 1024;

/// Read buffer of a subscriber's socket (bytes; a larger client message still arrives, in
/// several reads).
const IDLE_READ_BUFFER: usize = 4096;

/// Axum handler for `GET /xrpc/com.atproto.sync.subscribeRepos?cursor=<seq>`.
///
/// Mount with `.route("/xrpc/com.atproto.sync.subscribeRepos", get(subscribe_repos))` on a
/// router whose state provides a [`Firehose`] (`impl FromRef<AppState> for Firehose`). Before
/// the upgrade, a `cursor` that is not a non-negative integer gets 400 and a request that is
/// not a WebSocket upgrade gets the upgrade's status (405, 400 or 426), and one beyond
/// [`Config::max_subscribers`] gets 503, each with an XRPC error body.
///
/// [`Config::max_subscribers`]: crate::Config::max_subscribers
pub async fn subscribe_repos(
    State(firehose): State<Firehose>,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let cursor = match parse_cursor(query.as_deref()) {
        Ok(c) => c,
        Err(message) => return xrpc_error(StatusCode::BAD_REQUEST, "InvalidRequest", message),
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return xrpc_error(
                rejection.status(),
                "InvalidRequest",
                "this endpoint is a WebSocket subscription: send a GET with Upgrade: websocket",
            );
        }
    };
    if firehose.subscriber_count() >= firehose.config().max_subscribers {
        return xrpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "TooManySubscribers",
            "too many firehose subscribers; retry later",
        );
    }
    let sub = firehose.subscribe(cursor);
    // Clients send next to nothing on this stream, so a small read buffer suffices; the 128
    // KiB default cost ~60 KiB of RSS per idle subscriber (docs/PERFORMANCE.md).
    ws.max_message_size(CLIENT_MESSAGE_MAX)
        .read_buffer_size(IDLE_READ_BUFFER)
        .on_upgrade(move |socket| serve(socket, sub))
}

/// An XRPC error response. `message` is one of this module's fixed strings (no JSON escaping
/// needed).
fn xrpc_error(status: StatusCode, error: &str, message: &str) -> Response {
    let body = format!(r#"{{"error":"{error}","message":"{message}"}}"#);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The `cursor` query parameter. Messages are fixed strings (they go into JSON unescaped).
fn parse_cursor(query: Option<&str>) -> Result<Option<u64>, &'static str> {
    let mut cursor = None;
    for pair in query.unwrap_or("").split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "cursor" {
            continue;
        }
        if cursor.is_some() {
            return Err("cursor given more than once");
        }
        let v = value
            .parse::<u64>()
            .map_err(|_| "cursor must be a non-negative integer")?;
        cursor = Some(v);
    }
    Ok(cursor)
}

/// Pump a subscription into an upgraded socket until either side ends.
///
/// Frames go out as binary messages, zero-copy from the shared `Arc<[u8]>`. Client messages
/// are read (so pings are answered and a close is noticed) and otherwise ignored. When the
/// subscription ends (after an error frame, or on shutdown) the socket is closed with 1000; a
/// log failure closes it with 1011. A send that waits longer than [`Config::send_timeout`]
/// (the client stopped reading) drops the connection.
///
/// [`Config::send_timeout`]: crate::Config::send_timeout
pub async fn serve(mut socket: WebSocket, mut sub: Subscription) {
    let send_timeout = sub.config().send_timeout;
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            out = sub.next() => match out {
                Ok(Some(o)) => {
                    let msg = Message::Binary(Bytes::from_owner(o.frame));
                    match tokio::time::timeout(send_timeout, socket.send(msg)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return,
                        Err(_) => {
                            tracing::info!(seq = ?o.seq, "subscribeRepos: client stalled; dropping");
                            return;
                        }
                    }
                }
                Ok(None) => {
                    close(&mut socket, close_code::NORMAL).await;
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "subscribeRepos: event log failed");
                    close(&mut socket, close_code::ERROR).await;
                    return;
                }
            },
        }
    }
}

async fn close(socket: &mut WebSocket, code: u16) {
    let frame = CloseFrame {
        code,
        reason: "".into(),
    };
    // The peer may already be gone; nothing to do about a failed goodbye.
    let _ = socket.send(Message::Close(Some(frame))).await;
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursor_query_accepts_integers_and_rejects_the_rest() {
        assert_eq!(parse_cursor(None), Ok(None));
        assert_eq!(parse_cursor(Some("cursor=42")), Ok(Some(42)));
        assert_eq!(parse_cursor(Some("x=1&cursor=0")), Ok(Some(0)));
        assert!(parse_cursor(Some("cursor=-1")).is_err());
        assert!(parse_cursor(Some("cursor=abc")).is_err());
        assert!(parse_cursor(Some("cursor=1&cursor=2")).is_err());
    }
}
