//! The model as a trace engine: every corpus trace runs on it as on spec and the oracle.
//!
//! The model checks *enforcement*: per-pod filters, the service mapper, the node proxies and
//! the connection trackers, with the control plane settled. So a connection operation between
//! pods, or to an address a node's proxy translates, is run through the pipeline — a one-attempt universe of the current cluster, model-checked over
//! every interleaving and every pick of the service mapper, with every property checked — and
//! its observation is what the pipeline delivered. Under `established: recheck`, a change to
//! the cluster is judged by the connection trackers' own re-check. Everything else is applied
//! by the control plane (spec's state) to stay in step, and declared a skip with its reason, as
//! rust-lang/regex's engines declare what they do not support.

use crate::pipeline::{Event, Flow};
use crate::properties::violation;
use crate::universe::Attempt;
use crate::{model, Fault, Universe};
use netsem_spec::decision::connect::{self, Source};
use netsem_spec::decision::resolve::no_route;
use netsem_spec::decision::{Refusal, SpecCore, Via};
use netsem_spec::engine::{self, Engine};
use netsem_spec::profile::Established;
use netsem_spec::{
    AddressOwner, Endpoint, ErrorKind, Observation, Op, PodId, Profile, Protocol, ServiceId, State,
};
use stateright::{Checker, Model};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Why the model does not judge an operation.
pub mod skips {
    /// A lookup of a mapping.
    pub const LOOKUP: &str = "a lookup: mappings are control-plane state, the pipeline has none";
    /// One of the four one-direction primitives.
    pub const FILTER: &str = "a one-direction filter: the pipeline's filters are this primitive itself, nothing of the model's own to judge";
    /// A change to the cluster without connections to re-check.
    pub const CONTROL_PLANE: &str =
        "a change to the cluster: applied by the control plane (spec's state)";
    /// A change under `established: recheck` while a connection without trackers is open.
    pub const UNTRACKED: &str = "a change to the cluster while a connection the pipeline does not track is open (an end that is a node or the outside, or an address other than a pod's primary one): only pods have connection trackers, on their primary addresses";
    /// A connection the control plane refuses before any packet.
    pub const REJECTED: &str =
        "the operation fails before any packet: the control plane (spec's state) rejects it";
    /// A connection with an end that is not a pod.
    pub const NOT_A_POD: &str =
        "an end is a node or the outside world: only pods have a pipeline in the model";
    /// A connection on addresses other than the pods' primary ones.
    pub const NOT_PRIMARY: &str =
        "the connection uses an address the pipeline does not send from or to (it uses each pod's primary address)";
    /// A Service connection from a pod that does not run.
    pub const SILENT_CLIENT: &str = "the client is not running: its application sends nothing, so the model sees no service mapper pick";
    /// A node port or an external Service address (rules 6.12, 6.13).
    pub const EXTERNAL_ENTRY: &str = "a node port or an external Service address: translated (and perhaps masqueraded) by a node's proxy, which the model has no actor for";
    /// A decision tied admin policies leave open (rule 11.6).
    pub const TIED: &str = "tied admin policies leave the verdict to the implementation: a pipeline enforces one choice, where the semantics admits either";
    /// A connection through an Ingress or a Gateway (rules 6.19-6.26).
    pub const ENTRY_POINT: &str = "a connection through an entry point: the route is L7 and the controller is an actor the model has none of; both legs are decided by the shared primitives (the controller's leg is the pod connection openPodConnection judges)";
    /// A pod on no node, in a cluster with nodes, reaching an address a proxy translates.
    pub const NO_NODE: &str = "the client pod runs on no node (in a cluster with nodes), so no node's proxy translates what it sends to a node port, an external or a Service-CIDR address";
    /// Routing between networks: type 2, or a primary user-defined network.
    pub const ROUTING: &str = "the two pods are on different networks with no route between them (multi-network type 2, or a primary user-defined network): routing between networks is not modeled";
}

