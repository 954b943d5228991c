use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aerie_data::{Cid, Codec};
use aerie_syntax::Did;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::fs::{self, File};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufWriter};

use crate::error::BlobError;
use crate::sniff::{SNIFF_LEN, choose_mime};

/// Bytes buffered in memory per upload before they are written to the temporary file.
/// Chunks at least this large go straight to the file.
pub const WRITE_BUFFER: usize = 64 * 1024;

const TMP_DIR: &str = "tmp";
const BLOCKS_DIR: &str = "blocks";
const QUARANTINE_DIR: &str = "quarantine";
/// Random bytes in a temporary key (hex-encoded, so keys are 32 characters).
const TEMP_KEY_BYTES: usize = 16;
/// DIDs longer than this are stored under a hashed directory name, because a DID may be
/// up to 2,048 bytes and most file systems cap a name at 255.
const MAX_PLAIN_DID_DIR: usize = 200;

/// The key of a temporary upload: 32 lowercase hex characters, random.
///
/// Only keys of this shape are accepted, so a key read back from the database can never
/// name a path outside the temporary directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TempKey(String);

impl TempKey {
    /// Checks the shape of a key (as stored by the PDS) and wraps it.
    pub fn parse(s: &str) -> Result<TempKey, BlobError> {
        let ok = s.len() == TEMP_KEY_BYTES * 2
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(TempKey(s.to_owned()))
        } else {
            Err(BlobError::InvalidTempKey(s.to_owned()))
        }
    }

    fn random() -> Result<TempKey, BlobError> {
        let mut bytes = [0u8; TEMP_KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| BlobError::Random(e.to_string()))?;
        Ok(TempKey(data_encoding::HEXLOWER.encode(&bytes)))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TempKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an upload produced: where it waits, and what the blob ref must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempBlob {
    /// Key of the temporary file, kept by the PDS until a record references the blob.
    pub key: TempKey,
    /// Raw (0x55) sha2-256 CID of the content.
    pub cid: Cid,
    /// Size in bytes.
    pub size: u64,
    /// Sniffed or declared MIME type (see [`crate::choose_mime`]).
    pub mime: String,
}

/// An open permanent blob, ready to be streamed out.
#[derive(Debug)]
pub struct BlobFile {
    file: File,
    size: u64,
}

impl BlobFile {
    /// Size in bytes (for `Content-Length`).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The open file.
    pub fn into_file(self) -> File {
        self.file
    }

    /// The content as a stream of chunks, e.g. for `axum::body::Body::from_stream`.
    pub fn into_stream(self) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        tokio_util::io::ReaderStream::with_capacity(self.file, WRITE_BUFFER)
    }
}

/// A blob store on local disk, under `PDS_BLOBSTORE_DISK_LOCATION`.
///
/// Layout (all under one root, so the final rename never crosses file systems):
/// - `tmp/<key>`: uploads not yet referenced by a record. `key` is a random [`TempKey`].
///   Swept by the PDS with [`BlobStore::list_temp_older_than`] + [`BlobStore::delete_temp`].
/// - `blocks/<did>/<cid>`: permanent blobs, per account as in the reference PDS (the same
///   bytes uploaded by two accounts are stored twice, so deleting one account never
///   touches another's blobs). `<cid>` is the base32 string form (`bafkrei…`). `<did>` is
///   the DID verbatim (DID syntax excludes `/`, and the `did:` prefix excludes `.` and
///   `..`), or `did-sha256-<hex>` of it when longer than 200 bytes.
/// - `quarantine/<did>/<cid>`: taken-down blobs, moved out of `blocks` so they are not
///   served, and moved back on reversal.
///
/// Cheap to clone: a handle to shared, immutable paths.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    tmp: PathBuf,
    blocks: PathBuf,
    quarantine: PathBuf,
}

