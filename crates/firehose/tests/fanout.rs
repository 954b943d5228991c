//! Cursor rules, hand-over, catch-up and the slow-consumer cap, over the in-memory log.
//!
//! No sleeps: "nothing more to read" is checked by polling `next()` once (`now_or_never`),
//! which is exact because the in-memory log answers without waiting.

use std::sync::Arc;

use aerie_firehose::{
    CONSUMER_TOO_SLOW, Config, Event, FUTURE_CURSOR, Firehose, Frame, IdentityEvent, MemoryLog,
    OUTDATED_CURSOR, Outgoing, Subscription, decode_frame,
};
use aerie_syntax::{Datetime, Did};
use futures_util::FutureExt;

struct Harness {
    log: Arc<MemoryLog>,
    firehose: Firehose,
}

fn frame(seq: u64) -> Arc<[u8]> {
    Event::Identity(IdentityEvent {
        did: Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap(),
        handle: None,
        time: Datetime::parse("2026-11-25T23:00:00.000Z").unwrap(),
    })
    .encode(seq)
    .unwrap()
    .into()
}

impl Harness {
    async fn new(config: Config) -> Harness {
        let log = Arc::new(MemoryLog::new());
        let firehose = Firehose::open(log.clone(), config).await.unwrap();
        Harness { log, firehose }
    }

    /// What the PDS does per event: commit to the log, then publish.
    async fn emit(&self, seq: u64) {
        let f = frame(seq);
        self.log.append(seq, f.clone()).unwrap();
        self.firehose.publish(seq, f).await;
    }

    async fn emit_range(&self, seqs: std::ops::RangeInclusive<u64>) {
        for s in seqs {
            self.emit(s).await;
        }
    }
}

fn small_ring() -> Config {
    Config {
        ring_events: 16,
        replay_batch: 7,
        ..Config::default()
    }
}

/// The next frame, which must be available now (every test publishes before it reads, and
/// the in-memory log never waits): a missing event fails the test instead of hanging it.
async fn next(sub: &mut Subscription) -> Outgoing {
    sub.next()
        .now_or_never()
        .expect("no frame available")
        .unwrap()
        .expect("stream ended early")
}

/// Read `n` event frames and return their seqs (checking each frame's seq matches its body).
async fn seqs(sub: &mut Subscription, n: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let o = next(sub).await;
        let Frame::Event { seq, .. } = decode_frame(&o.frame).unwrap() else {
            panic!("expected an event frame")
        };
        assert_eq!(o.seq, Some(seq));
        out.push(seq);
    }
    out
}

/// Every frame available right now (exact with the in-memory log, which never waits), as
/// seqs; a bug that skips an event shows up as a wrong list instead of a hang.
fn drain(sub: &mut Subscription) -> Vec<u64> {
    let mut out = Vec::new();
    while let Some(item) = sub.next().now_or_never() {
        let o = item.unwrap().expect("stream ended early");
        out.push(o.seq.expect("an event frame"));
    }
    out
}

fn nothing_pending(sub: &mut Subscription) -> bool {
    sub.next().now_or_never().is_none()
}

#[tokio::test]
async fn no_cursor_gets_live_events_only() {
    let h = Harness::new(Config::default()).await;
    h.emit_range(1..=5).await;
    let mut sub = h.firehose.subscribe(None);
    assert!(nothing_pending(&mut sub));
    h.emit_range(6..=8).await;
    assert_eq!(seqs(&mut sub, 3).await, [6, 7, 8]);
    assert!(nothing_pending(&mut sub));
}

#[tokio::test]
async fn cursor_within_window_replays_after_cursor_then_goes_live() {
    let h = Harness::new(small_ring()).await;
    h.emit_range(1..=40).await;
    let mut sub = h.firehose.subscribe(Some(4));
    assert_eq!(seqs(&mut sub, 36).await, (5..=40).collect::<Vec<_>>());
    assert!(nothing_pending(&mut sub));
    h.emit(41).await;
    assert_eq!(seqs(&mut sub, 1).await, [41]);
}

#[tokio::test]
async fn cursor_zero_replays_the_whole_window() {
    let h = Harness::new(small_ring()).await;
    h.emit_range(1..=30).await;
    let mut sub = h.firehose.subscribe(Some(0));
    assert_eq!(seqs(&mut sub, 30).await, (1..=30).collect::<Vec<_>>());
    assert!(nothing_pending(&mut sub));
}

#[tokio::test]
async fn cursor_equal_to_head_is_live_not_future() {
    let h = Harness::new(Config::default()).await;
    h.emit_range(1..=3).await;
    let mut sub = h.firehose.subscribe(Some(3));
    assert!(nothing_pending(&mut sub));
    h.emit(4).await;
    assert_eq!(seqs(&mut sub, 1).await, [4]);
}

