//! From documents to [`Object`]s: kind dispatch, `kind: List` flattening, typed deserialization
//! (k8s-openapi, with field paths), validation (rule 9.2) and conversion to the spec's types.

use super::multus::{self, NetworkAttachmentDefinition};
use super::object::{ip, Obj, DEFAULT_NAMESPACE};
use super::parse;
use super::validate::{self, child, index, Check, Invalid, NameRule};
use super::workloads::{self, DaemonSetPlan, WorkloadKind};
use super::{LoadError, Manifest, Object, Origin};
use crate::error::ErrorKind;
use crate::ident::{PodId, PolicyId, ServiceId};
use crate::net::{Address, PortRef, DEFAULT_DOMAIN};
use crate::pod::{Attachment, ContainerPort, Pod, PodPhase};
use crate::policy::{IpBlock, NetworkPolicy, Peer, PolicyPort, PolicyType, Rule};
use crate::selector::Labels;
use crate::service::{Service, ServicePort, ServiceType, TrafficPolicy};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as networking;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A loaded object, or a DaemonSet waiting for the input's nodes.
pub(crate) enum Item {
    Ready(Origin, Object),
    DaemonSet(Origin, DaemonSetPlan),
}

/// Accumulates the objects of every file of one load.
#[derive(Default)]
pub(crate) struct Loader {
    items: Vec<Item>,
    warnings: Vec<String>,
}

