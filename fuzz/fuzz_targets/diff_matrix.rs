//! `diff_matrix`: see netsem_tests::judge::diff_matrix.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(report) = netsem_tests::judge::diff_matrix(data) {
        panic!("{report}");
    }
});
