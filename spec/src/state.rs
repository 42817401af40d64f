//! The cluster state and the source design's lifecycle and mapping primitives.
//!
//! Every mutating primitive either fails with an [`OpError`] and changes nothing (rule 2.9), or
//! succeeds and then *settles* the state: the label-selector endpoints are recomputed (rule 2.6)
//! and, under `established: recheck`, open connections are re-checked (rule 7.4). What settling
//! closed is returned as [`Effects`].

use crate::connection::{Connection, Endpoint};
use crate::error::{ErrorKind, OpError};
use crate::ident::{ConnectionId, PodId, PolicyId, ServiceId};
use crate::net::{Address, Network, Protocol, DEFAULT_DOMAIN, DEFAULT_NETWORK, PRIMARY_INTERFACE};
use crate::pod::{Attachment, Pod};
use crate::policy::NetworkPolicy;
use crate::profile::{Established, Profile};
use crate::selector::Labels;
use crate::service::Service;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The label the API server puts on every namespace (rule 1.3).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Who an address in a domain belongs to. One owner per address per domain (rule 3.1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum AddressOwner {
    /// A pod's interface on a network.
    Pod {
        /// The pod.
        pod: PodId,
        /// The pod's interface (`eth0` is primary).
        interface: String,
        /// The network the interface is attached to.
        network: String,
    },
    /// A Service's virtual address.
    Service {
        /// The Service.
        service: ServiceId,
        /// Whether the address is reachable from outside the cluster (`externalIPs`, load
        /// balancer addresses) rather than only from inside (`clusterIP`), rule 6.10.
        external: bool,
    },
    /// A node's address.
    Node {
        /// The node.
        node: String,
    },
    /// A named cluster-external entity (a database, a partner network, …).
    External {
        /// Its name.
        name: String,
    },
}

impl fmt::Display for AddressOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressOwner::Pod { pod, interface, .. } => write!(f, "pod {pod} ({interface})"),
            AddressOwner::Service { service, .. } => write!(f, "service {service}"),
            AddressOwner::Node { node } => write!(f, "node {node}"),
            AddressOwner::External { name } => write!(f, "external entity {name}"),
        }
    }
}

/// What an operation did besides its direct effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Connections closed as a consequence (a removed pod's connections, rule 2.2; connections
    /// cut by a re-check, rule 7.4), in id order.
    pub closed: Vec<ConnectionId>,
}

/// The whole cluster as the semantics sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    profile: Profile,
    /// Declared namespaces, with their labels (always including the name label).
    namespaces: BTreeMap<String, Labels>,
    /// Nodes and their labels.
    nodes: BTreeMap<String, Labels>,
    /// `ip_address_domain<name>`.
    domains: BTreeSet<String>,
    /// `network<name, domain>`.
    networks: BTreeMap<String, Network>,
    pods: BTreeMap<PodId, Pod>,
    services: BTreeMap<ServiceId, Service>,
    policies: BTreeMap<PolicyId, NetworkPolicy>,
    /// The pod↔service mapping, keyed service first.
    service_pods: BTreeSet<(ServiceId, PodId)>,
    /// The pod↔address, service↔address, node and external address mappings, per domain.
    addresses: BTreeMap<Address, AddressOwner>,
    connections: BTreeMap<ConnectionId, Connection>,
    next_connection_id: ConnectionId,
}

impl Default for State {
    fn default() -> Self {
        State::new(Profile::default())
    }
}

impl State {
    /// An empty cluster: the default domain and the default network exist (rule 8.1).
    pub fn new(profile: Profile) -> Self {
        State {
            profile,
            namespaces: BTreeMap::new(),
            nodes: BTreeMap::new(),
            domains: BTreeSet::from([DEFAULT_DOMAIN.to_string()]),
            networks: BTreeMap::from([(
                DEFAULT_NETWORK.to_string(),
                Network {
                    name: DEFAULT_NETWORK.to_string(),
                    domain: DEFAULT_DOMAIN.to_string(),
                },
            )]),
            pods: BTreeMap::new(),
            services: BTreeMap::new(),
            policies: BTreeMap::new(),
            service_pods: BTreeSet::new(),
            addresses: BTreeMap::new(),
            connections: BTreeMap::new(),
            next_connection_id: 1,
        }
    }

