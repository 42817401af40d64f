//! Entry points (rules 6.19–6.26): an `Ingress` (networking.k8s.io/v1) or a Gateway API
//! `Gateway` (gateway.networking.k8s.io/v1) with the routes attached to it, through which
//! clients outside the cluster reach Services. The entry point adds no address of its own to
//! the state: its **controller** (pods, the pods behind a Service, or an entity outside the
//! pods) accepts the client's connection and opens its own to a backend's endpoint. This module
//! holds the objects and the L7 matching, which only decides *which* backends a request
//! reaches; `decision::entry` decides the two connections.

use crate::ident::{ObjectId, PodId, ServiceId};
use crate::net::{Address, PortRef};
use crate::selector::{LabelSelector, Labels};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The kind of an entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    /// `networking.k8s.io/v1` Ingress.
    Ingress,
    /// `gateway.networking.k8s.io/v1` Gateway.
    Gateway,
}

/// An entry point's identity, written `ingress/NAMESPACE/NAME` or `gateway/NAMESPACE/NAME`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryPointId {
    /// Ingress or Gateway.
    pub kind: EntryKind,
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl EntryPointId {
    /// An identity from its parts.
    pub fn new(kind: EntryKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        EntryPointId {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for EntryPointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            EntryKind::Ingress => "ingress",
            EntryKind::Gateway => "gateway",
        };
        write!(f, "{kind}/{}/{}", self.namespace, self.name)
    }
}

impl FromStr for EntryPointId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("expected `ingress/NAMESPACE/NAME` or `gateway/NAMESPACE/NAME`, got `{s}`");
        let mut parts = s.splitn(3, '/');
        let (Some(kind), Some(ns), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let kind = match kind.to_ascii_lowercase().as_str() {
            "ingress" => EntryKind::Ingress,
            "gateway" => EntryKind::Gateway,
            _ => return Err(bad()),
        };
        if ns.is_empty() || name.is_empty() || name.contains('/') {
            return Err(bad());
        }
        Ok(EntryPointId::new(kind, ns, name))
    }
}

impl Serialize for EntryPointId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EntryPointId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Who proxies an entry point's traffic (rule 6.20).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Controller {
    /// The controller pods behind a Service: clients reach them through it (its external
    /// addresses, else its node ports, else its cluster address), as any client of that Service.
    Service(ServiceId),
    /// The controller pods, reached directly on the listener port.
    Pods {
        /// Their namespace.
        namespace: String,
        /// Their labels.
        selector: Labels,
    },
    /// A controller outside the pods (a cloud load balancer, a controller on the host): the
    /// backends see this address; nothing polices the client's leg.
    Address(Address),
}

/// Where a listener admits routes from (`allowedRoutes.namespaces.from`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromNamespaces {
    /// The Gateway's namespace (the default).
    #[default]
    Same,
    /// Every namespace.
    All,
    /// Namespaces whose labels match `selector`.
    Selector,
    /// None.
    None,
}

/// `allowedRoutes` of a listener.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowedRoutes {
    /// Where routes may live.
    #[serde(default)]
    pub from: FromNamespaces,
    /// The namespace selector of `from: Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The route kinds admitted; empty: those of the listener's protocol.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<RouteKind>,
}

/// A listener's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum ListenerProtocol {
    /// Plain HTTP.
    HTTP,
    /// HTTP over TLS terminated at the gateway.
    HTTPS,
    /// TLS, passed through or terminated, routed by SNI.
    TLS,
    /// TCP.
    TCP,
    /// UDP.
    UDP,
}

impl ListenerProtocol {
    /// The route kinds a listener of this protocol admits when `allowedRoutes.kinds` is empty.
    pub fn default_kinds(self) -> &'static [RouteKind] {
        match self {
            ListenerProtocol::HTTP | ListenerProtocol::HTTPS => {
                &[RouteKind::HTTPRoute, RouteKind::GRPCRoute]
            }
            ListenerProtocol::TLS => &[RouteKind::TLSRoute],
            ListenerProtocol::TCP => &[RouteKind::TCPRoute],
            ListenerProtocol::UDP => &[RouteKind::UDPRoute],
        }
    }

    /// Whether the listener takes connections of `protocol`.
    pub fn carries(self, protocol: crate::net::Protocol) -> bool {
        match self {
            ListenerProtocol::UDP => protocol == crate::net::Protocol::Udp,
            _ => protocol == crate::net::Protocol::Tcp,
        }
    }
}

/// One listener of a Gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    /// Its name (`sectionName` of a parentRef).
    pub name: String,
    /// Its protocol.
    pub protocol: ListenerProtocol,
    /// Its port.
    pub port: u16,
    /// The host it serves (`*.` prefix: a suffix match); absent: every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Which routes may attach.
    #[serde(default)]
    pub allowed_routes: AllowedRoutes,
}

