//! `diff_trace`: see netsem_harness::oracles::fuzz::diff_trace.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(report) = netsem_harness::oracles::fuzz::diff_trace(data) {
        panic!("{report}");
    }
});
