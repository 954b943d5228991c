//! How many threads the heavy passes use, and a scoped way to run them.
//!
//! Reading, hashing and walking a large repository split into independent runs (blocks of
//! the file, subtrees of the MST); on a machine with several cores those runs go to scoped
//! threads. Small inputs stay on the calling thread: starting a thread costs tens of
//! microseconds, which only pays off from about a mebibyte of input.

use std::num::NonZeroUsize;

/// Inputs below this size are processed on the calling thread unless a thread count is
/// asked for explicitly.
pub const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// Most threads chosen automatically (the passes are memory-bound beyond a few cores).
pub const MAX_AUTO_THREADS: usize = 8;

/// Threads for an input of `len` bytes: `requested` if given (1 = the calling thread only),
/// otherwise the machine's available parallelism (at most [`MAX_AUTO_THREADS`]) for inputs
/// of at least [`PARALLEL_MIN_BYTES`], and 1 below that.
pub fn workers(requested: Option<NonZeroUsize>, len: usize) -> usize {
    match requested {
        Some(n) => n.get(),
        None if len >= PARALLEL_MIN_BYTES => std::thread::available_parallelism()
            .map_or(1, NonZeroUsize::get)
            .min(MAX_AUTO_THREADS),
        None => 1,
    }
}

/// Run `f` on every job, the first on the calling thread and each other on a scoped thread
/// of its own; results in job order. A panic in a job is resumed on the caller.
pub(crate) fn run_all<J: Send, R: Send>(jobs: Vec<J>, f: impl Fn(J) -> R + Sync) -> Vec<R> {
    let mut jobs = jobs.into_iter();
    let Some(first) = jobs.next() else {
        return Vec::new();
    };
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.map(|j| scope.spawn(move || f(j))).collect();
        let mut out = Vec::with_capacity(handles.len() + 1);
        out.push(f(first));
        for h in handles {
            out.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        out
    })
}