/// The kinds the loader knows, with their API version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Namespace,
    Node,
    Pod,
    Service,
    EndpointSlice,
    NetworkPolicy,
    Workload(WorkloadKind),
    NetworkAttachmentDefinition,
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
            ("networking.k8s.io", "NetworkPolicy") => Kind::NetworkPolicy,
            ("apps", "Deployment") => Kind::Workload(WorkloadKind::Deployment),
            ("apps", "ReplicaSet") => Kind::Workload(WorkloadKind::ReplicaSet),
            ("apps", "StatefulSet") => Kind::Workload(WorkloadKind::StatefulSet),
            ("apps", "DaemonSet") => Kind::Workload(WorkloadKind::DaemonSet),
            ("batch", "Job") => Kind::Workload(WorkloadKind::Job),
            ("batch", "CronJob") => Kind::Workload(WorkloadKind::CronJob),
            ("k8s.cni.cncf.io", "NetworkAttachmentDefinition") => Kind::NetworkAttachmentDefinition,
            _ => return None,
        })
    }

    fn api_version(self) -> &'static str {
        match self {
            Kind::Namespace | Kind::Node | Kind::Pod | Kind::Service => "v1",
            Kind::EndpointSlice => "discovery.k8s.io/v1",
            Kind::NetworkPolicy => "networking.k8s.io/v1",
            Kind::Workload(WorkloadKind::Job | WorkloadKind::CronJob) => "batch/v1",
            Kind::Workload(_) => "apps/v1",
            Kind::NetworkAttachmentDefinition => multus::NAD_API_VERSION,
        }
    }

    fn namespaced(self) -> bool {
        !matches!(self, Kind::Namespace | Kind::Node)
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
        for (document, value) in parse::documents(file, text)? {
            if !value.is_null() {
                self.add_value(file, document, value, "")?;
            }
        }
        Ok(())
    }

    fn add_value(
        &mut self,
        file: &str,
        document: usize,
        value: Value,
        prefix: &str,
    ) -> Result<(), LoadError> {
        let raw = |field: &str, message: String| LoadError {
            file: file.to_string(),
            document: Some(document),
            object: None,
            field: Some(child(prefix, field)).filter(|f| !f.is_empty()),
            message,
            kind: ErrorKind::InvalidManifest,
        };
        let Value::Object(map) = &value else {
            return Err(raw(
                "",
                format!(
                    "expected a Kubernetes object (a mapping), got {}",
                    type_name(&value)
                ),
            ));
        };
        let text = |key: &str| map.get(key).and_then(Value::as_str).unwrap_or("");
        let kind = text("kind").to_string();
        let api_version = text("apiVersion").to_string();
        if kind.is_empty() {
            return Err(raw(
                "kind",
                "Required value: every object needs a `kind`".into(),
            ));
        }
        if api_version.is_empty() {
            return Err(raw(
                "apiVersion",
                format!("Required value: object of kind {kind} has no `apiVersion`"),
            ));
        }
        // Rule 9.3: lists are flattened.
        if kind == "List" || (kind.ends_with("List") && map.contains_key("items")) {
            let items = match map.get("items") {
                None | Some(Value::Null) => return Ok(()),
                Some(Value::Array(items)) => items.clone(),
                Some(other) => {
                    return Err(raw(
                        "items",
                        format!("expected a list of objects, got {}", type_name(other)),
                    ))
                }
            };
            for (i, item) in items.into_iter().enumerate() {
                if !item.is_null() {
                    self.add_value(file, document, item, &index(&child(prefix, "items"), i))?;
                }
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
        );
        if api_version != known.api_version() {
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
            Kind::Namespace => ready(vec![namespace_object(&obj, value)?]),
            Kind::Node => ready(vec![node_object(&obj, value)?]),
            Kind::Pod => ready(vec![pod_object(&obj, value)?]),
            Kind::Service => ready(vec![service_object(&obj, value)?]),
            Kind::EndpointSlice => match endpoint_slice_object(&obj, value)? {
                Ok(o) => ready(vec![o]),
                Err(warning) => {
                    self.warnings.push(format!(
                        "{file}: document {document}: {}: {warning}",
                        obj.label()
                    ));
                    Vec::new()
                }
            },
            Kind::NetworkPolicy => ready(vec![policy_object(&obj, value)?]),
            Kind::NetworkAttachmentDefinition => ready(nad_objects(&obj, value)?),
            Kind::Workload(w) => match workloads::expand(&obj, w, known.name_rule(), value)? {
                workloads::Expansion::Pods(pods) => ready(pods),
                workloads::Expansion::DaemonSet(plan) => {
                    vec![Item::DaemonSet(origin.clone(), plan)]
                }
            },
        };
        self.items.extend(items);
        Ok(())
    }

    /// Expands the DaemonSets over the input's nodes and returns the manifest.
    pub(crate) fn finish(self) -> Manifest {
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
        let mut warnings = self.warnings;
        let mut objects = Vec::new();
        let mut domains = BTreeSet::new();
        for item in self.items {
            match item {
                Item::Ready(origin, Object::IpAddressDomain { name }) => {
                    // Several networks may share a domain: declare it once.
                    if domains.insert(name.clone()) {
                        objects.push((origin, Object::IpAddressDomain { name }));
                    }
                }
                Item::Ready(origin, object) => objects.push((origin, object)),
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
                    objects.extend(pods.into_iter().map(|p| (origin.clone(), p)));
                }
            }
        }
        warnings.extend(duplicate_warnings(&objects));
        Manifest { objects, warnings }
    }
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
            Object::Network { name, .. } => format!("network {name}"),
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

// ----- Namespace, Node ---------------------------------------------------------------------

fn namespace_object(obj: &Obj, value: Value) -> Result<Object, LoadError> {
    let ns: core::Namespace = obj.typed(value)?;
    obj.check_meta(&ns.metadata, NameRule::Label)?;
    Ok(Object::Namespace {
        name: obj.name.clone(),
        labels: ns.metadata.labels.unwrap_or_default(),
    })
}

