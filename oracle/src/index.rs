//! The indexes: interned pods and namespaces, and every policy compiled with the set of pods it
//! selects and, per rule, the set of pods its selector peers match. Kept up to date
//! incrementally: a pod change touches that pod's bits, a policy change that policy's sets.

use crate::admin::AdminIndex;
use crate::bitset::BitSet;
use crate::compiled::{Block, Selector};
use netsem_spec::admin::{AdminPolicyId, Tier};
use netsem_spec::decision::core::{chain, Outcome};
use netsem_spec::net::{PortRef, Protocol};
use netsem_spec::policy::{Peer, PolicyType};
use netsem_spec::profile::{
    IpBlockPods, NamedPortConflict, NetworkPolicyNetworks, OtherProtocols, Profile,
};
use netsem_spec::state::primary_of;
use netsem_spec::{
    Address, AddressOwner, ContainerPort, Labels, NetworkPolicy, PodId, PolicyId, State,
};
use std::collections::HashMap;
use std::net::IpAddr;

/// Pod slots by label key, then value (see [`Index::postings`]).
type Postings = HashMap<String, HashMap<String, Vec<u32>>>;

/// An interned pod.
#[derive(Clone, Debug)]
pub(crate) struct PodSlot {
    pub ns: u32,
    pub labels: Labels,
    pub node: Option<String>,
    pub host_network: bool,
    pub live: bool,
    pub ports: Vec<ContainerPort>,
    /// The primary address (rule 3.4) per family, IPv4 first, with its network; the first
    /// entry is the address the pod is reached on.
    pub primary: Vec<Primary>,
    /// The network a decision at this pod is on when it has no primary address (rule 8.7):
    /// the default one, and whether it is primary.
    pub default_primary: bool,
}

/// A pod's primary address with what a decision asks of its network (rules 8.7, 8.11), read
/// once when the pod is indexed: networks are indexed state (`AddNetwork` rebuilds).
#[derive(Clone, Debug)]
pub(crate) struct Primary {
    pub ip: IpAddr,
    /// The network of the attachment (none for a host-network pod's node address).
    pub network: Option<String>,
    /// Whether that network (the default one when none) is a primary network.
    pub on_primary: bool,
    /// Whether it is an isolated primary user-defined network (rule 8.11).
    pub isolated: bool,
}

/// A rule's ports, compiled: numeric ranges per protocol and named ports.
#[derive(Clone, Debug, Default)]
pub(crate) struct CompiledPorts {
    /// `ports` was empty: every port of every protocol.
    pub any: bool,
    /// Ranges per protocol, indexed by [`proto_slot`].
    pub ranges: [Vec<(u16, u16)>; 3],
    /// Named ports with their protocol.
    pub named: Vec<(Protocol, String)>,
}

/// The slot of a ported protocol in per-protocol arrays.
pub(crate) fn proto_slot(p: Protocol) -> Option<usize> {
    match p {
        Protocol::Tcp => Some(0),
        Protocol::Udp => Some(1),
        Protocol::Sctp => Some(2),
        Protocol::Other(_) => None,
    }
}

impl CompiledPorts {
    fn compile(rule: &netsem_spec::Rule) -> Self {
        let mut out = CompiledPorts {
            any: rule.ports.is_empty(),
            ..Default::default()
        };
        for p in &rule.ports {
            let Some(slot) = proto_slot(p.protocol) else {
                continue;
            };
            match &p.port {
                None => out.ranges[slot].push((1, u16::MAX)),
                Some(PortRef::Number(n)) => out.ranges[slot].push((*n, p.end_port.unwrap_or(*n))),
                Some(PortRef::Name(name)) => out.named.push((p.protocol, name.clone())),
            }
        }
        out
    }

    /// Whether `(protocol, port)` matches, with named ports resolved on `dest`.
    #[inline]
    pub fn matches(
        &self,
        protocol: Protocol,
        port: u16,
        dest: Option<&PodSlot>,
        profile: &Profile,
    ) -> bool {
        let Some(slot) = proto_slot(protocol) else {
            return self.any && profile.other_protocols == OtherProtocols::RulesWithoutPorts;
        };
        if self.any {
            return true;
        }
        if self.ranges[slot]
            .iter()
            .any(|&(a, b)| a <= port && port <= b)
        {
            return true;
        }
        match dest {
            Some(d) if !self.named.is_empty() => self
                .named
                .iter()
                .any(|(p, name)| *p == protocol && named_port_is(d, name, protocol, port, profile)),
            _ => false,
        }
    }
}

