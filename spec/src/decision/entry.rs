//! A connection from outside through an entry point (rules 6.19–6.26), written once and generic
//! over the [`DecisionCore`] as the other primitives are: the route the request matches, then
//! two legs — the client to a controller, the controller to a backend's endpoint — each decided
//! as the connection it is ([`decide`], [`attempt`]).

use crate::connection::Endpoint;
use crate::decision::connect::{attempt, decide, Source, Target};
use crate::decision::core::DecisionCore;
use crate::decision::services::Endpoints;
use crate::decision::{Decision, Refusal};
use crate::entry::{
    gateway_host_matches, hostnames_intersect, ingress_host_matches, ingress_path_matches,
    route_match, BackendRef, Controller, EntryPoint, FromNamespaces, Gateway, Ingress, Listener,
    Route, RouteKind, L7,
};
use crate::error::{ErrorKind, OpError};
use crate::ident::PodId;
use crate::net::{Address, PortRef, Protocol};
use crate::service::ServiceType;
use crate::state::{AddressOwner, State};
use std::collections::BTreeMap;

/// What an entry point's routing chose for a request (rules 6.21, 6.24).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed {
    /// The route and the rule: `Ingress/NS/NAME#rules[i].http.paths[j]`,
    /// `Ingress/NS/NAME#defaultBackend`, `HTTPRoute/NS/NAME#rules[i]`.
    pub route: String,
    /// The rule's backends with traffic (weight above 0).
    pub backends: Vec<BackendRef>,
    /// For a Gateway API route: the route (for ReferenceGrants, rule 6.25).
    pub route_id: Option<crate::entry::RouteId>,
}

/// One controller a connection may go through, with both legs decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerPath<V> {
    /// The controller as its own connections' source: a pod, or the entity's address.
    pub controller: Endpoint,
    /// The client's leg; `None` when the controller is outside the pods (nothing polices it).
    pub client: Option<Decision<V>>,
    /// Every backend this controller may send the request to, each decided.
    pub backends: BTreeMap<PodId, Decision<V>>,
}

impl<V> ControllerPath<V> {
    /// Whether the client's leg lets the connection through.
    pub fn client_allowed(&self) -> bool {
        self.client.as_ref().is_none_or(|d| d.allowed)
    }

    /// Whether the whole path to `backend` is allowed.
    pub fn allowed(&self, backend: &PodId) -> bool {
        self.client_allowed() && self.backends.get(backend).is_some_and(|d| d.allowed)
    }

    /// Whether the whole path to `backend` is denied whatever tied admin policies do.
    pub fn denied(&self, backend: &PodId) -> bool {
        self.client.as_ref().is_some_and(Decision::denied)
            || self.backends.get(backend).is_none_or(Decision::denied)
    }
}

/// What a connection through an entry point would do (rule 6.26).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryAttempt<V> {
    /// The route chosen, if one matched.
    pub route: Option<Routed>,
    /// Why nothing reaches a backend, when refused before policy.
    pub refusal: Option<Refusal>,
    /// Every controller the connection may go through.
    pub paths: Vec<ControllerPath<V>>,
    /// The controller (index into `paths`) and backend of the connection, when definite.
    pub chosen: Option<(usize, PodId)>,
    /// The client as it sent the connection, and the listener port it sent to.
    pub client: (Endpoint, u16),
}

impl<V> EntryAttempt<V> {
    /// Rule 6.26: the verdict: the chosen path's, else `false` when every path is denied,
    /// else unknown (the choice is the implementation's).
    pub fn allowed(&self) -> Option<bool> {
        if self.refusal.is_some() {
            return Some(false);
        }
        if let Some((c, b)) = &self.chosen {
            let p = &self.paths[*c];
            let tied = p.client.as_ref().is_some_and(Decision::undetermined)
                || p.backends.get(b).is_some_and(Decision::undetermined);
            return (!tied).then(|| p.allowed(b));
        }
        let all_denied = self
            .paths
            .iter()
            .all(|p| p.backends.keys().all(|b| p.denied(b)));
        all_denied.then_some(false)
    }

