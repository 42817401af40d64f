//! Differential testing (issue 4, rules 10.1, 10.3): random clusters and operation sequences
//! under random profiles; spec and oracle must observe the same thing at every step, and their
//! connectivity matrices must be identical at the end. A failure is shrunk by proptest and the
//! minimal trace is written to `tests/corpus/found/`, to be kept in the corpus once fixed.

use netsem_harness::generators::scenario_from_bytes;
use netsem_harness::oracles::differential;
use netsem_oracle::Oracle;
use netsem_spec::matrix::MatrixView;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("NETSEM_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

fn save(name: &str, yaml: &str) -> String {
    let dir = netsem_harness::corpus::dir().join("found");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.yaml"));
    let _ = std::fs::write(&path, yaml);
    path.display().to_string()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn r10_1_spec_and_oracle_agree_on_random_traces(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let scenario = scenario_from_bytes(&bytes, 60);
        let mut oracle = Oracle::new(scenario.profile);
        match differential(&scenario, &mut oracle) {
            Err(m) => {
                let path = save("diff-minimal", &m.trace("diff-minimal").to_yaml());
                prop_assert!(false, "{m}\n(saved to {path})");
            }
            Ok(spec) => {
                let expected = spec.state.matrix();
                let got = oracle.compressed_matrix().to_matrix();
                if expected != got {
                    let first = expected
                        .entries
                        .iter()
                        .zip(&got.entries)
                        .find(|(a, b)| a != b)
                        .map(|(a, b)| format!("spec {}\noracle {}", a.to_json_line(), b.to_json_line()))
                        .unwrap_or_else(|| format!("pods differ: {:?} vs {:?}", expected.pods, got.pods));
                    prop_assert!(false, "matrices differ under {}:\n{first}\nops: {}", scenario.profile, netsem_spec::trace::to_json(&scenario.ops));
                }
            }
        }
    }
}
