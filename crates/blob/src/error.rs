use std::path::PathBuf;

use aerie_data::Cid;

/// Why a blob store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The upload grew past the size limit; the partial temporary file is already removed.
    /// The PDS answers 413 PayloadTooLarge (the reference's `BlobTooLarge`).
    #[error("blob is larger than the upload limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes that was exceeded.
        limit: u64,
    },
    /// The request body failed while it was being read (client went away, bad chunking);
    /// the partial temporary file is already removed.
    #[error("reading the upload body failed: {source}")]
    Body {
        /// What the body stream reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No permanent blob with this CID exists for this account (or it is quarantined).
    #[error("blob {cid} not found for {did}")]
    NotFound {
        /// The account.
        did: String,
        /// The blob.
        cid: Cid,
    },
    /// No temporary upload with this key exists (already made permanent, or swept).
    #[error("temporary blob {key} not found")]
    TempNotFound {
        /// The temporary key.
        key: String,
    },
    /// A temporary key that this store could not have issued (wrong length or characters).
    #[error("invalid temporary blob key {0:?}")]
    InvalidTempKey(String),
    /// A blob CID that is not a raw (0x55) CID; blobs are never dag-cbor.
    #[error("blob CID {0} does not use the raw codec")]
    NotRawCid(Cid),
    /// The operating system's random source failed (temporary keys are random).
    #[error("no randomness for a temporary key: {0}")]
    Random(String),
    /// The operating system refused a file operation.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done, e.g. "create temporary file".
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl BlobError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> BlobError {
        let path = path.into();
        move |source| BlobError::Io { op, path, source }
    }
}
