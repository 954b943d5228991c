//! aerie-identity: who a DID or handle is, and whether a service token really comes from it.
//!
//! - [`DidDocument`]: the parts of a DID document atproto reads: the claimed handle
//!   (first valid `at://` in `alsoKnownAs`), the `#atproto` signing key (`Multikey` or the
//!   legacy suites), the `#atproto_pds` endpoint as a bare origin, any service by id.
//!   Relative (`#atproto`) and absolute (`did:…#atproto`) ids both match.
//! - [`Resolver`]: `did:plc` from a configurable PLC directory, hostname `did:web` from
//!   `/.well-known/did.json`, handles from DNS TXT `_atproto.<handle>` and
//!   `https://<handle>/.well-known/atproto-did` in parallel (DNS preferred), the
//!   bidirectional handle check, and TTL caches with stale-while-revalidate.
//! - [`service_auth`]: minting and verifying inter-service JWTs (ES256K / ES256), with the
//!   reference implementation's error names ([`IdentityError::xrpc_error_name`]).
//!
//! ```
//! use aerie_crypto::{KeyType, SigningKey};
//! use aerie_identity::service_auth::{self, Audience, Expectations, MintRequest};
//! use aerie_syntax::{Did, Nsid};
//!
//! let key = SigningKey::generate(KeyType::K256)?;
//! let iss = Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz")?;
//! let method = Nsid::parse("com.atproto.repo.uploadBlob")?;
//! let token = service_auth::mint(&key, &MintRequest {
//!     iss: &iss,
//!     aud: "did:web:pds.example.com#atproto_pds",
//!     lxm: Some(&method),
//!     iat: 1_700_000_000,
//!     exp: 1_700_000_060,
//! })?;
//!
//! // The receiving service: its own DID, the method called, its clock.
//! let me = Audience::new(Did::parse("did:web:pds.example.com")?).with_service_id("atproto_pds");
//! let expect = Expectations { audience: Some(&me), lxm: Some(method.as_str()), now: 1_700_000_030 };
//! let unverified = service_auth::decode(&token)?;
//! unverified.check_claims(&expect)?;
//! unverified.verify_signature(&key.public_key())?;
//!
//! let late = Expectations { now: 1_700_000_500, ..expect };
//! let err = unverified.check_claims(&late).unwrap_err();
//! assert_eq!(err.xrpc_error_name(), Some("JwtExpired"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Security notes: only http(s) URLs are fetched, and plain http only for configured
//! development origins and `did:web:localhost`; every body is read with a size cap; DID
//! documents are fetched without following redirects, handle well-known lookups with a
//! bounded number and never from https down to http; handles and did:web hosts under
//! reserved TLDs are refused before any lookup.
//!
//! Architecture invariant: the document and token logic ([`DidDocument`],
//! [`service_auth::decode`], [`service_auth::UnverifiedToken`]) does no I/O and takes time
//! as an argument; only [`Resolver`] touches the network.
#![deny(missing_docs)]

mod cache;
mod config;
mod dns;
mod doc;
mod error;
mod fetch;
mod resolver;
pub mod service_auth;

pub use config::{DEFAULT_PLC_URL, DnsConfig, ResolverConfig};
pub use doc::{
    ATPROTO_KEY_ID, ATPROTO_PDS_ID, ATPROTO_PDS_TYPE, DidDocument, MAX_DOCUMENT_BYTES, Service,
    VerificationMethod,
};
pub use error::IdentityError;
pub use resolver::{Identity, Resolver};
