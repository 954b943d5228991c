//! Rate limits, with the figures the Bluesky PDS publishes (docs.bsky.app, "Rate Limits"):
//! every request per client IP, logins per identifier, signups, account deletions and
//! password resets per IP, handle changes per account, and record writes per account in
//! points (create 3, update 2, delete 1).
//!
//! On by default in production and off in dev mode (`PDS_RATE_LIMITS_ENABLED` overrides).
//! Counters are fixed windows held in memory: a window starts with its first request and
//! resets once its duration has passed; a restart forgets them. A refused request gets 429
//! `RateLimitExceeded` and the `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
//! (Unix seconds) and `RateLimit-Policy` headers the reference sends.
//!
//! The client's IP is the TCP peer's, or, when the peer is a loopback or private-network
//! address (a reverse proxy on the same host, as in the standard deployment, or in the same
//! container network), the last address that proxy appended to `X-Forwarded-For`. A proxy
//! elsewhere on the public internet would make every client look alike: turn the limits off
//! there, or put the proxy on a private network.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aerie_xrpc::XrpcError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// One limit: so many points per window, counted per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Every request, per client IP: 3000 per 5 minutes.
    Global,
    /// createSession per identifier: 30 per 5 minutes...
    SessionShort,
    /// ...and 300 per day.
    SessionDay,
    /// createAccount per IP: 100 per 5 minutes.
    CreateAccount,
    /// deleteAccount per IP: 50 per 5 minutes.
    DeleteAccount,
    /// resetPassword and requestPasswordReset per IP: 50 per 5 minutes.
    ResetPassword,
    /// updateHandle per account: 10 per 5 minutes...
    HandleShort,
    /// ...and 50 per day.
    HandleDay,
    /// Record writes per account: 5000 points per hour...
    WritesHour,
    /// ...and 35,000 per day.
    WritesDay,
}

impl Limit {
    /// (points per window, window).
    pub fn policy(self) -> (u32, Duration) {
        match self {
            Limit::Global => (3000, 5 * MINUTE),
            Limit::SessionShort => (30, 5 * MINUTE),
            Limit::SessionDay => (300, DAY),
            Limit::CreateAccount => (100, 5 * MINUTE),
            Limit::DeleteAccount => (50, 5 * MINUTE),
            Limit::ResetPassword => (50, 5 * MINUTE),
            Limit::HandleShort => (10, 5 * MINUTE),
            Limit::HandleDay => (50, DAY),
            Limit::WritesHour => (5000, HOUR),
            Limit::WritesDay => (35_000, DAY),
        }
    }
}

/// Points a record write costs against [`Limit::WritesHour`] and [`Limit::WritesDay`].
pub const CREATE_POINTS: u32 = 3;
/// An update (putRecord over an existing record counts as one in applyWrites).
pub const UPDATE_POINTS: u32 = 2;
/// A delete.
pub const DELETE_POINTS: u32 = 1;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    used: u32,
}

/// The counters.
#[derive(Debug)]
pub struct RateLimits {
    enabled: bool,
    windows: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    map: HashMap<(Limit, String), Window>,
    /// Calls since expired windows were last dropped.
    since_prune: u32,
}

/// Drop expired windows every this many calls, so memory follows the active keys.
const PRUNE_EVERY: u32 = 4096;

impl RateLimits {
    /// Counters that refuse nothing when `enabled` is false.
    pub fn new(enabled: bool) -> RateLimits {
        RateLimits {
            enabled,
            windows: Mutex::new(Counters::default()),
        }
    }

    /// Whether limits apply.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Charge `points` to `key` under every limit in `limits`, all or nothing: if any would
    /// go over, nothing is charged and the answer is 429 naming that limit's policy.
    pub fn check(&self, limits: &[Limit], key: &str, points: u32) -> Result<(), XrpcError> {
        self.check_at(limits, key, points, Instant::now())
    }

    fn check_at(
        &self,
        limits: &[Limit],
        key: &str,
        points: u32,
        now: Instant,
    ) -> Result<(), XrpcError> {
        if !self.enabled {
            return Ok(());
        }
        let mut c = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        c.since_prune += 1;
        if c.since_prune >= PRUNE_EVERY {
            c.since_prune = 0;
            c.map
                .retain(|(limit, _), w| now.duration_since(w.start) < limit.policy().1);
        }
        // Current state of each window (expired ones count as fresh).
        let mut states = Vec::with_capacity(limits.len());
        for &limit in limits {
            let (max, span) = limit.policy();
            let w = c
                .map
                .get(&(limit, key.to_owned()))
                .copied()
                .filter(|w| now.duration_since(w.start) < span)
                .unwrap_or(Window {
                    start: now,
                    used: 0,
                });
            if w.used.saturating_add(points) > max {
                return Err(refused(limit, w, now));
            }
            states.push((limit, w));
        }
        for (limit, mut w) in states {
            w.used += points;
            c.map.insert((limit, key.to_owned()), w);
        }
        Ok(())
    }
}