impl BlobStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub async fn open(root: impl Into<PathBuf>) -> Result<BlobStore, BlobError> {
        let root = root.into();
        let inner = Inner {
            tmp: root.join(TMP_DIR),
            blocks: root.join(BLOCKS_DIR),
            quarantine: root.join(QUARANTINE_DIR),
            root,
        };
        for dir in [&inner.tmp, &inner.blocks, &inner.quarantine] {
            fs::create_dir_all(dir)
                .await
                .map_err(BlobError::io("create blob store directory", dir))?;
        }
        Ok(BlobStore {
            inner: Arc::new(inner),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Starts a temporary upload of at most `limit` bytes. Feed it with
    /// [`TempUpload::write`] and end with [`TempUpload::finish`]; dropping it unfinished
    /// removes the file.
    pub async fn begin_temp(&self, limit: u64) -> Result<TempUpload, BlobError> {
        let key = TempKey::random()?;
        let path = self.inner.tmp.join(key.as_str());
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(BlobError::io("create temporary file", &path))?;
        Ok(TempUpload {
            key,
            path,
            file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
            hasher: Sha256::new(),
            size: 0,
            limit,
            head: Vec::new(),
        })
    }

    /// Streams a request body into a temporary file, hashing as it goes; never holds more
    /// than one chunk plus [`WRITE_BUFFER`] in memory. `declared` is the request's
    /// `Content-Type`, used only when sniffing finds nothing.
    pub async fn put_temp_stream<S, B, E>(
        &self,
        body: S,
        limit: u64,
        declared: Option<&str>,
    ) -> Result<TempBlob, BlobError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut upload = self.begin_temp(limit).await?;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => upload.write(chunk.as_ref()).await?,
                Err(e) => {
                    upload.abort().await;
                    return Err(BlobError::Body { source: e.into() });
                }
            }
        }
        upload.finish(declared).await
    }

    /// Like [`BlobStore::put_temp_stream`], reading from an `AsyncRead`.
    pub async fn put_temp_reader<R>(
        &self,
        reader: R,
        limit: u64,
        declared: Option<&str>,
    ) -> Result<TempBlob, BlobError>
    where
        R: AsyncRead,
    {
        let mut upload = self.begin_temp(limit).await?;
        let mut reader = std::pin::pin!(reader);
        let mut buf = vec![0u8; WRITE_BUFFER];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => upload.write(&buf[..n]).await?,
                Err(e) => {
                    upload.abort().await;
                    return Err(BlobError::Body {
                        source: Box::new(e),
                    });
                }
            }
        }
        upload.finish(declared).await
    }

    /// Moves a temporary upload to `blocks/<did>/<cid>` and makes the rename durable.
    ///
    /// `cid` must be the one [`TempBlob`] reported for `key`; it is not re-hashed (the PDS
    /// stored both together). Replacing an existing permanent copy is harmless: the name
    /// is the content hash. Idempotent: when the temporary file is gone but the permanent
    /// one exists (a retry after a crash), this succeeds.
    pub async fn make_permanent(
        &self,
        did: &Did,
        key: &TempKey,
        cid: &Cid,
    ) -> Result<(), BlobError> {
        if cid.codec() != Codec::Raw {
            return Err(BlobError::NotRawCid(*cid));
        }
        let from = self.inner.tmp.join(key.as_str());
        let dir = self.inner.blocks.join(account_dir(did));
        let created = ensure_dir(&dir).await?;
        let to = dir.join(cid.to_string());
        match fs::rename(&from, &to).await {
            Ok(()) => {}
            // A retry after a crash between this rename and the PDS clearing its temp key:
            // the blob is already where it belongs, which is all the caller wants.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && fs::try_exists(&to).await.unwrap_or(false) =>
            {
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::TempNotFound {
                    key: key.to_string(),
                });
            }
            Err(e) => return Err(BlobError::io("move blob into place", &to)(e)),
        }
        sync_dir(&dir).await?;
        if created {
            sync_dir(&self.inner.blocks).await?;
        }
        Ok(())
    }

    /// Opens a permanent blob for reading.
    pub async fn get(&self, did: &Did, cid: &Cid) -> Result<BlobFile, BlobError> {
        let path = self.blob_path(did, cid);
        let file = match File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound {
                    did: did.to_string(),
                    cid: *cid,
                });
            }
            Err(e) => return Err(BlobError::io("open blob", &path)(e)),
        };
        let size = file
            .metadata()
            .await
            .map_err(BlobError::io("stat blob", &path))?
            .len();
        Ok(BlobFile { file, size })
    }

    /// Whether a permanent (not quarantined) blob exists.
    pub async fn exists(&self, did: &Did, cid: &Cid) -> Result<bool, BlobError> {
        let path = self.blob_path(did, cid);
        fs::try_exists(&path)
            .await
            .map_err(BlobError::io("check blob", &path))
    }

    /// Deletes a permanent blob (also from quarantine). Returns whether anything was there.
    pub async fn delete(&self, did: &Did, cid: &Cid) -> Result<bool, BlobError> {
        let dir = account_dir(did);
        let name = cid.to_string();
        let mut found = false;
        for base in [&self.inner.blocks, &self.inner.quarantine] {
            found |= remove_file_if_exists(&base.join(&dir).join(&name)).await?;
        }
        Ok(found)
    }

    /// Deletes every blob of an account (account deletion).
    pub async fn delete_all(&self, did: &Did) -> Result<(), BlobError> {
        let dir = account_dir(did);
        for base in [&self.inner.blocks, &self.inner.quarantine] {
            let path = base.join(&dir);
            match fs::remove_dir_all(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(BlobError::io("delete account blobs", &path)(e)),
            }
        }
        Ok(())
    }

    /// Takes a blob down: moves it out of `blocks` so [`BlobStore::get`] no longer finds it.
    pub async fn quarantine(&self, did: &Did, cid: &Cid) -> Result<(), BlobError> {
        self.move_between(did, cid, &self.inner.blocks, &self.inner.quarantine)
            .await
    }

    /// Reverses [`BlobStore::quarantine`].
    pub async fn unquarantine(&self, did: &Did, cid: &Cid) -> Result<(), BlobError> {
        self.move_between(did, cid, &self.inner.quarantine, &self.inner.blocks)
            .await
    }

    /// Temporary uploads last modified before `cutoff` (the GC sweep's candidates).
    /// Files vanishing during the listing are skipped; stray names are ignored.
    pub async fn list_temp_modified_before(
        &self,
        cutoff: SystemTime,
    ) -> Result<Vec<TempKey>, BlobError> {
        let tmp = &self.inner.tmp;
        let mut entries = fs::read_dir(tmp)
            .await
            .map_err(BlobError::io("list temporary blobs", tmp))?;
        let mut old = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(BlobError::io("list temporary blobs", tmp))?
        {
            let Some(key) = entry
                .file_name()
                .to_str()
                .and_then(|n| TempKey::parse(n).ok())
            else {
                continue;
            };
            let modified = match entry.metadata().await.and_then(|m| m.modified()) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(BlobError::io("stat temporary blob", entry.path())(e)),
            };
            if modified < cutoff {
                old.push(key);
            }
        }
        old.sort();
        Ok(old)
    }

    /// Temporary uploads not written to for at least `age`.
    pub async fn list_temp_older_than(&self, age: Duration) -> Result<Vec<TempKey>, BlobError> {
        let cutoff = SystemTime::now()
            .checked_sub(age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        self.list_temp_modified_before(cutoff).await
    }

    /// Removes a temporary upload. Returns whether it was there.
    pub async fn delete_temp(&self, key: &TempKey) -> Result<bool, BlobError> {
        remove_file_if_exists(&self.inner.tmp.join(key.as_str())).await
    }

    fn blob_path(&self, did: &Did, cid: &Cid) -> PathBuf {
        self.inner
            .blocks
            .join(account_dir(did))
            .join(cid.to_string())
    }

    async fn move_between(
        &self,
        did: &Did,
        cid: &Cid,
        from_base: &Path,
        to_base: &Path,
    ) -> Result<(), BlobError> {
        let dir = account_dir(did);
        let name = cid.to_string();
        let from = from_base.join(&dir).join(&name);
        let to_dir = to_base.join(&dir);
        let created = ensure_dir(&to_dir).await?;
        match fs::rename(&from, to_dir.join(&name)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound {
                    did: did.to_string(),
                    cid: *cid,
                });
            }
            Err(e) => return Err(BlobError::io("move blob", &from)(e)),
        }
        sync_dir(&to_dir).await?;
        if created {
            sync_dir(to_base).await?;
        }
        sync_dir(&from_base.join(&dir)).await
    }
}

