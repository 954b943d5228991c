//! The store's error type.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error while doing `context`.
    #[error("sqlite error while {context}: {source}")]
    Sqlite {
        /// What the store was doing.
        context: &'static str,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A UNIQUE or PRIMARY KEY constraint refused a row (e.g. a taken handle).
    #[error("{what} already exists")]
    Conflict {
        /// Which value collided, for the caller's message.
        what: &'static str,
    },
    /// The writer thread is gone (store shut down or it panicked).
    #[error("the store's writer thread has stopped")]
    WriterStopped,
    /// The batch holding this job could not be committed, so nothing of it was written.
    #[error("write not committed: {0}")]
    CommitFailed(String),
    /// A blocking reader task failed to run.
    #[error("reader task failed: {0}")]
    ReaderTask(String),
    /// The database was written by a newer Aerie with a schema we do not know.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// `user_version` in the file.
        found: i64,
        /// The latest version this build knows.
        supported: i64,
    },
    /// Stored bytes did not decode as expected.
    #[error("corrupt stored value in {table}: {detail}")]
    Corrupt {
        /// The table holding the bad value.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The database directory could not be prepared.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl StoreError {
    /// Wraps a SQLite error with what we were doing.
    pub fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| StoreError::Sqlite { context, source }
    }

    /// Like [`StoreError::sqlite`], but a constraint violation becomes `Conflict { what }`,
    /// so a taken handle or an existing row is a client error, not a 500.
    pub fn unique(
        context: &'static str,
        what: &'static str,
    ) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| {
            if is_constraint_violation(&source) {
                StoreError::Conflict { what }
            } else {
                StoreError::Sqlite { context, source }
            }
        }
    }
}

fn is_constraint_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}
