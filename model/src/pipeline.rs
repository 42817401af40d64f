//! The actors: a control plane that applies operations and pushes new versions, one actor
//! per pod running the source design's "Simple POD Network Policy reference model": sanity
//! filter, service mapper, egress policy filter, connection tracker, ingress policy filter,
//! and the pod's application that opens connections and answers them; one **node proxy** per
//! node, translating what arrives on node ports, external and load-balancer addresses (see
//! [`crate::proxy`]); and hosts, clients that are not pods (a node's own stack, the outside).
//!
//! Filters ask `netsem-spec` about their own view (a control-plane version that may be stale);
//! how packets flow through the pipeline, and how views are updated, is the model's own.

use crate::proxy;
use crate::universe::{Client, Fault, Target, Universe, EPHEMERAL_PORT};
use netsem_spec::admin::Action;
use netsem_spec::decision::{connect, DirectionVerdict, SpecCore, TierDecision};
use netsem_spec::policy::PolicyType;
use netsem_spec::profile::Established;
use netsem_spec::{Endpoint, PodId, Protocol, ServiceId, State};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

/// Messages: control-plane updates and packets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// The control plane's state is now `version`.
    Update {
        /// The new version.
        version: u32,
    },
    /// The first packet of a new connection.
    Syn {
        /// The attempt it belongs to.
        attempt: u32,
        /// Source address as written in the packet.
        src: IpAddr,
        /// Destination port (after service translation).
        port: u16,
        /// The view the source's egress filter decided with.
        egress_view: u32,
        /// Whether the service mapper translated it (the translation travels with the
        /// connection, as a conntrack NAT entry does).
        via: bool,
        /// Set when a node's proxy translated it: the source the backend's policy sees.
        proxied: Option<Proxied>,
    },
    /// A new connection to an address a node's proxy translates, from the client (attempt
    /// `attempt` says from whom, to what).
    Entry {
        /// The attempt.
        attempt: u32,
    },
    /// A proxy hands a pod client its translation (the short-circuit of rule 6.13): the pod's
    /// egress filter decides on the backend, then the pod sends the connection there.
    Translated {
        /// The attempt.
        attempt: u32,
        /// The backend pod (index).
        backend: usize,
        /// The target port.
        port: u16,
        /// The proxy's translation.
        proxied: Proxied,
    },
    /// A reply on an established connection.
    Reply {
        /// The attempt it belongs to.
        attempt: u32,
    },
}

/// How a node's proxy translated a connection (it travels with the connection, as a conntrack
/// NAT entry does).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Proxied {
    /// The node (index into the universe's nodes) whose proxy translated it.
    pub node: usize,
    /// The proxy's view.
    pub view: u32,
    /// The Service.
    pub service: ServiceId,
    /// The source the backend's policy sees (rules 6.13, 7.10).
    pub seen: Endpoint,
    /// Whether the proxy masqueraded the client to the node's address.
    pub masquerade: bool,
}

/// A nondeterministic choice: a service mapper's (or a proxy's) pick of backend, or which node
/// the network delivers a host's packet to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Choice {
    /// A backend.
    Pick(Pick),
    /// The node (index) that receives attempt `attempt`.
    Route {
        /// The attempt.
        attempt: u32,
        /// The node.
        node: usize,
    },
}

/// Timers: the control plane's next operation, a pod application's next attempt.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// Apply the next control-plane operation.
    ApplyNext,
    /// Make the next connection attempt.
    NextAttempt,
}

/// The service mapper's choice of backend for an attempt.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pick {
    /// The attempt.
    pub attempt: u32,
    /// The backend pod (index) and its target port.
    pub backend: usize,
    /// The target port.
    pub port: u16,
}

/// A connection-tracker entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tracked {
    /// The attempt.
    pub attempt: u32,
    /// Whether this pod opened it (egress) or accepted it (ingress).
    pub outbound: bool,
    /// The other pod (index).
    pub peer: usize,
    /// The destination port.
    pub port: u16,
    /// The ends as the filters judged them, for a connection a node's proxy translated.
    pub ends: Option<(Endpoint, Endpoint)>,
}