#[tokio::test]
async fn outdated_cursor_gets_info_then_replays_from_oldest_kept() {
    let h = Harness::new(small_ring()).await;
    h.emit_range(1..=10).await;
    h.log.prune_through(5);
    let mut sub = h.firehose.subscribe(Some(2));
    let info = next(&mut sub).await;
    assert_eq!(info.seq, None);
    let Frame::Info(info) = decode_frame(&info.frame).unwrap() else {
        panic!("expected #info")
    };
    assert_eq!(info.name, OUTDATED_CURSOR);
    assert_eq!(seqs(&mut sub, 5).await, [6, 7, 8, 9, 10]);
    assert!(nothing_pending(&mut sub));
}

#[tokio::test]
async fn cursor_just_before_oldest_kept_is_not_outdated() {
    let h = Harness::new(small_ring()).await;
    h.emit_range(1..=10).await;
    h.log.prune_through(5);
    let mut sub = h.firehose.subscribe(Some(5));
    assert_eq!(seqs(&mut sub, 5).await, [6, 7, 8, 9, 10]);
}

#[tokio::test]
async fn future_cursor_gets_error_frame_then_stream_ends() {
    let h = Harness::new(Config::default()).await;
    h.emit_range(1..=3).await;
    let mut sub = h.firehose.subscribe(Some(4));
    let out = next(&mut sub).await;
    assert_eq!(
        decode_frame(&out.frame).unwrap(),
        Frame::Error {
            error: FUTURE_CURSOR.into(),
            message: Some("Cursor in the future.".into())
        }
    );
    assert_eq!(sub.next().await.unwrap(), None);
    // Later events do not revive it.
    h.emit(4).await;
    assert_eq!(sub.next().await.unwrap(), None);
}

#[tokio::test]
async fn paused_consumer_catches_up_from_the_log_without_missing_a_seq() {
    let h = Harness::new(small_ring()).await;
    let mut live = h.firehose.subscribe(None);
    let mut replay = h.firehose.subscribe(Some(0));
    // Neither reads while 10,000 events go by (the ring keeps 16).
    h.emit_range(1..=10_000).await;
    assert_eq!(
        seqs(&mut live, 10_000).await,
        (1..=10_000).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(&mut replay, 10_000).await,
        (1..=10_000).collect::<Vec<_>>()
    );
    assert!(nothing_pending(&mut live));
    assert!(nothing_pending(&mut replay));
    h.emit(10_001).await;
    assert_eq!(seqs(&mut live, 1).await, [10_001]);
    assert_eq!(seqs(&mut replay, 1).await, [10_001]);
}

#[tokio::test]
async fn consumer_too_slow_past_the_cap_gets_error_and_is_closed() {
    let one = frame(1).len() as u64;
    let h = Harness::new(Config {
        max_behind_bytes: 10 * one,
        ..small_ring()
    })
    .await;
    let mut within = h.firehose.subscribe(None);
    let mut beyond = h.firehose.subscribe(None);
    h.emit_range(1..=10).await;
    // Exactly at the cap: still served.
    assert_eq!(seqs(&mut within, 10).await, (1..=10).collect::<Vec<_>>());
    h.emit(11).await;
    let out = next(&mut beyond).await;
    assert_eq!(
        decode_frame(&out.frame).unwrap(),
        Frame::Error {
            error: CONSUMER_TOO_SLOW.into(),
            message: Some("Stream consumer too slow".into())
        }
    );
    assert_eq!(beyond.next().await.unwrap(), None);
    assert_eq!(seqs(&mut within, 1).await, [11]);
}

#[tokio::test]
async fn history_replay_does_not_count_against_the_cap() {
    let one = frame(1).len() as u64;
    let h = Harness::new(Config {
        max_behind_bytes: 2 * one,
        ..small_ring()
    })
    .await;
    h.emit_range(1..=100).await;
    let mut sub = h.firehose.subscribe(Some(0));
    assert_eq!(seqs(&mut sub, 100).await, (1..=100).collect::<Vec<_>>());
}

#[tokio::test]
async fn out_of_order_publishes_are_released_in_seq_order() {
    let h = Harness::new(Config::default()).await;
    let mut sub = h.firehose.subscribe(None);
    // One group commit stored 1..=3; the writers woke in the order 3, 1, 2.
    for s in 1..=3 {
        h.log.append(s, frame(s)).unwrap();
    }
    h.firehose.publish(3, frame(3)).await;
    h.firehose.publish(1, frame(1)).await;
    h.firehose.publish(2, frame(2)).await;
    assert_eq!(seqs(&mut sub, 3).await, [1, 2, 3]);
    assert!(nothing_pending(&mut sub));
    assert_eq!(h.firehose.head(), 3);
}

