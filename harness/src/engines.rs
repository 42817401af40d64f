//! The engine registry: every engine that executes trace operations, built by name.

use netsem_oracle::Oracle;
use netsem_spec::{Engine, Profile, SpecEngine};

/// The engines, by the names reports and the command line use.
pub const ALL: [&str; 2] = ["spec", "oracle"];

/// Builds the engine `name` over an empty cluster under `profile`.
pub fn build(name: &str, profile: Profile) -> Option<Box<dyn Engine>> {
    Some(match name {
        "spec" => Box::new(SpecEngine::new(profile)),
        "oracle" => Box::new(Oracle::new(profile)),
        _ => return None,
    })
}
