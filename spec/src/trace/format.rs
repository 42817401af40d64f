//! The trace format (docs/TRACES.md, version 1): a versioned sequence of operations, each with
//! the observation it expects. Rules 10.1, 10.2.

use crate::admin::{AdminPolicyId, ClusterNetworkPolicy};
use crate::connection::Endpoint;
use crate::entry::{EntryPointId, Gateway, Ingress, ReferenceGrant, Route, RouteId};
use crate::error::ErrorKind;
use crate::ident::{ConnectionId, ObjectId, PodId, PolicyId, ServiceId};
use crate::net::{Address, NetworkRole, Protocol};
use crate::pod::{Attachment, Pod};
use crate::policy::{MultiNetworkPolicy, NetworkPolicy};
use crate::profile::Profile;
use crate::selector::Labels;
use crate::service::Service;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// The trace format version this crate reads and writes (the `netsemTrace` key).
pub const TRACE_FORMAT_VERSION: u32 = 1;

/// One operation: a primitive of the source design, a manifest apply/delete, or a label change.
/// Field names are those of the primitives; `from`/`to` are always source/destination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "op",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Op {
    /// Declare a namespace.
    AddNamespace {
        /// Its name.
        name: String,
        /// Its labels (the name label is added).
        #[serde(default)]
        labels: Labels,
    },
    /// Replace a namespace's labels.
    SetNamespaceLabels {
        /// The namespace.
        name: String,
        /// The new labels.
        #[serde(default)]
        labels: Labels,
    },
    /// Remove a namespace and everything in it.
    RemoveNamespace {
        /// The namespace.
        name: String,
    },
    /// Add a node.
    AddNode {
        /// Its name.
        name: String,
        /// Its labels.
        #[serde(default)]
        labels: Labels,
        /// Its addresses.
        #[serde(default)]
        addresses: Vec<Address>,
    },
    /// Remove a node.
    RemoveNode {
        /// Its name.
        name: String,
    },
    /// Name a cluster-external entity.
    AddExternalEntity {
        /// Its name.
        name: String,
        /// Its addresses.
        addresses: Vec<Address>,
    },
    /// `ip_address_domain<name>`.
    AddIpAddressDomain {
        /// The domain.
        name: String,
    },
    /// Remove an unused domain.
    RemoveIpAddressDomain {
        /// The domain.
        name: String,
    },
    /// `network<name, domain>`.
    AddNetwork {
        /// The network.
        name: String,
        /// Its domain.
        domain: String,
        /// `secondary` (the default) or `primary` (a primary user-defined network, rule 8.11).
        #[serde(default, skip_serializing_if = "NetworkRole::is_secondary")]
        role: NetworkRole,
    },
    /// Remove an unused network.
    RemoveNetwork {
        /// The network.
        name: String,
    },
    /// `addServiceCIDR`: a `ServiceCIDR` range cluster addresses come from (rule 6.17).
    #[serde(rename = "addServiceCIDR")]
    AddServiceCidr {
        /// Its name.
        name: String,
        /// Its CIDRs (one per family).
        cidrs: Vec<ipnet::IpNet>,
    },
    /// `removeServiceCIDR`.
    #[serde(rename = "removeServiceCIDR")]
    RemoveServiceCidr {
        /// Its name.
        name: String,
    },
    /// `advanceClock`: time passes (rule 6.16).
    AdvanceClock {
        /// How many seconds.
        seconds: u64,
    },
    /// `addPod`.
    AddPod {
        /// The pod.
        pod: Pod,
        /// Shorthand: addresses on `eth0` in the default network.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        addresses: Vec<IpAddr>,
        /// Further attachments.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<Attachment>,
    },
    /// `removePod`.
    RemovePod {
        /// The pod.
        pod: PodId,
    },
    /// Replace a pod's labels.
    SetPodLabels {
        /// The pod.
        pod: PodId,
        /// The new labels.
        #[serde(default)]
        labels: Labels,
    },
    /// `addService`.
    AddService {
        /// The Service.
        service: Service,
        /// Its cluster addresses.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        addresses: Vec<Address>,
        /// Its externally reachable addresses.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        external_addresses: Vec<Address>,
    },
    /// `removeService`.
    RemoveService {
        /// The Service.
        service: ServiceId,
    },
    /// `addPod2ServiceMapping`.
    AddPod2ServiceMapping {
        /// The pod.
        pod: PodId,
        /// The Service.
        service: ServiceId,
        /// What a manually managed EndpointSlice says of the endpoint (rule 6.27); absent,
        /// its conditions follow the pod (rule 6.5).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<crate::service::EndpointFacts>,
    },
    /// `removePod2ServiceMapping`.
    RemovePod2ServiceMapping {
        /// The pod.
        pod: PodId,
        /// The Service.
        service: ServiceId,
    },
    /// `removePod2ServiceMappings`.
    RemovePod2ServiceMappings {
        /// The pod.
        pod: PodId,
    },
    /// `removeService2PodMappings`.
    RemoveService2PodMappings {
        /// The Service.
        service: ServiceId,
    },
    /// `lookupPod2ServiceMappings`; observed as `services`.
    LookupPod2ServiceMappings {
        /// The pod.
        pod: PodId,
    },
    /// `lookupService2PodMappings`; observed as `pods`.
    LookupService2PodMappings {
        /// The Service.
        service: ServiceId,
    },
    /// `addAddress2PodMapping`.
    AddAddress2PodMapping {
        /// The address (with its domain).
        address: Address,
        /// The pod.
        pod: PodId,
        /// The interface, `eth0` by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interface: Option<String>,
        /// The network, by default the one the pod already uses on that interface.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network: Option<String>,
    },
    /// `removeAddress2PodMapping`.
    RemoveAddress2PodMapping {
        /// The address.
        address: Address,
        /// The pod.
        pod: PodId,
    },
    /// `removePod2AddressMappings`.
    RemovePod2AddressMappings {
        /// The pod.
        pod: PodId,
    },
    /// `lookupPod2AddressMappings`; observed as `addresses`.
    LookupPod2AddressMappings {
        /// The pod.
        pod: PodId,
    },
    /// `lookupAddress2PodMapping`; observed as `pods` (zero or one).
    LookupAddress2PodMapping {
        /// The address.
        address: Address,
    },
    /// `addAddress2ServiceMapping`.
    AddAddress2ServiceMapping {
        /// The address.
        address: Address,
        /// The Service.
        service: ServiceId,
        /// Reachable from outside the cluster.
        #[serde(default)]
        external: bool,
    },
    /// `removeAddress2ServiceMapping`.
    RemoveAddress2ServiceMapping {
        /// The address.
        address: Address,
        /// The Service.
        service: ServiceId,
    },
    /// `removeService2AddressMappings`.
    RemoveService2AddressMappings {
        /// The Service.
        service: ServiceId,
    },
    /// `lookupService2AddressMappings`; observed as `addresses`.
    LookupService2AddressMappings {
        /// The Service.
        service: ServiceId,
    },
    /// `lookupAddress2ServiceMapping`; observed as `services` (zero or one).
    LookupAddress2ServiceMapping {
        /// The address.
        address: Address,
    },
    /// `addNetworkPolicy`.
    AddNetworkPolicy {
        /// The policy.
        policy: NetworkPolicy,
    },
    /// `updateNetworkPolicy`.
    UpdateNetworkPolicy {
        /// The policy.
        policy: NetworkPolicy,
    },
    /// `removeNetworkPolicy`.
    RemoveNetworkPolicy {
        /// The policy.
        policy: PolicyId,
    },
    /// `addClusterNetworkPolicy` (rule 11.1).
    AddClusterNetworkPolicy {
        /// The policy.
        policy: ClusterNetworkPolicy,
    },
    /// `updateClusterNetworkPolicy`.
    UpdateClusterNetworkPolicy {
        /// The policy.
        policy: ClusterNetworkPolicy,
    },
    /// `removeClusterNetworkPolicy`: by name, or `Kind/name` for the v1alpha1 kinds.
    RemoveClusterNetworkPolicy {
        /// The policy.
        policy: AdminPolicyId,
    },
    /// `addMultiNetworkPolicy` (rule 8.8).
    AddMultiNetworkPolicy {
        /// The policy (`id`, `networks`, then the fields of NetworkPolicy v1).
        policy: MultiNetworkPolicy,
    },
    /// `updateMultiNetworkPolicy` (rule 8.8).
    UpdateMultiNetworkPolicy {
        /// The policy.
        policy: MultiNetworkPolicy,
    },
    /// `removeMultiNetworkPolicy` (rule 8.8).
    RemoveMultiNetworkPolicy {
        /// The policy.
        policy: PolicyId,
    },
    /// `addIngress` (rule 6.19).
    AddIngress {
        /// The Ingress.
        ingress: Ingress,
    },
    /// `removeIngress`.
    RemoveIngress {
        /// The Ingress, `namespace/name`.
        ingress: ObjectId,
    },
    /// `addGateway` (rule 6.19).
    AddGateway {
        /// The Gateway.
        gateway: Gateway,
    },
    /// `removeGateway`.
    RemoveGateway {
        /// The Gateway, `namespace/name`.
        gateway: ObjectId,
    },
    /// `addRoute`: an HTTPRoute, GRPCRoute, TLSRoute, TCPRoute or UDPRoute (rule 6.23).
    AddRoute {
        /// The route.
        route: Route,
    },
    /// `removeRoute`.
    RemoveRoute {
        /// The route, `KIND/namespace/name`.
        route: RouteId,
    },
    /// `addReferenceGrant` (rule 6.25).
    AddReferenceGrant {
        /// The grant.
        grant: ReferenceGrant,
    },
    /// `removeReferenceGrant`.
    RemoveReferenceGrant {
        /// The grant, `namespace/name`.
        grant: ObjectId,
    },
    /// `allowNewConnectionToPod(sourcePod, destinationPod, …)`: egress of `from`.
    AllowNewConnectionToPod {
        /// The source pod.
        from: PodId,
        /// The destination pod.
        to: PodId,
        /// TCP by default.
        #[serde(default = "Protocol::tcp")]
        protocol: Protocol,
        /// The destination port.
        port: u16,
    },
    /// `allowNewConnectionFromPod(destinationPod, sourcePod, …)`: ingress of `to`.
    AllowNewConnectionFromPod {
        /// The source pod.
        from: PodId,
        /// The destination pod.
        to: PodId,
        /// TCP by default.
        #[serde(default = "Protocol::tcp")]
        protocol: Protocol,
        /// The destination port.
        port: u16,
    },
    /// `allowNewConnectionFromIpAddress`: ingress of `to` from an address.
    AllowNewConnectionFromIpAddress {
        /// The source address.
        from: Address,
        /// The destination pod.
        to: PodId,
        /// TCP by default.
        #[serde(default = "Protocol::tcp")]
        protocol: Protocol,
        /// The destination port.
        port: u16,
    },
    /// `allowNewConnectionToIpAddress`: egress of `from` to an address.
    AllowNewConnectionToIpAddress {
        /// The source pod.
        from: PodId,
        /// The destination address.
        to: Address,
        /// TCP by default.
        #[serde(default = "Protocol::tcp")]
        protocol: Protocol,
        /// The destination port.
        port: u16,
    },
    /// `openPodConnection`.
    OpenPodConnection {
        /// The source pod.
        from: PodId,
        /// The destination pod.
        to: PodId,
        /// TCP by default.
        #[serde(default = "Protocol::tcp")]
        protocol: Protocol,
        /// The destination port.
        port: u16,
    },
    /// `openServiceConnection`.
    OpenServiceConnection {
        /// The source pod.
        from: PodId,
        /// The Service.
        service: ServiceId,
        /// TCP by default.
        #[serde(default = "Protocol::tcp")]
        protocol: Protocol,
        /// The Service port.
        port: u16,
        /// The backend the implementation picked (rule 6.1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backend: Option<PodId>,
    },
    /// `openConnectionWithIpAddresses` (addresses carry their domains).
    OpenConnectionWithIpAddresses {
        /// The source address.
        from: Address,
        /// The destination address.
        to: Address,
        /// TCP by default.
        #[serde(default = "Protocol::tcp")]
        protocol: Protocol,
        /// The destination port.
        port: u16,
        /// The backend picked, when `to` is a Service address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backend: Option<PodId>,
    },
    /// `openEntryPointConnection`: a client outside the cluster through an Ingress or a Gateway
    /// (rule 6.26); observed with the route chosen and each leg.
    OpenEntryPointConnection {
        /// The client's address.
        from: Address,
        /// The entry point, `ingress/NS/NAME` or `gateway/NS/NAME`.
        via: EntryPointId,
        /// TCP by default.
        #[serde(default = "Protocol::tcp")]
        protocol: Protocol,
        /// The listener port.
        port: u16,
        /// The HTTP host, gRPC authority or TLS SNI.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// The request path, `/` by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The HTTP method, `GET` by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        /// Request headers.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        headers: std::collections::BTreeMap<String, String>,
        /// The controller pod the implementation picked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        controller: Option<PodId>,
        /// The backend the implementation picked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backend: Option<PodId>,
    },
    /// `closePodConnection`.
    ClosePodConnection {
        /// The connection id.
        connection: ConnectionId,
    },
    /// Rule 9.1: apply a Kubernetes manifest (upsert every object), all or nothing.
    Apply {
        /// The manifest, YAML or JSON text. When the step names a `file`, [`Trace::load`] reads
        /// it into here, so engines never touch the filesystem.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        manifest: String,
        /// A manifest file, relative to the trace's directory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// Rule 9.1: delete every object of a Kubernetes manifest, all or nothing.
    Delete {
        /// The manifest, YAML or JSON text (read from `file` by [`Trace::load`]).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        manifest: String,
        /// A manifest file, relative to the trace's directory.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
}

impl Op {
    /// The operation's name as traces spell it (`addPod`).
    pub fn name(&self) -> &'static str {
        macro_rules! names {
            ($($variant:ident => $name:literal),* $(,)?) => {
                match self { $(Op::$variant { .. } => $name,)* }
            };
        }
        names!(
            AddNamespace => "addNamespace", SetNamespaceLabels => "setNamespaceLabels",
            RemoveNamespace => "removeNamespace", AddNode => "addNode", RemoveNode => "removeNode",
            AddExternalEntity => "addExternalEntity", AddIpAddressDomain => "addIpAddressDomain",
            RemoveIpAddressDomain => "removeIpAddressDomain", AddNetwork => "addNetwork",
            RemoveNetwork => "removeNetwork", AddServiceCidr => "addServiceCIDR",
            RemoveServiceCidr => "removeServiceCIDR", AdvanceClock => "advanceClock",
            AddPod => "addPod", RemovePod => "removePod",
            SetPodLabels => "setPodLabels", AddService => "addService",
            RemoveService => "removeService", AddPod2ServiceMapping => "addPod2ServiceMapping",
            RemovePod2ServiceMapping => "removePod2ServiceMapping",
            RemovePod2ServiceMappings => "removePod2ServiceMappings",
            RemoveService2PodMappings => "removeService2PodMappings",
            LookupPod2ServiceMappings => "lookupPod2ServiceMappings",
            LookupService2PodMappings => "lookupService2PodMappings",
            AddAddress2PodMapping => "addAddress2PodMapping",
            RemoveAddress2PodMapping => "removeAddress2PodMapping",
            RemovePod2AddressMappings => "removePod2AddressMappings",
            LookupPod2AddressMappings => "lookupPod2AddressMappings",
            LookupAddress2PodMapping => "lookupAddress2PodMapping",
            AddAddress2ServiceMapping => "addAddress2ServiceMapping",
            RemoveAddress2ServiceMapping => "removeAddress2ServiceMapping",
            RemoveService2AddressMappings => "removeService2AddressMappings",
            LookupService2AddressMappings => "lookupService2AddressMappings",
            LookupAddress2ServiceMapping => "lookupAddress2ServiceMapping",
            AddNetworkPolicy => "addNetworkPolicy", UpdateNetworkPolicy => "updateNetworkPolicy",
            RemoveNetworkPolicy => "removeNetworkPolicy",
            AddClusterNetworkPolicy => "addClusterNetworkPolicy",
            UpdateClusterNetworkPolicy => "updateClusterNetworkPolicy",
            RemoveClusterNetworkPolicy => "removeClusterNetworkPolicy",
            AddMultiNetworkPolicy => "addMultiNetworkPolicy",
            UpdateMultiNetworkPolicy => "updateMultiNetworkPolicy",
            RemoveMultiNetworkPolicy => "removeMultiNetworkPolicy",
            AddIngress => "addIngress", RemoveIngress => "removeIngress",
            AddGateway => "addGateway", RemoveGateway => "removeGateway",
            AddRoute => "addRoute", RemoveRoute => "removeRoute",
            AddReferenceGrant => "addReferenceGrant",
            RemoveReferenceGrant => "removeReferenceGrant",
            AllowNewConnectionToPod => "allowNewConnectionToPod",
            AllowNewConnectionFromPod => "allowNewConnectionFromPod",
            AllowNewConnectionFromIpAddress => "allowNewConnectionFromIpAddress",
            AllowNewConnectionToIpAddress => "allowNewConnectionToIpAddress",
            OpenPodConnection => "openPodConnection",
            OpenServiceConnection => "openServiceConnection",
            OpenConnectionWithIpAddresses => "openConnectionWithIpAddresses",
            OpenEntryPointConnection => "openEntryPointConnection",
            ClosePodConnection => "closePodConnection", Apply => "apply", Delete => "delete",
        )
    }

    /// Every operation name, in declaration order.
    pub const NAMES: [&'static str; 62] = [
        "addNamespace",
        "setNamespaceLabels",
        "removeNamespace",
        "addNode",
        "removeNode",
        "addExternalEntity",
        "addIpAddressDomain",
        "removeIpAddressDomain",
        "addNetwork",
        "removeNetwork",
        "addServiceCIDR",
        "removeServiceCIDR",
        "advanceClock",
        "addPod",
        "removePod",
        "setPodLabels",
        "addService",
        "removeService",
        "addPod2ServiceMapping",
        "removePod2ServiceMapping",
        "removePod2ServiceMappings",
        "removeService2PodMappings",
        "lookupPod2ServiceMappings",
        "lookupService2PodMappings",
        "addAddress2PodMapping",
        "removeAddress2PodMapping",
        "removePod2AddressMappings",
        "lookupPod2AddressMappings",
        "lookupAddress2PodMapping",
        "addAddress2ServiceMapping",
        "removeAddress2ServiceMapping",
        "removeService2AddressMappings",
        "lookupService2AddressMappings",
        "lookupAddress2ServiceMapping",
        "addNetworkPolicy",
        "updateNetworkPolicy",
        "removeNetworkPolicy",
        "addClusterNetworkPolicy",
        "updateClusterNetworkPolicy",
        "removeClusterNetworkPolicy",
        "addMultiNetworkPolicy",
        "updateMultiNetworkPolicy",
        "removeMultiNetworkPolicy",
        "addIngress",
        "removeIngress",
        "addGateway",
        "removeGateway",
        "addRoute",
        "removeRoute",
        "addReferenceGrant",
        "removeReferenceGrant",
        "allowNewConnectionToPod",
        "allowNewConnectionFromPod",
        "allowNewConnectionFromIpAddress",
        "allowNewConnectionToIpAddress",
        "openPodConnection",
        "openServiceConnection",
        "openConnectionWithIpAddresses",
        "openEntryPointConnection",
        "closePodConnection",
        "apply",
        "delete",
    ];

    /// What a successful operation changed that a decision core may index: the core can bring
    /// just that up to date (rule 7.4 re-checks follow every change).
    pub fn touches(&self) -> Touched<'_> {
        match self {
            Op::AddPod { pod, .. } => Touched::Pod(&pod.id),
            Op::RemovePod { pod }
            | Op::SetPodLabels { pod, .. }
            | Op::AddAddress2PodMapping { pod, .. }
            | Op::RemoveAddress2PodMapping { pod, .. }
            | Op::RemovePod2AddressMappings { pod } => Touched::Pod(pod),
            Op::AddNamespace { name, .. } | Op::SetNamespaceLabels { name, .. } => {
                Touched::Namespace(name)
            }
            Op::AddNetworkPolicy { policy } | Op::UpdateNetworkPolicy { policy } => {
                Touched::Policy(&policy.id)
            }
            Op::RemoveNetworkPolicy { policy } => Touched::Policy(policy),
            Op::AddClusterNetworkPolicy { .. }
            | Op::UpdateClusterNetworkPolicy { .. }
            | Op::RemoveClusterNetworkPolicy { .. } => Touched::AdminPolicies,
            Op::AddMultiNetworkPolicy { policy } | Op::UpdateMultiNetworkPolicy { policy } => {
                Touched::MultiNetworkPolicy(&policy.id)
            }
            Op::RemoveMultiNetworkPolicy { policy } => Touched::MultiNetworkPolicy(policy),
            // Services, mappings to Services, domains and external entities are
            // read from the state by the shared primitives, never indexed.
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
            | Op::AddServiceCidr { .. }
            | Op::RemoveServiceCidr { .. }
            | Op::AdvanceClock { .. }
            | Op::AddExternalEntity { .. } => Touched::NothingIndexed,
            // A namespace cascade, node addresses (host-network pods), networks' roles (which
            // the oracle reads into each pod's slot), manifests.
            Op::RemoveNamespace { .. }
            | Op::AddNetwork { .. }
            | Op::RemoveNetwork { .. }
            | Op::AddNode { .. }
            | Op::RemoveNode { .. }
            | Op::Apply { .. }
            | Op::Delete { .. } => Touched::Anything,
            _ => Touched::NothingIndexed,
        }
    }

    /// Whether the operation changes the cluster (objects, labels, mappings, policies), after
    /// which indexes are synced and, under `established: recheck`, connections re-checked
    /// (rule 7.4). Lookups, decisions and the connection table itself do not.
    pub fn changes_cluster(&self) -> bool {
        !matches!(
            self,
            Op::LookupPod2ServiceMappings { .. }
                | Op::LookupService2PodMappings { .. }
                | Op::LookupPod2AddressMappings { .. }
                | Op::LookupAddress2PodMapping { .. }
                | Op::LookupService2AddressMappings { .. }
                | Op::LookupAddress2ServiceMapping { .. }
                | Op::AllowNewConnectionToPod { .. }
                | Op::AllowNewConnectionFromPod { .. }
                | Op::AllowNewConnectionFromIpAddress { .. }
                | Op::AllowNewConnectionToIpAddress { .. }
                | Op::OpenPodConnection { .. }
                | Op::OpenServiceConnection { .. }
                | Op::OpenConnectionWithIpAddresses { .. }
                | Op::OpenEntryPointConnection { .. }
                | Op::ClosePodConnection { .. }
                | Op::AdvanceClock { .. }
        )
    }
}

