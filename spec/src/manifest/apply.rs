//! Applying and deleting a manifest, all or nothing (rule 9.1), with address allocation
//! (rule 9.5) and EndpointSlice resolution (rule 9.7).

use super::{LoadError, Manifest, Object, Origin};
use crate::error::{ErrorKind, OpError};
use crate::ident::{PodId, ServiceId};
use crate::manifest::kinds::service::NODE_PORTS;
use crate::net::{Address, DEFAULT_DOMAIN, DEFAULT_NETWORK, PRIMARY_INTERFACE};
use crate::pod::{Attachment, Pod};
use crate::service::{EndpointFacts, Service, ServiceType};
use crate::state::{AddressOwner, Effects, State};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

/// Rule 9.5: where pods without an address get one.
pub const POD_CIDR: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(10, 244, 0, 0), 16);
/// Rule 9.5: where Services without `clusterIP` get one.
pub const SERVICE_CIDR: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(10, 96, 0, 0), 12);

/// Hands out the addresses of a block in order, from `.1`, skipping the network and broadcast
/// addresses and whatever `taken` says is used.
struct Allocator {
    net: Ipv4Net,
    next: u32,
}

impl Allocator {
    fn new(net: Ipv4Net) -> Self {
        Allocator { net, next: 1 }
    }

    fn allocate(&mut self, taken: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
        let base = u32::from(self.net.network());
        let last = u32::from(self.net.broadcast());
        loop {
            let candidate = base.checked_add(self.next)?;
            if candidate >= last {
                return None;
            }
            self.next = self.next.checked_add(1)?;
            let ip = IpAddr::V4(Ipv4Addr::from(candidate));
            if !taken(ip) {
                return Some(ip);
            }
        }
    }
}

/// A state error while applying an object, as a load error naming the object.
fn op_error(origin: &Origin, e: OpError) -> LoadError {
    LoadError {
        file: origin.file.clone(),
        document: Some(origin.document),
        object: Some(origin.object()),
        field: None,
        message: e.message,
        kind: e.kind,
    }
}

/// The state being built, and what building it did.
struct Work {
    state: State,
    closed: Vec<u64>,
    warnings: Vec<String>,
    /// Rule 9.13: the addresses netsem allocated (rule 9.5), with their pod.
    allocated: BTreeMap<Address, PodId>,
}

/// What applying a manifest did: its effects, its warnings, and the addresses netsem allocated
/// to pods that had none (rules 9.5, 9.13).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Connections closed.
    pub effects: Effects,
    /// EndpointSlice endpoints that resolve to no pod (rule 9.7), and the like.
    pub warnings: Vec<String>,
    /// Every address of a pod of the manifest that netsem allocated (now or by an earlier
    /// apply), with its pod.
    pub allocated: BTreeMap<Address, PodId>,
}

impl Work {
    fn record(&mut self, origin: &Origin, r: Result<Effects, OpError>) -> Result<(), LoadError> {
        let effects = r.map_err(|e| op_error(origin, e))?;
        self.closed.extend(effects.closed);
        Ok(())
    }

    fn effects(&mut self) -> Effects {
        let mut closed = std::mem::take(&mut self.closed);
        closed.sort_unstable();
        closed.dedup();
        Effects { closed }
    }

    fn warn(&mut self, origin: &Origin, message: String) {
        self.warnings.push(format!(
            "{}: document {}: {}: {message}",
            origin.file,
            origin.document,
            origin.object()
        ));
    }

    /// Whether `ip` is used in the default domain.
    fn used(&self, ip: IpAddr) -> bool {
        self.state
            .addresses()
            .contains_key(&Address::default_domain(ip))
    }

