//! `diff_model`: see netsem_harness::oracles::fuzz::diff_model.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(report) = netsem_harness::oracles::fuzz::diff_model(data) {
        panic!("{report}");
    }
});
