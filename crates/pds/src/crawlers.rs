//! Crawlers (`PDS_CRAWLERS`): relays told about this PDS with
//! `com.atproto.sync.requestCrawl {hostname}` when it has new events, as the reference does.
//!
//! A background task follows the firehose live (no cursor; it holds no frames, only its
//! position) and, on an event, notifies each crawler whose last notice is older than the
//! throttle interval (20 minutes in the reference). Like the reference, an event inside the
//! interval sends nothing and schedules nothing: the next event after it does. Requests run
//! in their own tasks so a slow relay never delays the others or the event loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aerie_firehose::Firehose;

/// The reference's throttle: at most one requestCrawl per crawler per 20 minutes.
pub const NOTIFY_INTERVAL: Duration = Duration::from_secs(20 * 60);

/// How long one requestCrawl may take before it is abandoned.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The relays to notify and when each was last notified.
#[derive(Debug)]
pub struct Crawlers {
    hostname: String,
    crawlers: Vec<Crawler>,
    interval: Duration,
    http: reqwest::Client,
}

#[derive(Debug)]
struct Crawler {
    /// `<base>/xrpc/com.atproto.sync.requestCrawl`.
    endpoint: String,
    last: Option<Instant>,
}

impl Crawlers {
    /// Crawlers at `urls` (base URLs, e.g. `https://bsky.network`) told `hostname`, at most
    /// once per `interval` each.
    pub fn new(hostname: &str, urls: &[String], interval: Duration) -> Crawlers {
        Crawlers {
            hostname: hostname.to_owned(),
            crawlers: urls
                .iter()
                .map(|u| Crawler {
                    endpoint: format!(
                        "{}/xrpc/com.atproto.sync.requestCrawl",
                        u.trim_end_matches('/')
                    ),
                    last: None,
                })
                .collect(),
            interval,
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }

    /// Whether there is any crawler to notify.
    pub fn is_empty(&self) -> bool {
        self.crawlers.is_empty()
    }

    /// New activity at `now`: send requestCrawl to every crawler not notified within the
    /// interval. Returns how many requests were started.
    pub fn notify_of_update(&mut self, now: Instant) -> usize {
        let body = Arc::new(serde_json::json!({ "hostname": self.hostname }));
        let mut sent = 0;
        for c in &mut self.crawlers {
            if c.last
                .is_some_and(|t| now.saturating_duration_since(t) < self.interval)
            {
                continue;
            }
            c.last = Some(now);
            sent += 1;
            let req = self.http.post(&c.endpoint).json(&*body);
            let endpoint = c.endpoint.clone();
            tokio::spawn(async move {
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        tracing::debug!(%endpoint, "requestCrawl sent");
                    }
                    Ok(r) => {
                        tracing::warn!(%endpoint, status = %r.status(), "requestCrawl refused")
                    }
                    Err(e) => tracing::warn!(%endpoint, error = %e, "requestCrawl failed"),
                }
            });
        }
        sent
    }
}

/// The running crawler notifier; dropping it stops the task.
#[derive(Debug)]
pub struct CrawlerGuard(Option<tokio::task::JoinHandle<()>>);

impl Drop for CrawlerGuard {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.abort();
        }
    }
}

/// Starts notifying `crawlers` of `firehose` activity (nothing runs when there are none).
pub fn spawn(firehose: Firehose, mut crawlers: Crawlers) -> CrawlerGuard {
    if crawlers.is_empty() {
        return CrawlerGuard(None);
    }
    CrawlerGuard(Some(tokio::spawn(async move {
        loop {
            let mut sub = firehose.subscribe(None);
            loop {
                match sub.next().await {
                    Ok(Some(out)) if out.seq.is_some() => {
                        crawlers.notify_of_update(Instant::now());
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "crawlers: firehose read failed");
                        break;
                    }
                }
            }
            // The stream ended (server shutdown, or this task fell behind the cap): follow
            // it again after a pause, until the guard is dropped.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })))
}