/// What happened at a pod; the properties read these. (Fields are named by the variant's
/// sentence: `attempt` ids, pod indexes, control-plane versions.)
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Event {
    /// The sanity filter dropped a packet with a forged source address.
    SanityDrop { attempt: u32 },
    /// A packet with a forged source address was sent.
    Spoofed { attempt: u32 },
    /// The service mapper had no backend.
    NoBackend { attempt: u32, view: u32 },
    /// The service mapper picked a backend, from its view of `view`; `seq` numbers the
    /// mapper's picks for a Service with session affinity.
    Picked {
        attempt: u32,
        backend: usize,
        view: u32,
        seq: Option<u32>,
    },
    /// A node's proxy picked a backend for a client address and Service port.
    ProxyPicked {
        attempt: u32,
        node: usize,
        client: IpAddr,
        service_port: u16,
        backend: usize,
        view: u32,
        masquerade: bool,
        seq: Option<u32>,
    },
    /// A node's proxy refused (dropped or rejected) a new connection.
    ProxyRefused {
        attempt: u32,
        node: usize,
        view: u32,
        refusal: String,
    },
    /// A backend's ingress filter decided a connection a node's proxy translated, seeing
    /// `seen`; `egress_view` is the client pod's, when its egress filter decided.
    ProxiedIngress {
        attempt: u32,
        node: usize,
        seen: Endpoint,
        port: u16,
        egress_view: Option<u32>,
        proxy_view: u32,
        view: u32,
        allowed: bool,
    },
    /// The egress filter decided, with its view.
    Egress {
        attempt: u32,
        to: usize,
        port: u16,
        view: u32,
        via: bool,
        allowed: bool,
    },
    /// The ingress filter decided a new connection (from the pod owning the packet's source
    /// address), with its view; `egress_view` is the source's.
    Ingress {
        attempt: u32,
        from: usize,
        port: u16,
        egress_view: u32,
        view: u32,
        via: bool,
        allowed: bool,
    },
    /// A new connection's first packet reached the application, sent by actor `sender` with
    /// source address `src`.
    Delivered {
        attempt: u32,
        sender: usize,
        src: IpAddr,
    },
    /// The reply reached the client: the connection is established.
    Established { attempt: u32 },
    /// A reply was dropped; `tracked` says whether its connection was still tracked here.
    ReplyDropped { attempt: u32, tracked: bool },
    /// A policy update reached this pod while it tracked a connection.
    UpdateWhileTracked { version: u32 },
    /// A re-check (established: recheck) cut a connection.
    Cut { attempt: u32, view: u32 },
}

/// A pod actor's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PodState {
    /// The control-plane version the policy filters use.
    pub view: u32,
    /// The service mapper's backends (pod, target port) and the version they came from.
    pub backends: BTreeSet<(usize, u16)>,
    /// The connection tracker.
    pub conntrack: BTreeSet<Tracked>,
    /// How many of this pod's attempts were made.
    pub next: usize,
    /// The attempts sent to a node's proxy (the tracker knows them by the address they went to).
    pub entries: BTreeSet<u32>,
    /// Session affinity (rule 6.16): the backend the mapper keeps this pod on.
    pub affinity: Option<usize>,
    /// How many picks the mapper made for a Service with session affinity.
    pub picks: u32,
    /// What happened here.
    pub events: BTreeSet<Event>,
}

/// A node proxy's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProxyState {
    /// The control-plane version its rules come from.
    pub view: u32,
    /// Session affinity (rule 6.16): per client address and Service port, the backend.
    pub affinity: BTreeMap<(IpAddr, u16), usize>,
    /// How many picks it made for Services with session affinity.
    pub picks: u32,
    /// The NAT table: the connections it sent on itself, whose replies it passes back.
    pub nat: BTreeSet<u32>,
    /// What happened here.
    pub events: BTreeSet<Event>,
}

/// A host's state: a client that is not a pod.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostState {
    /// The control-plane version its routes come from (the network's view).
    pub view: u32,
    /// How many of its attempts were made.
    pub next: usize,
    /// What happened here.
    pub events: BTreeSet<Event>,
}

/// An actor's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeState {
    /// The control plane, with how many operations it applied.
    ControlPlane {
        /// The version: operations applied so far.
        version: u32,
    },
    /// A pod's pipeline.
    Pod(PodState),
    /// A node's proxy.
    Proxy(ProxyState),
    /// A host.
    Host(HostState),
}

impl NodeState {
    /// The pod state, for a pod actor.
    pub fn pod(&self) -> Option<&PodState> {
        match self {
            NodeState::Pod(p) => Some(p),
            _ => None,
        }
    }

    /// What happened at this actor (nothing, for the control plane).
    pub fn events(&self) -> Option<&BTreeSet<Event>> {
        match self {
            NodeState::Pod(p) => Some(&p.events),
            NodeState::Proxy(p) => Some(&p.events),
            NodeState::Host(h) => Some(&h.events),
            NodeState::ControlPlane { .. } => None,
        }
    }
}

/// What an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The control plane (actor 0).
    ControlPlane,
    /// Pod `i` (actor `1 + i`).
    Pod(usize),
    /// Node `j`'s proxy (actor `1 + pods + j`).
    Proxy(usize),
    /// Host `k` (actor `1 + pods + nodes + k`).
    Host(usize),
}

/// An actor of the model.
#[derive(Clone)]
pub struct Node {
    /// The universe.
    pub universe: Arc<Universe>,
    /// What it is.
    pub role: Role,
}

/// The control plane's actor id.
pub fn control_plane() -> Id {
    Id::from(0)
}

fn pod_actor(i: usize) -> Id {
    Id::from(i + 1)
}

/// Node `j`'s proxy's actor id.
pub fn proxy_actor(u: &Universe, j: usize) -> Id {
    Id::from(1 + u.pods.len() + j)
}

