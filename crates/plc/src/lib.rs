//! aerie-plc: the `did:plc` method, and a small PLC directory server.
//!
//! The library part has no I/O (time is passed in):
//! - [`Operation`] / [`SignedOperation`]: the three operation types (`plc_operation`,
//!   `plc_tombstone`, and the legacy `create`, verify-only), their canonical DRISL encoding
//!   (`prev` is a *string*, not a link), JSON form, signing, CID and DID derivation.
//! - [`genesis`]: builds and signs a new account's genesis operation.
//! - [`check_incoming`] and [`validate_next`]: the directory's rules for accepting an
//!   operation, including recovery forks by higher-authority rotation keys within 72 hours;
//!   [`verify_log`] checks a whole chain.
//! - [`DocumentData`]: the `/data` form and the rendered DID document.
//!
//! [`server`] is the directory itself (`aerie plc`): axum routes over an append-only,
//! fsynced JSON-lines log file.
//!
//! ```
//! use aerie_crypto::{KeyType, SigningKey};
//! use aerie_plc::{DocumentData, LogEntry, validate_next};
//! use aerie_syntax::{Datetime, Handle};
//!
//! let rotation = SigningKey::generate(KeyType::K256)?;
//! let signing = SigningKey::generate(KeyType::K256)?;
//! let handle = Handle::parse("alice.example.com")?;
//! let (did, op) = aerie_plc::genesis(
//!     &[rotation.public_key()], &signing.public_key(), &handle, "https://pds.example.com", &rotation,
//! )?;
//!
//! let now = Datetime::now();
//! let accepted = validate_next(&did, &[], &op, &now)?;
//! assert_eq!(accepted.cid, op.cid());
//! let log = [LogEntry::new(did.clone(), op.clone(), now)];
//!
//! let data = DocumentData::from_operation(&did, op.operation()).expect("not a tombstone");
//! let doc = data.to_did_document();
//! assert_eq!(doc["service"][0]["serviceEndpoint"], "https://pds.example.com");
//! assert_eq!(doc["alsoKnownAs"][0], "at://alice.example.com");
//! # let _ = log;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Architecture invariant: only [`server`] does I/O; everything else is pure functions of
//! bytes, keys and the `now` passed in.
#![deny(missing_docs)]

mod doc;
mod error;
mod log;
mod op;
pub mod server;

pub use doc::DocumentData;
pub use error::PlcError;
pub use log::{
    Accepted, LogEntry, MAX_OP_BYTES, RECOVERY_WINDOW_SECS, check_incoming, is_plc_did,
    validate_next, verify_log,
};
pub use op::{
    ATPROTO_PDS_SERVICE, ATPROTO_PDS_TYPE, ATPROTO_VERIFICATION_METHOD, LegacyCreate, Operation,
    PlcOperation, Service, SignedOperation, TYPE_LEGACY_CREATE, TYPE_OPERATION, TYPE_TOMBSTONE,
    genesis,
};
