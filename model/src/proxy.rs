//! What a node's proxy does, as the model's own code (kube-proxy's, in outline): which
//! endpoints it uses for a Service (their conditions, `internalTrafficPolicy` or
//! `externalTrafficPolicy`, topology), how it translates an address it receives traffic for,
//! and whether it masquerades the client. Spec is asked only for what the control plane
//! publishes: the Service, its pods, their addresses and labels. The `refinement`, `service`
//! and `source` properties hold this code to spec.

use crate::universe::{Client, Fault, Universe};
use netsem_spec::decision::resolve::Kind;
use netsem_spec::decision::services::ZONE_LABEL;
use netsem_spec::decision::Refusal;
use netsem_spec::service::{EndpointFacts, TrafficDistribution, TrafficPolicy};
use netsem_spec::{Address, AddressOwner, Endpoint, PortRef, Protocol, Service, ServiceId, State};
use std::net::IpAddr;

/// Which endpoints a proxy uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointSet<'a> {
    /// Every endpoint, narrowed by `trafficDistribution` around this node.
    Cluster(Option<&'a str>),
    /// The endpoints on this node only.
    Local(Option<&'a str>),
}

/// One endpoint as the EndpointSlice controller publishes it (rule 6.5), or as a manually
/// managed slice states it (rule 6.27).
struct Published<'s> {
    pod: usize,
    port: u16,
    node: Option<&'s str>,
    ready: bool,
    serving_terminating: bool,
    stated: Option<&'s EndpointFacts>,
}

/// The endpoints (pod index, target port) a proxy uses for `service` in version `v`, for a
/// client sending from `client` to the Service port `(protocol, port)`: ready ones, else the
/// serving-and-terminating ones, chosen separately for a node-local set (rules 6.5–6.7, 6.13,
/// 6.15). No endpoint at all is `no-backends`; an empty node-local set `no-local-endpoints`.
/// Session affinity is the mapper's own state, applied on top.
pub fn endpoints(
    u: &Universe,
    v: usize,
    service: &Service,
    set: EndpointSet<'_>,
    client: Option<IpAddr>,
    protocol: Protocol,
    port: u16,
) -> Result<Vec<(usize, u16)>, Refusal> {
    let state = &u.versions[v];
    // Multi-network type 2 (rule 8.6): a proxy on a pod's network reaches only the endpoints
    // on that network.
    let network_of = |ip: IpAddr| match state.addresses().get(&Address::default_domain(ip)) {
        Some(AddressOwner::Pod { network, .. }) => Some(network.clone()),
        _ => None,
    };
    let type2 = state.profile().multi_network == netsem_spec::profile::MultiNetwork::Type2;
    // A pod's network is its primary address's, in its own domain: addresses of different
    // domains may coincide (rule 3.1), so a default-domain lookup could name another pod's.
    let pod_network = |i: usize| match state.primary_addresses(&u.pods[i]).first() {
        Some(a) => match state.addresses().get(*a) {
            Some(AddressOwner::Pod { network, .. }) => Some(network.clone()),
            _ => None,
        },
        None => None,
    };
    let client_network =
        client
            .filter(|_| type2)
            .and_then(|ip| match u.addresses.iter().position(|a| *a == ip) {
                Some(j) => pod_network(j),
                None => network_of(ip),
            });
    let target = state.target_port(service, protocol, port)?;
    let mapped = state
        .lookup_service_2_pod_mappings(&service.id)
        .unwrap_or_default();
    let mut published: Vec<Published> = Vec::new();
    for (i, id) in u.pods.iter().enumerate() {
        let Some(pod) = state.pod(id).filter(|p| mapped.contains(id) && p.is_live()) else {
            continue;
        };
        // A host-network endpoint answers on its node's address, which is on no pod network
        // and so routes from every one (rules 8.6, 8.7).
        if client_network.is_some() && !pod.host_network && pod_network(i) != client_network {
            continue;
        }
        let number = match &target {
            PortRef::Number(n) => Some(*n),
            PortRef::Name(name) => pod.named_port_numbers(name, protocol).next(),
        };
        let Some(number) = number else { continue };
        // A manual slice's statement is all kube-proxy reads of the endpoint (rule 6.27).
        let stated = state.endpoint_facts(&service.id, id);
        let (ready, serving_terminating) = match stated {
            Some(f) => (f.ready, f.serving && f.terminating),
            None => (
                service.publish_not_ready_addresses || (pod.ready && !pod.terminating),
                pod.ready && pod.terminating,
            ),
        };
        published.push(Published {
            pod: i,
            port: number,
            node: pod.node.as_deref(),
            ready,
            serving_terminating,
            stated,
        });
    }
    if !published.iter().any(|e| e.ready || e.serving_terminating) {
        return Err(Refusal::NoBackends);
    }
    let usable = |keep: &dyn Fn(&Published) -> bool| -> Vec<(usize, u16)> {
        let pick = |f: &dyn Fn(&Published) -> bool| -> Vec<(usize, u16)> {
            published
                .iter()
                .filter(|e| keep(e) && f(e))
                .map(|e| (e.pod, e.port))
                .collect()
        };
        let ready = pick(&|e| e.ready);
        if ready.is_empty() {
            pick(&|e| e.serving_terminating)
        } else {
            ready
        }
    };
    let chosen = match set {
        EndpointSet::Local(node) => usable(&|e| node.is_some() && e.node == node),
        EndpointSet::Cluster(near) => {
            topology(state, service, near, &published).unwrap_or_else(|| usable(&|_| true))
        }
    };
    if chosen.is_empty() {
        return Err(Refusal::NoLocalEndpoints);
    }
    Ok(chosen)
}

