//! XRPC routes.

pub(crate) mod account;
mod admin;
mod blob;
mod email;
mod identity;
pub(crate) mod migration;
mod preferences;
mod proxy;
mod repo;
mod server;
mod sync;

use aerie_xrpc::{fallback, procedure, query};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::AppState;

/// JSON bodies of com.atproto procedures are small; 256 KiB leaves room for applyWrites.
pub const JSON_BODY_LIMIT: usize = 256 * 1024;

/// All routes of the PDS; uploads may be up to `blob_limit` bytes.
pub fn routes(blob_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/xrpc/_health", get(server::health))
        .route("/.well-known/atproto-did", get(identity::well_known_did))
        .route(
            "/xrpc/com.atproto.server.describeServer",
            query(server::describe_server),
        )
        .route(
            "/xrpc/com.atproto.server.createAccount",
            procedure(server::create_account),
        )
        .route(
            "/xrpc/com.atproto.server.createSession",
            procedure(server::create_session),
        )
        .route(
            "/xrpc/com.atproto.server.getSession",
            query(server::get_session),
        )
        .route(
            "/xrpc/com.atproto.server.refreshSession",
            procedure(server::refresh_session),
        )
        .route(
            "/xrpc/com.atproto.server.deleteSession",
            procedure(server::delete_session),
        )
        .route(
            "/xrpc/com.atproto.server.createInviteCode",
            procedure(server::create_invite_code),
        )
        .route(
            "/xrpc/com.atproto.server.createInviteCodes",
            procedure(server::create_invite_codes),
        )
        .route(
            "/xrpc/com.atproto.server.getAccountInviteCodes",
            query(server::get_account_invite_codes),
        )
        .route(
            "/xrpc/com.atproto.identity.resolveHandle",
            query(identity::resolve_handle),
        )
        .route(
            "/xrpc/com.atproto.identity.updateHandle",
            procedure(identity::update_handle),
        )
        .route(
            "/xrpc/com.atproto.identity.getRecommendedDidCredentials",
            query(identity::get_recommended_did_credentials),
        )
        .route(
            "/xrpc/app.bsky.actor.getPreferences",
            query(preferences::get_preferences),
        )
        .route(
            "/xrpc/app.bsky.actor.putPreferences",
            procedure(preferences::put_preferences),
        )
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(repo_routes())
        .route(
            "/xrpc/com.atproto.repo.uploadBlob",
            procedure(blob::upload_blob).layer(DefaultBodyLimit::max(blob_limit)),
        )
        .merge(sync_routes())
        .merge(account_routes())
        .merge(admin_routes())
        .merge(email_routes())
        .merge(migration_routes())
        // Methods without a route of their own: proxied to another service, or 501.
        .route("/xrpc/{method}", axum::routing::any(proxy::forward))
        .fallback(fallback)
}

/// Record writes: 1 MiB of JSON per request (a 2 MB body is 413, as the clients expect;
/// the reference PDS allows even less).
const REPO_BODY_LIMIT: usize = 1024 * 1024;

fn repo_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/xrpc/com.atproto.repo.createRecord",
            procedure(repo::create_record),
        )
        .route(
            "/xrpc/com.atproto.repo.putRecord",
            procedure(repo::put_record),
        )
        .route(
            "/xrpc/com.atproto.repo.deleteRecord",
            procedure(repo::delete_record),
        )
        .route(
            "/xrpc/com.atproto.repo.applyWrites",
            procedure(repo::apply_writes),
        )
        .route("/xrpc/com.atproto.repo.getRecord", query(repo::get_record))
        .route(
            "/xrpc/com.atproto.repo.listRecords",
            query(repo::list_records),
        )
        .route(
            "/xrpc/com.atproto.repo.describeRepo",
            query(repo::describe_repo),
        )
        .layer(DefaultBodyLimit::max(REPO_BODY_LIMIT))
}

fn sync_routes() -> Router<AppState> {
    Router::new()
        .route("/xrpc/com.atproto.sync.getRepo", query(sync::get_repo))
        .route(
            "/xrpc/com.atproto.sync.getCheckout",
            query(sync::get_checkout),
        )
        .route("/xrpc/com.atproto.sync.getHead", query(sync::get_head))
        .route(
            "/xrpc/com.atproto.sync.getLatestCommit",
            query(sync::get_latest_commit),
        )
        .route(
            "/xrpc/com.atproto.sync.getRepoStatus",
            query(sync::get_repo_status),
        )
        .route("/xrpc/com.atproto.sync.getRecord", query(sync::get_record))
        .route("/xrpc/com.atproto.sync.getBlocks", query(sync::get_blocks))
        .route("/xrpc/com.atproto.sync.listRepos", query(sync::list_repos))
        .route("/xrpc/com.atproto.sync.getBlob", query(blob::get_blob))
        .route(
            "/xrpc/com.atproto.sync.subscribeRepos",
            get(aerie_firehose::subscribe_repos),
        )
        .route("/xrpc/com.atproto.sync.listBlobs", query(blob::list_blobs))
}

