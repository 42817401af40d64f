//! The connection primitives of the source design, written once and generic over the
//! [`DecisionCore`]: `allowNewConnectionToPod`, `allowNewConnectionFromPod`,
//! `allowNewConnectionFromIpAddress`, `allowNewConnectionToIpAddress`, `openPodConnection`,
//! `openServiceConnection`, `openConnectionWithIpAddresses`, and the re-check of established
//! connections (rule 7.4). [`State`] offers them with the reference core under the seed's names
//! (`State::open_pod_connection`, …); the oracle calls them with its own core.

use crate::admin::AdminPolicyId;
use crate::connection::Endpoint;
use crate::decision::core::{DecisionCore, Outcome, Query};
use crate::decision::networks::admin_tiers_filter;
use crate::decision::resolve::Kind;
use crate::decision::resolve::{gate, Blocked, Gate, Resolved};
use crate::decision::{Arrival, Decision, Exemption, Opened, Refusal, Via};
use crate::error::{ErrorKind, OpError};
use crate::ident::{ConnectionId, PodId, ServiceId};
use crate::net::{Address, Protocol};
use crate::policy::{Direction, PolicyType};
use crate::profile::MultiNetwork;
use crate::profile::ServiceSnat;
use crate::state::{AddressOwner, State};
use crate::trace::Op;
use std::collections::BTreeMap;
use std::collections::BTreeSet;

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
    /// Whether the filter lets the traffic through, whatever the choice between tied admin
    /// policies.
    pub allowed: bool,
    /// What the filter may come to (rule 11.6).
    pub outcome: Outcome,
    /// The admin policies whose tie leaves it undetermined.
    pub ties: Vec<AdminPolicyId>,
    /// The exemption the NetworkPolicy tier honours; it holds for each filter alone (rule 5.4).
    pub exemption: Option<Exemption>,
    /// The verdict of the direction, when its end is a policed pod.
    pub verdict: Option<V>,
}

