//! Fan-out benchmarks: live delivery to N subscribers, replay throughput from cursor 0, and
//! the memory an idle subscriber costs.
//!
//! Run short: `cargo bench -p aerie-firehose --bench fanout -- --sample-count 10`

use std::sync::Arc;

use aerie_data::Cid;
use aerie_firehose::{
    CommitEvent, Config, Event, Firehose, MemoryLog, RepoOp, RepoPath, Subscription,
};
use aerie_syntax::{Datetime, Did, Tid};
use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use tokio::runtime::Runtime;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    println!(
        "size_of::<Subscription>() = {} bytes",
        std::mem::size_of::<Subscription>()
    );
    divan::main();
}

/// Events published per live-delivery sample.
const LIVE_EVENTS: u64 = 2_000;
/// Events in the log for the replay benchmark.
const REPLAY_EVENTS: u64 = 20_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A typical single-record `#commit` frame (~1.2 KB: one create op, a ~1 KB CAR slice).
fn commit_frame(seq: u64) -> Arc<[u8]> {
    let record = Cid::for_cbor(&seq.to_be_bytes());
    Event::Commit(CommitEvent::new(
        Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").expect("did"),
        Cid::for_cbor(b"commit"),
        Tid::from_u64(seq),
        Some(Tid::from_u64(seq.saturating_sub(1))),
        vec![0xa5; 1000],
        vec![RepoOp::create(
            RepoPath::parse("app.bsky.feed.post/3lbbbbbbbbbb2").expect("path"),
            record,
        )],
        Some(Cid::for_cbor(b"prev data")),
        Datetime::parse("2026-11-25T23:00:00.000Z").expect("time"),
    ))
    .encode(seq)
    .expect("encode")
    .into()
}

struct Live {
    firehose: Firehose,
    log: Arc<MemoryLog>,
    frames: Vec<Arc<[u8]>>,
    readers: Vec<tokio::task::JoinHandle<u64>>,
}

/// Events/s published while every one of N in-process subscribers receives each of them.
#[divan::bench(args = [1, 100, 1000], sample_count = 10, sample_size = 1)]
fn live_delivery(bencher: Bencher, subscribers: usize) {
    let rt = runtime();
    bencher
        .counter(ItemsCount::new(LIVE_EVENTS))
        .with_inputs(|| {
            rt.block_on(async {
                let log = Arc::new(MemoryLog::new());
                let firehose = Firehose::open(log.clone(), Config::default())
                    .await
                    .expect("open");
                let frames = (1..=LIVE_EVENTS).map(commit_frame).collect();
                let readers = (0..subscribers)
                    .map(|_| {
                        let mut sub = firehose.subscribe(None);
                        tokio::spawn(async move {
                            let mut bytes = 0;
                            while let Ok(Some(out)) = sub.next().await {
                                bytes += out.frame.len() as u64;
                                if out.seq == Some(LIVE_EVENTS) {
                                    break;
                                }
                            }
                            bytes
                        })
                    })
                    .collect();
                Live {
                    firehose,
                    log,
                    frames,
                    readers,
                }
            })
        })
        .bench_local_values(|live| {
            rt.block_on(async {
                for (i, frame) in live.frames.into_iter().enumerate() {
                    let seq = i as u64 + 1;
                    live.log.append(seq, frame.clone()).expect("append");
                    live.firehose.publish(seq, frame).await;
                }
                for r in live.readers {
                    divan::black_box(r.await.expect("reader"));
                }
            })
        });
}

/// Replay throughput (frame bytes/s) from cursor 0 over the in-memory log, with a ring far
/// smaller than the log so everything comes from log reads.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn replay_from_cursor_zero(bencher: Bencher) {
    let rt = runtime();
    let (firehose, total) = rt.block_on(async {
        let log = Arc::new(MemoryLog::new());
        let mut total = 0;
        for seq in 1..=REPLAY_EVENTS {
            let f = commit_frame(seq);
            total += f.len() as u64;
            log.append(seq, f).expect("append");
        }
        let config = Config {
            ring_events: 64,
            ..Config::default()
        };
        (Firehose::open(log, config).await.expect("open"), total)
    });
    bencher.counter(BytesCount::new(total)).bench_local(|| {
        rt.block_on(async {
            let mut sub = firehose.subscribe(Some(0));
            let mut n = 0;
            while n < REPLAY_EVENTS {
                let out = sub.next().await.expect("log").expect("frame");
                divan::black_box(&out.frame);
                n += 1;
            }
        })
    });
}

/// Heap bytes of 1,000 idle subscriptions, each parked in its own tokio task waiting for the
/// next event (the shape the WebSocket handler has, minus the socket). Divide the reported
/// allocation by 1,000.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn idle_subscribers_1000(bencher: Bencher) {
    let rt = runtime();
    let firehose = rt.block_on(async {
        Firehose::open(Arc::new(MemoryLog::new()), Config::default())
            .await
            .expect("open")
    });
    bencher.bench_local(|| {
        let _guard = rt.enter();
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let mut sub = firehose.subscribe(None);
                tokio::spawn(async move { sub.next().await.is_ok() })
            })
            .collect();
        for t in &tasks {
            t.abort();
        }
        tasks
    });
}