/// What an operation changed, for a decision core's indexes ([`Op::touches`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touched<'a> {
    /// One pod: its object or its addresses.
    Pod(&'a PodId),
    /// One namespace's labels.
    Namespace(&'a str),
    /// One NetworkPolicy.
    Policy(&'a PolicyId),
    /// The cluster-admin policies.
    AdminPolicies,
    /// One MultiNetworkPolicy (rule 8.8).
    MultiNetworkPolicy(&'a PolicyId),
    /// Nothing a core indexes.
    NothingIndexed,
    /// Possibly anything.
    Anything,
}

/// What an engine observed for one operation. Fields that do not apply are absent. Equality
/// ignores `message`: engines word their errors differently, and only the kind is a contract.
#[derive(Clone, Debug, Default, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Observation {
    /// The operation was refused with this kind of error (rule 2.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorKind>,
    /// The verdict of a decision or connection primitive; absent when it depends on a choice
    /// nobody made (a backend, rule 6.1; tied admin policies, rule 11.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    /// Rule 11.6: the admin policies of one tier and priority whose disagreement leaves the
    /// verdict to the implementation (`kind/name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ties: Option<BTreeSet<String>>,
    /// The id of the connection opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionId>,
    /// The backend the connection went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<PodId>,
    /// Every possible backend (rule 6.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backends: Option<BTreeSet<PodId>>,
    /// The possible backends a new connection would be allowed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_backends: Option<BTreeSet<PodId>>,
    /// Connections closed as a side effect (rules 2.2, 7.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Vec<ConnectionId>>,
    /// The result of a lookup returning pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<BTreeSet<PodId>>,
    /// The result of a lookup returning Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<BTreeSet<ServiceId>>,
    /// The result of a lookup returning addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<BTreeSet<Address>>,
    /// Rule 6.18: why a connection was refused before or instead of policy, by name
    /// (`no-backends`, `no-local-endpoints`, …; docs/TRACES.md says which are dropped and
    /// which rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Rule 6.26: the entry-point route and rule a request matched
    /// (`HTTPRoute/NS/NAME#rules[0]`, `Ingress/NS/NAME#rules[0].http.paths[1]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Rule 6.26: each leg of a definite entry-point connection, with the source its
    /// destination's policy saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legs: Option<Vec<Leg>>,
    /// The engine's sentence for an error; never compared, never written.
    #[serde(skip)]
    pub message: Option<String>,
}

impl PartialEq for Observation {
    fn eq(&self, other: &Self) -> bool {
        // Destructured so that a new field cannot be left out of the comparison unnoticed.
        let Observation {
            error,
            allowed,
            ties,
            connection,
            backend,
            backends,
            allowed_backends,
            closed,
            pods,
            services,
            addresses,
            refused,
            route,
            legs,
            message: _,
        } = self;
        *error == other.error
            && *allowed == other.allowed
            && *ties == other.ties
            && *connection == other.connection
            && *backend == other.backend
            && *backends == other.backends
            && *allowed_backends == other.allowed_backends
            && *closed == other.closed
            && *pods == other.pods
            && *services == other.services
            && *addresses == other.addresses
            && *refused == other.refused
            && *route == other.route
            && *legs == other.legs
    }
}

impl Observation {
    /// An observation of an error.
    pub fn error(kind: ErrorKind) -> Self {
        Observation {
            error: Some(kind),
            ..Observation::default()
        }
    }

    /// An observation of a refused operation, with the engine's sentence for it.
    pub fn failed(e: &crate::error::OpError) -> Self {
        Observation {
            error: Some(e.kind),
            message: Some(e.message.clone()),
            ..Observation::default()
        }
    }

    /// Adds connections closed as a side effect (rules 2.2, 7.4), keeping `closed` in id order
    /// and absent when empty.
    pub fn add_closed(&mut self, ids: Vec<ConnectionId>) {
        if ids.is_empty() {
            return;
        }
        let mut closed = self.closed.take().unwrap_or_default();
        closed.extend(ids);
        closed.sort_unstable();
        self.closed = Some(closed);
    }

    /// Rule 10.2: the fields of `self` (an expectation) that `observed` contradicts. An
    /// expectation checks only the fields it sets, except `error`: an error nobody expected is
    /// always a divergence.
    pub fn mismatches(&self, observed: &Observation) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.error != observed.error {
            out.push("error");
        }
        // Rule 11.6: where tied admin policies leave the verdict to the implementation, any
        // stated verdict is one the semantics allows.
        let tied = observed.ties.is_some() && observed.allowed.is_none();
        macro_rules! check {
            ($($field:ident => $name:literal),*) => {$(
                if self.$field.is_some() && self.$field != observed.$field {
                    out.push($name);
                }
            )*};
        }
        if self.allowed.is_some() && self.allowed != observed.allowed && !tied {
            out.push("allowed");
        }
        check!(ties => "ties", refused => "refused", connection => "connection", backend => "backend",
            backends => "backends", allowed_backends => "allowedBackends", closed => "closed",
            pods => "pods", services => "services", addresses => "addresses", route => "route",
            legs => "legs");
        out
    }
}

/// Which leg of an entry-point connection (rule 6.19).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LegKind {
    /// The client to the controller.
    Client,
    /// The controller to the backend.
    Backend,
}

