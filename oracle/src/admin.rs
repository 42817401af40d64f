//! The admin and baseline tiers, compiled (rules 11.3–11.10): per policy the set of pods its
//! subject holds; per rule the set of pods its selector peers match, its CIDRs as masks, its
//! node selectors, its protocol entries; per pod the ordered policies of each tier that select
//! it. The oracle evaluates with these, not with the spec's code, so that a bug in either shows
//! up as a disagreement.

use crate::bitset::BitSet;
use crate::compiled::{Block, Selector};
use crate::index::{proto_slot, PeerRef, PodSlot};
use netsem_spec::admin::{
    Action, AdminPeer, AdminPolicyId, AdminProtocol, AdminRule, ClusterNetworkPolicy, Subject, Tier,
};
use netsem_spec::net::Protocol;
use netsem_spec::policy::{IpBlock, PolicyType};
use netsem_spec::profile::{NamedPortConflict, Profile};
use netsem_spec::{Labels, State};
use std::collections::HashMap;
use std::net::IpAddr;

/// A protocol entry, compiled.
#[derive(Clone, Debug)]
enum Proto {
    Ports { slot: usize, first: u16, last: u16 },
    Named(String),
}

/// A selector peer: a namespace selector and, for `pods`, a pod selector.
#[derive(Clone, Debug)]
struct SelectorPeer {
    namespaces: Selector,
    pods: Option<Selector>,
}

/// A rule, compiled.
#[derive(Clone, Debug)]
pub(crate) struct AdminRuleIx {
    action: Action,
    /// Rule 11.10: an unknown peer or protocol entry under `Deny`/`Pass`: matches all, denies.
    fail_closed: bool,
    selectors: Vec<SelectorPeer>,
    /// Pods any selector peer matches (never host-network pods, rule 11.8).
    peer_pods: BitSet,
    networks: Vec<Block>,
    nodes: Vec<Selector>,
    /// `None`: every protocol (rule 11.9).
    protocols: Option<Vec<Proto>>,
}

impl AdminRuleIx {
    fn compile(rule: &AdminRule) -> Self {
        let mut out = AdminRuleIx {
            action: rule.action,
            fail_closed: false,
            selectors: Vec::new(),
            peer_pods: BitSet::default(),
            networks: Vec::new(),
            nodes: Vec::new(),
            protocols: None,
        };
        let mut unknown = false;
        for p in &rule.peers {
            match p {
                AdminPeer::Namespaces(s) => out.selectors.push(SelectorPeer {
                    namespaces: Selector::compile(s),
                    pods: None,
                }),
                AdminPeer::Pods(p) => out.selectors.push(SelectorPeer {
                    namespaces: Selector::compile(&p.namespace_selector),
                    pods: Some(Selector::compile(&p.pod_selector)),
                }),
                AdminPeer::Networks(nets) => out.networks.extend(nets.iter().map(|n| {
                    Block::compile(&IpBlock {
                        cidr: *n,
                        except: Vec::new(),
                    })
                })),
                AdminPeer::Nodes(s) => out.nodes.push(Selector::compile(s)),
                AdminPeer::Unknown(_) => unknown = true,
            }
        }
        if let Some(ps) = &rule.protocols {
            let mut compiled = Vec::new();
            for p in ps {
                match p {
                    AdminProtocol::Ports {
                        protocol,
                        first,
                        last,
                    } => {
                        if let Some(slot) = proto_slot(*protocol) {
                            compiled.push(Proto::Ports {
                                slot,
                                first: *first,
                                last: *last,
                            });
                        }
                    }
                    AdminProtocol::NamedPort(n) => compiled.push(Proto::Named(n.clone())),
                    AdminProtocol::Unknown(_) => unknown = true,
                }
            }
            out.protocols = Some(compiled);
        }
        out.fail_closed = unknown && rule.action != Action::Accept;
        out
    }

    fn selects_pod(&self, slot: &PodSlot, ns_labels: &Labels) -> bool {
        !slot.host_network
            && self.selectors.iter().any(|s| {
                s.namespaces.matches(ns_labels)
                    && s.pods.as_ref().is_none_or(|p| p.matches(&slot.labels))
            })
    }

    /// The port numbers where this rule's verdict may change, for the matrix.
    fn port_bounds(&self, out: &mut Vec<u32>) {
        for p in self.protocols.iter().flatten() {
            if let Proto::Ports { first, last, .. } = p {
                out.push(u32::from(*first));
                out.push(u32::from(*last) + 1);
            }
        }
    }