fn node_object(obj: &Obj, value: Value) -> Result<Object, LoadError> {
    let node: core::Node = obj.typed(value)?;
    obj.check_meta(&node.metadata, NameRule::Subdomain)?;
    let mut addresses = Vec::new();
    for (i, a) in node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if matches!(a.type_.as_str(), "InternalIP" | "ExternalIP") {
            let path = format!("status.addresses[{i}].address");
            let address =
                Address::default_domain(ip(&a.address, &path).map_err(|e| obj.invalid(e))?);
            if !addresses.contains(&address) {
                addresses.push(address);
            }
        }
    }
    Ok(Object::Node {
        name: obj.name.clone(),
        labels: node.metadata.labels.unwrap_or_default(),
        addresses,
    })
}

// ----- Pods --------------------------------------------------------------------------------

/// What a pod spec (of a pod or a template) contributes.
#[derive(Clone, Debug)]
pub(crate) struct PodParts {
    pub ports: Vec<ContainerPort>,
    pub host_network: bool,
    pub node: Option<String>,
}

/// Validates and converts a pod spec at `path` (`spec`, `spec.template.spec`, …).
pub(crate) fn pod_spec(spec: Option<&core::PodSpec>, path: &str) -> Check<PodParts> {
    let Some(spec) = spec else {
        return Ok(PodParts {
            ports: Vec::new(),
            host_network: false,
            node: None,
        });
    };
    let mut ports = Vec::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let mut names = BTreeSet::new();
        for (j, p) in c.ports.iter().flatten().enumerate() {
            let at = format!("{path}.containers[{i}].ports[{j}]");
            if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                validate::port_name(name).map_err(|m| Invalid::new(child(&at, "name"), m))?;
                if !names.insert(name.to_string()) {
                    return Err(Invalid::new(
                        child(&at, "name"),
                        format!("Duplicate value: `{name}`"),
                    ));
                }
            }
            let port = validate::port_number(p.container_port, &child(&at, "containerPort"))?;
            if let Some(h) = p.host_port.filter(|&h| h != 0) {
                validate::port_number(h, &child(&at, "hostPort"))?;
            }
            let protocol = validate::protocol(p.protocol.as_deref(), &child(&at, "protocol"))?;
            ports.push(ContainerPort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port,
                protocol,
            });
        }
    }
    let node = spec.node_name.clone().filter(|n| !n.is_empty());
    if let Some(n) = &node {
        validate::dns1123_subdomain(n).map_err(|m| Invalid::new(child(path, "nodeName"), m))?;
    }
    Ok(PodParts {
        ports,
        host_network: spec.host_network.unwrap_or(false),
        node,
    })
}

fn pod_object(obj: &Obj, value: Value) -> Result<Object, LoadError> {
    let pod: core::Pod = obj.typed(value)?;
    obj.check_meta(&pod.metadata, NameRule::Subdomain)?;
    let parts = pod_spec(pod.spec.as_ref(), "spec").map_err(|e| obj.invalid(e))?;
    let status = pod.status.unwrap_or_default();
    let phase = match status.phase.as_deref() {
        None | Some("") | Some("Running") => PodPhase::Running,
        Some("Pending") => PodPhase::Pending,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some("Unknown") => PodPhase::Unknown,
        Some(other) => {
            return Err(obj.error(
                "status.phase",
                format!(
                    "unsupported value `{other}`: supported values: \"Pending\", \"Running\", \
                     \"Succeeded\", \"Failed\", \"Unknown\""
                ),
            ))
        }
    };
    // The Ready condition; absent means ready.
    let ready = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .is_none_or(|c| c.status == "True");
    let mut ips = Vec::new();
    for (i, p) in status.pod_ips.iter().flatten().enumerate() {
        ips.push(ip(&p.ip, &format!("status.podIPs[{i}].ip")).map_err(|e| obj.invalid(e))?);
    }
    if ips.is_empty() {
        if let Some(p) = status.pod_ip.as_deref().filter(|p| !p.is_empty()) {
            ips.push(ip(p, "status.podIP").map_err(|e| obj.invalid(e))?);
        }
    }
    let networks = multus::network_status(pod.metadata.annotations.as_ref(), obj.ns())
        .map_err(|e| obj.invalid(e))?;
    if ips.is_empty() {
        ips = networks.default_ips.unwrap_or_default();
    }
    // A host-network pod's addresses are its node's (rule 3.4): it has no attachments.
    let (attachments, auto_address) = if parts.host_network {
        (Vec::new(), false)
    } else {
        let auto = ips.is_empty();
        let mut all = Vec::new();
        if !ips.is_empty() {
            all.push(Attachment::primary(ips));
        }
        all.extend(networks.others);
        (all, auto)
    };
    Ok(Object::Pod {
        pod: Pod {
            id: PodId::new(obj.ns(), obj.name.clone()),
            labels: pod.metadata.labels.unwrap_or_default(),
            node: parts.node,
            host_network: parts.host_network,
            phase,
            ready,
            ports: parts.ports,
        },
        attachments,
        auto_address,
    })
}

