//! Inter-service authentication: short-lived JWTs signed with an account's atproto key.
//!
//! A PDS mints one (`com.atproto.server.getServiceAuth`, or when proxying) so that another
//! service can check "this request comes from `iss`, for me (`aud`), for this method
//! (`lxm`)" against the key in `iss`'s DID document. The format:
//!
//! - header `{"typ":"JWT","alg":"ES256K"|"ES256"}`, the `alg` given by the key's curve;
//! - claims `{iat, iss, aud, exp, lxm?, jti}` (seconds; `jti` a random nonce);
//! - `base64url(header) "." base64url(claims) "." base64url(sig)`, unpadded, where `sig` is
//!   the compact low-S ECDSA signature over SHA-256 of the first two parts' UTF-8 bytes.
//!
//! Verification never lets the header choose the algorithm: the issuer's key decides, and
//! a header naming the other curve fails. Like the reference verifier it accepts high-S
//! signatures here (`allowMalleableSig`), retries once with a refetched DID document when
//! the signature does not match (the key may have just been rotated), and rejects tokens
//! typed as OAuth access, refresh or DPoP tokens so those can never double as service
//! tokens.
//!
//! Tricky bits:
//! - `aud` may be a bare DID (legacy) or `did#service_id` (what the spec now asks proxies
//!   to send); an [`Audience`] lists the forms a service accepts.
//! - `exp` is checked with [`CLOCK_SKEW_SECS`] of tolerance; time is passed in.

use std::future::Future;

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use aerie_syntax::{Did, Nsid};
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use serde::{Deserialize, Serialize};

use crate::IdentityError;

/// Lifetime of a token when the caller gives none, as the reference (60 s).
pub const DEFAULT_TTL_SECS: i64 = 60;

/// How far past `exp` a token is still accepted, for clocks that disagree a little.
pub const CLOCK_SKEW_SECS: i64 = 10;

/// Longest token parsed. Real ones are about 400 bytes; the cap keeps base64 and JSON work
/// bounded for whatever arrives in an `Authorization` header.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Longest lifetime `getServiceAuth` grants a token bound to a method, as the reference.
pub const MAX_TTL_SECS: i64 = 60 * 60;

/// Longest lifetime `getServiceAuth` grants a token bound to no method, as the reference.
pub const MAX_METHODLESS_TTL_SECS: i64 = 60;

/// Account-management methods the reference PDS never mints service tokens for nor proxies:
/// they must be called on the account's own PDS directly.
pub const PROTECTED_METHODS: [&str; 16] = [
    "com.atproto.admin.sendEmail",
    "com.atproto.identity.requestPlcOperationSignature",
    "com.atproto.identity.signPlcOperation",
    "com.atproto.identity.updateHandle",
    "com.atproto.server.activateAccount",
    "com.atproto.server.confirmEmail",
    "com.atproto.server.createAppPassword",
    "com.atproto.server.deactivateAccount",
    "com.atproto.server.getAccountInviteCodes",
    "com.atproto.server.getSession",
    "com.atproto.server.listAppPasswords",
    "com.atproto.server.requestAccountDelete",
    "com.atproto.server.requestEmailConfirmation",
    "com.atproto.server.requestEmailUpdate",
    "com.atproto.server.revokeAppPassword",
    "com.atproto.server.updateEmail",
];

/// Whether `method` is one of [`PROTECTED_METHODS`].
pub fn is_protected_method(method: &str) -> bool {
    PROTECTED_METHODS.contains(&method)
}

/// Methods for which the reference requires a full-access or privileged session (not a
/// plain app password) to mint a token: the chat service, and `createAccount` (migration).
pub fn is_privileged_method(method: &str) -> bool {
    method.starts_with("chat.bsky.") || method == "com.atproto.server.createAccount"
}

/// The `exp` for a `getServiceAuth` request made at `now`: the requested one if allowed
/// (not past, at most [`MAX_TTL_SECS`] ahead, and at most [`MAX_METHODLESS_TTL_SECS`] ahead
/// without `lxm`), else `now + DEFAULT_TTL_SECS` when none was asked for.
pub fn requested_expiry(now: i64, exp: Option<i64>, has_lxm: bool) -> Result<i64, IdentityError> {
    let Some(exp) = exp else {
        return Ok(now.saturating_add(DEFAULT_TTL_SECS));
    };
    let ahead = exp.saturating_sub(now);
    let reason = if ahead < 0 {
        "expiration is in past"
    } else if ahead > MAX_TTL_SECS {
        "cannot request a token with an expiration more than an hour in the future"
    } else if !has_lxm && ahead > MAX_METHODLESS_TTL_SECS {
        "cannot request a method-less token with an expiration more than a minute in the future"
    } else {
        return Ok(exp);
    };
    Err(IdentityError::BadExpiration { reason })
}

