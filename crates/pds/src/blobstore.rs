//! Blob bytes on local disk: `<PDS_BLOBSTORE_DISK_LOCATION>/<did>/<cid>`.
//!
//! A blob is written to a temporary file, fsynced, then renamed into place, so a crash never
//! leaves a partial blob under its CID name; the metadata row is committed only after that.

use std::path::PathBuf;

use aerie_data::Cid;
use aerie_xrpc::XrpcError;

/// The disk blob store.
#[derive(Debug, Clone)]
pub struct DiskBlobs {
    root: PathBuf,
}

impl DiskBlobs {
    /// Blobs under `root` (created on first write).
    pub fn new(root: PathBuf) -> Self {
        DiskBlobs { root }
    }

    fn path(&self, did: &str, cid: &Cid) -> PathBuf {
        // DIDs contain ':' which is fine in file names here; '/' cannot occur in a valid DID.
        self.root.join(did).join(cid.to_string())
    }

    /// Stores `bytes` as blob `cid` of `did` (durably, before returning).
    pub async fn put(&self, did: &str, cid: &Cid, bytes: Vec<u8>) -> Result<(), XrpcError> {
        let dir = self.root.join(did);
        let path = self.path(did, cid);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            if path.exists() {
                return Ok(());
            }
            std::fs::create_dir_all(&dir)?;
            let mut nonce = [0u8; 8];
            getrandom::fill(&mut nonce).map_err(std::io::Error::other)?;
            let tmp = dir.join(format!(".tmp-{}", data_encoding::HEXLOWER.encode(&nonce)));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &path)?;
            // The rename is durable once the directory entry is.
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(XrpcError::internal)?
        .map_err(XrpcError::internal)
    }

    /// Removes blob `cid` of `did`; true if it was there. Called only after the metadata row
    /// is gone (committed), so a crash in between leaves an orphan file, never a row
    /// without bytes.
    pub async fn delete(&self, did: &str, cid: &Cid) -> std::io::Result<bool> {
        match tokio::fs::remove_file(self.path(did, cid)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether blob `cid` of `did` has bytes on disk.
    pub async fn exists(&self, did: &str, cid: &Cid) -> bool {
        tokio::fs::try_exists(self.path(did, cid))
            .await
            .unwrap_or(false)
    }

    /// The bytes of blob `cid` of `did`, if stored.
    pub async fn get(&self, did: &str, cid: &Cid) -> Result<Option<Vec<u8>>, XrpcError> {
        match tokio::fs::read(self.path(did, cid)).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(XrpcError::internal(e)),
        }
    }
}

/// The MIME type of common image and video formats from their first bytes; clients such as
/// the Python SDK upload with `*/*`, and the reference sniffs too.
pub fn sniff_mime(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        match &bytes[8..12] {
            b"avif" | b"avis" => Some("image/avif"),
            b"heic" | b"heix" | b"mif1" => Some("image/heic"),
            _ => Some("video/mp4"),
        }
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::sniff_mime;

    #[test]
    fn sniffing_recognises_common_images_and_nothing_else() {
        assert_eq!(sniff_mime(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_mime(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(sniff_mime(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff_mime(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_mime(b"hello"), None);
        assert_eq!(sniff_mime(b""), None);
    }
}
