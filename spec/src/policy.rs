//! NetworkPolicy v1 (`networking.k8s.io/v1`), and how one policy's rules match a connection.
//! Rules 5.x. Combining policies, isolation and exemptions is in [`crate::decision`].

use crate::decision::Party;
use crate::ident::PolicyId;
use crate::net::{PortRef, Protocol};
use crate::pod::Pod;
use crate::profile::{IpBlockPods, NamedPortConflict, OtherProtocols, Profile};
use crate::selector::{LabelSelector, Labels};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `policyTypes` entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PolicyType {
    /// Traffic into the selected pods.
    Ingress,
    /// Traffic out of the selected pods.
    Egress,
}

/// A direction of traffic relative to the pod whose policies are evaluated.
pub type Direction = PolicyType;

/// `ipBlock`: addresses inside `cidr` and outside every `except` (rule 5.12).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpBlock {
    /// The block.
    pub cidr: IpNet,
    /// Holes in the block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<IpNet>,
}

impl IpBlock {
    /// Rule 5.12: inside `cidr` and outside every `except`. A v6 address never matches a v4
    /// block and vice versa.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.cidr.contains(&ip) && !self.except.iter().any(|e| e.contains(&ip))
    }
}

/// A `from`/`to` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawPeer", into = "RawPeer")]
pub enum Peer {
    /// Pods chosen by selectors (rule 5.11): `podSelector` alone is the policy's namespace;
    /// `namespaceSelector` alone is every pod of matching namespaces; both are ANDed.
    Pods {
        /// `namespaceSelector`; `None` means the policy's own namespace.
        namespace_selector: Option<LabelSelector>,
        /// `podSelector`; `None` means every pod of the chosen namespaces.
        pod_selector: Option<LabelSelector>,
    },
    /// `ipBlock`.
    IpBlock(IpBlock),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPeer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pod_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip_block: Option<IpBlock>,
}

impl TryFrom<RawPeer> for Peer {
    type Error = String;
    fn try_from(raw: RawPeer) -> Result<Self, String> {
        match raw {
            RawPeer {
                ip_block: Some(block),
                pod_selector: None,
                namespace_selector: None,
            } => Ok(Peer::IpBlock(block)),
            RawPeer {
                ip_block: Some(_), ..
            } => Err("ipBlock may not be combined with podSelector or namespaceSelector".into()),
            RawPeer {
                pod_selector: None,
                namespace_selector: None,
                ..
            } => Err("a peer needs podSelector, namespaceSelector or ipBlock".into()),
            RawPeer {
                pod_selector,
                namespace_selector,
                ..
            } => Ok(Peer::Pods {
                namespace_selector,
                pod_selector,
            }),
        }
    }
}

impl From<Peer> for RawPeer {
    fn from(p: Peer) -> Self {
        match p {
            Peer::Pods {
                namespace_selector,
                pod_selector,
            } => RawPeer {
                pod_selector,
                namespace_selector,
                ip_block: None,
            },
            Peer::IpBlock(b) => RawPeer {
                pod_selector: None,
                namespace_selector: None,
                ip_block: Some(b),
            },
        }
    }
}

impl Peer {
    /// Rules 5.11, 5.12, 7.3: whether this peer clause of a policy in `policy_namespace`
    /// matches `end`; `namespace_labels` are the labels of a pod end's namespace.
    pub fn matches(
        &self,
        policy_namespace: &str,
        end: Party<'_>,
        namespace_labels: Option<&Labels>,
        profile: &Profile,
    ) -> bool {
        match (self, end) {
            (
                Peer::Pods {
                    namespace_selector,
                    pod_selector,
                },
                Party::Pod { pod, .. },
            ) => {
                let namespace_ok = match namespace_selector {
                    None => pod.id.namespace == policy_namespace,
                    Some(sel) => namespace_labels.is_some_and(|l| sel.matches(l)),
                };
                namespace_ok && pod_selector.as_ref().is_none_or(|s| s.matches(&pod.labels))
            }
            // Rule 5.11: selector peers never match non-pod addresses.
            (Peer::Pods { .. }, Party::Address(_)) => false,
            (Peer::IpBlock(block), Party::Pod { address, .. }) => {
                profile.ip_block_pods == IpBlockPods::MatchPodAddresses
                    && address.is_some_and(|ip| block.contains(ip))
            }
            (Peer::IpBlock(block), Party::Address(ip)) => ip.is_some_and(|ip| block.contains(ip)),
        }
    }
}

