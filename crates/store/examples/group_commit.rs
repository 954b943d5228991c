//! Measures what group commit buys: N concurrent writers (as N accounts would be) each
//! committing small writes one at a time, against the same store. Prints writes/s and how
//! many writes shared each transaction (= each fsync, with synchronous=FULL in WAL mode).
//!
//! Run: `cargo run -p aerie-store --example group_commit -- [writers] [writes-per-writer]`

use std::time::Instant;

use aerie_data::Cid;
use aerie_store::{Store, StoreError, StoreOptions, Transaction, repo};

#[tokio::main]
async fn main() -> Result<(), StoreError> {
    let mut args = std::env::args().skip(1);
    let writers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let per_writer: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let dir = std::env::temp_dir().join(format!("aerie-group-commit-{}", std::process::id()));
    let store = Store::open(&dir.join("bench.sqlite"), StoreOptions::default())?;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let did = format!("did:plc:writer{w:06}");
            for i in 0..per_writer {
                let bytes = format!("{w}-{i}").into_bytes();
                let cid = Cid::for_raw(&bytes);
                let did = did.clone();
                store
                    .write(move |tx: &Transaction<'_>| {
                        repo::put_blocks(tx, &did, "3aaaaaaaaaaaa", [(cid, bytes.as_slice())])
                    })
                    .await?;
            }
            Ok::<(), StoreError>(())
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| StoreError::ReaderTask(e.to_string()))??;
    }
    let elapsed = started.elapsed();
    let stats = store.stats();
    let total = writers * per_writer;
    println!(
        "{writers} writers x {per_writer} writes = {total} durable writes in {:.2} s: {:.0} writes/s, \
         {} transactions (fsyncs), {:.1} writes per transaction",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        stats.transactions,
        total as f64 / stats.transactions.max(1) as f64
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