/// One leg of an entry-point connection (rule 6.26): who its destination's policy saw as the
/// source, the destination, the port after translation, and its verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Leg {
    /// Which leg.
    pub leg: LegKind,
    /// The source as the destination's policy saw it.
    pub from: Endpoint,
    /// The destination.
    pub to: Endpoint,
    /// The destination port.
    pub port: u16,
    /// The leg's verdict; absent when tied admin policies leave it open (rule 11.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    /// The connection opened for the leg, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionId>,
}

/// One step of a trace: an operation and what it should observe.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The operation.
    pub op: Op,
    /// The expectation; absent means "no error" (rule 10.2).
    pub expect: Observation,
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(&self.op).map_err(serde::ser::Error::custom)?;
        let expect = serde_json::to_value(&self.expect).map_err(serde::ser::Error::custom)?;
        if let (Some(map), false) = (v.as_object_mut(), self.expect == Observation::default()) {
            map.insert("expect".into(), expect);
        }
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut v = serde_json::Value::deserialize(d)?;
        let map = v
            .as_object_mut()
            .ok_or_else(|| D::Error::custom("a step is a mapping with an `op` key"))?;
        let expect = match map.remove("expect") {
            None => Observation::default(),
            Some(serde_json::Value::String(s)) if s == "ok" => Observation::default(),
            Some(e) => {
                serde_json::from_value(e).map_err(|e| D::Error::custom(format!("expect: {e}")))?
            }
        };
        let op = serde_json::from_value(v).map_err(D::Error::custom)?;
        Ok(Step { op, expect })
    }
}