    /// The pods an EndpointSlice names, resolved against the state (rule 9.7), each with what
    /// the slice states of it (rule 6.27); unresolved endpoints are reported. A pod named twice
    /// keeps its first statement.
    fn slice_pods(
        &mut self,
        origin: &Origin,
        pods: &[(PodId, EndpointFacts)],
        addresses: &[(IpAddr, EndpointFacts)],
    ) -> Vec<(PodId, EndpointFacts)> {
        let mut out = Vec::new();
        for (p, facts) in pods {
            if self.state.pod(p).is_some() {
                out.push((p.clone(), facts.clone()));
            } else {
                self.warn(origin, format!("skipped endpoint: pod {p} does not exist"));
            }
        }
        for (ip, facts) in addresses {
            match self
                .state
                .lookup_address_2_pod_mapping(&Address::default_domain(*ip))
                .cloned()
            {
                Some(p) => out.push((p, facts.clone())),
                None => self.warn(origin, format!("skipped endpoint: no pod has address {ip}")),
            }
        }
        let mut seen = BTreeSet::new();
        out.retain(|(p, _)| seen.insert(p.clone()));
        out
    }

    /// The Service an EndpointSlice is for, if it exists and has no selector (rule 9.7). The
    /// EndpointSlice controller's slice of a Service with a selector is what netsem derives
    /// from the pods (rules 2.6, 6.5), so it is skipped silently; any other slice of such a
    /// Service is skipped with a warning.
    fn slice_service(&mut self, origin: &Origin, service: &ServiceId, controller: bool) -> bool {
        match self.state.service(service) {
            None => {
                self.warn(origin, format!("skipped: Service {service} does not exist"));
                false
            }
            Some(s) if s.managed_selector().is_some() => {
                if !controller {
                    self.warn(
                        origin,
                        format!("skipped: Service {service} has a selector, so its endpoints follow pod labels (kube-proxy would add this slice's endpoints too; netsem does not)"),
                    );
                }
                false
            }
            Some(_) => true,
        }
    }
}

/// The objects of one kind, in manifest order.
fn of<'a, T>(
    m: &'a Manifest,
    pick: impl Fn(&'a Object) -> Option<T> + 'a,
) -> impl Iterator<Item = (&'a Origin, T)> + 'a {
    m.objects
        .iter()
        .filter_map(move |(o, obj)| pick(obj).map(|t| (o, t)))
}

type PodRef<'a> = (
    &'a Pod,
    &'a Vec<Attachment>,
    bool,
    Option<&'a (String, ipnet::Ipv4Net)>,
);

impl Manifest {
    /// Rule 9.1: upserts every object into `state`, all or nothing. See
    /// [`Manifest::apply_reporting`].
    pub fn apply(&self, state: &mut State) -> Result<Effects, LoadError> {
        self.apply_reporting(state).map(|(effects, _)| effects)
    }

    /// Rule 9.1: upserts every object, in the order domains, networks, namespaces, nodes, pods
    /// (by identity), Services (by identity), EndpointSlices, policies; on any error `state` is
    /// left as it was. Also returns the warnings of applying (EndpointSlice endpoints that
    /// resolve to no pod, rule 9.7).
    pub fn apply_reporting(&self, state: &mut State) -> Result<(Effects, Vec<String>), LoadError> {
        self.apply_detailed(state).map(|a| (a.effects, a.warnings))
    }

