//! Cluster-admin policies: `ClusterNetworkPolicy` (`policy.networking.k8s.io/v1alpha2`, tiers
//! Admin and Baseline) and its predecessors `AdminNetworkPolicy` and
//! `BaselineAdminNetworkPolicy` (`v1alpha1`), read onto the same object. Rules 11.x; how the
//! tiers combine with NetworkPolicy is in [`crate::decision::core`].
//!
//! Source: kubernetes-sigs/network-policy-api `apis/v1alpha2/clusternetworkpolicy_types.go`
//! (doc comments), the v0.2.0 CRDs, `site-src/api-overview.md`; `apis/v1alpha1` on
//! `release-0.1` for ANP/BANP.

use crate::decision::Party;
use crate::net::Protocol;
use crate::pod::Pod;
use crate::profile::{NamedPortConflict, Profile};
use crate::selector::{LabelSelector, Labels};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// Which API an admin policy was written in (rule 11.13). All three are one object here; the
/// kind is part of the identity, as in the API server.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum AdminKind {
    /// `policy.networking.k8s.io/v1alpha2` `ClusterNetworkPolicy`.
    #[default]
    ClusterNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` `AdminNetworkPolicy`: the Admin tier.
    AdminNetworkPolicy,
    /// `policy.networking.k8s.io/v1alpha1` `BaselineAdminNetworkPolicy`: the Baseline tier.
    BaselineAdminNetworkPolicy,
}

impl AdminKind {
    /// The kind as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminKind::ClusterNetworkPolicy => "ClusterNetworkPolicy",
            AdminKind::AdminNetworkPolicy => "AdminNetworkPolicy",
            AdminKind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
        }
    }
}

/// The identity of a cluster-scoped admin policy: `kind/name` (rule 11.1). Traces write a
/// `ClusterNetworkPolicy` by its name alone, the v1alpha1 kinds as `AdminNetworkPolicy/name`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdminPolicyId {
    /// The API kind.
    pub kind: AdminKind,
    /// `metadata.name`.
    pub name: String,
}

impl std::str::FromStr for AdminPolicyId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, name) = match s.split_once('/') {
            Some(("ClusterNetworkPolicy", n)) => (AdminKind::ClusterNetworkPolicy, n),
            Some(("AdminNetworkPolicy", n)) => (AdminKind::AdminNetworkPolicy, n),
            Some(("BaselineAdminNetworkPolicy", n)) => (AdminKind::BaselineAdminNetworkPolicy, n),
            Some((k, _)) => return Err(format!("unknown admin policy kind `{k}`")),
            None => (AdminKind::ClusterNetworkPolicy, s),
        };
        if name.is_empty() || name.contains('/') {
            return Err(format!("expected `name` or `Kind/name`, got `{s}`"));
        }
        Ok(AdminPolicyId {
            kind,
            name: name.to_string(),
        })
    }
}

impl Serialize for AdminPolicyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.kind {
            AdminKind::ClusterNetworkPolicy => s.serialize_str(&self.name),
            _ => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for AdminPolicyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl AdminPolicyId {
    /// A `ClusterNetworkPolicy` of that name.
    pub fn cnp(name: impl Into<String>) -> Self {
        AdminPolicyId {
            kind: AdminKind::ClusterNetworkPolicy,
            name: name.into(),
        }
    }
}

impl fmt::Display for AdminPolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

impl fmt::Debug for AdminPolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `spec.tier` (rule 11.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tier {
    /// Before NetworkPolicy: namespace owners cannot override it.
    Admin,
    /// After NetworkPolicy: the cluster's default for pods no NetworkPolicy isolates.
    Baseline,
}

/// A rule's `action` (rule 11.4). v1alpha1's `Allow` is `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Allowed; no later rule of this direction is consulted.
    #[serde(alias = "Allow")]
    Accept,
    /// Denied; no later rule of this direction is consulted.
    Deny,
    /// The rest of this tier is skipped; the next tier decides.
    Pass,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Accept => "Accept",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        })
    }
}