/// The 429 answer for `limit` whose window is `w`.
fn refused(limit: Limit, w: Window, now: Instant) -> XrpcError {
    let (max, span) = limit.policy();
    let left = span.saturating_sub(now.duration_since(w.start));
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(left)
        .as_secs();
    XrpcError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RateLimitExceeded",
        "Rate Limit Exceeded",
    )
    .with_header("RateLimit-Limit", max.to_string())
    .with_header(
        "RateLimit-Remaining",
        max.saturating_sub(w.used).to_string(),
    )
    .with_header("RateLimit-Reset", reset.to_string())
    .with_header("RateLimit-Policy", format!("{max};w={}", span.as_secs()))
}

/// The client's address, put in every request's extensions by [`per_ip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The key for per-IP limits.
    pub fn key(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

/// Addresses a reverse proxy in front of the PDS would have: loopback, RFC 1918, link-local,
/// IPv6 unique-local. Nobody on the public internet connects from these.
fn is_proxy_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_proxy_address(IpAddr::V4(v4)),
            None => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
        },
    }
}

/// The client's IP: the peer, or for a proxy's address (see [`is_proxy_address`]) the last
/// hop in `X-Forwarded-For`, which that proxy wrote.
fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let peer = peer.map(|p| p.ip());
    if peer.is_some_and(is_proxy_address) {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer
}

/// Middleware: notes the client IP for handlers and applies [`Limit::Global`].
pub async fn per_ip(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let ip = ClientIp(client_ip(peer, req.headers()));
    let limits = st.rate_limits();
    if limits.enabled()
        && let Err(e) = limits.check(&[Limit::Global], &ip.key(), 1)
    {
        return e.into_response();
    }
    req.extensions_mut().insert(ip);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_refuses_past_its_points_then_resets() {
        let r = RateLimits::new(true);
        let t0 = Instant::now();
        for _ in 0..30 {
            r.check_at(&[Limit::SessionShort], "alice", 1, t0).unwrap();
        }
        let e = r
            .check_at(&[Limit::SessionShort], "alice", 1, t0)
            .unwrap_err();
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        // Another key has its own window.
        r.check_at(&[Limit::SessionShort], "bob", 1, t0).unwrap();
        // Five minutes on, a new window.
        r.check_at(&[Limit::SessionShort], "alice", 1, t0 + 5 * MINUTE)
            .unwrap();
    }

    #[test]
    fn several_limits_charge_all_or_nothing() {
        let r = RateLimits::new(true);
        let t0 = Instant::now();
        let both = [Limit::WritesHour, Limit::WritesDay];
        r.check_at(&both, "did:x", 4998, t0).unwrap();
        // 3 more would pass the hour's 5000: refused, and the day is not charged either.
        assert!(r.check_at(&both, "did:x", 3, t0).is_err());
        r.check_at(&both, "did:x", 2, t0).unwrap();
        // The next hour: the hourly window is fresh, the day counts 5000 so far.
        r.check_at(&both, "did:x", 5000, t0 + HOUR).unwrap();
        for h in 2..7 {
            r.check_at(&both, "did:x", 5000, t0 + h * HOUR).unwrap();
        }
        // 35,000 used today: the day refuses even in a fresh hour.
        assert!(r.check_at(&both, "did:x", 1, t0 + 7 * HOUR).is_err());
    }

    #[test]
    fn disabled_limits_refuse_nothing() {
        let r = RateLimits::new(false);
        for _ in 0..100 {
            r.check(&[Limit::HandleShort], "k", 1).unwrap();
        }
    }

    #[test]
    fn the_client_ip_comes_from_the_proxy_only_when_the_peer_is_a_proxy_address() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let direct: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        for p in [
            "127.0.0.1:1",
            "10.1.2.3:1",
            "172.17.0.2:1",
            "192.168.1.1:1",
            "[::1]:1",
            "[fd00::2]:1",
        ] {
            let p: SocketAddr = p.parse().unwrap();
            let got = client_ip(Some(p), &h);
            assert_eq!(got, Some("198.51.100.7".parse().unwrap()), "{p}");
        }
        assert_eq!(
            client_ip(Some(direct), &h),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            client_ip(Some(proxy), &HeaderMap::new()),
            Some("127.0.0.1".parse().unwrap())
        );
    }
}
