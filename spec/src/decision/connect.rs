//! The connection primitives of the source design, written once and generic over the
//! [`DecisionCore`]: `allowNewConnectionToPod`, `allowNewConnectionFromPod`,
//! `allowNewConnectionFromIpAddress`, `allowNewConnectionToIpAddress`, `openPodConnection`,
//! `openServiceConnection`, `openConnectionWithIpAddresses`, and the re-check of established
//! connections (rule 7.4). [`State`] offers them with the reference core under the seed's names
//! (`State::open_pod_connection`, …); the oracle calls them with its own core.

use crate::connection::Endpoint;
use crate::decision::core::{DecisionCore, Query};
use crate::decision::resolve::{gate, Blocked, Gate, Resolved};
use crate::decision::{Decision, Exemption, Opened, Refusal};
use crate::error::{ErrorKind, OpError};
use crate::ident::{ConnectionId, PodId, ServiceId};
use crate::net::{Address, Protocol};
use crate::policy::{Direction, PolicyType};
use crate::profile::MultiNetwork;
use crate::state::{AddressOwner, State};
use crate::trace::Op;
use std::collections::BTreeMap;

/// How an operation names the source of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A pod by identity: it uses its primary address of the destination's family (rule 3.4).
    Pod(PodId),
    /// An address, standing for its owner (rule 3.6); the connection keeps it (rule 8.5).
    Address(Address),
}

/// How an operation names the destination of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A pod by identity, on its primary address (rule 3.4).
    Pod(PodId),
    /// An address: a pod's, a node's, a Service's (translated, rule 6.4) or the outside's.
    Address(Address),
    /// A Service by identity.
    Service(ServiceId),
}

/// The verdict of one of the four one-direction primitives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directional<V> {
    /// Whether the filter lets the traffic through.
    pub allowed: bool,
    /// Set when the traffic is outside policy; an exemption holds for each filter alone
    /// (rule 5.4).
    pub exemption: Option<Exemption>,
    /// The verdict of the direction, when its end is a policed pod and nothing exempts it.
    pub verdict: Option<V>,
}

/// Both ends resolved (rules 3.6, 7.6) and the pre-policy rules applied to them (rules 2.3,
/// 7.1, 7.2, 7.5, 7.7, 8.6).
fn ends<'a>(
    state: &'a State,
    source: &'a Endpoint,
    destination: &'a Endpoint,
    protocol: Protocol,
    service: Option<&ServiceId>,
) -> (Resolved<'a>, Resolved<'a>, Gate) {
    let src = state.resolve(source);
    let dst = state.resolve(destination);
    let same_pod = matches!((src.pod(), dst.pod()), (Some(a), Some(b)) if a.id == b.id);
    let mut g = gate(
        state.profile(),
        &src.facts,
        &dst.facts,
        same_pod,
        protocol,
        service.is_some(),
    );
    // Rule 8.11: a primary user-defined network still reaches the cluster's DNS and API
    // server through their Services (OVN-Kubernetes); type 2 routes nothing between networks.
    if g.blocked == Some(Blocked::NoRoute)
        && state.profile().multi_network == MultiNetwork::Type1
        && service.is_some_and(reaches_every_network)
    {
        g.blocked = None;
    }
    (src, dst, g)
}

/// The Services every network reaches, primary user-defined networks included (rule 8.11):
/// the cluster's DNS and the API server.
pub const EVERY_NETWORK_SERVICES: [&str; 2] = ["kube-system/kube-dns", "default/kubernetes"];

fn reaches_every_network(service: &ServiceId) -> bool {
    EVERY_NETWORK_SERVICES.contains(&service.to_string().as_str())
}

/// The decision for a new connection between two endpoints (rules 2.3, 5.4, 7.x, 8.6).
/// `service` is the Service it goes through, if any (for the hairpin rule 7.2).
pub fn decide<C: DecisionCore>(
    state: &State,
    core: &C,
    source: &Endpoint,
    destination: &Endpoint,
    protocol: Protocol,
    port: u16,
    service: Option<&ServiceId>,
) -> Decision<C::Verdict> {
    let (src, dst, g) = ends(state, source, destination, protocol, service);
    let refusal = g.blocked.map(|b| match b {
        Blocked::SourceNotRunning => Refusal::NotRunning {
            pod: source.pod().expect("only a pod is not running").clone(),
        },
        Blocked::DestinationNotRunning => Refusal::NotRunning {
            pod: destination
                .pod()
                .expect("only a pod is not running")
                .clone(),
        },
        Blocked::NoRoute => Refusal::NoRoute,
    });
    let egress = src.pod().map(|at| {
        core.direction(
            state,
            &Query {
                at,
                direction: PolicyType::Egress,
                peer: dst.party,
                destination: dst.pod(),
                protocol,
                port,
                network: src.facts.network,
            },
        )
    });
    let ingress = dst.pod().map(|at| {
        core.direction(
            state,
            &Query {
                at,
                direction: PolicyType::Ingress,
                peer: src.party,
                destination: Some(at),
                protocol,
                port,
                network: dst.facts.network,
            },
        )
    });
    let allowed = refusal.is_none()
        && (g.exemption.is_some()
            || (egress.as_ref().is_none_or(C::allows) && ingress.as_ref().is_none_or(C::allows)));
    Decision {
        source: source.clone(),
        destination: destination.clone(),
        protocol,
        port,
        service: service.cloned(),
        allowed,
        refusal,
        exemption: g.exemption,
        egress,
        ingress,
    }
}