    /// The paths a backend may be reached through: the chosen controller's, else every one.
    fn considered(&self) -> Vec<&ControllerPath<V>> {
        match &self.chosen {
            Some((c, _)) => vec![&self.paths[*c]],
            None => self.paths.iter().collect(),
        }
    }

    /// Every possible backend.
    pub fn backends(&self) -> std::collections::BTreeSet<PodId> {
        self.considered()
            .into_iter()
            .flat_map(|p| p.backends.keys().cloned())
            .collect()
    }

    /// The backends a new connection is allowed to through every controller that may carry it.
    pub fn allowed_backends(&self) -> std::collections::BTreeSet<PodId> {
        let considered = self.considered();
        self.backends()
            .into_iter()
            .filter(|b| {
                considered
                    .iter()
                    .filter(|p| p.backends.contains_key(b))
                    .all(|p| p.allowed(b))
            })
            .collect()
    }
}

/// Rule 6.21: the Ingress rule a request on `port` matches.
fn route_ingress(ing: &Ingress, port: u16, protocol: Protocol, req: &L7) -> Option<Routed> {
    if protocol != Protocol::Tcp || !(port == 80 || (port == 443 && ing.tls)) {
        return None;
    }
    let host = req.host.as_deref();
    // Rule order: an exact host before a wildcard before none; then the longest path, Exact
    // before Prefix; then the order of the manifest.
    let mut best: Option<((u8, usize, bool), String, &BackendRef)> = None;
    for (i, rule) in ing.rules.iter().enumerate() {
        if !ingress_host_matches(rule.host.as_deref(), host) {
            continue;
        }
        let host_rank = match rule.host.as_deref() {
            Some(h) if h.starts_with("*.") => 1,
            Some(_) => 2,
            None => 0,
        };
        for (j, p) in rule.paths.iter().enumerate() {
            if let Some((len, exact)) = ingress_path_matches(p, &req.path) {
                let key = (host_rank, len, exact);
                if best.as_ref().is_none_or(|(k, _, _)| key > *k) {
                    best = Some((
                        key,
                        format!("Ingress/{}#rules[{i}].http.paths[{j}]", ing.id),
                        &p.backend,
                    ));
                }
            }
        }
    }
    let (route, backend) = match best {
        Some((_, r, b)) => (r, b),
        None => (
            format!("Ingress/{}#defaultBackend", ing.id),
            ing.default_backend.as_ref()?,
        ),
    };
    Some(Routed {
        route,
        backends: vec![backend.clone()],
        route_id: None,
    })
}

/// Rule 6.23: whether `route` attaches to `listener` of `gw`.
fn attaches(state: &State, gw: &Gateway, listener: &Listener, route: &Route) -> bool {
    let kinds = if listener.allowed_routes.kinds.is_empty() {
        listener.protocol.default_kinds().to_vec()
    } else {
        listener.allowed_routes.kinds.clone()
    };
    if !kinds.contains(&route.id.kind) {
        return false;
    }
    let namespace_ok = match listener.allowed_routes.from {
        FromNamespaces::Same => route.id.namespace == gw.id.namespace,
        FromNamespaces::All => true,
        FromNamespaces::None => false,
        FromNamespaces::Selector => listener
            .allowed_routes
            .selector
            .as_ref()
            .is_some_and(|s| s.matches(&state.namespace_labels(&route.id.namespace))),
    };
    let parent_ok = route.parent_refs.iter().any(|p| {
        p.namespace.as_deref().unwrap_or(&route.id.namespace) == gw.id.namespace
            && p.name == gw.id.name
            && p.section_name.as_deref().is_none_or(|s| s == listener.name)
            && p.port.is_none_or(|n| n == listener.port)
    });
    let hosts_ok = !route.id.kind.has_hostnames()
        || match (&listener.hostname, route.hostnames.is_empty()) {
            (None, _) | (_, true) => true,
            (Some(l), false) => route.hostnames.iter().any(|h| hostnames_intersect(l, h)),
        };
    namespace_ok && parent_ok && hosts_ok
}

