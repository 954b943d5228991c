//! The XRPC error response.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answer: HTTP status, XRPC error name and optional message.
///
/// Constructors exist for the generic names (status -> name as in the reference
/// xrpc-server) and [`XrpcError::named`] covers lexicon-declared errors (sent with 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrpcError {
    status: StatusCode,
    error: Cow<'static, str>,
    message: Option<Cow<'static, str>>,
    /// Extra response headers (e.g. `RateLimit-*` on a 429).
    headers: Vec<(&'static str, String)>,
}

impl XrpcError {
    /// Any status and name.
    pub fn new(
        status: StatusCode,
        error: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        XrpcError {
            status,
            error: error.into(),
            message: Some(message.into()),
            headers: Vec::new(),
        }
    }

    /// The same error, sent with one more response header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// A lexicon-declared error (e.g. `HandleNotAvailable`), status 400.
    pub fn named(error: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, message)
    }

    /// 400 `InvalidRequest`: bad params, bad JSON, wrong method.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::named("InvalidRequest", message)
    }

    /// 401 `AuthMissing`: no credentials at all.
    pub fn auth_missing() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AuthMissing",
            "Authentication Required",
        )
    }

    /// 401 `AuthenticationRequired` with a message (bad credentials).
    pub fn auth_required(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AuthenticationRequired", message)
    }

    /// 400 `InvalidToken`: a token that cannot be accepted.
    pub fn invalid_token(message: impl Into<Cow<'static, str>>) -> Self {
        Self::named("InvalidToken", message)
    }

    /// 400 `ExpiredToken`: clients key off this name to call refreshSession.
    pub fn expired_token() -> Self {
        Self::named("ExpiredToken", "Token has expired")
    }

    /// 403 `Forbidden`.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// 404 `NotFound` (outside `/xrpc/`).
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", "Not Found")
    }

    /// 413 `PayloadTooLarge`.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "request entity too large",
        )
    }

    /// 501 `MethodNotImplemented`.
    pub fn method_not_implemented() -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "MethodNotImplemented",
            "Method Not Implemented",
        )
    }

    /// 500 `InternalServerError`. The cause is logged here and never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        XrpcError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: Cow::Borrowed("InternalServerError"),
            message: Some(Cow::Borrowed("Internal Server Error")),
            headers: Vec::new(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The XRPC error name.
    pub fn error(&self) -> &str {
        &self.error
    }

    /// The message, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

impl std::fmt::Display for XrpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.error)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for XrpcError {}

impl IntoResponse for XrpcError {
    fn into_response(self) -> Response {
        let body = match &self.message {
            Some(m) => serde_json::json!({ "error": self.error, "message": m }),
            None => serde_json::json!({ "error": self.error }),
        };
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                resp.headers_mut().insert(*name, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110: a 401 carries a challenge.
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
