//! The oracle engine: the spec's object store and mapping primitives (one home for the
//! vocabulary), with every decision — policy selection, peer and port matching, exemptions,
//! service backends, re-checks and the matrix — computed from the indexes instead.

use crate::index::{Index, PeerRef, PodSlot};
use netsem_spec::engine::SpecEngine;
use netsem_spec::net::{PortRef, Protocol, PRIMARY_INTERFACE};
use netsem_spec::policy::PolicyType;
use netsem_spec::profile::{
    Established, HostNetwork, MultiNetwork, NodeTraffic, OtherProtocols, PodToSelf, Profile,
    ServiceHairpin,
};
use netsem_spec::service::{ServiceType, TrafficPolicy};
use netsem_spec::{
    Address, AddressOwner, Endpoint, ErrorKind, Observation, Op, OpError, PodId, ServiceId, State,
};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The fast engine.
#[derive(Clone, Debug)]
pub struct Oracle {
    /// The object store; its own profile keeps established connections, the oracle re-checks.
    store: SpecEngine,
    profile: Profile,
    pub(crate) index: Index,
}

/// An interned pod (see [`Oracle::pod_ref`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PodRef(u32);

/// One end of a decision, resolved.
#[derive(Clone, Copy)]
struct Side<'a> {
    party: Party<'a>,
    live: bool,
    /// Type 2 only: the network of the pod address used.
    network: Option<&'a str>,
}