/// A trace file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trace {
    /// The format version; must be [`TRACE_FORMAT_VERSION`].
    pub netsem_trace: u32,
    /// A short name.
    pub name: String,
    /// What the trace shows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The docs/SEMANTICS.md rules it covers, e.g. `"5.3"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// The profile, written `NAME[,switch=value]*`; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// Why a trace could not be read. Every variant names the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceError {
    /// The file could not be read.
    Read {
        /// The file.
        file: String,
        /// The operating system's reason.
        message: String,
    },
    /// The text is not YAML (or JSON).
    Syntax {
        /// The file.
        file: String,
        /// The parser's message, with its position.
        message: String,
    },
    /// `netsemTrace` is missing or names another version.
    Version {
        /// The file.
        file: String,
        /// What `netsemTrace` holds, if anything.
        found: Option<String>,
    },
    /// A field is missing, unknown or of the wrong shape (a bad profile included).
    Field {
        /// The file.
        file: String,
        /// The field's path, `steps[3].op` style.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The manifest `file` of an `apply`/`delete` step could not be read.
    ManifestFile {
        /// The trace file.
        file: String,
        /// The step, from 0.
        step: usize,
        /// The manifest file as resolved.
        manifest: String,
        /// The operating system's reason.
        message: String,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Read { file, message } | TraceError::Syntax { file, message } => {
                write!(f, "{file}: {message}")
            }
            TraceError::Version { file, found } => write!(
                f,
                "{file}: netsemTrace: expected format version {TRACE_FORMAT_VERSION}, got {}",
                found.as_deref().unwrap_or("nothing")
            ),
            TraceError::Field {
                file,
                path,
                message,
            } => write!(f, "{file}: {path}: {message}"),
            TraceError::ManifestFile {
                file,
                step,
                manifest,
                message,
            } => write!(f, "{file}: step {step}: file {manifest}: {message}"),
        }
    }
}

