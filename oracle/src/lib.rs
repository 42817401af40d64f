//! netsem-oracle: a fast, indexed engine with the same observable behaviour as `netsem-spec`.
//!
//! The oracle keeps the spec's object store and mapping primitives (one home for the
//! vocabulary and for the invalid-operation rules) and computes every decision from its own
//! indexes: interned pods, per-policy selected sets and per-rule peer sets kept up to date
//! incrementally, compiled port sets, and a class-compressed connectivity matrix. The
//! differential tests require it to observe exactly what the spec observes.
//!
//! # netsem as the test oracle of an implementation
//!
//! A network plugin, a policy engine or a simulator written in Rust can use the oracle as the
//! expected answer of its property tests: build the cluster the test generated as manifests,
//! then ask. `examples/rust-oracle/` in the repository is a complete example (a toy enforcer
//! and its proptest); the core of it is a few lines:
//!
//! ```
//! use netsem_oracle::Oracle;
//! use netsem_spec::{PodId, Profile, Protocol};
//! use proptest::prelude::*;
//!
//! /// The implementation under test (here: a stand-in that knows one policy).
//! fn my_plugin_allows(from: &str, _to: &str, port: u16) -> bool {
//!     from == "shop/web" && port == 8080 || from == "shop/api"
//! }
//!
//! const CLUSTER: &str = r#"
//! apiVersion: v1
//! kind: Pod
//! metadata: {name: web, namespace: shop, labels: {app: web}}
//! spec: {containers: [{name: c, image: i}]}
//! ---
//! apiVersion: v1
//! kind: Pod
//! metadata: {name: api, namespace: shop, labels: {app: api}}
//! spec: {containers: [{name: c, image: i}]}
//! ---
//! apiVersion: networking.k8s.io/v1
//! kind: NetworkPolicy
//! metadata: {name: api-from-web, namespace: shop}
//! spec:
//!   podSelector: {matchLabels: {app: api}}
//!   ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 8080}]}]
//! "#;
//!
//! proptest!(|(port in 1u16..=65535)| {
//!     let oracle = Oracle::from_manifests(CLUSTER, Profile::default()).unwrap();
//!     let (web, api) = (PodId::new("shop", "web"), PodId::new("shop", "api"));
//!     let expected = oracle.allows_pods(&web, &api, Protocol::Tcp, port).unwrap();
//!     prop_assert_eq!(my_plugin_allows("shop/web", "shop/api", port), expected);
//! });
//! ```
//!
//! [`Oracle::allows`] takes any source and target the spec's primitives take (pods, addresses,
//! Services); [`Oracle::execute`](netsem_spec::Engine::execute) applies trace operations
//! (`apply`, `setPodLabels`, …) and keeps the indexes in step, so a stateful test can follow the
//! implementation step by step.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod bitset;
mod compiled;
mod engine;
mod index;
mod matrix;

pub use matrix::CompressedMatrix;

pub use engine::{IndexCore, Oracle, PodRef};
/// The oracle core's verdict of one direction: its outcome, and the tied admin policies.
pub use index::Verdict as IndexVerdict;