/// `typ` values that mark a JWT as something other than a service token.
const FORBIDDEN_TYPES: [&str; 3] = ["at+jwt", "refresh+jwt", "dpop+jwt"];

/// Where a verifier gets an issuer's current signing key. [`crate::Resolver`] implements it
/// through DID resolution; a PDS may answer for its own accounts from its database first.
pub trait KeySource: Sync {
    /// `did`'s atproto signing key. `force_refresh` is set on the second attempt, after the
    /// first key did not verify: bypass caches then.
    fn signing_key(
        &self,
        did: &Did,
        force_refresh: bool,
    ) -> impl Future<Output = Result<PublicKey, IdentityError>> + Send;
}

/// The audiences a service accepts: its DID bare, and `did#id` for each of its service ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    did: Did,
    service_ids: Vec<String>,
}

impl Audience {
    /// Accepts only the bare `did`.
    pub fn new(did: Did) -> Audience {
        Audience {
            did,
            service_ids: Vec::new(),
        }
    }

    /// Also accepts `did#id` (give `id` without the `#`, e.g. `atproto_pds`).
    pub fn with_service_id(mut self, id: impl Into<String>) -> Audience {
        self.service_ids.push(id.into());
        self
    }

    /// The service DID.
    pub fn did(&self) -> &Did {
        &self.did
    }

    /// Whether a token's `aud` names this service.
    pub fn accepts(&self, aud: &str) -> bool {
        match aud.split_once('#') {
            None => aud == self.did.as_str(),
            Some((did, id)) => did == self.did.as_str() && self.service_ids.iter().any(|s| s == id),
        }
    }
}

/// What a verifier requires of a token besides a good signature.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The audience required; `None` skips the check (the reference's `ownDid = null`, for
    /// endpoints such as `createAccount` that check `aud` themselves).
    pub audience: Option<&'a Audience>,
    /// The method being called, which `lxm` must equal; `None` skips the check.
    pub lxm: Option<&'a str>,
    /// The current Unix time in seconds.
    pub now: i64,
}

/// The header of a service token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    alg: String,
}

/// The claims of a service token, as minted and as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceClaims {
    /// Issued-at, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The issuing account's DID (older tokens may carry a `#fragment`, kept as sent).
    pub iss: String,
    /// The service the token is for: `did` or `did#service_id`.
    pub aud: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// The one XRPC method the token authorizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lxm: Option<String>,
    /// A unique nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl ServiceClaims {
    /// The issuer's DID, without any `#fragment`.
    pub fn iss_did(&self) -> Result<Did, IdentityError> {
        let did = self
            .iss
            .split_once('#')
            .map_or(self.iss.as_str(), |(d, _)| d);
        Did::parse(did).map_err(|e| IdentityError::BadJwtIss {
            iss: self.iss.clone(),
            reason: e.to_string(),
        })
    }
}

/// What to put in a new token.
#[derive(Debug, Clone, Copy)]
pub struct MintRequest<'a> {
    /// The account whose key signs.
    pub iss: &'a Did,
    /// The service: a DID or `did#service_id`.
    pub aud: &'a str,
    /// The method authorized, if bound to one.
    pub lxm: Option<&'a Nsid>,
    /// Issued-at, Unix seconds.
    pub iat: i64,
    /// Expiry, Unix seconds (`iat + DEFAULT_TTL_SECS` is the usual choice).
    pub exp: i64,
}

/// Checks that `aud` is a DID or `did#service_id` (one `#`, non-empty id).
pub fn check_audience(aud: &str) -> Result<(), IdentityError> {
    let bad = || IdentityError::InvalidAudience {
        aud: aud.to_owned(),
    };
    let did = match aud.split_once('#') {
        Some((did, id)) => {
            if id.is_empty() || id.contains('#') {
                return Err(bad());
            }
            did
        }
        None => aud,
    };
    Did::parse(did).map(|_| ()).map_err(|_| bad())
}

/// Mints a token signed by `key`, with a fresh random `jti`.
pub fn mint(key: &SigningKey, req: &MintRequest<'_>) -> Result<String, IdentityError> {
    check_audience(req.aud)?;
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| IdentityError::Rng(e.to_string()))?;
    let header = Header {
        typ: Some("JWT".to_owned()),
        alg: key.key_type().jwt_alg().to_owned(),
    };
    let claims = ServiceClaims {
        iat: Some(req.iat),
        iss: req.iss.to_string(),
        aud: req.aud.to_owned(),
        exp: req.exp,
        lxm: req.lxm.map(|l| l.to_string()),
        jti: Some(HEXLOWER.encode(&nonce)),
    };
    Ok(sign_parts(key, &header, &claims))
}

fn sign_parts(key: &SigningKey, header: &Header, claims: &ServiceClaims) -> String {
    // Serialising these two plain structs cannot fail: no maps with non-string keys, no
    // floats; an empty object would still be refused by the verifier.
    let header = serde_json::to_vec(header).unwrap_or_default();
    let claims = serde_json::to_vec(claims).unwrap_or_default();
    let mut token = BASE64URL_NOPAD.encode(&header);
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(&claims));
    let sig = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(&sig));
    token
}

