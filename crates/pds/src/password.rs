//! Password hashing with Argon2id (default parameters), on blocking threads: one hash costs
//! tens of milliseconds of CPU and must not stall the async workers.

use aerie_xrpc::XrpcError;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Longest password accepted at signup (reference: 256).
pub const MAX_NEW_PASSWORD_LEN: usize = 256;
/// Longest password checked at login (reference: 512); longer ones simply fail.
pub const MAX_VERIFY_PASSWORD_LEN: usize = 512;

/// Hashes a password to a PHC string.
pub async fn hash(password: String) -> Result<String, XrpcError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(XrpcError::internal)
    })
    .await
    .map_err(XrpcError::internal)?
}

/// Checks a password against a stored PHC string; false on any mismatch or bad hash.
pub async fn verify(password: String, stored: String) -> bool {
    if password.len() > MAX_VERIFY_PASSWORD_LEN {
        return false;
    }
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Does the work of a failed [`verify`] against a hash nobody's password matches, so an
/// unknown identifier takes as long as a wrong password.
pub async fn verify_nothing(password: String) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let _ = tokio::task::spawn_blocking(move || {
        let stored = DUMMY.get_or_init(|| {
            Argon2::default()
                .hash_password(b"aerie: no such account")
                .map(|h| h.to_string())
                .unwrap_or_default()
        });
        if let Ok(parsed) = PasswordHash::new(stored) {
            let _ = Argon2::default().verify_password(password.as_bytes(), &parsed);
        }
    })
    .await;
}