/// A Gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    /// `namespace/name`.
    pub id: ObjectId,
    /// `spec.gatewayClassName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Its controller.
    pub controller: Controller,
    /// Its listeners.
    pub listeners: Vec<Listener>,
}

/// How an Ingress path is compared with a request's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IngressPathType {
    /// The whole path, case-sensitively.
    Exact,
    /// Element by element, split at `/`.
    Prefix,
    /// Up to the controller; netsem reads it as `Prefix` (rule 6.21).
    ImplementationSpecific,
}

/// A backend: a Service port (by number or, for an Ingress, by name) and its share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendRef {
    /// The Service.
    pub service: ServiceId,
    /// The Service port (not the target port).
    pub port: PortRef,
    /// Its weight among the rule's backends; 0 gets no traffic.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

fn is_one(w: &u32) -> bool {
    *w == 1
}

/// One path of an Ingress rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressPath {
    /// The path.
    pub path: String,
    /// How it matches.
    pub path_type: IngressPathType,
    /// Where it sends.
    pub backend: BackendRef,
}

/// One rule of an Ingress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressRule {
    /// The host (`*.` prefix: exactly one more label); absent: every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Its paths.
    #[serde(default)]
    pub paths: Vec<IngressPath>,
}

/// An Ingress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ingress {
    /// `namespace/name`.
    pub id: ObjectId,
    /// Its IngressClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Its controller.
    pub controller: Controller,
    /// Its rules.
    #[serde(default)]
    pub rules: Vec<IngressRule>,
    /// `spec.defaultBackend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_backend: Option<BackendRef>,
    /// `spec.tls` is set: the controller also listens on 443.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}

/// An Ingress or a Gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryPoint {
    /// An Ingress.
    Ingress(Ingress),
    /// A Gateway.
    Gateway(Gateway),
}

impl EntryPoint {
    /// Its identity.
    pub fn id(&self) -> EntryPointId {
        match self {
            EntryPoint::Ingress(i) => {
                EntryPointId::new(EntryKind::Ingress, &i.id.namespace, &i.id.name)
            }
            EntryPoint::Gateway(g) => {
                EntryPointId::new(EntryKind::Gateway, &g.id.namespace, &g.id.name)
            }
        }
    }

    /// Its controller.
    pub fn controller(&self) -> &Controller {
        match self {
            EntryPoint::Ingress(i) => &i.controller,
            EntryPoint::Gateway(g) => &g.controller,
        }
    }
}

/// The Gateway API route kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum RouteKind {
    /// `HTTPRoute` (v1).
    HTTPRoute,
    /// `GRPCRoute` (v1).
    GRPCRoute,
    /// `TLSRoute` (v1alpha2).
    TLSRoute,
    /// `TCPRoute` (v1alpha2).
    TCPRoute,
    /// `UDPRoute` (v1alpha2).
    UDPRoute,
}

impl RouteKind {
    /// The kind as manifests spell it.
    pub fn name(self) -> &'static str {
        match self {
            RouteKind::HTTPRoute => "HTTPRoute",
            RouteKind::GRPCRoute => "GRPCRoute",
            RouteKind::TLSRoute => "TLSRoute",
            RouteKind::TCPRoute => "TCPRoute",
            RouteKind::UDPRoute => "UDPRoute",
        }
    }

    /// Whether routes of this kind carry hostnames.
    pub fn has_hostnames(self) -> bool {
        matches!(
            self,
            RouteKind::HTTPRoute | RouteKind::GRPCRoute | RouteKind::TLSRoute
        )
    }
}

impl FromStr for RouteKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "HTTPRoute" => RouteKind::HTTPRoute,
            "GRPCRoute" => RouteKind::GRPCRoute,
            "TLSRoute" => RouteKind::TLSRoute,
            "TCPRoute" => RouteKind::TCPRoute,
            "UDPRoute" => RouteKind::UDPRoute,
            _ => return Err(format!("unknown route kind `{s}`")),
        })
    }
}

/// A route's identity, written `KIND/NAMESPACE/NAME` (`HTTPRoute/shop/web`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteId {
    /// Its kind.
    pub kind: RouteKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl fmt::Display for RouteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind.name(), self.namespace, self.name)
    }
}

impl FromStr for RouteId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(k), Some(ns), Some(name))
                if !ns.is_empty() && !name.is_empty() && !name.contains('/') =>
            {
                Ok(RouteId {
                    kind: k.parse()?,
                    namespace: ns.to_string(),
                    name: name.to_string(),
                })
            }
            _ => Err(format!("expected `KIND/NAMESPACE/NAME`, got `{s}`")),
        }
    }
}