    /// Rules 11.8–11.10: the action this rule takes, if it matches.
    fn decides(
        &self,
        peer: PeerRef,
        node_labels: Option<&Labels>,
        dest: Option<&PodSlot>,
        protocol: Protocol,
        port: u16,
        profile: &Profile,
    ) -> Option<Action> {
        if self.fail_closed {
            return Some(Action::Deny);
        }
        let address = match peer {
            PeerRef::Pod(_, ip) | PeerRef::Address(ip) => ip,
        };
        let peer_ok = matches!(peer, PeerRef::Pod(idx, _) if self.peer_pods.contains(idx))
            || address.is_some_and(|ip| self.networks.iter().any(|b| b.contains(ip)))
            || node_labels.is_some_and(|l| self.nodes.iter().any(|s| s.matches(l)));
        if !peer_ok {
            return None;
        }
        let protocols_ok = self.protocols.as_ref().is_none_or(|ps| {
            ps.iter().any(|p| match p {
                Proto::Ports { slot, first, last } => {
                    proto_slot(protocol) == Some(*slot) && (*first..=*last).contains(&port)
                }
                Proto::Named(name) => dest.is_some_and(|d| {
                    let mut numbers = d
                        .ports
                        .iter()
                        .filter(|c| c.protocol == protocol && c.name.as_deref() == Some(name))
                        .map(|c| c.port);
                    match profile.named_port_conflict {
                        NamedPortConflict::AnyMatch => numbers.any(|n| n == port),
                        NamedPortConflict::FirstOnly => numbers.next() == Some(port),
                    }
                }),
            })
        });
        protocols_ok.then_some(self.action)
    }
}

/// A policy, compiled.
#[derive(Clone, Debug)]
pub(crate) struct AdminPolicyIx {
    pub id: AdminPolicyId,
    pub tier: Tier,
    pub priority: u32,
    subject_namespaces: Selector,
    subject_pods: Option<Selector>,
    /// The pods its subject holds.
    pub selected: BitSet,
    pub ingress: Vec<AdminRuleIx>,
    pub egress: Vec<AdminRuleIx>,
}

impl AdminPolicyIx {
    pub fn rules(&self, d: PolicyType) -> &[AdminRuleIx] {
        match d {
            PolicyType::Ingress => &self.ingress,
            PolicyType::Egress => &self.egress,
        }
    }

    fn holds(&self, slot: &PodSlot, ns_labels: &Labels) -> bool {
        !slot.host_network
            && self.subject_namespaces.matches(ns_labels)
            && self
                .subject_pods
                .as_ref()
                .is_none_or(|s| s.matches(&slot.labels))
    }
}

/// What one tier may do for a direction: the actions it may take (`Pass` when nothing
/// matches) and, for a tie, the policies that tie (rule 11.6).
#[derive(Clone, Debug, Default)]
pub(crate) struct TierResult {
    pub actions: Vec<Action>,
    pub ties: Vec<AdminPolicyId>,
}

/// Every admin policy, compiled, and per pod and tier the policies selecting it.
#[derive(Clone, Debug, Default)]
pub(crate) struct AdminIndex {
    pub policies: Vec<AdminPolicyIx>,
    /// Per pod: the Admin-tier, resp. Baseline-tier, policies selecting it, by priority then
    /// identity.
    admin_of: Vec<Vec<u32>>,
    baseline_of: Vec<Vec<u32>>,
    /// Node labels, and the node owning each address, for `nodes` peers.
    node_labels: HashMap<String, Labels>,
    node_at: HashMap<IpAddr, String>,
}

impl AdminIndex {
    /// Compiles every admin policy of the state and places every pod.
    pub fn build(state: &State, pods: &[Option<PodSlot>], ns_labels: &[Labels]) -> Self {
        let mut policies: Vec<&ClusterNetworkPolicy> = state.admin_policies().collect();
        policies.sort_by_key(|p| (p.priority, p.id()));
        let mut ix = AdminIndex {
            policies: policies
                .into_iter()
                .map(|p| {
                    let (namespaces, pods) = match &p.subject {
                        Subject::Namespaces(s) => (Selector::compile(s), None),
                        Subject::Pods(n) => (
                            Selector::compile(&n.namespace_selector),
                            Some(Selector::compile(&n.pod_selector)),
                        ),
                    };
                    AdminPolicyIx {
                        id: p.id(),
                        tier: p.tier,
                        priority: p.priority,
                        subject_namespaces: namespaces,
                        subject_pods: pods,
                        selected: BitSet::default(),
                        ingress: p.ingress.iter().map(AdminRuleIx::compile).collect(),
                        egress: p.egress.iter().map(AdminRuleIx::compile).collect(),
                    }
                })
                .collect(),
            admin_of: vec![Vec::new(); pods.len()],
            baseline_of: vec![Vec::new(); pods.len()],
            node_labels: state
                .nodes()
                .iter()
                .map(|(n, l)| (n.clone(), l.clone()))
                .collect(),
            node_at: HashMap::new(),
        };
        // The first owner in address order, as the spec's lookup finds it.
        for (a, o) in state.addresses() {
            if let netsem_spec::AddressOwner::Node { node } = o {
                ix.node_at.entry(a.ip).or_insert_with(|| node.clone());
            }
        }
        for (i, slot) in pods.iter().enumerate() {
            if let Some(slot) = slot {
                ix.place(i as u32, Some(slot), &ns_labels[slot.ns as usize]);
            }
        }
        ix
    }