/// Whether container port `name` over `protocol` on `pod` is `port` (rules 5.9, 7.8).
#[inline]
pub(crate) fn named_port_is(
    pod: &PodSlot,
    name: &str,
    protocol: Protocol,
    port: u16,
    profile: &Profile,
) -> bool {
    let mut numbers = pod
        .ports
        .iter()
        .filter(|c| c.protocol == protocol && c.name.as_deref() == Some(name))
        .map(|c| c.port);
    match profile.named_port_conflict {
        NamedPortConflict::AnyMatch => numbers.any(|n| n == port),
        NamedPortConflict::FirstOnly => numbers.next() == Some(port),
    }
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub(crate) struct CompiledRule {
    pub ports: CompiledPorts,
    /// `from`/`to` empty: every peer.
    pub all_peers: bool,
    /// The selector peers: namespace and pod selectors.
    pub selectors: Vec<(Option<Selector>, Option<Selector>)>,
    /// The ipBlock peers.
    pub blocks: Vec<Block>,
    /// Pods matched by any selector peer.
    pub peer_pods: BitSet,
}

impl CompiledRule {
    fn compile(rule: &netsem_spec::Rule) -> Self {
        let mut selectors = Vec::new();
        let mut blocks = Vec::new();
        for p in &rule.peers {
            match p {
                Peer::Pods {
                    namespace_selector,
                    pod_selector,
                } => selectors.push((
                    namespace_selector.as_ref().map(Selector::compile),
                    pod_selector.as_ref().map(Selector::compile),
                )),
                Peer::IpBlock(b) => blocks.push(Block::compile(b)),
            }
        }
        CompiledRule {
            ports: CompiledPorts::compile(rule),
            all_peers: rule.peers.is_empty(),
            selectors,
            blocks,
            peer_pods: BitSet::default(),
        }
    }

    /// Whether an address is in one of the rule's ipBlocks.
    #[inline]
    pub fn block_contains(&self, ip: IpAddr) -> bool {
        self.blocks.iter().any(|b| b.contains(ip))
    }
}

/// The networks a compiled policy filters (rule 8.7).
#[derive(Clone, Debug)]
pub(crate) enum Scope {
    /// A NetworkPolicy: primary networks, or every one under `network-policy-networks: all`.
    NetworkPolicy,
    /// A MultiNetworkPolicy: the networks it names.
    Networks(Vec<String>),
}

impl Scope {
    /// Whether a policy of this scope filters traffic on network `name` (`primary`: whether it
    /// is a primary network).
    #[inline]
    pub fn filters(&self, name: &str, primary: bool, profile: &Profile) -> bool {
        match self {
            Scope::NetworkPolicy => {
                primary || profile.network_policy_networks == NetworkPolicyNetworks::All
            }
            Scope::Networks(names) => names.iter().any(|n| n == name),
        }
    }
}

/// The network a direction is decided on: its name and whether it is primary.
pub(crate) type On<'a> = (&'a str, bool);

/// A compiled policy.
#[derive(Clone, Debug)]
pub(crate) struct CompiledPolicy {
    pub scope: Scope,
    pub ns: u32,
    pub selector: Selector,
    pub ingress_applies: bool,
    pub egress_applies: bool,
    pub ingress: Vec<CompiledRule>,
    pub egress: Vec<CompiledRule>,
    pub selected: BitSet,
}

impl CompiledPolicy {
    pub fn rules(&self, d: PolicyType) -> &[CompiledRule] {
        match d {
            PolicyType::Ingress => &self.ingress,
            PolicyType::Egress => &self.egress,
        }
    }
}

