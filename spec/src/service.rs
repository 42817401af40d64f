//! Services: named, load-balanced sets of pods (seed 000, "Services"). Rules 6.x.

use crate::ident::ServiceId;
use crate::net::{PortRef, Protocol};
use crate::selector::Labels;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `spec.type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceType {
    /// A virtual address inside the cluster. Default.
    #[default]
    ClusterIP,
    /// ClusterIP plus a port on every node.
    NodePort,
    /// NodePort plus an external load balancer.
    LoadBalancer,
    /// A DNS alias; nothing is proxied (rule 6.8).
    ExternalName,
}

/// `spec.internalTrafficPolicy` and `spec.externalTrafficPolicy` (rules 6.7, 6.13).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrafficPolicy {
    /// Any endpoint. Default.
    #[default]
    Cluster,
    /// Only endpoints on the node the traffic is on: the client's for cluster addresses (rule
    /// 6.7), the receiving node's for node ports and external addresses (rule 6.13).
    Local,
}

/// `spec.trafficDistribution` (rule 6.15); `PreferClose` is read as `PreferSameZone`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrafficDistribution {
    /// Endpoints in the zone of the node the traffic is on, when there are some.
    #[serde(alias = "PreferClose")]
    PreferSameZone,
    /// Endpoints on the node the traffic is on, else as `PreferSameZone`.
    PreferSameNode,
}

/// `spec.sessionAffinity: ClientIP` with its timeout (rule 6.16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionAffinity {
    /// `sessionAffinityConfig.clientIP.timeoutSeconds` (default 10800).
    #[serde(default = "SessionAffinity::default_timeout")]
    pub timeout_seconds: u32,
}

impl SessionAffinity {
    /// The API's default timeout, 3 hours.
    pub const DEFAULT_TIMEOUT: u32 = 10_800;

    fn default_timeout() -> u32 {
        Self::DEFAULT_TIMEOUT
    }
}

/// What a manually managed EndpointSlice says of one endpoint (rule 6.27): its conditions as
/// kube-proxy reads them (`ready` and `serving` absent mean true, `terminating` absent means
/// false) and its topology hints. Without it, an endpoint's conditions are derived from its pod
/// as the EndpointSlice controller derives them (rule 6.5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointFacts {
    /// `conditions.ready`.
    #[serde(default = "yes")]
    pub ready: bool,
    /// `conditions.serving`.
    #[serde(default = "yes")]
    pub serving: bool,
    /// `conditions.terminating`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminating: bool,
    /// `hints.forZones[].name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub for_zones: Vec<String>,
    /// `hints.forNodes[].name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub for_nodes: Vec<String>,
}

fn yes() -> bool {
    true
}

impl EndpointFacts {
    /// A ready endpoint without hints: what a slice says when it gives no conditions.
    pub fn ready() -> Self {
        EndpointFacts {
            ready: true,
            serving: true,
            ..EndpointFacts::default()
        }
    }
}

/// One port of a Service.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    /// The port's name (required when there are several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The protocol, TCP when not given.
    #[serde(default = "Protocol::tcp")]
    pub protocol: Protocol,
    /// The port clients connect to.
    pub port: u16,
    /// The backend port: a number, or a container port name resolved per pod (rule 6.3).
    pub target_port: PortRef,
    /// `nodePort`: the port every node's addresses accept for this Service port (rule 6.12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<u16>,
}

/// A Service, without its addresses (those live in the service↔address mapping, rule 3.1) and
/// without its backends (the pod↔service mapping, rule 2.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    /// `service<namespace, name>`.
    pub id: ServiceId,
    /// The equality-only pod selector; `None` (or empty) means the mapping is explicit
    /// (EndpointSlices, the mapping primitives), rule 2.6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Labels>,
    /// The ports.
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// `spec.type`.
    #[serde(default, rename = "type")]
    pub service_type: ServiceType,
    /// `clusterIP: None`: no virtual address; clients reach backends directly (rule 6.9).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub headless: bool,
    /// `spec.internalTrafficPolicy`.
    #[serde(default)]
    pub internal_traffic_policy: TrafficPolicy,
    /// `spec.publishNotReadyAddresses`: not-ready pods are backends too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub publish_not_ready_addresses: bool,
    /// `spec.externalTrafficPolicy` (rule 6.13).
    #[serde(default, skip_serializing_if = "is_cluster")]
    pub external_traffic_policy: TrafficPolicy,
    /// `spec.trafficDistribution` (rule 6.15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_distribution: Option<TrafficDistribution>,
    /// `spec.sessionAffinity: ClientIP` (rule 6.16); `None` is `sessionAffinity: None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<SessionAffinity>,
    /// The load-balancer ingress addresses (`status.loadBalancer.ingress[].ip`, `ipMode: VIP`)
    /// among the Service's external addresses (rule 6.14).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_ips: Vec<IpAddr>,
    /// `spec.loadBalancerSourceRanges`: the clients its load-balancer addresses admit (rule
    /// 6.14); empty admits every client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_source_ranges: Vec<IpNet>,
}

fn is_cluster(p: &TrafficPolicy) -> bool {
    *p == TrafficPolicy::Cluster
}

impl Service {
    /// A ClusterIP service with a selector and ports.
    pub fn new(id: ServiceId, selector: Option<Labels>, ports: Vec<ServicePort>) -> Self {
        Service {
            id,
            selector,
            ports,
            service_type: ServiceType::ClusterIP,
            headless: false,
            internal_traffic_policy: TrafficPolicy::Cluster,
            publish_not_ready_addresses: false,
            external_traffic_policy: TrafficPolicy::Cluster,
            traffic_distribution: None,
            session_affinity: None,
            load_balancer_ips: Vec::new(),
            load_balancer_source_ranges: Vec::new(),
        }
    }

    /// Rule 2.6: the selector when it drives the mapping (present and not empty).
    pub fn managed_selector(&self) -> Option<&Labels> {
        self.selector.as_ref().filter(|s| !s.is_empty())
    }

    /// Rule 6.12: the service port a node port names.
    pub fn node_port(&self, protocol: Protocol, node_port: u16) -> Option<&ServicePort> {
        self.ports
            .iter()
            .find(|p| p.protocol == protocol && p.node_port == Some(node_port))
    }

    /// Rule 6.2: the service port a client's `(protocol, port)` names.
    pub fn port(&self, protocol: Protocol, port: u16) -> Option<&ServicePort> {
        self.ports
            .iter()
            .find(|p| p.protocol == protocol && p.port == port)
    }
}