    /// The implementation-defined choices in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The same state under another profile. Nothing is re-checked: the new profile applies
    /// from the next operation on.
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    // ----- reading -------------------------------------------------------------------------

    /// Every pod, in identity order.
    pub fn pods(&self) -> impl Iterator<Item = &Pod> {
        self.pods.values()
    }

    /// One pod.
    pub fn pod(&self, id: &PodId) -> Option<&Pod> {
        self.pods.get(id)
    }

    /// Every Service.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    /// One Service.
    pub fn service(&self, id: &ServiceId) -> Option<&Service> {
        self.services.get(id)
    }

    /// Every NetworkPolicy.
    pub fn policies(&self) -> impl Iterator<Item = &NetworkPolicy> {
        self.policies.values()
    }

    /// One NetworkPolicy.
    pub fn policy(&self, id: &PolicyId) -> Option<&NetworkPolicy> {
        self.policies.get(id)
    }

    /// Declared namespaces and their labels.
    pub fn declared_namespaces(&self) -> &BTreeMap<String, Labels> {
        &self.namespaces
    }

    /// Nodes and their labels.
    pub fn nodes(&self) -> &BTreeMap<String, Labels> {
        &self.nodes
    }

    /// The networks, by name.
    pub fn networks(&self) -> &BTreeMap<String, Network> {
        &self.networks
    }

    /// The IP address domains.
    pub fn domains(&self) -> &BTreeSet<String> {
        &self.domains
    }

    /// Every address mapping.
    pub fn addresses(&self) -> &BTreeMap<Address, AddressOwner> {
        &self.addresses
    }

    /// The open connections, in id order.
    pub fn connections(&self) -> &BTreeMap<ConnectionId, Connection> {
        &self.connections
    }

    /// Rule 1.3: a namespace's labels. A namespace that is referenced but not declared has only
    /// `kubernetes.io/metadata.name`; a declared one always carries it too.
    pub fn namespace_labels(&self, namespace: &str) -> Labels {
        self.namespaces.get(namespace).cloned().unwrap_or_else(|| {
            Labels::from([(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string())])
        })
    }

    /// Every namespace that exists: declared, or holding an object (rule 1.3).
    pub fn namespaces(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.namespaces.keys().cloned().collect();
        all.extend(self.pods.keys().map(|p| p.namespace.clone()));
        all.extend(self.services.keys().map(|s| s.namespace.clone()));
        all.extend(self.policies.keys().map(|p| p.namespace.clone()));
        all
    }

    // ----- namespaces, nodes, domains, networks, external entities ------------------------

    /// Declares a namespace with labels; the name label is forced (rule 1.3).
    pub fn add_namespace(&mut self, name: &str, labels: Labels) -> Result<Effects, OpError> {
        if self.namespaces.contains_key(name) {
            return Err(OpError::already_exists("namespace", name));
        }
        self.namespaces
            .insert(name.to_string(), with_name_label(name, labels));
        Ok(self.settle())
    }

    /// Replaces a declared namespace's labels (the name label stays, rule 1.3).
    pub fn set_namespace_labels(&mut self, name: &str, labels: Labels) -> Result<Effects, OpError> {
        // Rule 1.3: a namespace that is only referenced exists too; labelling declares it.
        if !self.namespaces().contains(name) {
            return Err(OpError::not_found("namespace", name));
        }
        self.namespaces
            .insert(name.to_string(), with_name_label(name, labels));
        Ok(self.settle())
    }

