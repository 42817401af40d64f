//! The properties, checked over every reachable state, their `sometimes` companions that show
//! each is not vacuous, and the export of a violation as a spec trace.

use crate::pipeline::{Event, Msg, Node, NodeState, PodState};
use crate::universe::{Client, Target, Universe};
use netsem_spec::admin::Action;
use netsem_spec::decision::connect::{Source, Target as SpecTarget};
use netsem_spec::decision::Opened;
use netsem_spec::decision::{connect, DirectionVerdict, SpecCore, TierDecision};
use netsem_spec::policy::PolicyType;
use netsem_spec::profile::Established;
use netsem_spec::trace::{Step, TRACE_FORMAT_VERSION};
use netsem_spec::{Address, Endpoint, PodId};
use netsem_spec::{Observation, Op, Protocol, Trace};
use stateright::actor::{ActorModel, ActorModelState};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The model type.
pub type PipelineModel = ActorModel<Node, Arc<Universe>, ()>;
/// A state of the model.
pub type PipelineState = ActorModelState<Node, ()>;

/// A violation of one of the `always` properties, with what is needed to replay it in spec.
/// (Fields: attempt ids, pod indexes, the view version decided with.)
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A decision on a consistent view differs from the spec's for that version.
    Refinement {
        attempt: u32,
        from: usize,
        to: usize,
        port: u16,
        view: u32,
        allowed: bool,
    },
    /// A reply of a connection still tracked was dropped.
    Reply {
        attempt: u32,
        from: usize,
        to: usize,
        port: u16,
        view: u32,
    },
    /// A packet was delivered with a source address that is not its sender's.
    Spoofing {
        attempt: u32,
        sender: usize,
        to: usize,
        port: u16,
        view: u32,
    },
    /// The service mapper picked a pod that is no backend in the version it claims.
    Service {
        attempt: u32,
        from: usize,
        backend: usize,
        view: u32,
    },
    /// Operations stopped and every update was delivered, but a pod's view is not the last.
    Convergence { pod: usize },
    /// A filter let through what its view's admin tier denies (rule 11.3).
    AdminDenyOverridden {
        attempt: u32,
        from: usize,
        to: usize,
        port: u16,
        view: u32,
    },
    /// A backend's filter decided a proxied connection on consistent views otherwise than
    /// spec, or saw another source than spec's (`source`).
    Proxied {
        attempt: u32,
        backend: usize,
        view: u32,
        allowed: bool,
        source: bool,
    },
    /// A node's proxy picked a pod that is no backend of the connection in its view.
    ProxyPick {
        attempt: u32,
        backend: usize,
        view: u32,
    },
    /// A mapper moved a client with live session affinity to another backend: `first` set
    /// the affinity to `backends.0`, `second` went to `backends.1` while `backends.0` was
    /// still a backend (rule 6.16).
    Affinity {
        first: (u32, u32),
        second: (u32, u32),
        backends: (usize, usize),
    },
}

fn pods(s: &PipelineState) -> impl Iterator<Item = (usize, &PodState)> {
    s.actor_states
        .iter()
        .skip(1)
        .enumerate()
        .filter_map(|(i, a)| a.pod().map(|p| (i, p)))
}

fn events(s: &PipelineState) -> impl Iterator<Item = (usize, &Event)> {
    pods(s).flat_map(|(i, p)| p.events.iter().map(move |e| (i, e)))
}

/// The events of every actor (pods, proxies, hosts), with the actor's index among them.
fn all_events(s: &PipelineState) -> impl Iterator<Item = (usize, &Event)> {
    s.actor_states
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.events().map(|e| (i, e)))
        .flat_map(|(i, es)| es.iter().map(move |e| (i, e)))
}

