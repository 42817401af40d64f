//! The loader: from documents to [`Object`]s (rules 9.1, 9.3, 9.4, 9.8).
//!
//! [`Loader`] takes the documents of every file of one load (`add_text`, `add_value`) and ends
//! it (`finish`). For each object it checks `kind` and `apiVersion` (rule 9.1: errors name the
//! file, the document and the field), flattens `kind: List` (rule 9.3, fields prefixed with
//! `items[i].`), looks the kind up by API group and kind in the dispatch table `Kind` (rule
//! 9.3: unknown kinds are skipped with a warning, a known kind under another version is an
//! error), defaults `metadata.namespace` to `default` for namespaced kinds, and hands the object
//! to its module under `kinds/`, or to `workloads` (rule 9.4). `finish` expands DaemonSets over
//! the declared Nodes (rule 9.4), declares each IP address domain once, and warns about objects
//! declared twice (the later one wins; docs/MANIFESTS.md, rule 9.8).
//!
//! Validation (rule 9.2) and conversion are the kind modules' business; nothing below this
//! module imports it.

use super::kinds::entry_point::{ClassInfo, EntryDraft};
use super::kinds::pod::PodFacts;
use super::kinds::route::{RouteInfo, ROUTER_LABEL, ROUTER_NAMESPACE};
use super::kinds::user_defined_network::{UserNetwork, PRIMARY_UDN_LABEL};
use super::kinds::{
    admin_policy, endpoint_slice, entry_point, multi_network_policy, namespace, network_attachment,
    network_policy, node, pod, route, service, service_cidr, user_defined_network,
};
use super::kubevirt;
use super::object::{Obj, DEFAULT_NAMESPACE};
use super::parse;
use super::validate::{child, index, NameRule};
use super::workloads::{self, DaemonSetPlan, WorkloadKind};
use super::{LoadError, Manifest, Object, Origin, WorkloadRef};
use crate::admin::AdminKind;
use crate::entry::RouteKind;
use crate::error::ErrorKind;
use crate::ident::PodId;
use crate::net::Address;
use crate::selector::Labels;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A loaded object, or one the end of the load decides on.
pub(crate) enum Item {
    Ready(Origin, Object),
    /// A Pod, with what the end of the load resolves: its node (rule 9.9), its workload (rule
    /// 9.10).
    Pod(Origin, Object, PodFacts),
    /// A workload's pods, unless the input holds the workload's own pods (rule 9.10).
    Workload(Origin, Vec<Object>),
    /// A DaemonSet waiting for the input's nodes.
    DaemonSet(Origin, DaemonSetPlan),
    /// A Route: nothing for the state; checked against the input's Services and router pods
    /// (rule 9.12).
    Route(Origin, RouteInfo),
    /// A user-defined network, resolved against the input's namespaces (rules 8.9, 8.10).
    UserNetwork(Origin, UserNetwork),
    /// An Ingress or Gateway, whose controller the end of the load recognises (rule 6.20).
    Entry(Origin, EntryDraft),
    /// An IngressClass or GatewayClass (rule 6.22).
    Class(ClassInfo),
}

/// Accumulates the objects of every file of one load.
#[derive(Default)]
pub(crate) struct Loader {
    items: Vec<Item>,
    warnings: Vec<String>,
}

/// The dispatch table: the kinds the loader knows, with their API version, scope and name rule;
/// `Loader::add_value` sends each to its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Namespace,
    Node,
    Pod,
    Service,
    EndpointSlice,
    ServiceCidr,
    NetworkPolicy,
    Workload(WorkloadKind),
    NetworkAttachmentDefinition,
    AdminPolicy(AdminKind),
    VirtualMachine,
    VirtualMachineInstance,
    Route,
    MultiNetworkPolicy,
    UserDefinedNetwork,
    ClusterUserDefinedNetwork,
    Ingress,
    IngressClass,
    GatewayClass,
    Gateway,
    GatewayRoute(crate::entry::RouteKind),
    ReferenceGrant,
}

