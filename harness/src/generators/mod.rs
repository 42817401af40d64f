//! Generators: seeded, deterministic inputs for the judges and the benchmarks.

pub mod cluster;
pub mod scenario;

pub use scenario::{scenario_from_bytes, Scenario};
