//! `diff_trace`: see netsem_tests::judge::diff_trace.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(report) = netsem_tests::judge::diff_trace(data) {
        panic!("{report}");
    }
});
