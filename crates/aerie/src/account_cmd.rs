//! `aerie account ...` and `aerie invite create`: operator commands.
//!
//! They talk to the RUNNING server over HTTP with the admin password (com.atproto.admin and
//! com.atproto.server endpoints), never to its database: the server's single writer owns the
//! database, PLC updates and firehose events happen exactly as for any other request, and
//! the commands work the same against a remote server. The admin password comes from
//! `--admin-password`, `PDS_ADMIN_PASSWORD`, or a dev server's `<data-dir>/secrets.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Where the server is and how to authenticate as its admin.
#[derive(Debug, Args)]
pub struct Connection {
    /// Base URL of the running PDS.
    #[arg(
        long,
        global = true,
        env = "AERIE_URL",
        default_value = "http://localhost:2583"
    )]
    url: String,
    /// The server's admin password (PDS_ADMIN_PASSWORD).
    #[arg(
        long,
        global = true,
        env = "PDS_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    admin_password: Option<String>,
    /// A dev server's data directory: its secrets.json supplies the admin password.
    #[arg(long, global = true, env = "PDS_DATA_DIRECTORY")]
    data_dir: Option<PathBuf>,
}

/// Manage accounts on a running PDS.
#[derive(Debug, Args)]
pub struct AccountArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: AccountCommand,
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account (an invite code is minted if the server requires one).
    Create {
        /// The handle, e.g. alice.example.com.
        #[arg(long)]
        handle: String,
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// The account password.
        #[arg(long)]
        password: String,
    },
    /// List every account: DID, handle, email, state.
    List,
    /// Show one account (by DID or handle) as JSON.
    Info {
        /// DID or handle.
        account: String,
    },
    /// Take an account down (its repo stops being served, it cannot log in), or lift it.
    Takedown {
        /// The account DID.
        did: String,
        /// Lift the takedown instead.
        #[arg(long)]
        reverse: bool,
        /// A reference for the record (ticket number, ...).
        #[arg(long = "ref")]
        reference: Option<String>,
    },
    /// Set a new password (a random one is generated and printed if none is given); the
    /// account's sessions end.
    ResetPassword {
        /// The account DID.
        did: String,
        /// The new password.
        #[arg(long)]
        password: Option<String>,
    },
}

/// Manage invite codes on a running PDS.
#[derive(Debug, Args)]
pub struct InviteArgs {
    #[command(flatten)]
    conn: Connection,
    #[command(subcommand)]
    command: InviteCommand,
}

#[derive(Debug, Subcommand)]
enum InviteCommand {
    /// Create an invite code and print it.
    Create {
        /// How many accounts may sign up with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
    },
}

/// An HTTP client bound to one server and its admin password.
struct Client {
    http: reqwest::Client,
    url: String,
    admin_password: String,
}

impl Client {
    fn new(conn: Connection) -> anyhow::Result<Client> {
        let admin_password = match (conn.admin_password, &conn.data_dir) {
            (Some(p), _) => p,
            (None, Some(dir)) => {
                let path = dir.join("secrets.json");
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let v: Value = serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", path.display()))?;
                v["admin_password"]
                    .as_str()
                    .ok_or_else(|| anyhow!("{} has no admin_password", path.display()))?
                    .to_owned()
            }
            (None, None) => bail!(
                "the admin password is needed: pass --admin-password, set PDS_ADMIN_PASSWORD, \
                 or --data-dir for a dev server"
            ),
        };
        Ok(Client {
            http: reqwest::Client::new(),
            url: conn.url.trim_end_matches('/').to_owned(),
            admin_password,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder, method: &str) -> anyhow::Result<Value> {
        let resp = req
            .send()
            .await
            .with_context(|| format!("could not reach the PDS at {}", self.url))?;
        let status = resp.status();
        let text = resp.text().await.context("reading the response")?;
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let name = body["error"].as_str().unwrap_or("error");
            let msg = body["message"].as_str().unwrap_or("");
            bail!("{method} failed: {name}: {msg} (HTTP {})", status.as_u16());
        }
        Ok(body)
    }

    async fn query(&self, method: &str, params: &[(&str, &str)]) -> anyhow::Result<Value> {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        let req = self
            .http
            .get(format!("{}/xrpc/{method}?{}", self.url, query.join("&")))
            .basic_auth("admin", Some(&self.admin_password));
        self.send(req, method).await
    }

    async fn procedure(&self, method: &str, body: Value, admin: bool) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .post(format!("{}/xrpc/{method}", self.url))
            .json(&body);
        if admin {
            req = req.basic_auth("admin", Some(&self.admin_password));
        }
        self.send(req, method).await
    }

