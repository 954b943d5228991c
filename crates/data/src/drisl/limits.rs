//! Resource limits for decoding untrusted DRISL.

/// Bounds applied by [`decode_with`](super::decode_with) and [`Reader::value`](super::Reader::value).
///
/// Memory is already bounded by the input size (declared lengths are checked against the bytes
/// left before allocating); these limits bound recursion depth and the size of any one
/// container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most arrays/maps nested inside each other; a top-level map counts as depth 1.
    /// Decoding recurses once per level, so keep this in the hundreds at most.
    pub max_depth: usize,
    /// Most entries in one array or map.
    pub max_container_len: usize,
}

impl Limits {
    /// Defaults for [`decode`](super::decode): depth 64, 1,000,000 entries per container.
    ///
    /// 64 is twice the depth the atproto data-model guide suggests for records (32), so every
    /// record another implementation accepts decodes here, while recursion stays far from any
    /// stack limit. Commits, MST nodes and firehose frames nest at most 3-4 levels.
    pub const DEFAULT: Limits = Limits {
        max_depth: 64,
        max_container_len: 1_000_000,
    };

    /// The record limits the atproto data-model guide suggests: depth 32.
    pub const RECORD: Limits = Limits {
        max_depth: 32,
        max_container_len: 1_000_000,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}
