//! aerie-blob: the PDS blob store on local disk.
//!
//! An upload (`com.atproto.repo.uploadBlob`) is streamed into a temporary file while it is
//! hashed (raw sha2-256 CID), counted against the size limit and sniffed for its MIME type;
//! nothing holds the whole body in memory. When a committed record references the blob the
//! PDS calls [`BlobStore::make_permanent`], which renames the file to
//! `blocks/<did>/<cid>`; uploads never referenced are swept with
//! [`BlobStore::list_temp_older_than`] and [`BlobStore::delete_temp`]. The directory layout
//! is documented on [`BlobStore`]. [`serve_headers`] gives `getBlob`'s safety headers.
//!
//! ```
//! use aerie_blob::BlobStore;
//! use aerie_data::Cid;
//! use aerie_syntax::Did;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = BlobStore::open(dir.path()).await?;
//! let png = b"\x89PNG\r\n\x1a\n rest of the image";
//! let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(&png[..8]), Ok(&png[8..])]);
//! // The Python SDK declares `*/*`: the sniffed type wins.
//! let temp = store.put_temp_stream(chunks, 5 * 1024 * 1024, Some("*/*")).await?;
//! assert_eq!(temp.mime, "image/png");
//! assert_eq!(temp.cid, Cid::for_raw(png));
//!
//! let did = Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz")?;
//! store.make_permanent(&did, &temp.key, &temp.cid).await?;
//! assert_eq!(store.get(&did, &temp.cid).await?.size(), png.len() as u64);
//! # Ok(())
//! # }
//! ```
//!
//! Architecture invariant: the store knows files, not records. Which blobs are referenced,
//! their metadata and takedown state live in the PDS database; the store never scans
//! `blocks/` to answer a question.
#![deny(missing_docs)]

mod error;
mod serve;
mod sniff;
mod store;

pub use error::BlobError;
pub use serve::serve_headers;
pub use sniff::{OCTET_STREAM, SNIFF_LEN, choose_mime, sniff};
pub use store::{BlobFile, BlobStore, TempBlob, TempKey, TempUpload, WRITE_BUFFER};