/// One end of a decision after host-network pods are resolved.
#[derive(Clone, Copy)]
enum Party<'a> {
    Pod(u32, &'a PodSlot, Option<IpAddr>),
    Node(Option<&'a str>, Option<IpAddr>),
    External(Option<IpAddr>),
}

impl Oracle {
    /// An empty cluster.
    pub fn new(profile: Profile) -> Self {
        Self::from_state(State::new(profile))
    }

    /// An oracle over an existing state (e.g. loaded from manifests), under its profile.
    pub fn from_state(state: State) -> Self {
        let profile = *state.profile();
        let store = state.with_profile(Profile {
            established: Established::Keep,
            ..profile
        });
        let index = Index::build(&store, profile);
        Oracle {
            store: SpecEngine { state: store },
            profile,
            index,
        }
    }

    /// The store.
    pub fn state(&self) -> &State {
        &self.store.state
    }

    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Resolves an endpoint: which party it is, whether it is a live pod, and (type 2) the
    /// network of its address.
    fn side<'a>(&'a self, e: &'a Endpoint) -> Side<'a> {
        let ip = e.address().map(|a| a.ip);
        let network = || match e.address().and_then(|a| self.state().addresses().get(a)) {
            Some(AddressOwner::Pod { network, .. }) => Some(network.as_str()),
            _ => None,
        };
        let network = if self.profile.multi_network == MultiNetwork::Type2 {
            network()
        } else {
            None
        };
        match e {
            Endpoint::Pod { pod, .. } => match self.index.pod_by_id.get(pod) {
                Some(&idx) => self.pod_side(idx, ip, network),
                None => Side {
                    party: Party::External(ip),
                    live: true,
                    network,
                },
            },
            Endpoint::Node { node, .. } => Side {
                party: Party::Node(Some(node), ip),
                live: true,
                network,
            },
            Endpoint::External { .. } => Side {
                party: Party::External(ip),
                live: true,
                network,
            },
        }
    }

    fn pod_side<'a>(&'a self, idx: u32, ip: Option<IpAddr>, network: Option<&'a str>) -> Side<'a> {
        let slot = self.index.slot(idx);
        let party = if slot.host_network && self.profile.host_network == HostNetwork::AsNode {
            Party::Node(slot.node.as_deref(), ip)
        } else {
            Party::Pod(idx, slot, ip)
        };
        Side {
            party,
            live: slot.live,
            network,
        }
    }

    fn peer(p: Party<'_>) -> PeerRef {
        match p {
            Party::Pod(idx, _, ip) => PeerRef::Pod(idx, ip),
            Party::Node(_, ip) | Party::External(ip) => PeerRef::Address(ip),
        }
    }

    /// Whether a new connection between two endpoints is allowed (same meaning as
    /// `State::decide(..).allowed`).
    pub fn decide(
        &self,
        source: &Endpoint,
        destination: &Endpoint,
        protocol: Protocol,
        port: u16,
        via_service: bool,
    ) -> bool {
        self.decide_sides(
            self.side(source),
            self.side(destination),
            protocol,
            port,
            via_service,
        )
    }

    /// An interned pod, for [`Oracle::decide_pods`].
    pub fn pod_ref(&self, pod: &PodId) -> Option<PodRef> {
        self.index.pod_by_id.get(pod).map(|&i| PodRef(i))
    }

    /// The decision between two pods' primary addresses (as `openPodConnection` makes it),
    /// without any lookup by name: the fast path for matrices and benchmarks.
    pub fn decide_pods(
        &self,
        source: PodRef,
        destination: PodRef,
        protocol: Protocol,
        port: u16,
    ) -> bool {
        let (s, d) = (self.index.slot(source.0), self.index.slot(destination.0));
        let (dst_ip, dst_net) = d
            .primary
            .first()
            .map_or((None, None), |(ip, n)| (Some(*ip), n.as_deref()));
        let family = dst_ip.is_none_or(|ip| ip.is_ipv4());
        let (src_ip, src_net) = s
            .primary
            .iter()
            .find(|(ip, _)| ip.is_ipv4() == family)
            .or(s.primary.first())
            .map_or((None, None), |(ip, n)| (Some(*ip), n.as_deref()));
        let type2 = self.profile.multi_network == MultiNetwork::Type2;
        self.decide_sides(
            self.pod_side(source.0, src_ip, if type2 { src_net } else { None }),
            self.pod_side(destination.0, dst_ip, if type2 { dst_net } else { None }),
            protocol,
            port,
            false,
        )
    }

    /// The decision itself (rules 2.3, 5.4, 7.x, 8.6).
    fn decide_sides(
        &self,
        src: Side<'_>,
        dst: Side<'_>,
        protocol: Protocol,
        port: u16,
        via_service: bool,
    ) -> bool {
        if !src.live || !dst.live {
            return false;
        }
        if let (Some(a), Some(b)) = (src.network, dst.network) {
            if a != b {
                return false;
            }
        }
        let (src, dst) = (src.party, dst.party);
        if self.exempt(src, dst, protocol, via_service) {
            return true;
        }
        let dest_slot = match dst {
            Party::Pod(_, s, _) => Some(s),
            _ => None,
        };
        if let Party::Pod(idx, ..) = src {
            if !self.index.direction_allows(
                idx,
                PolicyType::Egress,
                Self::peer(dst),
                dest_slot,
                protocol,
                port,
            ) {
                return false;
            }
        }
        if let Party::Pod(idx, ..) = dst {
            if !self.index.direction_allows(
                idx,
                PolicyType::Ingress,
                Self::peer(src),
                dest_slot,
                protocol,
                port,
            ) {
                return false;
            }
        }
        true
    }

    /// Rules 7.1, 7.2, 7.5, 7.7: traffic outside policy under the profile.
    fn exempt(
        &self,
        src: Party<'_>,
        dst: Party<'_>,
        protocol: Protocol,
        via_service: bool,
    ) -> bool {
        if !protocol.is_kubernetes() && self.profile.other_protocols == OtherProtocols::Allowed {
            return true;
        }
        match (src, dst) {
            (Party::Pod(a, ..), Party::Pod(b, ..)) if a == b => {
                if via_service {
                    self.profile.service_hairpin == ServiceHairpin::Allowed
                } else {
                    self.profile.pod_to_self == PodToSelf::Allowed
                }
            }
            (Party::Pod(_, slot, _), Party::Node(Some(n), _))
            | (Party::Node(Some(n), _), Party::Pod(_, slot, _)) => {
                self.profile.node_traffic == NodeTraffic::AlwaysAllowed
                    && slot.node.as_deref() == Some(n)
            }
            _ => false,
        }
    }

    /// Rule 8.6: under type 2, two pod addresses on different networks cannot reach each other.
    pub(crate) fn routable(&self, source: &Endpoint, destination: &Endpoint) -> bool {
        match (self.side(source).network, self.side(destination).network) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    /// Rule 3.4: a pod's endpoint on its primary address (of `towards`'s family when given).
    pub(crate) fn pod_endpoint(
        &self,
        pod: &PodId,
        towards: Option<&Address>,
    ) -> Result<Endpoint, OpError> {
        let idx = *self.index.pod_by_id.get(pod).ok_or_else(|| {
            OpError::new(ErrorKind::NotFound, format!("pod {pod} does not exist"))
        })?;
        Ok(Endpoint::Pod {
            pod: pod.clone(),
            address: self.primary_address(self.index.slot(idx), towards),
        })
    }

    pub(crate) fn primary_address(
        &self,
        slot: &PodSlot,
        towards: Option<&Address>,
    ) -> Option<Address> {
        let fam = |a: &Address| towards.is_none_or(|t| t.ip.is_ipv4() == a.ip.is_ipv4());
        if slot.host_network {
            let addrs = slot
                .node
                .as_ref()
                .and_then(|n| self.index.node_addresses.get(n))?;
            return addrs.iter().find(|a| fam(a)).or(addrs.first()).cloned();
        }
        let mut eth0 = slot
            .addresses
            .iter()
            .filter(|(_, i, _)| i == PRIMARY_INTERFACE)
            .map(|(a, _, _)| a);
        let first = eth0.clone().next();
        eth0.find(|a| fam(a)).or(first).cloned()
    }

    /// Rule 3.6: what an address stands for is the store's address mapping, shared with spec.
    fn address_endpoint(&self, address: &Address) -> Result<Endpoint, OpError> {
        self.state().address_endpoint(address)
    }

    /// Rules 6.2–6.9: the possible backends with their endpoint and target port; `None` when
    /// the Service refuses outright.
    fn backends(
        &self,
        service: &ServiceId,
        source_node: Option<&str>,
        source_address: Option<&Address>,
        protocol: Protocol,
        port: u16,
    ) -> Option<Vec<(PodId, Address, u16)>> {
        let store = self.state();
        let svc = store.service(service)?;
        if svc.service_type == ServiceType::ExternalName {
            return None;
        }
        let target = if svc.headless {
            PortRef::Number(port)
        } else {
            svc.ports
                .iter()
                .find(|p| p.protocol == protocol && p.port == port)?
                .target_port
                .clone()
        };
        let source_network = source_address.and_then(|a| match store.addresses().get(a) {
            Some(AddressOwner::Pod { network, .. }) => Some(network.as_str()),
            _ => None,
        });
        let type2 = self.profile.multi_network == MultiNetwork::Type2;
        let mut out = Vec::new();
        for pod in store.lookup_service_2_pod_mappings(service).ok()? {
            let Some(&idx) = self.index.pod_by_id.get(&pod) else {
                continue;
            };
            let slot = self.index.slot(idx);
            if !slot.live || !(slot.ready || svc.publish_not_ready_addresses) {
                continue;
            }
            if svc.internal_traffic_policy == TrafficPolicy::Local
                && (source_node.is_none() || slot.node.as_deref() != source_node)
            {
                continue;
            }
            let tp = match &target {
                PortRef::Number(n) => *n,
                PortRef::Name(name) => match slot
                    .ports
                    .iter()
                    .find(|c| c.protocol == protocol && c.name.as_deref() == Some(name))
                {
                    Some(c) => c.port,
                    None => continue,
                },
            };
            let fam = |a: &Address| source_address.is_none_or(|s| s.ip.is_ipv4() == a.ip.is_ipv4());
            let candidates: Vec<&Address> = if slot.host_network {
                slot.node
                    .as_ref()
                    .and_then(|n| self.index.node_addresses.get(n))
                    .map(|v| v.iter().collect())
                    .unwrap_or_default()
            } else {
                // Rule 8.5: primary (`eth0`) addresses before the others.
                let usable = |(_, i, n): &&(Address, String, String)| {
                    !type2 || (i == PRIMARY_INTERFACE && source_network.is_none_or(|s| s == n))
                };
                let eth0 = slot
                    .addresses
                    .iter()
                    .filter(usable)
                    .filter(|(_, i, _)| i == PRIMARY_INTERFACE);
                let other = slot
                    .addresses
                    .iter()
                    .filter(usable)
                    .filter(|(_, i, _)| i != PRIMARY_INTERFACE);
                eth0.chain(other).map(|(a, _, _)| a).collect()
            };
            let Some(addr) = candidates.iter().find(|a| fam(a)).or(candidates.first()) else {
                continue;
            };
            out.push((pod, (*addr).clone(), tp));
        }
        Some(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn open_service(
        &mut self,
        source: Endpoint,
        source_fixed: bool,
        source_node: Option<String>,
        service: &ServiceId,
        protocol: Protocol,
        port: u16,
        pick: Option<&PodId>,
    ) -> Observation {
        if self.state().service(service).is_none() {
            return Observation::error(ErrorKind::NotFound);
        }
        let backends = self
            .backends(
                service,
                source_node.as_deref(),
                source.address(),
                protocol,
                port,
            )
            .unwrap_or_default();
        if backends.is_empty() {
            if pick.is_some() {
                return Observation::error(ErrorKind::NotABackend);
            }
            return Observation {
                allowed: Some(false),
                backends: Some(BTreeSet::new()),
                allowed_backends: Some(BTreeSet::new()),
                ..Observation::default()
            };
        }
        let mut decided = Vec::new();
        for (pod, addr, tp) in backends {
            let dst = Endpoint::Pod {
                pod: pod.clone(),
                address: Some(addr.clone()),
            };
            let src = match &source {
                Endpoint::Pod { pod, .. } if !source_fixed => {
                    match self.pod_endpoint(pod, Some(&addr)) {
                        Ok(e) => e,
                        Err(e) => return Observation::error(e.kind),
                    }
                }
                other => other.clone(),
            };
            let ok = self.decide(&src, &dst, protocol, tp, true);
            decided.push((pod, ok, src, dst, tp));
        }
        let all: BTreeSet<PodId> = decided.iter().map(|d| d.0.clone()).collect();
        let allowed: BTreeSet<PodId> = decided
            .iter()
            .filter(|d| d.1)
            .map(|d| d.0.clone())
            .collect();
        let chosen = match pick {
            Some(p) if all.contains(p) => decided.iter().position(|d| d.0 == *p),
            Some(_) => return Observation::error(ErrorKind::NotABackend),
            None if decided.len() == 1 => Some(0),
            None => None,
        };
        let Some(i) = chosen else {
            return Observation {
                allowed: allowed.is_empty().then_some(false),
                backends: Some(all),
                allowed_backends: Some(allowed),
                ..Observation::default()
            };
        };
        let (pod, ok, src, dst, tp) = decided.swap_remove(i);
        let connection = ok.then(|| {
            self.store
                .state
                .new_connection(src, dst, protocol, tp, Some(service.clone()))
        });
        Observation {
            allowed: Some(ok),
            connection,
            backend: Some(pod),
            backends: Some(all),
            allowed_backends: Some(allowed),
            ..Observation::default()
        }
    }

    fn open_direct(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        protocol: Protocol,
        port: u16,
    ) -> Observation {
        let ok = self.decide(&src, &dst, protocol, port, false);
        let connection = ok.then(|| {
            self.store
                .state
                .new_connection(src, dst, protocol, port, None)
        });
        Observation {
            allowed: Some(ok),
            connection,
            ..Observation::default()
        }
    }

    fn verdict(
        &self,
        src: Result<Endpoint, OpError>,
        dst: Result<Endpoint, OpError>,
        direction: PolicyType,
        protocol: Protocol,
        port: u16,
    ) -> Observation {
        let (src, dst) = match (src, dst) {
            (Ok(s), Ok(d)) => (s, d),
            (Err(e), _) | (_, Err(e)) => return Observation::error(e.kind),
        };
        // A one-direction primitive: the other end's policies do not count.
        let allowed = self.single_direction(
            self.side(&src).party,
            self.side(&dst).party,
            direction,
            protocol,
            port,
        );
        Observation {
            allowed: Some(allowed),
            ..Observation::default()
        }
    }

    fn single_direction(
        &self,
        s: Party<'_>,
        d: Party<'_>,
        direction: PolicyType,
        protocol: Protocol,
        port: u16,
    ) -> bool {
        // Rule 5.4: exemptions hold for each filter alone too.
        if self.exempt(s, d, protocol, false) {
            return true;
        }
        let dest_slot = match d {
            Party::Pod(_, slot, _) => Some(slot),
            _ => None,
        };
        match (direction, s, d) {
            (PolicyType::Egress, Party::Pod(idx, ..), _) => self.index.direction_allows(
                idx,
                direction,
                Self::peer(d),
                dest_slot,
                protocol,
                port,
            ),
            (PolicyType::Ingress, _, Party::Pod(idx, ..)) => self.index.direction_allows(
                idx,
                direction,
                Self::peer(s),
                dest_slot,
                protocol,
                port,
            ),
            _ => true,
        }
    }

    /// Rule 7.4: closes every open connection a new decision would deny.
    fn recheck(&mut self) -> Vec<u64> {
        if self.profile.established != Established::Recheck {
            return Vec::new();
        }
        let cut: Vec<u64> = self
            .state()
            .connections()
            .values()
            .filter(|c| {
                !self.decide(
                    &c.source,
                    &c.destination,
                    c.protocol,
                    c.port,
                    c.service.is_some(),
                )
            })
            .map(|c| c.id)
            .collect();
        for id in &cut {
            let _ = self.store.state.delete_connection(*id);
        }
        cut
    }

    /// Keeps the indexes in step with a mutation the store just made.
    fn sync_after(&mut self, op: &Op) {
        let state = &self.store.state;
        let ix = &mut self.index;
        match op {
            Op::AddPod { pod, .. } => ix.sync_pod(state, &pod.id),
            Op::RemovePod { pod }
            | Op::SetPodLabels { pod, .. }
            | Op::AddAddress2PodMapping { pod, .. }
            | Op::RemoveAddress2PodMapping { pod, .. }
            | Op::RemovePod2AddressMappings { pod } => ix.sync_pod(state, pod),
            Op::AddNamespace { name, .. } | Op::SetNamespaceLabels { name, .. } => {
                ix.sync_namespace(state, name)
            }
            Op::AddNetworkPolicy { policy } | Op::UpdateNetworkPolicy { policy } => {
                ix.sync_policy(state, &policy.id)
            }
            Op::RemoveNetworkPolicy { policy } => ix.sync_policy(state, policy),
            // Nothing the indexes hold.
            Op::AddService { .. }
            | Op::RemoveService { .. }
            | Op::AddPod2ServiceMapping { .. }
            | Op::RemovePod2ServiceMapping { .. }
            | Op::RemovePod2ServiceMappings { .. }
            | Op::RemoveService2PodMappings { .. }
            | Op::AddAddress2ServiceMapping { .. }
            | Op::RemoveAddress2ServiceMapping { .. }
            | Op::RemoveService2AddressMappings { .. }
            | Op::AddIpAddressDomain { .. }
            | Op::RemoveIpAddressDomain { .. }
            | Op::AddNetwork { .. }
            | Op::RemoveNetwork { .. }
            | Op::AddExternalEntity { .. }
            | Op::ClosePodConnection { .. } => {}
            // Broad changes (namespace cascade, node addresses of host-network pods, manifests).
            _ => *ix = Index::build(state, self.profile),
        }
    }
}

impl netsem_spec::Engine for Oracle {
    fn name(&self) -> &str {
        "oracle"
    }

    fn execute(&mut self, op: &Op) -> Observation {
        match op {
            Op::AllowNewConnectionToPod {
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
            } => {
                // To: the source's egress; from: the destination's ingress.
                let direction = if matches!(op, Op::AllowNewConnectionToPod { .. }) {
                    PolicyType::Egress
                } else {
                    PolicyType::Ingress
                };
                let d = self.pod_endpoint(to, None);
                let s = d
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|d| self.pod_endpoint(from, d.address()));
                self.verdict(s, d, direction, *protocol, *port)
            }
            Op::AllowNewConnectionFromIpAddress {
                from,
                to,
                protocol,
                port,
            } => {
                let d = self.pod_endpoint(to, Some(from));
                let s = match &d {
                    Ok(_) => self.address_endpoint(from),
                    Err(e) => Err(e.clone()),
                };
                self.verdict(s, d, PolicyType::Ingress, *protocol, *port)
            }
            Op::AllowNewConnectionToIpAddress {
                from,
                to,
                protocol,
                port,
            } => {
                let s = self.pod_endpoint(from, Some(to));
                let d = match (&s, self.state().addresses().get(to)) {
                    (Err(e), _) => Err(e.clone()),
                    // Rule 3.6: a Service address as a destination is only an address here.
                    (Ok(_), Some(AddressOwner::Service { .. })) => Ok(Endpoint::External {
                        address: to.clone(),
                    }),
                    (Ok(_), _) => self.address_endpoint(to),
                };
                self.verdict(s, d, PolicyType::Egress, *protocol, *port)
            }
            Op::OpenPodConnection {
                from,
                to,
                protocol,
                port,
            } => {
                let d = match self.pod_endpoint(to, None) {
                    Ok(d) => d,
                    Err(e) => return Observation::error(e.kind),
                };
                let s = match self.pod_endpoint(from, d.address()) {
                    Ok(s) => s,
                    Err(e) => return Observation::error(e.kind),
                };
                self.open_direct(s, d, *protocol, *port)
            }
            Op::OpenServiceConnection {
                from,
                service,
                protocol,
                port,
                backend,
            } => {
                let s = match self.pod_endpoint(from, None) {
                    Ok(s) => s,
                    Err(e) => return Observation::error(e.kind),
                };
                let node = self
                    .index
                    .pod_by_id
                    .get(from)
                    .and_then(|&i| self.index.slot(i).node.clone());
                self.open_service(s, false, node, service, *protocol, *port, backend.as_ref())
            }
            Op::OpenConnectionWithIpAddresses {
                from,
                to,
                protocol,
                port,
                backend,
            } => {
                let src = match self.address_endpoint(from) {
                    Ok(s) => s,
                    Err(e) => return Observation::error(e.kind),
                };
                let node = match &src {
                    Endpoint::Pod { pod, .. } => self
                        .index
                        .pod_by_id
                        .get(pod)
                        .and_then(|&i| self.index.slot(i).node.clone()),
                    Endpoint::Node { node, .. } => Some(node.clone()),
                    Endpoint::External { .. } => None,
                };
                if let Some(AddressOwner::Service { service, external }) =
                    self.state().addresses().get(to).cloned()
                {
                    if !external && matches!(src, Endpoint::External { .. }) {
                        if backend.is_some() {
                            return Observation::error(ErrorKind::NotABackend);
                        }
                        return Observation {
                            allowed: Some(false),
                            backends: Some(BTreeSet::new()),
                            allowed_backends: Some(BTreeSet::new()),
                            ..Observation::default()
                        };
                    }
                    return self.open_service(
                        src,
                        true,
                        node,
                        &service,
                        *protocol,
                        *port,
                        backend.as_ref(),
                    );
                }
                let dst = match self.address_endpoint(to) {
                    Ok(d) => d,
                    Err(e) => return Observation::error(e.kind),
                };
                if src.pod().is_none() && dst.pod().is_none() {
                    return Observation::error(ErrorKind::NoPodEndpoint);
                }
                self.open_direct(src, dst, *protocol, *port)
            }
            other => {
                let mut obs = self.store.execute(other);
                if obs.error.is_none() {
                    self.sync_after(other);
                    let cut = self.recheck();
                    if !cut.is_empty() {
                        let mut closed = obs.closed.take().unwrap_or_default();
                        closed.extend(cut);
                        closed.sort_unstable();
                        obs.closed = Some(closed);
                    }
                }
                obs
            }
        }
    }
}