/// All indexes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    pub pods: Vec<Option<PodSlot>>,
    pub pod_by_id: HashMap<PodId, u32>,
    free_pods: Vec<u32>,
    pub ns_by_name: HashMap<String, u32>,
    pub ns_labels: Vec<Labels>,
    pub pods_in_ns: Vec<BitSet>,
    pub policies: Vec<Option<CompiledPolicy>>,
    pub policy_by_id: HashMap<PolicyId, u32>,
    /// MultiNetworkPolicies, in the same slots as NetworkPolicies (their own identities).
    pub multi_by_id: HashMap<PolicyId, u32>,
    free_policies: Vec<u32>,
    /// Per pod: the policies selecting it with Ingress, resp. Egress, ascending.
    pub ingress_of: Vec<Vec<u32>>,
    pub egress_of: Vec<Vec<u32>>,
    /// Node addresses, for host-network pods.
    pub node_addresses: HashMap<String, Vec<Address>>,
    /// The admin and baseline tiers.
    pub admin: AdminIndex,
    /// The profile in force.
    pub profile: Profile,
}

impl Index {
    /// Builds every index from the store.
    pub fn build(state: &State, profile: Profile) -> Index {
        let mut ix = Index {
            profile,
            ..Default::default()
        };
        let mut addrs: HashMap<&PodId, Vec<(Address, String, String)>> = HashMap::new();
        for (a, owner) in state.addresses() {
            match owner {
                AddressOwner::Pod {
                    pod,
                    interface,
                    network,
                } => addrs.entry(pod).or_default().push((
                    a.clone(),
                    interface.clone(),
                    network.clone(),
                )),
                AddressOwner::Node { node } => ix
                    .node_addresses
                    .entry(node.clone())
                    .or_default()
                    .push(a.clone()),
                _ => {}
            }
        }
        for ns in state.namespaces() {
            let labels = state.namespace_labels(&ns);
            ix.intern_ns(&ns, labels);
        }
        for pod in state.pods() {
            let a = addrs.remove(&pod.id).unwrap_or_default();
            ix.insert_pod_slot(state, pod, a);
        }
        let postings = ix.postings();
        for policy in state.policies() {
            ix.upsert_compiled(state, policy, Scope::NetworkPolicy, Some(&postings));
        }
        drop(postings);
        for policy in state.multi_network_policies() {
            ix.sync_multi_policy_slot(state, &policy.id);
        }
        ix.recompute_reverse_all();
        ix.admin = AdminIndex::build(state, &ix.pods, &ix.ns_labels);
        ix
    }

    /// Recompiles the admin tiers after one of their policies changed.
    pub fn sync_admin_policies(&mut self, state: &State) {
        self.admin = AdminIndex::build(state, &self.pods, &self.ns_labels);
    }

    fn intern_ns(&mut self, name: &str, labels: Labels) -> u32 {
        if let Some(&i) = self.ns_by_name.get(name) {
            self.ns_labels[i as usize] = labels;
            return i;
        }
        let i = self.ns_labels.len() as u32;
        self.ns_by_name.insert(name.to_string(), i);
        self.ns_labels.push(labels);
        self.pods_in_ns.push(BitSet::default());
        i
    }

    fn ns_of(&mut self, state: &State, name: &str) -> u32 {
        match self.ns_by_name.get(name) {
            Some(&i) => i,
            None => self.intern_ns(name, state.namespace_labels(name)),
        }
    }

    fn insert_pod_slot(
        &mut self,
        state: &State,
        pod: &netsem_spec::Pod,
        addresses: Vec<(Address, String, String)>,
    ) -> u32 {
        let ns = self.ns_of(state, &pod.id.namespace);
        let candidates: Vec<&Address> = if pod.host_network {
            pod.node
                .as_ref()
                .and_then(|n| self.node_addresses.get(n))
                .map(|v| v.iter().collect())
                .unwrap_or_default()
        } else {
            addresses
                .iter()
                .filter(|(_, iface, _)| iface == netsem_spec::net::PRIMARY_INTERFACE)
                .map(|(a, _, _)| a)
                .collect()
        };
        let default_primary = state.is_primary_network(netsem_spec::net::DEFAULT_NETWORK);
        let primary: Vec<Primary> = primary_of(candidates)
            .into_iter()
            .map(|a| {
                let network = (!pod.host_network)
                    .then(|| addresses.iter().find(|(b, _, _)| b == a))
                    .flatten()
                    .map(|(_, _, n)| n.clone());
                let (on_primary, isolated) = match &network {
                    Some(n) => (state.is_primary_network(n), state.is_isolated_network(n)),
                    None => (default_primary, false),
                };
                Primary {
                    ip: a.ip,
                    network,
                    on_primary,
                    isolated,
                }
            })
            .collect();
        let slot = PodSlot {
            primary,
            default_primary,
            ns,
            labels: pod.labels.clone(),
            node: pod.node.clone(),
            host_network: pod.host_network,
            live: pod.is_live(),
            ports: pod.ports.clone(),
        };
        let idx = match self.pod_by_id.get(&pod.id) {
            Some(&i) => i,
            None => {
                let i = self.free_pods.pop().unwrap_or(self.pods.len() as u32);
                if i as usize == self.pods.len() {
                    self.pods.push(None);
                    self.ingress_of.push(Vec::new());
                    self.egress_of.push(Vec::new());
                }
                self.pod_by_id.insert(pod.id.clone(), i);
                i
            }
        };
        self.pods[idx as usize] = Some(slot);
        self.pods_in_ns[ns as usize].set(idx, true);
        idx
    }

