//! Pods: the endpoints of every connection (seed 000, "Pod lifecycle and Pod Communication").

use crate::ident::PodId;
use crate::net::{Protocol, DEFAULT_NETWORK, PRIMARY_INTERFACE};
use crate::selector::Labels;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A container port: a number, a protocol and an optional name that policies and Services can
/// refer to (rules 5.9, 6.3).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerPort {
    /// The port's name, an IANA service name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The port number.
    pub port: u16,
    /// The protocol, TCP when not given.
    #[serde(default = "Protocol::tcp")]
    pub protocol: Protocol,
}

/// A pod's lifecycle phase (`status.phase`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum PodPhase {
    /// Accepted, not all containers running yet.
    Pending,
    /// Running; the default when a manifest has no status.
    #[default]
    Running,
    /// All containers ended successfully.
    Succeeded,
    /// All containers ended, at least one failed.
    Failed,
    /// The state could not be obtained.
    Unknown,
}

/// A pod, without its addresses: those live in the pod↔address mapping (rule 3.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pod {
    /// `pod<namespace, name>`.
    pub id: PodId,
    /// The pod's labels.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// The node it is scheduled on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `spec.hostNetwork`: the pod shares its node's network namespace (rule 7.6).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub host_network: bool,
    /// `status.phase`.
    #[serde(default)]
    pub phase: PodPhase,
    /// The `Ready` condition; true when a manifest does not say.
    #[serde(default = "yes")]
    pub ready: bool,
    /// Every container's ports, in container order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    /// `metadata.deletionTimestamp` is set: the pod is shutting down; a running one still
    /// serves (rule 6.5).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminating: bool,
}

fn yes() -> bool {
    true
}

impl Pod {
    /// A running, ready pod with labels and nothing else.
    pub fn new(id: PodId, labels: Labels) -> Self {
        Pod {
            id,
            labels,
            node: None,
            host_network: false,
            phase: PodPhase::Running,
            ready: true,
            ports: Vec::new(),
            terminating: false,
        }
    }

    /// Rule 2.3: only running pods open or accept new connections.
    pub fn is_live(&self) -> bool {
        self.phase == PodPhase::Running
    }

    /// The numbers a port name resolves to for `protocol`, in container order (rules 5.9, 7.8).
    pub fn named_port_numbers<'a>(
        &'a self,
        name: &'a str,
        protocol: Protocol,
    ) -> impl Iterator<Item = u16> + 'a {
        self.ports
            .iter()
            .filter(move |p| p.name.as_deref() == Some(name) && p.protocol == protocol)
            .map(|p| p.port)
    }
}

/// A network attachment of a pod: an interface on a network with its addresses (seed 000,
/// "Step 1: multi network").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attachment {
    /// The interface inside the pod (`eth0` is the primary one).
    #[serde(default = "primary_interface")]
    pub interface: String,
    /// The network attached to; its domain is the domain of the addresses.
    #[serde(default = "default_network")]
    pub network: String,
    /// The addresses on this interface.
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
}

fn primary_interface() -> String {
    PRIMARY_INTERFACE.to_string()
}

fn default_network() -> String {
    DEFAULT_NETWORK.to_string()
}

impl Attachment {
    /// The primary attachment: `eth0` on the cluster network.
    pub fn primary(addresses: Vec<IpAddr>) -> Self {
        Attachment {
            interface: primary_interface(),
            network: default_network(),
            addresses,
        }
    }
}