    /// Removes a namespace and, as the API server does, every pod, Service and policy in it
    /// (rule 1.4).
    pub fn remove_namespace(&mut self, name: &str) -> Result<Effects, OpError> {
        if !self.namespaces().contains(name) {
            return Err(OpError::not_found("namespace", name));
        }
        let mut closed = Vec::new();
        let pods: Vec<PodId> = self
            .pods
            .keys()
            .filter(|p| p.namespace == name)
            .cloned()
            .collect();
        for pod in pods {
            closed.extend(self.drop_pod(&pod));
        }
        let services: Vec<ServiceId> = self
            .services
            .keys()
            .filter(|s| s.namespace == name)
            .cloned()
            .collect();
        for service in services {
            self.drop_service(&service);
        }
        self.policies.retain(|id, _| id.namespace != name);
        self.namespaces.remove(name);
        Ok(self.settle_with(closed))
    }

    /// Adds a node with labels and addresses (rule 3.5).
    pub fn add_node(
        &mut self,
        name: &str,
        labels: Labels,
        addresses: Vec<Address>,
    ) -> Result<Effects, OpError> {
        if self.nodes.contains_key(name) {
            return Err(OpError::already_exists("node", name));
        }
        let owner = AddressOwner::Node {
            node: name.to_string(),
        };
        self.check_addresses_free(addresses.iter())?;
        for a in &addresses {
            self.check_domain(&a.domain)?;
        }
        self.nodes.insert(name.to_string(), labels);
        for a in addresses {
            self.addresses.insert(a, owner.clone());
        }
        Ok(self.settle())
    }