/// Spec's answer, in version `view`, to the connection of attempt `attempt` to a translated
/// address, with the backend picked (all backends when `None`).
pub fn spec_proxied(
    u: &Universe,
    view: u32,
    attempt: u32,
    backend: Option<usize>,
) -> Option<Opened> {
    let a = u.attempt(attempt)?;
    let Target::Address(dst) = a.to else {
        return None;
    };
    let state = &u.versions[view as usize];
    let pick = backend.map(|b| u.pods[b].clone());
    connect::attempt(
        state,
        &SpecCore,
        &Source::Address(Address::default_domain(u.client_address(a.from))),
        &SpecTarget::Address(Address::default_domain(dst)),
        a.protocol,
        a.port,
        pick.as_ref(),
    )
    .ok()
}

/// Proxied refinement: a backend's ingress decision on a connection a node's proxy
/// translated, with the proxy, the client's egress (if any) and the backend at one version,
/// is spec's decision through that node, and its filter saw the source spec's decision has:
/// the node's address where the proxy masquerades (and `service-snat: visible`), else the
/// client's (rules 6.13, 7.10).
pub fn proxied(u: &Universe, s: &PipelineState) -> Option<Violation> {
    pods(s).find_map(|(backend, p)| {
        p.events.iter().find_map(|e| match e {
            Event::ProxiedIngress {
                attempt,
                node,
                seen,
                egress_view,
                proxy_view,
                view,
                allowed,
                ..
            } if proxy_view == view && egress_view.is_none_or(|v| v == *view) => {
                let opened = spec_proxied(u, *view, *attempt, Some(backend))?;
                let d = opened.decision?;
                let name = &u.nodes[*node];
                let spec_allowed = match d.arrival.as_ref().map(|a| a.nodes.as_slice()) {
                    Some(nodes) if !nodes.is_empty() => nodes
                        .iter()
                        .find(|(n, _)| n == name)
                        .is_some_and(|(_, ok)| *ok),
                    _ => d.allowed && d.refusal.is_none(),
                };
                let masqueraded = d
                    .arrival
                    .as_ref()
                    .is_some_and(|a| a.masqueraded_from.is_some());
                let source_ok = if masqueraded {
                    matches!(seen, Endpoint::Node { node: n, .. } if n == name)
                } else {
                    *seen == d.source
                };
                (spec_allowed != *allowed || !source_ok).then_some(Violation::Proxied {
                    attempt: *attempt,
                    backend,
                    view: *view,
                    allowed: *allowed,
                    source: !source_ok,
                })
            }
            _ => None,
        })
    })
}

/// Proxy picks: a node's proxy picks only a backend spec has for the connection in the
/// proxy's view (rules 6.5, 6.7, 6.13, 6.15).
pub fn proxy_picks(u: &Universe, s: &PipelineState) -> Option<Violation> {
    all_events(s).find_map(|(_, e)| match e {
        Event::ProxyPicked {
            attempt,
            backend,
            view,
            ..
        } => {
            let ok = spec_proxied(u, *view, *attempt, None)
                .and_then(|o| o.backends)
                .is_some_and(|b| b.contains_key(&u.pods[*backend]));
            (!ok).then_some(Violation::ProxyPick {
                attempt: *attempt,
                backend: *backend,
                view: *view,
            })
        }
        _ => None,
    })
}

/// A mapper (actor index) and the client address and Service port it keeps affinity for
/// (`None`: a pod's own mapper, for its one Service).
type PickKey = (usize, Option<(std::net::IpAddr, u16)>);
/// One pick: its sequence number, attempt, view and backend.
type PickSeen = (u32, u32, u32, usize);

