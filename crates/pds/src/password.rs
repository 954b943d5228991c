//! Password hashing with Argon2id (the crate's default parameters: 19 MiB, t=2, p=1) on a small
//! dedicated pool of OS threads.
//!
//! Why a pool and not `spawn_blocking`: one hash costs tens of milliseconds of CPU and 19 MiB
//! of working memory. Allocated per hash through malloc, those buffers stayed resident: once
//! glibc had freed one 19 MiB mmap chunk it raised its dynamic mmap threshold, and every later
//! buffer came from a malloc arena that never shrank (a server grew to 2 GB after a few hundred
//! signups; docs/PERFORMANCE.md). Here each of K workers (K = available parallelism, at most
//! [`MAX_WORKERS`]) owns one buffer for the life of the process and hands it to argon2's
//! `hash_password_into_with_memory`, so at most K hashes run at once and their memory is K
//! buffers, allocated once and never freed. Callers queue on a bounded channel and await a
//! oneshot reply, so async workers never block.
//!
//! Stored hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), the same
//! format and parameters as before the pool existed; verification reads algorithm, version and
//! parameters from the stored string.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use aerie_xrpc::XrpcError;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{mpsc, oneshot};

/// Longest password accepted at signup (reference: 256).
pub const MAX_NEW_PASSWORD_LEN: usize = 256;
/// Longest password checked at login (reference: 512); longer ones simply fail.
pub const MAX_VERIFY_PASSWORD_LEN: usize = 512;

/// Upper bound on hashing threads, so a many-core host keeps memory at 4 x 19 MiB.
const MAX_WORKERS: usize = 4;
/// Jobs that may wait for a worker before callers wait in `send` instead; each waiting job holds
/// only a password and a reply handle.
const QUEUE_DEPTH: usize = 256;
/// Salt length of new hashes (argon2's recommendation, and what the previous path used).
const SALT_LEN: usize = 16;
/// Largest memory a stored hash may ask for (in 1 KiB blocks) when it needs more than a worker's
/// buffer: four times the default, so a foreign hash cannot make one login allocate gigabytes.
const MAX_FOREIGN_BLOCKS: usize = 4 * Params::DEFAULT.block_count();

/// Hashes a password to a PHC string.
pub async fn hash(password: String) -> Result<String, XrpcError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(XrpcError::internal)?;
    on_pool(move |memory| hash_with(memory, password.as_bytes(), &salt))
        .await
        .ok_or_else(|| XrpcError::internal("password hashing pool unavailable"))?
        .map_err(XrpcError::internal)
}

/// Checks a password against a stored PHC string; false on any mismatch or bad hash.
pub async fn verify(password: String, stored: String) -> bool {
    if password.len() > MAX_VERIFY_PASSWORD_LEN {
        return false;
    }
    on_pool(move |memory| verify_with(memory, password.as_bytes(), &stored))
        .await
        .unwrap_or(false)
}

/// The hash [`verify_nothing`] checks against; made on first use with a fixed salt (it guards
/// no secret, it only has to cost what a real hash costs).
static DUMMY: OnceLock<String> = OnceLock::new();
/// The password behind [`DUMMY`]; no account has it, since nobody can log in through it.
const DUMMY_PASSWORD: &[u8] = b"aerie: no such account";

/// Does the work of a failed [`verify`] against a hash nobody's password matches, so an
/// unknown identifier takes as long as a wrong password.
pub async fn verify_nothing(password: String) {
    let _ = on_pool(move |memory| {
        let stored = DUMMY.get_or_init(|| {
            hash_with(memory, DUMMY_PASSWORD, &[0x5a; SALT_LEN]).unwrap_or_default()
        });
        verify_with(memory, password.as_bytes(), stored)
    })
    .await;
}

