//! `manifest`: see `netsem_harness::oracles::manifest`. The input is typed: any text, or a
//! shipped manifest under byte-level edits.
#![no_main]

use netsem_harness::oracles::manifest::{manifest, ManifestInput};

libfuzzer_sys::fuzz_target!(|input: ManifestInput| manifest(&input));
