//! `aerie repo inspect|verify|export`: look into repository CAR files.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aerie_crypto::PublicKey;
use aerie_repo::car::SliceBlocks;
use aerie_repo::mst::BlockSource;
use aerie_repo::verify::{self, Report, SignatureCheck, VerifyOptions};
use anyhow::Context;
use clap::{Args, Subcommand};

/// Arguments of `aerie repo`.
#[derive(Debug, Args)]
pub struct RepoArgs {
    #[command(subcommand)]
    command: RepoCommand,
}

#[derive(Debug, Subcommand)]
enum RepoCommand {
    /// Make a repository CAR an account's repo on a running server (admin password; see
    /// import_cmd.rs).
    Import(crate::import_cmd::ImportArgs),
    /// Summarise a repository CAR: account, revision, commit, signature status, record
    /// counts per collection, blocks and bytes. The whole file is verified on the way; a
    /// structural error is reported and exits 1.
    Inspect {
        /// The CAR file (as served by com.atproto.sync.getRepo).
        file: PathBuf,
        /// The account's signing key (did:key:...), to check the commit signature.
        #[arg(long)]
        key: Option<String>,
    },
    /// Verify a repository CAR completely: every block hash, exactly one root that is a
    /// commit, the commit signature, a complete and canonical MST, every record present and
    /// valid DRISL with a map at top level.
    ///
    /// Exit status: 0 when everything holds and the signature verified with --key; 1 when
    /// anything is wrong (including a bad signature); 2 when everything else holds but no
    /// --key was given, so the signature was NOT checked (the output says so).
    Verify {
        /// The CAR file.
        file: PathBuf,
        /// The account's signing key (did:key:...). Without it the signature is not checked
        /// and the exit status is 2.
        #[arg(long)]
        key: Option<String>,
    },
    /// Write every record as one JSON line {"uri", "cid", "value"} (atproto JSON form),
    /// sorted by path, to standard output. The file is verified first (signature only with
    /// --key).
    Export {
        /// The CAR file.
        file: PathBuf,
        /// The account's signing key (did:key:...); a bad signature is an error.
        #[arg(long)]
        key: Option<String>,
    },
}

/// Exit status when the repository is sound but its signature was not checked.
const EXIT_UNCHECKED: u8 = 2;

/// Run `aerie repo`.
pub fn run(args: RepoArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RepoCommand::Import(a) => crate::import_cmd::run(a),
        RepoCommand::Inspect { file, key } => inspect(&file, key.as_deref()),
        RepoCommand::Verify { file, key } => verify_cmd(&file, key.as_deref()),
        RepoCommand::Export { file, key } => export(&file, key.as_deref()),
    }
}

fn parse_key(key: Option<&str>) -> anyhow::Result<Option<PublicKey>> {
    key.map(|k| {
        PublicKey::parse_did_key(k).with_context(|| format!("--key {k:?} is not a did:key"))
    })
    .transpose()
}

/// Read `file` into `bytes` (progress on stderr for large files) and verify it in place, on
/// every core. Memory is the file's size plus a small index, as when blocks are copied out
/// of a stream, and verifying from memory is several times faster.
fn load<'a>(
    file: &Path,
    key: Option<&str>,
    bytes: &'a mut Vec<u8>,
) -> anyhow::Result<verify::Verified<SliceBlocks<'a>>> {
    let key = parse_key(key)?;
    let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    bytes.clear();
    bytes.reserve(usize::try_from(len).unwrap_or(0));
    Progress::new(BufReader::with_capacity(1 << 16, f), len)
        .read_to_end(bytes)
        .with_context(|| format!("reading {}", file.display()))?;
    let options = VerifyOptions {
        key,
        ..VerifyOptions::default()
    };
    verify::verify_car_bytes(bytes, &options).with_context(|| file.display().to_string())
}

fn signature_line(check: &SignatureCheck) -> String {
    match check {
        SignatureCheck::NotChecked => {
            "no key given; signature not checked (pass --key did:key:...)".to_owned()
        }
        SignatureCheck::Valid => "ok".to_owned(),
        SignatureCheck::Invalid(reason) => format!("BAD ({reason})"),
    }
}