/// What the model observed of one connection attempt, over every run.
#[derive(Default)]
struct Outcomes {
    /// Backends the mapper picked in some run, and whether a connection to it was established.
    picked: BTreeMap<usize, bool>,
    /// Some run established the connection.
    established: bool,
    /// Through a node's proxy: per (node, backend) picked, whether it was established.
    proxied: BTreeMap<(usize, usize), bool>,
    /// Per (node, backend): the source the backend's filter saw and the target port.
    seen: BTreeMap<(usize, usize), (Endpoint, u16)>,
    /// The Service port a proxy translated to.
    service_port: Option<u16>,
    /// Per node: why its proxy refused the connection.
    refused: BTreeMap<usize, String>,
}

/// The model as an [`Engine`].
#[derive(Clone, Debug)]
pub struct ModelEngine {
    /// The control plane: the cluster as spec's state keeps it.
    state: State,
    fault: Fault,
    last_fault: Option<String>,
}

impl ModelEngine {
    /// An empty cluster under `profile`, with the pipeline as the source design describes it.
    pub fn new(profile: Profile) -> Self {
        Self::with_fault(profile, Fault::None)
    }

    /// An empty cluster under `profile`, with a deliberately broken pipeline.
    pub fn with_fault(profile: Profile, fault: Fault) -> Self {
        ModelEngine {
            state: State::new(profile),
            fault,
            last_fault: None,
        }
    }

    /// The control plane's state.
    pub fn state(&self) -> &State {
        &self.state
    }

    fn profile(&self) -> Profile {
        *self.state.profile()
    }

