//! The directory's state: every DID's audit log in memory, backed by an append-only
//! JSON-lines file that is fsynced before an operation is acknowledged and replayed at start.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use aerie_data::Cid;
use aerie_syntax::{Datetime, Did};
use serde_json::{Value as Json, json};

use crate::{Accepted, LogEntry, PlcError, SignedOperation, validate_next};

/// Name of the log file inside the data directory.
pub const LOG_FILE: &str = "plc-ops.jsonl";

pub(crate) struct Directory {
    logs: HashMap<Did, Vec<LogEntry>>,
    /// (DID, index in its log) in acceptance order, for `/export`.
    order: Vec<(Did, usize)>,
    file: Option<(PathBuf, File)>,
}

impl Directory {
    pub(crate) fn in_memory() -> Directory {
        Directory {
            logs: HashMap::new(),
            order: Vec::new(),
            file: None,
        }
    }

    /// Opens (creating if needed) `data_dir/plc-ops.jsonl` and replays it.
    pub(crate) fn open(data_dir: &Path) -> Result<Directory, PlcError> {
        let io = |context: String| move |source| PlcError::Io { context, source };
        std::fs::create_dir_all(data_dir)
            .map_err(io(format!("creating {}", data_dir.display())))?;
        let path = data_dir.join(LOG_FILE);
        let mut dir = Directory::in_memory();
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
        };
        // Each acknowledged line ends in '\n' and was fsynced; a tail without one is a write
        // torn by a crash before the client got its answer, so it is cut off.
        let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for (i, line) in text[..complete].split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            dir.replay_line(line)
                .map_err(|reason| PlcError::CorruptLog {
                    path: path.display().to_string(),
                    line: i + 1,
                    reason,
                })?;
        }
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(format!("opening {}", path.display())))?;
        if !existed {
            // A new file's directory entry must be durable too, or the first fsynced
            // operations could vanish with the file after a crash.
            File::open(data_dir)
                .and_then(|d| d.sync_all())
                .map_err(io(format!("syncing directory {}", data_dir.display())))?;
        }
        if complete < text.len() {
            file.set_len(complete as u64)
                .map_err(io(format!("truncating torn tail of {}", path.display())))?;
        }
        dir.file = Some((path, file));
        Ok(dir)
    }

    fn replay_line(&mut self, line: &[u8]) -> Result<(), String> {
        let rec: Json = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let field = |k: &str| rec.get(k).ok_or_else(|| format!("missing {k}"));
        let did: Did = field("did")?
            .as_str()
            .ok_or("did is not a string")?
            .parse()
            .map_err(|e| format!("{e}"))?;
        let op = SignedOperation::from_json(field("operation")?).map_err(|e| e.to_string())?;
        let created_at = Datetime::parse(
            field("createdAt")?
                .as_str()
                .ok_or("createdAt is not a string")?,
        )
        .map_err(|e| e.to_string())?;
        let nullified: Vec<Cid> = field("nullified")?
            .as_array()
            .ok_or("nullified is not an array")?
            .iter()
            .map(|c| {
                c.as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or("nullified holds a bad CID")
            })
            .collect::<Result<_, _>>()?;
        let entry = LogEntry::new(did, op, created_at);
        if field("cid")?.as_str() != Some(entry.cid.to_string().as_str()) {
            return Err("stored cid does not match the operation".to_owned());
        }
        self.apply(entry, &nullified);
        Ok(())
    }

    fn apply(&mut self, entry: LogEntry, nullified: &[Cid]) {
        let log = self.logs.entry(entry.did.clone()).or_default();
        for e in log.iter_mut() {
            if nullified.contains(&e.cid) {
                e.nullified = true;
            }
        }
        self.order.push((entry.did.clone(), log.len()));
        log.push(entry);
    }

    /// Validates `op` against `did`'s log and, if accepted, makes it durable and applies it.
    pub(crate) fn submit(
        &mut self,
        did: &Did,
        op: SignedOperation,
        now: Datetime,
    ) -> Result<Accepted, PlcError> {
        let log = self.logs.get(did).map_or(&[][..], Vec::as_slice);
        let accepted = validate_next(did, log, &op, &now)?;
        let entry = LogEntry::new(did.clone(), op, now);
        if let Some((path, file)) = &mut self.file {
            let nullified: Vec<String> = accepted.nullified.iter().map(Cid::to_string).collect();
            let mut line = serde_json::to_vec(&json!({
                "did": entry.did.as_str(),
                "operation": entry.operation.to_json(),
                "cid": entry.cid.to_string(),
                "nullified": nullified,
                "createdAt": entry.created_at.as_str(),
            }))
            .map_err(|e| PlcError::Io {
                context: "encoding log line".to_owned(),
                source: e.into(),
            })?;
            line.push(b'\n');
            // Durable before acknowledged; memory changes only after the write succeeded.
            file.write_all(&line)
                .and_then(|()| file.sync_data())
                .map_err(|source| PlcError::Io {
                    context: format!("appending to {}", path.display()),
                    source,
                })?;
        }
        self.apply(entry, &accepted.nullified);
        Ok(accepted)
    }

    /// Every entry of `did`'s audit log, nullified ones included.
    pub(crate) fn audit_log(&self, did: &Did) -> &[LogEntry] {
        self.logs.get(did).map_or(&[][..], Vec::as_slice)
    }

    /// Up to `count` entries accepted after `after` (all when `None`), in acceptance order.
    pub(crate) fn export(&self, after: Option<i64>, count: usize) -> Vec<&LogEntry> {
        self.order
            .iter()
            .filter_map(|(did, i)| self.logs.get(did)?.get(*i))
            .filter(|e| after.is_none_or(|t| e.created_at.to_unix_micros() > t))
            .take(count)
            .collect()
    }
}