/// Rule 6.24: how well a route's hostnames match a host: the longest matching non-wildcard
/// hostname, then the longest matching hostname; `None` when none matches.
fn host_rank(route: &Route, host: Option<&str>) -> Option<(usize, usize)> {
    if !route.id.kind.has_hostnames() || route.hostnames.is_empty() {
        return Some((0, 0));
    }
    let host = host?;
    route
        .hostnames
        .iter()
        .filter(|h| gateway_host_matches(h, host))
        .map(|h| (if h.starts_with("*.") { 0 } else { h.len() }, h.len()))
        .max()
}

/// Rules 6.23, 6.24: the route rule of `gw` a request on `(protocol, port)` matches.
fn route_gateway(
    state: &State,
    gw: &Gateway,
    port: u16,
    protocol: Protocol,
    req: &L7,
) -> Option<Routed> {
    let host = req.host.as_deref();
    let listeners: Vec<&Listener> = gw
        .listeners
        .iter()
        .filter(|l| l.port == port && l.protocol.carries(protocol))
        .filter(|l| match (&l.hostname, host) {
            (None, _) => true,
            (Some(h), Some(host)) => gateway_host_matches(h, host),
            (Some(_), None) => false,
        })
        .collect();
    // Candidates: (host rank, match specificity, reversed order keys) per route rule.
    type Key = ((usize, usize), crate::entry::Specificity);
    let mut best: Option<(Key, String, &Route, usize)> = None;
    for route in state.routes() {
        if !listeners.iter().any(|l| attaches(state, gw, l, route)) {
            continue;
        }
        let Some(hr) = host_rank(route, host) else {
            continue;
        };
        for (i, rule) in route.rules.iter().enumerate() {
            let spec = match route.id.kind {
                RouteKind::HTTPRoute | RouteKind::GRPCRoute if !rule.matches.is_empty() => rule
                    .matches
                    .iter()
                    .filter_map(|m| route_match(route.id.kind, m, req))
                    .max(),
                // No matches: every request (HTTPRoute's default is `PathPrefix /`).
                RouteKind::HTTPRoute => Some((false, 1, false, false, false, 0)),
                _ => Some((false, 0, false, false, false, 0)),
            };
            let Some(spec) = spec else {
                continue;
            };
            let key = (hr, spec);
            // Strictly better only: routes come in namespace/name order and rules in order,
            // the final tie-breaks.
            if best.as_ref().is_none_or(|(k, ..)| key > *k) {
                best = Some((key, format!("{}#rules[{i}]", route.id), route, i));
            }
        }
    }
    let (_, name, route, i) = best?;
    Some(Routed {
        route: name,
        backends: route.rules[i]
            .backend_refs
            .iter()
            .filter(|b| b.weight > 0)
            .cloned()
            .collect(),
        route_id: Some(route.id.clone()),
    })
}

/// Rules 6.21, 6.23, 6.24: the route of `entry` a request matches.
pub fn route(
    state: &State,
    entry: &EntryPoint,
    port: u16,
    protocol: Protocol,
    req: &L7,
) -> Option<Routed> {
    match entry {
        EntryPoint::Ingress(i) => route_ingress(i, port, protocol, req),
        EntryPoint::Gateway(g) => route_gateway(state, g, port, protocol, req),
    }
}

/// Rule 6.25: whether a backendRef may be followed: same namespace as its route, or granted.
fn granted(state: &State, routed: &Routed, b: &BackendRef) -> bool {
    match &routed.route_id {
        None => true,
        Some(r) if r.namespace == b.service.namespace => true,
        Some(r) => state.reference_grants().any(|g| g.permits(r, &b.service)),
    }
}

