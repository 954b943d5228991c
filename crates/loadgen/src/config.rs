use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::{Error, Target};

/// What the measured workers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scenario {
    /// `com.atproto.repo.createRecord` of `app.bsky.feed.post` records, each worker writing
    /// to its own account's repository.
    CreateRecords,
    /// Unauthenticated `com.atproto.repo.getRecord` of posts written during setup; the
    /// returned CID must match the one the write returned.
    GetRecords,
    /// One createRecord for every three getRecords, reads drawing on everything written so far.
    Mixed,
    /// `com.atproto.server.createAccount` of fresh accounts (PLC genesis, empty repository,
    /// password hashing: the heaviest request a PDS serves).
    CreateAccounts,
}

impl Scenario {
    /// Every scenario, in the order the CLI lists them.
    pub const ALL: [Scenario; 4] = [
        Scenario::CreateRecords,
        Scenario::GetRecords,
        Scenario::Mixed,
        Scenario::CreateAccounts,
    ];

    /// The CLI and report name, e.g. `create-records`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::CreateRecords => "create-records",
            Scenario::GetRecords => "get-records",
            Scenario::Mixed => "mixed",
            Scenario::CreateAccounts => "create-accounts",
        }
    }

    /// Whether setup writes seed records for the workers to read.
    pub(crate) fn needs_seed(self) -> bool {
        matches!(self, Scenario::GetRecords | Scenario::Mixed)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| Error::InvalidConfig {
                field: "scenario",
                reason: format!(
                    "unknown scenario {s:?}; expected one of {}",
                    Scenario::ALL.map(Scenario::name).join(", ")
                ),
            })
    }
}

impl serde::Serialize for Scenario {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Parameters of one benchmark run. Build with [`BenchConfig::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The server.
    pub target: Target,
    /// What the workers do.
    pub scenario: Scenario,
    /// Accounts created during setup; worker `w` acts as account `w % accounts`.
    pub accounts: u32,
    /// Concurrent workers (each keeps one request in flight).
    pub concurrency: u32,
    /// Stop issuing requests after this long (measured from the end of setup).
    pub duration: Option<Duration>,
    /// Stop after this many requests in total. At least one of `duration` and
    /// `max_requests` must be set; with both, whichever comes first ends the run.
    pub max_requests: Option<u64>,
    /// Posts each account writes during setup for the read scenarios.
    pub seed_records: u32,
    /// HTTP basic `admin:<password>` for minting an invite code when signups need one.
    pub admin_password: Option<String>,
    /// An invite code to use instead of minting one (must have enough uses left).
    pub invite_code: Option<String>,
    /// Per-request timeout; a request that takes longer counts as a transport error.
    pub request_timeout: Duration,
}

impl BenchConfig {
    /// Defaults: 10 accounts, 8 workers, 10 seconds, 10 seed posts per account, 30 s timeout.
    pub fn new(target: Target, scenario: Scenario) -> BenchConfig {
        BenchConfig {
            target,
            scenario,
            accounts: 10,
            concurrency: 8,
            duration: Some(Duration::from_secs(10)),
            max_requests: None,
            seed_records: 10,
            admin_password: None,
            invite_code: None,
            request_timeout: Duration::from_secs(30),
        }
    }

    /// Checks ranges before anything is sent.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field, reason: &str| {
            Err(Error::InvalidConfig {
                field,
                reason: reason.to_owned(),
            })
        };
        // Handles are `lb<run id><index>`; the reference PDS allows 18 characters before the
        // domain, which leaves 6 digits for the index.
        if !(1..=100_000).contains(&self.accounts) {
            return bad("accounts", "must be between 1 and 100000");
        }
        if !(1..=10_000).contains(&self.concurrency) {
            return bad("concurrency", "must be between 1 and 10000");
        }
        if self.duration.is_none() && self.max_requests.is_none() {
            return bad("duration", "give a duration, a request count, or both");
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return bad("duration", "must be positive");
        }
        if self.max_requests == Some(0) {
            return bad("requests", "must be positive");
        }
        if self.scenario.needs_seed() && self.seed_records == 0 {
            return bad("seed records", "read scenarios need at least one seed post");
        }
        if self.request_timeout.is_zero() {
            return bad("request timeout", "must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for sc in Scenario::ALL {
            assert_eq!(sc.name().parse::<Scenario>().unwrap(), sc);
        }
        assert!("create_records".parse::<Scenario>().is_err());
    }

    #[test]
    fn a_run_needs_a_duration_or_a_request_budget() {
        let t = Target::parse("http://127.0.0.1:1", false).unwrap();
        let mut c = BenchConfig::new(t, Scenario::CreateRecords);
        assert!(c.validate().is_ok());
        c.duration = None;
        assert!(c.validate().is_err());
        c.max_requests = Some(5);
        assert!(c.validate().is_ok());
        c.concurrency = 0;
        assert!(c.validate().is_err());
    }
}