impl std::error::Error for TraceError {}

impl Trace {
    /// Parses a trace from YAML or JSON text (JSON is YAML), checking the version.
    pub fn parse(source: &str, text: &str) -> Result<Trace, TraceError> {
        let value: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| TraceError::Syntax {
                file: source.to_string(),
                message: e.to_string(),
            })?;
        let version = value.get("netsemTrace");
        if version.and_then(|v| v.as_u64()) != Some(u64::from(TRACE_FORMAT_VERSION)) {
            return Err(TraceError::Version {
                file: source.to_string(),
                found: version.map(|v| v.to_string()),
            });
        }
        serde_path_to_error::deserialize(value).map_err(|e| TraceError::Field {
            file: source.to_string(),
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })
    }

    /// Reads and parses a trace file. The manifest `file` of each `apply`/`delete` step is read,
    /// relative to the trace's directory, into the step's `manifest`. The path `-` is standard
    /// input (named `<stdin>`; its `file`s are relative to the working directory).
    pub fn load(path: &Path) -> Result<Trace, TraceError> {
        let stdin = path == Path::new(crate::manifest::STDIN_PATH);
        let file = if stdin {
            crate::manifest::STDIN_NAME.to_string()
        } else {
            path.display().to_string()
        };
        let read = if stdin {
            crate::manifest::read_stdin()
        } else {
            std::fs::read_to_string(path).map_err(|e| e.to_string())
        };
        let text = read.map_err(|message| TraceError::Read {
            file: file.clone(),
            message,
        })?;
        let mut trace = Trace::parse(&file, &text)?;
        let dir = path.parent().unwrap_or(Path::new(""));
        for (i, step) in trace.steps.iter_mut().enumerate() {
            if let Op::Apply {
                manifest,
                file: Some(name),
            }
            | Op::Delete {
                manifest,
                file: Some(name),
            } = &mut step.op
            {
                let full = dir.join(name.as_str());
                *manifest =
                    std::fs::read_to_string(&full).map_err(|e| TraceError::ManifestFile {
                        file: file.clone(),
                        step: i,
                        manifest: full.display().to_string(),
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(trace)
    }

    /// The profile the trace runs under (`default` when it names none).
    pub fn profile(&self) -> Profile {
        self.profile.unwrap_or_default()
    }

    /// The trace as YAML.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("a trace always serializes")
    }
}
