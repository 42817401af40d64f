//! Oracles: the judges that decide whether a run was right. Each takes a typed input (built by
//! [`crate::generators`] or by `arbitrary` in a fuzz target) and returns a [`Finding`] when the
//! run was wrong; the fuzz targets are one call each.

pub mod lockstep;
pub mod manifest;
pub mod matrix;

pub use lockstep::{differential, lockstep, Mismatch};

use crate::generators::Scenario;
use arbitrary::{Arbitrary, Unstructured};
use netsem_model::ModelEngine;
use netsem_oracle::Oracle;
use std::fmt;

/// What a judge found wrong.
#[derive(Debug)]
pub enum Finding {
    /// An engine disagreed with spec (or failed in itself) at a step.
    Mismatch(Box<Mismatch>),
    /// The oracle's matrix differs from spec's, or contradicts the oracle's own decisions.
    Matrix(String),
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Mismatch(m) => write!(f, "{m}"),
            Finding::Matrix(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Finding {}

impl From<Box<Mismatch>> for Finding {
    fn from(m: Box<Mismatch>) -> Self {
        Finding::Mismatch(m)
    }
}

/// `diff_trace`: spec and the oracle observe the same at every step of a scenario.
pub fn diff_trace(s: &Scenario) -> Result<(), Finding> {
    lockstep(s.profile, &s.ops, &mut Oracle::new(s.profile))?;
    Ok(())
}

/// `diff_model`: spec and the model observe the same at every step the model models (its
/// pipeline, model-checked with every property, for each connection between pods).
pub fn diff_model(s: &Scenario) -> Result<(), Finding> {
    lockstep(s.profile, &s.ops, &mut ModelEngine::new(s.profile))?;
    Ok(())
}

/// The fuzz targets, by name.
pub const TARGETS: [&str; 4] = ["diff_trace", "diff_matrix", "diff_model", "manifest"];

/// Decodes `bytes` as the target's typed input, as libFuzzer's `arbitrary` integration does,
/// and judges it; for replaying committed seeds on stable.
pub fn judge_bytes(target: &str, bytes: &[u8]) -> Option<Result<(), Finding>> {
    let u = Unstructured::new(bytes);
    Some(match target {
        "diff_trace" => diff_trace(&Scenario::arbitrary_take_rest(u).ok()?),
        "diff_matrix" => matrix::diff_matrix(&Scenario::arbitrary_take_rest(u).ok()?),
        "diff_model" => diff_model(&Scenario::arbitrary_take_rest(u).ok()?),
        "manifest" => {
            manifest::manifest(&manifest::ManifestInput::arbitrary_take_rest(u).ok()?);
            Ok(())
        }
        _ => return None,
    })
}