/// A parsed token whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct UnverifiedToken {
    alg: KeyType,
    claims: ServiceClaims,
    signing_input_len: usize,
    token: String,
    signature: Vec<u8>,
}

fn bad_jwt(reason: impl Into<String>) -> IdentityError {
    IdentityError::BadJwt {
        reason: reason.into(),
    }
}

/// Parses a token: three base64url parts, a JSON header with a supported `alg` and an
/// allowed `typ`, JSON claims with `iss`, `aud` and `exp`.
pub fn decode(token: &str) -> Result<UnverifiedToken, IdentityError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad_jwt(format!("longer than {MAX_TOKEN_LEN} bytes")));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_jwt("not three dot-separated parts"));
    };
    let b64 = |part: &str, what: &str| {
        BASE64URL_NOPAD
            .decode(part.as_bytes())
            .map_err(|_| bad_jwt(format!("{what} is not unpadded base64url")))
    };
    let header: Header = serde_json::from_slice(&b64(header, "header")?)
        .map_err(|e| bad_jwt(format!("header: {e}")))?;
    if let Some(typ) = header.typ.as_deref()
        && FORBIDDEN_TYPES.contains(&typ)
    {
        return Err(IdentityError::BadJwtType {
            typ: typ.to_owned(),
        });
    }
    let alg = KeyType::from_jwt_alg(&header.alg)
        .ok_or_else(|| bad_jwt(format!("unsupported alg {:?}", header.alg)))?;
    let claims: ServiceClaims = serde_json::from_slice(&b64(claims, "claims")?)
        .map_err(|e| bad_jwt(format!("claims: {e}")))?;
    let signature = b64(sig, "signature")?;
    Ok(UnverifiedToken {
        alg,
        claims,
        signing_input_len: token.len() - sig.len() - 1,
        token: token.to_owned(),
        signature,
    })
}

impl UnverifiedToken {
    /// The claims, unverified.
    pub fn claims(&self) -> &ServiceClaims {
        &self.claims
    }

    /// The curve the header names.
    pub fn alg(&self) -> KeyType {
        self.alg
    }

    /// Checks `exp` (with [`CLOCK_SKEW_SECS`]), `aud` and `lxm` against `expect`.
    pub fn check_claims(&self, expect: &Expectations<'_>) -> Result<(), IdentityError> {
        let c = &self.claims;
        if expect.now > c.exp.saturating_add(CLOCK_SKEW_SECS) {
            return Err(IdentityError::JwtExpired {
                exp: c.exp,
                now: expect.now,
            });
        }
        if let Some(audience) = expect.audience
            && !audience.accepts(&c.aud)
        {
            return Err(IdentityError::BadJwtAudience { aud: c.aud.clone() });
        }
        if let Some(method) = expect.lxm
            && c.lxm.as_deref() != Some(method)
        {
            return Err(IdentityError::BadJwtLexiconMethod {
                expected: method.to_owned(),
                found: c.lxm.clone(),
            });
        }
        Ok(())
    }

    /// Checks the signature against `key`. The key's curve must be the one the header
    /// names; high-S signatures are accepted, as by the reference verifier.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), IdentityError> {
        if key.key_type() != self.alg {
            return Err(IdentityError::BadJwtSignature {
                reason: format!(
                    "header alg {} does not match the issuer's {} key",
                    self.alg.jwt_alg(),
                    key.key_type()
                ),
            });
        }
        let input = &self.token.as_bytes()[..self.signing_input_len];
        key.verify_allow_high_s(input, &self.signature)
            .map_err(|e| IdentityError::BadJwtSignature {
                reason: e.to_string(),
            })
    }
}

/// Verifies a token completely: format, type, claims, then the signature by `iss`'s key
/// from `keys`, retried once with a refreshed key if it does not match. Returns the claims.
pub async fn verify<K: KeySource>(
    token: &str,
    expect: &Expectations<'_>,
    keys: &K,
) -> Result<ServiceClaims, IdentityError> {
    let token = decode(token)?;
    token.check_claims(expect)?;
    let iss = &token.claims.iss_did()?;
    let iss_text = token.claims.iss.as_str();
    let key_for = |force| async move {
        keys.signing_key(iss, force)
            .await
            .map_err(|e| IdentityError::BadJwtIss {
                iss: iss_text.to_owned(),
                reason: e.to_string(),
            })
    };
    let key = key_for(false).await?;
    if let Err(first) = token.verify_signature(&key) {
        let fresh = key_for(true).await?;
        if fresh == key {
            return Err(first);
        }
        token.verify_signature(&fresh)?;
    }
    Ok(token.claims)
}
