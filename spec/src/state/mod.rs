//! The cluster state and the source design's lifecycle and mapping primitives.
//!
//! Every mutating primitive either fails with an [`OpError`] and changes nothing (rule 2.9), or
//! succeeds and then *settles* the state: the label-selector endpoints are recomputed (rule
//! 2.6). Connections closed as a consequence (a removed pod's, rule 2.2) are returned as
//! [`Effects`]. The state holds no decisions: the re-check of established connections under
//! `established: recheck` (rule 7.4) belongs to the engine step ([`crate::engine::execute`],
//! or [`State::recheck`] for direct users), because it decides with a decision core.
//!
//! One file per domain noun: [`namespaces`](self::namespaces), nodes and external entities,
//! networks and domains, pods, Services and their pod mappings, address mappings, policies,
//! connections.
mod address_mappings;
pub use address_mappings::primary_of;
mod admin_policies;
mod connections;
mod entry_points;
mod namespaces;
mod networks;
mod nodes;
mod pods;
mod policies;
mod service_paths;
mod services;

use crate::admin::{AdminPolicyId, ClusterNetworkPolicy};
use crate::connection::Connection;
use crate::error::OpError;
use crate::ident::{ConnectionId, PodId, PolicyId, ServiceId};
use crate::net::{Address, Network, NetworkRole, DEFAULT_DOMAIN, DEFAULT_NETWORK};
use crate::pod::Pod;
use crate::policy::{MultiNetworkPolicy, NetworkPolicy};
use crate::profile::Profile;
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
    /// Cluster-admin policies (rule 11.1).
    admin_policies: BTreeMap<AdminPolicyId, ClusterNetworkPolicy>,
    /// MultiNetworkPolicies (rule 8.8), identities of their own.
    multi_policies: BTreeMap<PolicyId, MultiNetworkPolicy>,
    /// The pod↔service mapping, keyed service first.
    service_pods: BTreeSet<(ServiceId, PodId)>,
    /// What a manually managed EndpointSlice says of an explicitly mapped endpoint (rule 6.27);
    /// kept only while the mapping exists.
    endpoint_facts: BTreeMap<(ServiceId, PodId), crate::service::EndpointFacts>,
    /// The pod↔address, service↔address, node and external address mappings, per domain.
    addresses: BTreeMap<Address, AddressOwner>,
    connections: BTreeMap<ConnectionId, Connection>,
    next_connection_id: ConnectionId,
    /// `ServiceCIDR` objects: the ranges cluster addresses are allocated from (rule 6.17).
    service_cidrs: BTreeMap<String, Vec<ipnet::IpNet>>,
    /// Inside [`State::deferring_settle`]: the selector endpoints are recomputed once at its
    /// end rather than after every primitive.
    settle_deferred: bool,
    /// The clock, in seconds since the trace began (rule 6.16).
    clock: u64,
    /// Session affinities (rule 6.16).
    affinities:
        BTreeMap<crate::decision::services::AffinityKey, crate::decision::services::Affinity>,
    /// Ingresses and Gateways (rule 6.19).
    entry_points: BTreeMap<crate::entry::EntryPointId, crate::entry::EntryPoint>,
    /// Gateway API routes (rule 6.23).
    routes: BTreeMap<crate::entry::RouteId, crate::entry::Route>,
    /// ReferenceGrants (rule 6.25).
    grants: BTreeMap<crate::ident::ObjectId, crate::entry::ReferenceGrant>,
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
                    role: NetworkRole::Primary,
                },
            )]),
            pods: BTreeMap::new(),
            services: BTreeMap::new(),
            policies: BTreeMap::new(),
            admin_policies: BTreeMap::new(),
            multi_policies: BTreeMap::new(),
            service_pods: BTreeSet::new(),
            endpoint_facts: BTreeMap::new(),
            addresses: BTreeMap::new(),
            connections: BTreeMap::new(),
            next_connection_id: 1,
            service_cidrs: BTreeMap::new(),
            clock: 0,
            affinities: BTreeMap::new(),
            settle_deferred: false,
            entry_points: BTreeMap::new(),
            routes: BTreeMap::new(),
            grants: BTreeMap::new(),
        }
    }

    /// The implementation-defined choices in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Switches the profile in place; as [`State::with_profile`], nothing is re-checked.
    pub fn set_profile(&mut self, profile: Profile) {
        self.profile = profile;
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

    /// Every cluster-admin policy, in identity order.
    pub fn admin_policies(&self) -> impl Iterator<Item = &ClusterNetworkPolicy> {
        self.admin_policies.values()
    }

    /// One cluster-admin policy.
    pub fn admin_policy(&self, id: &AdminPolicyId) -> Option<&ClusterNetworkPolicy> {
        self.admin_policies.get(id)
    }

    /// Every MultiNetworkPolicy (rule 8.8), in identity order.
    pub fn multi_network_policies(&self) -> impl Iterator<Item = &MultiNetworkPolicy> {
        self.multi_policies.values()
    }

    /// One MultiNetworkPolicy.
    pub fn multi_network_policy(&self, id: &PolicyId) -> Option<&MultiNetworkPolicy> {
        self.multi_policies.get(id)
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
        all.extend(self.multi_policies.keys().map(|p| p.namespace.clone()));
        all
    }

    // ----- settling -------------------------------------------------------------------------

    pub(super) fn settle(&mut self) -> Effects {
        self.settle_with(Vec::new())
    }

    pub(super) fn settle_with(&mut self, mut closed: Vec<ConnectionId>) -> Effects {
        if self.settle_deferred {
            // A removed mapping takes what its slice stated with it at once, deferred or not:
            // the next primitive may ask for it.
            self.forget_unmapped_endpoint_facts();
        } else {
            self.sync_endpoints();
        }
        closed.sort_unstable();
        Effects { closed }
    }

    /// Defers settling until [`State::settle_deferred`]: the primitives that follow still
    /// check and apply everything of their own; only the selector endpoints (rule 2.6) wait.
    /// The end state is the same, because those endpoints are a function of the Services and
    /// pods alone and no primitive's outcome depends on them (explicit mappings are refused
    /// for selector Services). Loading a manifest of n objects is then linear, not quadratic.
    pub(crate) fn defer_settle(&mut self) {
        self.settle_deferred = true;
    }

    /// Ends [`State::defer_settle`] and settles.
    pub(crate) fn settle_deferred(&mut self) {
        self.settle_deferred = false;
        self.sync_endpoints();
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
                // Pods are keyed namespace first: the namespace's pods are one range.
                let first = PodId::new(svc.id.namespace.clone(), "");
                for pod in self
                    .pods
                    .range(first..)
                    .map(|(_, p)| p)
                    .take_while(|p| p.id.namespace == svc.id.namespace)
                {
                    if selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
                        self.service_pods.insert((svc.id.clone(), pod.id.clone()));
                    }
                }
            }
        }
        self.forget_unmapped_endpoint_facts();
    }

    /// What a slice stated of an endpoint lives only as long as its mapping (rule 6.27).
    fn forget_unmapped_endpoint_facts(&mut self) {
        let mapped = &self.service_pods;
        self.endpoint_facts.retain(|k, _| mapped.contains(k));
    }

    // ----- helpers --------------------------------------------------------------------------

    pub(super) fn check_domain(&self, domain: &str) -> Result<(), OpError> {
        if self.domains.contains(domain) {
            Ok(())
        } else {
            Err(OpError::not_found("ip address domain", domain))
        }
    }

    pub(super) fn check_addresses_free<'a>(
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
