//! netsem-model: a stateright actor model of how Kubernetes network policy is enforced, per pod
//! (the source design's "Simple POD Network Policy reference model"), model-checked against
//! `netsem-spec`. See docs/MODEL.md.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod engine;
pub mod pipeline;
pub mod properties;
pub mod universe;

pub use engine::ModelEngine;
use pipeline::Node;
use properties::{with_properties, PipelineModel};
use stateright::actor::{ActorModel, Network};
use std::sync::Arc;
pub use universe::{Fault, Universe};

/// The actor model of a universe: the control plane and one pipeline actor per pod, over a
/// network that reorders and delays (never loses or duplicates) messages.
pub fn model(universe: Universe) -> PipelineModel {
    let u = Arc::new(universe);
    let actors = std::iter::once(Node {
        universe: u.clone(),
        pod: None,
    })
    .chain((0..u.pods.len()).map(|i| Node {
        universe: u.clone(),
        pod: Some(i),
    }));
    let m = ActorModel::new(u.clone(), ())
        .actors(actors)
        .init_network(Network::new_unordered_nonduplicating([]));
    with_properties(m, &u)
}
