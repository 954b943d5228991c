/// Everything that can go wrong reading DID documents, resolving identities, or minting and
/// checking inter-service tokens.
///
/// The `BadJwt*` / `JwtExpired` variants carry the reference implementation's XRPC error
/// names ([`IdentityError::xrpc_error_name`]); a server answers them with 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A DID document was not valid JSON of the expected shape.
    #[error("DID document for {did} is malformed: {reason}")]
    MalformedDocument {
        /// The DID that was being resolved.
        did: String,
        /// What was wrong.
        reason: String,
    },
    /// A DID document's `id` names another DID than the one resolved.
    #[error("DID document for {expected} has id {found}")]
    DocumentIdMismatch {
        /// The DID that was resolved.
        expected: String,
        /// The document's `id`.
        found: String,
    },
    /// A DID method this resolver does not support (only `plc` and `web` are blessed).
    #[error("unsupported DID method in {did}")]
    UnsupportedDidMethod {
        /// The DID.
        did: String,
    },
    /// A `did:web` that is not hostname-only, names a disallowed host, or carries a port
    /// outside local development.
    #[error("invalid did:web {did}: {reason}")]
    InvalidDidWeb {
        /// The DID.
        did: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// The DID's directory or host answered that the DID does not exist.
    #[error("DID not found: {did}")]
    DidNotFound {
        /// The DID.
        did: String,
    },
    /// The PLC directory reports the DID as tombstoned (HTTP 410).
    #[error("DID has been deactivated: {did}")]
    DidDeactivated {
        /// The DID.
        did: String,
    },
    /// The handle did not resolve by DNS nor by HTTPS.
    #[error("handle did not resolve: {handle}")]
    HandleNotFound {
        /// The handle.
        handle: String,
    },
    /// The handle's `_atproto` TXT records name more than one DID.
    #[error("handle {handle} has conflicting DNS records: {dids:?}")]
    AmbiguousHandle {
        /// The handle.
        handle: String,
        /// The distinct DIDs found.
        dids: Vec<String>,
    },
    /// A handle whose TLD must never be resolved (`.local`, `.onion`, `.test` outside
    /// development...).
    #[error("handle {handle} has a disallowed top-level domain")]
    DisallowedHandle {
        /// The handle.
        handle: String,
    },
    /// Bidirectional verification failed: the DID document does not claim the handle.
    #[error("handle {handle} resolves to {did}, whose DID document does not claim it")]
    HandleMismatch {
        /// The handle.
        handle: String,
        /// The DID it resolved to.
        did: String,
    },
    /// The DID document has no usable `#atproto` signing key.
    #[error("DID document for {did} has no usable atproto signing key{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    NoSigningKey {
        /// The DID.
        did: String,
        /// Why a present key was unusable, if one was present.
        detail: Option<String>,
    },
    /// A URL this resolver refuses to fetch (scheme other than http(s), plain http to a
    /// non-local host, unparsable).
    #[error("refusing to fetch {url}: {reason}")]
    RefusedUrl {
        /// The URL (or what would have been one).
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// A network failure, timeout, unexpected status or oversized answer.
    #[error("fetching {url} failed: {reason}")]
    Http {
        /// The URL fetched.
        url: String,
        /// What happened.
        reason: String,
    },
    /// A DNS failure other than "no such name / no records" (timeout, SERVFAIL...).
    #[error("DNS lookup of {name} failed: {reason}")]
    Dns {
        /// The name looked up.
        name: String,
        /// What happened.
        reason: String,
    },
    /// The resolver could not be built from its configuration.
    #[error("invalid resolver configuration: {0}")]
    Config(String),
    /// A service-auth `aud` that is neither a DID nor `did#service`.
    #[error("invalid service audience {aud:?}: must be a DID or did#service")]
    InvalidAudience {
        /// The audience given.
        aud: String,
    },
    /// A requested token expiry outside what `getServiceAuth` grants (XRPC `BadExpiration`,
    /// answered with 400, unlike the 401 token errors).
    #[error("{reason}")]
    BadExpiration {
        /// Why, in the reference's words.
        reason: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Rng(String),
    /// A token that is not a well-formed service JWT (XRPC `BadJwt`).
    #[error("poorly formatted jwt: {reason}")]
    BadJwt {
        /// What was wrong.
        reason: String,
    },
    /// A token whose `typ` marks it as another kind of JWT (XRPC `BadJwtType`).
    #[error("invalid jwt type {typ:?}")]
    BadJwtType {
        /// The header's `typ`.
        typ: String,
    },
    /// The token's `exp` has passed (XRPC `JwtExpired`).
    #[error("jwt expired at {exp} (now {now})")]
    JwtExpired {
        /// The token's `exp`.
        exp: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// The token is for another service (XRPC `BadJwtAudience`).
    #[error("jwt audience {aud:?} does not match service did")]
    BadJwtAudience {
        /// The token's `aud`.
        aud: String,
    },
    /// The token's `lxm` is missing or names another method (XRPC `BadJwtLexiconMethod`).
    #[error("{}", match found { Some(f) => format!("bad jwt lexicon method (\"lxm\") {f:?}, must match: {expected}"), None => format!("missing jwt lexicon method (\"lxm\"), must match: {expected}") })]
    BadJwtLexiconMethod {
        /// The method being called.
        expected: String,
        /// The token's `lxm`, if any.
        found: Option<String>,
    },
    /// The issuer is not a DID, or its signing key could not be found (XRPC `BadJwtIss`).
    #[error("could not resolve jwt issuer {iss:?}: {reason}")]
    BadJwtIss {
        /// The token's `iss`.
        iss: String,
        /// Why.
        reason: String,
    },
    /// The signature is not by the issuer's current key (XRPC `BadJwtSignature`).
    #[error("jwt signature does not match jwt issuer: {reason}")]
    BadJwtSignature {
        /// What failed: wrong algorithm for the key, bad encoding, or no match.
        reason: String,
    },
}

impl IdentityError {
    /// The XRPC error name for a service-auth failure (`BadJwt`, `BadJwtType`, `JwtExpired`,
    /// `BadJwtAudience`, `BadJwtLexiconMethod`, `BadJwtIss`, `BadJwtSignature`, all
    /// answered with HTTP 401) or a refused token request (`BadExpiration`, HTTP 400);
    /// `None` for resolution errors.
    pub fn xrpc_error_name(&self) -> Option<&'static str> {
        Some(match self {
            IdentityError::BadJwt { .. } => "BadJwt",
            IdentityError::BadJwtType { .. } => "BadJwtType",
            IdentityError::JwtExpired { .. } => "JwtExpired",
            IdentityError::BadJwtAudience { .. } => "BadJwtAudience",
            IdentityError::BadJwtLexiconMethod { .. } => "BadJwtLexiconMethod",
            IdentityError::BadJwtIss { .. } => "BadJwtIss",
            IdentityError::BadJwtSignature { .. } => "BadJwtSignature",
            IdentityError::BadExpiration { .. } => "BadExpiration",
            _ => return None,
        })
    }

    /// Whether the identity plainly does not exist (as opposed to a network failure, which
    /// a caller may retry): unknown or deactivated DIDs, handles that resolve nowhere.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            IdentityError::DidNotFound { .. }
                | IdentityError::DidDeactivated { .. }
                | IdentityError::HandleNotFound { .. }
        )
    }
}
