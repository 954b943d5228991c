//! Embeds every schema under `schemas/` into the binary: writes `builtin_schemas.rs` into
//! OUT_DIR, a slice of `include_str!`s, so adding a schema file needs no code change.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    // A directory's mtime changes when a file is added to it: watch each one.
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    // Sorted so the generated file (and so the build) is reproducible.
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn main() {
    // Read at run time: `env!` would bake in the path of whichever checkout first compiled
    // this build script, and a shared target dir would then reuse that stale path.
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo");
    let root = Path::new(&manifest_dir).join("schemas");
    let mut files = Vec::new();
    collect(&root, &mut files);
    let mut code = String::from(
        "/// Every builtin schema document, as JSON text.\npub(crate) const BUILTIN: &[&str] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        code.push_str(&format!(
            "    include_str!({:?}),\n",
            f.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    std::fs::write(out.join("builtin_schemas.rs"), code).expect("writing builtin_schemas.rs");
}
