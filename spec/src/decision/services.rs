//! Which pods a connection through a Service may reach (rules 6.2–6.9, 6.13, 6.15, 6.16, 8.5,
//! 8.6): the endpoints a node's proxy uses, as kube-proxy chooses them (`CategorizeEndpoints`
//! in kubernetes `pkg/proxy/topology.go`; the conditions as the EndpointSlice controller writes
//! them, `podToEndpoint`).

use crate::decision::Refusal;
use crate::ident::{ConnectionId, PodId, ServiceId};
use crate::net::{Address, PortRef, Protocol, PRIMARY_INTERFACE};
use crate::pod::Pod;
use crate::profile::MultiNetwork;
use crate::service::{EndpointFacts, Service, ServiceType, TrafficDistribution, TrafficPolicy};
use crate::state::{AddressOwner, State};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The node label that names a node's zone (rule 6.15).
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// A possible backend of a Service for one client (rule 6.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// The pod.
    pub pod: PodId,
    /// The backend address the connection goes to.
    pub address: Option<Address>,
    /// The resolved target port (rule 6.3).
    pub port: u16,
}

/// Which endpoints a proxy may use (rules 6.7, 6.13, 6.15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoints<'a> {
    /// Every endpoint of the cluster, narrowed by `trafficDistribution` around this node.
    Cluster {
        /// The node the traffic is on, whose node and zone topology prefers.
        near: Option<&'a str>,
    },
    /// The endpoints on this node only.
    Local {
        /// The node.
        node: Option<&'a str>,
    },
}

/// A client's session affinity to one backend (rule 6.16): kept per Service port and client
/// address, renewed by every connection that uses it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AffinityKey {
    /// The Service.
    pub service: ServiceId,
    /// The Service port's protocol.
    pub protocol: Protocol,
    /// The Service port.
    pub port: u16,
    /// The client's address as the proxy sees it.
    pub client: IpAddr,
}

/// Where a client's session affinity points (rule 6.16).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affinity {
    /// The backend.
    pub backend: PodId,
    /// The clock (seconds) of the last connection that used it.
    pub last: u64,
    /// That connection.
    pub connection: ConnectionId,
}

/// One endpoint's conditions: as the EndpointSlice controller writes them from the pod (rule
/// 6.5), or as a manually managed slice states them (rule 6.27).
struct Conditions<'s> {
    /// `ready`: serving and not terminating, or `publishNotReadyAddresses`.
    ready: bool,
    /// `serving` and `terminating`: still answering while it shuts down.
    serving_terminating: bool,
    /// The slice's statement, with its hints, when a manual slice made the mapping.
    stated: Option<&'s EndpointFacts>,
}

fn conditions<'s>(
    pod: &Pod,
    service: &Service,
    stated: Option<&'s EndpointFacts>,
) -> Conditions<'s> {
    // Rule 6.27: kube-proxy reads only the slice; `publishNotReadyAddresses` is the
    // controller's input, so it does not touch what a manual slice states.
    if let Some(f) = stated {
        return Conditions {
            ready: f.ready,
            serving_terminating: f.serving && f.terminating,
            stated,
        };
    }
    let serving = pod.ready;
    Conditions {
        ready: service.publish_not_ready_addresses || (serving && !pod.terminating),
        serving_terminating: serving && pod.terminating,
        stated: None,
    }
}

impl State {
    /// Rules 6.2–6.9: the possible backends of `service` through its cluster address, for a
    /// client on `source_node` using `source_address`, for `(protocol, port)`:
    /// `internalTrafficPolicy` decides the endpoints (rule 6.7).
    pub fn service_backends(
        &self,
        service: &Service,
        source_node: Option<&str>,
        source_address: Option<&Address>,
        protocol: Protocol,
        port: u16,
    ) -> Result<Vec<Backend>, Refusal> {
        let endpoints = match service.internal_traffic_policy {
            TrafficPolicy::Cluster => Endpoints::Cluster { near: source_node },
            TrafficPolicy::Local => Endpoints::Local { node: source_node },
        };
        let target = self.target_port(service, protocol, port)?;
        self.service_endpoints(service, &target, endpoints, source_address, protocol, port)
    }