/// One filter alone: the egress at the source, or the ingress at the destination, of a new
/// connection (through `service` when it goes through one, for rule 7.2). Refusals do not
/// apply (a filter is not a connection); exemptions do (rule 5.4), so that a connection is
/// always the conjunction of its two filters. The four `allowNewConnection*` primitives are
/// this filter without a Service; the model's per-pod filters are this filter.
#[allow(clippy::too_many_arguments)]
pub fn filter<C: DecisionCore>(
    state: &State,
    core: &C,
    source: &Endpoint,
    destination: &Endpoint,
    direction: Direction,
    protocol: Protocol,
    port: u16,
    service: Option<&ServiceId>,
) -> Directional<C::Verdict> {
    let (src, dst, g) = ends(state, source, destination, protocol, service);
    if g.exemption.is_some() {
        return Directional {
            allowed: true,
            exemption: g.exemption,
            verdict: None,
        };
    }
    let (at, peer, network) = match direction {
        PolicyType::Egress => (src.pod(), dst.party, src.facts.network),
        PolicyType::Ingress => (dst.pod(), src.party, dst.facts.network),
    };
    // An end that is not a policed pod has no policy of its own.
    let verdict = at.map(|at| {
        core.direction(
            state,
            &Query {
                at,
                direction,
                peer,
                destination: dst.pod(),
                protocol,
                port,
                network,
            },
        )
    });
    Directional {
        allowed: verdict.as_ref().is_none_or(C::allows),
        exemption: None,
        verdict,
    }
}

/// The four one-direction primitives of the source design, by the ends they name:
///
/// - `allowNewConnectionToPod(sourcePod, destinationPod, …)` — pod to pod, the source's egress
///   towards the destination's primary address;
/// - `allowNewConnectionFromPod(destinationPod, sourcePod, …)` — pod to pod, the
///   destination's ingress;
/// - `allowNewConnectionFromIpAddress(sourceIpAddress, destinationPod, …)` — address to pod,
///   the destination's ingress;
/// - `allowNewConnectionToIpAddress(sourcePod, destinationIpAddress, …)` — pod to address, the
///   source's egress; a Service address is only an address here (rule 3.6: there is no
///   translation in a one-direction filter).
///
/// Returns `None` for a pair of ends none of the four takes.
pub fn allow<C: DecisionCore>(
    state: &State,
    core: &C,
    request: &Request,
    direction: Direction,
) -> Option<Result<Directional<C::Verdict>, OpError>> {
    let ends = match (&request.source, &request.target) {
        (Source::Pod(s), Target::Pod(d)) => state.pod_pair(s, d),
        (Source::Address(s), Target::Pod(d)) => state
            .pod_endpoint(d, Some(s))
            .and_then(|d| Ok((state.address_endpoint(s)?, d))),
        (Source::Pod(s), Target::Address(d)) => state.pod_endpoint(s, Some(d)).and_then(|s| {
            let d = match state.addresses().get(d) {
                Some(AddressOwner::Service { .. }) => Endpoint::External { address: d.clone() },
                _ => state.address_endpoint(d)?,
            };
            Ok((s, d))
        }),
        _ => return None,
    };
    Some(ends.map(|(s, d)| {
        filter(
            state,
            core,
            &s,
            &d,
            direction,
            request.protocol,
            request.port,
            None,
        )
    }))
}

