//! netsem-model: a stateright actor model of how Kubernetes network policy is enforced, per pod
//! (the source design's "Simple POD Network Policy reference model"), model-checked against
//! `netsem-spec`. See docs/MODEL.md.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod engine;
pub mod pipeline;
pub mod properties;
pub mod proxy;
pub mod universe;

pub use engine::ModelEngine;
use pipeline::{Node, Role};
use properties::{with_properties, PipelineModel};
use stateright::actor::{ActorModel, Network};
use std::sync::Arc;
pub use universe::{Fault, Universe};

/// The actor model of a universe: the control plane, one pipeline actor per pod, one proxy
/// per node and one actor per host, over a network that reorders and delays (never loses or
/// duplicates) messages.
pub fn model(universe: Universe) -> PipelineModel {
    let u = Arc::new(universe);
    let roles = std::iter::once(Role::ControlPlane)
        .chain((0..u.pods.len()).map(Role::Pod))
        .chain((0..u.nodes.len()).map(Role::Proxy))
        .chain((0..u.hosts.len()).map(Role::Host));
    let actors: Vec<Node> = roles
        .map(|role| Node {
            universe: u.clone(),
            role,
        })
        .collect();
    let m = ActorModel::new(u.clone(), ())
        .actors(actors)
        .init_network(Network::new_unordered_nonduplicating([]));
    with_properties(m, &u)
}