/// Rule 6.20: where the client's leg goes when the controller sits behind a Service: its
/// external address, else a node port on the first node, else its cluster address (which
/// outside clients cannot reach, rule 6.10).
fn controller_service_target(
    state: &State,
    svc: &crate::service::Service,
    protocol: Protocol,
    port: u16,
) -> (Target, u16) {
    let external = state.addresses().iter().find_map(|(a, o)| match o {
        AddressOwner::Service { service, external } if *external && *service == svc.id => {
            Some(a.clone())
        }
        _ => None,
    });
    if let Some(a) = external {
        return (Target::Address(a), port);
    }
    let node_port = matches!(
        svc.service_type,
        ServiceType::NodePort | ServiceType::LoadBalancer
    )
    .then(|| svc.port(protocol, port).and_then(|p| p.node_port))
    .flatten();
    let node = state
        .nodes()
        .keys()
        .find_map(|n| state.node_addresses(n).next().cloned());
    match (node_port, node) {
        (Some(np), Some(a)) => (Target::Address(a), np),
        _ => (Target::Service(svc.id.clone()), port),
    }
}

/// Rule 6.19: the client's leg to each controller: `(controller as source, client decision)`.
#[allow(clippy::type_complexity)]
fn client_legs<C: DecisionCore>(
    state: &State,
    core: &C,
    client: &Address,
    controller: &Controller,
    protocol: Protocol,
    port: u16,
) -> Result<Result<Vec<(Endpoint, Option<Decision<C::Verdict>>)>, Refusal>, OpError> {
    let src = state.address_endpoint(client)?;
    Ok(Ok(match controller {
        Controller::Address(a) => vec![(state.address_endpoint(a)?, None)],
        Controller::Pods {
            namespace,
            selector,
        } => {
            let mut out = Vec::new();
            for p in state.pods().filter(|p| {
                p.id.namespace == *namespace
                    && p.is_live()
                    && selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
            }) {
                let dst = state.pod_endpoint(&p.id, src.address())?;
                if dst.address().is_none() {
                    continue;
                }
                let d = decide(state, core, &src, &dst, protocol, port, None);
                out.push((dst, Some(d)));
            }
            if out.is_empty() {
                return Ok(Err(Refusal::NoBackends));
            }
            out
        }
        Controller::Service(id) => {
            let svc = state
                .service(id)
                .ok_or_else(|| OpError::not_found("service", id))?;
            let (target, port) = controller_service_target(state, svc, protocol, port);
            let opened = attempt(
                state,
                core,
                &Source::Address(client.clone()),
                &target,
                protocol,
                port,
                None,
            )?;
            let backends = opened.backends.unwrap_or_default();
            if backends.is_empty() {
                return Ok(Err(opened.refusal.unwrap_or(Refusal::NoBackends)));
            }
            let mut out = Vec::new();
            for (pod, d) in backends {
                out.push((state.pod_endpoint(&pod, None)?, Some(d)));
            }
            out
        }
    }))
}

/// Rule 6.25: the backends one controller reaches for `routed`, each decided pod to pod on its
/// target port, as the controller sends to endpoints directly.
fn backend_legs<C: DecisionCore>(
    state: &State,
    core: &C,
    controller: &Endpoint,
    routed: &Routed,
    protocol: Protocol,
) -> BTreeMap<PodId, Decision<C::Verdict>> {
    let mut out = BTreeMap::new();
    for b in &routed.backends {
        if !granted(state, routed, b) {
            continue;
        }
        let Some(svc) = state.service(&b.service) else {
            continue;
        };
        if svc.service_type == ServiceType::ExternalName {
            continue;
        }
        let port = match &b.port {
            PortRef::Number(n) => svc.port(protocol, *n),
            PortRef::Name(name) => svc
                .ports
                .iter()
                .find(|p| p.protocol == protocol && p.name.as_deref() == Some(name)),
        };
        let Some(port) = port else {
            continue;
        };
        let target = if svc.headless {
            PortRef::Number(port.port)
        } else {
            port.target_port.clone()
        };
        let Ok(endpoints) = state.service_endpoints(
            svc,
            &target,
            Endpoints::Cluster { near: None },
            controller.address(),
            protocol,
            port.port,
        ) else {
            continue;
        };
        for e in endpoints {
            let dst = Endpoint::Pod {
                pod: e.pod.clone(),
                address: e.address.clone(),
            };
            let d = decide(
                state,
                core,
                controller,
                &dst,
                protocol,
                e.port,
                Some(&svc.id),
            );
            out.entry(e.pod).or_insert(d);
        }
    }
    out
}