    /// The connection an operation asks the pipeline for, or why it is not the model's.
    fn connection(&self, op: &Op) -> Result<Connection, &'static str> {
        let s = &self.state;
        let connect::Request {
            source,
            target,
            protocol,
            port,
            pick,
        } = op
            .request()
            .expect("only connection operations go through the pipeline");
        // Errors (an unknown pod, a Service address as source, …) come before any packet.
        let Ok(opened) = connect::attempt(s, &SpecCore, &source, &target, protocol, port, None)
        else {
            return Err(skips::REJECTED);
        };
        let tied = opened.decision.iter().any(|d| d.undetermined())
            || opened
                .backends
                .iter()
                .flat_map(|b| b.values())
                .any(|d| d.undetermined());
        if tied {
            return Err(skips::TIED);
        }
        // Node ports, external Service addresses, cluster addresses reached from a host and
        // unallocated Service-CIDR addresses: a node's proxy (rules 6.10, 6.12–6.14, 6.17).
        if let connect::Target::Address(a) = &target {
            let entry = match s.addresses().get(a) {
                Some(AddressOwner::Service { service, external }) => {
                    let from_pod = match &source {
                        Source::Pod(_) => true,
                        Source::Address(b) => {
                            matches!(s.addresses().get(b), Some(AddressOwner::Pod { .. }))
                        }
                    };
                    (*external || !from_pod).then(|| Some(service.clone()))
                }
                Some(AddressOwner::Node { .. }) => s
                    .node_port_service(protocol, port)
                    .map(|svc| Some(svc.id.clone())),
                None if s.in_service_cidr(a.ip) => Some(None),
                _ => None,
            };
            if let Some(service) = entry {
                return self.proxied_connection(&opened, &source, a, service, protocol, port, pick);
            }
        }
        let external_entry = opened
            .decision
            .iter()
            .chain(opened.backends.iter().flat_map(|b| b.values()))
            .filter_map(|d| d.arrival.as_ref())
            .any(|a| a.via != Via::ClusterAddress || a.masqueraded_from.is_some());
        let node_port = matches!(&target, connect::Target::Address(a)
            if matches!(s.addresses().get(a), Some(AddressOwner::Node { .. }))
                && s.node_port_service(protocol, port).is_some());
        // loadBalancerSourceRanges are enforced by the node's proxy too (rule 6.14).
        let source_range = opened.refusal == Some(Refusal::SourceRange);
        if external_entry || node_port || source_range {
            return Err(skips::EXTERNAL_ENTRY);
        }
        let refused = opened
            .refusal
            .as_ref()
            .filter(|r| **r != Refusal::BackendNotChosen)
            .map(|r| r.name().to_string());
        let from = match &source {
            Source::Pod(p) => p.clone(),
            Source::Address(a) => match s.addresses().get(a) {
                Some(AddressOwner::Pod { pod, .. }) => {
                    if s.primary_addresses(pod).as_slice() != [a] {
                        return Err(skips::NOT_PRIMARY);
                    }
                    pod.clone()
                }
                _ => return Err(skips::NOT_A_POD),
            },
        };
        let to = match &target {
            connect::Target::Pod(p) => Dest::Pod(p.clone()),
            connect::Target::Service(svc) => Dest::Service(svc.clone()),
            connect::Target::Address(a) => match s.addresses().get(a) {
                Some(AddressOwner::Service { service, .. }) => Dest::Service(service.clone()),
                Some(AddressOwner::Pod { pod, .. }) => {
                    let (src, dst) = s.pod_pair(&from, pod).map_err(|_| skips::REJECTED)?;
                    let given = match &source {
                        Source::Address(b) => Some(b),
                        Source::Pod(_) => None,
                    };
                    if dst.address() != Some(a) || src.address() != given {
                        return Err(skips::NOT_PRIMARY);
                    }
                    Dest::Pod(pod.clone())
                }
                _ => return Err(skips::NOT_A_POD),
            },
        };
        // Routing between networks (rules 8.6, 8.11) is the control plane's, not the pipeline's.
        let routed = |src: &Endpoint, dst: &Endpoint| {
            !no_route(s.profile(), &s.resolve(src).facts, &s.resolve(dst).facts)
        };
        if let Dest::Pod(to) = &to {
            let (src, dst) = s.pod_pair(&from, to).map_err(|_| skips::REJECTED)?;
            if !routed(&src, &dst) {
                return Err(skips::ROUTING);
            }
        }
        let mut actors = vec![from.clone()];
        match &to {
            Dest::Pod(p) => actors.push(p.clone()),
            Dest::Service(_) if !s.pod(&from).is_some_and(|p| p.is_live()) => {
                return Err(skips::SILENT_CLIENT)
            }
            Dest::Service(svc) => {
                let service = s.service(svc).ok_or(skips::REJECTED)?;
                let node = s.pod(&from).and_then(|p| p.node.as_deref());
                let client = s.pod_endpoint(&from, None).map_err(|_| skips::REJECTED)?;
                for b in s
                    .service_backends(service, node, client.address(), protocol, port)
                    .unwrap_or_default()
                {
                    let backend = Endpoint::Pod {
                        pod: b.pod.clone(),
                        address: b.address.clone(),
                    };
                    let from_end = s
                        .pod_endpoint(&from, b.address.as_ref())
                        .map_err(|_| skips::REJECTED)?;
                    if !routed(&from_end, &backend) {
                        return Err(skips::ROUTING);
                    }
                    if s.pod_endpoint(&b.pod, b.address.as_ref())
                        .ok()
                        .and_then(|e| e.address().cloned())
                        != b.address
                        || s.primary_addresses(&b.pod).len() != 1
                    {
                        return Err(skips::NOT_PRIMARY);
                    }
                    actors.push(b.pod);
                }
                // The mapper's endpoint choice is the model's own: every other pod of the
                // Service it could pick is an actor too (on a distinct primary address).
                let taken: BTreeSet<std::net::IpAddr> = actors
                    .iter()
                    .filter_map(|p| s.primary_addresses(p).first().map(|a| a.ip))
                    .collect();
                endpoint_actors(s, svc, &mut actors, taken)?;
            }
            Dest::Proxied(_) => unreachable!("proxied connections are built apart"),
        }
        actors.sort();
        actors.dedup();
        let universe_target = match &to {
            Dest::Pod(p) => UniverseTarget::Pod(actors.iter().position(|a| a == p).unwrap()),
            Dest::Service(svc) => UniverseTarget::Service(svc.clone()),
            Dest::Proxied(_) => unreachable!("proxied connections are built apart"),
        };
        let universe = Universe::settled(
            self.profile(),
            s.clone(),
            actors.clone(),
            match &universe_target {
                UniverseTarget::Service(svc) => Some(svc.clone()),
                UniverseTarget::Pod(_) => None,
            },
            vec![Attempt {
                id: 1,
                from: crate::universe::Client::Pod(actors.iter().position(|a| *a == from).unwrap()),
                to: match universe_target {
                    UniverseTarget::Pod(i) => crate::universe::Target::Pod(i),
                    UniverseTarget::Service(_) => crate::universe::Target::Service,
                },
                protocol,
                port,
                spoof_as: None,
            }],
            self.fault,
        )?;
        Ok(Connection {
            universe,
            to,
            protocol,
            port,
            pick,
            refused,
        })
    }

    /// A connection to an address a node's proxy translates: a universe of the client (a pod,
    /// or a host), every pod of the Service, and every node's proxy.
    #[allow(clippy::too_many_arguments)]
    fn proxied_connection(
        &self,
        opened: &netsem_spec::decision::Opened,
        source: &Source,
        to: &netsem_spec::Address,
        service: Option<ServiceId>,
        protocol: Protocol,
        port: u16,
        pick: Option<PodId>,
    ) -> Result<Connection, &'static str> {
        use crate::universe::{Client, Target};
        let s = &self.state;
        let default = |a: &netsem_spec::Address| a.domain == netsem_spec::net::DEFAULT_DOMAIN;
        if !default(to) {
            return Err(skips::NOT_PRIMARY);
        }
        // The client: a pod on its primary address, or a host.
        let (client_pod, host) = match source {
            Source::Pod(p) => (Some(p.clone()), None),
            Source::Address(a) if !default(a) => return Err(skips::NOT_PRIMARY),
            Source::Address(a) => match s.addresses().get(a) {
                Some(AddressOwner::Pod { pod, .. }) => {
                    if s.primary_addresses(pod).as_slice() != [a] {
                        return Err(skips::NOT_PRIMARY);
                    }
                    (Some(pod.clone()), None)
                }
                _ => (None, Some(a.ip)),
            },
        };
        let no_nodes = s.nodes().is_empty() && s.pods().all(|p| p.node.is_none());
        if let Some(p) = &client_pod {
            if !no_nodes && s.pod(p).and_then(|p| p.node.as_ref()).is_none() {
                return Err(skips::NO_NODE);
            }
            if !s.pod(p).is_some_and(|p| p.is_live()) {
                return Err(skips::SILENT_CLIENT);
            }
        }
        let decisions: Vec<&netsem_spec::decision::Decision> = opened
            .decision
            .iter()
            .chain(opened.backends.iter().flat_map(|b| b.values()))
            .collect();
        if decisions
            .iter()
            .any(|d| d.refusal == Some(Refusal::NoRoute))
        {
            return Err(skips::ROUTING);
        }
        // Every backend spec has must be a pod the pipeline reaches on its primary address.
        for d in &decisions {
            let Some(b) = d.destination.pod() else {
                return Err(skips::NOT_A_POD);
            };
            if s.pod_endpoint(b, d.destination.address())
                .ok()
                .and_then(|e| e.address().cloned())
                .as_ref()
                != d.destination.address()
                || s.primary_addresses(b).len() != 1
            {
                return Err(skips::NOT_PRIMARY);
            }
        }
        let spec_backends: BTreeSet<PodId> = decisions
            .iter()
            .filter_map(|d| d.destination.pod().cloned())
            .collect();
        // The actors: the client pod, spec's backends, and every other pod of the Service the
        // proxy could pick (on a distinct primary address).
        let mut actors: Vec<PodId> = client_pod.iter().cloned().collect();
        actors.extend(spec_backends.iter().cloned());
        let mut taken: BTreeSet<std::net::IpAddr> = actors
            .iter()
            .filter_map(|p| s.primary_addresses(p).first().map(|a| a.ip))
            .collect();
        taken.extend(host);
        if let Some(svc) = &service {
            endpoint_actors(s, svc, &mut actors, taken)?;
        }
        actors.sort();
        actors.dedup();
        let from = match (&client_pod, host) {
            (Some(p), _) => Client::Pod(actors.iter().position(|a| a == p).unwrap_or(0)),
            _ => Client::Host(0),
        };
        let universe = Universe::settled(
            self.profile(),
            s.clone(),
            actors,
            service.clone(),
            vec![Attempt {
                id: 1,
                from,
                to: Target::Address(to.ip),
                protocol,
                port,
                spoof_as: None,
            }],
            self.fault,
        )?
        .with_hosts(host.into_iter().collect());
        Ok(Connection {
            universe,
            to: Dest::Proxied(service),
            protocol,
            port,
            pick,
            refused: None,
        })
    }

    /// Runs one attempt through the pipeline: every interleaving and every pick, every
    /// property checked.
    fn run(&mut self, c: Connection) -> Observation {
        let outcomes = Arc::new(Mutex::new(Outcomes::default()));
        let seen = outcomes.clone();
        let client_actor = usize::from(crate::pipeline::client_actor(
            &c.universe,
            c.universe.attempts[0].from,
        ));
        let checker = model(c.universe.clone())
            .checker()
            .visitor(move |path: stateright::Path<_, _>| {
                let state: &crate::properties::PipelineState = path.last_state();
                let Some(client) = state
                    .actor_states
                    .get(client_actor)
                    .and_then(|a| a.events())
                else {
                    return;
                };
                let mut o = seen.lock().expect("no visitor panics");
                let established = client
                    .iter()
                    .any(|e| matches!(e, Event::Established { .. }));
                o.established |= established;
                for e in client {
                    if let Event::Picked { backend, .. } = e {
                        *o.picked.entry(*backend).or_default() |= established;
                    }
                }
                for e in state
                    .actor_states
                    .iter()
                    .filter_map(|a| a.events())
                    .flatten()
                {
                    match e {
                        Event::ProxyPicked {
                            node,
                            backend,
                            service_port,
                            ..
                        } => {
                            *o.proxied.entry((*node, *backend)).or_default() |= established;
                            o.service_port = Some(*service_port);
                        }
                        Event::ProxyRefused { node, refusal, .. } => {
                            o.refused.insert(*node, refusal.clone());
                        }
                        _ => {}
                    }
                }
                for (i, a) in state.actor_states.iter().enumerate() {
                    let Some(events) = a.events() else { continue };
                    for e in events {
                        if let Event::ProxiedIngress {
                            node, seen, port, ..
                        } = e
                        {
                            o.seen.insert((*node, i - 1), (seen.clone(), *port));
                        }
                    }
                }
            })
            .spawn_bfs()
            .join();
        self.last_fault = checker.model().properties().iter().find_map(|p| {
            if !matches!(p.expectation, stateright::Expectation::Always) {
                return None;
            }
            let path = checker.discovery(p.name)?;
            Some(format!(
                "model property `{}` fails: {:?}",
                p.name,
                violation(&c.universe, path.last_state())
            ))
        });
        let o = outcomes.lock().expect("the checker has finished");
        let u = &c.universe;
        let pod = |i: usize| u.pods[i].clone();
        if let Dest::Proxied(service) = &c.to {
            return self.observe_proxied(&c, &o, service.as_ref());
        }
        let crate::universe::Client::Pod(client) = u.attempts[0].from else {
            return Observation::default();
        };
        let client_index = client;
        let client = u.pods[client].clone();
        match &c.to {
            Dest::Proxied(_) => unreachable!("observed above"),
            Dest::Pod(to) => {
                let connection = o
                    .established
                    .then(|| self.record(&client, to, c.port, None, c.protocol));
                Observation {
                    allowed: Some(o.established),
                    refused: (!o.established).then(|| c.refused.clone()).flatten(),
                    connection,
                    ..Observation::default()
                }
            }
            Dest::Service(service) => {
                let backends: BTreeSet<PodId> = o.picked.keys().map(|&i| pod(i)).collect();
                let allowed_backends: BTreeSet<PodId> = o
                    .picked
                    .iter()
                    .filter(|(_, ok)| **ok)
                    .map(|(&i, _)| pod(i))
                    .collect();
                let chosen = match &c.pick {
                    Some(p) if backends.contains(p) => Some(p.clone()),
                    Some(_) => return Observation::error(ErrorKind::NotABackend),
                    None if backends.len() == 1 => backends.iter().next().cloned(),
                    None => None,
                };
                let Some(chosen) = chosen else {
                    return Observation {
                        allowed: allowed_backends.is_empty().then_some(false),
                        refused: c.refused.clone(),
                        backends: Some(backends),
                        allowed_backends: Some(allowed_backends),
                        ..Observation::default()
                    };
                };
                let ok = allowed_backends.contains(&chosen);
                let port = u
                    .backends(0, client_index)
                    .into_iter()
                    .find(|(b, _)| u.pods[*b] == chosen)
                    .map_or(c.port, |(_, p)| p);
                let connection =
                    ok.then(|| self.record(&client, &chosen, port, Some(service), c.protocol));
                // Rule 6.16: the control plane's affinity follows the connection the pipeline
                // established.
                let address = self
                    .state
                    .pod_endpoint(&client, None)
                    .ok()
                    .and_then(|e| e.address().map(|a| a.ip));
                if let (Some(id), Some(ip)) = (connection, address) {
                    self.note_affinity(ip, service, c.protocol, c.port, &chosen, id);
                }
                Observation {
                    allowed: Some(ok),
                    refused: (!ok).then(|| c.refused.clone()).flatten(),
                    connection,
                    backend: Some(chosen),
                    backends: Some(backends),
                    allowed_backends: Some(allowed_backends),
                    ..Observation::default()
                }
            }
        }
    }

    /// The connection table entry of an established connection: the pods on the addresses the
    /// pipeline used (rule 3.4), through `service` when the mapper translated it.
    fn record(
        &mut self,
        from: &PodId,
        to: &PodId,
        port: u16,
        service: Option<&ServiceId>,
        protocol: Protocol,
    ) -> u64 {
        let (s, d) = self
            .state
            .pod_pair(from, to)
            .expect("the pods of an established connection exist");
        self.state
            .new_connection(s, d, protocol, port, service.cloned())
    }

    /// What the model observed of a connection through a node's proxy: the backends its
    /// proxies picked, each allowed only if established through every node that picked it
    /// (rule 6.13), the proxies' own refusal when none picked, the connection on the source
    /// the backend's filter saw.
    fn observe_proxied(
        &mut self,
        c: &Connection,
        o: &Outcomes,
        service: Option<&ServiceId>,
    ) -> Observation {
        let u = &c.universe;
        let mut backends: BTreeMap<usize, bool> = BTreeMap::new();
        for (&(_, b), &ok) in &o.proxied {
            let e = backends.entry(b).or_insert(true);
            *e &= ok;
        }
        let names: BTreeSet<PodId> = backends.keys().map(|&b| u.pods[b].clone()).collect();
        let allowed_backends: BTreeSet<PodId> = backends
            .iter()
            .filter(|(_, ok)| **ok)
            .map(|(&b, _)| u.pods[b].clone())
            .collect();
        let refused = o.refused.values().next_back().cloned();
        let chosen = match &c.pick {
            Some(p) if names.contains(p) => Some(p.clone()),
            Some(_) => return Observation::error(ErrorKind::NotABackend),
            None if names.len() == 1 => names.iter().next().cloned(),
            None => None,
        };
        let Some(chosen) = chosen else {
            let none = names.is_empty();
            return Observation {
                allowed: allowed_backends.is_empty().then_some(false),
                refused: none.then_some(refused).flatten(),
                backends: Some(names),
                allowed_backends: Some(allowed_backends),
                ..Observation::default()
            };
        };
        let index = u.pods.iter().position(|p| *p == chosen).expect("an actor");
        let ok = allowed_backends.contains(&chosen);
        let connection = match (ok, service) {
            (true, Some(svc)) => {
                o.seen
                    .iter()
                    .find(|((_, b), _)| *b == index)
                    .and_then(|(_, (seen, port))| {
                        let dst = self.state.pod_endpoint(&chosen, seen.address()).ok()?;
                        Some(self.state.new_connection(
                            seen.clone(),
                            dst,
                            c.protocol,
                            *port,
                            Some(svc.clone()),
                        ))
                    })
            }
            _ => None,
        };
        let client = u.client_address(u.attempts[0].from);
        if let (Some(id), Some(svc), Some(port)) = (connection, service, o.service_port) {
            self.note_affinity(client, svc, c.protocol, port, &chosen, id);
        }
        Observation {
            allowed: Some(ok),
            connection,
            backend: Some(chosen),
            backends: Some(names),
            allowed_backends: Some(allowed_backends),
            ..Observation::default()
        }
    }

    /// Rule 6.16: a connection through a Service with session affinity sets the client's.
    fn note_affinity(
        &mut self,
        ip: std::net::IpAddr,
        service: &ServiceId,
        protocol: Protocol,
        port: u16,
        backend: &PodId,
        connection: u64,
    ) {
        let affine = self
            .state
            .service(service)
            .is_some_and(|s| s.session_affinity.is_some());
        if affine {
            self.state.record_affinity(
                netsem_spec::decision::services::AffinityKey {
                    service: service.clone(),
                    protocol,
                    port,
                    client: ip,
                },
                backend.clone(),
                connection,
            );
        }
    }

    /// Whether every open connection has a tracker at both ends: both ends are pods, on the
    /// primary addresses the pipeline sends from and to (a connection the control plane opened
    /// on a secondary attachment is decided on that attachment's network, rule 8.7, which the
    /// trackers, re-checking on the pods' primary addresses, do not see).
    fn all_tracked(&self) -> bool {
        let s = &self.state;
        s.connections().values().all(|c| {
            let (Some(from), Some(to)) = (c.source.pod(), c.destination.pod()) else {
                return false;
            };
            s.pod_pair(from, to).is_ok_and(|(src, dst)| {
                src.address() == c.source.address() && dst.address() == c.destination.address()
            })
        })
    }

    /// Rule 7.4, as the connection trackers do it: after a change, each tracker re-checks its
    /// connections on the new view; a connection either end cuts is closed.
    fn trackers_recheck(&mut self) -> Vec<u64> {
        let view = &self.state;
        let cut: Vec<u64> = view
            .connections()
            .values()
            .filter(|c| {
                let (Some(from), Some(to)) = (c.source.pod(), c.destination.pod()) else {
                    return false;
                };
                let flow = Flow {
                    from,
                    to,
                    protocol: c.protocol,
                    port: c.port,
                    service: c.service.as_ref(),
                    ends: Some((&c.source, &c.destination)),
                    fault: self.fault,
                };
                ![true, false]
                    .iter()
                    .all(|&outbound| flow.still_tracked(view, outbound))
            })
            .map(|c| c.id)
            .collect();
        for id in &cut {
            let _ = self.state.delete_connection(*id);
        }
        cut
    }
}

