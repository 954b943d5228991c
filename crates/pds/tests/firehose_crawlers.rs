//! PDS_CRAWLERS: a real HTTP server on loopback plays the relay and records every
//! requestCrawl it receives.

mod server;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aerie_pds::ConfigArgs;
use aerie_pds::crawlers::{Crawlers, NOTIFY_INTERVAL};
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::Server;

type Calls = Arc<Mutex<Vec<Value>>>;

async fn request_crawl(State(calls): State<Calls>, Json(body): Json<Value>) -> StatusCode {
    calls.lock().unwrap().push(body);
    StatusCode::OK
}

/// Starts a fake relay; returns its base URL and the recorded request bodies.
async fn relay() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let app = axum::Router::new()
        .route("/xrpc/com.atproto.sync.requestCrawl", post(request_crawl))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

/// Waits until `calls` holds `n` requests (bounded, so a broken notifier fails the test).
async fn wait_for(calls: &Calls, n: usize) {
    for _ in 0..300 {
        if calls.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "expected {n} requestCrawl calls, got {:?}",
        calls.lock().unwrap()
    );
}

#[tokio::test]
async fn signup_activity_sends_request_crawl_with_the_hostname_to_every_crawler() {
    let (relay_a, calls_a) = relay().await;
    let (relay_b, calls_b) = relay().await;
    let dir = tempfile::tempdir().unwrap();
    let args = ConfigArgs {
        hostname: Some("pds.test".into()),
        dev_mode: Some(true),
        // As the reference parses it: comma-separated, spaces and a trailing slash allowed.
        crawlers: Some(format!("{relay_a}, {relay_b}/")),
        ..ConfigArgs::default()
    };
    let s = Server::start(dir.path(), args).await;
    let (st, acct) = s.create_account("alice.test", "alice@example.com").await;
    assert_eq!(st, StatusCode::OK, "{acct}");
    wait_for(&calls_a, 1).await;
    wait_for(&calls_b, 1).await;
    assert_eq!(calls_a.lock().unwrap()[0], json!({"hostname": "pds.test"}));
    assert_eq!(calls_b.lock().unwrap()[0], json!({"hostname": "pds.test"}));
    s.stop().await;
}

#[tokio::test]
async fn request_crawl_is_sent_at_most_once_per_interval_per_crawler() {
    let (relay_url, calls) = relay().await;
    let mut crawlers = Crawlers::new("pds.test", &[relay_url], NOTIFY_INTERVAL);
    let t0 = Instant::now();
    assert_eq!(crawlers.notify_of_update(t0), 1);
    assert_eq!(crawlers.notify_of_update(t0 + Duration::from_secs(60)), 0);
    assert_eq!(
        crawlers.notify_of_update(t0 + NOTIFY_INTERVAL - Duration::from_secs(1)),
        0
    );
    assert_eq!(crawlers.notify_of_update(t0 + NOTIFY_INTERVAL), 1);
    wait_for(&calls, 2).await;
    assert_eq!(calls.lock().unwrap().len(), 2);
    assert_eq!(
        NOTIFY_INTERVAL,
        Duration::from_secs(20 * 60),
        "the reference's threshold"
    );
}

#[tokio::test]
async fn an_unreachable_crawler_does_not_stop_the_others() {
    let (relay_url, calls) = relay().await;
    // A port nothing listens on (bound, then closed).
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let mut crawlers = Crawlers::new("pds.test", &[dead, relay_url], NOTIFY_INTERVAL);
    assert_eq!(crawlers.notify_of_update(Instant::now()), 2);
    wait_for(&calls, 1).await;
}
