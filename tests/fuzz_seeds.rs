//! Every committed fuzz seed (`fuzz/corpus/<target>/`) runs through its target's judge on
//! stable, decoded as the target's typed input the way libFuzzer's `arbitrary` integration
//! decodes it, without a finding — so the judges run in every `cargo test`, not only under a
//! fuzzer. Bugs the fuzzers found are not kept here as bytes (whose meaning drifts with the
//! generators) but as named regression traces under `tests/corpus/regressions/`.

use netsem_harness::oracles::{judge_bytes, TARGETS};
use std::path::Path;

#[test]
fn every_fuzz_seed_runs_through_its_judge_without_a_finding() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus");
    let mut failures = Vec::new();
    for target in TARGETS {
        let mut files: Vec<_> = std::fs::read_dir(root.join(target))
            .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(files.len() >= 8, "fuzz/corpus/{target} has too few seeds");
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let outcome = judge_bytes(target, &bytes).expect("a judge per target");
            if let Err(finding) = outcome {
                failures.push(format!("{}: {finding}", f.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