// ----- Services ----------------------------------------------------------------------------

fn service_object(obj: &Obj, value: Value) -> Result<Object, LoadError> {
    let svc: core::Service = obj.typed(value)?;
    obj.check_meta(&svc.metadata, NameRule::Dns1035)?;
    let spec = svc.spec.unwrap_or_default();
    let e = |e: Invalid| obj.invalid(e);
    let service_type = match spec.type_.as_deref() {
        None | Some("") | Some("ClusterIP") => ServiceType::ClusterIP,
        Some("NodePort") => ServiceType::NodePort,
        Some("LoadBalancer") => ServiceType::LoadBalancer,
        Some("ExternalName") => ServiceType::ExternalName,
        Some(other) => {
            return Err(obj.error(
                "spec.type",
                format!(
                    "unsupported value `{other}`: supported values: \"ClusterIP\", \
                     \"ExternalName\", \"LoadBalancer\", \"NodePort\""
                ),
            ))
        }
    };
    let selector = match &spec.selector {
        Some(s) if !s.is_empty() => Some(validate::selector_map(s, "spec.selector").map_err(e)?),
        _ => None,
    };
    // Cluster addresses: clusterIPs, else clusterIP; "None" is headless.
    let (cluster_ips, cluster_path): (Vec<String>, &str) = match &spec.cluster_ips {
        Some(list) if !list.is_empty() => (list.clone(), "spec.clusterIPs"),
        _ => (
            spec.cluster_ip
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect(),
            "spec.clusterIP",
        ),
    };
    let headless = cluster_ips.first().is_some_and(|s| s == "None");
    if service_type == ServiceType::ExternalName && !cluster_ips.is_empty() && !headless {
        return Err(obj.error(cluster_path, "must be empty for type ExternalName"));
    }
    let mut addresses = Vec::new();
    if !headless {
        for (i, s) in cluster_ips.iter().enumerate() {
            let path = if cluster_path == "spec.clusterIP" {
                cluster_path.to_string()
            } else {
                index(cluster_path, i)
            };
            addresses.push(Address::default_domain(ip(s, &path).map_err(e)?));
        }
    }
    let mut external_addresses: Vec<Address> = Vec::new();
    let mut add_external = |a: Address| {
        if !external_addresses.contains(&a) {
            external_addresses.push(a);
        }
    };
    for (i, s) in spec.external_ips.iter().flatten().enumerate() {
        add_external(Address::default_domain(
            ip(s, &index("spec.externalIPs", i)).map_err(e)?,
        ));
    }
    let ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref());
    for (i, ing) in ingress.into_iter().flatten().enumerate() {
        if let Some(s) = ing.ip.as_deref().filter(|s| !s.is_empty()) {
            let path = format!("status.loadBalancer.ingress[{i}].ip");
            add_external(Address::default_domain(ip(s, &path).map_err(e)?));
        }
    }
    let internal_traffic_policy = match spec.internal_traffic_policy.as_deref() {
        None | Some("") | Some("Cluster") => TrafficPolicy::Cluster,
        Some("Local") => TrafficPolicy::Local,
        Some(other) => {
            return Err(obj.error(
                "spec.internalTrafficPolicy",
                format!("unsupported value `{other}`: supported values: \"Cluster\", \"Local\""),
            ))
        }
    };
    let ports = service_ports(spec.ports.as_deref().unwrap_or_default()).map_err(e)?;
    if ports.is_empty() && !headless && service_type != ServiceType::ExternalName {
        return Err(obj.error("spec.ports", "Required value"));
    }
    let auto_address =
        !headless && service_type != ServiceType::ExternalName && addresses.is_empty();
    Ok(Object::Service {
        service: Service {
            id: ServiceId::new(obj.ns(), obj.name.clone()),
            selector,
            ports,
            service_type,
            headless,
            internal_traffic_policy,
            publish_not_ready_addresses: spec.publish_not_ready_addresses.unwrap_or(false),
        },
        addresses,
        external_addresses,
        auto_address,
    })
}

