//! HS256 session tokens as the reference PDS issues them.
//!
//! Access tokens carry header `{"alg":"HS256","typ":"at+jwt"}`, refresh tokens
//! `{"alg":"HS256","typ":"refresh+jwt"}`. The verifier is told which type it expects and
//! checks header `typ` and `alg` against it: the algorithm comes from the token type, never
//! from the header, so `alg: none` or an asymmetric algorithm cannot be smuggled in, and a
//! refresh token is never accepted where an access token is required (and vice versa).

use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Full-access scope.
pub const SCOPE_ACCESS: &str = "com.atproto.access";
/// App-password scope.
pub const SCOPE_APP_PASS: &str = "com.atproto.appPass";
/// Privileged app-password scope.
pub const SCOPE_APP_PASS_PRIVILEGED: &str = "com.atproto.appPassPrivileged";
/// Refresh-token scope.
pub const SCOPE_REFRESH: &str = "com.atproto.refresh";
/// Access token lifetime (reference: 120 minutes).
pub const ACCESS_TTL_SECS: i64 = 2 * 60 * 60;
/// Refresh token lifetime (reference: 90 days).
pub const REFRESH_TTL_SECS: i64 = 90 * 24 * 60 * 60;

/// Tokens longer than this are refused before any parsing (ours are ~300 bytes).
const MAX_TOKEN_LEN: usize = 4096;

/// Which kind of session token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// `at+jwt`.
    Access,
    /// `refresh+jwt`.
    Refresh,
}

impl TokenType {
    /// The `typ` header value.
    pub fn typ(self) -> &'static str {
        match self {
            TokenType::Access => "at+jwt",
            TokenType::Refresh => "refresh+jwt",
        }
    }
}

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Scope (`com.atproto.access`, `com.atproto.refresh`, ...).
    pub scope: String,
    /// The account DID.
    pub sub: String,
    /// The service DID the token is for.
    pub aud: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// Token id; refresh tokens only (the server-side row id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url parts of JSON, or too long.
    #[error("malformed token")]
    Malformed,
    /// Header `typ` or `alg` does not match the expected token type.
    #[error("invalid token type")]
    WrongType,
    /// The HMAC does not verify.
    #[error("token signature could not be verified")]
    BadSignature,
    /// `exp` is in the past.
    #[error("token has expired")]
    Expired,
    /// `aud` is not this service.
    #[error("token audience does not match this service")]
    WrongAudience,
}

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

/// Signs `claims` as a token of type `typ`.
pub fn sign(typ: TokenType, claims: &Claims, secret: &[u8]) -> String {
    let header = serde_json::to_vec(&Header {
        alg: "HS256",
        typ: typ.typ(),
    })
    .unwrap_or_default();
    let body = serde_json::to_vec(claims).unwrap_or_default();
    let mut token = BASE64URL_NOPAD.encode(&header);
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(&body));
    let mut m = mac(secret);
    m.update(token.as_bytes());
    let sig = m.finalize().into_bytes();
    token.push('.');
    token.push_str(&BASE64URL_NOPAD.encode(&sig));
    token
}

/// Checks a token of the expected type: header, signature, audience, then expiry (`now` in
/// unix seconds). With `allow_expired`, a past `exp` is accepted (deleteSession does this).
pub fn verify(
    typ: TokenType,
    token: &str,
    secret: &[u8],
    audience: &str,
    now: i64,
    allow_expired: bool,
) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(b), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |p: &str| {
        BASE64URL_NOPAD
            .decode(p.as_bytes())
            .map_err(|_| JwtError::Malformed)
    };
    let header_bytes = decode(h)?;
    let header: Header<'_> =
        serde_json::from_slice(&header_bytes).map_err(|_| JwtError::Malformed)?;
    if header.alg != "HS256" || header.typ != typ.typ() {
        return Err(JwtError::WrongType);
    }
    let sig = decode(s)?;
    let mut m = mac(secret);
    m.update(&token.as_bytes()[..h.len() + 1 + b.len()]);
    // verify_slice compares in constant time.
    m.verify_slice(&sig).map_err(|_| JwtError::BadSignature)?;
    let claims: Claims = serde_json::from_slice(&decode(b)?).map_err(|_| JwtError::Malformed)?;
    if claims.aud != audience {
        return Err(JwtError::WrongAudience);
    }
    if !allow_expired && claims.exp <= now {
        return Err(JwtError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";
    const AUD: &str = "did:web:localhost";

    fn claims(exp: i64) -> Claims {
        Claims {
            scope: SCOPE_ACCESS.into(),
            sub: "did:plc:abc".into(),
            aud: AUD.into(),
            iat: 100,
            exp,
            jti: None,
        }
    }

    fn check(token: &str, typ: TokenType, now: i64) -> Result<Claims, JwtError> {
        verify(typ, token, SECRET, AUD, now, false)
    }

    #[test]
    fn signed_token_verifies_and_round_trips_claims() {
        let t = sign(TokenType::Access, &claims(200), SECRET);
        assert_eq!(check(&t, TokenType::Access, 150), Ok(claims(200)));
        let header = BASE64URL_NOPAD
            .decode(t.split('.').next().unwrap().as_bytes())
            .unwrap();
        assert_eq!(header, br#"{"alg":"HS256","typ":"at+jwt"}"#);
    }

    #[test]
    fn expired_token_is_expired_unless_allowed() {
        let t = sign(TokenType::Refresh, &claims(200), SECRET);
        assert_eq!(check(&t, TokenType::Refresh, 200), Err(JwtError::Expired));
        assert!(verify(TokenType::Refresh, &t, SECRET, AUD, 999, true).is_ok());
    }

    #[test]
    fn refresh_token_is_not_an_access_token() {
        let t = sign(TokenType::Refresh, &claims(200), SECRET);
        assert_eq!(check(&t, TokenType::Access, 150), Err(JwtError::WrongType));
        let t = sign(TokenType::Access, &claims(200), SECRET);
        assert_eq!(check(&t, TokenType::Refresh, 150), Err(JwtError::WrongType));
    }

    #[test]
    fn other_secret_or_tampered_body_fails_signature() {
        let t = sign(TokenType::Access, &claims(200), b"other");
        assert_eq!(
            check(&t, TokenType::Access, 150),
            Err(JwtError::BadSignature)
        );
        let t = sign(TokenType::Access, &claims(200), SECRET);
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = BASE64URL_NOPAD.encode(&serde_json::to_vec(&claims(9_999)).unwrap());
        parts[1] = &forged;
        assert_eq!(
            check(&parts.join("."), TokenType::Access, 150),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn alg_none_header_is_refused() {
        let h = BASE64URL_NOPAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        let b = BASE64URL_NOPAD.encode(&serde_json::to_vec(&claims(200)).unwrap());
        assert_eq!(
            check(&format!("{h}.{b}."), TokenType::Access, 150),
            Err(JwtError::WrongType)
        );
    }

    #[test]
    fn wrong_audience_is_refused() {
        let mut c = claims(200);
        c.aud = "did:web:elsewhere".into();
        let t = sign(TokenType::Access, &c, SECRET);
        assert_eq!(
            check(&t, TokenType::Access, 150),
            Err(JwtError::WrongAudience)
        );
    }

    #[test]
    fn malformed_tokens_are_malformed() {
        for t in ["", "a", "a.b", "a.b.c.d", "!!.??.**", &"a".repeat(5000)] {
            assert_eq!(
                check(t, TokenType::Access, 0),
                Err(JwtError::Malformed),
                "{t:.20}"
            );
        }
    }
}