    /// Whether any admin policy exists (the fast paths skip the tiers otherwise).
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Brings one pod's bits and tier lists up to date (`None`: the pod is gone).
    pub fn place(&mut self, idx: u32, slot: Option<&PodSlot>, ns_labels: &Labels) {
        let i = idx as usize;
        if self.admin_of.len() <= i {
            self.admin_of.resize(i + 1, Vec::new());
            self.baseline_of.resize(i + 1, Vec::new());
        }
        self.admin_of[i].clear();
        self.baseline_of[i].clear();
        for (pi, p) in self.policies.iter_mut().enumerate() {
            let held = slot.is_some_and(|s| p.holds(s, ns_labels));
            p.selected.set(idx, held);
            for r in p.ingress.iter_mut().chain(p.egress.iter_mut()) {
                let hit = slot.is_some_and(|s| r.selects_pod(s, ns_labels));
                r.peer_pods.set(idx, hit);
            }
            if held {
                match p.tier {
                    Tier::Admin => self.admin_of[i].push(pi as u32),
                    Tier::Baseline => self.baseline_of[i].push(pi as u32),
                }
            }
        }
    }

    /// The port numbers where the tiers' verdict of `direction` at pod `idx` may change.
    pub fn port_bounds(&self, idx: u32, direction: PolicyType, out: &mut Vec<u32>) {
        let i = idx as usize;
        for &pi in self.admin_of[i].iter().chain(&self.baseline_of[i]) {
            for r in self.policies[pi as usize].rules(direction) {
                r.port_bounds(out);
            }
        }
    }

    /// What distinguishes pods to the admin tiers, for the matrix's classes: the pods each
    /// policy holds and those each rule's selector peers match.
    pub fn pod_sets(&self) -> impl Iterator<Item = &BitSet> + '_ {
        self.policies.iter().flat_map(|p| {
            std::iter::once(&p.selected)
                .chain(p.ingress.iter().chain(&p.egress).map(|r| &r.peer_pods))
        })
    }

    /// Which `networks` peers contain `ip`, and which node owns it (when a `nodes` peer
    /// exists), for the matrix's classes.
    pub fn address_membership(&self, ip: Option<IpAddr>, out: &mut Vec<bool>) -> Option<String> {
        let mut any_nodes = false;
        for r in self
            .policies
            .iter()
            .flat_map(|p| p.ingress.iter().chain(&p.egress))
        {
            for b in &r.networks {
                out.push(ip.is_some_and(|ip| b.contains(ip)));
            }
            any_nodes |= !r.nodes.is_empty();
        }
        if any_nodes {
            ip.and_then(|ip| self.node_at.get(&ip).cloned())
        } else {
            None
        }
    }

    /// Whether any admin policy selects pod `idx`.
    pub fn selects(&self, idx: u32) -> bool {
        let i = idx as usize;
        self.admin_of.get(i).is_some_and(|l| !l.is_empty())
            || self.baseline_of.get(i).is_some_and(|l| !l.is_empty())
    }

    /// The node labels of the node owning `ip`, if one does.
    pub fn node_labels_at(&self, ip: Option<IpAddr>) -> Option<&Labels> {
        ip.and_then(|ip| self.node_at.get(&ip))
            .and_then(|n| self.node_labels.get(n))
    }

    /// Rules 11.4, 11.6: what a tier may do for `direction` at pod `idx`.
    #[allow(clippy::too_many_arguments)]
    pub fn tier(
        &self,
        tier: Tier,
        idx: u32,
        direction: PolicyType,
        peer: PeerRef,
        dest: Option<&PodSlot>,
        protocol: Protocol,
        port: u16,
        profile: &Profile,
    ) -> TierResult {
        let list = match tier {
            Tier::Admin => &self.admin_of[idx as usize],
            Tier::Baseline => &self.baseline_of[idx as usize],
        };
        let address = match peer {
            PeerRef::Pod(_, ip) | PeerRef::Address(ip) => ip,
        };
        let node_labels = self.node_labels_at(address);
        let mut decided: Option<(u32, Vec<(Action, &AdminPolicyId)>)> = None;
        for &pi in list {
            let p = &self.policies[pi as usize];
            if let Some((priority, _)) = &decided {
                if p.priority != *priority {
                    break;
                }
            }
            let action = p
                .rules(direction)
                .iter()
                .find_map(|r| r.decides(peer, node_labels, dest, protocol, port, profile));
            if let Some(a) = action {
                decided
                    .get_or_insert_with(|| (p.priority, Vec::new()))
                    .1
                    .push((a, &p.id));
            }
        }
        match decided {
            None => TierResult {
                actions: vec![Action::Pass],
                ties: Vec::new(),
            },
            Some((_, matched)) => {
                let mut actions: Vec<Action> = matched.iter().map(|(a, _)| *a).collect();
                actions.sort();
                actions.dedup();
                let ties = if actions.len() > 1 {
                    matched.iter().map(|(_, id)| (*id).clone()).collect()
                } else {
                    Vec::new()
                };
                TierResult { actions, ties }
            }
        }
    }
}