/// An `openEntryPointConnection` request (rule 6.26).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRequest {
    /// The client's address.
    pub from: Address,
    /// The entry point.
    pub via: crate::entry::EntryPointId,
    /// The protocol.
    pub protocol: Protocol,
    /// The listener port.
    pub port: u16,
    /// Host, path, method, headers.
    pub l7: L7,
    /// The controller pod an implementation picked.
    pub controller: Option<PodId>,
    /// The backend an implementation picked.
    pub backend: Option<PodId>,
}

/// Rules 6.19–6.26: what a connection through an entry point would do, without opening it.
pub fn attempt_entry<C: DecisionCore>(
    state: &State,
    core: &C,
    req: &EntryRequest,
) -> Result<EntryAttempt<C::Verdict>, OpError> {
    let entry = state
        .entry_point(&req.via)
        .ok_or_else(|| OpError::not_found("entry point", &req.via))?;
    let client = (state.address_endpoint(&req.from)?, req.port);
    let refused = |route, refusal| EntryAttempt {
        route,
        refusal: Some(refusal),
        paths: Vec::new(),
        chosen: None,
        client: client.clone(),
    };
    let legs = match client_legs(
        state,
        core,
        &req.from,
        entry.controller(),
        req.protocol,
        req.port,
    )? {
        Ok(l) => l,
        Err(r) => return Ok(refused(None, r)),
    };
    let Some(routed) = route(state, entry, req.port, req.protocol, &req.l7) else {
        return Ok(refused(None, Refusal::NoMatchingRoute));
    };
    let mut paths = Vec::new();
    for (controller, client) in legs {
        let backends = backend_legs(state, core, &controller, &routed, req.protocol);
        paths.push(ControllerPath {
            controller,
            client,
            backends,
        });
    }
    if paths.iter().all(|p| p.backends.is_empty()) {
        return Ok(refused(Some(routed), Refusal::NoBackends));
    }
    let controller = match &req.controller {
        Some(c) => match paths.iter().position(|p| p.controller.pod() == Some(c)) {
            Some(i) => Some(i),
            None => {
                return Err(OpError::new(
                    ErrorKind::NotABackend,
                    format!("pod {c} is not a controller pod of {}", req.via),
                ))
            }
        },
        None if paths.len() == 1 => Some(0),
        None => None,
    };
    let backend = match (&req.backend, controller) {
        (Some(b), c) => {
            let reachable = match c {
                Some(i) => paths[i].backends.contains_key(b),
                None => paths.iter().any(|p| p.backends.contains_key(b)),
            };
            if !reachable {
                return Err(OpError::new(
                    ErrorKind::NotABackend,
                    format!(
                        "pod {b} is not a possible backend of {} through {}",
                        routed.route, req.via
                    ),
                ));
            }
            Some(b.clone())
        }
        (None, Some(i)) if paths[i].backends.len() == 1 => paths[i].backends.keys().next().cloned(),
        (None, _) => None,
    };
    let chosen = match (controller, backend) {
        (Some(c), Some(b)) if paths[c].backends.contains_key(&b) => Some((c, b)),
        _ => None,
    };
    Ok(EntryAttempt {
        route: Some(routed),
        refusal: None,
        paths,
        chosen,
        client,
    })
}

/// The connections an entry connection opened: the client's leg (when a pod end polices it)
/// and the controller's.
pub type EntryConnections = (
    Option<crate::ident::ConnectionId>,
    Option<crate::ident::ConnectionId>,
);

/// Rule 6.26: opens both legs of a definite, allowed entry connection.
pub fn commit_entry<V>(state: &mut State, attempt: &EntryAttempt<V>) -> EntryConnections {
    let Some((c, b)) = &attempt.chosen else {
        return (None, None);
    };
    let p = &attempt.paths[*c];
    if attempt.allowed() != Some(true) {
        return (None, None);
    }
    let open = |state: &mut State, d: &Decision<V>| {
        state.new_connection(
            d.source.clone(),
            d.destination.clone(),
            d.protocol,
            d.port,
            d.service.clone(),
        )
    };
    let client = p.client.as_ref().map(|d| open(state, d));
    let backend = open(state, &p.backends[b]);
    (client, Some(backend))
}

