use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::Scenario;
use crate::error::Failure;

/// What one worker saw; merged into a [`Report`] at the end. Latencies are kept whole (the
/// request count is bounded by the run, and a sorted vector gives exact percentiles).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    latencies_us: Vec<u64>,
    succeeded: u64,
    errors: BTreeMap<String, u64>,
    bytes_sent: u64,
    bytes_received: u64,
}

impl Tally {
    pub fn record(
        &mut self,
        latency: Duration,
        result: Result<(), &Failure>,
        sent: u64,
        received: u64,
    ) {
        self.latencies_us
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        match result {
            Ok(()) => self.succeeded += 1,
            Err(f) => *self.errors.entry(f.name()).or_default() += 1,
        }
        self.bytes_sent += sent;
        self.bytes_received += received;
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.succeeded += other.succeeded;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
    }

    pub fn into_report(mut self, head: ReportHead, elapsed: Duration) -> Report {
        self.latencies_us.sort_unstable();
        let requests = self.latencies_us.len() as u64;
        let failed = self.errors.values().sum();
        let secs = elapsed.as_secs_f64();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        Report {
            url: head.url,
            scenario: head.scenario,
            accounts: head.accounts,
            concurrency: head.concurrency,
            setup_seconds: head.setup.as_secs_f64(),
            elapsed_seconds: secs,
            requests,
            succeeded: self.succeeded,
            failed,
            errors: self.errors,
            requests_per_second: per_sec(requests),
            succeeded_per_second: per_sec(self.succeeded),
            latency_ms: Latency::from_sorted_micros(&self.latencies_us),
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
        }
    }
}

/// The run parameters a report repeats, so a JSON report stands on its own.
pub(crate) struct ReportHead {
    pub url: String,
    pub scenario: Scenario,
    pub accounts: u32,
    pub concurrency: u32,
    pub setup: Duration,
}

/// Request latency in milliseconds, from sending the request to reading the last body byte.
/// Percentiles are nearest-rank over every request (failed ones included).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest request.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Latency {
    fn from_sorted_micros(sorted: &[u64]) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        let pick = |p: f64| {
            if sorted.is_empty() {
                return 0.0;
            }
            let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
            ms(sorted[rank.clamp(1, sorted.len()) - 1])
        };
        let mean = if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().map(|&u| u as f64).sum::<f64>() / sorted.len() as f64 / 1000.0
        };
        Latency {
            p50: pick(50.0),
            p90: pick(90.0),
            p99: pick(99.0),
            max: sorted.last().copied().map_or(0.0, ms),
            mean,
        }
    }
}

/// The result of a run. `Display` prints a short human summary; `Serialize` gives the JSON
/// that `aerie bench --json` prints.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The target server.
    pub url: String,
    /// What the workers did.
    pub scenario: Scenario,
    /// Accounts created in setup.
    pub accounts: u32,
    /// Concurrent workers.
    pub concurrency: u32,
    /// Time spent creating accounts, logging in and seeding (not measured).
    pub setup_seconds: f64,
    /// Wall time of the measured phase, until the last worker finished.
    pub elapsed_seconds: f64,
    /// Requests completed in the measured phase.
    pub requests: u64,
    /// Requests that returned the expected 2xx response.
    pub succeeded: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Failures by XRPC error name (`HTTP <status>` without one, `Transport: <kind>`,
    /// `BadResponse: <what>`).
    pub errors: BTreeMap<String, u64>,
    /// `requests / elapsed_seconds`.
    pub requests_per_second: f64,
    /// `succeeded / elapsed_seconds`.
    pub succeeded_per_second: f64,
    /// Latency percentiles.
    pub latency_ms: Latency,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency_ms;
        writeln!(
            f,
            "{} against {}: {} accounts, {} workers (setup {:.1} s)",
            self.scenario, self.url, self.accounts, self.concurrency, self.setup_seconds
        )?;
        writeln!(
            f,
            "  {} requests in {:.2} s: {:.1} req/s ({} ok, {} failed)",
            self.requests,
            self.elapsed_seconds,
            self.requests_per_second,
            self.succeeded,
            self.failed
        )?;
        writeln!(
            f,
            "  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}",
            l.p50, l.p90, l.p99, l.max, l.mean
        )?;
        write!(
            f,
            "  bytes: {} sent, {} received",
            self.bytes_sent, self.bytes_received
        )?;
        for (name, n) in &self.errors {
            write!(f, "\n  error {name}: {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> ReportHead {
        ReportHead {
            url: "http://127.0.0.1:1".to_owned(),
            scenario: Scenario::GetRecords,
            accounts: 1,
            concurrency: 1,
            setup: Duration::ZERO,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let micros: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        let l = Latency::from_sorted_micros(&micros);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert!((l.mean - 50.5).abs() < 1e-9);
        let one = Latency::from_sorted_micros(&[2500]);
        assert_eq!((one.p50, one.p99, one.max), (2.5, 2.5, 2.5));
        assert_eq!(Latency::from_sorted_micros(&[]).max, 0.0);
    }

    #[test]
    fn merged_tallies_count_errors_by_name() {
        let not_found = Failure::Xrpc {
            status: 400,
            name: "RecordNotFound".to_owned(),
            message: String::new(),
        };
        let mut a = Tally::default();
        a.record(Duration::from_millis(3), Ok(()), 10, 100);
        a.record(Duration::from_millis(1), Err(&not_found), 0, 50);
        let mut b = Tally::default();
        b.record(Duration::from_millis(2), Err(&not_found), 0, 50);
        b.record(
            Duration::from_millis(9),
            Err(&Failure::Transport("timeout".to_owned())),
            10,
            0,
        );
        a.merge(b);
        let r = a.into_report(head(), Duration::from_secs(2));
        assert_eq!((r.requests, r.succeeded, r.failed), (4, 1, 3));
        assert_eq!(r.errors["RecordNotFound"], 2);
        assert_eq!(r.errors["Transport: timeout"], 1);
        assert_eq!((r.bytes_sent, r.bytes_received), (20, 200));
        assert_eq!(r.requests_per_second, 2.0);
        assert_eq!(r.latency_ms.max, 9.0);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["scenario"], "get-records");
        assert_eq!(json["errors"]["RecordNotFound"], 2);
    }
}