    /// Rules 6.2, 6.8, 6.9: the target port a client's `(protocol, port)` goes to.
    pub fn target_port(
        &self,
        service: &Service,
        protocol: Protocol,
        port: u16,
    ) -> Result<PortRef, Refusal> {
        if service.service_type == ServiceType::ExternalName {
            return Err(Refusal::ExternalName);
        }
        if service.headless {
            return Ok(PortRef::Number(port));
        }
        Ok(service
            .port(protocol, port)
            .ok_or(Refusal::NoServicePort)?
            .target_port
            .clone())
    }

    /// Rules 6.3, 6.5–6.7, 6.13, 6.15, 6.16: the endpoints a proxy uses for `service` on
    /// `target`, for a client using `source_address` on the Service port `(protocol, port)`.
    /// Ready endpoints first; when there are none, the serving ones that are terminating —
    /// chosen separately for the cluster-wide and the node-local sets. No endpoint anywhere
    /// rejects (`no-backends`); a node-local set that is empty while others exist drops
    /// (`no-local-endpoints`).
    pub fn service_endpoints(
        &self,
        service: &Service,
        target: &PortRef,
        endpoints: Endpoints<'_>,
        source_address: Option<&Address>,
        protocol: Protocol,
        port: u16,
    ) -> Result<Vec<Backend>, Refusal> {
        let source_network = source_address.and_then(|a| match self.addresses().get(a) {
            Some(AddressOwner::Pod { network, .. }) => Some(network.as_str()),
            _ => None,
        });
        let type2 = self.profile().multi_network == MultiNetwork::Type2;
        // Every endpoint with an address and the target port, with its conditions.
        let mut all: Vec<(Backend, &Pod, Conditions)> = Vec::new();
        for pod_id in self
            .lookup_service_2_pod_mappings(&service.id)
            .unwrap_or_default()
        {
            let Some(pod) = self.pod(&pod_id) else {
                continue;
            };
            if !pod.is_live() {
                continue;
            }
            let port = match target {
                PortRef::Number(n) => *n,
                PortRef::Name(name) => match pod.named_port_numbers(name, protocol).next() {
                    Some(n) => n,
                    None => continue,
                },
            };
            let addresses: Vec<&Address> = if pod.host_network {
                pod.node
                    .as_deref()
                    .map(|n| self.node_addresses(n).collect())
                    .unwrap_or_default()
            } else {
                // Rule 8.5: `eth0` addresses first, so that a backend is reached on its
                // primary address when it has one of the client's family.
                let mut own: Vec<(&Address, &str, &str)> = self
                    .pod_addresses(&pod_id)
                    .filter(|(_, interface, network)| {
                        !type2
                            || (*interface == PRIMARY_INTERFACE
                                && source_network.is_none_or(|n| n == *network))
                    })
                    .collect();
                own.sort_by_key(|(_, interface, _)| *interface != PRIMARY_INTERFACE);
                own.into_iter().map(|(a, _, _)| a).collect()
            };
            let Some(address) = addresses
                .iter()
                .find(|a| source_address.is_none_or(|s| s.ip.is_ipv4() == a.ip.is_ipv4()))
                .or(addresses.first())
                .map(|a| (*a).clone())
            else {
                continue;
            };
            let c = conditions(pod, service, self.endpoint_facts(&service.id, &pod_id));
            if c.ready || c.serving_terminating {
                all.push((
                    Backend {
                        pod: pod_id,
                        address: Some(address),
                        port,
                    },
                    pod,
                    c,
                ));
            }
        }
        if all.is_empty() {
            return Err(Refusal::NoBackends);
        }
        let on = |node: Option<&str>, pod: &Pod| node.is_some() && pod.node.as_deref() == node;
        // Ready ones, else serving-terminating ones, of a subset.
        let usable = |keep: &dyn Fn(&Pod) -> bool| -> Vec<&(Backend, &Pod, Conditions)> {
            let ready: Vec<_> = all.iter().filter(|(_, p, c)| c.ready && keep(p)).collect();
            if ready.is_empty() {
                all.iter()
                    .filter(|(_, p, c)| c.serving_terminating && keep(p))
                    .collect()
            } else {
                ready
            }
        };
        let chosen: Vec<&(Backend, &Pod, Conditions)> = match endpoints {
            Endpoints::Local { node } => usable(&|p| on(node, p)),
            Endpoints::Cluster { near } => {
                let ready: Vec<_> = all.iter().filter(|(_, _, c)| c.ready).collect();
                match self.topology(service, near, &ready) {
                    Some(narrowed) => narrowed,
                    None => usable(&|_| true),
                }
            }
        };
        if chosen.is_empty() {
            return Err(Refusal::NoLocalEndpoints);
        }
        let mut out: Vec<Backend> = chosen.into_iter().map(|(b, _, _)| b.clone()).collect();
        // Rule 6.16: a client with live affinity keeps its backend while it is one of these.
        if let (Some(_), Some(client)) = (service.session_affinity, source_address) {
            if let Some(a) = self.affinity_of(&service.id, protocol, port, client.ip) {
                if out.iter().any(|b| b.pod == a.backend) {
                    out.retain(|b| b.pod == a.backend);
                }
            }
        }
        Ok(out)
    }

