//! Authentication extractors: bearer session tokens and admin basic auth.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::{header, request::Parts};
use data_encoding::BASE64;
use sha2::{Digest, Sha256};

use crate::XrpcError;
use crate::jwt::{self, Claims, JwtError, TokenType};

/// What the auth extractors need from the application state (via `FromRef`).
#[derive(Clone)]
pub struct AuthKeys {
    secret: Arc<[u8]>,
    service_did: Arc<str>,
}

impl AuthKeys {
    /// The HS256 secret and the service DID tokens are issued for.
    pub fn new(secret: &[u8], service_did: &str) -> Self {
        AuthKeys {
            secret: secret.into(),
            service_did: service_did.into(),
        }
    }

    /// Issues a token of `typ` with these claims (the `aud` is set to the service DID).
    pub fn sign(&self, typ: TokenType, mut claims: Claims) -> String {
        claims.aud = self.service_did.to_string();
        jwt::sign(typ, &claims, &self.secret)
    }

    /// Verifies a token, mapping failures to the reference's XRPC errors.
    pub fn verify(
        &self,
        typ: TokenType,
        token: &str,
        now: i64,
        allow_expired: bool,
    ) -> Result<Claims, XrpcError> {
        jwt::verify(
            typ,
            token,
            &self.secret,
            &self.service_did,
            now,
            allow_expired,
        )
        .map_err(|e| match e {
            JwtError::Expired => XrpcError::expired_token(),
            JwtError::WrongType => XrpcError::invalid_token("Invalid token type"),
            _ => XrpcError::invalid_token("Token could not be verified"),
        })
    }

    /// The service DID.
    pub fn service_did(&self) -> &str {
        &self.service_did
    }
}

impl std::fmt::Debug for AuthKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthKeys")
            .field("service_did", &self.service_did)
            .finish_non_exhaustive()
    }
}

/// Current unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The raw bearer token; missing or non-Bearer `Authorization` -> 401 `AuthMissing`.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(XrpcError::auth_missing)?;
        let (scheme, token) = value.split_once(' ').ok_or_else(XrpcError::auth_missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(XrpcError::auth_missing());
        }
        Ok(BearerToken(token.trim().to_owned()))
    }
}

/// A verified access token with one of the access scopes.
#[derive(Debug, Clone)]
pub struct AccessAuth {
    /// The authenticated account.
    pub did: String,
    /// The full claims.
    pub claims: Claims,
}

impl AccessAuth {
    /// True for the full-access scope (not an app password).
    pub fn is_full_access(&self) -> bool {
        self.claims.scope == jwt::SCOPE_ACCESS
    }
}

impl<S> FromRequestParts<S> for AccessAuth
where
    S: Send + Sync,
    AuthKeys: FromRef<S>,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state).await?;
        let keys = AuthKeys::from_ref(state);
        let claims = keys.verify(TokenType::Access, &token, unix_now(), false)?;
        if ![
            jwt::SCOPE_ACCESS,
            jwt::SCOPE_APP_PASS,
            jwt::SCOPE_APP_PASS_PRIVILEGED,
        ]
        .contains(&claims.scope.as_str())
        {
            return Err(XrpcError::invalid_token("Bad token scope"));
        }
        Ok(AccessAuth {
            did: claims.sub.clone(),
            claims,
        })
    }
}

/// A verified, unexpired refresh token with a `jti`.
#[derive(Debug, Clone)]
pub struct RefreshAuth {
    /// The account.
    pub did: String,
    /// The token id (server-side row).
    pub jti: String,
    /// The full claims.
    pub claims: Claims,
}

impl RefreshAuth {
    /// Verifies a refresh token (for deleteSession, which accepts expired ones).
    pub fn verify(
        keys: &AuthKeys,
        token: &str,
        allow_expired: bool,
    ) -> Result<RefreshAuth, XrpcError> {
        let claims = keys.verify(TokenType::Refresh, token, unix_now(), allow_expired)?;
        if claims.scope != jwt::SCOPE_REFRESH {
            return Err(XrpcError::invalid_token("Bad token scope"));
        }
        let jti = claims
            .jti
            .clone()
            .ok_or_else(|| XrpcError::invalid_token("Unexpected missing refresh token id"))?;
        Ok(RefreshAuth {
            did: claims.sub.clone(),
            jti,
            claims,
        })
    }
}

impl<S> FromRequestParts<S> for RefreshAuth
where
    S: Send + Sync,
    AuthKeys: FromRef<S>,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state).await?;
        RefreshAuth::verify(&AuthKeys::from_ref(state), &token, false)
    }
}

/// The admin password, from the application state via `FromRef`.
#[derive(Clone)]
pub struct AdminPassword(pub Arc<str>);

/// HTTP basic `admin:<PDS_ADMIN_PASSWORD>`; anything else -> 401.
#[derive(Debug, Clone, Copy)]
pub struct AdminAuth;

impl<S> FromRequestParts<S> for AdminAuth
where
    S: Send + Sync,
    AdminPassword: FromRef<S>,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let bad = || XrpcError::auth_required("Invalid admin credentials");
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(XrpcError::auth_missing)?;
        let (scheme, b64) = value.split_once(' ').ok_or_else(bad)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(bad());
        }
        let decoded = BASE64.decode(b64.trim().as_bytes()).map_err(|_| bad())?;
        let expected = AdminPassword::from_ref(state);
        let mut want = b"admin:".to_vec();
        want.extend_from_slice(expected.0.as_bytes());
        // Comparing digests keeps the comparison time independent of where bytes differ.
        if Sha256::digest(&decoded) == Sha256::digest(&want) {
            Ok(AdminAuth)
        } else {
            Err(bad())
        }
    }
}