impl Kind {
    /// Rule 9.3: known kinds by API group and kind; anything else is skipped with a warning.
    /// The retired group `extensions` counts as known, so that its objects are refused (wrong
    /// `apiVersion`) rather than skipped.
    fn of(group: &str, kind: &str) -> Option<Kind> {
        Some(match (group, kind) {
            ("extensions", "NetworkPolicy") => Kind::NetworkPolicy,
            ("extensions", "Deployment") => Kind::Workload(WorkloadKind::Deployment),
            ("extensions", "ReplicaSet") => Kind::Workload(WorkloadKind::ReplicaSet),
            ("extensions", "DaemonSet") => Kind::Workload(WorkloadKind::DaemonSet),
            ("", "Namespace") => Kind::Namespace,
            ("", "Node") => Kind::Node,
            ("", "Pod") => Kind::Pod,
            ("", "Service") => Kind::Service,
            ("discovery.k8s.io", "EndpointSlice") => Kind::EndpointSlice,
            ("networking.k8s.io", "ServiceCIDR") => Kind::ServiceCidr,
            ("networking.k8s.io", "NetworkPolicy") => Kind::NetworkPolicy,
            ("apps", "Deployment") => Kind::Workload(WorkloadKind::Deployment),
            ("apps", "ReplicaSet") => Kind::Workload(WorkloadKind::ReplicaSet),
            ("apps", "StatefulSet") => Kind::Workload(WorkloadKind::StatefulSet),
            ("apps", "DaemonSet") => Kind::Workload(WorkloadKind::DaemonSet),
            ("batch", "Job") => Kind::Workload(WorkloadKind::Job),
            ("batch", "CronJob") => Kind::Workload(WorkloadKind::CronJob),
            ("", "ReplicationController") => Kind::Workload(WorkloadKind::ReplicationController),
            ("k8s.cni.cncf.io", "NetworkAttachmentDefinition") => Kind::NetworkAttachmentDefinition,
            ("policy.networking.k8s.io", "ClusterNetworkPolicy") => {
                Kind::AdminPolicy(AdminKind::ClusterNetworkPolicy)
            }
            ("policy.networking.k8s.io", "AdminNetworkPolicy") => {
                Kind::AdminPolicy(AdminKind::AdminNetworkPolicy)
            }
            ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy") => {
                Kind::AdminPolicy(AdminKind::BaselineAdminNetworkPolicy)
            }
            ("kubevirt.io", "VirtualMachine") => Kind::VirtualMachine,
            ("kubevirt.io", "VirtualMachineInstance") => Kind::VirtualMachineInstance,
            ("route.openshift.io", "Route") => Kind::Route,
            ("k8s.cni.cncf.io", "MultiNetworkPolicy") => Kind::MultiNetworkPolicy,
            ("k8s.ovn.org", "UserDefinedNetwork") => Kind::UserDefinedNetwork,
            ("k8s.ovn.org", "ClusterUserDefinedNetwork") => Kind::ClusterUserDefinedNetwork,
            ("networking.k8s.io", "Ingress") => Kind::Ingress,
            ("networking.k8s.io", "IngressClass") => Kind::IngressClass,
            (entry_point::GATEWAY_GROUP, "GatewayClass") => Kind::GatewayClass,
            (entry_point::GATEWAY_GROUP, "Gateway") => Kind::Gateway,
            (entry_point::GATEWAY_GROUP, "ReferenceGrant") => Kind::ReferenceGrant,
            (entry_point::GATEWAY_GROUP, route) => Kind::GatewayRoute(route.parse().ok()?),
            _ => return None,
        })
    }

    fn api_version(self) -> &'static str {
        match self {
            Kind::Namespace | Kind::Node | Kind::Pod | Kind::Service => "v1",
            Kind::EndpointSlice => "discovery.k8s.io/v1",
            Kind::ServiceCidr => "networking.k8s.io/v1",
            Kind::NetworkPolicy => "networking.k8s.io/v1",
            Kind::Workload(WorkloadKind::Job | WorkloadKind::CronJob) => "batch/v1",
            Kind::Workload(WorkloadKind::ReplicationController) => "v1",
            Kind::Workload(_) => "apps/v1",
            Kind::NetworkAttachmentDefinition => network_attachment::NAD_API_VERSION,
            Kind::AdminPolicy(AdminKind::ClusterNetworkPolicy) => admin_policy::V1ALPHA2,
            Kind::AdminPolicy(_) => admin_policy::V1ALPHA1,
            Kind::VirtualMachine | Kind::VirtualMachineInstance => kubevirt::KUBEVIRT_API_VERSION,
            Kind::Route => route::ROUTE_API_VERSION,
            Kind::MultiNetworkPolicy => multi_network_policy::MNP_API_VERSION,
            Kind::UserDefinedNetwork | Kind::ClusterUserDefinedNetwork => {
                user_defined_network::UDN_API_VERSION
            }
            Kind::Ingress | Kind::IngressClass => "networking.k8s.io/v1",
            Kind::GatewayClass
            | Kind::Gateway
            | Kind::GatewayRoute(RouteKind::HTTPRoute | RouteKind::GRPCRoute) => {
                "gateway.networking.k8s.io/v1"
            }
            Kind::GatewayRoute(_) => "gateway.networking.k8s.io/v1alpha2",
            Kind::ReferenceGrant => "gateway.networking.k8s.io/v1beta1",
        }
    }

    /// Further versions the Gateway API CRDs serve the same schema under.
    fn also_served(self) -> &'static [&'static str] {
        match self {
            Kind::GatewayClass
            | Kind::Gateway
            | Kind::GatewayRoute(RouteKind::HTTPRoute)
            | Kind::ReferenceGrant => &[
                "gateway.networking.k8s.io/v1beta1",
                "gateway.networking.k8s.io/v1",
            ],
            Kind::GatewayRoute(RouteKind::TLSRoute) => &["gateway.networking.k8s.io/v1"],
            _ => &[],
        }
    }

    fn namespaced(self) -> bool {
        !matches!(
            self,
            Kind::Namespace
                | Kind::Node
                | Kind::ServiceCidr
                | Kind::ClusterUserDefinedNetwork
                | Kind::AdminPolicy(_)
                | Kind::IngressClass
                | Kind::GatewayClass
        )
    }

    /// How `metadata.name` is validated (rule 9.2).
    fn name_rule(self) -> NameRule {
        match self {
            Kind::Namespace | Kind::Workload(WorkloadKind::StatefulSet) => NameRule::Label,
            Kind::Service => NameRule::Dns1035,
            _ => NameRule::Subdomain,
        }
    }
}

