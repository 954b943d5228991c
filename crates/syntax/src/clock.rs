//! The TID generator.
//!
//! Tricky bits: the wall clock may repeat a microsecond (fast callers, coarse clocks) or
//! step backwards (NTP); neither may produce a repeated or smaller TID. The clock keeps the
//! last TID it issued in one atomic and always issues `max(now, last + 1 µs)`, so time
//! stands still (advancing by one microsecond per call) until the wall clock catches up.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::SyntaxError;
use crate::tid::Tid;

/// A thread-safe source of strictly increasing TIDs with one clock id.
///
/// Lock-free: [`next`](TidClock::next) is a compare-and-swap loop on one `AtomicU64`, so
/// it can be shared by reference or in an `Arc` across threads.
#[derive(Debug)]
pub struct TidClock {
    /// The integer form of the last TID issued (0 before the first).
    last: AtomicU64,
    clock_id: u16,
}

impl TidClock {
    /// A clock with a random clock id in 0..32, as the reference implementation picks.
    pub fn new() -> Self {
        let mut b = [0u8; 1];
        // A clock id only reduces the chance that two processes issue the same TID in the
        // same microsecond; if the OS has no randomness, id 0 is still a valid clock.
        let id = match getrandom::fill(&mut b) {
            Ok(()) => u16::from(b[0] & 31),
            Err(_) => 0,
        };
        TidClock {
            last: AtomicU64::new(0),
            clock_id: id,
        }
    }

    /// A clock with a chosen clock id (at most [`Tid::MAX_CLOCK_ID`]).
    pub fn with_clock_id(clock_id: u16) -> Result<Self, SyntaxError> {
        // Checks the range the same way TIDs do.
        Tid::from_parts(0, clock_id)?;
        Ok(TidClock {
            last: AtomicU64::new(0),
            clock_id,
        })
    }

    /// This clock's id, the low 10 bits of every TID it issues.
    pub fn clock_id(&self) -> u16 {
        self.clock_id
    }

    /// The next TID: the current time, or one microsecond past the last TID issued if the
    /// wall clock has not moved on (or went back).
    ///
    /// Never repeats within this clock, unless the timestamp space is exhausted (the wall
    /// clock past the year 2255, or [`next_after`](Self::next_after) driven to the end), in
    /// which case the maximum TID is returned again.
    pub fn next(&self) -> Tid {
        match self.advance(0) {
            Some(t) => t,
            None => Tid::from_u64((Tid::MAX_MICROS << 10) | u64::from(self.clock_id)),
        }
    }

    /// A TID strictly greater than `prev` and than every TID this clock issued before;
    /// for a commit's `rev`, which must exceed the previous commit's `rev` even if that came
    /// from another clock or another host.
    ///
    /// Fails only when `prev` already has the largest possible timestamp.
    pub fn next_after(&self, prev: &Tid) -> Result<Tid, SyntaxError> {
        let floor = prev.timestamp_micros();
        if floor >= Tid::MAX_MICROS {
            return Err(SyntaxError::TidExhausted {
                prev: prev.as_str().to_owned(),
            });
        }
        self.advance(floor + 1)
            .ok_or_else(|| SyntaxError::TidExhausted {
                prev: prev.as_str().to_owned(),
            })
    }

    /// Issues a TID whose timestamp is at least `floor_micros`, the wall clock, and one
    /// more than the last issued; `None` if that exceeds [`Tid::MAX_MICROS`].
    fn advance(&self, floor_micros: u64) -> Option<Tid> {
        let now = wall_micros();
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            // Before the first TID `last` is 0, so the first timestamp is at least 1 µs:
            // harmless, and it keeps "one past the last" free of a special case.
            let after_last = (last >> 10) + 1;
            let micros = now.max(floor_micros).max(after_last);
            if micros > Tid::MAX_MICROS {
                return None;
            }
            let value = (micros << 10) | u64::from(self.clock_id);
            // AcqRel/Relaxed is enough: the only shared state is this one word.
            match self
                .last
                .compare_exchange_weak(last, value, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(Tid::from_u64(value)),
                Err(seen) => last = seen,
            }
        }
    }
}

impl Default for TidClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Microseconds since the Unix epoch; 0 if the system clock is set before 1970.
fn wall_micros() -> u64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
        Err(_) => 0,
    }
}

/// The process-wide clock behind [`Tid::now`].
pub(crate) fn global() -> &'static TidClock {
    static CLOCK: OnceLock<TidClock> = OnceLock::new();
    CLOCK.get_or_init(TidClock::new)
}