/// What a direction comes to; a direction without a policed pod allows.
fn outcome_of<C: DecisionCore>(verdict: &Option<C::Verdict>) -> Outcome {
    verdict.as_ref().map_or(Outcome::ALLOW, C::outcome)
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
    let query = |at, direction, peer, network| Query {
        at,
        direction,
        peer,
        destination: dst.pod(),
        protocol,
        port,
        exemption: g.exemption,
        admin_tiers: g.admin_tiers && admin_tiers_filter(state, network),
        network,
    };
    let egress = src.pod().map(|at| {
        core.direction(
            state,
            &query(at, PolicyType::Egress, dst.party, src.facts.network),
        )
    });
    let ingress = dst.pod().map(|at| {
        core.direction(
            state,
            &query(at, PolicyType::Ingress, src.party, dst.facts.network),
        )
    });
    let outcome = outcome_of::<C>(&egress).and(outcome_of::<C>(&ingress));
    let ties = if refusal.is_none() && outcome.tied() {
        let mut ties: Vec<AdminPolicyId> =
            egress.iter().chain(&ingress).flat_map(C::ties).collect();
        ties.sort();
        ties.dedup();
        ties
    } else {
        Vec::new()
    };
    Decision {
        source: source.clone(),
        destination: destination.clone(),
        protocol,
        port,
        service: service.cloned(),
        allowed: refusal.is_none() && outcome.allowed(),
        outcome,
        ties,
        refusal,
        exemption: g.exemption,
        arrival: None,
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
                exemption: g.exemption,
                admin_tiers: g.admin_tiers && admin_tiers_filter(state, network),
                network,
            },
        )
    });
    let outcome = outcome_of::<C>(&verdict);
    Directional {
        allowed: outcome.allowed(),
        outcome,
        ties: verdict.iter().flat_map(C::ties).collect(),
        exemption: g.exemption,
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
    let via = |src: Endpoint, fixed: bool, service: &ServiceId, via: Via| {
        through_service(state, core, src, fixed, service, via, protocol, port, pick)
    };
    // An address that is no Service's: the connection goes to what it stands for.
    let plain = |src: Endpoint, fixed: bool, a: &Address| -> Result<Opened<C::Verdict>, OpError> {
        let dst = state.address_endpoint(a)?;
        if src.pod().is_none() && dst.pod().is_none() {
            return Err(OpError::new(
                ErrorKind::NoPodEndpoint,
                format!("neither {} nor {a} is a pod address", src_text(&src)),
            ));
        }
        let src = match &src {
            Endpoint::Pod { pod, .. } if !fixed => state.pod_endpoint(pod, Some(a))?,
            other => other.clone(),
        };
        Ok(direct(state, core, src, dst, protocol, port))
    };
    // Rules 6.10, 6.12, 6.17: what an address is to a connection sent to it.
    let to_address = |src: Endpoint,
                      fixed: bool,
                      a: &Address|
     -> Result<Opened<C::Verdict>, OpError> {
        match state.addresses().get(a) {
            Some(AddressOwner::Service { service, external }) => {
                let kind = if *external {
                    let load_balancer = state
                        .service(service)
                        .is_some_and(|s| s.load_balancer_ips.contains(&a.ip));
                    Via::ExternalAddress { load_balancer }
                } else {
                    Via::ClusterAddress
                };
                via(src, fixed, service, kind)
            }
            Some(AddressOwner::Node { node }) => match state.node_port_service(protocol, port) {
                Some(svc) => {
                    let kind = Via::NodePort {
                        node: node.clone(),
                        port,
                    };
                    via(src, fixed, &svc.id.clone(), kind)
                }
                None => plain(src, fixed, a),
            },
            None if state.in_service_cidr(a.ip) => {
                if let Some(p) = pick {
                    return Err(OpError::new(
                        ErrorKind::NotABackend,
                        format!("{a} is no Service's address, so pod {p} is no backend of it"),
                    ));
                }
                Ok(refused(Refusal::UnallocatedServiceAddress))
            }
            _ => plain(src, fixed, a),
        }
    };
    match (source, target) {
        (Source::Pod(s), Target::Pod(d)) => {
            let (s, d) = state.pod_pair(s, d)?;
            Ok(direct(state, core, s, d, protocol, port))
        }
        (Source::Pod(s), Target::Service(service)) => via(
            state.pod_endpoint(s, None)?,
            false,
            service,
            Via::ClusterAddress,
        ),
        (Source::Pod(s), Target::Address(a)) => to_address(state.pod_endpoint(s, None)?, false, a),
        (Source::Address(a), target) => {
            let src = state.address_endpoint(a)?;
            match target {
                Target::Pod(d) => {
                    let dst = state.pod_endpoint(d, src.address())?;
                    Ok(direct(state, core, src, dst, protocol, port))
                }
                Target::Service(service) => via(src, true, service, Via::ClusterAddress),
                Target::Address(b) => to_address(src, true, b),
            }
        }
    }
}

fn src_text(e: &Endpoint) -> String {
    match e.address() {
        Some(a) => a.to_string(),
        None => format!("{e:?}"),
    }
}

/// A connection refused before any backend (rule 6.18).
fn refused<V>(refusal: Refusal) -> Opened<V> {
    Opened {
        allowed: Some(false),
        refusal: Some(refusal),
        backends: Some(BTreeMap::new()),
        ..Opened::default()
    }
}

