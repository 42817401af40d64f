//! Policy decisions and the connection primitives of the source design: `allowNewConnection*`,
//! `openPodConnection`, `openServiceConnection`, `openConnectionWithIpAddresses` (seed 000/001,
//! "Pod Communication with Network Policies", "Definition of openConnectionFromIpAddresses").
//!
//! The module is layered so that exactly one part has a twin elsewhere:
//!
//! - [`resolve`]: what each end of a connection is (rules 3.4, 3.6, 7.6) and what is decided
//!   before any policy — refusals and exemptions (rules 2.3, 7.1, 7.2, 7.5, 7.7, 8.6);
//! - [`core`]: the **decision core**, the verdict of one direction at one policed pod (rules
//!   5.x). [`DecisionCore`] is the trait; [`SpecCore`] is the reference evaluation. The oracle
//!   implements the same trait from its indexes, and the differential tests judge the two;
//! - [`services`]: which pods a Service connection may reach (rules 6.x, 8.5, 8.6);
//! - [`connect`]: the primitives themselves and the re-check of established connections
//!   (rule 7.4), written once, generic over the core.

pub mod allocated;
pub mod connect;
pub mod core;
pub mod entry;
pub mod networks;
pub mod resolve;
mod seed;
pub mod services;

pub use self::core::{
    AdminPolicyOutcome, DecisionCore, DirectionVerdict, Outcome, PeerOutcome, PolicyOutcome, Query,
    RuleMatch, RuleOutcome, SpecCore, TierDecision, TierVerdict,
};
pub use connect::{Directional, Source, Target};
pub use networks::{OnNetwork, PolicyApi};
pub use resolve::{Facts, Gate, Party};
pub use services::Backend;

use crate::connection::Endpoint;
use crate::ident::{ConnectionId, PodId, ServiceId};
use crate::net::Protocol;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Traffic that is outside NetworkPolicy under the profile in force (rules 7.1, 7.2, 7.5, 7.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exemption {
    /// A pod to itself (rule 7.1, `pod-to-self: allowed`).
    PodToSelf,
    /// A pod to itself through a Service (rule 7.2, `service-hairpin: allowed`).
    ServiceHairpin,
    /// Between a pod and its own node (rule 7.5, `node-traffic: always-allowed`).
    OwnNode,
    /// A protocol NetworkPolicy does not speak (rule 7.7, `other-protocols: allowed`).
    OtherProtocol,
}

/// Why a connection was refused before, or instead of, policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum Refusal {
    /// The pod is not running (rule 2.3).
    NotRunning {
        /// The pod.
        pod: PodId,
    },
    /// The two addresses are on different networks and no route joins them: multi-network
    /// type 2 (rule 8.6), or a primary user-defined network (rule 8.11).
    NoRoute,
    /// The Service has no port for this protocol and port (rule 6.2).
    NoServicePort,
    /// The Service has no possible backend (rule 6.6).
    NoBackends,
    /// An `ExternalName` Service proxies nothing (rule 6.8).
    ExternalName,
    /// A cluster-internal Service address reached from outside the cluster (rule 6.10).
    NotReachableFromOutside,
    /// Several backends are possible, their verdicts differ or allow, and the operation did
    /// not say which one was picked (rule 6.1).
    BackendNotChosen,
    /// The traffic policy is `Local` and the node has no endpoint, while others have (rules
    /// 6.7, 6.13): dropped.
    NoLocalEndpoints,
    /// The client is outside the Service's `loadBalancerSourceRanges` (rule 6.14): dropped.
    SourceRange,
    /// An address inside a `ServiceCIDR` that no Service holds (rule 6.17): dropped.
    UnallocatedServiceAddress,
    /// No listener or route of an entry point takes the request, and it has no default
    /// backend (rules 6.21, 6.24): the controller answers it itself (HTTP 404) or closes it.
    NoMatchingRoute,
}

impl Refusal {
    /// Rule 6.18: whether the proxy drops the packet (the client sees nothing) rather than
    /// rejecting it (the client is told: ICMP port unreachable). Refusals before any Service
    /// (not running, no route) are drops: nothing answers.
    pub fn dropped(&self) -> bool {
        !matches!(
            self,
            Refusal::NoServicePort
                | Refusal::NoBackends
                | Refusal::BackendNotChosen
                | Refusal::NoMatchingRoute
        )
    }

    /// The kebab-case name traces use for the refusal (`refused` in an observation).
    pub fn name(&self) -> &'static str {
        match self {
            Refusal::NotRunning { .. } => "not-running",
            Refusal::NoRoute => "no-route",
            Refusal::NoServicePort => "no-service-port",
            Refusal::NoBackends => "no-backends",
            Refusal::ExternalName => "external-name",
            Refusal::NotReachableFromOutside => "not-reachable-from-outside",
            Refusal::BackendNotChosen => "backend-not-chosen",
            Refusal::NoLocalEndpoints => "no-local-endpoints",
            Refusal::SourceRange => "source-range",
            Refusal::UnallocatedServiceAddress => "unallocated-service-address",
            Refusal::NoMatchingRoute => "no-matching-route",
        }
    }
}