/// A `ports` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyPort {
    /// The protocol; TCP when not given (rule 5.7).
    #[serde(default = "Protocol::tcp")]
    pub protocol: Protocol,
    /// A number or a container port name; `None` is every port of the protocol (rule 5.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortRef>,
    /// With a numeric `port`, the inclusive range `[port, endPort]` (rule 5.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<u16>,
}

impl PolicyPort {
    /// Rules 5.7–5.9, 7.8: whether the entry matches destination `port` over `protocol`, with
    /// named ports resolved on `destination` (absent when the destination is not a pod).
    pub fn matches(
        &self,
        protocol: Protocol,
        port: u16,
        destination: Option<&Pod>,
        profile: &Profile,
    ) -> bool {
        if self.protocol != protocol {
            return false;
        }
        match &self.port {
            None => true,
            Some(PortRef::Number(start)) => {
                let end = self.end_port.unwrap_or(*start);
                (*start..=end).contains(&port)
            }
            Some(PortRef::Name(name)) => destination.is_some_and(|pod| {
                let mut numbers = pod.named_port_numbers(name, protocol);
                match profile.named_port_conflict {
                    NamedPortConflict::AnyMatch => numbers.any(|n| n == port),
                    NamedPortConflict::FirstOnly => numbers.next() == Some(port),
                }
            }),
        }
    }
}

/// An ingress or egress rule: the traffic allowed is that matching its ports AND its peers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// `ports`; empty means every port of every protocol (rule 5.6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PolicyPort>,
    /// `from` (ingress) or `to` (egress); empty means every peer, external included (rule 5.6).
    #[serde(
        default,
        alias = "from",
        alias = "to",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub peers: Vec<Peer>,
}

impl Rule {
    /// Rules 5.6, 7.7: whether the rule's ports admit `(protocol, port)`.
    pub fn ports_match(
        &self,
        protocol: Protocol,
        port: u16,
        destination: Option<&Pod>,
        profile: &Profile,
    ) -> bool {
        if !protocol.is_kubernetes() {
            return self.ports.is_empty()
                && profile.other_protocols == OtherProtocols::RulesWithoutPorts;
        }
        self.ports.is_empty()
            || self
                .ports
                .iter()
                .any(|p| p.matches(protocol, port, destination, profile))
    }
}

/// A NetworkPolicy as written (with `policyTypes` possibly absent).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicy {
    /// `networkPolicy<namespace, name>`.
    pub id: PolicyId,
    /// The pods of the policy's namespace it applies to (rule 5.1).
    #[serde(default)]
    pub pod_selector: LabelSelector,
    /// `policyTypes` as written; `None` or empty is defaulted (rule 5.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_types: Option<Vec<PolicyType>>,
    /// Ingress rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<Rule>,
    /// Egress rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<Rule>,
}

impl NetworkPolicy {
    /// Rule 5.3: whether the policy has `direction` among its effective `policyTypes`. Absent or
    /// empty `policyTypes` means Ingress, plus Egress iff there is at least one egress rule.
    pub fn applies_to(&self, direction: Direction) -> bool {
        match self.policy_types.as_deref() {
            Some(types) if !types.is_empty() => types.contains(&direction),
            _ => match direction {
                PolicyType::Ingress => true,
                PolicyType::Egress => !self.egress.is_empty(),
            },
        }
    }

