//! XRPC routes.

mod blob;
mod email;
mod identity;
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
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .merge(repo_routes())
        .route(
            "/xrpc/com.atproto.repo.uploadBlob",
            procedure(blob::upload_blob).layer(DefaultBodyLimit::max(blob_limit)),
        )
        .merge(sync_routes())
        .merge(email_routes())
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
