//! Cross-crate test support for netsem: the shared trace corpus under `tests/corpus/` is replayed
//! by every engine, like the shared test data of rust-lang/regex.

pub mod judge;

use std::path::{Path, PathBuf};

/// The directory of the shared trace corpus.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// Every trace file of the corpus (`.yaml`, `.yml`, `.json`), sorted by path.
pub fn corpus_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![corpus_dir()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
