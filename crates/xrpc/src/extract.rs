//! Request extractors that fail with XRPC errors instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;

use crate::XrpcError;

/// A JSON request body. Wrong or missing content type, bad JSON or a body that does not fit
/// the input type -> 400 `InvalidRequest`; over the route's `DefaultBodyLimit` -> 413.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = XrpcError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                XrpcError::payload_too_large()
            } else {
                XrpcError::invalid_request(format!("could not read request body: {r}"))
            }
        })?;
        if !is_json {
            return Err(XrpcError::invalid_request(
                "Wrong request encoding (Content-Type): expected application/json",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| XrpcError::invalid_request(format!("Invalid request body: {e}")))
    }
}

/// Typed query parameters. Unknown parameters are ignored (clients send extras); missing
/// required ones or unparsable values -> 400 `InvalidRequest`.
#[derive(Debug, Clone)]
pub struct Params<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Params(t))
            .map_err(|e| XrpcError::invalid_request(e.body_text()))
    }
}