/// Session affinity (rule 6.16): within one mapper (a pod's, or a node's proxy), a client's
/// next connection to the same Service port goes to the backend its last one went to, while
/// that is still a backend in spec for the view of the next pick. (The model's universes do
/// not advance the clock: every affinity is within its timeout.)
pub fn affinity(u: &Universe, s: &PipelineState) -> Option<Violation> {
    // Per mapper and key: (seq, attempt, view, backend, client).
    let mut picks: BTreeMap<PickKey, Vec<PickSeen>> = BTreeMap::new();
    for (actor, e) in all_events(s) {
        match e {
            Event::Picked {
                attempt,
                backend,
                view,
                seq: Some(seq),
            } => picks
                .entry((actor, None))
                .or_default()
                .push((*seq, *attempt, *view, *backend)),
            Event::ProxyPicked {
                attempt,
                client,
                service_port,
                backend,
                view,
                seq: Some(seq),
                ..
            } => picks
                .entry((actor, Some((*client, *service_port))))
                .or_default()
                .push((*seq, *attempt, *view, *backend)),
            _ => {}
        }
    }
    picks.into_iter().find_map(|((actor, key), mut list)| {
        list.sort();
        list.windows(2).find_map(|w| {
            let (_, a1, v1, b1) = w[0];
            let (_, a2, v2, b2) = w[1];
            if b1 == b2 {
                return None;
            }
            let still = match key {
                None => u.spec_backends(v2 as usize, actor - 1).contains(&b1),
                Some(_) => spec_proxied(u, v2, a2, None)
                    .and_then(|o| o.backends)
                    .is_some_and(|b| b.contains_key(&u.pods[b1])),
            };
            still.then_some(Violation::Affinity {
                first: (a1, v1),
                second: (a2, v2),
                backends: (b1, b2),
            })
        })
    })
}

fn control_plane_version(s: &PipelineState) -> u32 {
    match s.actor_states.first().map(|a| a.as_ref()) {
        Some(NodeState::ControlPlane { version }) => *version,
        _ => 0,
    }
}

fn ingress_of(s: &PipelineState, attempt: u32) -> Option<(usize, usize, u16, u32, bool)> {
    events(s).find_map(|(to, e)| match e {
        Event::Ingress {
            attempt: a,
            from,
            port,
            view,
            allowed,
            ..
        } if *a == attempt => Some((*from, to, *port, *view, *allowed)),
        _ => None,
    })
}

/// Refinement: a decision made with the source's egress view and the destination's ingress
/// view at the same version is the spec's decision in that version.
pub fn refinement(u: &Universe, s: &PipelineState) -> Option<Violation> {
    events(s).find_map(|(to, e)| match e {
        Event::Ingress {
            attempt,
            from,
            port,
            egress_view,
            view,
            via,
            allowed,
        } if egress_view == view => {
            let state = &u.versions[*view as usize];
            // As openPodConnection: the destination's primary address, the source's address
            // of the same family (rule 3.4).
            let dst = state.pod_endpoint(&u.pods[to], None).ok()?;
            let src = state.pod_endpoint(&u.pods[*from], dst.address()).ok()?;
            let protocol = u.protocol_of(*attempt);
            let service = via.then_some(()).and(u.service.as_ref());
            let spec = state.decide(&src, &dst, protocol, *port, service).allowed;
            (spec != *allowed).then_some(Violation::Refinement {
                attempt: *attempt,
                from: *from,
                to,
                port: *port,
                view: *view,
                allowed: *allowed,
            })
        }
        _ => None,
    })
}

/// Spec's verdict of one direction of a decision between pods `from` and `to`, in version
/// `view`: what each tier's policies say (rules 11.3–11.6).
fn tier_verdict(
    u: &Universe,
    view: u32,
    (from, to): (usize, usize),
    port: u16,
    protocol: Protocol,
    outbound: bool,
) -> Option<DirectionVerdict> {
    let key = (view, from, to, port, protocol, outbound);
    crate::universe::Memo::get(&u.memo.verdicts, key, || {
        let state = &u.versions[view as usize];
        let (s, d) = state.pod_pair(&u.pods[from], &u.pods[to]).ok()?;
        let direction = if outbound {
            PolicyType::Egress
        } else {
            PolicyType::Ingress
        };
        connect::filter(state, &SpecCore, &s, &d, direction, protocol, port, None).verdict
    })
}

