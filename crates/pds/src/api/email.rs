//! Account mail flows of com.atproto.server: requestPasswordReset + resetPassword,
//! requestEmailConfirmation + confirmEmail, requestEmailUpdate + updateEmail.
//!
//! Each request stores a fresh code in `email_token` (one per purpose and account, so asking
//! again replaces the old code) and mails it; the matching call accepts the code once,
//! within 15 minutes, and deletes it in the same write job that applies the change.

use aerie_mail::Email;
use aerie_store::{Transaction, account, email_token, lifecycle};
use aerie_syntax::Datetime;
use aerie_xrpc::{AccessAuth, Json, XrpcError, unix_now};
use axum::extract::{Extension, State};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};

use crate::error::{JobError, store_error};
use crate::mail::{check_token, new_token, normalize_token, purpose};
use crate::rate_limit::{ClientIp, Limit};
use crate::{AppState, password};

/// The account behind an access token; taken-down accounts may not use the mail flows.
async fn load_account(st: &AppState, did: &str) -> Result<account::Account, XrpcError> {
    let d = did.to_owned();
    let acct = st
        .store()
        .read(move |c| account::by_did(c, &d))
        .await
        .map_err(store_error)?
        .ok_or_else(|| XrpcError::named("AccountNotFound", "user not found"))?;
    if acct.takedown_ref.is_some() {
        return Err(super::admin::takedown_error());
    }
    Ok(acct)
}

/// Changing the address is an account setting, which app-password sessions may not touch.
fn require_full_access(auth: &AccessAuth) -> Result<(), XrpcError> {
    if auth.is_full_access() {
        Ok(())
    } else {
        Err(XrpcError::invalid_token("Bad token scope"))
    }
}

/// Stores a new code for `(purpose, did)` and returns it.
async fn issue_token(st: &AppState, purpose: &'static str, did: &str) -> Result<String, XrpcError> {
    let token = new_token()?;
    let (d, t, now) = (did.to_owned(), token.clone(), unix_now());
    st.store()
        .write(move |tx: &Transaction<'_>| email_token::put(tx, purpose, &d, &t, now))
        .await
        .map_err(store_error)?;
    Ok(token)
}

fn email_of(acct: &account::Account) -> Result<&str, XrpcError> {
    acct.email
        .as_deref()
        .ok_or_else(|| XrpcError::invalid_request("account does not have an email address"))
}

#[derive(Deserialize)]
pub struct RequestPasswordResetInput {
    email: String,
}

/// com.atproto.server.requestPasswordReset: always 200, so the answer does not reveal
/// whether an address has an account; mails a code when it does.
pub async fn request_password_reset(
    State(st): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Json(input): Json<RequestPasswordResetInput>,
) -> Result<(), XrpcError> {
    st.rate_limits()
        .check(&[Limit::ResetPassword], &ip.key(), 1)?;
    let email = input.email.trim().to_lowercase();
    let acct = st
        .store()
        .read(move |c| account::by_email(c, &email))
        .await
        .map_err(store_error)?;
    let Some(acct) = acct else {
        return Ok(());
    };
    let Some(to) = acct.email.clone() else {
        return Ok(());
    };
    let token = issue_token(&st, purpose::RESET_PASSWORD, &acct.did).await?;
    let handle = acct.handle.as_deref().unwrap_or(&to);
    st.outbox()
        .send(
            &to,
            Email::PasswordReset {
                handle,
                token: &token,
            },
        )
        .await
}

#[derive(Deserialize)]
pub struct ResetPasswordInput {
    token: String,
    password: String,
}

/// com.atproto.server.resetPassword: sets the password and ends every session of the
/// account (as the reference does: whoever asked for a reset may not trust those sessions).
pub async fn reset_password(
    State(st): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    Json(input): Json<ResetPasswordInput>,
) -> Result<(), XrpcError> {
    st.rate_limits()
        .check(&[Limit::ResetPassword], &ip.key(), 1)?;
    if input.password.is_empty() || input.password.len() > password::MAX_NEW_PASSWORD_LEN {
        return Err(XrpcError::invalid_request(format!(
            "Password must be 1 to {} bytes",
            password::MAX_NEW_PASSWORD_LEN
        )));
    }
    let token = normalize_token(&input.token);
    let t = token.clone();
    let found = st
        .store()
        .read(move |c| email_token::find_by_token(c, purpose::RESET_PASSWORD, &t))
        .await
        .map_err(store_error)?;
    let now = unix_now();
    check_token(found.as_ref().map(|(_, t)| t), &token, now)?;
    let Some((did, _)) = found else {
        return Err(XrpcError::named("InvalidToken", "Token is invalid"));
    };
    let hash = password::hash(input.password).await?;
    st.store()
        .write(move |tx: &Transaction<'_>| -> Result<(), JobError> {
            // Checked again inside the job: a concurrent reset may have used the code.
            let current = email_token::get(tx, purpose::RESET_PASSWORD, &did)?;
            check_token(current.as_ref(), &token, now)?;
            email_token::delete(tx, purpose::RESET_PASSWORD, &did)?;
            lifecycle::set_password(tx, &did, &hash)?;
            Ok(())
        })
        .await
        .map_err(XrpcError::from)
}