/// What a new connection from `source` to `target` would do, without opening it: the
/// decision, or for a Service every possible backend's decision and the chosen one (rule 6.1).
/// `pick` is the backend an implementation picked. [`commit`] opens it.
pub fn attempt<C: DecisionCore>(
    state: &State,
    core: &C,
    source: &Source,
    target: &Target,
    protocol: Protocol,
    port: u16,
    pick: Option<&PodId>,
) -> Result<Opened<C::Verdict>, OpError> {
    let via = |src: Endpoint, fixed: bool, service: &ServiceId| {
        let node = state.node_of(&src).map(str::to_string);
        through_service(state, core, src, fixed, node, service, protocol, port, pick)
    };
    match (source, target) {
        (Source::Pod(s), Target::Pod(d)) => {
            let (s, d) = state.pod_pair(s, d)?;
            Ok(direct(state, core, s, d, protocol, port))
        }
        (Source::Pod(s), Target::Service(service)) => {
            via(state.pod_endpoint(s, None)?, false, service)
        }
        (Source::Pod(s), Target::Address(a)) => match state.addresses().get(a) {
            Some(AddressOwner::Service { service, .. }) => {
                via(state.pod_endpoint(s, None)?, false, service)
            }
            _ => {
                let src = state.pod_endpoint(s, Some(a))?;
                let dst = state.address_endpoint(a)?;
                Ok(direct(state, core, src, dst, protocol, port))
            }
        },
        (Source::Address(a), target) => {
            let src = state.address_endpoint(a)?;
            match target {
                Target::Pod(d) => {
                    let dst = state.pod_endpoint(d, src.address())?;
                    Ok(direct(state, core, src, dst, protocol, port))
                }
                Target::Service(service) => via(src, true, service),
                Target::Address(b) => {
                    if let Some(AddressOwner::Service { service, external }) =
                        state.addresses().get(b)
                    {
                        // Rule 6.10: a cluster address is not reachable from outside.
                        if !external && matches!(src, Endpoint::External { .. }) {
                            if let Some(p) = pick {
                                return Err(not_a_backend(p, service));
                            }
                            return Ok(Opened {
                                allowed: Some(false),
                                refusal: Some(Refusal::NotReachableFromOutside),
                                backends: Some(BTreeMap::new()),
                                ..Opened::default()
                            });
                        }
                        return via(src, true, service);
                    }
                    let dst = state.address_endpoint(b)?;
                    if src.pod().is_none() && dst.pod().is_none() {
                        return Err(OpError::new(
                            ErrorKind::NoPodEndpoint,
                            format!("neither {a} nor {b} is a pod address"),
                        ));
                    }
                    Ok(direct(state, core, src, dst, protocol, port))
                }
            }
        }
    }
}

/// Opens the connection an [`attempt`] decided, if it was allowed on a definite path.
pub fn commit<V>(state: &mut State, mut opened: Opened<V>) -> Opened<V> {
    if let Some(d) = opened.decision.as_ref().filter(|d| d.allowed) {
        opened.connection = Some(state.new_connection(
            d.source.clone(),
            d.destination.clone(),
            d.protocol,
            d.port,
            d.service.clone(),
        ));
    }
    opened
}

/// Opens a new connection from `source` to `target`: [`attempt`], then [`commit`].
pub fn open<C: DecisionCore>(
    state: &mut State,
    core: &C,
    request: &Request,
) -> Result<Opened<C::Verdict>, OpError> {
    let o = attempt(
        state,
        core,
        &request.source,
        &request.target,
        request.protocol,
        request.port,
        request.pick.as_ref(),
    )?;
    Ok(commit(state, o))
}

/// A connection an operation asks for: what the connection primitives and `explain` take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The source.
    pub source: Source,
    /// The destination.
    pub target: Target,
    /// The protocol.
    pub protocol: Protocol,
    /// The destination port (the Service port for a Service).
    pub port: u16,
    /// The backend an implementation picked, for a Service (rule 6.1).
    pub pick: Option<PodId>,
}

impl Op {
    /// The connection an operation asks about: `openPodConnection` (`openPodConnection`'s
    /// rule 5.4: both pod filters), `openServiceConnection`, `openConnectionWithIpAddresses`,
    /// and the four one-direction primitives, read as the connection they filter.
    pub fn request(&self) -> Option<Request> {
        let (source, target, protocol, port, pick) = match self {
            Op::OpenPodConnection {
                from,
                to,
                protocol,
                port,
            }
            | Op::AllowNewConnectionToPod {
                from,
                to,
                protocol,
                port,
            }
            | Op::AllowNewConnectionFromPod {
                from,
                to,
                protocol,
                port,
            } => (
                Source::Pod(from.clone()),
                Target::Pod(to.clone()),
                protocol,
                port,
                None,
            ),
            Op::OpenServiceConnection {
                from,
                service,
                protocol,
                port,
                backend,
            } => (
                Source::Pod(from.clone()),
                Target::Service(service.clone()),
                protocol,
                port,
                backend.clone(),
            ),
            Op::OpenConnectionWithIpAddresses {
                from,
                to,
                protocol,
                port,
                backend,
            } => (
                Source::Address(from.clone()),
                Target::Address(to.clone()),
                protocol,
                port,
                backend.clone(),
            ),
            Op::AllowNewConnectionFromIpAddress {
                from,
                to,
                protocol,
                port,
            } => (
                Source::Address(from.clone()),
                Target::Pod(to.clone()),
                protocol,
                port,
                None,
            ),
            Op::AllowNewConnectionToIpAddress {
                from,
                to,
                protocol,
                port,
            } => (
                Source::Pod(from.clone()),
                Target::Address(to.clone()),
                protocol,
                port,
                None,
            ),
            _ => return None,
        };
        Some(Request {
            source,
            target,
            protocol: *protocol,
            port: *port,
            pick,
        })
    }
}

