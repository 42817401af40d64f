//! netsem-spec: the executable reference semantics of Kubernetes networking.
//!
//! Written to be obviously right rather than fast. Every rule is numbered in
//! `docs/SEMANTICS.md`; the code and its tests cite those numbers. The primitives keep the names
//! of the source design (*Kubernetes Networking Semantics*, Per Andersson): `addPod` is
//! [`State::add_pod`], `openPodConnection` is [`State::open_pod_connection`], and so on.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod connection;
pub mod decision;
pub mod entry;
pub mod error;
pub mod ident;
pub mod manifest;
pub mod matrix;
pub mod net;
pub mod pod;
pub mod policy;
pub mod profile;
pub mod selector;
pub mod service;
pub mod state;

pub use connection::{Connection, Endpoint};
pub use decision::{
    Decision, DecisionCore, DirectionVerdict, Exemption, Opened, Party, Refusal, RuleMatch,
    SpecCore,
};
pub use error::{ErrorKind, OpError};
pub use ident::{ConnectionId, ObjectId, PodId, PolicyId, ServiceId};
pub use matrix::{AllowedPorts, Matrix, MatrixEntry, PortRanges};
pub use net::{Address, Network, PortRef, Protocol};
pub use pod::{Attachment, ContainerPort, Pod, PodPhase};
pub use policy::{IpBlock, NetworkPolicy, Peer, PolicyPort, PolicyType, Rule};
pub use profile::{Profile, ProfileError};
pub use selector::{LabelSelector, Labels, Operator, Requirement};
pub use service::{Service, ServicePort, ServiceType, TrafficPolicy};
pub use state::{AddressOwner, Effects, State};
pub mod engine;
pub mod trace;
pub use engine::Engine;
pub use engine::SpecEngine;
pub use trace::{replay, Divergence, Observation, Op, Step, Trace};
