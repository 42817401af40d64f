//! Entry points (rules 6.19–6.25, 9.14): `networking.k8s.io/v1` Ingress and IngressClass, and
//! the Gateway API kinds `gateway.networking.k8s.io` GatewayClass, Gateway, HTTPRoute,
//! GRPCRoute (v1), TLSRoute, TCPRoute, UDPRoute (v1alpha2) and ReferenceGrant (v1beta1),
//! validated as the API server (kubernetes `pkg/apis/networking/validation`) and the Gateway
//! API CRDs' schemas and CEL rules do. An Ingress or Gateway is a draft until the end of the
//! load, which recognises its controller among the input's objects (rule 6.20).

use crate::entry::{
    AllowedRoutes, BackendRef, EntryKind, FromNamespaces, GrantFrom, IngressPath, IngressPathType,
    IngressRule, Listener, ListenerProtocol, ParentRef, PathMatch, PathMatchType, ReferenceGrant,
    Route, RouteId, RouteKind, RouteMatch, RouteRule,
};
use crate::ident::{ObjectId, ServiceId};
use crate::manifest::object::{HasMetadata, Obj};
use crate::manifest::validate::{self, child, index};
use crate::manifest::LoadError;
use crate::net::PortRef;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The Gateway API group.
pub(crate) const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
/// The annotation (on an Ingress, a Gateway or their class) naming the Service in front of the
/// controller pods, `namespace/name` (rule 6.20).
pub const CONTROLLER_SERVICE_ANNOTATION: &str = "netsem.io/controller-service";
/// The annotation naming the address a controller outside the pods sends from (rule 6.20).
pub const CONTROLLER_ADDRESS_ANNOTATION: &str = "netsem.io/controller-address";
/// The label GEP-1762 puts on the pods (and every resource) of an in-cluster Gateway.
pub const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";
/// The annotation that makes an IngressClass the default one.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";
/// The address of the `ingress-controller` entity, when the input shows no controller.
pub const INGRESS_CONTROLLER_ADDRESS: &str = "100.64.0.1";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta<S> {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: S,
    #[serde(default)]
    status: Option<Value>,
}