#[tokio::test]
async fn a_seq_gap_does_not_stall_live_subscribers() {
    let h = Harness::new(Config::default()).await;
    let mut sub = h.firehose.subscribe(None);
    h.emit_range(1..=2).await;
    h.emit(4).await; // 3 was never assigned (gaps are allowed)
    assert_eq!(seqs(&mut sub, 3).await, [1, 2, 4]);
}

#[tokio::test]
async fn every_subscriber_gets_the_same_shared_frame() {
    let h = Harness::new(Config::default()).await;
    let mut a = h.firehose.subscribe(None);
    let mut b = h.firehose.subscribe(None);
    h.emit(1).await;
    let (fa, fb) = (next(&mut a).await, next(&mut b).await);
    assert!(Arc::ptr_eq(&fa.frame, &fb.frame), "frame was copied");
}

#[tokio::test]
async fn firehose_starts_after_the_logs_existing_head() {
    let log = Arc::new(MemoryLog::new());
    for s in 1..=5 {
        log.append(s, frame(s)).unwrap();
    }
    let firehose = Firehose::open(log.clone(), Config::default())
        .await
        .unwrap();
    assert_eq!(firehose.head(), 5);
    let mut sub = firehose.subscribe(Some(3));
    assert_eq!(seqs(&mut sub, 2).await, [4, 5]);
    let mut future = firehose.subscribe(Some(6));
    let out = next(&mut future).await;
    assert!(matches!(
        decode_frame(&out.frame).unwrap(),
        Frame::Error { .. }
    ));
}

#[tokio::test]
async fn shutdown_ends_every_subscription() {
    let h = Harness::new(Config::default()).await;
    let mut sub = h.firehose.subscribe(None);
    let waiting = tokio::spawn(async move { sub.next().await.unwrap() });
    h.firehose.shutdown();
    assert_eq!(waiting.await.unwrap(), None);
}

/// Subscribers join with a cursor at the head while a publisher runs on another thread; each
/// must see every seq after its cursor exactly once, in order, across the log-to-ring hand-over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_over_under_concurrent_publish_has_no_gap_or_duplicate() {
    const LAST: u64 = 4_000;
    let h = Arc::new(Harness::new(small_ring()).await);
    let publisher = {
        let h = Arc::clone(&h);
        tokio::spawn(async move {
            for s in 1..=LAST {
                h.emit(s).await;
                if s % 7 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let mut readers = Vec::new();
    for i in 0..40u64 {
        // Alternate: a cursor somewhat behind the head (replay, then hand-over) and none.
        let head = h.firehose.head();
        let cursor = match i % 3 {
            0 => None,
            1 => Some(head),
            _ => Some(head.saturating_sub(i * 13)),
        };
        let mut sub = h.firehose.subscribe(cursor);
        readers.push(tokio::spawn(async move {
            let mut last = cursor;
            loop {
                let out = sub.next().await.unwrap().expect("ended early");
                let seq = out.seq.expect("only events expected");
                if let Some(l) = last {
                    assert_eq!(seq, l + 1, "gap or duplicate after {l}");
                }
                last = Some(seq);
                if seq == LAST {
                    break;
                }
            }
        }));
        tokio::task::yield_now().await;
    }
    publisher.await.unwrap();
    for r in readers {
        r.await.unwrap();
    }
}

/// Every combination of ring size, log batch size and cursor over a short log: the boundary
/// between log and ring must never skip or repeat an event.
#[tokio::test]
async fn every_cursor_hands_over_exactly_at_every_ring_and_batch_size() {
    const LAST: u64 = 12;
    for ring_events in 1..=5 {
        for replay_batch in 1..=5 {
            let h = Harness::new(Config {
                ring_events,
                replay_batch,
                ..Config::default()
            })
            .await;
            h.emit_range(1..=LAST).await;
            for cursor in 0..=LAST {
                let mut sub = h.firehose.subscribe(Some(cursor));
                assert_eq!(
                    drain(&mut sub),
                    (cursor + 1..=LAST).collect::<Vec<_>>(),
                    "ring {ring_events}, batch {replay_batch}, cursor {cursor}"
                );
            }
            // Live subscribers that paused for a while hand over the same way.
            let mut paused: Vec<_> = (0..3).map(|_| h.firehose.subscribe(None)).collect();
            h.emit_range(LAST + 1..=LAST + 9).await;
            for sub in &mut paused {
                assert_eq!(drain(sub), (LAST + 1..=LAST + 9).collect::<Vec<_>>());
            }
        }
    }
}
