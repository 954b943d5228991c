//! Test support: finds the public atproto interop fixtures and reads them.
//!
//! The fixtures live in `$ATPROTO_INTEROP_DIR`, defaulting to `../shared/interop` beside the
//! workspace. When they are missing, every reader panics with a message that says where to
//! get them, so a test never passes by skipping its fixtures.
#![deny(missing_docs)]

use std::path::PathBuf;

/// The fixture directory. Panics, naming the path tried, when it does not exist.
pub fn dir() -> PathBuf {
    let dir = match std::env::var_os("ATPROTO_INTEROP_DIR") {
        Some(d) => PathBuf::from(d),
        // Every crate of the workspace sits at crates/<name>, so from the manifest directory
        // of the crate under test the default is three levels up. Cargo sets the variable when
        // it runs a test; read it then rather than baking in the path of whichever checkout
        // first compiled this crate (a shared target dir would keep a stale one).
        None => {
            let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
            manifest.join("../../../shared/interop")
        }
    };
    if !dir.is_dir() {
        panic!(
            "atproto interop fixtures not found at {}: clone \
             https://github.com/bluesky-social/atproto-interop-tests and set \
             ATPROTO_INTEROP_DIR to the checkout",
            dir.display()
        );
    }
    dir
}

/// Path of one fixture file, relative to the fixture directory (e.g. `syntax/did_syntax_valid.txt`).
/// Panics when the file is missing.
pub fn path(rel: &str) -> PathBuf {
    let p = dir().join(rel);
    if !p.is_file() {
        panic!(
            "interop fixture {} is missing (fixture dir {})",
            rel,
            dir().display()
        );
    }
    p
}

/// The test values of a line-oriented fixture: one per line, `#` comments and empty lines
/// skipped, nothing trimmed (leading and trailing spaces are part of several cases).
pub fn lines(rel: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path(rel))
        .unwrap_or_else(|e| panic!("reading interop fixture {rel}: {e}"));
    let values: Vec<String> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert!(
        !values.is_empty(),
        "interop fixture {rel} has no test values"
    );
    values
}

/// A JSON fixture, parsed.
pub fn json(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path(rel))
        .unwrap_or_else(|e| panic!("reading interop fixture {rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("interop fixture {rel} is not JSON: {e}"))
}

/// A JSON fixture that is an array, as its elements.
pub fn json_cases(rel: &str) -> Vec<serde_json::Value> {
    match json(rel) {
        serde_json::Value::Array(a) if !a.is_empty() => a,
        _ => panic!("interop fixture {rel} is not a non-empty JSON array"),
    }
}