impl Loader {
    /// Reads every document of one file.
    pub(crate) fn add_text(&mut self, file: &str, text: &str) -> Result<(), LoadError> {
        self.add_texts(&[(file.to_string(), text.to_string())])
    }

    /// Reads every document of many files `(name, text)`, in order: each document is parsed
    /// and read into its objects on every core, and they are taken in file and document order,
    /// so the objects, the warnings and the first error are those of reading one after the
    /// other (a file's syntax error comes before its other errors, as it did when the whole file
    /// was parsed first).
    pub(crate) fn add_texts(&mut self, files: &[(String, String)]) -> Result<(), LoadError> {
        let read = |file: &str, document: usize, value: Value| {
            let mut part = Loader::default();
            if !value.is_null() {
                part.add_value(file, document, value, "", None)?;
            }
            Ok::<Loader, LoadError>(part)
        };
        for documents in parse::read_documents_of_files(files, read) {
            for part in documents? {
                let part = part?;
                self.items.extend(part.items);
                self.warnings.extend(part.warnings);
            }
        }
        Ok(())
    }

    /// One object (or list) of `document`. `list` is the kind and apiVersion of the typed list
    /// the object is an item of (`PodList`, `v1`), if any.
    fn add_value(
        &mut self,
        file: &str,
        document: usize,
        mut value: Value,
        prefix: &str,
        list: Option<(&str, &str)>,
    ) -> Result<(), LoadError> {
        let raw = |field: &str, message: String| LoadError {
            file: file.to_string(),
            document: Some(document),
            object: None,
            field: Some(child(prefix, field)).filter(|f| !f.is_empty()),
            message,
            kind: ErrorKind::InvalidManifest,
        };
        let Value::Object(map) = &mut value else {
            return Err(raw(
                "",
                format!(
                    "expected a Kubernetes object (a mapping), got {}",
                    type_name(&value)
                ),
            ));
        };
        // Rule 9.3: an item of a typed list (`PodList`, …) that has neither `kind` nor
        // `apiVersion` takes the list's kind without `List` and the list's apiVersion, as
        // apimachinery's list decoding does (what the API server and `kubectl get --raw` return).
        let missing = |m: &serde_json::Map<String, Value>, key: &str| {
            m.get(key).and_then(Value::as_str).is_none_or(str::is_empty)
        };
        if let Some((list_kind, list_version)) = list {
            if missing(map, "kind") && missing(map, "apiVersion") {
                let item_kind = list_kind.strip_suffix("List").unwrap_or(list_kind);
                if !item_kind.is_empty() {
                    map.insert("kind".into(), Value::String(item_kind.to_string()));
                    map.insert("apiVersion".into(), Value::String(list_version.to_string()));
                }
            }
        }
        let map = &*map;
        let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or("");
        let kind = text("kind").to_string();
        let api_version = text("apiVersion").to_string();
        if kind.is_empty() {
            let message = if list.is_some() {
                "Required value: Object 'Kind' is missing: an item of a `kind: List` must name \
                 its kind (only a typed list, such as `PodList`, names it for its items)"
            } else {
                "Required value: every object needs a `kind`"
            };
            return Err(raw("kind", message.into()));
        }
        if api_version.is_empty() {
            return Err(raw(
                "apiVersion",
                format!("Required value: object of kind {kind} has no `apiVersion`"),
            ));
        }
        // Rule 9.3: lists, `kind: List` and typed lists alike, are flattened (nested ones too).
        if kind == "List" || (kind.ends_with("List") && map.contains_key("items")) {
            let items = match value.get_mut("items").map(Value::take) {
                None | Some(Value::Null) => return Ok(()),
                Some(Value::Array(items)) => items,
                Some(other) => {
                    return Err(raw(
                        "items",
                        format!("expected a list of objects, got {}", type_name(&other)),
                    ))
                }
            };
            // The items are read on every core and taken in order, as the documents of a
            // stream are (`kubectl get -o yaml` writes a whole cluster as one list).
            let at = child(prefix, "items");
            let list = Some((kind.as_str(), api_version.as_str()));
            let parts = parse::par_map_vec(items, |i, item| {
                let mut part = Loader::default();
                if !item.is_null() {
                    part.add_value(file, document, item, &index(&at, i), list)?;
                }
                Ok::<Loader, LoadError>(part)
            });
            for part in parts {
                let part = part?;
                self.items.extend(part.items);
                self.warnings.extend(part.warnings);
            }
            return Ok(());
        }
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let Some(known) = Kind::of(group, &kind) else {
            self.warnings.push(format!(
                "{file}: document {document}: skipped unknown kind {kind} (apiVersion {api_version})"
            ));
            return Ok(());
        };
        let metadata = map.get("metadata");
        let meta_text = |key: &str| {
            metadata
                .and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let namespace = known.namespaced().then(|| {
            Some(meta_text("namespace"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
        });
        let obj = Obj::new(
            file,
            document,
            prefix,
            kind.clone(),
            namespace,
            meta_text("name"),
            known.name_rule(),
        );
        if api_version != known.api_version()
            && !known.also_served().contains(&api_version.as_str())
        {
            return Err(obj.error(
                "apiVersion",
                format!(
                    "unsupported apiVersion `{api_version}` for kind {kind}: expected `{}`",
                    known.api_version()
                ),
            ));
        }
        let origin = obj.origin();
        let ready = |objects: Vec<Object>| {
            objects
                .into_iter()
                .map(|o| Item::Ready(origin.clone(), o))
                .collect::<Vec<_>>()
        };
        let items = match known {
            Kind::Namespace => ready(vec![namespace::namespace_object(&obj, value)?]),
            Kind::Node => ready(vec![node::node_object(&obj, value)?]),
            Kind::Pod => {
                let (object, facts) = pod::pod_object(&obj, value)?;
                vec![Item::Pod(origin.clone(), object, facts)]
            }
            Kind::Service => {
                let (object, warnings) = service::service_object(&obj, value)?;
                for w in warnings {
                    self.warnings
                        .push(format!("{file}: document {document}: {}: {w}", obj.label()));
                }
                ready(vec![object])
            }
            Kind::EndpointSlice => match endpoint_slice::endpoint_slice_object(&obj, value)? {
                Ok(o) => ready(vec![o]),
                Err(warning) => {
                    self.warnings.push(format!(
                        "{file}: document {document}: {}: {warning}",
                        obj.label()
                    ));
                    Vec::new()
                }
            },
            Kind::ServiceCidr => ready(vec![service_cidr::service_cidr_object(&obj, value)?]),
            Kind::NetworkPolicy => ready(vec![network_policy::policy_object(&obj, value)?]),
            Kind::NetworkAttachmentDefinition => {
                match network_attachment::nad_objects(&obj, value)? {
                    network_attachment::Nad::Network(objects) => ready(objects),
                    network_attachment::Nad::UserNetwork(u) => {
                        vec![Item::UserNetwork(origin.clone(), u)]
                    }
                }
            }
            Kind::AdminPolicy(kind) => {
                let (object, warnings) = admin_policy::admin_policy_object(&obj, kind, value)?;
                for w in warnings {
                    self.warnings
                        .push(format!("{file}: document {document}: {}: {w}", obj.label()));
                }
                ready(vec![object])
            }
            Kind::MultiNetworkPolicy => match multi_network_policy::mnp_object(&obj, value)? {
                Ok(o) => ready(vec![o]),
                Err(warning) => {
                    self.warnings.push(format!(
                        "{file}: document {document}: {}: {warning}",
                        obj.label()
                    ));
                    Vec::new()
                }
            },
            Kind::UserDefinedNetwork => vec![Item::UserNetwork(
                origin.clone(),
                user_defined_network::udn(&obj, value)?,
            )],
            Kind::ClusterUserDefinedNetwork => vec![Item::UserNetwork(
                origin.clone(),
                user_defined_network::cudn(&obj, value)?,
            )],
            Kind::VirtualMachine => {
                let (pods, warning) = kubevirt::vm_pods(&obj, value)?;
                if let Some(w) = warning {
                    self.warnings
                        .push(format!("{file}: document {document}: {}: {w}", obj.label()));
                }
                vec![Item::Workload(origin.clone(), pods)]
            }
            Kind::VirtualMachineInstance => {
                vec![Item::Workload(
                    origin.clone(),
                    kubevirt::vmi_pods(&obj, value)?,
                )]
            }
            Kind::Route => vec![Item::Route(origin.clone(), route::route(&obj, value)?)],
            Kind::Ingress => vec![Item::Entry(
                origin.clone(),
                entry_point::ingress(&obj, value)?,
            )],
            Kind::Gateway => {
                let (draft, warnings) = entry_point::gateway(&obj, value)?;
                for w in warnings {
                    self.warnings
                        .push(format!("{file}: document {document}: {}: {w}", obj.label()));
                }
                vec![Item::Entry(origin.clone(), draft)]
            }
            Kind::IngressClass => vec![Item::Class(entry_point::ingress_class(&obj, value)?)],
            Kind::GatewayClass => vec![Item::Class(entry_point::gateway_class(&obj, value)?)],
            Kind::GatewayRoute(kind) => {
                let (route, warnings) = entry_point::route(&obj, kind, value)?;
                for w in warnings {
                    self.warnings
                        .push(format!("{file}: document {document}: {}: {w}", obj.label()));
                }
                ready(vec![Object::Route(route)])
            }
            Kind::ReferenceGrant => match entry_point::reference_grant(&obj, value)? {
                Some(g) => ready(vec![Object::ReferenceGrant(g)]),
                None => Vec::new(),
            },
            Kind::Workload(w) => match workloads::expand(&obj, w, value)? {
                workloads::Expansion::Pods(pods) => vec![Item::Workload(origin.clone(), pods)],
                workloads::Expansion::DaemonSet(plan) => {
                    vec![Item::DaemonSet(origin.clone(), plan)]
                }
            },
        };
        self.items.extend(items);
        Ok(())
    }

    /// Ends the load: expands the DaemonSets over the input's nodes (rule 9.4), declares the
    /// nodes host-network pods name but the input does not (rule 9.9), drops the expansion of
    /// a workload whose own pods are in the input and records every pod's workload (rule 9.10),
    /// declares each IP address domain once, and warns about objects declared twice.
    pub(crate) fn finish(self) -> Result<Manifest, LoadError> {
        let nodes: BTreeMap<String, Labels> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Ready(_, Object::Node { name, labels, .. }) => {
                    Some((name.clone(), labels.clone()))
                }
                _ => None,
            })
            .collect();
        // Rule 9.10: the workloads whose own pods the input holds.
        let owned: BTreeSet<(String, String, String)> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Pod(_, Object::Pod { pod, .. }, facts) => {
                    let (kind, name) = facts.owner.clone()?;
                    Some((pod.id.namespace.clone(), kind, name))
                }
                _ => None,
            })
            .collect();
        // A VirtualMachine's pod is its VMI's, when the input holds the VMI.
        let vmis: BTreeSet<(String, String)> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Workload(o, _) if o.kind == "VirtualMachineInstance" => {
                    Some((o.namespace.clone().unwrap_or_default(), o.name.clone()))
                }
                _ => None,
            })
            .collect();
        let has_own_pods = |origin: &Origin| {
            let ns = origin.namespace.clone().unwrap_or_default();
            let own =
                |kind: &str| owned.contains(&(ns.clone(), kind.to_string(), origin.name.clone()));
            own(&origin.kind)
                || (origin.kind == "VirtualMachine"
                    && (own("VirtualMachineInstance")
                        || vmis.contains(&(ns.clone(), origin.name.clone()))))
        };
        let services: BTreeSet<(String, String)> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Ready(_, Object::Service { service, .. }) => {
                    Some((service.id.namespace.clone(), service.id.name.clone()))
                }
                _ => None,
            })
            .collect();
        let routers = self.items.iter().any(|i| {
            matches!(i, Item::Pod(_, Object::Pod { pod, .. }, _)
                if pod.id.namespace == ROUTER_NAMESPACE && pod.labels.contains_key(ROUTER_LABEL))
        });
        let declared_networks: BTreeSet<String> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Ready(_, Object::Network { name, .. }) => Some(name.clone()),
                _ => None,
            })
            .collect();
        // Rule 6.20: what recognises an entry point's controller.
        let classes: Vec<ClassInfo> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Class(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        let service_ips: Vec<(crate::ident::ServiceId, Vec<std::net::IpAddr>)> = self
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Ready(
                    _,
                    Object::Service {
                        service,
                        addresses,
                        external_addresses,
                        ..
                    },
                ) => Some((
                    service.id.clone(),
                    addresses
                        .iter()
                        .chain(external_addresses)
                        .map(|a| a.ip)
                        .collect(),
                )),
                _ => None,
            })
            .collect();
        let pod_labels: Vec<(PodId, Labels)> = self
            .items
            .iter()
            .flat_map(|i| match i {
                Item::Pod(_, o, _) => std::slice::from_ref(o),
                Item::Workload(_, objects) => objects.as_slice(),
                _ => &[],
            })
            .filter_map(|o| match o {
                Object::Pod { pod, .. } => Some((pod.id.clone(), pod.labels.clone())),
                _ => None,
            })
            .collect();
        let entry_cx = entry_point::Context {
            classes: &classes,
            services: &service_ips,
            pods: &pod_labels,
        };
        let mut warnings = self.warnings;
        let mut objects = Vec::new();
        let mut workloads = BTreeMap::new();
        let mut domains = BTreeSet::new();
        let mut user_networks: Vec<(Origin, UserNetwork)> = Vec::new();
        let mut udn_ips: BTreeMap<PodId, Vec<std::net::IpAddr>> = BTreeMap::new();
        // Rule 9.9: nodes declared by host-network pods, with the origin of the first.
        let mut host_nodes: BTreeMap<String, (Origin, Vec<Address>)> = BTreeMap::new();
        let skipped = |origin: &Origin| {
            format!(
                "{}: document {}: {}: its pods are in the input (by their ownerReferences), so it \
                 is not expanded",
                origin.file,
                origin.document,
                origin.object()
            )
        };
        let record = |origin: &Origin,
                      pods: Vec<Object>,
                      out: &mut Vec<(Origin, Object)>,
                      workloads: &mut BTreeMap<PodId, WorkloadRef>| {
            for p in pods {
                if let Object::Pod { pod, .. } = &p {
                    workloads.insert(pod.id.clone(), WorkloadRef::new(&origin.kind, &origin.name));
                }
                out.push((origin.clone(), p));
            }
        };
        for item in self.items {
            match item {
                Item::Ready(origin, Object::IpAddressDomain { name }) => {
                    // Several networks may share a domain: declare it once.
                    if domains.insert(name.clone()) {
                        objects.push((origin, Object::IpAddressDomain { name }));
                    }
                }
                Item::Ready(origin, object) => objects.push((origin, object)),
                Item::UserNetwork(origin, u) => user_networks.push((origin, u)),
                Item::Class(_) => {}
                Item::Entry(origin, draft) => {
                    let at = format!(
                        "{}: document {}: {}",
                        origin.file,
                        origin.document,
                        origin.object()
                    );
                    match entry_point::resolve(draft, &entry_cx) {
                        Ok((entry, ws)) => {
                            warnings.extend(ws.into_iter().map(|w| format!("{at}: {w}")));
                            objects.push((origin, Object::EntryPoint(entry)));
                        }
                        Err(message) => {
                            let (field, message) = message
                                .split_once(": ")
                                .map(|(f, m)| (Some(f.to_string()), m.to_string()))
                                .unwrap_or((None, message));
                            return Err(LoadError {
                                file: origin.file.clone(),
                                document: Some(origin.document),
                                object: Some(origin.object()),
                                field,
                                message,
                                kind: ErrorKind::InvalidManifest,
                            });
                        }
                    }
                }
                Item::Pod(origin, mut object, facts) => {
                    if let Object::Pod { pod, .. } = &mut object {
                        if let Some(ips) = &facts.udn_ips {
                            udn_ips.insert(pod.id.clone(), ips.clone());
                        }
                        if let Some((kind, name)) = &facts.owner {
                            workloads.insert(pod.id.clone(), WorkloadRef::new(kind, name));
                        }
                        if pod.host_network && !facts.host_ips.is_empty() {
                            let node = pod
                                .node
                                .get_or_insert_with(|| host_node_name(facts.host_ips[0]))
                                .clone();
                            if !nodes.contains_key(&node) {
                                let entry = host_nodes
                                    .entry(node)
                                    .or_insert_with(|| (origin.clone(), Vec::new()));
                                for ip in &facts.host_ips {
                                    let a = Address::default_domain(*ip);
                                    if !entry.1.contains(&a) {
                                        entry.1.push(a);
                                    }
                                }
                            }
                        }
                    }
                    objects.push((origin, object));
                }
                Item::Workload(origin, _) if has_own_pods(&origin) => {
                    warnings.push(skipped(&origin));
                }
                Item::Workload(origin, pods) => record(&origin, pods, &mut objects, &mut workloads),
                Item::DaemonSet(origin, _) if has_own_pods(&origin) => {
                    warnings.push(skipped(&origin));
                }
                Item::Route(origin, info) => {
                    let at = format!(
                        "{}: document {}: {}",
                        origin.file,
                        origin.document,
                        origin.object()
                    );
                    let ns = origin.namespace.clone().unwrap_or_default();
                    for (name, weight) in &info.services {
                        if *weight > 0 && !services.contains(&(ns.clone(), name.clone())) {
                            warnings.push(format!(
                                "{at}: routes to service {ns}/{name}, which is not in the input \
                                 [rule 9.12]"
                            ));
                        }
                    }
                    if !routers {
                        warnings.push(format!(
                            "{at}: its traffic comes from the OpenShift router pods \
                             ({ROUTER_NAMESPACE}, label {ROUTER_LABEL}), which are not in the \
                             input: the router's connections to the endpoints are not in the \
                             matrix [rule 9.12]"
                        ));
                    }
                }
                Item::DaemonSet(origin, plan) => {
                    let (pods, warning) = plan.expand(&nodes);
                    if let Some(w) = warning {
                        warnings.push(format!(
                            "{}: document {}: {}: {w}",
                            origin.file,
                            origin.document,
                            origin.object()
                        ));
                    }
                    record(&origin, pods, &mut objects, &mut workloads);
                }
            }
        }
        for (name, (origin, addresses)) in host_nodes {
            let shown: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            warnings.push(format!(
                "{}: document {}: {}: node {name} is not in the input: its addresses are taken \
                 from the pod's status ({}) [rule 9.9]",
                origin.file,
                origin.document,
                origin.object(),
                shown.join(", ")
            ));
            objects.push((
                origin,
                Object::Node {
                    name,
                    labels: Labels::new(),
                    addresses,
                },
            ));
        }
        user_defined_networks(user_networks, &udn_ips, &mut objects, &mut warnings)?;
        let declared_networks: BTreeSet<String> = declared_networks
            .into_iter()
            .chain(objects.iter().filter_map(|(_, o)| match o {
                Object::Network { name, .. } => Some(name.clone()),
                _ => None,
            }))
            .collect();
        // Rule 9.6: a network a pod attaches to and the input does not declare exists, in the
        // default domain (as a referenced namespace does, rule 1.3).
        let mut implicit: BTreeMap<String, Origin> = BTreeMap::new();
        for (origin, object) in &objects {
            if let Object::Pod { attachments, .. } = object {
                for a in attachments {
                    if a.network != crate::net::DEFAULT_NETWORK
                        && !declared_networks.contains(&a.network)
                    {
                        implicit
                            .entry(a.network.clone())
                            .or_insert_with(|| origin.clone());
                    }
                }
            }
        }
        for (name, origin) in implicit {
            warnings.push(format!(
                "{}: document {}: {}: attaches to network {name}, whose \
                 NetworkAttachmentDefinition is not in the input: taken in the default address \
                 domain [rule 9.6]",
                origin.file,
                origin.document,
                origin.object()
            ));
            objects.push((
                origin,
                Object::Network {
                    name,
                    domain: crate::net::DEFAULT_DOMAIN.to_string(),
                    implicit: true,
                    role: crate::net::NetworkRole::Secondary,
                },
            ));
        }
        warnings.extend(duplicate_warnings(&objects));
        Ok(Manifest {
            objects,
            warnings,
            workloads,
        })
    }
}

