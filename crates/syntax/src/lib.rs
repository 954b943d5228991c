//! aerie-syntax: validated atproto identifiers.
//!
//! Every identifier the protocol names has a type here, and a value of that type has
//! passed its syntax check. Each type has one constructor, `parse(&str)`, and `FromStr` and
//! serde both go through it; functions elsewhere take these types rather than `&str`.
//!
//! | type | example |
//! |---|---|
//! | [`Did`] | `did:plc:7iza6de2dwap2sbkpav7c6c6` |
//! | [`Handle`] (stored lowercase) | `alice.bsky.social` |
//! | [`AtIdentifier`] (DID or handle) | either of the above |
//! | [`Nsid`] | `app.bsky.feed.post` |
//! | [`Tid`] (+ [`TidClock`]) | `3jzfcijpj2z2a` |
//! | [`RecordKey`] | `self`, or a TID |
//! | [`AtUri`] (Lexicon form) | `at://did:plc:…/app.bsky.feed.post/3jzfcijpj2z2a` |
//! | [`Datetime`] (kept verbatim) | `1985-04-12T23:20:50.123Z` |
//! | [`Language`] | `pt-BR` |
//!
//! plus two checks for Lexicon formats that stay plain strings: [`is_valid_cid_string`]
//! and [`is_valid_uri`].
//!
//! Syntax is the most permissive valid form: a DID with an unknown method or a handle under
//! `.local` parses, and policy lives in separate methods ([`Handle::has_disallowed_tld`]).
//! The checks are hand-written byte loops, without regular expressions, and never panic.
//! The crate has no I/O beyond reading the system clock for TIDs and datetimes.
//!
//! ```
//! use aerie_syntax::{AtUri, Handle, Nsid, RecordKey, Tid, TidClock};
//!
//! let uri = AtUri::parse("at://did:plc:7iza6de2dwap2sbkpav7c6c6/app.bsky.feed.post/3jzfcijpj2z2a")?;
//! assert_eq!(uri.collection().map(Nsid::as_str), Some("app.bsky.feed.post"));
//! assert_eq!(uri.did().map(|d| d.method()), Some("plc"));
//!
//! // Handles are case-insensitive and stored lowercase; policy is a separate question.
//! let handle: Handle = "Alice.Example.TEST".parse()?;
//! assert_eq!(handle.as_str(), "alice.example.test");
//! assert!(handle.has_disallowed_tld(false) && !handle.has_disallowed_tld(true));
//!
//! // TIDs from one clock strictly increase, also past a previous commit's rev.
//! let clock = TidClock::new();
//! let prev = Tid::parse("3jzfcijpj2z2a")?;
//! let rev = clock.next_after(&prev)?;
//! assert!(rev > prev && clock.next() > rev);
//!
//! // A record key from parts, and the errors say what was wrong.
//! let key = RecordKey::from(rev);
//! let uri = AtUri::record(uri.did().cloned().unwrap(), "app.bsky.feed.like".parse()?, key);
//! assert!(uri.as_str().starts_with("at://did:plc:"));
//! let err = Nsid::parse("com.example").unwrap_err();
//! assert_eq!(err.to_string(), "invalid nsid \"com.example\": needs at least three segments");
//! # Ok::<(), aerie_syntax::SyntaxError>(())
//! ```
#![deny(missing_docs)]

mod at_identifier;
mod aturi;
mod clock;
mod datetime;
mod did;
mod error;
mod formats;
mod handle;
mod language;
mod nsid;
mod recordkey;
mod string_type;
mod tid;

pub use at_identifier::AtIdentifier;
pub use aturi::AtUri;
pub use clock::TidClock;
pub use datetime::Datetime;
pub use did::Did;
pub use error::{Kind, QUOTE_LIMIT, SyntaxError};
pub use formats::{URI_MAX_LEN, is_valid_cid_string, is_valid_uri};
pub use handle::Handle;
pub use language::Language;
pub use nsid::Nsid;
pub use recordkey::RecordKey;
pub use tid::Tid;