fn print_report(out: &mut impl Write, file: &Path, r: &Report) -> io::Result<()> {
    writeln!(out, "file:        {}", file.display())?;
    writeln!(out, "did:         {}", r.did)?;
    writeln!(out, "rev:         {}", r.rev)?;
    writeln!(out, "commit:      {}", r.commit_cid)?;
    writeln!(out, "version:     {}", r.version)?;
    writeln!(out, "data:        {}", r.data)?;
    writeln!(out, "signature:   {}", signature_line(&r.signature))?;
    writeln!(out, "records:     {}", r.records)?;
    for (collection, n) in &r.per_collection {
        writeln!(out, "  {collection:<40} {n}")?;
    }
    writeln!(out, "mst nodes:   {}", r.mst_nodes)?;
    writeln!(
        out,
        "blocks:      {} ({} not referenced)",
        r.blocks, r.unreferenced_blocks
    )?;
    writeln!(out, "bytes:       {}", r.bytes)?;
    Ok(())
}

fn inspect(file: &Path, key: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut bytes = Vec::new();
    let v = load(file, key, &mut bytes)?;
    let mut out = io::stdout().lock();
    print_report(&mut out, file, &v.report)?;
    Ok(match v.report.signature {
        SignatureCheck::Invalid(_) => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    })
}

fn verify_cmd(file: &Path, key: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut bytes = Vec::new();
    let v = load(file, key, &mut bytes)?;
    let mut out = io::stdout().lock();
    print_report(&mut out, file, &v.report)?;
    Ok(match &v.report.signature {
        SignatureCheck::Valid => {
            writeln!(
                out,
                "verified: blocks, commit, signature, MST and records all check"
            )?;
            ExitCode::SUCCESS
        }
        SignatureCheck::NotChecked => {
            writeln!(
                out,
                "structure verified; signature NOT checked: no --key given (exit status {EXIT_UNCHECKED})"
            )?;
            ExitCode::from(EXIT_UNCHECKED)
        }
        SignatureCheck::Invalid(reason) => {
            drop(out);
            eprintln!(
                "error: commit signature does not verify with the given key at commit {}: {reason}",
                v.report.commit_cid
            );
            ExitCode::FAILURE
        }
    })
}

fn export(file: &Path, key: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut bytes = Vec::new();
    let v = load(file, key, &mut bytes)?;
    if let SignatureCheck::Invalid(reason) = &v.report.signature {
        anyhow::bail!(
            "commit signature does not verify with the given key at commit {}: {reason}",
            v.report.commit_cid
        );
    }
    match write_records(&v) {
        // A closed pipe (`| head`) is the reader saying it has enough.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(anyhow::Error::new(e).context("writing records")),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}

/// One JSON line per record, keys in the order `uri`, `cid`, `value`.
fn write_records<B: BlockSource>(v: &verify::Verified<B>) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    let did = v.report.did.to_string();
    for record in v.records() {
        let record = record.map_err(io::Error::other)?;
        let uri = serde_json::Value::String(format!("at://{did}/{}", record.path));
        let value = aerie_data::json::to_json(&record.value);
        writeln!(
            out,
            r#"{{"uri":{uri},"cid":"{}","value":{value}}}"#,
            record.cid
        )?;
    }
    out.flush()
}

/// Reports reading progress on stderr for large files when stderr is a terminal.
struct Progress<R> {
    inner: R,
    total: u64,
    done: u64,
    shown: u64,
    enabled: bool,
}

/// Below this size, reading is quick enough that progress would only flicker.
const PROGRESS_MIN_BYTES: u64 = 32 * 1024 * 1024;

impl<R> Progress<R> {
    fn new(inner: R, total: u64) -> Progress<R> {
        let enabled = total >= PROGRESS_MIN_BYTES && io::stderr().is_terminal();
        Progress {
            inner,
            total,
            done: 0,
            shown: 0,
            enabled,
        }
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.enabled {
            self.done += n as u64;
            let pct = self.done.saturating_mul(100) / self.total.max(1);
            if pct > self.shown || n == 0 {
                self.shown = pct;
                eprint!("\rreading: {pct:>3}%");
                if n == 0 || pct >= 100 {
                    eprintln!();
                    self.enabled = false;
                }
            }
        }
        Ok(n)
    }
}