/// Opens the connection an [`attempt`] decided, if it was allowed on a definite path.
pub fn commit<V>(state: &mut State, mut opened: Opened<V>) -> Opened<V> {
    if let Some(d) = opened.decision.as_ref().filter(|d| d.allowed) {
        let id = state.new_connection(
            d.source.clone(),
            d.destination.clone(),
            d.protocol,
            d.port,
            d.service.clone(),
        );
        opened.connection = Some(id);
        // Rule 6.16: the connection sets or renews the client's affinity to its backend.
        let affine = d
            .service
            .as_ref()
            .and_then(|s| state.service(s))
            .is_some_and(|s| s.session_affinity.is_some());
        if let (true, Some(arrival), Some(backend)) = (affine, &d.arrival, d.destination.pod()) {
            if let (Some(client), Some(service)) = (arrival.client, d.service.clone()) {
                let key = crate::decision::services::AffinityKey {
                    service,
                    protocol: d.protocol,
                    port: arrival.service_port,
                    client,
                };
                state.record_affinity(key, backend.clone(), id);
            }
        }
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

impl Op {
    /// The entry-point connection an `openEntryPointConnection` asks for (rule 6.26).
    pub fn entry_request(&self) -> Option<crate::decision::entry::EntryRequest> {
        let Op::OpenEntryPointConnection {
            from,
            via,
            protocol,
            port,
            host,
            path,
            method,
            headers,
            controller,
            backend,
        } = self
        else {
            return None;
        };
        Some(crate::decision::entry::EntryRequest {
            from: from.clone(),
            via: via.clone(),
            protocol: *protocol,
            port: *port,
            l7: crate::entry::L7 {
                host: host.clone(),
                path: path.clone().unwrap_or_else(|| "/".to_string()),
                method: method.clone(),
                headers: headers.clone(),
            },
            controller: controller.clone(),
            backend: backend.clone(),
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
        allowed: decision.verdict(),
        refusal: decision.refusal.clone(),
        decision: Some(decision),
        ..Opened::default()
    }
}

/// The decisions of the backends one node (if any) translates a connection to.
type NodeDecisions<V> = (Option<String>, BTreeMap<PodId, Decision<V>>);

/// One node a Service connection may be translated on (rules 6.7, 6.13): the endpoints its
/// proxy uses, and whether it masquerades the client to its own address.
struct EntryPlan {
    node: Option<String>,
    local: bool,
    masquerade: bool,
}

/// Rules 6.10, 6.12, 6.13: where a connection sent `via` an address of `svc` is translated,
/// for a client of `kind` on `client_node`.
fn entry_plans(
    state: &State,
    svc: &crate::service::Service,
    via: &Via,
    kind: Kind,
    client_node: Option<&str>,
) -> Result<Vec<EntryPlan>, Refusal> {
    use crate::service::TrafficPolicy;
    let cluster_local = svc.internal_traffic_policy == TrafficPolicy::Local;
    let external_local = svc.external_traffic_policy == TrafficPolicy::Local;
    let plan = |node: Option<&str>| {
        let node_owned = node.map(str::to_string);
        if !external_local {
            // Cluster: every endpoint, and the client is masqueraded to the node's address.
            return EntryPlan {
                node: node_owned,
                local: false,
                masquerade: true,
            };
        }
        match kind {
            // Pods are short-circuited to the cluster-wide endpoints, unmasqueraded.
            Kind::Pod => EntryPlan {
                node: node_owned,
                local: false,
                masquerade: false,
            },
            // A node's own traffic is masqueraded and goes to every endpoint.
            Kind::Node if client_node.is_some() && client_node == node => EntryPlan {
                node: node_owned,
                local: false,
                masquerade: true,
            },
            // Everything else: this node's endpoints only, the client kept.
            _ => EntryPlan {
                node: node_owned,
                local: true,
                masquerade: false,
            },
        }
    };
    Ok(match via {
        Via::ClusterAddress => {
            if kind == Kind::External {
                return Err(Refusal::NotReachableFromOutside);
            }
            vec![EntryPlan {
                node: client_node.map(str::to_string),
                local: cluster_local,
                masquerade: false,
            }]
        }
        Via::NodePort { node, .. } => vec![plan(Some(node))],
        // A pod's or a node's traffic to an external address is translated on its own node.
        Via::ExternalAddress { .. } if kind != Kind::External => vec![plan(client_node)],
        // From outside, the network delivers to a node that can serve it: with `Local`, a node
        // that has an endpoint (the load balancer's health check), with `Cluster` any node.
        Via::ExternalAddress { .. } => {
            let mut nodes: BTreeSet<String> = state.nodes().keys().cloned().collect();
            nodes.extend(state.pods().filter_map(|p| p.node.clone()));
            let plans: Vec<EntryPlan> = nodes.iter().map(|n| plan(Some(n))).collect();
            if plans.is_empty() {
                vec![plan(None)]
            } else {
                plans
            }
        }
    })
}

/// Rule 6.1: decides every possible backend, then takes the chosen one. `pick` is the backend
/// the caller observed; without it, a single backend is taken, and several are only decided
/// unless they all deny. Rules 6.12–6.16: the Service port or node port, the load balancer's
/// source ranges, the nodes that translate the connection with their endpoints, and the
/// source policy sees.
#[allow(clippy::too_many_arguments)]
fn through_service<C: DecisionCore>(
    state: &State,
    core: &C,
    source: Endpoint,
    source_fixed: bool,
    service: &ServiceId,
    via: Via,
    protocol: Protocol,
    port: u16,
    pick: Option<&PodId>,
) -> Result<Opened<C::Verdict>, OpError> {
    use crate::decision::services::Endpoints;
    let svc = state
        .service(service)
        .ok_or_else(|| OpError::not_found("service", service))?;
    let refuse = |refusal: Refusal| -> Result<Opened<C::Verdict>, OpError> {
        match pick {
            Some(p) => Err(not_a_backend(p, service)),
            None => Ok(refused(refusal)),
        }
    };
    // The Service port a node port stands for.
    let service_port = match &via {
        Via::NodePort { .. } => match svc.node_port(protocol, port) {
            Some(p) => p.port,
            None => return refuse(Refusal::NoServicePort),
        },
        _ => port,
    };
    let target = match state.target_port(svc, protocol, service_port) {
        Ok(t) => t,
        Err(r) => return refuse(r),
    };
    if let Via::ExternalAddress {
        load_balancer: true,
    } = via
    {
        let ranges = &svc.load_balancer_source_ranges;
        let admitted = ranges.is_empty()
            || source
                .address()
                .is_some_and(|a| ranges.iter().any(|n| n.contains(&a.ip)));
        if !admitted {
            return refuse(Refusal::SourceRange);
        }
    }
    let kind = state.resolve(&source).facts.kind;
    let client_node = state.node_of(&source).map(str::to_string);
    let plans = match entry_plans(state, svc, &via, kind, client_node.as_deref()) {
        Ok(p) => p,
        Err(r) => return refuse(r),
    };
    let masquerade_visible = state.profile().service_snat == ServiceSnat::Visible;
    // Per node that may translate it: the backends there, each decided.
    let mut per_node: Vec<NodeDecisions<C::Verdict>> = Vec::new();
    let mut last_refusal = Refusal::NoBackends;
    for plan in &plans {
        let endpoints = if plan.local {
            Endpoints::Local {
                node: plan.node.as_deref(),
            }
        } else {
            Endpoints::Cluster {
                near: plan.node.as_deref(),
            }
        };
        let backends = match state.service_endpoints(
            svc,
            &target,
            endpoints,
            source.address(),
            protocol,
            service_port,
        ) {
            Ok(b) => b,
            Err(r) => {
                last_refusal = r;
                continue;
            }
        };
        let mut decided = BTreeMap::new();
        for b in backends {
            let destination = Endpoint::Pod {
                pod: b.pod.clone(),
                address: b.address.clone(),
            };
            // A client named by identity uses its address of the backend's family (rule 3.4);
            // a client named by address keeps it (rules 3.6, 8.5).
            let client = match &source {
                Endpoint::Pod { pod, .. } if !source_fixed => {
                    state.pod_endpoint(pod, b.address.as_ref())?
                }
                other => other.clone(),
            };
            let masqueraded = plan.masquerade && plan.node.is_some();
            let seen = match (&plan.node, masqueraded && masquerade_visible) {
                (Some(node), true) => Endpoint::Node {
                    node: node.clone(),
                    address: state
                        .node_addresses(node)
                        .find(|a| {
                            b.address
                                .as_ref()
                                .is_none_or(|d| d.ip.is_ipv4() == a.ip.is_ipv4())
                        })
                        .or_else(|| state.node_addresses(node).next())
                        .cloned(),
                },
                _ => client.clone(),
            };
            let mut decision = decide(
                state,
                core,
                &seen,
                &destination,
                protocol,
                b.port,
                Some(service),
            );
            decision.arrival = Some(Arrival {
                via: via.clone(),
                service_port,
                client: source.address().map(|a| a.ip),
                node: plan.node.clone(),
                masqueraded_from: (masqueraded && masquerade_visible).then_some(client),
                nodes: Vec::new(),
            });
            decided.insert(b.pod, decision);
        }
        per_node.push((plan.node.clone(), decided));
    }
    if per_node.is_empty() {
        return refuse(last_refusal);
    }
    let decided = fold_nodes(per_node);
    let chosen = match pick {
        Some(p) if decided.contains_key(p) => Some(p.clone()),
        Some(p) => {
            // Rule 6.16: name the affinity that rules the pick out, and where it came from.
            let affinity = svc.session_affinity.and_then(|a| {
                let client = source.address()?.ip;
                let held = state.affinity_of(service, protocol, service_port, client)?;
                Some(format!(
                    ": session affinity (ClientIP, {} s) keeps client {client} on pod {} since connection {}, {} s ago",
                    a.timeout_seconds,
                    held.backend,
                    held.connection,
                    state.clock().saturating_sub(held.last)
                ))
            });
            let mut e = not_a_backend(p, service);
            e.message.push_str(&affinity.unwrap_or_default());
            return Err(e);
        }
        None if decided.len() == 1 => decided.keys().next().cloned(),
        None => None,
    };
    let Some(chosen) = chosen else {
        let all_deny = decided.values().all(Decision::denied);
        return Ok(Opened {
            allowed: all_deny.then_some(false),
            refusal: (!all_deny).then_some(Refusal::BackendNotChosen),
            backends: Some(decided),
            ..Opened::default()
        });
    };
    let decision = decided[&chosen].clone();
    Ok(Opened {
        allowed: decision.verdict(),
        connection: None,
        refusal: decision.refusal.clone(),
        decision: Some(decision),
        backends: Some(decided),
        backend: Some(chosen),
    })
}

/// Rule 6.13: one decision per backend from the decisions on each node that may translate the
/// connection — allowed only if allowed through every such node, undetermined where they
/// differ, with each node's verdict kept for explanations.
fn fold_nodes<V: Clone>(per_node: Vec<NodeDecisions<V>>) -> BTreeMap<PodId, Decision<V>> {
    if per_node.len() == 1 {
        return per_node
            .into_iter()
            .next()
            .map(|(_, d)| d)
            .unwrap_or_default();
    }
    let mut out: BTreeMap<PodId, Decision<V>> = BTreeMap::new();
    for (node, decided) in per_node {
        for (pod, d) in decided {
            let allowed = d.refusal.is_none() && d.allowed;
            let via_node = (node.clone().unwrap_or_default(), allowed);
            match out.get_mut(&pod) {
                None => {
                    let mut d = d;
                    if let Some(a) = d.arrival.as_mut() {
                        a.nodes.push(via_node);
                    }
                    out.insert(pod, d);
                }
                Some(first) => {
                    let outcome = if d.refusal.is_some() {
                        Outcome::DENY
                    } else {
                        d.outcome
                    };
                    first.outcome = first.outcome.or(outcome);
                    first.allowed = first.allowed && allowed;
                    if let Some(a) = first.arrival.as_mut() {
                        a.nodes.push(via_node);
                    }
                }
            }
        }
    }
    out
}

fn not_a_backend(pod: &PodId, service: &ServiceId) -> OpError {
    OpError::new(
        ErrorKind::NotABackend,
        format!("pod {pod} is not a possible backend of service {service}"),
    )
}
