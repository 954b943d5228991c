//! Blob bytes on local disk, through `aerie_blob::BlobStore` rooted at
//! `PDS_BLOBSTORE_DISK_LOCATION`: uploads stream into `tmp/<key>` and are renamed to
//! `blocks/<did>/<cid>` before the metadata row is committed, so a crash never leaves a
//! partial blob under its CID name, nor a row without bytes.

use std::path::PathBuf;

use aerie_blob::{BlobError, BlobFile, BlobStore, TempBlob};
use aerie_data::Cid;
use aerie_syntax::Did;
use aerie_xrpc::XrpcError;
use bytes::Bytes;
use futures_util::Stream;

/// The disk blob store.
#[derive(Debug, Clone)]
pub struct DiskBlobs {
    store: BlobStore,
}

fn did_of(did: &str) -> Result<Did, XrpcError> {
    Did::parse(did).map_err(|e| XrpcError::invalid_request(format!("Invalid did {did}: {e}")))
}

fn blob_error(e: BlobError) -> XrpcError {
    match e {
        BlobError::TooLarge { .. } => XrpcError::payload_too_large(),
        BlobError::Body { source } => {
            XrpcError::invalid_request(format!("could not read request body: {source}"))
        }
        e => XrpcError::internal(e),
    }
}

impl DiskBlobs {
    /// Blobs under `root` (its `tmp`, `blocks` and `quarantine` directories are created now).
    pub async fn open(root: PathBuf) -> Result<Self, BlobError> {
        Ok(DiskBlobs {
            store: BlobStore::open(root).await?,
        })
    }

    /// Streams an upload body of at most `limit` bytes to disk (hashed and sniffed on the
    /// way, never held in memory), then moves it to its permanent place for `did`. The MIME
    /// type is the sniffed one, else `declared`.
    pub async fn put_stream<S, E>(
        &self,
        did: &str,
        body: S,
        limit: u64,
        declared: Option<&str>,
    ) -> Result<TempBlob, XrpcError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let did = did_of(did)?;
        let temp = self
            .store
            .put_temp_stream(body, limit, declared)
            .await
            .map_err(blob_error)?;
        self.store
            .make_permanent(&did, &temp.key, &temp.cid)
            .await
            .map_err(blob_error)?;
        Ok(temp)
    }

    /// Removes blob `cid` of `did`; true if it was there. Called only after the metadata row
    /// is gone (committed), so a crash in between leaves an orphan file, never a row
    /// without bytes.
    pub async fn delete(&self, did: &str, cid: &Cid) -> Result<bool, XrpcError> {
        self.store
            .delete(&did_of(did)?, cid)
            .await
            .map_err(blob_error)
    }

    /// Removes every blob of `did` (account deletion).
    pub async fn delete_all(&self, did: &str) -> Result<(), XrpcError> {
        self.store
            .delete_all(&did_of(did)?)
            .await
            .map_err(blob_error)
    }

    /// Moves blob `cid` of `did` out of reach of [`DiskBlobs::get`] (a takedown); a blob
    /// already moved is not an error.
    pub async fn quarantine(&self, did: &str, cid: &Cid) -> Result<(), XrpcError> {
        match self.store.quarantine(&did_of(did)?, cid).await {
            Ok(()) | Err(BlobError::NotFound { .. }) => Ok(()),
            Err(e) => Err(blob_error(e)),
        }
    }

    /// Reverses [`DiskBlobs::quarantine`]; a blob already back is not an error.
    pub async fn unquarantine(&self, did: &str, cid: &Cid) -> Result<(), XrpcError> {
        match self.store.unquarantine(&did_of(did)?, cid).await {
            Ok(()) | Err(BlobError::NotFound { .. }) => Ok(()),
            Err(e) => Err(blob_error(e)),
        }
    }

    /// Whether blob `cid` of `did` has bytes on disk.
    pub async fn exists(&self, did: &str, cid: &Cid) -> bool {
        match did_of(did) {
            Ok(did) => self.store.exists(&did, cid).await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Blob `cid` of `did` opened for streaming (its size known), if stored.
    pub async fn open_blob(&self, did: &str, cid: &Cid) -> Result<Option<BlobFile>, XrpcError> {
        match self.store.get(&did_of(did)?, cid).await {
            Ok(f) => Ok(Some(f)),
            Err(BlobError::NotFound { .. }) => Ok(None),
            Err(e) => Err(blob_error(e)),
        }
    }

    /// The bytes of blob `cid` of `did`, if stored.
    pub async fn get(&self, did: &str, cid: &Cid) -> Result<Option<Vec<u8>>, XrpcError> {
        use tokio::io::AsyncReadExt;
        let file = match self.store.get(&did_of(did)?, cid).await {
            Ok(f) => f,
            Err(BlobError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(blob_error(e)),
        };
        let mut bytes = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0));
        file.into_file()
            .read_to_end(&mut bytes)
            .await
            .map_err(XrpcError::internal)?;
        Ok(Some(bytes))
    }
}
