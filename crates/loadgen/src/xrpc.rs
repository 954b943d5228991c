//! The few XRPC calls a benchmark makes, each reporting bytes on the wire and a typed
//! [`Failure`] instead of an error chain, so the workers can count failures by name.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Failure};
use crate::target::Target;

/// One finished request: what came back and how many body bytes went each way.
pub(crate) struct Outcome<T> {
    pub result: Result<T, Failure>,
    pub sent: u64,
    pub received: u64,
}

/// A shared HTTP client bound to one target. reqwest pools keep-alive connections, so each
/// concurrent worker ends up holding one connection.
#[derive(Clone)]
pub(crate) struct Xrpc {
    http: reqwest::Client,
    target: Target,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DescribeServer {
    #[serde(default)]
    pub available_user_domains: Vec<String>,
    #[serde(default)]
    pub invite_code_required: bool,
}

#[derive(Deserialize)]
pub(crate) struct InviteCode {
    pub code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Session {
    pub access_jwt: String,
    pub did: String,
}

#[derive(Deserialize, Clone)]
pub(crate) struct StrongRef {
    pub uri: String,
    pub cid: String,
}

#[derive(Deserialize)]
pub(crate) struct GotRecord {
    #[serde(default)]
    pub cid: Option<String>,
}

#[derive(Deserialize)]
struct XrpcErrorBody {
    error: Option<String>,
    message: Option<String>,
}

/// The new account's credentials, as sent to createAccount and createSession.
pub(crate) struct NewAccount<'a> {
    pub handle: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub invite_code: Option<&'a str>,
}

impl Xrpc {
    pub fn new(target: Target, timeout: Duration) -> Result<Xrpc, Error> {
        let http = reqwest::Client::builder()
            // Loopback only: an environment proxy would measure the proxy, or leak the load.
            .no_proxy()
            .timeout(timeout)
            .user_agent(concat!("aerie-loadgen/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Client)?;
        Ok(Xrpc { http, target })
    }

    pub async fn describe_server(&self) -> Outcome<DescribeServer> {
        let rb = self
            .http
            .get(self.target.xrpc("com.atproto.server.describeServer"));
        self.send(rb, 0).await
    }

    pub async fn create_invite_code(&self, admin_password: &str, uses: u64) -> Outcome<InviteCode> {
        let body = serde_json::json!({ "useCount": uses });
        let rb = self
            .post("com.atproto.server.createInviteCode")
            .basic_auth("admin", Some(admin_password));
        self.send_json(rb, &body).await
    }

    pub async fn create_account(&self, account: &NewAccount<'_>) -> Outcome<Session> {
        let mut body = serde_json::json!({
            "handle": account.handle,
            "email": account.email,
            "password": account.password,
        });
        if let (Some(code), Some(map)) = (account.invite_code, body.as_object_mut()) {
            map.insert("inviteCode".to_owned(), code.into());
        }
        let rb = self.post("com.atproto.server.createAccount");
        self.send_json(rb, &body).await
    }

    pub async fn create_session(&self, identifier: &str, password: &str) -> Outcome<Session> {
        let body = serde_json::json!({ "identifier": identifier, "password": password });
        let rb = self.post("com.atproto.server.createSession");
        self.send_json(rb, &body).await
    }

    pub async fn create_record(
        &self,
        access_jwt: &str,
        repo: &str,
        record: &serde_json::Value,
    ) -> Outcome<StrongRef> {
        let body = serde_json::json!({
            "repo": repo,
            "collection": "app.bsky.feed.post",
            "record": record,
        });
        let rb = self
            .post("com.atproto.repo.createRecord")
            .bearer_auth(access_jwt);
        self.send_json(rb, &body).await
    }

    /// Reads a record by its at:// URI; succeeds only if the server returns the CID the write
    /// returned (a read that answers with another version is a failure, not a success).
    pub async fn get_record(&self, record: &StrongRef) -> Outcome<()> {
        let Some((repo, collection, rkey)) = split_at_uri(&record.uri) else {
            return Outcome {
                result: Err(Failure::BadResponse(format!(
                    "createRecord returned an unusable uri {:?}",
                    record.uri
                ))),
                sent: 0,
                received: 0,
            };
        };
        let mut url = self.target.xrpc("com.atproto.repo.getRecord");
        url.query_pairs_mut()
            .append_pair("repo", repo)
            .append_pair("collection", collection)
            .append_pair("rkey", rkey);
        let out: Outcome<GotRecord> = self.send(self.http.get(url), 0).await;
        let result = match out.result {
            Ok(got) if got.cid.as_deref() == Some(record.cid.as_str()) => Ok(()),
            Ok(got) => Err(Failure::BadResponse(format!(
                "getRecord returned cid {:?}, the write said {}",
                got.cid, record.cid
            ))),
            Err(f) => Err(f),
        };
        Outcome {
            result,
            sent: out.sent,
            received: out.received,
        }
    }

    fn post(&self, nsid: &str) -> reqwest::RequestBuilder {
        self.http.post(self.target.xrpc(nsid))
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        rb: reqwest::RequestBuilder,
        body: &serde_json::Value,
    ) -> Outcome<T> {
        // Serialised here rather than with `.json()` so the byte count is known.
        let bytes = body.to_string().into_bytes();
        let sent = bytes.len() as u64;
        let rb = rb.header(CONTENT_TYPE, "application/json").body(bytes);
        self.send(rb, sent).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        rb: reqwest::RequestBuilder,
        sent: u64,
    ) -> Outcome<T> {
        let response = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                return Outcome {
                    result: Err(transport(&e)),
                    sent,
                    received: 0,
                };
            }
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Outcome {
                    result: Err(transport(&e)),
                    sent,
                    received: 0,
                };
            }
        };
        let received = body.len() as u64;
        let result = if status.is_success() {
            serde_json::from_slice::<T>(&body).map_err(|e| Failure::BadResponse(e.to_string()))
        } else {
            let parsed: Option<XrpcErrorBody> = serde_json::from_slice(&body).ok();
            let (name, message) = match parsed {
                Some(XrpcErrorBody {
                    error: Some(name),
                    message,
                }) => (name, message.unwrap_or_default()),
                Some(XrpcErrorBody { message, .. }) => (
                    format!("HTTP {}", status.as_u16()),
                    message.unwrap_or_default(),
                ),
                None => (
                    format!("HTTP {}", status.as_u16()),
                    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
                ),
            };
            Err(Failure::Xrpc {
                status: status.as_u16(),
                name,
                message,
            })
        };
        Outcome {
            result,
            sent,
            received,
        }
    }
}

