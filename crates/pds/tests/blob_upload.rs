//! uploadBlob over HTTP against the real server: the body is streamed against the limit
//! (413 while the client is still sending, no partial file left), and the sniffed MIME type
//! wins over the declared one.

mod server;

use aerie_pds::ConfigArgs;
use reqwest::StatusCode;
use server::{Server, answer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

async fn account(s: &Server, handle: &str) -> String {
    let (st, body) = s
        .create_account(handle, &format!("{}@example.com", handle.replace('.', "-")))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["accessJwt"].as_str().unwrap().to_owned()
}

/// Sends 6 MiB as a chunked body (no Content-Length) and then keeps the request open
/// without the final chunk, so the server can only answer if it judges the limit while
/// streaming; returns the status line of the answer.
async fn chunked_upload_never_finished(url: &str, token: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST /xrpc/com.atproto.repo.uploadBlob HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![0x5a_u8; 64 * 1024];
        for _ in 0..(6 * MIB / chunk.len()) {
            wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            wr.write_all(&chunk).await?;
            wr.write_all(b"\r\n").await?;
        }
        // The terminating chunk is never sent: the body stays open.
        Ok::<_, std::io::Error>(wr)
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = rd.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed without an answer");
        got.extend_from_slice(&buf[..n]);
    }
    // The server may close while the rest is still being written; that is expected.
    let _ = writer.await.unwrap();
    let text = String::from_utf8_lossy(&got);
    text.lines().next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn upload_over_the_limit_is_refused_while_streaming_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let token = account(&s, "big.test").await;
    let status = chunked_upload_never_finished(&s.url, &token).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    // The partial temporary file is gone, and nothing was stored permanently.
    let tmp = dir.path().join("blocks").join("tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    let blocks = dir.path().join("blocks").join("blocks");
    assert_eq!(std::fs::read_dir(&blocks).unwrap().count(), 0);

    // A declared length over the limit is refused too.
    let r = s
        .http
        .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", s.url))
        .bearer_auth(&token)
        .body(vec![0u8; 5 * MIB + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    s.stop().await;
}

#[tokio::test]
async fn sniffed_mime_type_wins_over_the_declared_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let token = account(&s, "pics.test").await;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(std::iter::repeat_n(7u8, 100));
    for (declared, want) in [
        ("*/*", "image/png"),
        ("image/jpeg", "image/png"),
        ("text/plain; charset=utf-8", "image/png"),
    ] {
        let req = s
            .http
            .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", s.url))
            .bearer_auth(&token)
            .header("content-type", declared)
            .body(png.clone());
        let (st, body) = answer(req.send().await.unwrap()).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body["blob"]["mimeType"], want, "declared {declared}");
        assert_eq!(body["blob"]["size"], png.len());
    }
    // Nothing recognisable: the declared type is the fallback, `*/*` gives octet-stream.
    for (declared, want) in [
        ("text/plain", "text/plain"),
        ("*/*", "application/octet-stream"),
    ] {
        let req = s
            .http
            .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", s.url))
            .bearer_auth(&token)
            .header("content-type", declared)
            .body(b"just some words".to_vec());
        let (st, body) = answer(req.send().await.unwrap()).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        assert_eq!(body["blob"]["mimeType"], want, "declared {declared}");
    }
    s.stop().await;
}