/// `trafficDistribution` (rule 6.15): the ready endpoints on `near` (`PreferSameNode`), else
/// in its zone, when every ready endpoint's node has a zone; `None` when it does not narrow.
fn topology(
    state: &State,
    service: &Service,
    near: Option<&str>,
    published: &[Published],
) -> Option<Vec<(usize, u16)>> {
    let near = near?;
    let ready: Vec<&Published> = published.iter().filter(|e| e.ready).collect();
    if ready.is_empty() {
        return None;
    }
    let keep = |f: &dyn Fn(&Published) -> bool| -> Vec<(usize, u16)> {
        ready
            .iter()
            .filter(|e| f(e))
            .map(|e| (e.pod, e.port))
            .collect()
    };
    let zone = |node: Option<&str>| state.nodes().get(node?)?.get(ZONE_LABEL).cloned();
    // A manual slice's hints are the topology (rule 6.27): node hints when every ready
    // endpoint has some, then zone hints likewise; each only when one names the client's.
    if ready.iter().any(|e| e.stated.is_some()) {
        let hinted = |hints: &dyn Fn(&EndpointFacts) -> &Vec<String>, want: Option<String>| {
            let want = want?;
            let every = ready
                .iter()
                .all(|e| e.stated.is_some_and(|f| !hints(f).is_empty()));
            let same = keep(&|e| e.stated.is_some_and(|f| hints(f).contains(&want)));
            (every && !same.is_empty()).then_some(same)
        };
        return hinted(&|f| &f.for_nodes, Some(near.to_string()))
            .or_else(|| hinted(&|f| &f.for_zones, zone(Some(near))));
    }
    let distribution = service.traffic_distribution?;
    if distribution == TrafficDistribution::PreferSameNode {
        let same = keep(&|e| e.node == Some(near));
        if !same.is_empty() {
            return Some(same);
        }
    }
    if ready.iter().any(|e| zone(e.node).is_none()) {
        return None;
    }
    let here = zone(Some(near))?;
    let same = keep(&|e| zone(e.node).as_ref() == Some(&here));
    (!same.is_empty()).then_some(same)
}

/// What a node's proxy makes of a new connection it receives: the Service, the Service port,
/// the endpoints it may pick from, and whether it masquerades the client to its own address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The Service.
    pub service: ServiceId,
    /// The Service port the connection is for (a node port stands for one).
    pub service_port: u16,
    /// The endpoints (pod index, target port).
    pub endpoints: Vec<(usize, u16)>,
    /// Whether the client is masqueraded to the node's address.
    pub masquerade: bool,
    /// Whether the Service keeps session affinity.
    pub affine: bool,
}