/// A short, stable failure kind (the report keys on it), with the detail kept for setup
/// errors where one failure is shown in full.
fn transport(e: &reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else if e.is_request() {
        "request"
    } else {
        "other"
    };
    Failure::Transport(kind.to_owned())
}

/// `at://<repo>/<collection>/<rkey>` into its three parts (no query or fragment).
fn split_at_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let rest = uri.strip_prefix("at://")?;
    let mut parts = rest.split('/');
    let (repo, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || [repo, collection, rkey].iter().any(|p| p.is_empty()) {
        return None;
    }
    Some((repo, collection, rkey))
}

#[cfg(test)]
mod tests {
    use super::split_at_uri;

    #[test]
    fn record_uris_split_into_repo_collection_and_rkey() {
        assert_eq!(
            split_at_uri("at://did:plc:abc/app.bsky.feed.post/3k2a"),
            Some(("did:plc:abc", "app.bsky.feed.post", "3k2a"))
        );
        for bad in [
            "did:plc:abc/app.bsky.feed.post/3k2a",
            "at://did:plc:abc/app.bsky.feed.post",
            "at://did:plc:abc/app.bsky.feed.post/3k2a/x",
            "at://did:plc:abc//3k2a",
        ] {
            assert_eq!(split_at_uri(bad), None, "{bad}");
        }
    }
}
