//! XRPC routes.

mod identity;
mod server;

use aerie_xrpc::{fallback, procedure, query};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::AppState;

/// JSON bodies of com.atproto procedures are small; 256 KiB leaves room for applyWrites.
pub const JSON_BODY_LIMIT: usize = 256 * 1024;

/// All routes of the PDS over `state`.
pub fn routes() -> Router<AppState> {
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
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .fallback(fallback)
}