    /// The DID behind a DID or handle.
    async fn did_of(&self, account: &str) -> anyhow::Result<String> {
        if account.starts_with("did:") {
            return Ok(account.to_owned());
        }
        let v = self
            .query("com.atproto.identity.resolveHandle", &[("handle", account)])
            .await?;
        v["did"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("resolveHandle gave no DID"))
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// A random password: 24 hex characters (96 bits) from the OS.
fn random_password() -> anyhow::Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 12];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Runs `aerie account ...`.
pub fn run_account(args: AccountArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(args.conn)?;
    runtime()?.block_on(account(client, args.command))?;
    Ok(ExitCode::SUCCESS)
}

async fn account(c: Client, cmd: AccountCommand) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::Create {
            handle,
            email,
            password,
        } => {
            let desc = c.query("com.atproto.server.describeServer", &[]).await?;
            let mut input = json!({"handle": handle, "email": email, "password": password});
            if desc["inviteCodeRequired"] == true {
                let code = c
                    .procedure(
                        "com.atproto.server.createInviteCode",
                        json!({"useCount": 1}),
                        true,
                    )
                    .await?;
                input["inviteCode"] = code["code"].clone();
            }
            let out = c
                .procedure("com.atproto.server.createAccount", input, false)
                .await?;
            println!(
                "{}\t{}",
                out["did"].as_str().unwrap_or(""),
                out["handle"].as_str().unwrap_or("")
            );
        }
        AccountCommand::List => {
            let mut cursor: Option<String> = None;
            loop {
                let mut params = vec![("limit", "100")];
                if let Some(cur) = &cursor {
                    params.push(("cursor", cur.as_str()));
                }
                let page = c.query("com.atproto.admin.searchAccounts", &params).await?;
                for a in page["accounts"].as_array().into_iter().flatten() {
                    let state = if a.get("deactivatedAt").is_some() {
                        "deactivated"
                    } else {
                        "active"
                    };
                    println!(
                        "{}\t{}\t{}\t{state}",
                        a["did"].as_str().unwrap_or(""),
                        a["handle"].as_str().unwrap_or(""),
                        a["email"].as_str().unwrap_or("-"),
                    );
                }
                match page["cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
        }
        AccountCommand::Info { account } => {
            let did = c.did_of(&account).await?;
            let mut info = c
                .query("com.atproto.admin.getAccountInfo", &[("did", &did)])
                .await?;
            let status = c
                .query("com.atproto.admin.getSubjectStatus", &[("did", &did)])
                .await?;
            info["takedown"] = status["takedown"].clone();
            println!("{}", serde_json::to_string_pretty(&info)?);
        }
        AccountCommand::Takedown {
            did,
            reverse,
            reference,
        } => {
            let mut takedown = json!({ "applied": !reverse });
            if let Some(r) = reference {
                takedown["ref"] = json!(r);
            }
            c.procedure(
                "com.atproto.admin.updateSubjectStatus",
                json!({
                    "subject": {"$type": "com.atproto.admin.defs#repoRef", "did": did},
                    "takedown": takedown,
                }),
                true,
            )
            .await?;
            let verb = if reverse { "restored" } else { "taken down" };
            println!("{did} {verb}");
        }
        AccountCommand::ResetPassword { did, password } => {
            let generated = password.is_none();
            let password = match password {
                Some(p) => p,
                None => random_password()?,
            };
            c.procedure(
                "com.atproto.admin.updateAccountPassword",
                json!({"did": did, "password": password}),
                true,
            )
            .await?;
            if generated {
                println!("{password}");
            } else {
                println!("password of {did} changed");
            }
        }
    }
    Ok(())
}

/// Runs `aerie invite ...`.
pub fn run_invite(args: InviteArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(args.conn)?;
    runtime()?.block_on(async move {
        match args.command {
            InviteCommand::Create { uses } => {
                if uses == 0 {
                    bail!("--uses must be at least 1");
                }
                let out = client
                    .procedure(
                        "com.atproto.server.createInviteCode",
                        json!({ "useCount": uses }),
                        true,
                    )
                    .await?;
                println!("{}", out["code"].as_str().unwrap_or(""));
                Ok(())
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