impl<S> HasMetadata for Meta<S> {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// What an Ingress or Gateway holds before its controller is known.
#[derive(Clone, Debug)]
pub(crate) struct EntryDraft {
    pub kind: EntryKind,
    pub id: ObjectId,
    /// The class named; `None` for an Ingress that names none (the default class's).
    pub class: Option<String>,
    pub annotations: BTreeMap<String, String>,
    /// The addresses in `status` (an Ingress's load-balancer ingress, a Gateway's addresses).
    pub status_ips: Vec<IpAddr>,
    pub body: DraftBody,
}

/// The kind-specific part of a draft.
#[derive(Clone, Debug)]
pub(crate) enum DraftBody {
    Ingress {
        rules: Vec<IngressRule>,
        default_backend: Option<BackendRef>,
        tls: bool,
    },
    Gateway {
        listeners: Vec<Listener>,
    },
}

/// An IngressClass or GatewayClass: its name, annotations, and whether it is the default.
#[derive(Clone, Debug)]
pub(crate) struct ClassInfo {
    pub kind: EntryKind,
    pub name: String,
    pub annotations: BTreeMap<String, String>,
    pub default: bool,
}

fn annotations(m: &ObjectMeta) -> BTreeMap<String, String> {
    m.annotations.clone().unwrap_or_default()
}

// ----- IngressClass, GatewayClass ----------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IngressClassSpec {
    #[serde(default)]
    controller: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GatewayClassSpec {
    #[serde(default)]
    controller_name: Option<String>,
}

/// Rule 6.22: an IngressClass (its controller is a domain-prefixed path, at most 250
/// characters).
pub(crate) fn ingress_class(obj: &Obj, value: Value) -> Result<ClassInfo, LoadError> {
    let c: Meta<IngressClassSpec> = obj.read(value)?;
    if let Some(ctl) = c.spec.controller.as_deref() {
        if ctl.len() > 250 {
            return Err(obj.error(
                "spec.controller",
                format!("Too long: may not be more than 250 bytes: {ctl:?}"),
            ));
        }
    }
    let annotations = annotations(&c.metadata);
    Ok(ClassInfo {
        kind: EntryKind::Ingress,
        name: c.metadata.name.clone().unwrap_or_default(),
        default: annotations
            .get(DEFAULT_CLASS_ANNOTATION)
            .map(String::as_str)
            == Some("true"),
        annotations,
    })
}

/// A GatewayClass (`spec.controllerName` is required).
pub(crate) fn gateway_class(obj: &Obj, value: Value) -> Result<ClassInfo, LoadError> {
    let c: Meta<GatewayClassSpec> = obj.read(value)?;
    if c.spec.controller_name.as_deref().unwrap_or("").is_empty() {
        return Err(obj.error("spec.controllerName", "Required value"));
    }
    Ok(ClassInfo {
        kind: EntryKind::Gateway,
        name: c.metadata.name.clone().unwrap_or_default(),
        annotations: annotations(&c.metadata),
        default: false,
    })
}

// ----- Ingress -----------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IngressSpec {
    #[serde(default)]
    ingress_class_name: Option<String>,
    #[serde(default)]
    default_backend: Option<IngressBackend>,
    #[serde(default)]
    rules: Vec<IngressRuleIn>,
    #[serde(default)]
    tls: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct IngressBackend {
    #[serde(default)]
    service: Option<IngressServiceBackend>,
    #[serde(default)]
    resource: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct IngressServiceBackend {
    #[serde(default)]
    name: String,
    #[serde(default)]
    port: Option<ServiceBackendPort>,
}

#[derive(Debug, Default, Deserialize)]
struct ServiceBackendPort {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    number: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct IngressRuleIn {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    http: Option<HttpRuleIn>,
}

#[derive(Debug, Default, Deserialize)]
struct HttpRuleIn {
    #[serde(default)]
    paths: Vec<HttpPathIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpPathIn {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    path_type: Option<String>,
    #[serde(default)]
    backend: IngressBackend,
}

/// A host of an Ingress rule or a route: a DNS-1123 subdomain, not an IP, a wildcard only as
/// the whole first label.
fn host(h: &str, field: &str, obj: &Obj) -> Result<(), LoadError> {
    if h.parse::<IpAddr>().is_ok() {
        return Err(obj.error(
            field,
            format!("Invalid value: {h:?}: must be a DNS name, not an IP address"),
        ));
    }
    let bare = h.strip_prefix("*.").unwrap_or(h);
    if bare.contains('*') {
        return Err(obj.error(
            field,
            format!("Invalid value: {h:?}: a wildcard DNS-1123 subdomain must start with '*.'"),
        ));
    }
    validate::dns1123_subdomain(bare)
        .map_err(|m| obj.error(field, format!("Invalid value: {h:?}: {m}")))
}

fn ingress_backend(
    b: &IngressBackend,
    field: &str,
    ns: &str,
    obj: &Obj,
) -> Result<Option<BackendRef>, LoadError> {
    match (&b.service, &b.resource) {
        (Some(_), Some(_)) => Err(obj.error(
            field,
            "Invalid value: cannot set both resource and service backends",
        )),
        (None, None) => Err(obj.error(
            field,
            "Invalid value: resource or service backend is required",
        )),
        // A resource backend (an object store bucket, …) is no Service: nothing to reach.
        (None, Some(_)) => Ok(None),
        (Some(s), None) => {
            let sf = child(field, "service");
            if s.name.is_empty() {
                return Err(obj.error(&child(&sf, "name"), "Required value"));
            }
            validate::dns1035_label(&s.name)
                .map_err(|m| obj.error(&child(&sf, "name"), format!("Invalid value: {m}")))?;
            let pf = child(&sf, "port");
            let port = match s.port.as_ref().map(|p| (&p.name, p.number)) {
                Some((Some(_), Some(_))) => {
                    return Err(obj.error(
                        &pf,
                        "Invalid value: cannot set both port name & port number",
                    ))
                }
                Some((Some(n), None)) if !n.is_empty() => {
                    validate::port_name(n).map_err(|m| {
                        obj.error(&child(&pf, "name"), format!("Invalid value: {m}"))
                    })?;
                    PortRef::Name(n.clone())
                }
                Some((_, Some(n))) if (1..=65535).contains(&n) => PortRef::Number(n as u16),
                Some((_, Some(n))) => {
                    return Err(obj.error(
                        &child(&pf, "number"),
                        format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
                    ))
                }
                _ => return Err(obj.error(&pf, "Required value: port name or number is required")),
            };
            Ok(Some(BackendRef {
                service: ServiceId::new(ns, &s.name),
                port,
                weight: 1,
            }))
        }
    }
}

/// Rules 6.21, 6.22: an Ingress, validated.
pub(crate) fn ingress(obj: &Obj, value: Value) -> Result<EntryDraft, LoadError> {
    let i: Meta<IngressSpec> = obj.read(value)?;
    let ns = obj.ns().to_string();
    let spec = &i.spec;
    if spec.default_backend.is_none() && spec.rules.is_empty() {
        return Err(obj.error(
            "spec",
            "Invalid value: either `defaultBackend` or `rules` must be specified",
        ));
    }
    let default_backend = match &spec.default_backend {
        Some(b) => ingress_backend(b, "spec.defaultBackend", &ns, obj)?,
        None => None,
    };
    let mut rules = Vec::new();
    for (r, rule) in spec.rules.iter().enumerate() {
        let rf = index("spec.rules", r);
        if let Some(h) = rule.host.as_deref().filter(|h| !h.is_empty()) {
            host(h, &child(&rf, "host"), obj)?;
        }
        let mut paths = Vec::new();
        if let Some(http) = &rule.http {
            let hf = child(&rf, "http.paths");
            if http.paths.is_empty() {
                return Err(obj.error(&hf, "Required value"));
            }
            for (j, p) in http.paths.iter().enumerate() {
                let pf = index(&hf, j);
                let path_type = match p.path_type.as_deref() {
                    None | Some("") => return Err(obj.error(&child(&pf, "pathType"), "Required value: pathType must be specified")),
                    Some("Exact") => IngressPathType::Exact,
                    Some("Prefix") => IngressPathType::Prefix,
                    Some("ImplementationSpecific") => IngressPathType::ImplementationSpecific,
                    Some(other) => {
                        return Err(obj.error(
                            &child(&pf, "pathType"),
                            format!("Unsupported value: {other:?}: supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""),
                        ))
                    }
                };
                let path = p.path.clone().unwrap_or_default();
                if path_type != IngressPathType::ImplementationSpecific && !path.starts_with('/') {
                    return Err(obj.error(
                        &child(&pf, "path"),
                        format!("Invalid value: {path:?}: must be an absolute path"),
                    ));
                }
                if let Some(backend) =
                    ingress_backend(&p.backend, &child(&pf, "backend"), &ns, obj)?
                {
                    paths.push(IngressPath {
                        path: if path.is_empty() { "/".into() } else { path },
                        path_type,
                        backend,
                    });
                }
            }
        }
        rules.push(IngressRule {
            host: rule.host.clone().filter(|h| !h.is_empty()),
            paths,
        });
    }
    let mut status_ips = Vec::new();
    if let Some(ingress) = i
        .status
        .as_ref()
        .and_then(|s| s.pointer("/loadBalancer/ingress"))
        .and_then(Value::as_array)
    {
        status_ips.extend(
            ingress
                .iter()
                .filter_map(|e| e.get("ip")?.as_str()?.parse::<IpAddr>().ok()),
        );
    }
    let mut ann = annotations(&i.metadata);
    // The annotation `kubernetes.io/ingress.class` predates `ingressClassName`.
    let class = spec
        .ingress_class_name
        .clone()
        .or_else(|| ann.remove("kubernetes.io/ingress.class"));
    Ok(EntryDraft {
        kind: EntryKind::Ingress,
        id: ObjectId::new(ns, i.metadata.name.clone().unwrap_or_default()),
        class,
        annotations: ann,
        status_ips,
        body: DraftBody::Ingress {
            rules,
            default_backend,
            tls: !spec.tls.is_empty(),
        },
    })
}

// ----- Gateway -----------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GatewaySpec {
    #[serde(default)]
    gateway_class_name: Option<String>,
    #[serde(default)]
    listeners: Vec<ListenerIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListenerIn {
    #[serde(default)]
    name: String,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    port: i64,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    tls: Option<Value>,
    #[serde(default)]
    allowed_routes: Option<AllowedRoutesIn>,
}

#[derive(Debug, Default, Deserialize)]
struct AllowedRoutesIn {
    #[serde(default)]
    namespaces: Option<RouteNamespacesIn>,
    #[serde(default)]
    kinds: Vec<GroupKind>,
}

#[derive(Debug, Default, Deserialize)]
struct RouteNamespacesIn {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    selector: Option<LabelSelector>,
}

#[derive(Debug, Default, Deserialize)]
struct GroupKind {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    kind: String,
}

/// Rule 6.23: a Gateway, validated as its CRD does; a listener of a protocol netsem does not
/// know (a domain-prefixed one) is left out, with a warning.
pub(crate) fn gateway(obj: &Obj, value: Value) -> Result<(EntryDraft, Vec<String>), LoadError> {
    let g: Meta<GatewaySpec> = obj.read(value)?;
    let mut warnings = Vec::new();
    let class = g.spec.gateway_class_name.clone().filter(|c| !c.is_empty());
    if class.is_none() {
        return Err(obj.error("spec.gatewayClassName", "Required value"));
    }
    let n = g.spec.listeners.len();
    if !(1..=64).contains(&n) {
        return Err(obj.error(
            "spec.listeners",
            format!("Invalid value: {n} items: must have between 1 and 64 items"),
        ));
    }
    let mut listeners = Vec::new();
    for (i, l) in g.spec.listeners.iter().enumerate() {
        let lf = index("spec.listeners", i);
        validate::dns1123_label(&l.name)
            .map_err(|m| obj.error(&child(&lf, "name"), format!("Invalid value: {m}")))?;
        if g.spec.listeners[..i].iter().any(|o| o.name == l.name) {
            return Err(obj.error(
                "spec.listeners",
                format!(
                    "Invalid value: Listener name must be unique within the Gateway: {:?}",
                    l.name
                ),
            ));
        }
        if !(1..=65535).contains(&l.port) {
            return Err(obj.error(
                &child(&lf, "port"),
                format!(
                    "Invalid value: {}: must be between 1 and 65535, inclusive",
                    l.port
                ),
            ));
        }
        let protocol = match l.protocol.as_str() {
            "HTTP" => ListenerProtocol::HTTP,
            "HTTPS" => ListenerProtocol::HTTPS,
            "TLS" => ListenerProtocol::TLS,
            "TCP" => ListenerProtocol::TCP,
            "UDP" => ListenerProtocol::UDP,
            "" => return Err(obj.error(&child(&lf, "protocol"), "Required value")),
            other => {
                warnings.push(format!(
                    "{lf}: protocol {other:?} is implementation-specific: the listener is left out"
                ));
                continue;
            }
        };
        let has_tls = l.tls.is_some();
        match protocol {
            ListenerProtocol::HTTPS | ListenerProtocol::TLS if !has_tls => {
                return Err(obj.error(
                    &child(&lf, "tls"),
                    "Required value: tls must be specified for protocols ['HTTPS', 'TLS']",
                ))
            }
            ListenerProtocol::HTTP | ListenerProtocol::TCP | ListenerProtocol::UDP if has_tls => {
                return Err(obj.error(
                    &child(&lf, "tls"),
                    "Forbidden: tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
                ))
            }
            _ => {}
        }
        if let Some(h) = l.hostname.as_deref().filter(|h| !h.is_empty()) {
            if matches!(protocol, ListenerProtocol::TCP | ListenerProtocol::UDP) {
                return Err(obj.error(
                    &child(&lf, "hostname"),
                    "Forbidden: hostname must not be specified for protocols ['TCP', 'UDP']",
                ));
            }
            host(h, &child(&lf, "hostname"), obj)?;
        }
        let mut allowed = AllowedRoutes::default();
        if let Some(a) = &l.allowed_routes {
            let af = child(&lf, "allowedRoutes");
            if let Some(ns) = &a.namespaces {
                allowed.from = match ns.from.as_deref() {
                    None | Some("Same") => FromNamespaces::Same,
                    Some("All") => FromNamespaces::All,
                    Some("Selector") => FromNamespaces::Selector,
                    Some("None") => FromNamespaces::None,
                    Some(other) => {
                        return Err(obj.error(
                            &child(&af, "namespaces.from"),
                            format!("Unsupported value: {other:?}: supported values: \"All\", \"Selector\", \"Same\", \"None\""),
                        ))
                    }
                };
                if let Some(sel) = &ns.selector {
                    allowed.selector = Some(
                        validate::label_selector(sel, &child(&af, "namespaces.selector"))
                            .map_err(|e| obj.invalid(e))?,
                    );
                }
            }
            for (k, gk) in a.kinds.iter().enumerate() {
                let kf = index(&child(&af, "kinds"), k);
                let group = gk.group.as_deref().unwrap_or(GATEWAY_GROUP);
                match (group, gk.kind.parse::<RouteKind>()) {
                    (GATEWAY_GROUP, Ok(kind)) => allowed.kinds.push(kind),
                    _ => warnings.push(format!(
                        "{kf}: route kind {group}/{} is not a Gateway API route netsem reads: left out",
                        gk.kind
                    )),
                }
            }
        }
        listeners.push(Listener {
            name: l.name.clone(),
            protocol,
            port: l.port as u16,
            hostname: l.hostname.clone().filter(|h| !h.is_empty()),
            allowed_routes: allowed,
        });
    }
    let status_ips = g
        .status
        .as_ref()
        .and_then(|s| s.get("addresses"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.get("value")?.as_str()?.parse::<IpAddr>().ok())
                .collect()
        })
        .unwrap_or_default();
    Ok((
        EntryDraft {
            kind: EntryKind::Gateway,
            id: ObjectId::new(obj.ns(), g.metadata.name.clone().unwrap_or_default()),
            class,
            annotations: annotations(&g.metadata),
            status_ips,
            body: DraftBody::Gateway { listeners },
        },
        warnings,
    ))
}

// ----- routes ------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteSpec {
    #[serde(default)]
    parent_refs: Vec<ParentRefIn>,
    #[serde(default)]
    hostnames: Vec<String>,
    #[serde(default)]
    rules: Vec<RouteRuleIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParentRefIn {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    section_name: Option<String>,
    #[serde(default)]
    port: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteRuleIn {
    #[serde(default)]
    matches: Vec<MatchIn>,
    #[serde(default)]
    backend_refs: Vec<BackendRefIn>,
}

#[derive(Debug, Default, Deserialize)]
struct MatchIn {
    #[serde(default)]
    path: Option<PathIn>,
    #[serde(default)]
    method: Option<Value>,
    #[serde(default)]
    headers: Vec<HeaderIn>,
}

#[derive(Debug, Default, Deserialize)]
struct PathIn {
    #[serde(default, rename = "type")]
    match_type: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct HeaderIn {
    #[serde(default, rename = "type")]
    match_type: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Default, Deserialize)]
struct BackendRefIn {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    port: Option<i64>,
    #[serde(default)]
    weight: Option<i64>,
}

/// Rules 6.23–6.25: a route of `kind`, validated as its CRD does. Parent references to other
/// kinds than Gateway (a Service, for a mesh) and backends other than Services are left out,
/// with a warning.
pub(crate) fn route(
    obj: &Obj,
    kind: RouteKind,
    value: Value,
) -> Result<(Route, Vec<String>), LoadError> {
    let r: Meta<RouteSpec> = obj.read(value)?;
    let ns = obj.ns().to_string();
    let mut warnings = Vec::new();
    let spec = r.spec;
    if spec.parent_refs.len() > 32 {
        return Err(obj.error(
            "spec.parentRefs",
            format!(
                "Too many: {}: must have at most 32 items",
                spec.parent_refs.len()
            ),
        ));
    }
    let mut parent_refs = Vec::new();
    for (i, p) in spec.parent_refs.iter().enumerate() {
        let pf = index("spec.parentRefs", i);
        if p.name.is_empty() {
            return Err(obj.error(&child(&pf, "name"), "Required value"));
        }
        let group = p.group.as_deref().unwrap_or(GATEWAY_GROUP);
        let pkind = p.kind.as_deref().unwrap_or("Gateway");
        if (group, pkind) != (GATEWAY_GROUP, "Gateway") {
            warnings.push(format!(
                "{pf}: a parent of kind {pkind} is not a Gateway: left out"
            ));
            continue;
        }
        let port = match p.port {
            None => None,
            Some(n) if (1..=65535).contains(&n) => Some(n as u16),
            Some(n) => {
                return Err(obj.error(
                    &child(&pf, "port"),
                    format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
                ))
            }
        };
        parent_refs.push(ParentRef {
            namespace: p.namespace.clone().filter(|n| !n.is_empty()),
            name: p.name.clone(),
            section_name: p.section_name.clone().filter(|s| !s.is_empty()),
            port,
        });
    }
    if !kind.has_hostnames() && !spec.hostnames.is_empty() {
        return Err(obj.error(
            "spec.hostnames",
            format!("Forbidden: a {} has no hostnames", kind.name()),
        ));
    }
    if spec.hostnames.len() > 16 {
        return Err(obj.error(
            "spec.hostnames",
            format!(
                "Too many: {}: must have at most 16 items",
                spec.hostnames.len()
            ),
        ));
    }
    for (i, h) in spec.hostnames.iter().enumerate() {
        host(h, &index("spec.hostnames", i), obj)?;
    }
    if spec.rules.len() > 16 {
        return Err(obj.error(
            "spec.rules",
            format!("Too many: {}: must have at most 16 items", spec.rules.len()),
        ));
    }
    if spec.rules.is_empty() && !matches!(kind, RouteKind::HTTPRoute | RouteKind::GRPCRoute) {
        return Err(obj.error("spec.rules", "Required value: must have at least 1 item"));
    }
    let mut rules = Vec::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let rf = index("spec.rules", i);
        let mut matches = Vec::new();
        if !rule.matches.is_empty() && !matches!(kind, RouteKind::HTTPRoute | RouteKind::GRPCRoute)
        {
            return Err(obj.error(
                &child(&rf, "matches"),
                format!("Forbidden: a {} rule has no matches", kind.name()),
            ));
        }
        for (j, m) in rule.matches.iter().enumerate() {
            let mf = index(&child(&rf, "matches"), j);
            matches.push(route_match(obj, kind, m, &mf)?);
        }
        let mut backend_refs = Vec::new();
        if rule.backend_refs.len() > 16 {
            return Err(obj.error(
                &child(&rf, "backendRefs"),
                "Too many: must have at most 16 items",
            ));
        }
        if rule.backend_refs.is_empty()
            && !matches!(kind, RouteKind::HTTPRoute | RouteKind::GRPCRoute)
        {
            return Err(obj.error(
                &child(&rf, "backendRefs"),
                "Required value: must have at least 1 item",
            ));
        }
        for (j, b) in rule.backend_refs.iter().enumerate() {
            let bf = index(&child(&rf, "backendRefs"), j);
            let group = b.group.as_deref().unwrap_or("");
            let bkind = b.kind.as_deref().unwrap_or("Service");
            if b.name.is_empty() {
                return Err(obj.error(&child(&bf, "name"), "Required value"));
            }
            if (group, bkind) != ("", "Service") {
                warnings.push(format!(
                    "{bf}: a backend of kind {bkind} is not a Service: left out"
                ));
                continue;
            }
            let port = match b.port {
                None => {
                    return Err(
                        obj.error(&bf, "Invalid value: Must have port for Service reference")
                    )
                }
                Some(n) if (1..=65535).contains(&n) => n as u16,
                Some(n) => {
                    return Err(obj.error(
                        &child(&bf, "port"),
                        format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
                    ))
                }
            };
            let weight = b.weight.unwrap_or(1);
            if !(0..=1_000_000).contains(&weight) {
                return Err(obj.error(
                    &child(&bf, "weight"),
                    format!("Invalid value: {weight}: must be between 0 and 1000000, inclusive"),
                ));
            }
            backend_refs.push(BackendRef {
                service: ServiceId::new(
                    b.namespace
                        .clone()
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| ns.clone()),
                    &b.name,
                ),
                port: PortRef::Number(port),
                weight: weight as u32,
            });
        }
        rules.push(RouteRule {
            matches,
            backend_refs,
        });
    }
    Ok((
        Route {
            id: RouteId {
                kind,
                namespace: ns,
                name: r.metadata.name.clone().unwrap_or_default(),
            },
            parent_refs,
            hostnames: spec.hostnames,
            rules,
        },
        warnings,
    ))
}

fn route_match(obj: &Obj, kind: RouteKind, m: &MatchIn, mf: &str) -> Result<RouteMatch, LoadError> {
    let mut out = RouteMatch::default();
    for (k, h) in m.headers.iter().enumerate() {
        let hf = index(&child(mf, "headers"), k);
        if h.name.is_empty() {
            return Err(obj.error(&child(&hf, "name"), "Required value"));
        }
        match h.match_type.as_deref() {
            None | Some("Exact") => {
                out.headers.insert(h.name.to_ascii_lowercase(), h.value.clone());
            }
            // A regular expression is the implementation's dialect: such a match never holds.
            Some("RegularExpression") => return Ok(never(out)),
            Some(other) => {
                return Err(obj.error(&child(&hf, "type"), format!("Unsupported value: {other:?}: supported values: \"Exact\", \"RegularExpression\"")))
            }
        }
    }
    match kind {
        RouteKind::GRPCRoute => {
            if let Some(method) = &m.method {
                let get = |k: &str| method.get(k).and_then(Value::as_str).map(str::to_string);
                if get("type").as_deref() == Some("RegularExpression") {
                    return Ok(never(out));
                }
                out.grpc_service = get("service");
                out.grpc_method = get("method");
                if out.grpc_service.is_none() && out.grpc_method.is_none() {
                    return Err(obj.error(
                        &child(mf, "method"),
                        "Invalid value: One or both of 'service' or 'method' must be specified",
                    ));
                }
            }
        }
        _ => {
            if let Some(p) = &m.path {
                let pf = child(mf, "path");
                let match_type = match p.match_type.as_deref() {
                    None | Some("PathPrefix") => PathMatchType::PathPrefix,
                    Some("Exact") => PathMatchType::Exact,
                    Some("RegularExpression") => PathMatchType::RegularExpression,
                    Some(other) => {
                        return Err(obj.error(&child(&pf, "type"), format!("Unsupported value: {other:?}: supported values: \"Exact\", \"PathPrefix\", \"RegularExpression\"")))
                    }
                };
                let value = p.value.clone().unwrap_or_else(|| "/".into());
                if match_type != PathMatchType::RegularExpression {
                    if !value.starts_with('/') {
                        return Err(obj.error(&child(&pf, "value"), "Invalid value: value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"));
                    }
                    if value.contains("//") {
                        return Err(obj.error(&child(&pf, "value"), "Invalid value: must not contain '//' when type one of ['Exact', 'PathPrefix']"));
                    }
                }
                out.path = Some(PathMatch { match_type, value });
            }
            if let Some(method) = &m.method {
                let method = method.as_str().unwrap_or("");
                const METHODS: [&str; 9] = [
                    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
                ];
                if !METHODS.contains(&method) {
                    return Err(obj.error(&child(mf, "method"), format!("Unsupported value: {method:?}: supported values: \"GET\", \"HEAD\", \"POST\", \"PUT\", \"DELETE\", \"CONNECT\", \"OPTIONS\", \"TRACE\", \"PATCH\"")));
                }
                out.method = Some(method.to_string());
            }
        }
    }
    Ok(out)
}

/// A match netsem cannot decide (a regular expression): it never holds.
fn never(mut m: RouteMatch) -> RouteMatch {
    m.path = Some(PathMatch {
        match_type: PathMatchType::RegularExpression,
        value: String::new(),
    });
    m.grpc_service = Some("\0".to_string());
    m
}

// ----- ReferenceGrant ----------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct GrantSpec {
    #[serde(default)]
    from: Vec<GrantFromIn>,
    #[serde(default)]
    to: Vec<GrantToIn>,
}

#[derive(Debug, Default, Deserialize)]
struct GrantFromIn {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Debug, Default, Deserialize)]
struct GrantToIn {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: Option<String>,
}

/// Rule 6.25: a ReferenceGrant; only its grants from routes to Services matter here.
pub(crate) fn reference_grant(
    obj: &Obj,
    value: Value,
) -> Result<Option<ReferenceGrant>, LoadError> {
    let g: Meta<GrantSpec> = obj.read(value)?;
    for (field, n) in [
        ("spec.from", g.spec.from.len()),
        ("spec.to", g.spec.to.len()),
    ] {
        if !(1..=16).contains(&n) {
            return Err(obj.error(
                field,
                format!("Invalid value: {n} items: must have between 1 and 16 items"),
            ));
        }
    }
    let mut from = Vec::new();
    for (i, f) in g.spec.from.iter().enumerate() {
        let ff = index("spec.from", i);
        if f.kind.is_empty() {
            return Err(obj.error(&child(&ff, "kind"), "Required value"));
        }
        if f.namespace.is_empty() {
            return Err(obj.error(&child(&ff, "namespace"), "Required value"));
        }
        if f.group.as_deref().unwrap_or("") == GATEWAY_GROUP {
            if let Ok(kind) = f.kind.parse::<RouteKind>() {
                from.push(GrantFrom {
                    kind,
                    namespace: f.namespace.clone(),
                });
            }
        }
    }
    let mut services = Vec::new();
    let mut any = false;
    for (i, t) in g.spec.to.iter().enumerate() {
        if t.kind.is_empty() {
            return Err(obj.error(&child(&index("spec.to", i), "kind"), "Required value"));
        }
        if t.group.as_deref().unwrap_or("").is_empty() && t.kind == "Service" {
            match t.name.as_deref().filter(|n| !n.is_empty()) {
                Some(n) => services.push(n.to_string()),
                None => any = true,
            }
        }
    }
    if from.is_empty() || (services.is_empty() && !any) {
        return Ok(None);
    }
    Ok(Some(ReferenceGrant {
        id: ObjectId::new(obj.ns(), g.metadata.name.clone().unwrap_or_default()),
        from,
        services: if any { Vec::new() } else { services },
    }))
}

// ----- the controller (rule 6.20) ----------------------------------------------------------

/// What the end of the load knows that recognises a controller: the classes, every Service
/// with its addresses, every pod with its labels.
pub(crate) struct Context<'a> {
    pub classes: &'a [ClassInfo],
    pub services: &'a [(ServiceId, Vec<IpAddr>)],
    pub pods: &'a [(crate::ident::PodId, crate::selector::Labels)],
}

