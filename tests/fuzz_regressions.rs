//! Every input under `fuzz/regressions/<target>/` — crashes found by the fuzzers, minimized, and
//! examples kept so that each judge always runs — replayed on stable through the same judges
//! the fuzz targets call, so CI keeps them fixed without libFuzzer.

use netsem_harness::oracles::fuzz::{judge, TARGETS};
use std::path::Path;

#[test]
fn fuzz_regressions_replay_without_a_finding() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("regressions");
    let mut failures = Vec::new();
    for target in TARGETS {
        let run = judge(target).expect("a judge per target");
        let mut files: Vec<_> = std::fs::read_dir(root.join(target))
            .unwrap_or_else(|e| panic!("fuzz/regressions/{target}: {e}"))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "fuzz/regressions/{target} has no input to replay"
        );
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            if let Err(report) = run(&bytes) {
                failures.push(format!("{}: {report}", f.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
