//! The engine registry: every engine that executes trace operations, built by name.

use netsem_model::ModelEngine;
use netsem_oracle::Oracle;
use netsem_spec::{Engine, Profile, SpecEngine};

/// The engines, by the names reports and the command line use: the reference semantics, the
/// fast indexed engine, and the enforcement model (which judges what its pipeline models and
/// skips the rest, with a reason per operation).
pub const ALL: [&str; 3] = ["spec", "oracle", "model"];

/// Builds the engine `name` over an empty cluster under `profile`.
pub fn build(name: &str, profile: Profile) -> Option<Box<dyn Engine>> {
    Some(match name {
        "spec" => Box::new(SpecEngine::new(profile)),
        "oracle" => Box::new(Oracle::new(profile)),
        "model" => Box::new(ModelEngine::new(profile)),
        _ => return None,
    })
}
