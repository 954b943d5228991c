//! `aerie doctor`: checks a PDS configuration before (or while) it runs.
//!
//! Reads exactly what `aerie serve` reads (flags and `PDS_*` variables), then prints one
//! line per check: `ok`, `warn`, `skip` or `FAIL`, a name, and the detail. Exits 1 if any
//! check failed, so it can gate a deployment script.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use aerie_pds::config::PlcMode;
use anyhow::Context;
use clap::Args;

/// How long the PLC and SMTP checks may take each.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks the configuration `aerie serve` would run with.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also send a test message to this address (needs PDS_EMAIL_SMTP_URL).
    #[arg(long, value_name = "ADDR")]
    send_test_mail: Option<String>,
    #[command(flatten)]
    // Boxed, as in `aerie serve`: the config has many optional fields.
    config: Box<aerie_pds::ConfigArgs>,
}

#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, status: &str, name: &str, detail: impl std::fmt::Display) {
        if status == "FAIL" {
            self.failed = true;
        }
        println!("{status:<4} {name}: {detail}");
    }

    fn check<T, E: std::fmt::Display>(
        &mut self,
        name: &str,
        result: Result<T, E>,
        ok: impl FnOnce(&T) -> String,
    ) -> Option<T> {
        match result {
            Ok(v) => {
                self.line("ok", name, ok(&v));
                Some(v)
            }
            Err(e) => {
                self.line("FAIL", name, e);
                None
            }
        }
    }
}

/// Creates `dir` if needed and proves a file can be written, synced and removed there.
fn writable(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".aerie-doctor-{}", std::process::id()));
    let result = std::fs::File::create(&probe).and_then(|mut f| {
        f.write_all(b"aerie doctor")?;
        f.sync_all()
    });
    let removed = std::fs::remove_file(&probe);
    result.and(removed)
}

/// Runs every check; exit status 1 if any failed.
pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let mut r = Report::default();
    let Some(config) = r.check("configuration", args.config.resolve(), |c| {
        format!(
            "{} ({}), public URL {}",
            c.hostname,
            if c.dev_mode { "dev mode" } else { "production" },
            c.public_url
        )
    }) else {
        return Ok(ExitCode::FAILURE);
    };

    r.check(
        "data directory writable",
        writable(&config.data_directory),
        |_| config.data_directory.display().to_string(),
    );
    r.check(
        "blobstore directory writable",
        writable(&config.blobstore_directory),
        |_| config.blobstore_directory.display().to_string(),
    );
    if config.dev_mode {
        r.line(
            "ok",
            "secrets",
            format!(
                "dev mode: generated in {}",
                config.data_directory.join("secrets.json").display()
            ),
        );
    } else if config.jwt_secret.expose().len() < 32 {
        r.line(
            "warn",
            "secrets",
            "PDS_JWT_SECRET is shorter than 32 bytes; use a long random value",
        );
    } else {
        r.line("ok", "secrets", "production secrets set");
    }

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let mail = match aerie_pds::mail::mailer(&config) {
            Ok(m) => {
                if m.is_some() {
                    r.line("ok", "mail settings", "PDS_EMAIL_SMTP_URL and sender parse");
                }
                m
            }
            Err(e) => {
                r.line("FAIL", "mail settings", e);
                None
            }
        };

        // The same open as `aerie serve`: database, migrations, PLC client, state.
        let state = aerie_pds::serve::open(config.clone()).await;
        r.check("database opens and migrates", state.map(drop), |_| {
            config
                .data_directory
                .join(aerie_pds::serve::DB_FILE)
                .display()
                .to_string()
        });

        match &config.plc {
            PlcMode::InProcess => {
                r.line("skip", "PLC directory", "in-process (dev mode)");
            }
            PlcMode::Remote(url) => {
                let health = format!("{url}/_health");
                let result = async {
                    let resp = reqwest::Client::builder()
                        .timeout(NETWORK_TIMEOUT)
                        .build()?
                        .get(&health)
                        .send()
                        .await?;
                    resp.error_for_status()
                }
                .await;
                r.check("PLC directory reachable", result, |resp| {
                    format!("{health} answered {}", resp.status())
                });
            }
        }

        match &mail {
            None if config.email_smtp_url.is_none() => {
                let status = if config.dev_mode { "skip" } else { "warn" };
                r.line(
                    status,
                    "SMTP",
                    "PDS_EMAIL_SMTP_URL not set: account mail cannot be delivered",
                );
            }
            None => {}
            Some(m) => {
                let checked = tokio::time::timeout(NETWORK_TIMEOUT, m.check_connection())
                    .await
                    .map_err(|_| "timed out".to_owned())
                    .and_then(|res| res.map_err(|e| e.to_string()));
                r.check("SMTP connects", checked, |_| "server greeted us".to_owned());
            }
        }

        if let Some(to) = &args.send_test_mail {
            match &mail {
                Some(m) => {
                    let sent = tokio::time::timeout(NETWORK_TIMEOUT, m.send_test(to))
                        .await
                        .map_err(|_| "timed out".to_owned())
                        .and_then(|res| res.map_err(|e| e.to_string()));
                    r.check("test mail", sent, |_| format!("sent to {to}"));
                }
                None => r.line("FAIL", "test mail", "no working SMTP settings"),
            }
        }
    });

    Ok(if r.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