/// Where the attempt goes, by identity.
enum Dest {
    Pod(PodId),
    Service(ServiceId),
    /// An address a node's proxy translates, for this Service (none: an unallocated
    /// Service-CIDR address).
    Proxied(Option<ServiceId>),
}

enum UniverseTarget {
    Pod(usize),
    Service(ServiceId),
}

/// A connection operation ready for the pipeline.
struct Connection {
    universe: Universe,
    to: Dest,
    protocol: Protocol,
    port: u16,
    pick: Option<PodId>,
    /// Why the control plane refuses it before policy, if it does (rule 6.18).
    refused: Option<String>,
}

impl Engine for ModelEngine {
    fn name(&self) -> &str {
        "model"
    }

    fn skip_reason(&self, op: &Op) -> Option<&'static str> {
        match op {
            Op::OpenPodConnection { .. }
            | Op::OpenServiceConnection { .. }
            | Op::OpenConnectionWithIpAddresses { .. } => self.connection(op).err(),
            Op::AllowNewConnectionToPod { .. }
            | Op::AllowNewConnectionFromPod { .. }
            | Op::AllowNewConnectionFromIpAddress { .. }
            | Op::AllowNewConnectionToIpAddress { .. } => Some(skips::FILTER),
            Op::LookupPod2ServiceMappings { .. }
            | Op::LookupService2PodMappings { .. }
            | Op::LookupPod2AddressMappings { .. }
            | Op::LookupAddress2PodMapping { .. }
            | Op::LookupService2AddressMappings { .. }
            | Op::LookupAddress2ServiceMapping { .. } => Some(skips::LOOKUP),
            Op::OpenEntryPointConnection { .. } => Some(skips::ENTRY_POINT),
            // The connection table is the trackers' own.
            Op::ClosePodConnection { .. } => None,
            _ if self.profile().established == Established::Recheck
                && !self.state.connections().is_empty() =>
            {
                (!self.all_tracked()).then_some(skips::UNTRACKED)
            }
            _ => Some(skips::CONTROL_PLANE),
        }
    }

    fn execute(&mut self, op: &Op) -> Observation {
        self.last_fault = None;
        match op {
            Op::OpenPodConnection { .. }
            | Op::OpenServiceConnection { .. }
            | Op::OpenConnectionWithIpAddresses { .. } => match self.connection(op) {
                Ok(c) => self.run(c),
                // Not the model's: the control plane answers, to stay in step.
                Err(_) => engine::execute(&mut self.state, &mut SpecCore, op),
            },
            _ if op.changes_cluster() => {
                let profile = self.profile();
                let recheck = profile.established == Established::Recheck;
                let tracked = self.all_tracked();
                // The control plane applies the change; the trackers re-check (below), not it.
                self.state.set_profile(Profile {
                    established: Established::Keep,
                    ..profile
                });
                let mut observed = engine::execute(&mut self.state, &mut SpecCore, op);
                self.state.set_profile(profile);
                if recheck && observed.error.is_none() {
                    let cut = if tracked {
                        self.trackers_recheck()
                    } else {
                        self.state.recheck()
                    };
                    observed.add_closed(cut);
                }
                observed
            }
            _ => engine::execute(&mut self.state, &mut SpecCore, op),
        }
    }

    fn fault(&mut self) -> Option<String> {
        self.last_fault.take()
    }
}