    /// [`Manifest::apply_reporting`], with the addresses netsem allocated (rule 9.13).
    pub fn apply_detailed(&self, state: &mut State) -> Result<Applied, LoadError> {
        let mut w = Work {
            state: state.clone(),
            closed: Vec::new(),
            warnings: Vec::new(),
            allocated: BTreeMap::new(),
        };
        // On an error `w` is dropped whole, so a deferred settle never leaks out.
        w.state.defer_settle();

        // Domains and networks: declaring an existing one again is a no-op.
        for (o, name) in of(self, |x| match x {
            Object::IpAddressDomain { name } => Some(name),
            _ => None,
        }) {
            if !w.state.domains().contains(name) {
                let r = w.state.add_ip_address_domain(name);
                w.record(o, r)?;
            }
        }
        for (o, (name, domain, implicit, role)) in of(self, |x| match x {
            Object::Network {
                name,
                domain,
                implicit,
                role,
            } => Some((name, domain, *implicit, *role)),
            _ => None,
        }) {
            match w.state.networks().get(name) {
                Some(n) if n.domain == *domain || implicit => {}
                Some(n) => {
                    return Err(op_error(
                        o,
                        OpError::new(
                            ErrorKind::DomainMismatch,
                            format!(
                                "network {name} exists in ip address domain {}, not {domain}",
                                n.domain
                            ),
                        ),
                    ))
                }
                None => {
                    let r = w.state.add_network_with_role(name, domain, role);
                    w.record(o, r)?;
                }
            }
        }

        for (o, (name, labels)) in of(self, |x| match x {
            Object::Namespace { name, labels } => Some((name, labels)),
            _ => None,
        }) {
            let r = if w.state.declared_namespaces().contains_key(name) {
                w.state.set_namespace_labels(name, labels.clone())
            } else {
                w.state.add_namespace(name, labels.clone())
            };
            w.record(o, r)?;
        }

        for (o, (name, labels, addresses)) in of(self, |x| match x {
            Object::Node {
                name,
                labels,
                addresses,
            } => Some((name, labels, addresses)),
            _ => None,
        }) {
            if let Some(old) = w.state.nodes().get(name) {
                let old_addresses: BTreeSet<&Address> = w.state.node_addresses(name).collect();
                if old == labels && old_addresses == addresses.iter().collect() {
                    continue;
                }
                let r = w.state.remove_node(name);
                w.record(o, r)?;
            }
            let r = w.state.add_node(name, labels.clone(), addresses.clone());
            w.record(o, r)?;
        }

        // Rule 6.17: ServiceCIDRs, before the Services whose addresses may come from them; their
        // ranges are immutable, as the API server's `ValidateServiceCIDRUpdate` has them.
        for (o, (name, cidrs)) in of(self, |x| match x {
            Object::ServiceCidr { name, cidrs } => Some((name, cidrs)),
            _ => None,
        }) {
            match w.state.service_cidrs().get(name) {
                Some(old) if old == cidrs => {}
                Some(_) => {
                    return Err(LoadError {
                        field: Some("spec.cidrs".into()),
                        message: "Invalid value: field is immutable".into(),
                        ..op_error(o, OpError::new(ErrorKind::InvalidManifest, String::new()))
                    })
                }
                None => {
                    let r = w.state.add_service_cidr(name, cidrs.clone());
                    w.record(o, r)?;
                }
            }
        }

        self.apply_pods(&mut w)?;
        self.apply_services(&mut w)?;

        for (o, (service, controller, pods, addresses)) in of(self, |x| match x {
            Object::EndpointSlice {
                service,
                controller,
                pods,
                addresses,
            } => Some((service, *controller, pods, addresses)),
            _ => None,
        }) {
            if !w.slice_service(o, service, controller) {
                continue;
            }
            for (pod, facts) in w.slice_pods(o, pods, addresses) {
                let mapped = w
                    .state
                    .lookup_service_2_pod_mappings(service)
                    .is_ok_and(|s| s.contains(&pod));
                // Rule 6.27: a re-applied slice restates its endpoints.
                if mapped && w.state.endpoint_facts(service, &pod) != Some(&facts) {
                    let r = w.state.remove_pod_2_service_mapping(&pod, service);
                    w.record(o, r)?;
                }
                if !mapped || w.state.endpoint_facts(service, &pod).is_none() {
                    let r = w
                        .state
                        .add_pod_2_service_mapping_with(&pod, service, Some(facts));
                    w.record(o, r)?;
                }
            }
        }

        for (o, policy) in of(self, |x| match x {
            Object::NetworkPolicy(p) => Some(p),
            _ => None,
        }) {
            let r = if w.state.policy(&policy.id).is_some() {
                w.state.update_network_policy(policy.clone())
            } else {
                w.state.add_network_policy(policy.clone())
            };
            w.record(o, r)?;
        }
        for (o, policy) in of(self, |x| match x {
            Object::MultiNetworkPolicy(p) => Some(p),
            _ => None,
        }) {
            let r = if w.state.multi_network_policy(&policy.id).is_some() {
                w.state.update_multi_network_policy(policy.clone())
            } else {
                w.state.add_multi_network_policy(policy.clone())
            };
            w.record(o, r)?;
        }

        // Rules 6.19, 6.23, 6.25: entry points, routes and grants, upserted.
        for (o, x) in self.objects.iter().map(|(o, x)| (o, x)) {
            let r = match x {
                Object::EntryPoint(e) => w.state.put_entry_point(e.clone()),
                Object::Route(r) => w.state.put_route(r.clone()),
                Object::ReferenceGrant(g) => w.state.put_reference_grant(g.clone()),
                _ => continue,
            };
            w.record(o, r)?;
        }

        for (o, policy) in of(self, |x| match x {
            Object::AdminPolicy(p) => Some(p),
            _ => None,
        }) {
            let r = if w.state.admin_policy(&policy.id()).is_some() {
                w.state.update_cluster_network_policy(policy.clone())
            } else {
                w.state.add_cluster_network_policy(policy.clone())
            };
            w.record(o, r)?;
        }

        let effects = w.effects();
        w.state.settle_deferred();
        *state = w.state;
        Ok(Applied {
            effects,
            warnings: w.warnings,
            allocated: w.allocated,
        })
    }

