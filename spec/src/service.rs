//! Services: named, load-balanced sets of pods (seed 000, "Services"). Rules 6.x.

use crate::ident::ServiceId;
use crate::net::{PortRef, Protocol};
use crate::selector::Labels;
use serde::{Deserialize, Serialize};

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

/// `spec.internalTrafficPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrafficPolicy {
    /// Any endpoint. Default.
    #[default]
    Cluster,
    /// Only endpoints on the source's node (rule 6.7).
    Local,
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
        }
    }

    /// Rule 2.6: the selector when it drives the mapping (present and not empty).
    pub fn managed_selector(&self) -> Option<&Labels> {
        self.selector.as_ref().filter(|s| !s.is_empty())
    }

    /// Rule 6.2: the service port a client's `(protocol, port)` names.
    pub fn port(&self, protocol: Protocol, port: u16) -> Option<&ServicePort> {
        self.ports
            .iter()
            .find(|p| p.protocol == protocol && p.port == port)
    }
}