    /// Whether a selector peer `(ns_sel, pod_sel)` of a policy in namespace `policy_ns` matches
    /// the pod (rule 5.11).
    fn selector_peer_matches(
        &self,
        policy_ns: u32,
        peer: &(Option<Selector>, Option<Selector>),
        pod: &PodSlot,
    ) -> bool {
        let ns_ok = match &peer.0 {
            None => pod.ns == policy_ns,
            Some(sel) => sel.matches(&self.ns_labels[pod.ns as usize]),
        };
        ns_ok && peer.1.as_ref().is_none_or(|s| s.matches(&pod.labels))
    }

    /// Recomputes the bits of one pod in one policy.
    fn place_pod_in_policy(&self, policy: &mut CompiledPolicy, idx: u32, pod: Option<&PodSlot>) {
        let selected = pod.is_some_and(|p| p.ns == policy.ns && policy.selector.matches(&p.labels));
        policy.selected.set(idx, selected);
        let ns = policy.ns;
        for rule in policy.ingress.iter_mut().chain(policy.egress.iter_mut()) {
            let hit = pod.is_some_and(|p| {
                rule.selectors
                    .iter()
                    .any(|s| self.selector_peer_matches(ns, s, p))
            });
            rule.peer_pods.set(idx, hit);
        }
    }

    /// [`Index::place_pod_in_policy`] for every pod at once, visiting only the namespaces a
    /// selector can match: a policy selects pods of its own namespace, and a selector peer
    /// matches pods of its own namespace or of the namespaces its namespace selector matches
    /// (rule 5.11). The bits are the same; the cost is the candidates', not every pod's.
    /// Every pod slot by label, key then value: a bulk build visits, for a selector that
    /// requires a label value, only the pods having it.
    fn postings(&self) -> Postings {
        let mut out = Postings::new();
        for (idx, p) in self.pods.iter().enumerate() {
            let Some(p) = p else { continue };
            for (k, v) in p.labels.iter() {
                out.entry(k.clone())
                    .or_default()
                    .entry(v.clone())
                    .or_default()
                    .push(idx as u32);
            }
        }
        out
    }

    /// Sets `set` to the pods of the namespaces `in_ns` accepts that `sel` (`None`: every pod)
    /// matches: from `postings` when the selector requires a label value, else by a scan of
    /// those namespaces.
    fn place(
        &self,
        set: &mut BitSet,
        namespaces: &[u32],
        sel: Option<&Selector>,
        postings: Option<&Postings>,
    ) {
        let slot = |idx: u32| self.pods.get(idx as usize).and_then(Option::as_ref);
        let required = sel.and_then(Selector::required);
        if let (Some((key, values)), Some(postings)) = (required, postings) {
            let mut wanted = vec![false; self.ns_labels.len()];
            for &n in namespaces {
                wanted[n as usize] = true;
            }
            let by_value = postings.get(key);
            for v in values {
                for &idx in by_value.and_then(|m| m.get(v)).into_iter().flatten() {
                    let hit = slot(idx).is_some_and(|p| {
                        wanted.get(p.ns as usize) == Some(&true)
                            && sel.is_none_or(|s| s.matches(&p.labels))
                    });
                    if hit {
                        set.set(idx, true);
                    }
                }
            }
            return;
        }
        for &n in namespaces {
            for idx in self.pods_in_ns[n as usize].iter() {
                let hit = slot(idx)
                    .is_some_and(|p| p.ns == n && sel.is_none_or(|s| s.matches(&p.labels)));
                if hit {
                    set.set(idx, true);
                }
            }
        }
    }