/// Host `k`'s actor id.
pub fn host_actor(u: &Universe, k: usize) -> Id {
    Id::from(1 + u.pods.len() + u.nodes.len() + k)
}

/// A client's actor id.
pub fn client_actor(u: &Universe, c: Client) -> Id {
    match c {
        Client::Pod(i) => pod_actor(i),
        Client::Host(k) => host_actor(u, k),
    }
}

fn timeout() -> Range<Duration> {
    Duration::from_secs(1)..Duration::from_secs(2)
}

impl Node {
    /// Every actor but the control plane: those its updates go to.
    fn subscribers(&self) -> impl Iterator<Item = Id> + '_ {
        let u = &self.universe;
        (1..1 + u.pods.len() + u.nodes.len() + u.hosts.len()).map(Id::from)
    }

    /// The flow of an attempt between this pod and `peer`: opened here (`outbound`) or here
    /// accepted, on `port`.
    fn flow(&self, me: usize, peer: usize, outbound: bool, attempt: u32, port: u16) -> Flow<'_> {
        let u = &self.universe;
        let (from, to) = if outbound { (me, peer) } else { (peer, me) };
        Flow {
            from: &u.pods[from],
            to: &u.pods[to],
            protocol: u.protocol_of(attempt),
            port,
            service: self
                .is_via_service(attempt)
                .then_some(())
                .and(u.service.as_ref()),
            ends: None,
            fault: u.fault,
        }
    }

    /// The flow of a connection a node's proxy translated, between the ends its filters see.
    fn proxied_flow<'a>(
        &'a self,
        me: usize,
        attempt: u32,
        port: u16,
        service: &'a ServiceId,
        ends: &'a (Endpoint, Endpoint),
    ) -> Flow<'a> {
        let u = &self.universe;
        Flow {
            from: &u.pods[me],
            to: &u.pods[me],
            protocol: u.protocol_of(attempt),
            port,
            service: Some(service),
            ends: Some((&ends.0, &ends.1)),
            fault: u.fault,
        }
    }

    fn view(&self, view: u32) -> &State {
        &self.universe.versions[view as usize]
    }

    /// Whether the pod runs in version `view`, so that its application has sockets.
    fn live(&self, me: usize, view: u32) -> bool {
        let u = &self.universe;
        u.versions[view as usize]
            .pod(&u.pods[me])
            .is_some_and(|p| p.is_live())
    }

    /// The application makes its next attempt; the packet goes through sanity filter, service
    /// mapper and egress filter, or to a node's proxy for an address it translates.
    fn attempt(&self, me: usize, state: &mut Cow<NodeState>, o: &mut Out<Self>) {
        let u = &self.universe;
        let mine: Vec<_> = u
            .attempts
            .iter()
            .filter(|a| a.from == Client::Pod(me))
            .collect();
        let NodeState::Pod(p) = state.as_ref() else {
            return;
        };
        let Some(a) = mine.get(p.next).copied() else {
            return;
        };
        let p = pod_mut(state);
        p.next += 1;
        if p.next < mine.len() {
            o.set_timer(Timer::NextAttempt, timeout());
        }
        // Only a running pod's application opens connections (rule 2.3).
        if !self.live(me, p.view) {
            return;
        }
        let src = a.spoof_as.map_or(u.addresses[me], |s| u.addresses[s]);
        if src != u.addresses[me] {
            p.events.insert(Event::Spoofed { attempt: a.id });
            // Sanity filter: packets from eth0 must carry the pod's own address.
            if u.fault != Fault::NoSanityFilter {
                p.events.insert(Event::SanityDrop { attempt: a.id });
                return;
            }
        }
        match a.to {
            Target::Pod(to) => self.egress(me, p, a.id, src, to, a.port, o),
            Target::Service => {
                if p.backends.is_empty() {
                    let view = p.view;
                    p.events.insert(Event::NoBackend {
                        attempt: a.id,
                        view,
                    });
                    return;
                }
                // Service mapper: one of the backends, nondeterministically.
                offer_picks(p, a.id, u.fault, o);
            }
            Target::Address(dst) => {
                // To a node's address: that node; anything else: this pod's own node.
                let view = &u.versions[p.view as usize];
                let own = view
                    .pod(&u.pods[me])
                    .and_then(|pod| pod.node.as_deref())
                    .and_then(|n| u.nodes.iter().position(|m| m == n))
                    .or_else(|| (u.nodes == [String::new()]).then_some(0));
                let node = proxy::node_of_address(u, p.view as usize, dst).or(own);
                if let Some(node) = node {
                    p.entries.insert(a.id);
                    o.send(proxy_actor(u, node), Msg::Entry { attempt: a.id });
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn egress(
        &self,
        me: usize,
        p: &mut PodState,
        attempt: u32,
        src: IpAddr,
        to: usize,
        port: u16,
        o: &mut Out<Self>,
    ) {
        let view = p.view;
        let via = self.is_via_service(attempt);
        let allowed = self
            .flow(me, to, true, attempt, port)
            .allows(self.view(view), true);
        p.events.insert(Event::Egress {
            attempt,
            to,
            port,
            view,
            via,
            allowed,
        });
        if allowed {
            p.conntrack.insert(Tracked {
                attempt,
                outbound: true,
                peer: to,
                port,
                ends: None,
            });
            o.send(
                pod_actor(to),
                Msg::Syn {
                    attempt,
                    src,
                    port,
                    egress_view: view,
                    via,
                    proxied: None,
                },
            );
        }
    }

    /// A new view arrives: filters and mapper switch to it; under `established: recheck` the
    /// tracker re-checks its connections with it. Proxies and hosts switch their view.
    fn update(&self, state: &mut Cow<NodeState>, version: u32) {
        let u = &self.universe;
        let me = match (self.role, state.as_ref()) {
            (Role::Pod(me), NodeState::Pod(p)) if version > p.view => me,
            (_, NodeState::Proxy(p)) if version > p.view => {
                if let NodeState::Proxy(p) = state.to_mut() {
                    p.view = version;
                }
                return;
            }
            (_, NodeState::Host(h)) if version > h.view => {
                if let NodeState::Host(h) = state.to_mut() {
                    h.view = version;
                }
                return;
            }
            _ => return,
        };
        let p = pod_mut(state);
        if !p.conntrack.is_empty() {
            p.events.insert(Event::UpdateWhileTracked { version });
        }
        p.view = version;
        let fresh: BTreeSet<(usize, u16)> = u.backends(version as usize, me).into_iter().collect();
        if u.fault == Fault::MapperIgnoresRemovals {
            p.backends.extend(fresh);
        } else {
            p.backends = fresh;
        }
        if u.profile.established == Established::Recheck {
            let cut: Vec<Tracked> = p
                .conntrack
                .iter()
                .filter(|t| {
                    let kept = match (&t.ends, self.proxied_service(t.attempt)) {
                        (Some(ends), Some(svc)) => self
                            .proxied_flow(me, t.attempt, t.port, svc, ends)
                            .still_tracked(self.view(version), t.outbound),
                        _ => self
                            .flow(me, t.peer, t.outbound, t.attempt, t.port)
                            .still_tracked(self.view(version), t.outbound),
                    };
                    !kept
                })
                .cloned()
                .collect();
            for t in cut {
                p.conntrack.remove(&t);
                p.events.insert(Event::Cut {
                    attempt: t.attempt,
                    view: version,
                });
            }
        }
    }

    /// The Service a proxied attempt went to, as the universe names it.
    fn proxied_service(&self, attempt: u32) -> Option<&ServiceId> {
        let u = &self.universe;
        u.attempt(attempt)
            .filter(|a| matches!(a.to, Target::Address(_)))
            .and(u.service.as_ref())
    }

    /// A host's application makes its next attempt: the network delivers it to a node.
    fn host_attempt(&self, k: usize, state: &mut Cow<NodeState>, o: &mut Out<Self>) {
        let u = &self.universe;
        let mine: Vec<_> = u
            .attempts
            .iter()
            .filter(|a| a.from == Client::Host(k))
            .collect();
        let NodeState::Host(h) = state.as_ref() else {
            return;
        };
        let Some(a) = mine.get(h.next).copied() else {
            return;
        };
        let view = h.view as usize;
        if let NodeState::Host(h) = state.to_mut() {
            h.next += 1;
            if h.next < mine.len() {
                o.set_timer(Timer::NextAttempt, timeout());
            }
        }
        let Target::Address(dst) = a.to else { return };
        let nodes = proxy::host_route(u, view, u.hosts[k], dst, a.protocol, a.port);
        match nodes.as_slice() {
            [] => {}
            [node] => o.send(proxy_actor(u, *node), Msg::Entry { attempt: a.id }),
            _ => o.choose_random(
                format!("route-{}", a.id),
                nodes
                    .iter()
                    .map(|&node| Choice::Route {
                        attempt: a.id,
                        node,
                    })
                    .collect(),
            ),
        }
    }

    /// A node's proxy receives a new connection: it translates it and offers its endpoints
    /// (narrowed by the client's session affinity), or refuses it.
    fn proxy_entry(&self, j: usize, state: &mut Cow<NodeState>, attempt: u32, o: &mut Out<Self>) {
        let NodeState::Proxy(p) = state.as_ref() else {
            return;
        };
        let view = p.view;
        match self.translation(j, view, attempt) {
            Err(refusal) => {
                if let NodeState::Proxy(p) = state.to_mut() {
                    p.events.insert(Event::ProxyRefused {
                        attempt,
                        node: j,
                        view,
                        refusal: refusal.name().to_string(),
                    });
                }
            }
            Ok(t) => {
                let client = self.universe.attempt(attempt).map(|a| a.from);
                let offer = self.proxy_offer(p, &t, client);
                o.choose_random(
                    format!("pick-{attempt}"),
                    offer
                        .into_iter()
                        .map(|(backend, port)| {
                            Choice::Pick(Pick {
                                attempt,
                                backend,
                                port,
                            })
                        })
                        .collect(),
                );
            }
        }
    }

    /// What proxy `j` with `view` makes of `attempt`.
    fn translation(
        &self,
        j: usize,
        view: u32,
        attempt: u32,
    ) -> Result<proxy::Translation, netsem_spec::decision::Refusal> {
        let u = &self.universe;
        let a = u
            .attempt(attempt)
            .ok_or(netsem_spec::decision::Refusal::NoServicePort)?;
        let Target::Address(dst) = a.to else {
            return Err(netsem_spec::decision::Refusal::NoServicePort);
        };
        proxy::translate(
            u,
            view as usize,
            j,
            u.client_address(a.from),
            dst,
            a.protocol,
            a.port,
        )
    }

    /// The endpoints a proxy offers: those of the translation, or only the one the client's
    /// session affinity holds while it is one of them (rule 6.16).
    fn proxy_offer(
        &self,
        p: &ProxyState,
        t: &proxy::Translation,
        client: Option<Client>,
    ) -> Vec<(usize, u16)> {
        let u = &self.universe;
        let held = client
            .filter(|_| t.affine && u.fault != Fault::MapperIgnoresAffinity)
            .and_then(|c| p.affinity.get(&(u.client_address(c), t.service_port)));
        match held {
            Some(&b) if t.endpoints.iter().any(|(e, _)| *e == b) => t
                .endpoints
                .iter()
                .copied()
                .filter(|(e, _)| *e == b)
                .collect(),
            _ => t.endpoints.clone(),
        }
    }

    /// A proxy's pick: atomic with its view (an update between offer and pick re-offers);
    /// then the connection goes on, masqueraded or not, to the backend — or back to a pod
    /// client whose egress filter decides on it.
    fn proxy_pick(&self, j: usize, state: &mut Cow<NodeState>, pick: &Pick, o: &mut Out<Self>) {
        let u = &self.universe;
        o.remove_random(format!("pick-{}", pick.attempt));
        let NodeState::Proxy(p) = state.as_ref() else {
            return;
        };
        let view = p.view;
        let Some(a) = u.attempt(pick.attempt) else {
            return;
        };
        let t = match self.translation(j, view, pick.attempt) {
            Ok(t) => t,
            Err(_) => return self.proxy_entry(j, state, pick.attempt, o),
        };
        if !self
            .proxy_offer(p, &t, Some(a.from))
            .contains(&(pick.backend, pick.port))
        {
            return self.proxy_entry(j, state, pick.attempt, o);
        }
        let client = u.client_address(a.from);
        let seen = proxy::seen_source(u, view as usize, j, a.from, pick.backend, t.masquerade);
        let NodeState::Proxy(p) = state.to_mut() else {
            return;
        };
        let seq = t.affine.then_some(p.picks);
        if t.affine {
            p.picks += 1;
            p.affinity.insert((client, t.service_port), pick.backend);
        }
        p.events.insert(Event::ProxyPicked {
            attempt: pick.attempt,
            node: j,
            client,
            service_port: t.service_port,
            backend: pick.backend,
            view,
            masquerade: t.masquerade,
            seq,
        });
        let proxied = Proxied {
            node: j,
            view,
            service: t.service.clone(),
            seen: seen.clone(),
            masquerade: t.masquerade,
        };
        match (a.from, seen.pod()) {
            // The client pod itself is the source policy sees: its egress filter decides.
            (Client::Pod(c), Some(pod)) if *pod == u.pods[c] => o.send(
                pod_actor(c),
                Msg::Translated {
                    attempt: pick.attempt,
                    backend: pick.backend,
                    port: pick.port,
                    proxied,
                },
            ),
            _ => {
                p.nat.insert(pick.attempt);
                // On the wire the packet carries the node's address when masqueraded.
                let src = if t.masquerade {
                    proxy::node_address(u, view as usize, j, u.addresses[pick.backend])
                        .unwrap_or(client)
                } else {
                    client
                };
                o.send(
                    pod_actor(pick.backend),
                    Msg::Syn {
                        attempt: pick.attempt,
                        src,
                        port: pick.port,
                        egress_view: view,
                        via: true,
                        proxied: Some(proxied),
                    },
                );
            }
        }
    }

    /// A pod client gets its proxy's translation: its egress filter decides on the backend.
    #[allow(clippy::too_many_arguments)]
    fn translated(
        &self,
        me: usize,
        state: &mut Cow<NodeState>,
        attempt: u32,
        backend: usize,
        port: u16,
        proxied: Proxied,
        o: &mut Out<Self>,
    ) {
        let u = &self.universe;
        let p = pod_mut(state);
        let view = p.view;
        let dst = self
            .view(view)
            .pod_endpoint(&u.pods[backend], proxied.seen.address());
        let Ok(dst) = dst else { return };
        let ends = (proxied.seen.clone(), dst);
        let allowed = self
            .proxied_flow(me, attempt, port, &proxied.service, &ends)
            .allows(self.view(view), true);
        p.events.insert(Event::Egress {
            attempt,
            to: backend,
            port,
            view,
            via: true,
            allowed,
        });
        if allowed {
            p.conntrack.insert(Tracked {
                attempt,
                outbound: true,
                peer: backend,
                port,
                ends: Some(ends),
            });
            o.send(
                pod_actor(backend),
                Msg::Syn {
                    attempt,
                    src: u.addresses[me],
                    port,
                    egress_view: view,
                    via: true,
                    proxied: Some(proxied),
                },
            );
        }
    }

    /// A backend receives a connection a node's proxy translated: its ingress filter decides,
    /// seeing the source the proxy's translation says; the reply goes back the way it came.
    #[allow(clippy::too_many_arguments)]
    fn proxied_syn(
        &self,
        me: usize,
        state: &mut Cow<NodeState>,
        sender: Id,
        attempt: u32,
        port: u16,
        egress_view: u32,
        proxied: Proxied,
        o: &mut Out<Self>,
    ) {
        let u = &self.universe;
        let p = pod_mut(state);
        let view = p.view;
        let Ok(dst) = self
            .view(view)
            .pod_endpoint(&u.pods[me], proxied.seen.address())
        else {
            return;
        };
        let ends = (proxied.seen.clone(), dst);
        let allowed = self
            .proxied_flow(me, attempt, port, &proxied.service, &ends)
            .allows(self.view(view), false)
            && self.live(me, view);
        let from_pod = usize::from(sender) <= u.pods.len();
        p.events.insert(Event::ProxiedIngress {
            attempt,
            node: proxied.node,
            seen: proxied.seen.clone(),
            port,
            egress_view: from_pod.then_some(egress_view),
            proxy_view: proxied.view,
            view,
            allowed,
        });
        if allowed {
            p.conntrack.insert(Tracked {
                attempt,
                outbound: false,
                peer: me,
                port,
                ends: Some(ends),
            });
            o.send(sender, Msg::Reply { attempt });
        }
    }
}

impl Node {
    /// Whether an attempt goes through the Service (so the mapper translates it).
    fn is_via_service(&self, attempt: u32) -> bool {
        self.universe
            .attempts
            .iter()
            .any(|a| a.id == attempt && a.to == Target::Service)
    }
}

/// A connection as the pipeline's filters and trackers know it: from pod `from` to pod `to`
/// (on the addresses spec picks, rule 3.4), its protocol and destination port, and the Service
/// it was translated from, if any.
#[derive(Clone, Copy, Debug)]
pub struct Flow<'a> {
    /// The pod that opens it.
    pub from: &'a PodId,
    /// The pod that accepts it.
    pub to: &'a PodId,
    /// Its protocol.
    pub protocol: Protocol,
    /// Its destination port (after translation).
    pub port: u16,
    /// The Service the mapper translated it from.
    pub service: Option<&'a ServiceId>,
    /// The ends as the tracker recorded them, once it is tracked: a re-check judges the
    /// connection on its own addresses, not on what the pods have now (rule 7.4).
    pub ends: Option<(&'a Endpoint, &'a Endpoint)>,
    /// The pipeline variant whose tier stages decide.
    pub fault: Fault,
}

/// Rules 11.3, 11.4: one policy filter's stages, in the order enforcement runs them — the
/// admin tier, the NetworkPolicy tier, the baseline tier, then the default allow. Each tier's
/// own verdict (which policy and rule matches, with what action) is spec's; running them in
/// order, and what `Pass` hands on, is the model's. Where tied admin policies leave a choice
/// (rule 11.6) the filter allows only what every choice allows, as spec's verdict does.
pub fn through_tiers(v: &DirectionVerdict, fault: Fault) -> bool {
    let network_policy = v.network_policy_allows();
    let baseline = v.baseline.decision.actions();
    let stage = |action: Action, next: &dyn Fn() -> bool| match action {
        Action::Accept => true,
        Action::Deny => false,
        Action::Pass => next(),
    };
    let default = || true;
    let baseline_stage = || baseline.iter().all(|&a| stage(a, &default));
    let after_admin = || match fault {
        // Broken: the baseline tier runs before NetworkPolicy and its decision is final.
        Fault::BaselineBeforeNetworkPolicy => baseline
            .iter()
            .all(|&a| stage(a, &|| network_policy.unwrap_or(true))),
        _ => network_policy.unwrap_or_else(baseline_stage),
    };
    let matched = v.admin.decision != TierDecision::NoMatch;
    v.admin
        .decision
        .actions()
        .iter()
        .all(|&a| match (fault, a) {
            // Broken: an admin `Pass` rule lets the traffic through instead of handing it on.
            (Fault::PassAsAccept, Action::Pass) if matched => true,
            // Broken: a NetworkPolicy allow is final before the admin tier is consulted.
            (Fault::NetworkPolicyBeforeAdmin, _) if network_policy == Some(true) => true,
            _ => stage(a, &after_admin),
        })
}

impl Flow<'_> {
    /// A pod's policy filter in one control-plane version: the egress of `from` (`outbound`)
    /// or the ingress of `to`. The filter is spec's one-direction filter of that version; the
    /// model's own part is which version, where, and when.
    pub fn allows(&self, view: &State, outbound: bool) -> bool {
        let (s, d) = match self.ends {
            Some((s, d)) => (s.clone(), d.clone()),
            None => match view.pod_pair(self.from, self.to) {
                Ok(pair) => pair,
                Err(_) => return false,
            },
        };
        let direction = if outbound {
            PolicyType::Egress
        } else {
            PolicyType::Ingress
        };
        let filtered = connect::filter(
            view,
            &SpecCore,
            &s,
            &d,
            direction,
            self.protocol,
            self.port,
            self.service,
        );
        match &filtered.verdict {
            Some(v) => through_tiers(v, self.fault),
            None => filtered.allowed,
        }
    }

    /// The connection tracker's re-check on a new view, under `established: recheck` (rule
    /// 7.4): the tracker of the pod that opened it (`outbound`) re-checks its egress filter,
    /// the one of the pod that accepted it its ingress filter, and a pod that no longer runs
    /// has lost its sockets (rule 2.3).
    pub fn still_tracked(&self, view: &State, outbound: bool) -> bool {
        let me = if outbound { self.from } else { self.to };
        view.pod(me).is_some_and(|p| p.is_live()) && self.allows(view, outbound)
    }
}
/// The service mapper offers each of its backends as the pick for `attempt`, or only the one
/// the pod's session affinity holds while it is one of them (rule 6.16).
fn offer_picks(p: &PodState, attempt: u32, fault: Fault, o: &mut Out<Node>) {
    let held = p.affinity.filter(|b| {
        fault != Fault::MapperIgnoresAffinity && p.backends.iter().any(|(e, _)| e == b)
    });
    let picks = p
        .backends
        .iter()
        .filter(|(b, _)| held.is_none_or(|h| h == *b))
        .map(|&(backend, port)| {
            Choice::Pick(Pick {
                attempt,
                backend,
                port,
            })
        })
        .collect();
    o.choose_random(format!("pick-{attempt}"), picks);
}

fn pod_mut<'a>(state: &'a mut Cow<NodeState>) -> &'a mut PodState {
    match state.to_mut() {
        NodeState::Pod(p) => p,
        _ => unreachable!("pod handlers run on pod actors"),
    }
}

