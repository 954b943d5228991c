//! Firehose over real sockets: events/s delivered to 1, 100 and 1000 WebSocket subscribers,
//! replay MB/s from cursor 0 out of SQLite, and RSS per idle subscriber.
//!
//! `cargo run --release -p aerie-pds --example firehose_bench -- [EVENTS]`
//!
//! The server runs in this process on 127.0.0.1:0 over a temporary data directory (the same
//! `serve::serve` as `aerie serve`); subscribers are tokio-tungstenite clients in the same
//! process, so the idle-subscriber RSS figure covers both ends of each connection (an upper
//! bound for the server's share).

use std::time::Instant;

use aerie_pds::{ConfigArgs, serve};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn post(http: &reqwest::Client, url: &str, jwt: Option<&str>, body: Value) -> Value {
    let mut req = http.post(url).json(&body);
    if let Some(t) = jwt {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.json().await.expect("json")
}

/// Child-process mode: open `n` idle subscriptions to `url`, say "ready", wait for stdin EOF.
async fn idle_clients(url: &str, n: usize) {
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        idle.push(ws);
    }
    println!("ready");
    let mut sink = String::new();
    let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut sink)).await;
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("idle-clients") {
        let url = std::env::args().nth(2).expect("url");
        let n = std::env::args()
            .nth(3)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1000);
        idle_clients(&url, n).await;
        return;
    }
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let config = ConfigArgs {
        data_directory: Some(dir.path().to_path_buf()),
        port: Some(port),
        ..ConfigArgs::default()
    }
    .resolve()
    .expect("config");
    let state = serve::open(config).await.expect("open");
    tokio::spawn(serve::serve(listener, state, std::future::pending()));
    let base = format!("http://127.0.0.1:{port}");
    let ws_base = format!("ws://127.0.0.1:{port}/xrpc/com.atproto.sync.subscribeRepos");
    let http = reqwest::Client::new();

    // Four accounts written in parallel (writes to one repo are serialised by design).
    let mut accounts = Vec::new();
    for i in 0..4 {
        let a = post(
            &http,
            &format!("{base}/xrpc/com.atproto.server.createAccount"),
            None,
            json!({"handle": format!("bench{i}.test"), "email": format!("b{i}@example.com"),
                   "password": "hunter2hunter2"}),
        )
        .await;
        accounts.push((
            a["did"].as_str().unwrap_or_default().to_owned(),
            a["accessJwt"].as_str().unwrap_or_default().to_owned(),
        ));
    }

    println!("machine: {} cores; events per run: {events}", num_cpus());
    let mut round = 0;
    for subscribers in [1usize, 100, 1000] {
        let mut readers = Vec::new();
        for _ in 0..subscribers {
            let (mut ws, _) = tokio_tungstenite::connect_async(ws_base.as_str())
                .await
                .expect("connect");
            readers.push(tokio::spawn(async move {
                let mut got = 0usize;
                while got < events {
                    match ws.next().await {
                        Some(Ok(Message::Binary(_))) => got += 1,
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
                got
            }));
        }
        let start = Instant::now();
        let per = events / accounts.len();
        let mut writers = Vec::new();
        for (did, jwt) in accounts.clone() {
            let http = http.clone();
            let url = format!("{base}/xrpc/com.atproto.repo.createRecord");
            writers.push(tokio::spawn(async move {
                for i in 0..per {
                    post(
                        &http,
                        &url,
                        Some(&jwt),
                        json!({"repo": did, "collection": "com.example.bench",
                               "rkey": format!("r{round}x{i}"), "record": {"i": i}}),
                    )
                    .await;
                }
            }));
        }
        for w in writers {
            w.await.expect("writer");
        }
        let written = start.elapsed();
        let mut delivered = 0usize;
        for r in readers {
            delivered += r.await.expect("reader");
        }
        let all = start.elapsed();
        round += 1;
        println!(
            "{subscribers:>5} subscribers: {} events written in {:.2}s ({:.0} events/s); \
             {delivered} frames delivered in {:.2}s ({:.0} frames/s delivered)",
            per * accounts.len(),
            written.as_secs_f64(),
            (per * accounts.len()) as f64 / written.as_secs_f64(),
            all.as_secs_f64(),
            delivered as f64 / all.as_secs_f64(),
        );
    }

    // Replay from cursor 0 out of SQLite (the ring holds only the newest events).
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{ws_base}?cursor=0"))
        .await
        .expect("connect");
    let start = Instant::now();
    let (mut frames, mut bytes) = (0usize, 0usize);
    let total = 4 * 4 + round * (events / 4) * 4;
    while frames < total {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => {
                frames += 1;
                bytes += b.len();
            }
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "replay from cursor 0: {frames} frames, {:.2} MB in {t:.3}s = {:.1} MB/s, {:.0} frames/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / t,
        frames as f64 / t
    );
    drop(ws);

    // Idle subscribers, the server's share alone: 1000 connections from a child process
    // (measured first, so the RSS baseline holds no freed connection memory).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = rss_kib();
    let exe = std::env::current_exe().expect("own path");
    let mut child = std::process::Command::new(exe)
        .args(["idle-clients", ws_base.as_str(), "1000"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the client process");
    let stdout = child.stdout.take().expect("child stdout");
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("child output");
    assert_eq!(ready.trim(), "ready");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = rss_kib();
    println!(
        "1000 idle subscribers from another process: server RSS {before} KiB -> {after} KiB, \
         {:.1} KiB per subscriber (server side only)",
        after.saturating_sub(before) as f64 / 1000.0
    );
    drop(child.stdin.take());
    let _ = child.wait();

    // Both ends in this process, for comparison.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = rss_kib();
    let mut idle = Vec::new();
    for _ in 0..1000 {
        let (ws, _) = tokio_tungstenite::connect_async(ws_base.as_str())
            .await
            .expect("connect");
        idle.push(ws);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = rss_kib();
    println!(
        "1000 idle subscribers: RSS {before} KiB -> {after} KiB, {:.1} KiB per subscriber \
         (client and server ends together)",
        after.saturating_sub(before) as f64 / 1000.0
    );
    drop(idle);
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
