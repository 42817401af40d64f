//! `diff_trace`: see `netsem_harness::oracles::diff_trace`. The input is a typed scenario
//! (a profile and up to `MAX_OPS` operations), decoded by `arbitrary`.
#![no_main]

use netsem_harness::generators::Scenario;

libfuzzer_sys::fuzz_target!(|scenario: Scenario| {
    if let Err(finding) = netsem_harness::oracles::diff_trace(&scenario) {
        panic!("{finding}");
    }
});