impl Actor for Node {
    type Msg = Msg;
    type Timer = Timer;
    type State = NodeState;
    type Storage = ();
    type Random = Choice;

    fn on_start(&self, _id: Id, _storage: &Option<()>, o: &mut Out<Self>) -> NodeState {
        let u = &self.universe;
        match self.role {
            Role::ControlPlane => {
                if !u.ops.is_empty() {
                    o.set_timer(Timer::ApplyNext, timeout());
                }
                NodeState::ControlPlane { version: 0 }
            }
            Role::Pod(me) => {
                if u.attempts.iter().any(|a| a.from == Client::Pod(me)) {
                    o.set_timer(Timer::NextAttempt, timeout());
                }
                NodeState::Pod(PodState {
                    view: 0,
                    backends: u.backends(0, me).into_iter().collect(),
                    conntrack: BTreeSet::new(),
                    next: 0,
                    entries: BTreeSet::new(),
                    affinity: u.held_affinity(Client::Pod(me)),
                    picks: 0,
                    events: BTreeSet::new(),
                })
            }
            Role::Proxy(_) => NodeState::Proxy(ProxyState {
                view: 0,
                affinity: u.held_affinities(),
                picks: 0,
                nat: BTreeSet::new(),
                events: BTreeSet::new(),
            }),
            Role::Host(k) => {
                if u.attempts.iter().any(|a| a.from == Client::Host(k)) {
                    o.set_timer(Timer::NextAttempt, timeout());
                }
                NodeState::Host(HostState {
                    view: 0,
                    next: 0,
                    events: BTreeSet::new(),
                })
            }
        }
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<NodeState>, timer: &Timer, o: &mut Out<Self>) {
        match (self.role, timer) {
            (Role::ControlPlane, Timer::ApplyNext) => {
                let NodeState::ControlPlane { version } = state.to_mut() else {
                    return;
                };
                *version += 1;
                let v = *version;
                if (v as usize) < self.universe.ops.len() {
                    o.set_timer(Timer::ApplyNext, timeout());
                }
                let to: Vec<Id> = self.subscribers().collect();
                o.broadcast(&to, &Msg::Update { version: v });
            }
            (Role::Pod(me), Timer::NextAttempt) => self.attempt(me, state, o),
            (Role::Host(k), Timer::NextAttempt) => self.host_attempt(k, state, o),
            _ => {}
        }
    }

