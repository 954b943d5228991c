//! A load generator for any AT Protocol PDS reachable over plain HTTP on loopback.
//!
//! `aerie bench` is the command-line face of this crate. A run has two phases:
//!
//! 1. **Setup** (not measured): `describeServer` tells us the handle domain and whether
//!    signups need an invite; with an admin password we mint one invite code through
//!    `createInviteCode`; then N accounts are created and logged in with `createSession`, and
//!    for read scenarios each account writes a few seed posts.
//! 2. **Load** (measured): C tokio workers share one HTTP client (one keep-alive connection
//!    each) and issue requests until the duration passes or the request budget is spent,
//!    whichever comes first. Every request's latency covers sending the body and reading the
//!    whole response.
//!
//! The [`Report`] carries throughput, success and error counts keyed by XRPC error name,
//! latency percentiles and bytes on the wire; it serialises to JSON for scripts.
//!
//! Targets are checked by [`Target::parse`]: anything but a loopback host is refused unless
//! the caller explicitly allows remote hosts, so a typo cannot turn this into a load test
//! of somebody else's server.
//!
//! `scripts/compare.sh` in this crate runs every scenario against Aerie and the official
//! TypeScript PDS in one session and prints the table kept in `docs/PERFORMANCE.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), aerie_loadgen::Error> {
//! use aerie_loadgen::{BenchConfig, Scenario, Target};
//! let target = Target::parse("http://127.0.0.1:2583", false)?;
//! let mut config = BenchConfig::new(target, Scenario::CreateRecords);
//! config.accounts = 4;
//! config.concurrency = 8;
//! config.max_requests = Some(1_000);
//! config.admin_password = Some("admin-pass".to_owned());
//! let report = aerie_loadgen::run(&config).await?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod config;
mod error;
mod post;
mod run;
mod stats;
mod target;
mod xrpc;

pub use config::{BenchConfig, Scenario};
pub use error::{Error, Failure};
pub use run::run;
pub use stats::{Latency, Report};
pub use target::Target;