/// Adds to `actors` every other pod of `service` a mapper or proxy could pick (rules 6.5, 6.7,
/// 6.13), each on its own address (`taken` holds those already in use). A live one the pipeline cannot send to on a
/// distinct default-domain address skips the connection: left out, it would change the
/// refusal the model reaches (`no-backends` for `no-local-endpoints`), not only the picks.
fn endpoint_actors(
    s: &State,
    service: &ServiceId,
    actors: &mut Vec<PodId>,
    mut taken: BTreeSet<std::net::IpAddr>,
) -> Result<(), &'static str> {
    for p in s.lookup_service_2_pod_mappings(service).unwrap_or_default() {
        if actors.contains(&p) {
            continue;
        }
        let primary = s.primary_addresses(&p);
        let address = s
            .pod_endpoint(&p, None)
            .ok()
            .and_then(|e| e.address().cloned());
        let representable = primary
            .iter()
            .all(|a| a.domain == netsem_spec::net::DEFAULT_DOMAIN)
            && address
                .as_ref()
                .is_some_and(|a| a.domain == netsem_spec::net::DEFAULT_DOMAIN);
        match &address {
            Some(a) if representable && taken.insert(a.ip) => actors.push(p),
            _ if s.pod(&p).is_some_and(|pod| pod.is_live()) && address.is_some() => {
                return Err(skips::NOT_PRIMARY)
            }
            _ => {}
        }
    }
    Ok(())
}