    fn on_random(&self, _id: Id, state: &mut Cow<NodeState>, choice: &Choice, o: &mut Out<Self>) {
        let u = &self.universe;
        let pick = match (self.role, choice) {
            (Role::Host(_), Choice::Route { attempt, node }) => {
                o.remove_random(format!("route-{attempt}"));
                o.send(proxy_actor(u, *node), Msg::Entry { attempt: *attempt });
                return;
            }
            (Role::Proxy(j), Choice::Pick(pick)) => return self.proxy_pick(j, state, pick, o),
            (Role::Pod(_), Choice::Pick(pick)) => pick,
            _ => return,
        };
        let Role::Pod(me) = self.role else { return };
        let Some(a) = u.attempt(pick.attempt) else {
            return;
        };
        let src = a.spoof_as.map_or(u.addresses[me], |s| u.addresses[s]);
        let affine = u.affine();
        let p = pod_mut(state);
        let view = p.view;
        o.remove_random(format!("pick-{}", pick.attempt));
        // The pick must be atomic with the mapper's view: if an update arrived between offering
        // the choice and making it, choose again from the current backends.
        if !p.backends.contains(&(pick.backend, pick.port)) {
            if p.backends.is_empty() {
                p.events.insert(Event::NoBackend {
                    attempt: pick.attempt,
                    view,
                });
            } else {
                offer_picks(p, pick.attempt, u.fault, o);
            }
            return;
        }
        let seq = affine.then_some(p.picks);
        if affine {
            p.picks += 1;
            p.affinity = Some(pick.backend);
        }
        p.events.insert(Event::Picked {
            attempt: pick.attempt,
            backend: pick.backend,
            view,
            seq,
        });
        self.egress(me, p, pick.attempt, src, pick.backend, pick.port, o);
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<NodeState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        let u = &self.universe;
        match (self.role, msg) {
            (_, Msg::Update { version }) => self.update(state, version),
            (Role::Proxy(j), Msg::Entry { attempt }) => self.proxy_entry(j, state, attempt, o),
            (Role::Proxy(_), Msg::Reply { attempt }) => {
                // Back through the NAT entry, to the client.
                let NodeState::Proxy(p) = state.as_ref() else {
                    return;
                };
                if let (true, Some(a)) = (p.nat.contains(&attempt), u.attempt(attempt)) {
                    o.send(client_actor(u, a.from), Msg::Reply { attempt });
                }
            }
            (Role::Host(_), Msg::Reply { attempt }) => {
                if let NodeState::Host(h) = state.to_mut() {
                    h.events.insert(Event::Established { attempt });
                }
            }
            (
                Role::Pod(me),
                Msg::Translated {
                    attempt,
                    backend,
                    port,
                    proxied,
                },
            ) => self.translated(me, state, attempt, backend, port, proxied, o),
            (
                Role::Pod(me),
                Msg::Syn {
                    attempt,
                    port,
                    egress_view,
                    proxied: Some(proxied),
                    ..
                },
            ) => self.proxied_syn(me, state, src, attempt, port, egress_view, proxied, o),
            (
                Role::Pod(me),
                Msg::Syn {
                    attempt,
                    src: src_ip,
                    port,
                    egress_view,
                    via,
                    proxied: None,
                },
            ) => {
                let Some(from) = u.pod_of(src_ip) else { return };
                let p = pod_mut(state);
                let view = p.view;
                // Not tracked: a new connection, for the ingress filter, then for the
                // application, which accepts only while the pod runs (rule 2.3).
                let allowed = self
                    .flow(me, from, false, attempt, port)
                    .allows(self.view(view), false)
                    && self.live(me, view);
                p.events.insert(Event::Ingress {
                    attempt,
                    from,
                    port,
                    egress_view,
                    view,
                    via,
                    allowed,
                });
                if allowed {
                    p.conntrack.insert(Tracked {
                        attempt,
                        outbound: false,
                        peer: from,
                        port,
                        ends: None,
                    });
                    let sender = usize::from(src) - 1;
                    p.events.insert(Event::Delivered {
                        attempt,
                        sender,
                        src: src_ip,
                    });
                    // The application answers; the reply goes to the packet's source address
                    // and passes the tracker on the way out.
                    o.send(pod_actor(from), Msg::Reply { attempt });
                }
            }
            (Role::Pod(me), Msg::Reply { attempt }) => {
                let p = pod_mut(state);
                let tracked = p
                    .conntrack
                    .iter()
                    .any(|t| t.attempt == attempt && t.outbound)
                    || p.entries.contains(&attempt);
                let passes = if u.fault == Fault::IngressSkipsConntrack {
                    // Broken: the reply is judged as a new connection by the ingress filter.
                    let peer = usize::from(src) - 1;
                    if peer >= u.pods.len() {
                        tracked
                    } else {
                        let mut reply = self.flow(me, peer, false, attempt, EPHEMERAL_PORT);
                        reply.service = None;
                        reply.allows(self.view(p.view), false)
                    }
                } else {
                    tracked
                };
                if passes {
                    p.events.insert(Event::Established { attempt });
                } else {
                    p.events.insert(Event::ReplyDropped { attempt, tracked });
                }
            }
            _ => {}
        }
    }
}
