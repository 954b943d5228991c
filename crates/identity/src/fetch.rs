//! The HTTP side of resolution: building the two clients, and reading bounded bodies.

use reqwest::redirect::Policy;

use crate::{IdentityError, ResolverConfig};

/// The clients a resolver uses. DID documents are fetched without redirects (a PLC
/// directory or did:web host has no reason to redirect, and following one would let the
/// host point us anywhere); the handle well-known lookup follows a bounded number, never
/// downgrading https to http.
pub(crate) struct Clients {
    pub(crate) no_redirect: reqwest::Client,
    pub(crate) bounded_redirect: reqwest::Client,
}

impl Clients {
    pub(crate) fn new(config: &ResolverConfig) -> Result<Clients, IdentityError> {
        let base = || {
            reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .timeout(config.http_timeout)
                .connect_timeout(config.http_timeout)
        };
        let max = config.max_redirects;
        let policy = Policy::custom(move |attempt| {
            let downgrade = attempt.url().scheme() != "https"
                && attempt
                    .previous()
                    .last()
                    .is_some_and(|prev| prev.scheme() == "https");
            if attempt.previous().len() > max {
                attempt.error("too many redirects")
            } else if !matches!(attempt.url().scheme(), "http" | "https") || downgrade {
                attempt.error("redirect to a refused scheme")
            } else {
                attempt.follow()
            }
        });
        let build = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| IdentityError::Config(format!("HTTP client: {e}")))
        };
        Ok(Clients {
            no_redirect: build(base().redirect(Policy::none()))?,
            bounded_redirect: build(base().redirect(policy))?,
        })
    }
}

/// Checks that `url` is http(s) before anything is sent: the only schemes resolution
/// ever needs.
pub(crate) fn check_scheme(url: &str) -> Result<reqwest::Url, IdentityError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| IdentityError::RefusedUrl {
        url: url.to_owned(),
        reason: "not a URL",
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(IdentityError::RefusedUrl {
            url: url.to_owned(),
            reason: "only http and https are fetched",
        });
    }
    Ok(parsed)
}

/// A GET's status and body, the body cut off with an error past `limit` bytes. `host`, when
/// set, is sent as the `Host` header: an origin override maps a hostname to another
/// address, like `curl --resolve`, and the server still needs the name to pick the account.
pub(crate) async fn get_bounded(
    client: &reqwest::Client,
    url: reqwest::Url,
    accept: &str,
    limit: usize,
    host: Option<&str>,
) -> Result<(u16, Vec<u8>), IdentityError> {
    let shown = url.to_string();
    let http_err = |reason: String| IdentityError::Http {
        url: shown.clone(),
        reason,
    };
    let mut req = client.get(url).header(reqwest::header::ACCEPT, accept);
    if let Some(host) = host {
        req = req.header(reqwest::header::HOST, host);
    }
    let mut resp = req.send().await.map_err(|e| http_err(error_chain(&e)))?;
    let status = resp.status().as_u16();
    let too_big = || http_err(format!("response larger than {limit} bytes"));
    if resp.content_length().is_some_and(|len| len > limit as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| http_err(error_chain(&e)))? {
        if body.len() + chunk.len() > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// reqwest's top-level messages ("error sending request") hide the cause; the chain names
/// it (connection refused, timeout, certificate).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