    fn place_all_pods_in_policy(&self, policy: &mut CompiledPolicy, postings: Option<&Postings>) {
        let ns = policy.ns;
        let mut selected = std::mem::take(&mut policy.selected);
        self.place(&mut selected, &[ns], Some(&policy.selector), postings);
        policy.selected = selected;
        for rule in policy.ingress.iter_mut().chain(policy.egress.iter_mut()) {
            for (ns_sel, pod_sel) in &rule.selectors {
                let namespaces: Vec<u32> = match ns_sel {
                    None => vec![ns],
                    Some(sel) => (0..self.ns_labels.len() as u32)
                        .filter(|&n| sel.matches(&self.ns_labels[n as usize]))
                        .collect(),
                };
                self.place(&mut rule.peer_pods, &namespaces, pod_sel.as_ref(), postings);
            }
        }
    }

    fn upsert_policy(&mut self, state: &State, policy: &NetworkPolicy) -> u32 {
        self.upsert_compiled(state, policy, Scope::NetworkPolicy, None)
    }

    fn upsert_compiled(
        &mut self,
        state: &State,
        policy: &NetworkPolicy,
        scope: Scope,
        postings: Option<&Postings>,
    ) -> u32 {
        let multi = matches!(scope, Scope::Networks(_));
        let ns = self.ns_of(state, &policy.id.namespace);
        let mut c = CompiledPolicy {
            scope,
            ns,
            selector: Selector::compile(&policy.pod_selector),
            ingress_applies: policy.applies_to(PolicyType::Ingress),
            egress_applies: policy.applies_to(PolicyType::Egress),
            ingress: policy.ingress.iter().map(CompiledRule::compile).collect(),
            egress: policy.egress.iter().map(CompiledRule::compile).collect(),
            selected: BitSet::default(),
        };
        self.place_all_pods_in_policy(&mut c, postings);
        let by_id = if multi {
            &mut self.multi_by_id
        } else {
            &mut self.policy_by_id
        };
        let idx = match by_id.get(&policy.id) {
            Some(&i) => i,
            None => {
                let i = self
                    .free_policies
                    .pop()
                    .unwrap_or(self.policies.len() as u32);
                if i as usize == self.policies.len() {
                    self.policies.push(None);
                }
                by_id.insert(policy.id.clone(), i);
                i
            }
        };
        self.policies[idx as usize] = Some(c);
        idx
    }

    /// Compiles a MultiNetworkPolicy as the NetworkPolicy it is under the index's profile
    /// (rules 7.12, 7.13); one that isolates nothing takes no slot. Returns the pods it selected
    /// before and selects now.
    fn sync_multi_policy_slot(&mut self, state: &State, id: &PolicyId) -> Vec<u32> {
        let mut touched: Vec<u32> = self
            .multi_by_id
            .get(id)
            .and_then(|&i| self.policies[i as usize].as_ref())
            .map(|p| p.selected.iter().collect())
            .unwrap_or_default();
        let effective = state
            .multi_network_policy(id)
            .and_then(|m| Some((m.networks.clone(), m.effective(&self.profile)?)));
        match effective {
            Some((networks, np)) => {
                let i = self.upsert_compiled(state, &np, Scope::Networks(networks), None);
                if let Some(p) = &self.policies[i as usize] {
                    touched.extend(p.selected.iter());
                }
            }
            None => {
                if let Some(i) = self.multi_by_id.remove(id) {
                    self.policies[i as usize] = None;
                    self.free_policies.push(i);
                }
            }
        }
        touched
    }

    /// Brings one MultiNetworkPolicy up to date with the store (rule 8.8).
    pub fn sync_multi_policy(&mut self, state: &State, id: &PolicyId) {
        let mut touched = self.sync_multi_policy_slot(state, id);
        touched.sort_unstable();
        touched.dedup();
        for idx in touched {
            self.reverse_for_pod(idx);
        }
    }