/// Rule 6.20: every controller endpoint of an entry point, whatever the client: its pods, the
/// pods behind its Service, or its address.
pub fn controllers(state: &State, controller: &Controller) -> Vec<Endpoint> {
    let pod_ends = |ids: Vec<PodId>| -> Vec<Endpoint> {
        ids.iter()
            .filter(|p| state.pod(p).is_some_and(|p| p.is_live()))
            .filter_map(|p| state.pod_endpoint(p, None).ok())
            .filter(|e| e.address().is_some())
            .collect()
    };
    match controller {
        Controller::Address(a) => state.address_endpoint(a).into_iter().collect(),
        Controller::Pods {
            namespace,
            selector,
        } => pod_ends(
            state
                .pods()
                .filter(|p| {
                    p.id.namespace == *namespace
                        && selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
                })
                .map(|p| p.id.clone())
                .collect(),
        ),
        Controller::Service(s) => pod_ends(
            state
                .lookup_service_2_pod_mappings(s)
                .map(|s| s.into_iter().collect())
                .unwrap_or_default(),
        ),
    }
}

/// Every route rule of an entry point, whatever the request: the Ingress's paths and default
/// backend, or the rules of every route attached to one of the Gateway's listeners, with the
/// protocol its listener carries.
fn every_rule(state: &State, entry: &EntryPoint) -> Vec<(Routed, Protocol)> {
    let mut out = Vec::new();
    match entry {
        EntryPoint::Ingress(i) => {
            for (r, rule) in i.rules.iter().enumerate() {
                for (j, p) in rule.paths.iter().enumerate() {
                    out.push((
                        Routed {
                            route: format!("Ingress/{}#rules[{r}].http.paths[{j}]", i.id),
                            backends: vec![p.backend.clone()],
                            route_id: None,
                        },
                        Protocol::Tcp,
                    ));
                }
            }
            if let Some(b) = &i.default_backend {
                out.push((
                    Routed {
                        route: format!("Ingress/{}#defaultBackend", i.id),
                        backends: vec![b.clone()],
                        route_id: None,
                    },
                    Protocol::Tcp,
                ));
            }
        }
        EntryPoint::Gateway(g) => {
            for route in state.routes() {
                for l in g.listeners.iter().filter(|l| attaches(state, g, l, route)) {
                    let protocol = if l.protocol == crate::entry::ListenerProtocol::UDP {
                        Protocol::Udp
                    } else {
                        Protocol::Tcp
                    };
                    for (i, rule) in route.rules.iter().enumerate() {
                        out.push((
                            Routed {
                                route: format!("{}#rules[{i}]", route.id),
                                backends: rule
                                    .backend_refs
                                    .iter()
                                    .filter(|b| b.weight > 0)
                                    .cloned()
                                    .collect(),
                                route_id: Some(route.id.clone()),
                            },
                            protocol,
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Rule 6.19, for `matrix --from-entry-points`: the `(protocol, target port)` pairs on which an
/// entry point's routes send to each pod and every controller that may carry the request is
/// allowed to reach it (the controller's leg only: the client's depends on the client).
pub fn reachable<C: DecisionCore>(
    state: &State,
    core: &C,
    entry: &EntryPoint,
) -> BTreeMap<PodId, std::collections::BTreeSet<(Protocol, u16)>> {
    let ctls = controllers(state, entry.controller());
    let mut out: BTreeMap<PodId, std::collections::BTreeSet<(Protocol, u16)>> = BTreeMap::new();
    if ctls.is_empty() {
        return out;
    }
    for (routed, protocol) in every_rule(state, entry) {
        let per: Vec<BTreeMap<PodId, Decision<C::Verdict>>> = ctls
            .iter()
            .map(|c| backend_legs(state, core, c, &routed, protocol))
            .collect();
        for (pod, d) in &per[0] {
            if per
                .iter()
                .all(|m| m.get(pod).is_some_and(|x| x.allowed && x.port == d.port))
            {
                out.entry(pod.clone())
                    .or_default()
                    .insert((protocol, d.port));
            }
        }
    }
    out
}
