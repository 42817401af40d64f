//! Generators: seeded, deterministic inputs for the judges and the benchmarks.

pub mod admin;
pub mod cluster;
pub mod scenario;
pub mod services;

pub use scenario::{scenario_from_bytes, Scenario};
