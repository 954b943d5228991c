//! The TID clock: strictly increasing output, across threads and past a given rev.

use std::collections::HashSet;
use std::sync::Arc;

use aerie_syntax::{Tid, TidClock};

#[test]
fn next_strictly_increases_over_many_calls() {
    let clock = TidClock::new();
    let mut prev = clock.next();
    for _ in 0..100_000 {
        let t = clock.next();
        assert!(t > prev, "{t} after {prev}");
        assert!(
            t.as_str() > prev.as_str(),
            "string order follows numeric order"
        );
        prev = t;
    }
}

#[test]
fn new_clock_picks_id_below_32_and_uses_it() {
    for _ in 0..50 {
        let clock = TidClock::new();
        assert!(clock.clock_id() < 32);
        assert_eq!(clock.next().clock_id(), clock.clock_id());
    }
}

#[test]
fn threads_sharing_a_clock_never_get_the_same_tid() {
    let clock = Arc::new(TidClock::new());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let clock = Arc::clone(&clock);
            std::thread::spawn(move || {
                let mut mine = Vec::with_capacity(20_000);
                for _ in 0..20_000 {
                    mine.push(clock.next());
                }
                mine
            })
        })
        .collect();
    let mut all = HashSet::new();
    for h in handles {
        let mine = h.join().expect("worker thread finished");
        // Each thread sees its own TIDs in increasing order.
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
        for t in mine {
            assert!(all.insert(t), "duplicate TID {t}");
        }
    }
    assert_eq!(all.len(), 80_000);
}

#[test]
fn next_after_exceeds_a_future_rev_and_later_tids_follow_it() {
    let clock = TidClock::with_clock_id(0).expect("clock id 0 is in range");
    // A rev far in the future (year ~2200), as if the wall clock had stepped back since.
    let future = Tid::from_parts(7_258_118_400_000_000, 1000).expect("in range");
    let rev = clock.next_after(&future).expect("room after it");
    assert!(rev > future);
    assert_eq!(rev.timestamp_micros(), future.timestamp_micros() + 1);
    // The clock remembers: later TIDs stay above the rev even though the wall clock is behind.
    let next = clock.next();
    assert!(next > rev);
}

#[test]
fn next_after_a_past_rev_uses_the_wall_clock() {
    let clock = TidClock::new();
    let old = Tid::parse("3jzfcijpj2z2a").expect("valid TID");
    let before = clock.next();
    let rev = clock.next_after(&old).expect("room after it");
    assert!(rev > old && rev > before);
}

#[test]
fn next_after_the_largest_timestamp_fails() {
    let clock = TidClock::new();
    let max = Tid::from_parts(Tid::MAX_MICROS, 0).expect("in range");
    assert!(clock.next_after(&max).is_err());
    // The failed call leaves the clock usable.
    let a = clock.next();
    assert!(clock.next() > a);
}

#[test]
fn tid_now_increases_and_is_recent() {
    let a = Tid::now();
    let b = Tid::now();
    assert!(b > a);
    // 2026-01-01T00:00:00Z: the generator is reading a real clock, not counting from zero.
    assert!(a.timestamp_micros() > 1_767_225_600_000_000);
}

#[test]
fn clock_id_over_1023_is_refused() {
    assert!(TidClock::with_clock_id(1024).is_err());
    assert_eq!(
        TidClock::with_clock_id(1023)
            .expect("max id")
            .next()
            .clock_id(),
        1023
    );
}