fn service_ports(ports: &[core::ServicePort]) -> Check<Vec<ServicePort>> {
    let mut out: Vec<ServicePort> = Vec::new();
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = index("spec.ports", i);
        let name = p.name.clone().filter(|n| !n.is_empty());
        match &name {
            None if ports.len() > 1 => {
                return Err(Invalid::new(
                    child(&at, "name"),
                    "Required value: a Service with several ports must name each",
                ))
            }
            None => {}
            Some(n) => {
                validate::dns1123_label(n).map_err(|m| Invalid::new(child(&at, "name"), m))?;
                if !names.insert(n.clone()) {
                    return Err(Invalid::new(
                        child(&at, "name"),
                        format!("Duplicate value: `{n}`"),
                    ));
                }
            }
        }
        let port = validate::port_number(p.port, &child(&at, "port"))?;
        let protocol = validate::protocol(p.protocol.as_deref(), &child(&at, "protocol"))?;
        // Rule 6.2: targetPort defaults to port (so do 0 and "").
        let target_port = match &p.target_port {
            None => PortRef::Number(port),
            Some(IntOrString::Int(0)) => PortRef::Number(port),
            Some(IntOrString::String(s)) if s.is_empty() => PortRef::Number(port),
            Some(t) => validate::port_ref(t, &child(&at, "targetPort"))?,
        };
        if out.iter().any(|q| q.port == port && q.protocol == protocol) {
            return Err(Invalid::new(
                at,
                format!("Duplicate value: port {port}/{protocol}"),
            ));
        }
        out.push(ServicePort {
            name,
            protocol,
            port,
            target_port,
        });
    }
    Ok(out)
}

// ----- EndpointSlices ----------------------------------------------------------------------

/// Rule 9.7. `Ok(Err(warning))` when the slice is skipped.
fn endpoint_slice_object(obj: &Obj, value: Value) -> Result<Result<Object, String>, LoadError> {
    let slice: discovery::EndpointSlice = obj.typed(value)?;
    obj.check_meta(&slice.metadata, NameRule::Subdomain)?;
    let Some(service) = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
    else {
        return Ok(Err(format!(
            "skipped: no `{SERVICE_NAME_LABEL}` label names its Service"
        )));
    };
    match slice.address_type.as_str() {
        "IPv4" | "IPv6" => {}
        "FQDN" => return Ok(Err("skipped: FQDN endpoints have no pods".into())),
        other => {
            return Err(obj.error(
                "addressType",
                format!(
                    "unsupported value `{other}`: supported values: \"IPv4\", \"IPv6\", \"FQDN\""
                ),
            ))
        }
    }
    let mut pods = Vec::new();
    let mut addresses = Vec::new();
    for (i, ep) in slice.endpoints.iter().flatten().enumerate() {
        let at = index("endpoints", i);
        match &ep.target_ref {
            Some(r) if r.kind.as_deref() == Some("Pod") => {
                let name =
                    r.name.clone().filter(|n| !n.is_empty()).ok_or_else(|| {
                        obj.error(&child(&at, "targetRef.name"), "Required value")
                    })?;
                let ns = r
                    .namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| obj.ns().to_string());
                let id = PodId::new(ns, name);
                if !pods.contains(&id) {
                    pods.push(id);
                }
            }
            _ => {
                for (j, a) in ep.addresses.iter().enumerate() {
                    let path = format!("{at}.addresses[{j}]");
                    let a = ip(a, &path).map_err(|e| obj.invalid(e))?;
                    if !addresses.contains(&a) {
                        addresses.push(a);
                    }
                }
            }
        }
    }
    Ok(Ok(Object::EndpointSlice {
        service: ServiceId::new(obj.ns(), service.clone()),
        pods,
        addresses,
    }))
}