/// An upload in progress. See [`BlobStore::begin_temp`].
#[derive(Debug)]
pub struct TempUpload {
    key: TempKey,
    path: PathBuf,
    /// `None` once the file was removed (failure) or handed over (finished).
    file: Option<BufWriter<File>>,
    hasher: Sha256,
    size: u64,
    limit: u64,
    /// The first [`SNIFF_LEN`] bytes, for MIME sniffing at the end.
    head: Vec<u8>,
}

impl TempUpload {
    /// The key this upload will be stored under.
    pub fn key(&self) -> &TempKey {
        &self.key
    }

    /// Bytes accepted so far.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Appends a chunk. Fails with [`BlobError::TooLarge`] as soon as the total passes the
    /// limit; after any failure the temporary file is gone and the upload is dead.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        let Some(file) = self.file.as_mut() else {
            return Err(BlobError::TempNotFound {
                key: self.key.to_string(),
            });
        };
        let total = self.size.saturating_add(chunk.len() as u64);
        if total > self.limit {
            let limit = self.limit;
            self.discard().await;
            return Err(BlobError::TooLarge { limit });
        }
        if let Err(e) = file.write_all(chunk).await {
            let err = BlobError::io("write temporary file", &self.path)(e);
            self.discard().await;
            return Err(err);
        }
        self.hasher.update(chunk);
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.size = total;
        Ok(())
    }

    /// Flushes and fsyncs the file, and reports the blob. `declared` is the request's
    /// `Content-Type`, used only when sniffing finds nothing.
    pub async fn finish(mut self, declared: Option<&str>) -> Result<TempBlob, BlobError> {
        let Some(mut file) = self.file.take() else {
            return Err(BlobError::TempNotFound {
                key: self.key.to_string(),
            });
        };
        let synced = async {
            file.flush().await?;
            file.get_mut().sync_all().await
        }
        .await;
        if let Err(e) = synced {
            let err = BlobError::io("sync temporary file", &self.path)(e);
            drop(file);
            remove_quietly(&self.path).await;
            return Err(err);
        }
        let digest: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        Ok(TempBlob {
            key: self.key.clone(),
            cid: Cid::from_digest(Codec::Raw, digest),
            size: self.size,
            mime: choose_mime(&self.head, declared),
        })
    }

    /// Gives up and removes the temporary file.
    pub async fn abort(mut self) {
        self.discard().await;
    }

    async fn discard(&mut self) {
        if self.file.take().is_some() {
            remove_quietly(&self.path).await;
        }
    }
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        // A request handler cancelled mid-upload (client disconnect) drops the future and
        // with it this value; remove the partial file now rather than waiting for the sweep.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn remove_quietly(path: &Path) {
    // Best effort: a leftover file is collected by the temporary sweep.
    let _ = fs::remove_file(path).await;
}

async fn remove_file_if_exists(path: &Path) -> Result<bool, BlobError> {
    match fs::remove_file(path).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(BlobError::io("delete blob", path)(e)),
    }
}

/// Creates `dir` if missing; returns whether it had to be created (so the caller also
/// syncs the parent, making the new entry durable).
async fn ensure_dir(dir: &Path) -> Result<bool, BlobError> {
    match fs::create_dir(dir).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(BlobError::io("create account blob directory", dir)(e)),
    }
}

/// fsync on a directory makes renames and creations inside it durable.
async fn sync_dir(dir: &Path) -> Result<(), BlobError> {
    let d = File::open(dir)
        .await
        .map_err(BlobError::io("open directory for sync", dir))?;
    d.sync_all()
        .await
        .map_err(BlobError::io("sync directory", dir))
}

/// The directory name of an account's blobs.
fn account_dir(did: &Did) -> String {
    let s = did.as_str();
    if s.len() <= MAX_PLAIN_DID_DIR {
        s.to_owned()
    } else {
        format!(
            "did-sha256-{}",
            data_encoding::HEXLOWER.encode(&Sha256::digest(s.as_bytes()))
        )
    }
}