impl Serialize for RouteId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RouteId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A route's reference to a Gateway (`parentRefs[]` of kind Gateway).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentRef {
    /// The Gateway's namespace; absent: the route's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The Gateway's name.
    pub name: String,
    /// A listener's name; absent: every listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    /// A listener port; absent: every port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// How an HTTPRoute path is compared with a request's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PathMatchType {
    /// The whole path.
    Exact,
    /// Element by element, a trailing `/` ignored.
    PathPrefix,
    /// A regular expression in the implementation's dialect: never matched by netsem.
    RegularExpression,
}

/// A path match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PathMatch {
    /// How.
    #[serde(rename = "type")]
    pub match_type: PathMatchType,
    /// The path.
    pub value: String,
}

/// One `matches[]` entry of an HTTPRoute or GRPCRoute rule; every field given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteMatch {
    /// HTTPRoute: the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    /// HTTPRoute: the method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// GRPCRoute: the gRPC service (`/SERVICE/METHOD` of the request's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_service: Option<String>,
    /// GRPCRoute: the gRPC method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_method: Option<String>,
    /// Headers that must be present with exactly these values (names case-insensitive).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// One rule of a route.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteRule {
    /// Its matches; empty: every request (HTTPRoute: the default `PathPrefix /`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<RouteMatch>,
    /// Its backends.
    #[serde(default)]
    pub backend_refs: Vec<BackendRef>,
}

/// A Gateway API route: HTTPRoute, GRPCRoute, TLSRoute, TCPRoute or UDPRoute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// `KIND/namespace/name`.
    pub id: RouteId,
    /// The Gateways it attaches to.
    pub parent_refs: Vec<ParentRef>,
    /// The hosts it serves (HTTP Host, gRPC authority, TLS SNI); empty: every host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Its rules.
    #[serde(default)]
    pub rules: Vec<RouteRule>,
}

/// One `from` entry of a ReferenceGrant: routes of `kind` in `namespace`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantFrom {
    /// The route kind.
    pub kind: RouteKind,
    /// The route namespace.
    pub namespace: String,
}

/// A ReferenceGrant: lets routes of other namespaces name Services of its namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferenceGrant {
    /// `namespace/name`: the namespace whose Services it opens.
    pub id: ObjectId,
    /// Who may refer.
    pub from: Vec<GrantFrom>,
    /// The Services they may name; empty: every Service of the namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

impl ReferenceGrant {
    /// Whether a route `route` may name Service `service` (rule 6.25).
    pub fn permits(&self, route: &RouteId, service: &ServiceId) -> bool {
        service.namespace == self.id.namespace
            && self
                .from
                .iter()
                .any(|f| f.kind == route.kind && f.namespace == route.namespace)
            && (self.services.is_empty() || self.services.contains(&service.name))
    }
}

/// What a client asks of an entry point above the transport: the host (HTTP `Host`, gRPC
/// authority, TLS SNI), the path, the method and the headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct L7 {
    /// The host, if the client names one.
    pub host: Option<String>,
    /// The path (`/` when not given).
    pub path: String,
    /// The HTTP method, if given.
    pub method: Option<String>,
    /// The headers.
    pub headers: BTreeMap<String, String>,
}

/// Rule 6.21: an Ingress host against a request's host: exact, or `*.` standing for exactly
/// one label; an absent host matches every request.
pub fn ingress_host_matches(rule: Option<&str>, host: Option<&str>) -> bool {
    let Some(rule) = rule else {
        return true;
    };
    let Some(host) = host.map(strip_port) else {
        return false;
    };
    match rule.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest.eq_ignore_ascii_case(suffix)),
        None => rule.eq_ignore_ascii_case(host),
    }
}