/// Rules 8.9, 8.10: declares the user-defined networks (each in a domain of its own), gives the
/// pods of a namespace a primary user-defined network serves their primary attachment on it
/// (their cluster-network `eth0` is OVN-Kubernetes' infrastructure-locked interface, not
/// modeled), and reads the NADs a ClusterUserDefinedNetwork renders in each of its namespaces
/// (`<ns>/<name>`, in pods' network-status and MultiNetworkPolicies' `policy-for`) as its one
/// network.
fn user_defined_networks(
    user_networks: Vec<(Origin, UserNetwork)>,
    udn_ips: &BTreeMap<PodId, Vec<std::net::IpAddr>>,
    objects: &mut Vec<(Origin, Object)>,
    warnings: &mut Vec<String>,
) -> Result<(), LoadError> {
    use crate::net::NetworkRole;
    if user_networks.is_empty() {
        return Ok(());
    }
    // The input's namespaces with their labels: declared ones, and those of its objects.
    let mut namespaces: BTreeMap<String, (bool, Labels)> = BTreeMap::new();
    for (origin, o) in objects.iter() {
        if let Object::Namespace { name, labels } = o {
            let mut l = labels.clone();
            l.insert(crate::state::NAMESPACE_NAME_LABEL.into(), name.clone());
            namespaces.insert(name.clone(), (true, l));
        } else if let Some(ns) = &origin.namespace {
            namespaces.entry(ns.clone()).or_insert_with(|| {
                (
                    false,
                    Labels::from([(crate::state::NAMESPACE_NAME_LABEL.into(), ns.clone())]),
                )
            });
        }
    }
    let at = |o: &Origin| format!("{}: document {}: {}", o.file, o.document, o.object());
    let mut declared: BTreeMap<String, NetworkRole> = BTreeMap::new();
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    let mut primary: BTreeMap<String, (String, Vec<ipnet::IpNet>)> = BTreeMap::new();
    for (origin, u) in user_networks {
        let served: Vec<String> = match &u.scope {
            user_defined_network::Scope::Namespace(ns) => vec![ns.clone()],
            user_defined_network::Scope::Selector(sel) => namespaces
                .iter()
                .filter(|(_, (_, labels))| sel.matches(labels))
                .map(|(n, _)| n.clone())
                .collect(),
        };
        if served.is_empty() {
            warnings.push(format!(
                "{}: selects no namespace of the input [rule 8.9]",
                at(&origin)
            ));
        }
        match declared.get(&u.network) {
            Some(role) if *role != u.role => {
                return Err(LoadError {
                    file: origin.file.clone(),
                    document: Some(origin.document),
                    object: Some(origin.object()),
                    field: None,
                    message: format!(
                        "network {} is declared {:?} and {:?}",
                        u.network, role, u.role
                    ),
                    kind: crate::error::ErrorKind::InvalidManifest,
                })
            }
            Some(_) => {}
            None => {
                declared.insert(u.network.clone(), u.role);
                objects.push((
                    origin.clone(),
                    Object::IpAddressDomain {
                        name: u.network.clone(),
                    },
                ));
                objects.push((
                    origin.clone(),
                    Object::Network {
                        name: u.network.clone(),
                        domain: u.network.clone(),
                        implicit: false,
                        role: u.role,
                    },
                ));
            }
        }
        for ns in served {
            aliases.insert(format!("{ns}/{}", u.nad), u.network.clone());
            if u.role != NetworkRole::Primary {
                continue;
            }
            let labelled = namespaces.get(&ns).is_none_or(|(declared, labels)| {
                !declared || labels.contains_key(PRIMARY_UDN_LABEL)
            });
            if !labelled {
                warnings.push(format!(
                    "{}: namespace {ns} does not carry the label {PRIMARY_UDN_LABEL}, so \
                     OVN-Kubernetes gives its pods no primary user-defined network: they stay on \
                     the cluster network [rule 8.10]",
                    at(&origin)
                ));
                continue;
            }
            match primary.get(&ns) {
                Some((other, _)) if *other != u.network => {
                    return Err(LoadError {
                        file: origin.file.clone(),
                        document: Some(origin.document),
                        object: Some(origin.object()),
                        field: None,
                        message: format!(
                            "namespace {ns} already has the primary network {other}: a namespace \
                             has at most one"
                        ),
                        kind: crate::error::ErrorKind::InvalidManifest,
                    })
                }
                _ => {
                    primary.insert(ns, (u.network.clone(), u.subnets.clone()));
                }
            }
        }
    }
    for (origin, object) in objects.iter_mut() {
        match object {
            Object::Pod {
                pod,
                attachments,
                auto_address,
                pool,
            } => {
                for a in attachments.iter_mut() {
                    if let Some(n) = aliases.get(&a.network) {
                        a.network = n.clone();
                    }
                }
                let Some((network, subnets)) = primary.get(&pod.id.namespace) else {
                    continue;
                };
                if pod.host_network {
                    continue;
                }
                attachments.retain(|a| {
                    !(a.interface == crate::net::PRIMARY_INTERFACE
                        && a.network == crate::net::DEFAULT_NETWORK)
                });
                attachments.retain(|a| a.network != *network);
                match udn_ips.get(&pod.id).filter(|ips| !ips.is_empty()) {
                    Some(ips) => {
                        attachments.insert(
                            0,
                            crate::pod::Attachment {
                                network: network.clone(),
                                ..crate::pod::Attachment::primary(ips.clone())
                            },
                        );
                        *auto_address = false;
                    }
                    None => {
                        let v4 = subnets.iter().find_map(|s| match s {
                            ipnet::IpNet::V4(n) => Some(*n),
                            ipnet::IpNet::V6(_) => None,
                        });
                        let Some(v4) = v4 else {
                            return Err(LoadError {
                                file: origin.file.clone(),
                                document: Some(origin.document),
                                object: Some(origin.object()),
                                field: None,
                                message: format!(
                                    "its primary network {network} has no IPv4 subnet to allocate \
                                     its address from"
                                ),
                                kind: crate::error::ErrorKind::InvalidManifest,
                            });
                        };
                        *auto_address = true;
                        *pool = Some((network.clone(), v4));
                    }
                }
            }
            Object::MultiNetworkPolicy(p) => {
                for n in p.networks.iter_mut() {
                    if let Some(to) = aliases.get(n) {
                        *n = to.clone();
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Rule 9.9: the name of the node of a host-network pod that names none: its first host
/// address, `:` written `-` (a node name is a DNS subdomain).
fn host_node_name(ip: std::net::IpAddr) -> String {
    ip.to_string().replace(':', "-")
}

/// Two objects with one identity: the later one wins on apply (it updates the earlier).
fn duplicate_warnings(objects: &[(Origin, Object)]) -> Vec<String> {
    let mut seen: BTreeMap<String, &Origin> = BTreeMap::new();
    let mut out = Vec::new();
    for (origin, object) in objects {
        let key = match object {
            Object::Namespace { name, .. } => format!("namespace {name}"),
            Object::Node { name, .. } => format!("node {name}"),
            Object::Pod { pod, .. } => format!("pod {}", pod.id),
            Object::Service { service, .. } => format!("service {}", service.id),
            Object::NetworkPolicy(p) => format!("network policy {}", p.id),
            Object::AdminPolicy(p) => format!("admin policy {}", p.id()),
            Object::MultiNetworkPolicy(p) => format!("multi-network policy {}", p.id),
            Object::Network { name, .. } => format!("network {name}"),
            Object::ServiceCidr { name, .. } => format!("service CIDR {name}"),
            Object::EntryPoint(e) => format!("entry point {}", e.id()),
            Object::Route(r) => format!("route {}", r.id),
            Object::ReferenceGrant(g) => format!("reference grant {}", g.id),
            Object::IpAddressDomain { .. } | Object::EndpointSlice { .. } => continue,
        };
        if let Some(first) = seen.get(&key) {
            out.push(format!(
                "{}: document {}: {}: declares {key} again (first in {}: document {}); the later \
                 one wins",
                origin.file,
                origin.document,
                origin.object(),
                first.file,
                first.document
            ));
        } else {
            seen.insert(key, origin);
        }
    }
    out
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(texts: &[(&str, &str)]) -> Vec<(String, String)> {
        texts
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect()
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {containers: [{name: c, image: i}]}\n";
    const BAD_KIND: &str = "apiVersion: v1\nmetadata: {name: q}\n";
    const BAD_SYNTAX: &str = "a: [1, 2\n";

    // Rule 9.1: documents are read on every core, yet the first error is the one of reading
    // them in order: a file's syntax error before its other errors, an earlier file's error
    // before a later file's.
    #[test]
    fn r9_1_the_first_error_is_the_first_in_file_and_document_order() {
        let first = |texts: &[(&str, &str)]| {
            let mut loader = Loader::default();
            loader.add_texts(&files(texts)).unwrap_err()
        };
        let bad_then_syntax = format!("{BAD_KIND}---\n{BAD_SYNTAX}");
        let e = first(&[("a.yaml", &bad_then_syntax)]);
        assert_eq!((e.file.as_str(), e.document), ("a.yaml", Some(2)), "{e}");
        assert!(e.message.starts_with("YAML syntax error"), "{e}");

        let e = first(&[("a.yaml", BAD_KIND), ("b.yaml", BAD_SYNTAX)]);
        assert_eq!((e.file.as_str(), e.document), ("a.yaml", Some(1)), "{e}");
        assert_eq!(e.field.as_deref(), Some("kind"), "{e}");

        let pods_then_bad = format!("{POD}---\n{POD}---\n{BAD_KIND}");
        let e = first(&[("a.yaml", &pods_then_bad), ("b.yaml", BAD_KIND)]);
        assert_eq!((e.file.as_str(), e.document), ("a.yaml", Some(3)), "{e}");
    }

    // Rule 9.3: the objects and warnings of documents read on every core keep file and document
    // order.
    #[test]
    fn r9_3_objects_and_warnings_keep_input_order() {
        let unknown = "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: t}\n";
        let many: Vec<String> = (0..40)
            .map(|i| POD.replace("name: p", &format!("name: p{i}")))
            .collect();
        let text = format!("{unknown}---\n{}", many.join("---\n"));
        let mut loader = Loader::default();
        loader
            .add_texts(&files(&[("a.yaml", &text), ("b.yaml", unknown)]))
            .unwrap();
        let names: Vec<String> = loader
            .items
            .iter()
            .map(|i| match i {
                Item::Pod(o, _, _) => format!("{}: {}: {}", o.file, o.document, o.name),
                _ => "other".into(),
            })
            .collect();
        let expected: Vec<String> = (0..40)
            .map(|i| format!("a.yaml: {}: p{i}", i + 2))
            .collect();
        assert_eq!(names, expected);
        assert_eq!(loader.warnings.len(), 2);
        assert!(loader.warnings[0].starts_with("a.yaml: document 1:"));
        assert!(loader.warnings[1].starts_with("b.yaml: document 1:"));
    }
}