/// Rule 7.4 (`established: recheck`): decides every open connection again as if new and closes
/// those now denied; returns their ids.
pub fn recheck<C: DecisionCore>(state: &mut State, core: &C) -> Vec<ConnectionId> {
    let exists = |s: &State, e: &Endpoint| e.pod().is_none_or(|p| s.pod(p).is_some());
    let cut: Vec<ConnectionId> = state
        .connections()
        .values()
        .filter(|c| {
            !(exists(state, &c.source)
                && exists(state, &c.destination)
                && decide(
                    state,
                    core,
                    &c.source,
                    &c.destination,
                    c.protocol,
                    c.port,
                    c.service.as_ref(),
                )
                .allowed)
        })
        .map(|c| c.id)
        .collect();
    for id in &cut {
        let _ = state.delete_connection(*id);
    }
    cut
}

fn direct<C: DecisionCore>(
    state: &State,
    core: &C,
    source: Endpoint,
    destination: Endpoint,
    protocol: Protocol,
    port: u16,
) -> Opened<C::Verdict> {
    let decision = decide(state, core, &source, &destination, protocol, port, None);
    Opened {
        allowed: Some(decision.allowed),
        refusal: decision.refusal.clone(),
        decision: Some(decision),
        ..Opened::default()
    }
}

/// Rule 6.1: decides every possible backend, then takes the chosen one. `pick` is the backend
/// the caller observed; without it, a single backend is taken, and several are only decided
/// unless they all deny.
#[allow(clippy::too_many_arguments)]
fn through_service<C: DecisionCore>(
    state: &State,
    core: &C,
    source: Endpoint,
    source_fixed: bool,
    source_node: Option<String>,
    service: &ServiceId,
    protocol: Protocol,
    port: u16,
    pick: Option<&PodId>,
) -> Result<Opened<C::Verdict>, OpError> {
    let svc = state
        .service(service)
        .ok_or_else(|| OpError::not_found("service", service))?;
    let backends = match state.service_backends(
        svc,
        source_node.as_deref(),
        source.address(),
        protocol,
        port,
    ) {
        Ok(b) => b,
        Err(refusal) => {
            if let Some(p) = pick {
                return Err(not_a_backend(p, service));
            }
            return Ok(Opened {
                allowed: Some(false),
                refusal: Some(refusal),
                backends: Some(BTreeMap::new()),
                ..Opened::default()
            });
        }
    };
    let mut decided = BTreeMap::new();
    for b in backends {
        let destination = Endpoint::Pod {
            pod: b.pod.clone(),
            address: b.address.clone(),
        };
        // A client named by identity uses its address of the backend's family (rule 3.4); a
        // client named by address keeps it (rules 3.6, 8.5).
        let source = match &source {
            Endpoint::Pod { pod, .. } if !source_fixed => {
                state.pod_endpoint(pod, b.address.as_ref())?
            }
            other => other.clone(),
        };
        let decision = decide(
            state,
            core,
            &source,
            &destination,
            protocol,
            b.port,
            Some(service),
        );
        decided.insert(b.pod, decision);
    }
    let chosen = match pick {
        Some(p) if decided.contains_key(p) => Some(p.clone()),
        Some(p) => return Err(not_a_backend(p, service)),
        None if decided.len() == 1 => decided.keys().next().cloned(),
        None => None,
    };
    let Some(chosen) = chosen else {
        let all_deny = decided.values().all(|d| !d.allowed);
        return Ok(Opened {
            allowed: all_deny.then_some(false),
            refusal: (!all_deny).then_some(Refusal::BackendNotChosen),
            backends: Some(decided),
            ..Opened::default()
        });
    };
    let decision = decided[&chosen].clone();
    Ok(Opened {
        allowed: Some(decision.allowed),
        connection: None,
        refusal: decision.refusal.clone(),
        decision: Some(decision),
        backends: Some(decided),
        backend: Some(chosen),
    })
}

fn not_a_backend(pod: &PodId, service: &ServiceId) -> OpError {
    OpError::new(
        ErrorKind::NotABackend,
        format!("pod {pod} is not a possible backend of service {service}"),
    )
}
