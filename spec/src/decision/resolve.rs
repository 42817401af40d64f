//! What each end of a connection is, and what is decided before any policy.
//!
//! An [`Endpoint`] (a pod, a node or an address) is resolved once, here, into the [`Facts`] the
//! pre-policy rules read and the [`Party`] a policy rule sees. Host-network pods are resolved to
//! their node here and nowhere else (rule 7.6). [`gate`] applies the refusals and exemptions
//! (rules 2.3, 7.1, 7.2, 7.5, 7.7, 8.6); the oracle's fast paths call it with facts from their
//! own indexes, so these rules have one home.

use crate::connection::Endpoint;
use crate::decision::Exemption;
use crate::net::Protocol;
use crate::pod::Pod;
use crate::profile::{
    MultiNetwork, NodeTraffic, OtherProtocols, PodToSelf, Profile, ServiceHairpin,
};
use crate::state::{AddressOwner, State};
use std::net::IpAddr;

/// The other end of a connection as a policy rule sees it (rules 5.11, 5.12, 7.6).
#[derive(Clone, Copy, Debug)]
pub enum Party<'a> {
    /// A policed pod, with the address the connection uses (if it has one).
    Pod {
        /// The pod.
        pod: &'a Pod,
        /// The address used.
        address: Option<IpAddr>,
    },
    /// Anything that is not a policed pod — a node, a host-network pod under
    /// `host-network: as-node`, the outside — known to policy only by its address.
    Address(Option<IpAddr>),
}

impl Party<'_> {
    /// The address this end uses, if known.
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Party::Pod { address, .. } | Party::Address(address) => *address,
        }
    }
}

/// What an end is, for the rules decided before policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A policed pod.
    Pod,
    /// A node: its agents, or a host-network pod under `host-network: as-node` (rule 7.6).
    Node,
    /// A cluster-external address.
    External,
}

/// The facts of one end that the pre-policy rules read.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// What the end is.
    pub kind: Kind,
    /// The node the end is, or runs on.
    pub node: Option<&'a str>,
    /// Whether the end can open or accept connections (rule 2.3: only running pods can).
    pub live: bool,
    /// The network of the pod address used (rules 8.6, 8.7, 8.11); `None` for an end that is
    /// not a pod address.
    pub network: Option<&'a str>,
    /// That network is a primary user-defined network, isolated from every other (rule 8.11).
    pub isolated: bool,
}

/// Which end a refusal is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// The source is a pod that is not running (rule 2.3).
    SourceNotRunning,
    /// The destination is a pod that is not running (rule 2.3).
    DestinationNotRunning,
    /// The two pod addresses are on different networks with no route between them (rules 8.6,
    /// 8.11).
    NoRoute,
}

/// Rules 8.6, 8.11: whether no route joins two ends: both are pod addresses, on different
/// networks, and the cluster is multi-network type 2 or one of the networks is a primary
/// user-defined network.
pub fn no_route(profile: &Profile, src: &Facts<'_>, dst: &Facts<'_>) -> bool {
    match (src.network, dst.network) {
        (Some(a), Some(b)) if a != b => {
            profile.multi_network == MultiNetwork::Type2 || src.isolated || dst.isolated
        }
        _ => false,
    }
}

/// What is decided before policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    /// Refused whatever the policies say.
    pub blocked: Option<Blocked>,
    /// Allowed by the NetworkPolicy tier whatever its policies say (rule 11.11: the admin
    /// tiers still apply).
    pub exemption: Option<Exemption>,
    /// Whether the admin tiers apply: not to a pod talking to itself on its own address
    /// (rule 11.11, network-policy-api 2089511).
    pub admin_tiers: bool,
}

/// Rules 2.3, 8.6, 7.1, 7.2, 7.5, 7.7: the refusal and the exemption of a new connection, from
/// the facts of its two ends. `same_pod` says whether both ends are the same policed pod;
/// `via_service` whether the connection goes through a Service (the hairpin of rule 7.2).
pub fn gate(
    profile: &Profile,
    src: &Facts<'_>,
    dst: &Facts<'_>,
    same_pod: bool,
    protocol: Protocol,
    via_service: bool,
) -> Gate {
    let blocked = if !src.live {
        Some(Blocked::SourceNotRunning)
    } else if !dst.live {
        Some(Blocked::DestinationNotRunning)
    } else if no_route(profile, src, dst) {
        Some(Blocked::NoRoute)
    } else {
        None
    };
    let exemption =
        if !protocol.is_kubernetes() && profile.other_protocols == OtherProtocols::Allowed {
            Some(Exemption::OtherProtocol)
        } else {
            match (src.kind, dst.kind) {
                (Kind::Pod, Kind::Pod) if same_pod => {
                    if via_service {
                        (profile.service_hairpin == ServiceHairpin::Allowed)
                            .then_some(Exemption::ServiceHairpin)
                    } else {
                        (profile.pod_to_self == PodToSelf::Allowed).then_some(Exemption::PodToSelf)
                    }
                }
                (Kind::Pod, Kind::Node) | (Kind::Node, Kind::Pod)
                    if profile.node_traffic == NodeTraffic::AlwaysAllowed
                        && src.node.is_some()
                        && src.node == dst.node =>
                {
                    Some(Exemption::OwnNode)
                }
                _ => None,
            }
        };
    let self_on_own_address = same_pod && !via_service && src.kind == Kind::Pod;
    Gate {
        blocked,
        exemption,
        admin_tiers: !self_on_own_address,
    }
}