/// The proxy of node `node` (index into `u.nodes`), with view `v`, receives a new connection
/// from `src` to `(dst, protocol, port)` (rules 6.10, 6.12–6.14, 6.17): it translates it, or
/// says why it refuses it.
pub fn translate(
    u: &Universe,
    v: usize,
    node: usize,
    src: IpAddr,
    dst: IpAddr,
    protocol: Protocol,
    port: u16,
) -> Result<Translation, Refusal> {
    let state = &u.versions[v];
    let here = u.nodes[node].as_str();
    // What the address is to this proxy (the pipeline's addresses are in the default domain).
    let (svc, service_port, entry) = match state.addresses().get(&Address::default_domain(dst)) {
        Some(AddressOwner::Service { service, external }) => {
            let svc = state.service(service).ok_or(Refusal::NoBackends)?;
            let entry = if *external {
                Entry::External {
                    load_balancer: svc.load_balancer_ips.contains(&dst),
                }
            } else {
                Entry::Cluster
            };
            (svc, port, entry)
        }
        Some(AddressOwner::Node { .. }) => {
            let svc = state
                .node_port_service(protocol, port)
                .ok_or(Refusal::NoServicePort)?;
            let service_port = svc
                .node_port(protocol, port)
                .ok_or(Refusal::NoServicePort)?
                .port;
            (svc, service_port, Entry::NodePort)
        }
        _ if state.in_service_cidr(dst) => return Err(Refusal::UnallocatedServiceAddress),
        _ => return Err(Refusal::NoServicePort),
    };
    state.target_port(svc, protocol, service_port)?;
    // The firewall of load-balancer addresses comes before translation (rule 6.14).
    if entry
        == (Entry::External {
            load_balancer: true,
        })
        && u.fault != Fault::ProxyIgnoresSourceRanges
    {
        let ranges = &svc.load_balancer_source_ranges;
        if !ranges.is_empty() && !ranges.iter().any(|n| n.contains(&src)) {
            return Err(Refusal::SourceRange);
        }
    }
    let client = client_endpoint(state, src);
    let kind = state.resolve(&client).facts.kind;
    let client_node = state.node_of(&client);
    let (set, masquerade) = match entry {
        Entry::Cluster if kind == Kind::External => return Err(Refusal::NotReachableFromOutside),
        // A cluster address: `internalTrafficPolicy`, the client's own node, no masquerade.
        Entry::Cluster => match svc.internal_traffic_policy {
            TrafficPolicy::Local => (EndpointSet::Local(client_node), false),
            TrafficPolicy::Cluster => (EndpointSet::Cluster(client_node), false),
        },
        // `externalTrafficPolicy` (rule 6.13).
        _ => match svc.external_traffic_policy {
            // An unnamed node has no address to masquerade to.
            TrafficPolicy::Cluster => (
                EndpointSet::Cluster(Some(here)),
                u.fault != Fault::ProxyKeepsClient && !here.is_empty(),
            ),
            // Pods are short-circuited to every endpoint, unmasqueraded; this node's own
            // traffic is masqueraded and may use every endpoint.
            TrafficPolicy::Local => match kind {
                Kind::Pod => (EndpointSet::Cluster(Some(here)), false),
                Kind::Node if client_node == Some(here) => (EndpointSet::Cluster(Some(here)), true),
                _ => (EndpointSet::Local(Some(here)), false),
            },
        },
    };
    let endpoints = endpoints(u, v, svc, set, Some(src), protocol, service_port)?;
    Ok(Translation {
        service: svc.id.clone(),
        service_port,
        endpoints,
        masquerade,
        affine: svc.session_affinity.is_some(),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Cluster,
    External { load_balancer: bool },
    NodePort,
}

/// The endpoint a client address is, in a view: its pod, its node, or the outside.
pub fn client_endpoint(state: &State, src: IpAddr) -> Endpoint {
    let address = Address::default_domain(src);
    state
        .address_endpoint(&address)
        .unwrap_or(Endpoint::External { address })
}

/// The source a backend's policy sees of a connection the proxy of `node` translated: the
/// node's address (of the backend's family) when it masquerades and `service-snat: visible`
/// says policy sees the packet as it arrives (rule 7.10), else the client.
pub fn seen_source(
    u: &Universe,
    v: usize,
    node: usize,
    client: Client,
    backend: usize,
    masquerade: bool,
) -> Endpoint {
    let state = &u.versions[v];
    let src = u.client_address(client);
    let visible = u.profile.service_snat == netsem_spec::profile::ServiceSnat::Visible;
    if masquerade && visible {
        let name = &u.nodes[node];
        let family = u.addresses[backend].is_ipv4();
        let address = state
            .node_addresses(name)
            .find(|a| a.ip.is_ipv4() == family)
            .or_else(|| state.node_addresses(name).next())
            .cloned();
        return Endpoint::Node {
            node: name.clone(),
            address,
        };
    }
    client_endpoint(state, src)
}

/// Where a host's (not a pod's) packet to `dst` goes first, in a view: the node whose address
/// it is; a node's own proxy for anything else it sends; from outside, the nodes the network
/// (a load balancer that health-checks `Local` Services) may deliver it to.
pub fn host_route(
    u: &Universe,
    v: usize,
    src: IpAddr,
    dst: IpAddr,
    protocol: Protocol,
    port: u16,
) -> Vec<usize> {
    let state = &u.versions[v];
    if let Some(n) = node_of_address(u, v, dst).or_else(|| node_of_address(u, v, src)) {
        return vec![n];
    }
    let all: Vec<usize> = (0..u.nodes.len()).collect();
    let local = match state.addresses().get(&Address::default_domain(dst)) {
        Some(AddressOwner::Service {
            service,
            external: true,
        }) => state
            .service(service)
            .filter(|s| s.external_traffic_policy == TrafficPolicy::Local),
        _ => None,
    };
    let Some(svc) = local else { return all };
    let serving: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&n| {
            endpoints(
                u,
                v,
                svc,
                EndpointSet::Local(Some(&u.nodes[n])),
                Some(src),
                protocol,
                port,
            )
            .is_ok()
        })
        .collect();
    if serving.is_empty() {
        all
    } else {
        serving
    }
}

/// The node (index) whose address `ip` is, in a view.
pub fn node_of_address(u: &Universe, v: usize, ip: IpAddr) -> Option<usize> {
    match u.versions[v].addresses().get(&Address::default_domain(ip)) {
        Some(AddressOwner::Node { node }) => u.nodes.iter().position(|n| n == node),
        _ => None,
    }
}

/// Node `node`'s address of `towards`'s family (else its first), in a view.
pub fn node_address(u: &Universe, v: usize, node: usize, towards: IpAddr) -> Option<IpAddr> {
    let state = &u.versions[v];
    let name = &u.nodes[node];
    state
        .node_addresses(name)
        .find(|a| a.ip.is_ipv4() == towards.is_ipv4())
        .or_else(|| state.node_addresses(name).next())
        .map(|a| a.ip)
}
