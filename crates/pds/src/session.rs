//! Issuing session tokens and their server-side refresh-token rows.

use aerie_store::{StoreError, Transaction, token};
use aerie_xrpc::jwt::{self, Claims, TokenType};
use aerie_xrpc::{AuthKeys, unix_now};

/// A freshly issued access/refresh pair.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access JWT.
    pub access: String,
    /// The refresh JWT.
    pub refresh: String,
    /// The refresh token's row, to insert in the same write job as whatever else changes.
    pub row: token::RefreshToken,
}

/// How long a rotated refresh token stays usable (reference: 2 hours), so a client that
/// lost the refreshSession answer can retry.
pub const REFRESH_GRACE_SECS: i64 = 2 * 60 * 60;

/// A new random token id (the refresh JWT's `jti`).
pub fn new_token_id() -> Result<String, aerie_xrpc::XrpcError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(aerie_xrpc::XrpcError::internal)?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&buf))
}

/// What a session may do: everything, or what an app password allows.
#[derive(Debug, Clone, Copy)]
pub enum Grant<'a> {
    /// Opened with the account password (`com.atproto.access`).
    Full,
    /// Opened with the named app password (`com.atproto.appPass` or, privileged,
    /// `com.atproto.appPassPrivileged`); its refresh tokens die with it.
    AppPassword {
        /// The app password's name.
        name: &'a str,
        /// Whether it is privileged.
        privileged: bool,
    },
}

/// Signs a full-access token pair for `did`; the refresh token gets id `jti`.
pub fn issue(keys: &AuthKeys, did: &str, jti: String) -> Tokens {
    issue_with(keys, did, jti, Grant::Full)
}

/// Signs a token pair for `did` with the scope of `grant`; the refresh token gets id `jti`.
pub fn issue_with(keys: &AuthKeys, did: &str, jti: String, grant: Grant<'_>) -> Tokens {
    let (scope, app_password_name) = match grant {
        Grant::Full => (jwt::SCOPE_ACCESS, None),
        Grant::AppPassword {
            name,
            privileged: false,
        } => (jwt::SCOPE_APP_PASS, Some(name.to_owned())),
        Grant::AppPassword {
            name,
            privileged: true,
        } => (jwt::SCOPE_APP_PASS_PRIVILEGED, Some(name.to_owned())),
    };
    let now = unix_now();
    let claims = |scope: &str, exp: i64, jti: Option<String>| Claims {
        scope: scope.to_owned(),
        sub: did.to_owned(),
        aud: String::new(),
        iat: now,
        exp,
        jti,
    };
    let refresh_exp = now + jwt::REFRESH_TTL_SECS;
    Tokens {
        access: keys.sign(
            TokenType::Access,
            claims(scope, now + jwt::ACCESS_TTL_SECS, None),
        ),
        refresh: keys.sign(
            TokenType::Refresh,
            claims(jwt::SCOPE_REFRESH, refresh_exp, Some(jti.clone())),
        ),
        row: token::RefreshToken {
            id: jti,
            did: did.to_owned(),
            expires_at: refresh_exp,
            app_password_name,
            next_id: None,
        },
    }
}

/// Stores a refresh-token row; an existing row with the same id (a retried rotation) is
/// kept as it is.
pub fn store_row(tx: &Transaction<'_>, row: &token::RefreshToken) -> Result<(), StoreError> {
    match token::insert(tx, row) {
        Err(StoreError::Conflict { .. }) => Ok(()),
        other => other,
    }
}