/// com.atproto.server.requestEmailConfirmation: mails a code to the account's address.
pub async fn request_email_confirmation(
    State(st): State<AppState>,
    auth: AccessAuth,
) -> Result<(), XrpcError> {
    let acct = load_account(&st, &auth.did).await?;
    let to = email_of(&acct)?;
    let token = issue_token(&st, purpose::CONFIRM_EMAIL, &acct.did).await?;
    st.outbox()
        .send(to, Email::ConfirmEmail { token: &token })
        .await
}

#[derive(Deserialize)]
pub struct ConfirmEmailInput {
    email: String,
    token: String,
}

/// com.atproto.server.confirmEmail: the address must be the account's current one.
pub async fn confirm_email(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<ConfirmEmailInput>,
) -> Result<(), XrpcError> {
    let acct = load_account(&st, &auth.did).await?;
    let current = email_of(&acct)?;
    if !current.eq_ignore_ascii_case(input.email.trim()) {
        return Err(XrpcError::named("InvalidEmail", "invalid email"));
    }
    let (did, token, now) = (acct.did.clone(), input.token, unix_now());
    let confirmed_at = Datetime::now().into_string();
    st.store()
        .write(move |tx: &Transaction<'_>| -> Result<(), JobError> {
            let stored = email_token::get(tx, purpose::CONFIRM_EMAIL, &did)?;
            check_token(stored.as_ref(), &token, now)?;
            email_token::delete(tx, purpose::CONFIRM_EMAIL, &did)?;
            account::set_email_confirmed(tx, &did, &confirmed_at)?;
            Ok(())
        })
        .await
        .map_err(XrpcError::from)
}

/// com.atproto.server.requestEmailUpdate: a confirmed address must approve the change with a
/// code mailed to it (`tokenRequired: true`); an unconfirmed one may be replaced directly.
pub async fn request_email_update(
    State(st): State<AppState>,
    auth: AccessAuth,
) -> Result<axum::Json<JsonValue>, XrpcError> {
    require_full_access(&auth)?;
    let acct = load_account(&st, &auth.did).await?;
    let to = email_of(&acct)?;
    let token_required = acct.email_confirmed_at.is_some();
    if token_required {
        let token = issue_token(&st, purpose::UPDATE_EMAIL, &acct.did).await?;
        st.outbox()
            .send(to, Email::UpdateEmail { token: &token })
            .await?;
    }
    Ok(axum::Json(json!({ "tokenRequired": token_required })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateEmailInput {
    email: String,
    /// Accepted for compatibility; Aerie has no email sign-in factor yet.
    #[allow(dead_code)]
    email_auth_factor: Option<bool>,
    token: Option<String>,
}

/// com.atproto.server.updateEmail: the new address starts unconfirmed.
pub async fn update_email(
    State(st): State<AppState>,
    auth: AccessAuth,
    Json(input): Json<UpdateEmailInput>,
) -> Result<(), XrpcError> {
    require_full_access(&auth)?;
    let email = input.email.trim().to_lowercase();
    if !super::server::is_plausible_email(&email) {
        return Err(XrpcError::invalid_request(
            "This email address is not supported, please use a different email.",
        ));
    }
    let acct = load_account(&st, &auth.did).await?;
    let token = match (acct.email_confirmed_at.is_some(), input.token) {
        (true, None) => {
            return Err(XrpcError::named(
                "TokenRequired",
                "confirmation token required",
            ));
        }
        (true, Some(t)) => Some(t),
        (false, _) => None,
    };
    let unchanged = acct
        .email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(&email));
    let (did, now) = (acct.did.clone(), unix_now());
    st.store()
        .write(move |tx: &Transaction<'_>| -> Result<(), JobError> {
            if let Some(token) = &token {
                let stored = email_token::get(tx, purpose::UPDATE_EMAIL, &did)?;
                check_token(stored.as_ref(), token, now)?;
                email_token::delete(tx, purpose::UPDATE_EMAIL, &did)?;
            }
            if !unchanged {
                lifecycle::set_email(tx, &did, &email).map_err(|e| match e {
                    aerie_store::StoreError::Conflict { what: "email" } => {
                        JobError::Xrpc(XrpcError::invalid_request(
                            "This email address is already in use, please use a different \
                             email.",
                        ))
                    }
                    other => JobError::Store(other),
                })?;
            }
            Ok(())
        })
        .await
        .map_err(XrpcError::from)
}
