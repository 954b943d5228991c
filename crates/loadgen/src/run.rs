use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aerie_syntax::Handle;
use tokio::task::JoinSet;

use crate::error::{Error, Failure};
use crate::post::{Rng, Thread, post};
use crate::stats::{ReportHead, Tally};
use crate::xrpc::{NewAccount, Outcome, StrongRef, Xrpc};
use crate::{BenchConfig, Report, Scenario};

/// A logged-in benchmark account.
struct Account {
    did: String,
    access_jwt: String,
}

/// Everything the workers share. The record pool sits behind a std mutex: it is held for a
/// push or a clone, never across an await.
struct Shared {
    xrpc: Xrpc,
    scenario: Scenario,
    accounts: Vec<Account>,
    records: Mutex<Vec<StrongRef>>,
    issued: AtomicU64,
    max_requests: Option<u64>,
    deadline: Option<Instant>,
    signup: Signup,
}

/// What a createAccount needs besides the handle.
struct Signup {
    run_id: String,
    domain: String,
    password: String,
    invite_code: Option<String>,
}

impl Signup {
    /// `lb<run id><n><domain>` for setup accounts, `la...` for the create-accounts scenario.
    /// The part before the domain stays within the reference PDS's 18-character limit.
    fn handle(&self, prefix: &str, n: u64) -> String {
        format!("{prefix}{}{n}{}", self.run_id, self.domain)
    }

    fn account<'a>(&'a self, handle: &'a str, email: &'a str) -> NewAccount<'a> {
        NewAccount {
            handle,
            email,
            password: &self.password,
            invite_code: self.invite_code.as_deref(),
        }
    }
}

/// Runs one benchmark: setup (accounts, sessions, seed posts), then the measured load.
///
/// Setup failures end the run with [`Error::Setup`]; failures during the measured phase are
/// counted in the report.
pub async fn run(config: &BenchConfig) -> Result<Report, Error> {
    config.validate()?;
    let xrpc = Xrpc::new(config.target.clone(), config.request_timeout)?;
    let setup_started = Instant::now();

    let server = setup(xrpc.describe_server().await, "describeServer")?;
    let domain = server
        .available_user_domains
        .first()
        .cloned()
        .ok_or_else(|| Error::Setup {
            step: "describeServer".to_owned(),
            failure: Failure::BadResponse("no availableUserDomains".to_owned()),
        })?;
    let signups = match config.scenario {
        Scenario::CreateAccounts => config.max_requests.unwrap_or(1_000_000),
        _ => 0,
    };
    let invite_code = match (&config.invite_code, server.invite_code_required) {
        (Some(code), _) => Some(code.clone()),
        (None, false) => None,
        (None, true) => {
            let Some(password) = &config.admin_password else {
                return Err(Error::InvalidConfig {
                    field: "invite code",
                    reason: "the server requires invite codes: give --invite-code or \
                             --admin-password"
                        .to_owned(),
                });
            };
            let uses = u64::from(config.accounts) + signups;
            let code = setup(
                xrpc.create_invite_code(password, uses).await,
                "createInviteCode",
            )?;
            Some(code.code)
        }
    };
    let signup = Signup {
        run_id: random_token(6)?,
        domain,
        password: random_token(20)?,
        invite_code,
    };

    let mut accounts = Vec::with_capacity(config.accounts as usize);
    for i in 0..config.accounts {
        let handle = signup.handle("lb", u64::from(i));
        check_handle(&handle)?;
        let email = email_for(&handle);
        setup(
            xrpc.create_account(&signup.account(&handle, &email)).await,
            &format!("createAccount {handle}"),
        )?;
        let session = setup(
            xrpc.create_session(&handle, &signup.password).await,
            &format!("createSession {handle}"),
        )?;
        accounts.push(Account {
            did: session.did,
            access_jwt: session.access_jwt,
        });
    }

    let mut records = Vec::new();
    if config.scenario.needs_seed() {
        let mut rng = Rng::new(0x5eed);
        for (a, account) in accounts.iter().enumerate() {
            for i in 0..config.seed_records {
                let record = post(&mut rng, u64::from(i), None);
                let written = setup(
                    xrpc.create_record(&account.access_jwt, &account.did, &record)
                        .await,
                    &format!("seed createRecord (account {a})"),
                )?;
                records.push(written);
            }
        }
    }
    let setup_time = setup_started.elapsed();

    let started = Instant::now();
    let shared = Arc::new(Shared {
        xrpc,
        scenario: config.scenario,
        accounts,
        records: Mutex::new(records),
        issued: AtomicU64::new(0),
        max_requests: config.max_requests,
        deadline: config.duration.map(|d| started + d),
        signup,
    });
    let mut workers = JoinSet::new();
    for w in 0..config.concurrency {
        workers.spawn(worker(Arc::clone(&shared), w));
    }
    let mut total = Tally::default();
    while let Some(done) = workers.join_next().await {
        // A worker only ends by returning its tally; a join error means it panicked, which
        // the code does not do on any response, so there is nothing to count.
        if let Ok(tally) = done {
            total.merge(tally);
        }
    }
    let elapsed = started.elapsed();
    let head = ReportHead {
        url: config.target.to_string(),
        scenario: config.scenario,
        accounts: config.accounts,
        concurrency: config.concurrency,
        setup: setup_time,
    };
    Ok(total.into_report(head, elapsed))
}