/// `spec.subject` (rule 11.7): exactly one of `namespaces` or `pods`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Subject {
    /// Every pod of the namespaces the selector matches.
    Namespaces(LabelSelector),
    /// The pods matching `podSelector` in the namespaces matching `namespaceSelector`.
    Pods(NamespacedPods),
}

/// `NamespacedPod`: a namespace selector and a pod selector, ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespacedPods {
    /// The namespaces (empty: all).
    #[serde(default)]
    pub namespace_selector: LabelSelector,
    /// The pods in them (empty: all).
    #[serde(default)]
    pub pod_selector: LabelSelector,
}

impl NamespacedPods {
    fn matches(&self, pod: &Pod, namespace_labels: &Labels) -> bool {
        self.namespace_selector.matches(namespace_labels) && self.pod_selector.matches(&pod.labels)
    }
}

/// A `from`/`to` entry (rule 11.8): exactly one field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum AdminPeer {
    /// Every pod of the matching namespaces.
    Namespaces(LabelSelector),
    /// Pods by namespace and pod selector.
    Pods(NamespacedPods),
    /// Egress only: addresses inside any of these CIDRs, pod addresses included.
    Networks(Vec<IpNet>),
    /// Egress only: the addresses of the nodes whose labels match.
    Nodes(LabelSelector),
    /// A peer with a field netsem does not know (rule 11.10: fail closed).
    Unknown(String),
}

/// What a peer clause needs to know of the other end.
#[derive(Clone, Copy, Debug)]
pub struct PeerView<'a> {
    /// The other end as policy sees it.
    pub party: Party<'a>,
    /// The labels of a pod end's namespace.
    pub namespace_labels: Option<&'a Labels>,
    /// The labels of the node whose address this end is, for `nodes` peers.
    pub node_labels: Option<&'a Labels>,
}

impl AdminPeer {
    /// Rules 11.7, 11.8: whether this peer matches the other end. Selector peers match only
    /// policed pods that are not on the host network; `networks` matches any address;
    /// `nodes` matches the addresses of matching nodes. An unknown peer is decided by the
    /// rule's action (rule 11.10), not here.
    pub fn matches(&self, peer: &PeerView<'_>) -> bool {
        match (self, peer.party) {
            (AdminPeer::Namespaces(sel), Party::Pod { pod, .. }) => {
                !pod.host_network && peer.namespace_labels.is_some_and(|l| sel.matches(l))
            }
            (AdminPeer::Pods(p), Party::Pod { pod, .. }) => {
                !pod.host_network && peer.namespace_labels.is_some_and(|l| p.matches(pod, l))
            }
            (AdminPeer::Namespaces(_) | AdminPeer::Pods(_), Party::Address(_)) => false,
            (AdminPeer::Networks(nets), party) => party
                .address()
                .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            (AdminPeer::Nodes(sel), _) => peer.node_labels.is_some_and(|l| sel.matches(l)),
            (AdminPeer::Unknown(_), _) => false,
        }
    }
}