/// How a connection through a Service arrived (rules 6.10, 6.12, 6.13): the address the
/// client sent to, the node that translated it, and the client as it sent it when policy sees
/// another source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arrival {
    /// What the client sent to.
    pub via: Via,
    /// The Service port the client used (before translation).
    pub service_port: u16,
    /// The client's address as the proxy saw it, which session affinity is kept for (rule
    /// 6.16).
    pub client: Option<std::net::IpAddr>,
    /// The node whose proxy translated the connection, when known.
    pub node: Option<String>,
    /// The client as it sent the connection, when it was masqueraded to `node`'s address
    /// (`externalTrafficPolicy: Cluster`, or a node's own traffic) and policy sees that.
    pub masqueraded_from: Option<Endpoint>,
    /// When the network may deliver the traffic to any of several nodes (an external address
    /// from outside): each node and whether the connection is allowed through it.
    pub nodes: Vec<(String, bool)>,
}

/// The kind of address a Service connection was sent to (rules 6.10, 6.12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// A cluster address (`clusterIP`), or the Service by name.
    ClusterAddress,
    /// A node's address on a node port.
    NodePort {
        /// The node.
        node: String,
        /// The node port.
        port: u16,
    },
    /// An external address: `externalIPs`, or a load-balancer ingress address.
    ExternalAddress {
        /// Whether it is a load-balancer address.
        load_balancer: bool,
    },
}

/// The decision for one new connection between two endpoints, with everything that went into
/// it, so that an explanation prints it instead of deriving it again. `V` is the decision core's
/// verdict of one direction: [`DirectionVerdict`] for the spec, `bool` for the oracle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision<V = DirectionVerdict> {
    /// The source, as decided (a client's address is the one the connection uses).
    pub source: Endpoint,
    /// The destination, after Service translation (rule 6.4).
    pub destination: Endpoint,
    /// The protocol.
    pub protocol: Protocol,
    /// The destination port, after Service translation.
    pub port: u16,
    /// The Service the connection goes through, if any.
    pub service: Option<ServiceId>,
    /// The verdict: a connection may be opened, whatever the choice between tied admin
    /// policies (rule 11.6).
    pub allowed: bool,
    /// What the connection may come to: both egress and ingress (rule 11.2).
    pub outcome: Outcome,
    /// The admin policies whose tie leaves the outcome undetermined (rule 11.6).
    pub ties: Vec<crate::admin::AdminPolicyId>,
    /// Set when the connection is refused before policy.
    pub refusal: Option<Refusal>,
    /// Set when the traffic is outside policy.
    pub exemption: Option<Exemption>,
    /// How the connection arrived through its Service, if it went through one.
    pub arrival: Option<Arrival>,
    /// The source pod's egress verdict; `None` when the source is not a policed pod.
    pub egress: Option<V>,
    /// The destination pod's ingress verdict; `None` when the destination is not a policed pod.
    pub ingress: Option<V>,
}

impl<V> Decision<V> {
    /// Whether the connection is undetermined: refused by nothing, allowed by some choice
    /// between tied admin policies and denied by another (rule 11.6).
    pub fn undetermined(&self) -> bool {
        self.refusal.is_none() && self.outcome.tied()
    }

    /// Denied whatever the choice (refused, or no choice allows).
    pub fn denied(&self) -> bool {
        self.refusal.is_some() || !self.outcome.can_allow
    }

    /// The verdict an observation reports: `None` when undetermined (rule 11.6).
    pub fn verdict(&self) -> Option<bool> {
        (!self.undetermined()).then_some(self.allowed)
    }
}

/// The result of an `open*Connection` primitive (or of its dry run, [`connect::attempt`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened<V = DirectionVerdict> {
    /// Whether the connection is allowed; `None` when it depends on a backend nobody chose.
    pub allowed: Option<bool>,
    /// The new connection's id, when one was opened.
    pub connection: Option<ConnectionId>,
    /// Why nothing was opened, when it was refused before or instead of policy.
    pub refusal: Option<Refusal>,
    /// The decision for the path taken (the chosen backend's, for a Service).
    pub decision: Option<Decision<V>>,
    /// For a Service: every possible backend and its decision (rule 6.1).
    pub backends: Option<BTreeMap<PodId, Decision<V>>>,
    /// For a Service: the backend the connection went to.
    pub backend: Option<PodId>,
}

impl<V> Default for Opened<V> {
    fn default() -> Self {
        Opened {
            allowed: None,
            connection: None,
            refusal: None,
            decision: None,
            backends: None,
            backend: None,
        }
    }
}