    /// Explicit addresses of the manifest in the default domain: never allocated to others.
    fn reserved(&self, state: &State) -> BTreeSet<IpAddr> {
        let mut out = BTreeSet::new();
        for (_, obj) in &self.objects {
            match obj {
                Object::Pod { attachments, .. } => {
                    for a in attachments {
                        let in_default = state
                            .networks()
                            .get(&a.network)
                            .is_some_and(|n| n.domain == DEFAULT_DOMAIN);
                        if in_default {
                            out.extend(a.addresses.iter().copied());
                        }
                    }
                }
                Object::Service {
                    addresses,
                    external_addresses,
                    ..
                } => out.extend(
                    addresses
                        .iter()
                        .chain(external_addresses)
                        .filter(|a| a.domain == DEFAULT_DOMAIN)
                        .map(|a| a.ip),
                ),
                Object::Node { addresses, .. } => out.extend(
                    addresses
                        .iter()
                        .filter(|a| a.domain == DEFAULT_DOMAIN)
                        .map(|a| a.ip),
                ),
                _ => {}
            }
        }
        out
    }

    /// Rule 9.5: pods in identity order; a running, non-host-network pod without an address
    /// keeps the `eth0` address it has, else gets the next free one of [`POD_CIDR`] on the
    /// cluster network, or of its primary user-defined network's subnet (rule 8.10), in that
    /// network's domain.
    fn apply_pods(&self, w: &mut Work) -> Result<(), LoadError> {
        let reserved = self.reserved_addresses(&w.state);
        let mut pods: Vec<(&Origin, PodRef)> = of(self, |x| match x {
            Object::Pod {
                pod,
                attachments,
                auto_address,
                pool,
            } => Some((pod, attachments, *auto_address, pool.as_ref())),
            _ => None,
        })
        .collect();
        pods.sort_by(|a, b| a.1 .0.id.cmp(&b.1 .0.id));
        let mut pools: BTreeMap<String, Allocator> = BTreeMap::new();
        // The `eth0` addresses each pod has now, per network, in one pass over the mapping.
        let mut current: BTreeMap<(PodId, String), Vec<IpAddr>> = BTreeMap::new();
        for (a, owner) in w.state.addresses() {
            if let AddressOwner::Pod {
                pod,
                interface,
                network,
            } = owner
            {
                if interface == PRIMARY_INTERFACE {
                    current
                        .entry((pod.clone(), network.clone()))
                        .or_default()
                        .push(a.ip);
                }
            }
        }
        for (o, (pod, attachments, auto, pool)) in pods {
            let mut all = attachments.clone();
            if auto && pod.is_live() && !pod.host_network {
                let (network, net) = match pool {
                    Some((network, net)) => (network.clone(), *net),
                    None => (DEFAULT_NETWORK.to_string(), POD_CIDR),
                };
                let domain = w
                    .state
                    .networks()
                    .get(&network)
                    .map_or(DEFAULT_DOMAIN.to_string(), |n| n.domain.clone());
                let existing = current
                    .remove(&(pod.id.clone(), network.clone()))
                    .unwrap_or_default();
                let ips = if existing.is_empty() {
                    let allocator = pools
                        .entry(network.clone())
                        .or_insert_with(|| Allocator::new(net));
                    let taken = |ip: IpAddr| {
                        let a = Address::new(domain.clone(), ip);
                        w.state.addresses().contains_key(&a) || reserved.contains(&a)
                    };
                    let ip = allocator.allocate(taken).ok_or_else(|| {
                        op_error(
                            o,
                            OpError::new(
                                ErrorKind::InvalidManifest,
                                format!("no free address left in {net} for pod {}", pod.id),
                            ),
                        )
                    })?;
                    vec![ip]
                } else {
                    existing
                };
                current.insert((pod.id.clone(), network.clone()), ips.clone());
                for ip in &ips {
                    w.allocated
                        .insert(Address::new(domain.clone(), *ip), pod.id.clone());
                }
                all.insert(
                    0,
                    Attachment {
                        network,
                        ..Attachment::primary(ips)
                    },
                );
            }
            let r = if w.state.pod(&pod.id).is_some() {
                w.state.update_pod(pod.clone(), all)
            } else {
                w.state.add_pod(pod.clone(), all)
            };
            w.record(o, r)?;
        }
        Ok(())
    }