/// A `protocols` entry (rule 11.9): a protocol with a port or range, or a named port. Traces
/// write it as the API does: `{tcp: {destinationPort: {number: 80}}}`,
/// `{udp: {destinationPort: {range: {start: 5000, end: 5100}}}}`,
/// `{destinationNamedPort: web}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawProtocol", into = "RawProtocol")]
pub enum AdminProtocol {
    /// TCP, UDP or SCTP on the inclusive destination port range `[first, last]`.
    Ports {
        /// The protocol.
        protocol: Protocol,
        /// The first port.
        first: u16,
        /// The last port.
        last: u16,
    },
    /// `destinationNamedPort`: a container port name, resolved on the destination pod, whose
    /// own protocol it carries.
    NamedPort(String),
    /// An entry with a field netsem does not know (rule 11.10: fail closed).
    Unknown(String),
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawProtocol {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tcp: Option<RawPorts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    udp: Option<RawPorts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sctp: Option<RawPorts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    destination_named_port: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPorts {
    destination_port: RawPort,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<RawRange>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    start: u16,
    end: u16,
}

impl TryFrom<RawProtocol> for AdminProtocol {
    type Error = String;
    fn try_from(raw: RawProtocol) -> Result<Self, String> {
        let ports =
            |protocol, p: RawPorts| match (p.destination_port.number, p.destination_port.range) {
                (Some(n), None) => Ok(AdminProtocol::Ports {
                    protocol,
                    first: n,
                    last: n,
                }),
                (None, Some(r)) => Ok(AdminProtocol::Ports {
                    protocol,
                    first: r.start,
                    last: r.end,
                }),
                _ => Err("destinationPort needs exactly one of number or range".to_string()),
            };
        match raw {
            RawProtocol {
                tcp: Some(p),
                udp: None,
                sctp: None,
                destination_named_port: None,
            } => ports(Protocol::Tcp, p),
            RawProtocol {
                tcp: None,
                udp: Some(p),
                sctp: None,
                destination_named_port: None,
            } => ports(Protocol::Udp, p),
            RawProtocol {
                tcp: None,
                udp: None,
                sctp: Some(p),
                destination_named_port: None,
            } => ports(Protocol::Sctp, p),
            RawProtocol {
                tcp: None,
                udp: None,
                sctp: None,
                destination_named_port: Some(name),
            } => Ok(AdminProtocol::NamedPort(name)),
            _ => Err(
                "a protocols entry has exactly one of tcp, udp, sctp, destinationNamedPort".into(),
            ),
        }
    }
}

impl From<AdminProtocol> for RawProtocol {
    fn from(p: AdminProtocol) -> Self {
        match p {
            AdminProtocol::Ports {
                protocol,
                first,
                last,
            } => {
                let port = if first == last {
                    RawPort {
                        number: Some(first),
                        range: None,
                    }
                } else {
                    RawPort {
                        number: None,
                        range: Some(RawRange {
                            start: first,
                            end: last,
                        }),
                    }
                };
                let ports = Some(RawPorts {
                    destination_port: port,
                });
                match protocol {
                    Protocol::Udp => RawProtocol {
                        udp: ports,
                        ..RawProtocol::default()
                    },
                    Protocol::Sctp => RawProtocol {
                        sctp: ports,
                        ..RawProtocol::default()
                    },
                    _ => RawProtocol {
                        tcp: ports,
                        ..RawProtocol::default()
                    },
                }
            }
            AdminProtocol::NamedPort(name) => RawProtocol {
                destination_named_port: Some(name),
                ..RawProtocol::default()
            },
            // Only manifests produce an unknown entry; a trace cannot name one.
            AdminProtocol::Unknown(_) => RawProtocol::default(),
        }
    }
}

impl AdminProtocol {
    /// Rule 11.9: whether the entry admits `(protocol, port)` to `destination`.
    pub fn matches(
        &self,
        protocol: Protocol,
        port: u16,
        destination: Option<&Pod>,
        profile: &Profile,
    ) -> bool {
        match self {
            AdminProtocol::Ports {
                protocol: p,
                first,
                last,
            } => *p == protocol && (*first..=*last).contains(&port),
            AdminProtocol::NamedPort(name) => destination.is_some_and(|pod| {
                let mut numbers = pod.named_port_numbers(name, protocol);
                match profile.named_port_conflict {
                    NamedPortConflict::AnyMatch => numbers.any(|n| n == port),
                    NamedPortConflict::FirstOnly => numbers.next() == Some(port),
                }
            }),
            AdminProtocol::Unknown(_) => false,
        }
    }
}

/// An ingress or egress rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdminRule {
    /// `name`, for observability only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `action`.
    pub action: Action,
    /// `from` (ingress) or `to` (egress): the rule matches when any of them does.
    #[serde(alias = "from", alias = "to")]
    pub peers: Vec<AdminPeer>,
    /// `protocols`; `None` is every protocol, ICMP included (rule 11.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<AdminProtocol>>,
}

/// How one admin rule matched: its peers, and its protocols.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRuleOutcome {
    /// The index of the first peer that matches.
    pub peer: Option<usize>,
    /// Whether `protocols` admits the traffic (true when absent).
    pub protocols: bool,
    /// Rule 11.10: a peer or protocol entry netsem does not know made the rule fail closed.
    pub fail_closed: bool,
}

