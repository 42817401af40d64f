//! The actors: a control plane that applies operations and pushes new versions, and one actor
//! per pod running the source design's "Simple POD Network Policy reference model": sanity
//! filter, service mapper, egress policy filter, connection tracker, ingress policy filter,
//! and the pod's application that opens connections and answers them.
//!
//! Filters ask `netsem-spec` about their own view (a control-plane version that may be stale);
//! how packets flow through the pipeline, and how views are updated, is the model's own.

use crate::universe::{Fault, Target, Universe, EPHEMERAL_PORT};
use netsem_spec::admin::Action;
use netsem_spec::decision::{connect, DirectionVerdict, SpecCore, TierDecision};
use netsem_spec::policy::PolicyType;
use netsem_spec::profile::Established;
use netsem_spec::{Endpoint, PodId, Protocol, ServiceId, State};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use std::borrow::Cow;
use std::collections::BTreeSet;
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
    },
    /// A reply on an established connection.
    Reply {
        /// The attempt it belongs to.
        attempt: u32,
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
    /// The service mapper picked a backend, from its view of `view`.
    Picked {
        attempt: u32,
        backend: usize,
        view: u32,
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
}

impl NodeState {
    /// The pod state, for a pod actor.
    pub fn pod(&self) -> Option<&PodState> {
        match self {
            NodeState::Pod(p) => Some(p),
            NodeState::ControlPlane { .. } => None,
        }
    }
}

/// An actor: the control plane (actor 0) or a pod (actor `i + 1` is pod `i`).
#[derive(Clone)]
pub struct Node {
    /// The universe.
    pub universe: Arc<Universe>,
    /// `None` for the control plane, else the pod index.
    pub pod: Option<usize>,
}

/// The control plane's actor id.
pub fn control_plane() -> Id {
    Id::from(0)
}

fn pod_actor(i: usize) -> Id {
    Id::from(i + 1)
}

fn timeout() -> Range<Duration> {
    Duration::from_secs(1)..Duration::from_secs(2)
}

impl Node {
    fn pods(&self) -> impl Iterator<Item = Id> + '_ {
        (0..self.universe.pods.len()).map(pod_actor)
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
    /// mapper and egress filter.
    fn attempt(&self, me: usize, state: &mut Cow<NodeState>, o: &mut Out<Self>) {
        let u = &self.universe;
        let mine: Vec<_> = u.attempts.iter().filter(|a| a.from == me).collect();
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
                offer_picks(p, a.id, o);
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
            });
            o.send(
                pod_actor(to),
                Msg::Syn {
                    attempt,
                    src,
                    port,
                    egress_view: view,
                    via,
                },
            );
        }
    }

    /// A new view arrives: filters and mapper switch to it; under `established: recheck` the
    /// tracker re-checks its connections with it.
    fn update(&self, me: usize, state: &mut Cow<NodeState>, version: u32) {
        let u = &self.universe;
        let NodeState::Pod(p) = state.as_ref() else {
            return;
        };
        if version <= p.view {
            return;
        }
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
                    !self
                        .flow(me, t.peer, t.outbound, t.attempt, t.port)
                        .still_tracked(self.view(version), t.outbound)
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

/// The service mapper offers each of its backends as the pick for `attempt`.
fn offer_picks(p: &PodState, attempt: u32, o: &mut Out<Node>) {
    let picks = p
        .backends
        .iter()
        .map(|&(backend, port)| Pick {
            attempt,
            backend,
            port,
        })
        .collect();
    o.choose_random(format!("pick-{attempt}"), picks);
}

fn pod_mut<'a>(state: &'a mut Cow<NodeState>) -> &'a mut PodState {
    match state.to_mut() {
        NodeState::Pod(p) => p,
        NodeState::ControlPlane { .. } => unreachable!("pod handlers run on pod actors"),
    }
}

impl Actor for Node {
    type Msg = Msg;
    type Timer = Timer;
    type State = NodeState;
    type Storage = ();
    type Random = Pick;

    fn on_start(&self, _id: Id, _storage: &Option<()>, o: &mut Out<Self>) -> NodeState {
        let u = &self.universe;
        match self.pod {
            None => {
                if !u.ops.is_empty() {
                    o.set_timer(Timer::ApplyNext, timeout());
                }
                NodeState::ControlPlane { version: 0 }
            }
            Some(me) => {
                if u.attempts.iter().any(|a| a.from == me) {
                    o.set_timer(Timer::NextAttempt, timeout());
                }
                NodeState::Pod(PodState {
                    view: 0,
                    backends: u.backends(0, me).into_iter().collect(),
                    conntrack: BTreeSet::new(),
                    next: 0,
                    events: BTreeSet::new(),
                })
            }
        }
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<NodeState>, timer: &Timer, o: &mut Out<Self>) {
        match (self.pod, timer) {
            (None, Timer::ApplyNext) => {
                let NodeState::ControlPlane { version } = state.to_mut() else {
                    return;
                };
                *version += 1;
                let v = *version;
                if (v as usize) < self.universe.ops.len() {
                    o.set_timer(Timer::ApplyNext, timeout());
                }
                let pods: Vec<Id> = self.pods().collect();
                o.broadcast(&pods, &Msg::Update { version: v });
            }
            (Some(me), Timer::NextAttempt) => self.attempt(me, state, o),
            _ => {}
        }
    }

    fn on_random(&self, _id: Id, state: &mut Cow<NodeState>, pick: &Pick, o: &mut Out<Self>) {
        let Some(me) = self.pod else { return };
        let u = &self.universe;
        let Some(a) = u.attempts.iter().find(|a| a.id == pick.attempt) else {
            return;
        };
        let src = a.spoof_as.map_or(u.addresses[me], |s| u.addresses[s]);
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
                offer_picks(p, pick.attempt, o);
            }
            return;
        }
        p.events.insert(Event::Picked {
            attempt: pick.attempt,
            backend: pick.backend,
            view,
        });
        self.egress(me, p, pick.attempt, src, pick.backend, pick.port, o);
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<NodeState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        let Some(me) = self.pod else { return };
        let u = &self.universe;
        match msg {
            Msg::Update { version } => self.update(me, state, version),
            Msg::Syn {
                attempt,
                src: src_ip,
                port,
                egress_view,
                via,
            } => {
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
            Msg::Reply { attempt } => {
                let p = pod_mut(state);
                let tracked = p
                    .conntrack
                    .iter()
                    .any(|t| t.attempt == attempt && t.outbound);
                let passes = if u.fault == Fault::IngressSkipsConntrack {
                    // Broken: the reply is judged as a new connection by the ingress filter.
                    let peer = usize::from(src) - 1;
                    let mut reply = self.flow(me, peer, false, attempt, EPHEMERAL_PORT);
                    reply.service = None;
                    reply.allows(self.view(p.view), false)
                } else {
                    tracked
                };
                if passes {
                    p.events.insert(Event::Established { attempt });
                } else {
                    p.events.insert(Event::ReplyDropped { attempt, tracked });
                }
            }
        }
    }
}