/// Every filter decision of a state: the attempt, the pods from and to, the port, the view,
/// whether it was the egress filter, and what it decided.
fn filter_decisions(
    s: &PipelineState,
) -> impl Iterator<Item = (u32, usize, usize, u16, u32, bool, bool)> + '_ {
    events(s).filter_map(|(at, e)| match e {
        Event::Egress {
            attempt,
            to,
            port,
            view,
            allowed,
            ..
        } => Some((*attempt, at, *to, *port, *view, true, *allowed)),
        Event::Ingress {
            attempt,
            from,
            port,
            view,
            allowed,
            ..
        } => Some((*attempt, *from, at, *port, *view, false, *allowed)),
        _ => None,
    })
}

fn admin_decides(v: &DirectionVerdict, action: Action) -> bool {
    matches!(&v.admin.decision, TierDecision::Decided { action: a, .. } if *a == action)
}

/// Admin Deny is final: no filter lets through what the admin tier of its own view denies,
/// whatever NetworkPolicy says (rule 11.3). Unlike refinement, this holds on stale views too.
pub fn admin_deny_final(u: &Universe, s: &PipelineState) -> Option<Violation> {
    filter_decisions(s).find_map(|(attempt, from, to, port, view, outbound, allowed)| {
        if !allowed {
            return None;
        }
        let v = tier_verdict(u, view, (from, to), port, u.protocol_of(attempt), outbound)?;
        admin_decides(&v, Action::Deny).then_some(Violation::AdminDenyOverridden {
            attempt,
            from,
            to,
            port,
            view,
        })
    })
}

/// Whether some filter decision of `s` was `allowed` with its view's tiers as `shape` says.
fn tiers_seen(
    u: &Universe,
    s: &PipelineState,
    allowed: bool,
    shape: impl Fn(&DirectionVerdict) -> bool,
) -> bool {
    filter_decisions(s).any(|(attempt, from, to, port, view, outbound, a)| {
        a == allowed
            && tier_verdict(u, view, (from, to), port, u.protocol_of(attempt), outbound)
                .is_some_and(|v| shape(&v))
    })
}

/// Replies: a reply is dropped only when its connection is no longer tracked, and that only
/// when a re-check cut it (`established: recheck`).
pub fn replies(u: &Universe, s: &PipelineState) -> Option<Violation> {
    events(s).find_map(|(_, e)| match e {
        Event::ReplyDropped { attempt, tracked } => {
            let cut =
                events(s).any(|(_, e)| matches!(e, Event::Cut { attempt: a, .. } if a == attempt));
            let excused = !tracked && u.profile.established == Established::Recheck && cut;
            if excused {
                return None;
            }
            let (from, to, port, view, _) = ingress_of(s, *attempt)?;
            Some(Violation::Reply {
                attempt: *attempt,
                from,
                to,
                port,
                view,
            })
        }
        _ => None,
    })
}

/// No spoofing: every delivered packet carries its sender's own address.
pub fn no_spoofing(u: &Universe, s: &PipelineState) -> Option<Violation> {
    events(s).find_map(|(to, e)| match e {
        Event::Delivered {
            attempt,
            sender,
            src,
        } if u.addresses[*sender] != *src => {
            let (_, _, port, view, _) = ingress_of(s, *attempt)?;
            Some(Violation::Spoofing {
                attempt: *attempt,
                sender: *sender,
                to,
                port,
                view,
            })
        }
        _ => None,
    })
}

/// Service: the mapper only picks a backend of the Service in the version of its view.
pub fn service(u: &Universe, s: &PipelineState) -> Option<Violation> {
    events(s).find_map(|(from, e)| match e {
        Event::Picked {
            attempt,
            backend,
            view,
            ..
        } if !u.spec_backends(*view as usize, from).contains(backend) => Some(Violation::Service {
            attempt: *attempt,
            from,
            backend: *backend,
            view: *view,
        }),
        _ => None,
    })
}

/// Whether the control plane has applied every operation and no update is in flight.
pub fn settled(u: &Universe, s: &PipelineState) -> bool {
    control_plane_version(s) as usize == u.ops.len()
        && !s
            .network
            .iter_all()
            .any(|env| matches!(env.msg, Msg::Update { .. }))
}

