//! `manifest`: see netsem_tests::judge::manifest.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(report) = netsem_tests::judge::manifest(data) {
        panic!("{report}");
    }
});