enum Op {
    Write,
    Read,
    Signup,
}

async fn worker(shared: Arc<Shared>, w: u32) -> Tally {
    let mut tally = Tally::default();
    let mut rng = Rng::new(u64::from(w) + 1);
    let account = &shared.accounts[w as usize % shared.accounts.len()];
    let mut thread: Option<Thread> = None;
    loop {
        if shared.deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let n = shared.issued.fetch_add(1, Ordering::Relaxed);
        if shared.max_requests.is_some_and(|max| n >= max) {
            break;
        }
        let op = match shared.scenario {
            Scenario::CreateRecords => Op::Write,
            Scenario::GetRecords => Op::Read,
            Scenario::Mixed if rng.below(4) == 0 => Op::Write,
            Scenario::Mixed => Op::Read,
            Scenario::CreateAccounts => Op::Signup,
        };
        match op {
            Op::Write => {
                // One post in four answers this worker's previous post, so threads grow.
                let reply_to = thread.as_ref().filter(|_| rng.below(4) == 0);
                let replying = reply_to.is_some();
                let record = post(&mut rng, n, reply_to);
                let t0 = Instant::now();
                let out = shared
                    .xrpc
                    .create_record(&account.access_jwt, &account.did, &record)
                    .await;
                count(&mut tally, t0.elapsed(), &out);
                if let Ok(written) = out.result {
                    thread = Some(match thread.take() {
                        Some(t) if replying => Thread {
                            root: t.root,
                            parent: written.clone(),
                        },
                        _ => Thread {
                            root: written.clone(),
                            parent: written.clone(),
                        },
                    });
                    if shared.scenario == Scenario::Mixed {
                        lock(&shared.records).push(written);
                    }
                }
            }
            Op::Read => {
                let target = {
                    let pool = lock(&shared.records);
                    pool.get(rng.below(pool.len())).cloned()
                };
                // Setup guarantees seed posts, so the pool is never empty here.
                let Some(target) = target else { break };
                let t0 = Instant::now();
                let out = shared.xrpc.get_record(&target).await;
                count(&mut tally, t0.elapsed(), &out);
            }
            Op::Signup => {
                let handle = shared.signup.handle("la", n);
                let email = email_for(&handle);
                let t0 = Instant::now();
                let out = shared
                    .xrpc
                    .create_account(&shared.signup.account(&handle, &email))
                    .await;
                count(&mut tally, t0.elapsed(), &out);
            }
        }
    }
    tally
}

fn count<T>(tally: &mut Tally, latency: Duration, out: &Outcome<T>) {
    let result = out.result.as_ref().map(|_| ());
    tally.record(latency, result, out.sent, out.received);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The pool is a plain Vec: a panic elsewhere cannot leave it half-updated.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn setup<T>(out: Outcome<T>, step: &str) -> Result<T, Error> {
    out.result.map_err(|failure| Error::Setup {
        step: step.to_owned(),
        failure,
    })
}

fn check_handle(handle: &str) -> Result<(), Error> {
    Handle::parse(handle)
        .map(|_| ())
        .map_err(|e| Error::InvalidConfig {
            field: "handle domain",
            reason: format!("generated handle {handle:?} is invalid: {e}"),
        })
}

/// A unique, obviously fake address per account (the reference PDS requires an email).
fn email_for(handle: &str) -> String {
    let local = handle.split('.').next().unwrap_or(handle);
    format!("{local}@example.com")
}

/// `len` characters from `[a-z0-9]`, from the OS random source: handles must not collide
/// with an earlier run against the same server.
fn random_token(len: usize) -> Result<String, Error> {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_handles_fit_the_reference_length_limit() {
        let signup = Signup {
            run_id: random_token(6).unwrap(),
            domain: ".test".to_owned(),
            password: String::new(),
            invite_code: None,
        };
        for (prefix, n) in [("lb", 99_999), ("la", 9_999_999)] {
            let h = signup.handle(prefix, n);
            check_handle(&h).unwrap();
            let front = h.split('.').next().unwrap();
            assert!(front.len() <= 18, "{h}");
        }
        assert_eq!(email_for("lbabc1.test"), "lbabc1@example.com");
    }
}