    /// Rule 6.15: the ready endpoints `trafficDistribution` narrows to around node `near`, or
    /// `None` when it does not apply (not set, no ready endpoint, an endpoint without a zone,
    /// none nearby). When a manual EndpointSlice states the endpoints (rule 6.27), its hints
    /// decide instead, as kube-proxy reads them (`topologyModeFromHints`): node hints first,
    /// when every ready endpoint has some and one names `near`; then zone hints likewise.
    fn topology<'e, 'p>(
        &self,
        service: &Service,
        near: Option<&str>,
        ready: &[&'e (Backend, &'p Pod, Conditions<'p>)],
    ) -> Option<Vec<&'e (Backend, &'p Pod, Conditions<'p>)>> {
        let near = near?;
        if ready.is_empty() {
            return None;
        }
        let zone_of = |node: Option<&str>| -> Option<&str> {
            self.nodes()
                .get(node?)
                .and_then(|l| l.get(ZONE_LABEL))
                .map(String::as_str)
        };
        if ready.iter().any(|(_, _, c)| c.stated.is_some()) {
            let hinted = |hints: &dyn Fn(&EndpointFacts) -> &Vec<String>, want: Option<&str>| {
                let want = want?;
                let all = ready
                    .iter()
                    .all(|(_, _, c)| c.stated.is_some_and(|f| !hints(f).is_empty()));
                let same: Vec<_> = ready
                    .iter()
                    .copied()
                    .filter(|(_, _, c)| {
                        c.stated.is_some_and(|f| hints(f).iter().any(|h| h == want))
                    })
                    .collect();
                (all && !same.is_empty()).then_some(same)
            };
            return hinted(&|f| &f.for_nodes, Some(near))
                .or_else(|| hinted(&|f| &f.for_zones, zone_of(Some(near))));
        }
        let distribution = service.traffic_distribution?;
        if distribution == TrafficDistribution::PreferSameNode {
            let same: Vec<_> = ready
                .iter()
                .copied()
                .filter(|(_, p, _)| p.node.as_deref() == Some(near))
                .collect();
            if !same.is_empty() {
                return Some(same);
            }
        }
        // The EndpointSlice controller gives zone hints only to endpoints whose zone it knows;
        // kube-proxy uses hints only when every ready endpoint has one.
        if ready
            .iter()
            .any(|(_, p, _)| zone_of(p.node.as_deref()).is_none())
        {
            return None;
        }
        let zone = zone_of(Some(near))?;
        let same: Vec<_> = ready
            .iter()
            .copied()
            .filter(|(_, p, _)| zone_of(p.node.as_deref()) == Some(zone))
            .collect();
        (!same.is_empty()).then_some(same)
    }
}