    /// Explicit pod addresses of the manifest, in their domains: never allocated to others.
    fn reserved_addresses(&self, state: &State) -> BTreeSet<Address> {
        let mut out: BTreeSet<Address> = self
            .reserved(state)
            .into_iter()
            .map(Address::default_domain)
            .collect();
        for (_, obj) in &self.objects {
            if let Object::Pod { attachments, .. } = obj {
                for a in attachments {
                    if let Some(n) = state.networks().get(&a.network) {
                        out.extend(
                            a.addresses
                                .iter()
                                .map(|ip| Address::new(n.domain.clone(), *ip)),
                        );
                    }
                }
            }
        }
        out
    }

    /// Rule 9.5: Services in identity order; one that needs a cluster address and has none keeps
    /// the one it has, else gets the next free one of the default ServiceCIDR's IPv4 range
    /// ([`SERVICE_CIDR`] unless the state has a ServiceCIDR `kubernetes`, rule 6.17).
    fn apply_services(&self, w: &mut Work) -> Result<(), LoadError> {
        let reserved = self.reserved(&w.state);
        let mut services: Vec<_> = of(self, |x| match x {
            Object::Service {
                service,
                addresses,
                external_addresses,
                auto_address,
            } => Some((service, addresses, external_addresses, *auto_address)),
            _ => None,
        })
        .collect();
        services.sort_by(|a, b| a.1 .0.id.cmp(&b.1 .0.id));
        // Node ports the manifest asks for: never handed out to others.
        let explicit_node_ports: BTreeSet<u16> = services
            .iter()
            .flat_map(|(_, (s, _, _, _))| s.ports.iter().filter_map(|p| p.node_port))
            .collect();
        let range = default_service_range(&w.state);
        let mut pool = Allocator::new(range);
        // The cluster addresses each Service has now, in one pass over the address mapping.
        let mut current: BTreeMap<ServiceId, Vec<Address>> = BTreeMap::new();
        for (a, owner) in w.state.addresses() {
            if let AddressOwner::Service {
                service,
                external: false,
            } = owner
            {
                current.entry(service.clone()).or_default().push(a.clone());
            }
        }
        for (o, (service, addresses, external, auto)) in services {
            let mut cluster = addresses.clone();
            if auto {
                let existing = current.remove(&service.id).unwrap_or_default();
                cluster = if existing.is_empty() {
                    let ip = pool
                        .allocate(|ip| w.used(ip) || reserved.contains(&ip))
                        .ok_or_else(|| {
                            op_error(
                                o,
                                OpError::new(
                                    ErrorKind::InvalidManifest,
                                    format!(
                                        "no free address left in {range} for service {}",
                                        service.id
                                    ),
                                ),
                            )
                        })?;
                    vec![Address::default_domain(ip)]
                } else {
                    existing
                };
            }
            current.insert(service.id.clone(), cluster.clone());
            let service = with_node_ports(service, &w.state, &explicit_node_ports);
            let r = if w.state.service(&service.id).is_some() {
                w.state.update_service(service, cluster, external.clone())
            } else {
                w.state.add_service(service, cluster, external.clone())
            };
            w.record(o, r)?;
        }
        Ok(())
    }

