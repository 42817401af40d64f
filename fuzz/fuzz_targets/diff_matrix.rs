//! `diff_matrix`: see netsem_harness::oracles::fuzz::diff_matrix.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(report) = netsem_harness::oracles::fuzz::diff_matrix(data) {
        panic!("{report}");
    }
});