/// Rules 6.20, 6.22: the entry point of a draft, its controller recognised in this order: the
/// annotations `netsem.io/controller-service` or `netsem.io/controller-address` on the object,
/// then on its class; for a Gateway, its pods (label `gateway.networking.k8s.io/gateway-name`);
/// a Service holding an address of the object's `status`; else the `ingress-controller`
/// entity. Returns a warning when the class is missing or the entity is assumed.
pub(crate) fn resolve(
    draft: EntryDraft,
    cx: &Context<'_>,
) -> Result<(crate::entry::EntryPoint, Vec<String>), String> {
    use crate::entry::{Controller, EntryPoint, Gateway, Ingress};
    let mut warnings = Vec::new();
    let mine: Vec<&ClassInfo> = cx.classes.iter().filter(|c| c.kind == draft.kind).collect();
    let class_name = draft.class.clone().or_else(|| {
        let defaults: Vec<&&ClassInfo> = mine.iter().filter(|c| c.default).collect();
        if defaults.len() > 1 {
            warnings.push(format!(
                "several IngressClasses are marked default ({}): the API server gives a new Ingress none [rule 6.22]",
                defaults.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
            return None;
        }
        defaults.first().map(|c| c.name.clone())
    });
    let class = class_name
        .as_deref()
        .and_then(|n| mine.iter().find(|c| c.name == n));
    if let (Some(n), None, false) = (&class_name, class, mine.is_empty()) {
        warnings.push(format!(
            "its class {n} is not in the input: no controller of the input serves it [rule 6.22]"
        ));
    }
    let annotation = |key: &str| {
        draft
            .annotations
            .get(key)
            .or_else(|| class.and_then(|c| c.annotations.get(key)))
            .cloned()
    };
    let controller = if let Some(s) = annotation(CONTROLLER_SERVICE_ANNOTATION) {
        let id: ServiceId = s.parse().map_err(|_| {
            format!("metadata.annotations[{CONTROLLER_SERVICE_ANNOTATION}]: Invalid value: {s:?}: expected `namespace/name`")
        })?;
        if !cx.services.iter().any(|(sid, _)| *sid == id) {
            warnings.push(format!(
                "its controller Service {id} is not in the input [rule 6.20]"
            ));
        }
        Controller::Service(id)
    } else if let Some(a) = annotation(CONTROLLER_ADDRESS_ANNOTATION) {
        let address = a.parse().map_err(|_| {
            format!("metadata.annotations[{CONTROLLER_ADDRESS_ANNOTATION}]: Invalid value: {a:?}: expected an IP address")
        })?;
        Controller::Address(address)
    } else if draft.kind == EntryKind::Gateway
        && cx.pods.iter().any(|(p, l)| {
            p.namespace == draft.id.namespace && l.get(GATEWAY_NAME_LABEL) == Some(&draft.id.name)
        })
    {
        Controller::Pods {
            namespace: draft.id.namespace.clone(),
            selector: crate::selector::labels([(GATEWAY_NAME_LABEL, draft.id.name.as_str())]),
        }
    } else if let Some((id, _)) = cx
        .services
        .iter()
        .find(|(_, ips)| ips.iter().any(|ip| draft.status_ips.contains(ip)))
    {
        Controller::Service(id.clone())
    } else {
        warnings.push(format!(
            "its controller is not in the input: its traffic comes from the ingress-controller entity {INGRESS_CONTROLLER_ADDRESS} (annotate it or its class with {CONTROLLER_SERVICE_ANNOTATION} or {CONTROLLER_ADDRESS_ANNOTATION}) [rule 6.20]"
        ));
        Controller::Address(INGRESS_CONTROLLER_ADDRESS.parse().expect("a valid address"))
    };
    let entry = match draft.body {
        DraftBody::Ingress {
            rules,
            default_backend,
            tls,
        } => EntryPoint::Ingress(Ingress {
            id: draft.id,
            class: class_name,
            controller,
            rules,
            default_backend,
            tls,
        }),
        DraftBody::Gateway { listeners } => EntryPoint::Gateway(Gateway {
            id: draft.id,
            class: class_name,
            controller,
            listeners,
        }),
    };
    Ok((entry, warnings))
}

#[cfg(test)]
mod tests {
    use crate::entry::{Controller, EntryKind, EntryPoint, EntryPointId};
    use crate::manifest::parse_str;
    use crate::State;

    const BASE: &str = "
apiVersion: v1
kind: Service
metadata: {name: ctl, namespace: ing}
spec: {clusterIP: 10.96.0.9, selector: {app: ctl}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx, annotations: {ingressclass.kubernetes.io/is-default-class: 'true', netsem.io/controller-service: ing/ctl}}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}
";

    // Rule 6.22: an Ingress without a class takes the default IngressClass, whose
    // annotation names its controller (rule 6.20).
    #[test]
    fn r6_22_default_class_and_its_controller() {
        let m = parse_str("in.yaml", BASE).unwrap();
        let mut s = State::default();
        m.apply(&mut s).unwrap();
        let id = EntryPointId::new(EntryKind::Ingress, "shop", "web");
        let Some(EntryPoint::Ingress(i)) = s.entry_point(&id) else {
            panic!("no ingress");
        };
        assert_eq!(i.class.as_deref(), Some("nginx"));
        assert_eq!(
            i.controller,
            Controller::Service("ing/ctl".parse().unwrap())
        );
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        // Deleting the manifest removes the entry point.
        m.delete(&mut s).unwrap();
        assert!(s.entry_point(&id).is_none());
    }

    // Rule 6.20: without a class or annotation, the controller is the ingress-controller
    // entity, with a warning.
    #[test]
    fn r6_20_no_controller_in_the_input_is_the_entity() {
        let text = BASE.split("---").last().unwrap();
        let m = parse_str("in.yaml", text).unwrap();
        assert!(m
            .warnings
            .iter()
            .any(|w| w.contains("ingress-controller entity")));
    }

    // Rule 9.2: bad input names file, object and field.
    #[test]
    fn r6_21_invalid_ingress_and_routes_name_the_field() {
        let bad = |text: &str, field: &str| {
            let e = parse_str("bad.yaml", text).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
            assert!(e.to_string().contains("bad.yaml"), "{e}");
        };
        bad(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a}\nspec: {rules: [{host: shop.example.com, http: {paths: [{path: /x, backend: {service: {name: w, port: {number: 80}}}}]}}]}",
            "spec.rules[0].http.paths[0].pathType",
        );
        bad(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a}\nspec: {rules: [{host: 10.0.0.1}]}",
            "spec.rules[0].host",
        );
        bad(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: a}\nspec: {rules: [{backendRefs: [{name: w}]}]}",
            "spec.rules[0].backendRefs[0]",
        );
        bad(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: a}\nspec: {gatewayClassName: x, listeners: [{name: h, port: 443, protocol: HTTPS}]}",
            "spec.listeners[0].tls",
        );
        bad(
            "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: a}\nspec: {hostnames: [a.example.com], rules: [{backendRefs: [{name: w, port: 1}]}]}",
            "spec.hostnames",
        );
    }
}