/// Convergence: once settled, every pod's filters and mapper hold the last version.
pub fn convergence(u: &Universe, s: &PipelineState) -> Option<Violation> {
    if !settled(u, s) {
        return None;
    }
    let last = u.ops.len();
    pods(s).find_map(|(i, p)| {
        let backends: std::collections::BTreeSet<(usize, u16)> =
            u.backends(last, i).into_iter().collect();
        (p.view as usize != last || p.backends != backends)
            .then_some(Violation::Convergence { pod: i })
    })
}

/// The first violation of any `always` property.
pub fn violation(u: &Universe, s: &PipelineState) -> Option<Violation> {
    refinement(u, s)
        .or_else(|| replies(u, s))
        .or_else(|| no_spoofing(u, s))
        .or_else(|| service(u, s))
        .or_else(|| convergence(u, s))
        .or_else(|| admin_deny_final(u, s))
        .or_else(|| proxied(u, s))
        .or_else(|| proxy_picks(u, s))
        .or_else(|| affinity(u, s))
}

/// The property names, as the checker reports them.
pub mod names {
    /// Refinement of spec.
    pub const REFINEMENT: &str = "refinement: decisions on consistent views are spec's";
    /// Replies.
    pub const REPLIES: &str = "replies of tracked connections are never dropped";
    /// No spoofing.
    pub const NO_SPOOFING: &str = "no packet is delivered with a forged source address";
    /// Service.
    pub const SERVICE: &str = "the service mapper picks only backends";
    /// Convergence.
    pub const CONVERGENCE: &str = "once settled, every view is the control plane's";
    /// Admin Deny is final.
    pub const ADMIN_DENY_FINAL: &str = "no filter lets through what its admin tier denies";
    /// Proxied refinement, and the source policy sees.
    pub const PROXIED: &str =
        "proxied connections: decisions on consistent views are spec's, on the source spec sees";
    /// Proxy picks.
    pub const PROXY_PICKS: &str = "a node's proxy picks only backends";
    /// Session affinity.
    pub const AFFINITY: &str = "a client with session affinity stays on its backend";
}