    /// Rule 9.1: removes every object of the manifest from `state`, all or nothing, in the
    /// reverse order of [`Manifest::apply`]: policies, EndpointSlice mappings, Services, pods,
    /// nodes, namespaces (with everything in them, rule 1.4), networks. A missing object is an
    /// error (`not-found`), as for `kubectl delete`. IP address domains are removed when no
    /// longer used, and kept silently otherwise.
    pub fn delete(&self, state: &mut State) -> Result<Effects, LoadError> {
        let mut w = Work {
            state: state.clone(),
            closed: Vec::new(),
            warnings: Vec::new(),
            allocated: BTreeMap::new(),
        };
        // On an error `w` is dropped whole, so a deferred settle never leaks out.
        w.state.defer_settle();
        // Policies first, then what they select; pods in identity order, the rest as given.
        let mut order: Vec<(u8, Option<&PodId>, usize, &Origin, &Object)> = self
            .objects
            .iter()
            .enumerate()
            .map(|(i, (o, x))| {
                let (rank, within) = match x {
                    Object::NetworkPolicy(_)
                    | Object::AdminPolicy(_)
                    | Object::MultiNetworkPolicy(_)
                    | Object::EntryPoint(_)
                    | Object::Route(_)
                    | Object::ReferenceGrant(_) => (0, None),
                    Object::EndpointSlice { .. } => (1, None),
                    Object::Service { .. } | Object::ServiceCidr { .. } => (2, None),
                    Object::Pod { pod, .. } => (3, Some(&pod.id)),
                    Object::Node { .. } => (4, None),
                    Object::Namespace { .. } => (5, None),
                    Object::Network { .. } => (6, None),
                    Object::IpAddressDomain { .. } => (7, None),
                };
                (rank, within, i, o, x)
            })
            .collect();
        order.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let mut done: BTreeSet<String> = BTreeSet::new();
        for (_, _, _, o, x) in order {
            let r = match x {
                Object::EndpointSlice {
                    service,
                    controller,
                    pods,
                    addresses,
                } => {
                    if !w.slice_service(o, service, *controller) {
                        continue;
                    }
                    for (pod, _) in w.slice_pods(o, pods, addresses) {
                        let mapped = w
                            .state
                            .lookup_service_2_pod_mappings(service)
                            .is_ok_and(|s| s.contains(&pod));
                        if mapped {
                            let r = w.state.remove_pod_2_service_mapping(&pod, service);
                            w.record(o, r)?;
                        }
                    }
                    continue;
                }
                Object::IpAddressDomain { name } => {
                    if w.state.domains().contains(name) {
                        // Best effort: another network or address may still use it.
                        let _ = w.state.remove_ip_address_domain(name);
                    }
                    continue;
                }
                Object::NetworkPolicy(p) if done.insert(format!("policy {}", p.id)) => {
                    w.state.remove_network_policy(&p.id)
                }
                Object::AdminPolicy(p) if done.insert(format!("admin policy {}", p.id())) => {
                    w.state.remove_cluster_network_policy(&p.id())
                }
                Object::MultiNetworkPolicy(p)
                    if done.insert(format!("multi-network policy {}", p.id)) =>
                {
                    w.state.remove_multi_network_policy(&p.id)
                }
                Object::ServiceCidr { name, .. } if done.insert(format!("service CIDR {name}")) => {
                    w.state.remove_service_cidr(name)
                }
                Object::Service { service, .. }
                    if done.insert(format!("service {}", service.id)) =>
                {
                    w.state.remove_service(&service.id)
                }
                Object::EntryPoint(e) if done.insert(format!("entry point {}", e.id())) => {
                    if w.state.entry_point(&e.id()).is_none() {
                        continue;
                    }
                    w.state.remove_entry_point(&e.id())
                }
                Object::Route(r) if done.insert(format!("route {}", r.id)) => {
                    if !w.state.routes().any(|x| x.id == r.id) {
                        continue;
                    }
                    w.state.remove_route(&r.id)
                }
                Object::ReferenceGrant(g) if done.insert(format!("grant {}", g.id)) => {
                    if !w.state.reference_grants().any(|x| x.id == g.id) {
                        continue;
                    }
                    w.state.remove_reference_grant(&g.id)
                }
                Object::Pod { pod, .. } if done.insert(format!("pod {}", pod.id)) => {
                    w.state.remove_pod(&pod.id)
                }
                Object::Node { name, .. } if done.insert(format!("node {name}")) => {
                    w.state.remove_node(name)
                }
                Object::Namespace { name, .. } if done.insert(format!("namespace {name}")) => {
                    w.state.remove_namespace(name)
                }
                Object::Network {
                    name,
                    implicit: true,
                    ..
                } => {
                    if w.state.networks().contains_key(name) {
                        // Best effort: declared by a pod's reference, not by the manifest.
                        let _ = w.state.remove_network(name);
                    }
                    continue;
                }
                Object::Network { name, .. } if done.insert(format!("network {name}")) => {
                    w.state.remove_network(name)
                }
                _ => continue,
            };
            w.record(o, r)?;
        }

        let effects = w.effects();
        w.state.settle_deferred();
        *state = w.state;
        Ok(effects)
    }
}

