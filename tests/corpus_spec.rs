//! Rule 10.1: the spec replays every trace of the shared corpus without divergence.

use netsem_spec::{replay, SpecEngine, Trace};

#[test]
fn spec_replays_the_whole_corpus() {
    let files = netsem_tests::corpus_files();
    assert!(files.len() >= 1, "the corpus is empty");
    let mut failures = Vec::new();
    for file in &files {
        let trace = match Trace::load(file) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{e}"));
                continue;
            }
        };
        let mut engine = SpecEngine::new(trace.profile().unwrap());
        if let Err(d) = replay(&mut engine, &trace) {
            failures.push(format!("{}: {d}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
