//! netsem-gen: generators and judges shared by the differential tests, the fuzz targets and the
//! benchmarks (in the style of wasmtime's fuzzing crate: generators build valid, interesting
//! inputs; judges decide whether a run was right).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cluster;
pub mod diff;
pub mod scenario;

pub use diff::{differential, lockstep, Mismatch};
pub use scenario::{scenario_from_bytes, Scenario};