impl AdminRuleOutcome {
    /// Whether the rule decides the traffic.
    pub fn matches(&self) -> bool {
        self.fail_closed || (self.peer.is_some() && self.protocols)
    }
}

impl AdminRule {
    /// Rules 11.4, 11.8–11.10: how the rule matches the traffic. Fail closed: an unknown peer
    /// or protocol entry makes an `Accept` rule match nothing and a `Deny`/`Pass` rule match
    /// everything — as a `Deny` (see [`AdminRule::effective_action`]).
    pub fn outcome(
        &self,
        peer: &PeerView<'_>,
        protocol: Protocol,
        port: u16,
        destination: Option<&Pod>,
        profile: &Profile,
    ) -> AdminRuleOutcome {
        let unknown = self
            .peers
            .iter()
            .any(|p| matches!(p, AdminPeer::Unknown(_)))
            || self
                .protocols
                .iter()
                .flatten()
                .any(|p| matches!(p, AdminProtocol::Unknown(_)));
        AdminRuleOutcome {
            peer: self.peers.iter().position(|p| p.matches(peer)),
            protocols: self.protocols.as_ref().is_none_or(|ps| {
                ps.iter()
                    .any(|p| p.matches(protocol, port, destination, profile))
            }),
            fail_closed: unknown && self.action != Action::Accept,
        }
    }

    /// The action a matching rule takes: a rule failing closed denies (rule 11.10).
    pub fn effective_action(&self, outcome: &AdminRuleOutcome) -> Action {
        if outcome.fail_closed {
            Action::Deny
        } else {
            self.action
        }
    }
}

/// A cluster-admin policy (rule 11.1). Traces write it as the API's spec with `name` (and
/// `kind` for the v1alpha1 kinds) beside it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterNetworkPolicy {
    /// The API kind (`ClusterNetworkPolicy` when absent).
    #[serde(default, skip_serializing_if = "is_cnp")]
    pub kind: AdminKind,
    /// `metadata.name`.
    pub name: String,
    /// `spec.tier`.
    pub tier: Tier,
    /// `spec.priority`, 0–1000, lower first.
    pub priority: u32,
    /// `spec.subject`.
    pub subject: Subject,
    /// `spec.ingress`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<AdminRule>,
    /// `spec.egress`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<AdminRule>,
}

fn is_cnp(kind: &AdminKind) -> bool {
    *kind == AdminKind::ClusterNetworkPolicy
}

impl ClusterNetworkPolicy {
    /// `kind/name`.
    pub fn id(&self) -> AdminPolicyId {
        AdminPolicyId {
            kind: self.kind,
            name: self.name.clone(),
        }
    }

    /// Rule 11.7: whether the policy's subject holds `pod` (never a host-network pod).
    pub fn selects(&self, pod: &Pod, namespace_labels: &Labels) -> bool {
        !pod.host_network
            && match &self.subject {
                Subject::Namespaces(sel) => sel.matches(namespace_labels),
                Subject::Pods(p) => p.matches(pod, namespace_labels),
            }
    }

    /// The rules of one direction, in order.
    pub fn rules(&self, direction: crate::policy::Direction) -> &[AdminRule] {
        match direction {
            crate::policy::PolicyType::Ingress => &self.ingress,
            crate::policy::PolicyType::Egress => &self.egress,
        }
    }
}

/// Whether an address is in a CIDR list, for explanations.
pub fn in_networks(nets: &[IpNet], ip: IpAddr) -> bool {
    nets.iter().any(|n| n.contains(&ip))
}
