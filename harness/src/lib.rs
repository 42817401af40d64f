//! netsem-harness: everything that runs netsem's engines against each other, in the shape of
//! wasmtime's `crates/fuzzing`.
//!
//! - [`generators`] build valid, interesting inputs: realistic clusters of a given size and
//!   random scenarios (a profile and a sequence of trace operations).
//! - [`oracles`] judge a run: spec and another engine in lockstep, matrices against each other,
//!   the model checker's properties, the manifest loader's robustness.
//! - [`engines`] builds every engine by name ([`engines::build`], [`engines::ALL`]).
//! - [`corpus`] finds the trace corpus `tests/corpus/` that every engine replays.
//!
//! The tests, the fuzz targets and the benchmarks all use this crate; none builds an engine or
//! a generator of its own.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod corpus;
pub mod engines;
pub mod generators;
pub mod oracles;
