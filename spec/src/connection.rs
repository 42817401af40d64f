//! Connections: `connection<connectionId, source, destination>` (seed 000, "Pod lifecycle and
//! Pod Communication"). Rules 2.7, 2.8.

use crate::ident::{ConnectionId, PodId, ServiceId};
use crate::net::{Address, Protocol};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One end of a connection.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Endpoint {
    /// A pod, with the address the connection uses when there is one.
    Pod {
        /// The pod.
        pod: PodId,
        /// The address used, if the pod has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<Address>,
    },
    /// A node (its agents, or a host-network pod under the default profile).
    Node {
        /// The node's name.
        node: String,
        /// The address used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<Address>,
    },
    /// A cluster-external address.
    External {
        /// The address.
        address: Address,
    },
}

impl Endpoint {
    /// The pod at this end, if it is one.
    pub fn pod(&self) -> Option<&PodId> {
        match self {
            Endpoint::Pod { pod, .. } => Some(pod),
            _ => None,
        }
    }

    /// The address at this end, if known.
    pub fn address(&self) -> Option<&Address> {
        match self {
            Endpoint::Pod { address, .. } | Endpoint::Node { address, .. } => address.as_ref(),
            Endpoint::External { address } => Some(address),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Pod { pod, .. } => write!(f, "pod {pod}"),
            Endpoint::Node { node, .. } => write!(f, "node {node}"),
            Endpoint::External { address } => write!(f, "address {address}"),
        }
    }
}

/// An open connection. Its replies are allowed for as long as it is open (rule 5.15).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The id handed out by `newConnection`.
    pub id: ConnectionId,
    /// The end that opened it.
    pub source: Endpoint,
    /// The end that accepted it (after service translation, rule 6.4).
    pub destination: Endpoint,
    /// Its protocol.
    pub protocol: Protocol,
    /// Its destination port (after service translation).
    pub port: u16,
    /// The Service it was opened through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceId>,
}