/// Adds every property (and the `sometimes` that fit the universe) to the model.
pub fn with_properties(model: PipelineModel, u: &Universe) -> PipelineModel {
    use stateright::Expectation::{Always, Sometimes};
    let mut m = model
        .property(Always, names::REFINEMENT, |m, s| {
            refinement(&m.cfg, s).is_none()
        })
        .property(Always, names::REPLIES, |m, s| replies(&m.cfg, s).is_none())
        .property(Always, names::NO_SPOOFING, |m, s| {
            no_spoofing(&m.cfg, s).is_none()
        })
        .property(Always, names::SERVICE, |m, s| service(&m.cfg, s).is_none())
        .property(Always, names::CONVERGENCE, |m, s| {
            convergence(&m.cfg, s).is_none()
        })
        .property(Always, names::ADMIN_DENY_FINAL, |m, s| {
            admin_deny_final(&m.cfg, s).is_none()
        })
        .property(Always, names::PROXIED, |m, s| proxied(&m.cfg, s).is_none())
        .property(Always, names::PROXY_PICKS, |m, s| {
            proxy_picks(&m.cfg, s).is_none()
        })
        .property(Always, names::AFFINITY, |m, s| {
            affinity(&m.cfg, s).is_none()
        })
        .property(Sometimes, "the control plane settles", |m, s| {
            settled(&m.cfg, s)
        });
    if u.versions
        .iter()
        .any(|v| v.admin_policies().next().is_some())
    {
        m = m
            .property(
                Sometimes,
                "an admin Deny drops what NetworkPolicy allows",
                |m, s| {
                    tiers_seen(&m.cfg, s, false, |v| {
                        admin_decides(v, Action::Deny) && v.network_policy_allows() == Some(true)
                    })
                },
            )
            .property(
                Sometimes,
                "an admin Pass hands on to NetworkPolicy, which allows",
                |m, s| {
                    tiers_seen(&m.cfg, s, true, |v| {
                        admin_decides(v, Action::Pass) && v.network_policy_allows() == Some(true)
                    })
                },
            )
            .property(
                Sometimes,
                "an admin Pass hands on to NetworkPolicy, which denies",
                |m, s| {
                    tiers_seen(&m.cfg, s, false, |v| {
                        admin_decides(v, Action::Pass) && v.network_policy_allows() == Some(false)
                    })
                },
            )
            .property(
                Sometimes,
                "the baseline tier decides where no NetworkPolicy isolates",
                |m, s| {
                    tiers_seen(&m.cfg, s, false, |v| {
                        !v.isolated()
                            && matches!(
                                v.baseline.decision,
                                TierDecision::Decided {
                                    action: Action::Deny,
                                    ..
                                }
                            )
                    })
                },
            );
    }
    let honest = u.attempts.iter().any(|a| a.spoof_as.is_none());
    let pod_targets = u
        .attempts
        .iter()
        .any(|a| matches!(a.to, Target::Pod(_)) && a.spoof_as.is_none());
    if honest {
        m = m
            .property(Sometimes, "a connection is established (a reply is delivered)", |_, s| {
                all_events(s).any(|(_, e)| matches!(e, Event::Established { .. }))
            })
            .property(Sometimes, "a decision is made on consistent views (refinement applies)", |_, s| {
                events(s).any(|(_, e)| matches!(e, Event::Ingress { egress_view, view, .. } if egress_view == view)
                    || matches!(e, Event::ProxiedIngress { proxy_view, view, egress_view, .. }
                        if proxy_view == view && egress_view.is_none_or(|v| v == *view)))
            });
    }
    if pod_targets && !u.ops.is_empty() {
        m = m
            .property(Sometimes, "a policy update lands while a connection is open", |_, s| {
                events(s).any(|(_, e)| matches!(e, Event::UpdateWhileTracked { .. }))
            })
            .property(Sometimes, "a decision is made on a stale view", |_, s| {
                let cp = control_plane_version(s);
                events(s).any(|(_, e)| matches!(e, Event::Ingress { view, .. } | Event::Egress { view, .. } if *view < cp))
            })
            .property(Sometimes, "a new connection is denied by an ingress filter", |_, s| {
                events(s).any(|(_, e)| matches!(e, Event::Ingress { allowed: false, .. }))
            });
    }
    if u.attempts.iter().any(|a| a.spoof_as.is_some()) {
        m = m.property(Sometimes, "a forged packet is sent", |_, s| {
            events(s).any(|(_, e)| matches!(e, Event::Spoofed { .. }))
        });
    }
    if u.profile.established == Established::Recheck {
        m = m.property(Sometimes, "a re-check cuts a connection", |_, s| {
            events(s).any(|(_, e)| matches!(e, Event::Cut { .. }))
        });
    }
    if u.attempts
        .iter()
        .any(|a| matches!(a.to, Target::Address(_)))
    {
        m = m
            .property(Sometimes, "a node's proxy masquerades a client", |_, s| {
                all_events(s).any(|(_, e)| {
                    matches!(
                        e,
                        Event::ProxyPicked {
                            masquerade: true,
                            ..
                        }
                    )
                })
            })
            .property(
                Sometimes,
                "a node's proxy keeps a client's address",
                |_, s| {
                    all_events(s).any(|(_, e)| {
                        matches!(
                            e,
                            Event::ProxyPicked {
                                masquerade: false,
                                ..
                            }
                        )
                    })
                },
            )
            .property(
                Sometimes,
                "a backend's filter denies a proxied connection",
                |_, s| {
                    all_events(s)
                        .any(|(_, e)| matches!(e, Event::ProxiedIngress { allowed: false, .. }))
                },
            )
            .property(Sometimes, "a proxied connection is established", |_, s| {
                all_events(s).any(|(_, e)| matches!(e, Event::ProxiedIngress { allowed: true, .. }))
                    && all_events(s).any(|(_, e)| matches!(e, Event::Established { .. }))
            });
        let local = u.versions.iter().any(|v| {
            v.services()
                .any(|s| s.external_traffic_policy == netsem_spec::TrafficPolicy::Local)
        });
        if local {
            m = m.property(
                Sometimes,
                "a node's proxy drops a connection to a Local Service it has no endpoint for",
                |_, s| {
                    all_events(s).any(|(_, e)| {
                        matches!(e, Event::ProxyRefused { refusal, .. } if refusal == "no-local-endpoints")
                    })
                },
            );
        }
    }
    let repeated = u.attempts.iter().enumerate().any(|(i, a)| {
        u.attempts[..i]
            .iter()
            .any(|b| b.from == a.from && b.to == a.to && b.port == a.port)
    });
    if u.affine() && repeated {
        m = m.property(
            Sometimes,
            "a client with session affinity connects again (affinity applies)",
            |_, s| {
                all_events(s).any(|(_, e)| {
                    matches!(
                        e,
                        Event::Picked { seq: Some(1..), .. }
                            | Event::ProxyPicked { seq: Some(1..), .. }
                    )
                })
            },
        );
    }
    if u.service.is_some() && u.attempts.iter().any(|a| a.to == Target::Service) {
        // Every pod that is a backend in some version is picked in some run.
        let backends = u.all_backends();
        if backends.contains(&1) {
            m = m.property(Sometimes, "backend pod #1 is picked", |_, s| {
                events(s).any(|(_, e)| matches!(e, Event::Picked { backend: 1, .. }))
            });
        }
        if backends.contains(&2) {
            m = m.property(Sometimes, "backend pod #2 is picked", |_, s| {
                events(s).any(|(_, e)| matches!(e, Event::Picked { backend: 2, .. }))
            });
        }
    }
    m
}