/// Rule 6.24: a Gateway API hostname against a host: exact, or `*.` standing for one or more
/// labels.
pub fn gateway_host_matches(pattern: &str, host: &str) -> bool {
    let host = strip_port(host);
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{}", suffix.to_ascii_lowercase()))
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// Rule 6.23: whether a listener hostname and a route hostname intersect (one matches the
/// other, or both are wildcards one of which covers the other).
pub fn hostnames_intersect(listener: &str, route: &str) -> bool {
    listener.eq_ignore_ascii_case(route)
        || gateway_host_matches(listener, route.trim_start_matches("*."))
            && (!route.starts_with("*.") || listener.starts_with("*."))
        || gateway_host_matches(route, listener.trim_start_matches("*."))
            && (!listener.starts_with("*.") || route.starts_with("*."))
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The elements of a path, split at `/`, empty ones dropped (a trailing `/` is ignored).
fn elements(path: &str) -> Vec<&str> {
    path.split('/').filter(|e| !e.is_empty()).collect()
}

/// Rules 6.21, 6.24: an element-wise prefix: `/foo` matches `/foo`, `/foo/` and `/foo/bar`,
/// not `/foobar`.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    let p = elements(prefix);
    let r = elements(path);
    p.len() <= r.len() && p.iter().zip(&r).all(|(a, b)| a == b)
}

/// Rule 6.21: whether an Ingress path matches, and how specific the match is (longer first,
/// then Exact before Prefix).
pub fn ingress_path_matches(p: &IngressPath, path: &str) -> Option<(usize, bool)> {
    let hit = match p.path_type {
        IngressPathType::Exact => p.path == path,
        IngressPathType::Prefix | IngressPathType::ImplementationSpecific => {
            prefix_matches(&p.path, path)
        }
    };
    hit.then_some((p.path.len(), p.path_type == IngressPathType::Exact))
}

/// How specific a route match is, in the order of rule 6.24 (greater is more specific): exact
/// path, prefix length, method given, gRPC service and method given, header count.
pub type Specificity = (bool, usize, bool, bool, bool, usize);

/// Rule 6.24: whether one HTTPRoute/GRPCRoute match holds for a request, and how specific it
/// is.
pub fn route_match(kind: RouteKind, m: &RouteMatch, req: &L7) -> Option<Specificity> {
    let headers_hold = m.headers.iter().all(|(k, v)| {
        req.headers
            .iter()
            .any(|(rk, rv)| rk.eq_ignore_ascii_case(k) && rv == v)
    });
    if !headers_hold {
        return None;
    }
    match kind {
        RouteKind::GRPCRoute => {
            let mut parts = req.path.trim_start_matches('/').splitn(2, '/');
            let (service, method) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let ok = m.grpc_service.as_deref().is_none_or(|s| s == service)
                && m.grpc_method.as_deref().is_none_or(|x| x == method);
            ok.then_some((
                false,
                0,
                false,
                m.grpc_service.is_some(),
                m.grpc_method.is_some(),
                m.headers.len(),
            ))
        }
        _ => {
            let (exact, len) = match &m.path {
                None => (false, 1),
                Some(p) => match p.match_type {
                    PathMatchType::Exact if p.value == req.path => (true, p.value.len()),
                    PathMatchType::PathPrefix if prefix_matches(&p.value, &req.path) => {
                        (false, p.value.len())
                    }
                    _ => return None,
                },
            };
            if let Some(method) = &m.method {
                if req.method.as_deref().unwrap_or("GET") != method {
                    return None;
                }
            }
            Some((
                exact,
                len,
                m.method.is_some(),
                false,
                false,
                m.headers.len(),
            ))
        }
    }
}

/// The controller pod a trace or `explain` names (rule 6.26), when several could proxy.
pub type ControllerPick = Option<PodId>;

#[cfg(test)]
mod tests {
    use super::*;

    // Rule 6.21: Ingress wildcards cover exactly one label; an absent host covers all.
    #[test]
    fn r6_21_ingress_hosts_and_paths() {
        assert!(ingress_host_matches(Some("*.foo.com"), Some("bar.foo.com")));
        assert!(!ingress_host_matches(
            Some("*.foo.com"),
            Some("baz.bar.foo.com")
        ));
        assert!(!ingress_host_matches(Some("*.foo.com"), Some("foo.com")));
        assert!(ingress_host_matches(Some("foo.com"), Some("FOO.com:8080")));
        assert!(ingress_host_matches(None, None));
        assert!(!ingress_host_matches(Some("foo.com"), None));
        assert!(prefix_matches("/foo/bar", "/foo/bar/baz"));
        assert!(!prefix_matches("/foo/bar", "/foo/barbaz"));
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/foo/", "/foo"));
    }

    // Rule 6.24: Gateway API wildcards are suffix matches of one or more labels.
    #[test]
    fn r6_24_gateway_hostnames() {
        assert!(gateway_host_matches(
            "*.example.com",
            "foo.test.example.com"
        ));
        assert!(!gateway_host_matches("*.example.com", "example.com"));
        assert!(hostnames_intersect("*.example.com", "test.example.com"));
        assert!(hostnames_intersect("test.example.com", "*.example.com"));
        assert!(!hostnames_intersect("*.example.com", "test.example.net"));
        let exact = RouteMatch {
            path: Some(PathMatch {
                match_type: PathMatchType::Exact,
                value: "/a".into(),
            }),
            ..RouteMatch::default()
        };
        let req = |p: &str| L7 {
            path: p.into(),
            ..L7::default()
        };
        assert!(route_match(RouteKind::HTTPRoute, &exact, &req("/a")).is_some());
        assert!(route_match(RouteKind::HTTPRoute, &exact, &req("/a/")).is_none());
        let grpc = RouteMatch {
            grpc_service: Some("shop.Cart".into()),
            ..RouteMatch::default()
        };
        assert!(route_match(RouteKind::GRPCRoute, &grpc, &req("/shop.Cart/Add")).is_some());
        assert!(route_match(RouteKind::GRPCRoute, &grpc, &req("/shop.Pay/Add")).is_none());
    }
}