/// One end, resolved: its facts, what policy sees of it, and the policed pod it is, if any.
#[derive(Clone, Copy, Debug)]
pub struct Resolved<'a> {
    /// The facts the pre-policy rules read.
    pub facts: Facts<'a>,
    /// What a policy rule sees.
    pub party: Party<'a>,
}

impl Resolved<'_> {
    /// The policed pod this end is, if it is one.
    pub fn pod(&self) -> Option<&Pod> {
        match self.party {
            Party::Pod { pod, .. } => Some(pod),
            Party::Address(_) => None,
        }
    }
}

impl State {
    /// Rules 3.6, 7.6, 8.6, 8.7, 8.11: what an endpoint is to the pre-policy rules and to
    /// policy. A pod
    /// with `hostNetwork: true` is its node under `host-network: as-node`; a pod that no longer
    /// exists is only an address.
    pub fn resolve<'a>(&'a self, end: &'a Endpoint) -> Resolved<'a> {
        let address = end.address().map(|a| a.ip);
        let network = match end.address().and_then(|a| self.addresses().get(a)) {
            Some(AddressOwner::Pod { network, .. }) => Some(network.as_str()),
            _ => None,
        };
        let isolated = network.is_some_and(|n| self.is_isolated_network(n));
        let outside = |kind, node| Resolved {
            facts: Facts {
                kind,
                node,
                live: true,
                network,
                isolated,
            },
            party: Party::Address(address),
        };
        match end {
            Endpoint::Pod { pod, .. } => match self.pod(pod) {
                Some(p) => {
                    let policed = self.profile().policed(p.host_network);
                    Resolved {
                        facts: Facts {
                            kind: if policed { Kind::Pod } else { Kind::Node },
                            node: p.node.as_deref(),
                            live: p.is_live(),
                            network,
                            isolated,
                        },
                        party: if policed {
                            Party::Pod { pod: p, address }
                        } else {
                            Party::Address(address)
                        },
                    }
                }
                None => outside(Kind::External, None),
            },
            Endpoint::Node { node, .. } => outside(Kind::Node, Some(node.as_str())),
            Endpoint::External { .. } => outside(Kind::External, None),
        }
    }
}

impl State {
    /// Rule 3.4: the endpoint of a pod, using its primary address — its first `eth0` address,
    /// of the same family as `towards` when given; a host-network pod uses its node's address.
    pub fn pod_endpoint(
        &self,
        pod: &crate::ident::PodId,
        towards: Option<&crate::net::Address>,
    ) -> Result<Endpoint, crate::error::OpError> {
        if self.pod(pod).is_none() {
            return Err(crate::error::OpError::not_found("pod", pod));
        }
        let candidates = self.primary_addresses(pod);
        let address = candidates
            .iter()
            .find(|a| towards.is_none_or(|t| t.ip.is_ipv4() == a.ip.is_ipv4()))
            .or(candidates.first())
            .map(|a| (*a).clone());
        Ok(Endpoint::Pod {
            pod: pod.clone(),
            address,
        })
    }

    /// The endpoints of a connection between two pods named by identity: the destination on
    /// its primary address, the source on its address of the same family (rule 3.4). The
    /// destination is looked up first.
    pub fn pod_pair(
        &self,
        source: &crate::ident::PodId,
        destination: &crate::ident::PodId,
    ) -> Result<(Endpoint, Endpoint), crate::error::OpError> {
        let d = self.pod_endpoint(destination, None)?;
        let s = self.pod_endpoint(source, d.address())?;
        Ok((s, d))
    }

    /// Rule 3.6: the endpoint an address stands for — its pod, its node, or the outside. A
    /// Service address stands for no endpoint (it is translated, rule 6.4): as a source it is
    /// the error `service-address-as-source`.
    pub fn address_endpoint(
        &self,
        address: &crate::net::Address,
    ) -> Result<Endpoint, crate::error::OpError> {
        match self.addresses().get(address) {
            Some(AddressOwner::Pod { pod, .. }) => Ok(Endpoint::Pod {
                pod: pod.clone(),
                address: Some(address.clone()),
            }),
            Some(AddressOwner::Node { node }) => Ok(Endpoint::Node {
                node: node.clone(),
                address: Some(address.clone()),
            }),
            Some(AddressOwner::Service { service, .. }) => Err(crate::error::OpError::new(
                crate::error::ErrorKind::ServiceAddressAsSource,
                format!("address {address} is a virtual address of service {service}"),
            )),
            Some(AddressOwner::External { .. }) | None => Ok(Endpoint::External {
                address: address.clone(),
            }),
        }
    }

    /// The node an endpoint is or runs on (for `internalTrafficPolicy: Local`, rule 6.7).
    pub fn node_of<'a>(&'a self, end: &'a Endpoint) -> Option<&'a str> {
        match end {
            Endpoint::Pod { pod, .. } => self.pod(pod).and_then(|p| p.node.as_deref()),
            Endpoint::Node { node, .. } => Some(node),
            Endpoint::External { .. } => None,
        }
    }
}