    fn reverse_for_pod(&mut self, idx: u32) {
        let mut ing = Vec::new();
        let mut eg = Vec::new();
        if self.pods[idx as usize].is_some() {
            for (pi, p) in self.policies.iter().enumerate() {
                if let Some(p) = p {
                    if p.selected.contains(idx) {
                        if p.ingress_applies {
                            ing.push(pi as u32);
                        }
                        if p.egress_applies {
                            eg.push(pi as u32);
                        }
                    }
                }
            }
        }
        self.ingress_of[idx as usize] = ing;
        self.egress_of[idx as usize] = eg;
    }

    fn recompute_reverse_all(&mut self) {
        for l in self.ingress_of.iter_mut().chain(self.egress_of.iter_mut()) {
            l.clear();
        }
        for (pi, p) in self.policies.iter().enumerate() {
            if let Some(p) = p {
                for idx in p.selected.iter() {
                    if p.ingress_applies {
                        self.ingress_of[idx as usize].push(pi as u32);
                    }
                    if p.egress_applies {
                        self.egress_of[idx as usize].push(pi as u32);
                    }
                }
            }
        }
    }

    /// Brings one pod up to date with the store: added, changed or removed.
    pub fn sync_pod(&mut self, state: &State, id: &PodId) {
        match state.pod(id) {
            Some(pod) => {
                let addresses = state
                    .pod_addresses(id)
                    .map(|(a, i, n)| (a.clone(), i.to_string(), n.to_string()))
                    .collect();
                if let Some(&old) = self.pod_by_id.get(id) {
                    if let Some(o) = &self.pods[old as usize] {
                        let ns = o.ns;
                        self.pods_in_ns[ns as usize].set(old, false);
                    }
                }
                let idx = self.insert_pod_slot(state, pod, addresses);
                self.replace_pod_bits(idx);
            }
            None => {
                if let Some(idx) = self.pod_by_id.remove(id) {
                    if let Some(o) = self.pods[idx as usize].take() {
                        self.pods_in_ns[o.ns as usize].set(idx, false);
                    }
                    self.replace_pod_bits(idx);
                    self.free_pods.push(idx);
                }
            }
        }
    }

    fn replace_pod_bits(&mut self, idx: u32) {
        let mut policies = std::mem::take(&mut self.policies);
        let pod = self.pods[idx as usize].clone();
        for p in policies.iter_mut().flatten() {
            self.place_pod_in_policy(p, idx, pod.as_ref());
        }
        self.policies = policies;
        self.reverse_for_pod(idx);
        let empty = Labels::default();
        let ns_labels = pod
            .as_ref()
            .map_or(&empty, |p| &self.ns_labels[p.ns as usize]);
        self.admin.place(idx, pod.as_ref(), ns_labels);
    }

