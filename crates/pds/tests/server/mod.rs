//! A real server on 127.0.0.1:0 over a temporary data directory, and request helpers.
#![allow(dead_code)] // each test file uses a different subset

use std::path::Path;

use aerie_pds::{ConfigArgs, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct Server {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start(dir: &Path, args: ConfigArgs) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = ConfigArgs {
            data_directory: Some(dir.to_path_buf()),
            port: Some(port),
            ..args
        }
        .resolve()
        .unwrap();
        let state = serve::open(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Server {
            url: format!("http://127.0.0.1:{port}"),
            stop: Some(stop),
            task: Some(task),
            http: reqwest::Client::new(),
        }
    }

    /// A handle on a server the test started itself (e.g. to keep its `AppState`); `stop`
    /// does nothing for it.
    pub fn attach(url: String) -> Server {
        Server {
            url,
            stop: None,
            task: None,
            http: reqwest::Client::new(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    pub async fn admin_post(&self, path: &str, password: &str, body: Value) -> (StatusCode, Value) {
        let req = self
            .http
            .post(format!("{}{path}", self.url))
            .basic_auth("admin", Some(password))
            .json(&body);
        answer(req.send().await.unwrap()).await
    }

    pub async fn create_account(&self, handle: &str, email: &str) -> (StatusCode, Value) {
        self.post(
            "/xrpc/com.atproto.server.createAccount",
            None,
            json!({"handle": handle, "email": email, "password": "hunter2hunter2"}),
        )
        .await
    }
}

pub async fn answer(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn check_error(got: &(StatusCode, Value), status: u16, error: &str) {
    assert_eq!(got.0.as_u16(), status, "{}", got.1);
    assert_eq!(got.1["error"], error, "{}", got.1);
}
