//! The resolver's caches: a concurrent LRU of timestamped answers with fresh / stale
//! windows, single-flight fills for misses, and at most one background refresh per key.

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use quick_cache::sync::Cache;
use tokio::time::Instant;

use crate::IdentityError;

/// How fresh a cached answer is.
pub(crate) enum Freshness<V> {
    Fresh(V),
    /// Past its freshness but still servable while it is refetched.
    Stale(V),
    Missing,
}

/// A concurrent LRU of timestamped values, plus the set of keys being revalidated so that a
/// burst of reads of one stale key starts one background fetch, not one each.
pub(crate) struct TtlCache<K, V> {
    entries: Cache<K, (V, Instant)>,
    revalidating: Mutex<HashSet<K>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(capacity: usize) -> Self {
        TtlCache {
            entries: Cache::new(capacity.max(1)),
            revalidating: Mutex::new(HashSet::new()),
        }
    }

    pub(crate) fn get(&self, key: &K, fresh_for: Duration, stale_for: Duration) -> Freshness<V> {
        match self.entries.get(key) {
            Some((value, at)) if at.elapsed() < fresh_for => Freshness::Fresh(value),
            Some((value, at)) if at.elapsed() < fresh_for + stale_for => Freshness::Stale(value),
            _ => Freshness::Missing,
        }
    }

    /// The value for a key found missing or expired, fetched by `fetch` and cached; while
    /// one caller fetches, concurrent callers for the same key wait for its answer instead
    /// of fetching too. If the fetch fails the next waiter tries in turn.
    pub(crate) async fn fill<F, Fut>(&self, key: &K, fetch: F) -> Result<V, IdentityError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, IdentityError>>,
    {
        // An expired entry would be handed out as a value, so drop it first; but only a
        // real entry: removing the key also cancels another caller's pending fill.
        if self.entries.get(key).is_some() {
            self.entries.remove(key);
        }
        match self.entries.get_value_or_guard_async(key).await {
            Ok((value, _)) => Ok(value),
            Err(guard) => {
                let value = fetch().await?;
                let _ = guard.insert((value.clone(), Instant::now()));
                Ok(value)
            }
        }
    }

    pub(crate) fn age(&self, key: &K) -> Option<Duration> {
        self.entries.get(key).map(|(_, at)| at.elapsed())
    }

    pub(crate) fn put(&self, key: K, value: V) {
        self.entries.insert(key, (value, Instant::now()));
    }

    pub(crate) fn remove(&self, key: &K) {
        self.entries.remove(key);
    }

    /// Marks `key` as being revalidated; false if it already was.
    pub(crate) fn start_revalidating(&self, key: &K) -> bool {
        // A panic while holding this lock leaves at worst a key marked in flight, which
        // only delays its next background refresh, so a poisoned lock is still usable.
        let mut set = self.revalidating.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(key.clone())
    }

    pub(crate) fn done_revalidating(&self, key: &K) {
        let mut set = self.revalidating.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(key);
    }
}