    /// Removes a node, its addresses and the connections of those addresses.
    pub fn remove_node(&mut self, name: &str) -> Result<Effects, OpError> {
        if self.nodes.remove(name).is_none() {
            return Err(OpError::not_found("node", name));
        }
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Node { node } if node == name));
        let closed = self.close_where(|c| {
            [&c.source, &c.destination]
                .iter()
                .any(|e| matches!(e, Endpoint::Node { node, .. } if node == name))
        });
        Ok(self.settle_with(closed))
    }

    /// Names a cluster-external entity by its addresses (rule 3.6).
    pub fn add_external_entity(
        &mut self,
        name: &str,
        addresses: Vec<Address>,
    ) -> Result<Effects, OpError> {
        if self
            .addresses
            .values()
            .any(|o| matches!(o, AddressOwner::External { name: n } if n == name))
        {
            return Err(OpError::already_exists("external entity", name));
        }
        self.check_addresses_free(addresses.iter())?;
        for a in &addresses {
            self.check_domain(&a.domain)?;
        }
        for a in addresses {
            self.addresses.insert(
                a,
                AddressOwner::External {
                    name: name.to_string(),
                },
            );
        }
        Ok(self.settle())
    }

    /// `ip_address_domain<name>` (rule 8.1).
    pub fn add_ip_address_domain(&mut self, name: &str) -> Result<Effects, OpError> {
        if !self.domains.insert(name.to_string()) {
            return Err(OpError::already_exists("ip address domain", name));
        }
        Ok(self.settle())
    }

    /// Removes a domain no network and no address uses.
    pub fn remove_ip_address_domain(&mut self, name: &str) -> Result<Effects, OpError> {
        if !self.domains.contains(name) {
            return Err(OpError::not_found("ip address domain", name));
        }
        if name == DEFAULT_DOMAIN
            || self.networks.values().any(|n| n.domain == name)
            || self.addresses.keys().any(|a| a.domain == name)
        {
            return Err(OpError::new(
                ErrorKind::InUse,
                format!("ip address domain {name} is in use"),
            ));
        }
        self.domains.remove(name);
        Ok(self.settle())
    }

    /// `network<name, domain>` (rule 8.1).
    pub fn add_network(&mut self, name: &str, domain: &str) -> Result<Effects, OpError> {
        if self.networks.contains_key(name) {
            return Err(OpError::already_exists("network", name));
        }
        self.check_domain(domain)?;
        self.networks.insert(
            name.to_string(),
            Network {
                name: name.to_string(),
                domain: domain.to_string(),
            },
        );
        Ok(self.settle())
    }

    /// Removes a network no address uses.
    pub fn remove_network(&mut self, name: &str) -> Result<Effects, OpError> {
        if !self.networks.contains_key(name) {
            return Err(OpError::not_found("network", name));
        }
        if name == DEFAULT_NETWORK
            || self
                .addresses
                .values()
                .any(|o| matches!(o, AddressOwner::Pod { network, .. } if network == name))
        {
            return Err(OpError::new(
                ErrorKind::InUse,
                format!("network {name} is in use"),
            ));
        }
        self.networks.remove(name);
        Ok(self.settle())
    }

    // ----- pods -----------------------------------------------------------------------------

    /// `addPod`: adds a pod and maps the addresses of its attachments (rules 2.1, 3.1).
    pub fn add_pod(&mut self, pod: Pod, attachments: Vec<Attachment>) -> Result<Effects, OpError> {
        if self.pods.contains_key(&pod.id) {
            return Err(OpError::already_exists("pod", &pod.id));
        }
        let mappings = self.attachment_mappings(&pod.id, &attachments)?;
        self.check_addresses_free(mappings.iter().map(|(a, _)| a))?;
        self.pods.insert(pod.id.clone(), pod);
        self.addresses.extend(mappings);
        Ok(self.settle())
    }

    /// Replaces a pod's object and addresses in place, keeping its connections (an `apply` of
    /// a changed pod, rule 2.4).
    pub fn update_pod(
        &mut self,
        pod: Pod,
        attachments: Vec<Attachment>,
    ) -> Result<Effects, OpError> {
        if !self.pods.contains_key(&pod.id) {
            return Err(OpError::not_found("pod", &pod.id));
        }
        let mappings = self.attachment_mappings(&pod.id, &attachments)?;
        for (a, _) in &mappings {
            match self.addresses.get(a) {
                Some(AddressOwner::Pod { pod: p, .. }) if *p == pod.id => {}
                Some(owner) => return Err(OpError::address_in_use(a, owner)),
                None => {}
            }
        }
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Pod { pod: p, .. } if *p == pod.id));
        self.addresses.extend(mappings);
        self.pods.insert(pod.id.clone(), pod);
        Ok(self.settle())
    }

    /// `removePod`: removes the pod, its service and address mappings and its connections
    /// (rule 2.2).
    pub fn remove_pod(&mut self, id: &PodId) -> Result<Effects, OpError> {
        if !self.pods.contains_key(id) {
            return Err(OpError::not_found("pod", id));
        }
        let closed = self.drop_pod(id);
        Ok(self.settle_with(closed))
    }

    /// Replaces a pod's labels (rule 2.4).
    pub fn set_pod_labels(&mut self, id: &PodId, labels: Labels) -> Result<Effects, OpError> {
        let pod = self
            .pods
            .get_mut(id)
            .ok_or_else(|| OpError::not_found("pod", id))?;
        pod.labels = labels;
        Ok(self.settle())
    }

    fn drop_pod(&mut self, id: &PodId) -> Vec<ConnectionId> {
        self.pods.remove(id);
        self.service_pods.retain(|(_, p)| p != id);
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Pod { pod, .. } if pod == id));
        self.close_where(|c| c.source.pod() == Some(id) || c.destination.pod() == Some(id))
    }

    fn attachment_mappings(
        &self,
        pod: &PodId,
        attachments: &[Attachment],
    ) -> Result<Vec<(Address, AddressOwner)>, OpError> {
        let mut out = Vec::new();
        for att in attachments {
            let network = self
                .networks
                .get(&att.network)
                .ok_or_else(|| OpError::not_found("network", &att.network))?;
            for ip in &att.addresses {
                out.push((
                    Address::new(network.domain.clone(), *ip),
                    AddressOwner::Pod {
                        pod: pod.clone(),
                        interface: att.interface.clone(),
                        network: network.name.clone(),
                    },
                ));
            }
        }
        Ok(out)
    }

    // ----- services -------------------------------------------------------------------------

    /// `addService`: adds a Service with its cluster addresses and externally reachable
    /// addresses (rules 2.5, 3.1, 6.10).
    pub fn add_service(
        &mut self,
        service: Service,
        addresses: Vec<Address>,
        external_addresses: Vec<Address>,
    ) -> Result<Effects, OpError> {
        if self.services.contains_key(&service.id) {
            return Err(OpError::already_exists("service", &service.id));
        }
        let mappings = service_mappings(&service.id, addresses, external_addresses);
        self.check_addresses_free(mappings.iter().map(|(a, _)| a))?;
        for (a, _) in &mappings {
            self.check_domain(&a.domain)?;
        }
        self.services.insert(service.id.clone(), service);
        self.addresses.extend(mappings);
        Ok(self.settle())
    }

    /// Replaces a Service in place (an `apply` of a changed Service).
    pub fn update_service(
        &mut self,
        service: Service,
        addresses: Vec<Address>,
        external_addresses: Vec<Address>,
    ) -> Result<Effects, OpError> {
        if !self.services.contains_key(&service.id) {
            return Err(OpError::not_found("service", &service.id));
        }
        let mappings = service_mappings(&service.id, addresses, external_addresses);
        for (a, _) in &mappings {
            self.check_domain(&a.domain)?;
            match self.addresses.get(a) {
                Some(AddressOwner::Service { service: s, .. }) if *s == service.id => {}
                Some(owner) => return Err(OpError::address_in_use(a, owner)),
                None => {}
            }
        }
        let id = service.id.clone();
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Service { service: s, .. } if *s == id));
        self.addresses.extend(mappings);
        // Switching between selector and explicit mapping starts the mapping afresh.
        if service.managed_selector().is_some() || self.services[&id].managed_selector().is_some() {
            self.service_pods.retain(|(s, _)| *s != id);
        }
        self.services.insert(id, service);
        Ok(self.settle())
    }

    /// `removeService`: removes the Service and its pod and address mappings (rule 2.5).
    /// Connections opened through it stay open (rule 6.11).
    pub fn remove_service(&mut self, id: &ServiceId) -> Result<Effects, OpError> {
        if !self.services.contains_key(id) {
            return Err(OpError::not_found("service", id));
        }
        self.drop_service(id);
        Ok(self.settle())
    }

    fn drop_service(&mut self, id: &ServiceId) {
        self.services.remove(id);
        self.service_pods.retain(|(s, _)| s != id);
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Service { service, .. } if service == id));
    }

    // ----- the six pod↔service mapping primitives (rules 2.5, 2.6) ---------------------------

    fn explicit_service(&self, service: &ServiceId) -> Result<&Service, OpError> {
        let svc = self
            .services
            .get(service)
            .ok_or_else(|| OpError::not_found("service", service))?;
        if svc.managed_selector().is_some() {
            return Err(OpError::new(
                ErrorKind::SelectorManaged,
                format!("service {service} has a selector; its backends follow pod labels"),
            ));
        }
        Ok(svc)
    }

    /// `addPod2ServiceMapping`.
    pub fn add_pod_2_service_mapping(
        &mut self,
        pod: &PodId,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        self.explicit_service(service)?;
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        if !self.service_pods.insert((service.clone(), pod.clone())) {
            return Err(OpError::already_exists(
                "mapping",
                format!("{pod} -> {service}"),
            ));
        }
        Ok(self.settle())
    }

    /// `removePod2ServiceMapping`.
    pub fn remove_pod_2_service_mapping(
        &mut self,
        pod: &PodId,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        self.explicit_service(service)?;
        if !self.service_pods.remove(&(service.clone(), pod.clone())) {
            return Err(OpError::not_found("mapping", format!("{pod} -> {service}")));
        }
        Ok(self.settle())
    }

    /// `removePod2ServiceMappings`: every explicit mapping of the pod.
    pub fn remove_pod_2_service_mappings(&mut self, pod: &PodId) -> Result<Effects, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        let services = &self.services;
        self.service_pods.retain(|(s, p)| {
            p != pod
                || services
                    .get(s)
                    .is_some_and(|svc| svc.managed_selector().is_some())
        });
        Ok(self.settle())
    }

    /// `removeService2PodMappings`.
    pub fn remove_service_2_pod_mappings(
        &mut self,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        self.explicit_service(service)?;
        self.service_pods.retain(|(s, _)| s != service);
        Ok(self.settle())
    }

    /// `lookupPod2ServiceMappings`.
    pub fn lookup_pod_2_service_mappings(
        &self,
        pod: &PodId,
    ) -> Result<BTreeSet<ServiceId>, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        Ok(self
            .service_pods
            .iter()
            .filter(|(_, p)| p == pod)
            .map(|(s, _)| s.clone())
            .collect())
    }

    /// `lookupService2PodMappings`.
    pub fn lookup_service_2_pod_mappings(
        &self,
        service: &ServiceId,
    ) -> Result<BTreeSet<PodId>, OpError> {
        if !self.services.contains_key(service) {
            return Err(OpError::not_found("service", service));
        }
        Ok(self
            .service_pods
            .iter()
            .filter(|(s, _)| s == service)
            .map(|(_, p)| p.clone())
            .collect())
    }

    // ----- pod↔address and service↔address mappings (rule 3.1) -----------------------------

    /// `addAddress2PodMapping(domain, ip, pod)`: the address goes on `interface`, attached to
    /// `network` (by default the network of the address's domain the pod already uses on that
    /// interface, else the default network).
    pub fn add_address_2_pod_mapping(
        &mut self,
        address: Address,
        pod: &PodId,
        interface: Option<&str>,
        network: Option<&str>,
    ) -> Result<Effects, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        self.check_addresses_free([&address])?;
        let interface = interface.unwrap_or(PRIMARY_INTERFACE).to_string();
        let network = match network {
            Some(n) => n.to_string(),
            None => self
                .addresses
                .values()
                .find_map(|o| match o {
                    AddressOwner::Pod {
                        pod: p,
                        interface: i,
                        network,
                    } if p == pod && *i == interface => Some(network.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| DEFAULT_NETWORK.to_string()),
        };
        let net = self
            .networks
            .get(&network)
            .ok_or_else(|| OpError::not_found("network", &network))?;
        if net.domain != address.domain {
            return Err(OpError::new(
                ErrorKind::DomainMismatch,
                format!(
                    "address {address} is not in the domain {} of network {network}",
                    net.domain
                ),
            ));
        }
        self.addresses.insert(
            address,
            AddressOwner::Pod {
                pod: pod.clone(),
                interface,
                network,
            },
        );
        Ok(self.settle())
    }

    /// `removeAddress2PodMapping`.
    pub fn remove_address_2_pod_mapping(
        &mut self,
        address: &Address,
        pod: &PodId,
    ) -> Result<Effects, OpError> {
        match self.addresses.get(address) {
            Some(AddressOwner::Pod { pod: p, .. }) if p == pod => {
                self.addresses.remove(address);
                Ok(self.settle())
            }
            _ => Err(OpError::not_found("mapping", format!("{address} -> {pod}"))),
        }
    }

    /// `removePod2AddressMappings`.
    pub fn remove_pod_2_address_mappings(&mut self, pod: &PodId) -> Result<Effects, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Pod { pod: p, .. } if p == pod));
        Ok(self.settle())
    }

    /// `lookupPod2AddressMappings`: every `<domain, address>` of the pod, in address order.
    pub fn lookup_pod_2_address_mappings(&self, pod: &PodId) -> Result<Vec<Address>, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        Ok(self.pod_addresses(pod).map(|(a, _, _)| a.clone()).collect())
    }

    /// `lookupAddress2PodMapping`: zero or one pod (rule 3.1).
    pub fn lookup_address_2_pod_mapping(&self, address: &Address) -> Option<&PodId> {
        match self.addresses.get(address) {
            Some(AddressOwner::Pod { pod, .. }) => Some(pod),
            _ => None,
        }
    }

    /// `addAddress2ServiceMapping`.
    pub fn add_address_2_service_mapping(
        &mut self,
        address: Address,
        service: &ServiceId,
        external: bool,
    ) -> Result<Effects, OpError> {
        if !self.services.contains_key(service) {
            return Err(OpError::not_found("service", service));
        }
        self.check_domain(&address.domain)?;
        self.check_addresses_free([&address])?;
        self.addresses.insert(
            address,
            AddressOwner::Service {
                service: service.clone(),
                external,
            },
        );
        Ok(self.settle())
    }

    /// `removeAddress2ServiceMapping`.
    pub fn remove_address_2_service_mapping(
        &mut self,
        address: &Address,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        match self.addresses.get(address) {
            Some(AddressOwner::Service { service: s, .. }) if s == service => {
                self.addresses.remove(address);
                Ok(self.settle())
            }
            _ => Err(OpError::not_found(
                "mapping",
                format!("{address} -> {service}"),
            )),
        }
    }

    /// `removeService2AddressMappings`.
    pub fn remove_service_2_address_mappings(
        &mut self,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        if !self.services.contains_key(service) {
            return Err(OpError::not_found("service", service));
        }
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Service { service: s, .. } if s == service));
        Ok(self.settle())
    }

    /// `lookupService2AddressMappings`.
    pub fn lookup_service_2_address_mappings(
        &self,
        service: &ServiceId,
    ) -> Result<Vec<Address>, OpError> {
        if !self.services.contains_key(service) {
            return Err(OpError::not_found("service", service));
        }
        Ok(self
            .addresses
            .iter()
            .filter(|(_, o)| matches!(o, AddressOwner::Service { service: s, .. } if s == service))
            .map(|(a, _)| a.clone())
            .collect())
    }

    /// `lookupAddress2ServiceMapping`: zero or one Service.
    pub fn lookup_address_2_service_mapping(&self, address: &Address) -> Option<&ServiceId> {
        match self.addresses.get(address) {
            Some(AddressOwner::Service { service, .. }) => Some(service),
            _ => None,
        }
    }

    /// A pod's own addresses with interface and network, in address order (IPv4 first).
    pub fn pod_addresses<'a>(
        &'a self,
        pod: &'a PodId,
    ) -> impl Iterator<Item = (&'a Address, &'a str, &'a str)> + 'a {
        self.addresses.iter().filter_map(move |(a, o)| match o {
            AddressOwner::Pod {
                pod: p,
                interface,
                network,
            } if p == pod => Some((a, interface.as_str(), network.as_str())),
            _ => None,
        })
    }

    /// A node's addresses, in address order.
    pub fn node_addresses<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Address> + 'a {
        self.addresses.iter().filter_map(move |(a, o)| match o {
            AddressOwner::Node { node: n } if n == node => Some(a),
            _ => None,
        })
    }

    // ----- NetworkPolicy lifecycle (rule 5.14) ----------------------------------------------

    /// `addNetworkPolicy`.
    pub fn add_network_policy(&mut self, policy: NetworkPolicy) -> Result<Effects, OpError> {
        if self.policies.contains_key(&policy.id) {
            return Err(OpError::already_exists("network policy", &policy.id));
        }
        self.policies.insert(policy.id.clone(), policy);
        Ok(self.settle())
    }

    /// `updateNetworkPolicy`: replaces an existing policy.
    pub fn update_network_policy(&mut self, policy: NetworkPolicy) -> Result<Effects, OpError> {
        let slot = self
            .policies
            .get_mut(&policy.id)
            .ok_or_else(|| OpError::not_found("network policy", &policy.id))?;
        *slot = policy;
        Ok(self.settle())
    }

    /// `removeNetworkPolicy`.
    pub fn remove_network_policy(&mut self, id: &PolicyId) -> Result<Effects, OpError> {
        if self.policies.remove(id).is_none() {
            return Err(OpError::not_found("network policy", id));
        }
        Ok(self.settle())
    }

    // ----- the connection table (rules 2.7, 2.8) --------------------------------------------

    /// `newConnection`: records a connection and hands out the next id (ids start at 1 and are
    /// never reused).
    pub fn new_connection(
        &mut self,
        source: Endpoint,
        destination: Endpoint,
        protocol: Protocol,
        port: u16,
        service: Option<ServiceId>,
    ) -> ConnectionId {
        let id = self.next_connection_id;
        self.next_connection_id += 1;
        self.connections.insert(
            id,
            Connection {
                id,
                source,
                destination,
                protocol,
                port,
                service,
            },
        );
        id
    }

    /// `deleteConnection`.
    pub fn delete_connection(&mut self, id: ConnectionId) -> Result<Connection, OpError> {
        self.connections
            .remove(&id)
            .ok_or_else(|| OpError::unknown_connection(id))
    }

    /// `closePodConnection`.
    pub fn close_pod_connection(&mut self, id: ConnectionId) -> Result<Effects, OpError> {
        self.delete_connection(id)?;
        Ok(Effects::default())
    }

    fn close_where(&mut self, doomed: impl Fn(&Connection) -> bool) -> Vec<ConnectionId> {
        let ids: Vec<ConnectionId> = self
            .connections
            .values()
            .filter(|c| doomed(c))
            .map(|c| c.id)
            .collect();
        for id in &ids {
            self.connections.remove(id);
        }
        ids
    }

    // ----- settling -------------------------------------------------------------------------

    fn settle(&mut self) -> Effects {
        self.settle_with(Vec::new())
    }

    fn settle_with(&mut self, mut closed: Vec<ConnectionId>) -> Effects {
        self.sync_endpoints();
        if self.profile.established == Established::Recheck {
            let cut: Vec<ConnectionId> = self
                .connections
                .values()
                .filter(|c| !self.recheck(c))
                .map(|c| c.id)
                .collect();
            for id in &cut {
                self.connections.remove(id);
            }
            closed.extend(cut);
        }
        closed.sort_unstable();
        Effects { closed }
    }

    /// Rule 2.6: a Service with a selector is mapped to exactly the pods of its namespace whose
    /// labels carry every selector pair (the EndpointSlice controller's job).
    fn sync_endpoints(&mut self) {
        let services = &self.services;
        self.service_pods.retain(|(s, _)| {
            services
                .get(s)
                .is_some_and(|svc| svc.managed_selector().is_none())
        });
        for svc in self.services.values() {
            if let Some(selector) = svc.managed_selector() {
                for pod in self.pods.values() {
                    if pod.id.namespace == svc.id.namespace
                        && selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
                    {
                        self.service_pods.insert((svc.id.clone(), pod.id.clone()));
                    }
                }
            }
        }
    }

    // ----- helpers --------------------------------------------------------------------------

    fn check_domain(&self, domain: &str) -> Result<(), OpError> {
        if self.domains.contains(domain) {
            Ok(())
        } else {
            Err(OpError::not_found("ip address domain", domain))
        }
    }

    fn check_addresses_free<'a>(
        &self,
        addresses: impl IntoIterator<Item = &'a Address>,
    ) -> Result<(), OpError> {
        let mut seen = BTreeSet::new();
        for a in addresses {
            if let Some(owner) = self.addresses.get(a) {
                return Err(OpError::address_in_use(a, owner));
            }
            if !seen.insert(a) {
                return Err(OpError::address_in_use(a, "the same request"));
            }
        }
        Ok(())
    }
}

fn with_name_label(name: &str, mut labels: Labels) -> Labels {
    labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
    labels
}

fn service_mappings(
    id: &ServiceId,
    addresses: Vec<Address>,
    external_addresses: Vec<Address>,
) -> Vec<(Address, AddressOwner)> {
    let owner = |external| AddressOwner::Service {
        service: id.clone(),
        external,
    };
    addresses
        .into_iter()
        .map(|a| (a, owner(false)))
        .chain(external_addresses.into_iter().map(|a| (a, owner(true))))
        .collect()
}
