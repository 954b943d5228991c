//! Routing helpers: method checks, the unknown-method fallback and panic recovery.

use std::any::Any;

use axum::handler::Handler;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

use crate::XrpcError;

async fn incorrect_method() -> XrpcError {
    XrpcError::invalid_request("Incorrect HTTP method")
}

/// A query (GET; HEAD too, as axum serves it from GET). Other methods -> 400.
pub fn query<H, T, S>(handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    get(handler).fallback(incorrect_method)
}

/// A procedure (POST). Other methods -> 400.
pub fn procedure<H, T, S>(handler: H) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    post(handler).fallback(incorrect_method)
}

/// Router fallback: unknown `/xrpc/` methods -> 501 `MethodNotImplemented`, else 404.
pub async fn fallback(uri: Uri) -> XrpcError {
    if uri.path().starts_with("/xrpc/") {
        XrpcError::method_not_implemented()
    } else {
        XrpcError::not_found()
    }
}

/// Turns a handler panic into 500 `InternalServerError` without details.
#[derive(Clone, Copy, Debug, Default)]
pub struct PanicResponse;

impl ResponseForPanic for PanicResponse {
    type ResponseBody = axum::body::Body;

    fn response_for_panic(&mut self, err: Box<dyn Any + Send + 'static>) -> Response {
        let detail = err
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| err.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".to_owned());
        XrpcError::internal(format_args!("handler panicked: {detail}")).into_response()
    }
}

/// The layer that applies [`PanicResponse`].
pub fn catch_panic_layer() -> CatchPanicLayer<PanicResponse> {
    CatchPanicLayer::custom(PanicResponse)
}