/// Account migration and service auth (see `migration.rs`). importRepo streams its body to
/// a file with its own size cap, so no body limit applies to it here.
fn migration_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/xrpc/com.atproto.server.getServiceAuth",
            query(migration::get_service_auth),
        )
        .route(
            "/xrpc/com.atproto.repo.importRepo",
            procedure(migration::import_repo).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/xrpc/com.atproto.repo.listMissingBlobs",
            query(migration::list_missing_blobs),
        )
        .route(
            "/xrpc/com.atproto.identity.requestPlcOperationSignature",
            procedure(migration::request_plc_operation_signature),
        )
        .route(
            "/xrpc/com.atproto.identity.signPlcOperation",
            procedure(migration::sign_plc_operation).layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)),
        )
        .route(
            "/xrpc/com.atproto.identity.submitPlcOperation",
            procedure(migration::submit_plc_operation)
                .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)),
        )
        .route(
            "/xrpc/com.atproto.server.activateAccount",
            procedure(migration::activate_account),
        )
        .route(
            "/xrpc/com.atproto.server.reserveSigningKey",
            procedure(migration::reserve_signing_key).layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)),
        )
}

/// Account mail flows (see `email.rs`).
fn email_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/xrpc/com.atproto.server.requestPasswordReset",
            procedure(email::request_password_reset),
        )
        .route(
            "/xrpc/com.atproto.server.resetPassword",
            procedure(email::reset_password),
        )
        .route(
            "/xrpc/com.atproto.server.requestEmailConfirmation",
            procedure(email::request_email_confirmation),
        )
        .route(
            "/xrpc/com.atproto.server.confirmEmail",
            procedure(email::confirm_email),
        )
        .route(
            "/xrpc/com.atproto.server.requestEmailUpdate",
            procedure(email::request_email_update),
        )
        .route(
            "/xrpc/com.atproto.server.updateEmail",
            procedure(email::update_email),
        )
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
}

/// App passwords and the owner's account lifecycle (see `account.rs`).
fn account_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/xrpc/com.atproto.server.createAppPassword",
            procedure(account::create_app_password),
        )
        .route(
            "/xrpc/com.atproto.server.listAppPasswords",
            query(account::list_app_passwords),
        )
        .route(
            "/xrpc/com.atproto.server.revokeAppPassword",
            procedure(account::revoke_app_password),
        )
        .route(
            "/xrpc/com.atproto.server.deactivateAccount",
            procedure(account::deactivate_account),
        )
        .route(
            "/xrpc/com.atproto.server.checkAccountStatus",
            query(account::check_account_status),
        )
        .route(
            "/xrpc/com.atproto.server.requestAccountDelete",
            procedure(account::request_account_delete),
        )
        .route(
            "/xrpc/com.atproto.server.deleteAccount",
            procedure(account::delete_account),
        )
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
}

/// com.atproto.admin.* with HTTP basic admin auth (see `admin.rs`).
fn admin_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/xrpc/com.atproto.admin.getAccountInfo",
            query(admin::get_account_info),
        )
        .route(
            "/xrpc/com.atproto.admin.getAccountInfos",
            query(admin::get_account_infos),
        )
        .route(
            "/xrpc/com.atproto.admin.searchAccounts",
            query(admin::search_accounts),
        )
        .route(
            "/xrpc/com.atproto.admin.updateSubjectStatus",
            procedure(admin::update_subject_status),
        )
        .route(
            "/xrpc/com.atproto.admin.getSubjectStatus",
            query(admin::get_subject_status),
        )
        .route(
            "/xrpc/com.atproto.admin.deleteAccount",
            procedure(admin::delete_account),
        )
        .route(
            "/xrpc/com.atproto.admin.updateAccountHandle",
            procedure(admin::update_account_handle),
        )
        .route(
            "/xrpc/com.atproto.admin.updateAccountEmail",
            procedure(admin::update_account_email),
        )
        .route(
            "/xrpc/com.atproto.admin.updateAccountPassword",
            procedure(admin::update_account_password),
        )
        .route(
            "/xrpc/com.atproto.admin.disableAccountInvites",
            procedure(admin::disable_account_invites),
        )
        .route(
            "/xrpc/com.atproto.admin.enableAccountInvites",
            procedure(admin::enable_account_invites),
        )
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
}