    /// Rule 5.1: whether the policy selects `pod` (same namespace, selector matches).
    pub fn selects(&self, pod: &Pod) -> bool {
        pod.id.namespace == self.id.namespace && self.pod_selector.matches(&pod.labels)
    }

    /// The rules of one direction.
    pub fn rules(&self, direction: Direction) -> &[Rule] {
        match direction {
            PolicyType::Ingress => &self.ingress,
            PolicyType::Egress => &self.egress,
        }
    }
}

/// A MultiNetworkPolicy (`k8s.cni.cncf.io/v1beta1`, k8snetworkplumbingwg multi-networkpolicy):
/// the NetworkPolicy spec, filtering only traffic on the networks it names (its
/// `k8s.v1.cni.cncf.io/policy-for` annotation), which NetworkPolicy does not filter (rules
/// 8.7, 8.8). Where its implementations differ, the profile decides (rules 7.12, 7.13, through
/// [`MultiNetworkPolicy::effective`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MultiNetworkPolicy {
    /// `multiNetworkPolicy<namespace, name>`: a namespace of its own, so an NP and an MNP may
    /// share a name.
    pub id: PolicyId,
    /// The networks it filters (the `policy-for` NetworkAttachmentDefinitions, as networks).
    pub networks: Vec<String>,
    /// The pods of the policy's namespace it applies to.
    #[serde(default)]
    pub pod_selector: LabelSelector,
    /// `policyTypes` as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_types: Option<Vec<PolicyType>>,
    /// Ingress rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<Rule>,
    /// Egress rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<Rule>,
}

impl MultiNetworkPolicy {
    /// Rules 8.8, 7.12, 7.13: the NetworkPolicy this MultiNetworkPolicy is on its networks,
    /// under `profile`; `None` when it isolates nothing.
    ///
    /// - `mnp-pod-selector-peers: all-namespaces` (multi-networkpolicy-iptables): a peer with a
    ///   `podSelector` and no `namespaceSelector` matches pods of every namespace;
    /// - `mnp-policy-types: rules-present` (multi-networkpolicy-iptables): without
    ///   `policyTypes`, a direction is enforced only when it has rules.
    pub fn effective(&self, profile: &Profile) -> Option<NetworkPolicy> {
        use crate::profile::{MnpPodSelectorPeers, MnpPolicyTypes};
        let all_namespaces = profile.mnp_pod_selector_peers == MnpPodSelectorPeers::AllNamespaces;
        let widen = |rules: &[Rule]| -> Vec<Rule> {
            rules
                .iter()
                .map(|r| Rule {
                    ports: r.ports.clone(),
                    peers: r
                        .peers
                        .iter()
                        .map(|p| match p {
                            Peer::Pods {
                                namespace_selector: None,
                                pod_selector: Some(s),
                            } if all_namespaces => Peer::Pods {
                                namespace_selector: Some(LabelSelector::default()),
                                pod_selector: Some(s.clone()),
                            },
                            other => other.clone(),
                        })
                        .collect(),
                })
                .collect()
        };
        let written = self.policy_types.as_ref().filter(|t| !t.is_empty());
        let policy_types = match (written, profile.mnp_policy_types) {
            (Some(t), _) => Some(t.clone()),
            (None, MnpPolicyTypes::AsNetworkPolicy) => None,
            (None, MnpPolicyTypes::RulesPresent) => {
                let mut t = Vec::new();
                if !self.ingress.is_empty() {
                    t.push(PolicyType::Ingress);
                }
                if !self.egress.is_empty() {
                    t.push(PolicyType::Egress);
                }
                if t.is_empty() {
                    return None;
                }
                Some(t)
            }
        };
        Some(NetworkPolicy {
            id: self.id.clone(),
            pod_selector: self.pod_selector.clone(),
            policy_types,
            ingress: widen(&self.ingress),
            egress: widen(&self.egress),
        })
    }

    /// Rule 8.8: whether it filters traffic on `network`.
    pub fn filters(&self, network: &str) -> bool {
        self.networks.iter().any(|n| n == network)
    }
}
