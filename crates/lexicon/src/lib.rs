//! aerie-lexicon: Lexicon schemas and record validation.
//!
//! - [`Catalog`]: parsed lexicon documents, with refs resolved across documents.
//!   [`Catalog::builtin`] holds the record types a PDS meets (`com.atproto.*`, `app.bsky.*`,
//!   `chat.bsky.*` and everything they reference), embedded from `crates/lexicon/schemas`.
//! - [`Catalog::validate_record`]: a data-model [`Value`](aerie_data::Value) against a record
//!   schema, with the reference implementation's error messages and paths
//!   (`Record/embed/images/0/alt must be a string`).
//! - [`validate_for_write`] and [`check_rkey`]: the PDS's write-time rules (the `validate`
//!   flag, `validationStatus`, the schema's record key type).
//!
//! Blob refs are checked against the schema's `accept` and `maxSize` using the size and MIME
//! type the ref declares; that the stored blob matches its ref is the blob store's job.
//!
//! ```
//! use std::collections::BTreeMap;
//! use aerie_data::Value;
//! use aerie_lexicon::{Catalog, ValidationStatus, validate_for_write};
//! use aerie_syntax::Nsid;
//!
//! let post = Value::Map(BTreeMap::from([
//!     ("$type".to_owned(), Value::String("app.bsky.feed.post".into())),
//!     ("createdAt".to_owned(), Value::String("2024-05-01T12:00:00.000Z".into())),
//! ]));
//! let collection = Nsid::parse("app.bsky.feed.post").unwrap();
//! let err = validate_for_write(Catalog::builtin(), &collection, &post, None).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     r#"Invalid app.bsky.feed.post record: Record must have the property "text""#
//! );
//!
//! let other = Nsid::parse("com.example.unknown").unwrap();
//! let status = validate_for_write(Catalog::builtin(), &other, &Value::Map(BTreeMap::new()), None);
//! assert_eq!(status, Ok(Some(ValidationStatus::Unknown)));
//! ```
#![deny(missing_docs)]

mod catalog;
mod error;
mod formats;
mod schema;
mod validate;
mod write;

pub use catalog::Catalog;
pub use error::ValidationError;
pub use schema::KeyType;
pub use write::{ValidationStatus, check_rkey, validate_for_write};