// ----- NetworkPolicies ---------------------------------------------------------------------

fn policy_object(obj: &Obj, value: Value) -> Result<Object, LoadError> {
    let np: networking::NetworkPolicy = obj.typed(value)?;
    obj.check_meta(&np.metadata, NameRule::Subdomain)?;
    let spec = np.spec.unwrap_or_default();
    let policy = policy_spec(obj.ns(), &obj.name, &spec).map_err(|e| obj.invalid(e))?;
    Ok(Object::NetworkPolicy(policy))
}

/// Rule 9.2 (`ValidateNetworkPolicySpec`) and conversion.
fn policy_spec(ns: &str, name: &str, spec: &networking::NetworkPolicySpec) -> Check<NetworkPolicy> {
    let pod_selector = match &spec.pod_selector {
        Some(s) => validate::label_selector(s, "spec.podSelector")?,
        None => Default::default(),
    };
    let mut ingress = Vec::new();
    for (i, r) in spec.ingress.iter().flatten().enumerate() {
        let at = index("spec.ingress", i);
        ingress.push(rule(
            &at,
            r.ports.as_deref().unwrap_or_default(),
            "from",
            r.from.as_deref().unwrap_or_default(),
        )?);
    }
    let mut egress = Vec::new();
    for (i, r) in spec.egress.iter().flatten().enumerate() {
        let at = index("spec.egress", i);
        egress.push(rule(
            &at,
            r.ports.as_deref().unwrap_or_default(),
            "to",
            r.to.as_deref().unwrap_or_default(),
        )?);
    }
    let policy_types = match &spec.policy_types {
        None => None,
        Some(types) => {
            if types.len() > 2 {
                return Err(Invalid::new(
                    "spec.policyTypes",
                    "may not specify more than two policyTypes",
                ));
            }
            let mut out = Vec::new();
            for (i, t) in types.iter().enumerate() {
                out.push(match t.as_str() {
                    "Ingress" => PolicyType::Ingress,
                    "Egress" => PolicyType::Egress,
                    other => {
                        return Err(Invalid::new(
                            index("spec.policyTypes", i),
                            format!(
                                "unsupported value `{other}`: supported values: \"Ingress\", \
                                 \"Egress\""
                            ),
                        ))
                    }
                });
            }
            Some(out)
        }
    };
    Ok(NetworkPolicy {
        id: PolicyId::new(ns, name),
        pod_selector,
        policy_types,
        ingress,
        egress,
    })
}

fn rule(
    at: &str,
    ports: &[networking::NetworkPolicyPort],
    peers_key: &str,
    peers: &[networking::NetworkPolicyPeer],
) -> Check<Rule> {
    let mut out_ports = Vec::new();
    for (j, p) in ports.iter().enumerate() {
        out_ports.push(policy_port(&index(&child(at, "ports"), j), p)?);
    }
    let mut out_peers = Vec::new();
    for (j, p) in peers.iter().enumerate() {
        out_peers.push(peer(&index(&child(at, peers_key), j), p)?);
    }
    Ok(Rule {
        ports: out_ports,
        peers: out_peers,
    })
}

