//! netsem-oracle: a fast, indexed engine with the same observable behaviour as `netsem-spec`.
//!
//! The oracle keeps the spec's object store and mapping primitives (one home for the
//! vocabulary and for the invalid-operation rules) and computes every decision from its own
//! indexes: interned pods, per-policy selected sets and per-rule peer sets kept up to date
//! incrementally, compiled port sets, and a class-compressed connectivity matrix. The
//! differential tests require it to observe exactly what the spec observes.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bitset;
mod compiled;
mod engine;
mod index;
mod matrix;

pub use matrix::CompressedMatrix;

pub use engine::{IndexCore, Oracle, PodRef};
