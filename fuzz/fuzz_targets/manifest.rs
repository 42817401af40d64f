//! `manifest`: see netsem_harness::oracles::fuzz::manifest.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(report) = netsem_harness::oracles::fuzz::manifest(data) {
        panic!("{report}");
    }
});
