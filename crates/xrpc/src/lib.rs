//! XRPC server plumbing shared by the PDS (and later the relay and PLC services).
//!
//! - [`XrpcError`]: the one error a handler returns; it renders as the reference does:
//!   status + `{"error": Name, "message": text}`. Internal errors are logged, not shown.
//! - Extractors: [`Json`] (content type and JSON checked, body limit -> 413), [`Params`]
//!   (typed query string, bad values -> 400 `InvalidRequest`), [`AccessAuth`],
//!   [`RefreshAuth`], [`BearerToken`], [`AdminAuth`].
//! - Routing helpers: [`query`] / [`procedure`] answer a wrong HTTP method with 400
//!   "Incorrect HTTP method"; [`fallback`] answers unknown `/xrpc/` methods with 501
//!   `MethodNotImplemented`; [`catch_panic_layer`] turns a panic into a bare 500.
//! - [`jwt`]: HS256 session tokens (access `at+jwt`, refresh `refresh+jwt`); the algorithm is
//!   fixed by the token type, never taken from the header.

#![deny(missing_docs)]

mod auth;
mod error;
mod extract;
pub mod jwt;
mod route;

pub use auth::{
    AccessAuth, AdminAuth, AdminPassword, AuthKeys, BearerToken, RefreshAuth, unix_now,
};
pub use error::XrpcError;
pub use extract::{Json, Params};
pub use route::{catch_panic_layer, fallback, procedure, query};