/// Argon2id with the parameters every stored hash was made with.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Hashes into `memory` (at least `Params::DEFAULT.block_count()` blocks) and encodes the PHC
/// string.
fn hash_with(
    memory: &mut [Block],
    password: &[u8],
    salt: &[u8],
) -> argon2::password_hash::Result<String> {
    let params = Params::DEFAULT;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hasher().hash_password_into_with_memory(password, salt, &mut out, &mut *memory)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(Salt::new(salt)?),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// Recomputes the hash of `password` with the algorithm, version, parameters and salt in
/// `stored` and compares outputs in constant time.
fn verify_with(memory: &mut [Block], password: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    // Also sets the output length to the stored hash's, as argon2's own verifier does.
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let blocks = params.block_count();
    // Only a hash made elsewhere with more memory lands here: a one-off, bounded buffer.
    let mut foreign = Vec::new();
    let memory = if blocks <= memory.len() {
        memory
    } else if blocks <= MAX_FOREIGN_BLOCKS {
        foreign.resize(blocks, Block::new());
        foreign.as_mut_slice()
    } else {
        return false;
    };
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, memory)
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(out).is_ok_and(|computed| computed == *expected)
}

/// A unit of work for a hashing thread, given that thread's buffer.
type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// Runs `work` on a hashing thread; `None` if the pool could not start or the job was lost.
async fn on_pool<T: Send + 'static>(
    work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
) -> Option<T> {
    let (reply, answer) = oneshot::channel();
    let job: Job = Box::new(move |memory| {
        // A caller that went away (client disconnected) no longer needs the 50 ms of CPU.
        if !reply.is_closed() {
            let _ = reply.send(work(memory));
        }
    });
    pool()?.send(job).await.ok()?;
    answer.await.ok()
}

/// The job queue, with its threads started on first use.
fn pool() -> Option<&'static mpsc::Sender<Job>> {
    static POOL: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE_DEPTH);
        let queue = Arc::new(Mutex::new(queue));
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(MAX_WORKERS);
        let mut started = 0;
        for i in 0..workers {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("aerie-argon2-{i}"))
                .spawn(move || work(&queue));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "could not start a password hashing thread"),
            }
        }
        (started > 0).then_some(jobs)
    })
    .as_ref()
}

