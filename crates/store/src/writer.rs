//! The store handle: the group-committing writer thread and the reader pool.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::{StoreError, migrate};

/// What a finished job is told about the commit of its batch.
type Completion = Box<dyn FnOnce(Result<(), &str>) + Send>;
/// A queued write: runs inside the batch transaction, reports whether it succeeded (so the
/// writer knows whether to keep or roll back its savepoint) and how to answer its caller.
type Job = Box<dyn FnOnce(&Transaction<'_>) -> (bool, Completion) + Send>;

/// Tuning for [`Store::open`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Read-only connections kept in the pool.
    pub readers: usize,
    /// Most jobs committed in one transaction; bounds the latency a large batch adds.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            readers: 4,
            max_batch: 512,
        }
    }
}

/// Counters of the writer, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Committed transactions; with `synchronous=FULL` in WAL mode, one fsync each.
    pub transactions: u64,
    /// Jobs that ran (whether they succeeded or rolled back).
    pub jobs: u64,
    /// Jobs whose savepoint was rolled back.
    pub failed_jobs: u64,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    jobs: AtomicU64,
    failed_jobs: AtomicU64,
}

/// A cheap, cloneable handle to the database. The writer thread stops once every clone is
/// dropped and the queue is drained.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    // mpsc::Sender is Sync, so no lock is needed to enqueue.
    jobs: mpsc::Sender<Job>,
    // A std mutex: it is held only to push/pop a connection, never across a query or await.
    readers: Mutex<Vec<Connection>>,
    max_readers: usize,
    path: PathBuf,
    counters: Arc<Counters>,
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Opens (creating if needed) the database at `path`, runs migrations and starts the
    /// writer thread.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                context: format!("creating {}", dir.display()),
                source,
            })?;
        }
        let mut conn = Connection::open(path).map_err(StoreError::sqlite("opening database"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(StoreError::sqlite("setting busy timeout"))?;
        // WAL: readers never block the writer. synchronous=FULL: a commit is on disk (the WAL
        // is fsynced) before COMMIT returns, which is what lets us acknowledge after commit.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(StoreError::sqlite("enabling WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt {
                table: "(pragma)",
                detail: format!("journal_mode stayed {mode}"),
            });
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(StoreError::sqlite("setting pragmas"))?;
        migrate::migrate(&mut conn)?;

        let (tx, rx) = mpsc::channel::<Job>();
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let max_batch = options.max_batch.max(1);
        std::thread::Builder::new()
            .name("aerie-store-writer".into())
            .spawn(move || writer_loop(conn, rx, &thread_counters, max_batch))
            .map_err(|source| StoreError::Io {
                context: "spawning the writer thread".into(),
                source,
            })?;
        Ok(Store {
            inner: Arc::new(Inner {
                jobs: tx,
                readers: Mutex::new(Vec::new()),
                max_readers: options.readers.max(1),
                path: path.to_path_buf(),
                counters,
            }),
        })
    }

    /// Queues a write job and returns a future for its result. The job is queued
    /// immediately (before the future is polled); the future resolves once the transaction
    /// holding the job has committed, or with the job's own error after its savepoint was
    /// rolled back. Other jobs of the same batch are unaffected by this job's failure.
    pub fn write<T, E, F>(&self, job: F) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, E>>();
        let boxed: Job = Box::new(move |tx| {
            let result = job(tx);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit| {
                let out = match (result, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(msg)) => Err(E::from(StoreError::CommitFailed(msg.to_owned()))),
                    (Err(e), _) => Err(e),
                };
                // The caller may have stopped waiting; the write is durable either way.
                let _ = reply.send(out);
            });
            (ok, completion)
        });
        let queued = self.inner.jobs.send(boxed).is_ok();
        async move {
            if !queued {
                return Err(E::from(StoreError::WriterStopped));
            }
            answer
                .await
                .unwrap_or_else(|_| Err(E::from(StoreError::WriterStopped)))
        }
    }

    /// Runs `f` on a pooled read-only connection on a blocking thread.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.with_reader(f))
            .await
            .map_err(|e| E::from(StoreError::ReaderTask(e.to_string())))?
    }

    /// Like [`Store::read`], for callers already on a blocking thread.
    pub fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E>,
        E: From<StoreError>,
    {
        self.inner.with_reader(f)
    }

    /// The writer's counters so far.
    pub fn stats(&self) -> WriteStats {
        let c = &self.inner.counters;
        WriteStats {
            transactions: c.transactions.load(Ordering::Relaxed),
            jobs: c.jobs.load(Ordering::Relaxed),
            failed_jobs: c.failed_jobs.load(Ordering::Relaxed),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

impl Inner {
    fn with_reader<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E>,
        E: From<StoreError>,
    {
        let pooled = self.readers.lock().ok().and_then(|mut v| v.pop());
        let conn = match pooled {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < self.max_readers
        {
            pool.push(conn);
        }
        result
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(StoreError::sqlite("opening reader"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(StoreError::sqlite("setting busy timeout"))?;
        Ok(conn)
    }
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Job>, counters: &Counters, max: usize) {
    let mut batch: Vec<Job> = Vec::with_capacity(max);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        // Everything that queued up while the previous batch was committing rides along.
        while batch.len() < max {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, &mut batch, counters);
    }
}

fn run_batch(conn: &mut Connection, batch: &mut Vec<Job>, counters: &Counters) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            // Dropping the jobs answers each caller with WriterStopped; nothing was written.
            tracing::error!(error = %e, "store: cannot begin write transaction");
            batch.clear();
            return;
        }
    };
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    let mut broken = None;
    for job in batch.drain(..) {
        counters.jobs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = tx.execute_batch("SAVEPOINT job") {
            broken = Some(format!("savepoint failed: {e}"));
            break;
        }
        // A panicking job must not take the writer (and every later write) down with it.
        let outcome = catch_unwind(AssertUnwindSafe(|| job(&tx)));
        let keep = match outcome {
            Ok((ok, completion)) => {
                completions.push(completion);
                ok
            }
            Err(_) => false,
        };
        let end = if keep {
            "RELEASE job"
        } else {
            counters.failed_jobs.fetch_add(1, Ordering::Relaxed);
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = tx.execute_batch(end) {
            broken = Some(format!("ending savepoint failed: {e}"));
            break;
        }
    }
    let result = match broken {
        Some(msg) => {
            let _ = tx.rollback();
            Err(msg)
        }
        None => match tx.commit() {
            Ok(()) => {
                counters.transactions.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(format!("commit failed: {e}")),
        },
    };
    if let Err(msg) = &result {
        tracing::error!(error = %msg, "store: write batch not committed");
    }
    for c in completions {
        c(result.as_ref().map(|_| ()).map_err(String::as_str));
    }
}