    /// Brings one policy up to date with the store.
    pub fn sync_policy(&mut self, state: &State, id: &PolicyId) {
        let before: Vec<u32> = self
            .policy_by_id
            .get(id)
            .and_then(|&i| self.policies[i as usize].as_ref())
            .map(|p| p.selected.iter().collect())
            .unwrap_or_default();
        let mut touched: Vec<u32> = before;
        match state.policy(id) {
            Some(p) => {
                let i = self.upsert_policy(state, p);
                if let Some(p) = &self.policies[i as usize] {
                    touched.extend(p.selected.iter());
                }
            }
            None => {
                if let Some(i) = self.policy_by_id.remove(id) {
                    self.policies[i as usize] = None;
                    self.free_policies.push(i);
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for idx in touched {
            self.reverse_for_pod(idx);
        }
    }

    /// Brings a namespace's labels, and so its pods' peer bits, up to date.
    pub fn sync_namespace(&mut self, state: &State, name: &str) {
        let ns = self.intern_ns(name, state.namespace_labels(name));
        let pods: Vec<u32> = self.pods_in_ns[ns as usize].iter().collect();
        for idx in pods {
            self.replace_pod_bits(idx);
        }
    }

    /// The slot of a pod.
    #[inline]
    pub fn slot(&self, idx: u32) -> &PodSlot {
        self.pods[idx as usize].as_ref().expect("live pod index")
    }

    /// The policies isolating pod `idx` in `direction` on network `on` (rule 8.7).
    #[inline]
    pub fn isolating<'a>(
        &'a self,
        idx: u32,
        direction: PolicyType,
        on: On<'a>,
    ) -> impl Iterator<Item = &'a CompiledPolicy> + 'a {
        let list = match direction {
            PolicyType::Ingress => &self.ingress_of[idx as usize],
            PolicyType::Egress => &self.egress_of[idx as usize],
        };
        list.iter()
            .filter_map(|&pi| self.policies[pi as usize].as_ref())
            .filter(move |p| p.scope.filters(on.0, on.1, &self.profile))
    }

    /// Rules 5.2, 5.4, 7.7, 8.7: the NetworkPolicy tier's verdict of `direction` at pod `idx`
    /// on network `on`; `None` when no policy isolates the pod in that direction there. An
    /// exemption makes an isolating tier allow (rule 11.11).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn network_policy(
        &self,
        idx: u32,
        direction: PolicyType,
        on: On<'_>,
        peer: PeerRef,
        dest: Option<&PodSlot>,
        protocol: Protocol,
        port: u16,
        exempt: bool,
    ) -> Option<bool> {
        let mut list = self.isolating(idx, direction, on).peekable();
        // Not isolated in this direction on this network: the tier does not decide.
        list.peek()?;
        if exempt {
            return Some(true);
        }
        if proto_slot(protocol).is_none() && self.profile.other_protocols == OtherProtocols::Denied
        {
            return Some(false);
        }
        Some(list.any(|p| {
            p.rules(direction).iter().any(|r| {
                r.ports.matches(protocol, port, dest, &self.profile) && self.peer_matches(r, peer)
            })
        }))
    }

    /// Rules 11.3–11.6: the verdict of `direction` at pod `idx` through the tier chain; the
    /// admin tiers only when `admin_tiers` (rule 11.11).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn verdict(
        &self,
        idx: u32,
        direction: PolicyType,
        on: On<'_>,
        peer: PeerRef,
        dest: Option<&PodSlot>,
        protocol: Protocol,
        port: u16,
        exempt: bool,
        admin_tiers: bool,
    ) -> Verdict {
        let np = self.network_policy(idx, direction, on, peer, dest, protocol, port, exempt);
        if !admin_tiers || !self.admin.selects(idx) {
            return Verdict {
                outcome: Outcome::of(np.unwrap_or(true)),
                ties: Vec::new(),
            };
        }
        let tier = |t| {
            self.admin
                .tier(t, idx, direction, peer, dest, protocol, port, &self.profile)
        };
        let (admin, baseline) = (tier(Tier::Admin), tier(Tier::Baseline));
        let outcome = chain(&admin.actions, np, &baseline.actions);
        let mut ties = Vec::new();
        if outcome.tied() {
            ties.extend(admin.ties);
            if admin.actions.contains(&netsem_spec::admin::Action::Pass) && np.is_none() {
                ties.extend(baseline.ties);
            }
        }
        Verdict { outcome, ties }
    }

    /// Rules 5.11, 5.12, 7.3.
    #[inline]
    pub fn peer_matches(&self, rule: &CompiledRule, peer: PeerRef) -> bool {
        if rule.all_peers {
            return true;
        }
        match peer {
            PeerRef::Pod(idx, addr) => {
                rule.peer_pods.contains(idx)
                    || (self.profile.ip_block_pods == IpBlockPods::MatchPodAddresses
                        && !rule.blocks.is_empty()
                        && addr.is_some_and(|ip| rule.block_contains(ip)))
            }
            PeerRef::Address(addr) => addr.is_some_and(|ip| rule.block_contains(ip)),
        }
    }
}

/// The other end of a connection as a rule sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PeerRef {
    /// A policed pod, with the address used.
    Pod(u32, Option<IpAddr>),
    /// A node or external address.
    Address(Option<IpAddr>),
}

/// The oracle's verdict of one direction: what it comes to, and the tied admin policies when
/// it is undetermined (rule 11.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What the direction may come to.
    pub outcome: Outcome,
    /// The tied admin policies, when the outcome is undetermined.
    pub ties: Vec<AdminPolicyId>,
}