/// The violation as a spec trace: the universe's setup, the control plane's operations up to
/// the version the pipeline decided with, and the attempt with what the pipeline observed.
/// Replaying it on spec diverges at the last step. Convergence has no single-step form.
pub fn counterexample_trace(u: &Universe, v: &Violation) -> Option<Trace> {
    let pod_op = |from: usize, to: usize, port: u16| Op::OpenPodConnection {
        from: u.pods[from].clone(),
        to: u.pods[to].clone(),
        protocol: Protocol::Tcp,
        port,
    };
    let allowed = |a: bool| Observation {
        allowed: Some(a),
        ..Observation::default()
    };
    let (view, op, expect, what) = match v {
        Violation::Refinement {
            from,
            to,
            port,
            view,
            allowed: a,
            ..
        } => (
            *view,
            pod_op(*from, *to, *port),
            allowed(*a),
            "a decision on a consistent view differs from spec",
        ),
        Violation::Reply {
            from,
            to,
            port,
            view,
            ..
        } => (
            *view,
            pod_op(*from, *to, *port),
            allowed(false),
            "the reply was dropped, so the connection never established",
        ),
        Violation::Spoofing {
            sender,
            to,
            port,
            view,
            ..
        } => (
            *view,
            pod_op(*sender, *to, *port),
            allowed(true),
            "a forged packet reached the destination's application",
        ),
        Violation::Service {
            from,
            backend,
            view,
            ..
        } => (
            *view,
            Op::OpenServiceConnection {
                from: u.pods[*from].clone(),
                service: u.service.clone()?,
                protocol: Protocol::Tcp,
                port: 80,
                backend: Some(u.pods[*backend].clone()),
            },
            Observation::default(),
            "the service mapper picked a pod that is not a backend",
        ),
        Violation::AdminDenyOverridden {
            from,
            to,
            port,
            view,
            ..
        } => (
            *view,
            pod_op(*from, *to, *port),
            allowed(true),
            "a filter let through what its admin tier denies",
        ),
        Violation::Proxied {
            attempt,
            backend,
            view,
            allowed: a,
            ..
        } => (
            *view,
            attempt_op(u, *attempt, Some(*backend))?,
            allowed(*a),
            "a backend's filter decided a proxied connection otherwise than spec",
        ),
        Violation::ProxyPick {
            attempt,
            backend,
            view,
        } => (
            *view,
            attempt_op(u, *attempt, Some(*backend))?,
            Observation::default(),
            "a node's proxy picked a pod that is not a backend",
        ),
        Violation::Affinity {
            first: (a1, v1),
            second: (a2, v2),
            backends: (b1, b2),
        } => {
            // The first connection sets the affinity, the second breaks it.
            let mut steps = setup_steps(u, *v1);
            steps.push(Step {
                op: attempt_op(u, *a1, Some(*b1))?,
                expect: Observation::default(),
            });
            steps.extend(u.ops[*v1 as usize..*v2 as usize].iter().map(|op| Step {
                op: op.clone(),
                expect: Observation::default(),
            }));
            steps.push(Step {
                op: attempt_op(u, *a2, Some(*b2))?,
                expect: Observation::default(),
            });
            return Some(trace_of(
                u,
                "a client with session affinity was moved to another backend",
                vec!["6.16".into(), "6.1".into()],
                steps,
            ));
        }
        Violation::Convergence { .. } => return None,
    };
    let mut steps = setup_steps(u, view);
    steps.push(Step { op, expect });
    let rules = if u
        .versions
        .iter()
        .any(|v| v.admin_policies().next().is_some())
    {
        vec!["5.4".into(), "11.3".into(), "11.4".into()]
    } else if u
        .attempts
        .iter()
        .any(|a| matches!(a.to, Target::Address(_)))
    {
        vec!["6.13".into(), "6.14".into(), "7.10".into()]
    } else {
        vec!["5.4".into(), "5.15".into(), "6.1".into()]
    };
    Some(trace_of(u, what, rules, steps))
}

