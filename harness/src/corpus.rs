//! The shared trace corpus under `tests/corpus/`, replayed by every engine, like the shared test
//! data of rust-lang/regex.

use std::path::{Path, PathBuf};

/// The directory of the shared trace corpus.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ is inside the workspace")
        .join("tests")
        .join("corpus")
}

/// Every trace file of the corpus (`.yaml`, `.yml`, `.json`), sorted by path.
pub fn files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir()];
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
