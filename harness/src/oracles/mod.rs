//! Oracles: the judges that decide whether a run was right.

pub mod fuzz;
pub mod lockstep;

pub use lockstep::{differential, lockstep, Mismatch};