/// The universe's setup and its control plane's first `view` operations, as trace steps.
fn setup_steps(u: &Universe, view: u32) -> Vec<Step> {
    u.setup
        .iter()
        .chain(u.ops.iter().take(view as usize))
        .map(|op| Step {
            op: op.clone(),
            expect: Observation::default(),
        })
        .collect()
}

/// The operation an attempt is, with the backend the mapper picked.
fn attempt_op(u: &Universe, attempt: u32, backend: Option<usize>) -> Option<Op> {
    let a = u.attempt(attempt)?;
    let backend: Option<PodId> = backend.map(|b| u.pods[b].clone());
    Some(match (a.from, a.to) {
        (_, Target::Address(dst)) => Op::OpenConnectionWithIpAddresses {
            from: Address::default_domain(u.client_address(a.from)),
            to: Address::default_domain(dst),
            protocol: a.protocol,
            port: a.port,
            backend,
        },
        (Client::Pod(from), Target::Service) => Op::OpenServiceConnection {
            from: u.pods[from].clone(),
            service: u.service.clone()?,
            protocol: a.protocol,
            port: a.port,
            backend,
        },
        (Client::Pod(from), Target::Pod(to)) => Op::OpenPodConnection {
            from: u.pods[from].clone(),
            to: u.pods[to].clone(),
            protocol: a.protocol,
            port: a.port,
        },
        (Client::Host(_), _) => return None,
    })
}

fn trace_of(u: &Universe, what: &str, rules: Vec<String>, steps: Vec<Step>) -> Trace {
    Trace {
        netsem_trace: TRACE_FORMAT_VERSION,
        name: format!("model-{}-{:?}", u.name, u.fault).to_lowercase(),
        description: format!(
            "Exported by the model: {what} (pipeline fault {:?}, universe {}).",
            u.fault, u.name
        ),
        rules,
        profile: Some(u.profile),
        steps,
    }
}