/// Rules 6.12, 9.5: a NodePort or LoadBalancer Service port without a `nodePort` keeps the one
/// it has, else gets the lowest free one of the node port range, in identity order, as the
/// API server would allocate one.
fn with_node_ports(service: &Service, state: &State, reserved: &BTreeSet<u16>) -> Service {
    let mut service = service.clone();
    if !matches!(
        service.service_type,
        ServiceType::NodePort | ServiceType::LoadBalancer
    ) {
        return service;
    }
    let existing = state.service(&service.id);
    let mut used: BTreeSet<u16> = state
        .services()
        .filter(|s| s.id != service.id)
        .flat_map(|s| s.ports.iter().filter_map(|p| p.node_port))
        .chain(reserved.iter().copied())
        .collect();
    for i in 0..service.ports.len() {
        if service.ports[i].node_port.is_some() {
            continue;
        }
        let (protocol, port) = (service.ports[i].protocol, service.ports[i].port);
        let kept = existing
            .and_then(|e| e.port(protocol, port))
            .and_then(|p| p.node_port)
            .filter(|n| !used.contains(n));
        let n = kept.or_else(|| NODE_PORTS.clone().find(|n| !used.contains(n)));
        if let Some(n) = n {
            used.insert(n);
            service.ports[i].node_port = Some(n);
        }
    }
    service
}

/// Rules 6.17, 9.5: where missing cluster addresses come from: the IPv4 range of the
/// ServiceCIDR `kubernetes` (the API server's own) when the state has one, else
/// [`SERVICE_CIDR`].
fn default_service_range(state: &State) -> Ipv4Net {
    state
        .service_cidrs()
        .get(crate::manifest::kinds::service_cidr::DEFAULT_SERVICE_CIDR)
        .into_iter()
        .flatten()
        .find_map(|n| match n {
            ipnet::IpNet::V4(v4) => Some(*v4),
            ipnet::IpNet::V6(_) => None,
        })
        .unwrap_or(SERVICE_CIDR)
}