/// One hashing thread: takes jobs until the queue closes, always with the same buffer.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    // Allocated on the first job, so a server that never hashes never holds the memory.
    let mut memory: Vec<Block> = Vec::new();
    loop {
        // One idle thread waits inside `blocking_recv` holding the lock; the others wait for the
        // lock, which amounts to the same queue. The lock is never held while hashing.
        let next = queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .blocking_recv();
        let Some(job) = next else {
            return;
        };
        if memory.is_empty() {
            memory.resize(Params::DEFAULT.block_count(), Block::new());
        }
        // A panic inside a job must not cost the pool a thread (its caller sees a lost reply).
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// The path used before the pool: argon2's own allocating PHC hasher and verifier.
    fn reference_hash(password: &str) -> String {
        Argon2::default()
            .hash_password(password.as_bytes())
            .expect("reference hash")
            .to_string()
    }

    fn reference_verify(password: &str, stored: &str) -> bool {
        let parsed = PasswordHash::new(stored).expect("reference parse");
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }

    #[tokio::test]
    async fn hash_then_verify_round_trips() {
        let stored = hash("correct horse".into()).await.expect("hash");
        assert!(verify("correct horse".into(), stored).await);
    }

    #[tokio::test]
    async fn wrong_password_does_not_verify() {
        let stored = hash("correct horse".into()).await.expect("hash");
        assert!(!verify("correct horsf".into(), stored.clone()).await);
        assert!(!verify(String::new(), stored).await);
    }

    #[tokio::test]
    async fn new_hashes_keep_the_stored_format_and_parameters() {
        let stored = hash("pw".into()).await.expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let parsed = PasswordHash::new(&stored).expect("parse");
        assert_eq!(parsed.salt.expect("salt").len(), SALT_LEN);
        assert_eq!(parsed.hash.expect("hash").len(), 32);
    }

    #[tokio::test]
    async fn hashes_from_the_previous_path_still_verify() {
        let stored = reference_hash("hunter2-long-enough");
        assert!(verify("hunter2-long-enough".into(), stored.clone()).await);
        assert!(!verify("hunter3-long-enough".into(), stored).await);
    }

    #[tokio::test]
    async fn new_hashes_verify_with_argon2s_own_verifier() {
        let stored = hash("hunter2-long-enough".into()).await.expect("hash");
        assert!(reference_verify("hunter2-long-enough", &stored));
        assert!(!reference_verify("hunter3-long-enough", &stored));
    }

    #[test]
    fn reused_buffer_gives_the_same_hash_as_a_fresh_one() {
        let mut memory = vec![Block::new(); Params::DEFAULT.block_count()];
        let salt = [7u8; SALT_LEN];
        let first = hash_with(&mut memory, b"one", &salt).expect("first");
        // The buffer now holds the state of another password's hash.
        hash_with(&mut memory, b"two", &salt).expect("second");
        let again = hash_with(&mut memory, b"one", &salt).expect("again");
        assert_eq!(first, again);
        let fresh = Argon2::default()
            .hash_password_with_salt(b"one", &salt)
            .expect("fresh")
            .to_string();
        assert_eq!(first, fresh);
    }

    #[tokio::test]
    async fn hashes_with_other_parameters_still_verify() {
        // Smaller and larger memory than the pool's buffer, and Argon2i: read from the string.
        for (algorithm, m_cost) in [
            (Algorithm::Argon2id, 1024),
            (Algorithm::Argon2i, 4096),
            (Algorithm::Argon2id, 2 * Params::DEFAULT_M_COST),
        ] {
            let params = Params::new(m_cost, 1, 1, None).expect("params");
            let stored = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"other params")
                .expect("hash")
                .to_string();
            assert!(
                verify("other params".into(), stored.clone()).await,
                "{stored}"
            );
            assert!(!verify("other paramz".into(), stored).await);
        }
    }

    #[tokio::test]
    async fn malformed_or_oversized_hashes_never_verify() {
        let huge = Params::new(64 * Params::DEFAULT_M_COST, 1, 1, None).expect("params");
        let mut huge_hash = PasswordHash::new(&reference_hash("x")).expect("parse");
        huge_hash.params = ParamsString::try_from(&huge).expect("params string");
        for stored in [
            String::new(),
            "not a hash".to_owned(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ".to_owned(),
            "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
            huge_hash.to_string(),
        ] {
            assert!(!verify("x".into(), stored.clone()).await, "{stored}");
        }
    }

    #[tokio::test]
    async fn overlong_password_never_verifies() {
        let long = "a".repeat(MAX_VERIFY_PASSWORD_LEN + 1);
        let stored = reference_hash(&long);
        assert!(!verify(long, stored).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sixty_four_concurrent_calls_all_complete() {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            tasks.spawn(async move {
                let password = format!("password number {i}");
                let stored = hash(password.clone()).await.expect("hash");
                (
                    verify(password, stored.clone()).await,
                    verify(format!("password number {}", i + 1), stored).await,
                )
            });
        }
        let mut done = 0;
        while let Some(result) = tasks.join_next().await {
            assert_eq!(result.expect("task"), (true, false));
            done += 1;
        }
        assert_eq!(done, 64);
    }

    #[tokio::test]
    async fn verify_nothing_does_a_full_verification() {
        verify_nothing("anything".into()).await;
        // A real Argon2id hash, so the unknown-account path costs what a wrong password costs.
        let dummy = DUMMY.get().expect("dummy made on first use");
        assert!(reference_verify(
            std::str::from_utf8(DUMMY_PASSWORD).expect("ascii"),
            dummy
        ));
    }
}