/// `ValidateNetworkPolicyPort`.
fn policy_port(at: &str, p: &networking::NetworkPolicyPort) -> Check<PolicyPort> {
    let protocol = validate::protocol(p.protocol.as_deref(), &child(at, "protocol"))?;
    let end_path = child(at, "endPort");
    let (port, end_port) = match (&p.port, p.end_port) {
        (None, None) => (None, None),
        (None, Some(_)) => {
            return Err(Invalid::new(
                end_path,
                "may not be specified when `port` is not specified",
            ))
        }
        (Some(IntOrString::String(_)), Some(_)) => {
            return Err(Invalid::new(
                end_path,
                "may not be specified when `port` is non-numeric",
            ))
        }
        (Some(r), None) => (Some(validate::port_ref(r, &child(at, "port"))?), None),
        (Some(IntOrString::Int(start)), Some(end)) => {
            let start_port = validate::port_number(*start, &child(at, "port"))?;
            if end < *start {
                return Err(Invalid::new(
                    end_path,
                    format!("endPort {end} must be greater than or equal to `port` {start}"),
                ));
            }
            let end_port = validate::port_number(end, &end_path)?;
            (Some(PortRef::Number(start_port)), Some(end_port))
        }
    };
    Ok(PolicyPort {
        protocol,
        port,
        end_port,
    })
}

/// `ValidateNetworkPolicyPeer` and `ValidateIPBlock`.
fn peer(at: &str, p: &networking::NetworkPolicyPeer) -> Check<Peer> {
    let pod_selector = p
        .pod_selector
        .as_ref()
        .map(|s| validate::label_selector(s, &child(at, "podSelector")))
        .transpose()?;
    let namespace_selector = p
        .namespace_selector
        .as_ref()
        .map(|s| validate::label_selector(s, &child(at, "namespaceSelector")))
        .transpose()?;
    match &p.ip_block {
        None if pod_selector.is_none() && namespace_selector.is_none() => Err(Invalid::new(
            at,
            "Required value: must specify a peer (podSelector, namespaceSelector or ipBlock)",
        )),
        None => Ok(Peer::Pods {
            namespace_selector,
            pod_selector,
        }),
        Some(_) if pod_selector.is_some() || namespace_selector.is_some() => Err(Invalid::new(
            at,
            "Forbidden: may not specify both ipBlock and another peer",
        )),
        Some(block) => {
            let block_path = child(at, "ipBlock");
            let cidr = validate::cidr(&block.cidr, &child(&block_path, "cidr"))?;
            let mut except = Vec::new();
            for (k, e) in block.except.iter().flatten().enumerate() {
                let e_path = index(&child(&block_path, "except"), k);
                let net = validate::cidr(e, &e_path)?;
                if !validate::strict_subset(&net, &cidr) {
                    return Err(Invalid::new(
                        e_path,
                        format!("`{e}` must be a strict subset of `cidr` {}", block.cidr),
                    ));
                }
                except.push(net);
            }
            Ok(Peer::IpBlock(IpBlock { cidr, except }))
        }
    }
}

// ----- NetworkAttachmentDefinitions --------------------------------------------------------

/// Rule 9.6: a network `namespace/name` in its domain, and the domain when it is not the
/// default one.
fn nad_objects(obj: &Obj, value: Value) -> Result<Vec<Object>, LoadError> {
    let nad: NetworkAttachmentDefinition = obj.typed(value)?;
    obj.check_meta(&nad.metadata, NameRule::Subdomain)?;
    let domain = multus::nad_domain(&nad).map_err(|e| obj.invalid(e))?;
    let mut out = Vec::new();
    if domain != DEFAULT_DOMAIN {
        out.push(Object::IpAddressDomain {
            name: domain.clone(),
        });
    }
    out.push(Object::Network {
        name: format!("{}/{}", obj.ns(), obj.name),
        domain,
    });
    Ok(out)
}
