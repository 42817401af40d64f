//! Policy decisions and the connection primitives: `allowNewConnection*`, `openPodConnection`,
//! `openServiceConnection`, `openConnectionWithIpAddresses` (seed 000/001, "Pod Communication
//! with Network Policies", "Definition of openConnectionFromIpAddresses"). Rules 5.x, 6.x, 7.x.

use crate::connection::Endpoint;
use crate::error::{ErrorKind, OpError};
use crate::ident::{ConnectionId, PodId, PolicyId, ServiceId};
use crate::net::{Address, PortRef, Protocol, PRIMARY_INTERFACE};
use crate::pod::Pod;
use crate::policy::{Direction, PeerEnd, PolicyType};
use crate::profile::{
    HostNetwork, MultiNetwork, NodeTraffic, OtherProtocols, PodToSelf, ServiceHairpin,
};
use crate::selector::Labels;
use crate::service::{Service, ServiceType, TrafficPolicy};
use crate::state::{AddressOwner, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A rule that allowed a connection: policy, rule index, and the index of the peer that matched
/// (`None` when the rule has no peers and so matches every peer).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuleMatch {
    /// The policy.
    pub policy: PolicyId,
    /// Index into its `ingress` or `egress` list.
    pub rule: usize,
    /// Index into the rule's `from`/`to` list.
    pub peer: Option<usize>,
}

/// The verdict of one direction at one pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum DirectionVerdict {
    /// No policy selects the pod for this direction: everything is allowed (rule 5.2).
    NotIsolated,
    /// Isolated, and these rules allow it (rule 5.4: union of all selecting policies).
    Allowed {
        /// Every matching rule.
        by: Vec<RuleMatch>,
    },
    /// Outside policy under the profile in force (rules 7.1, 7.2, 7.5, 7.7): allowed whatever
    /// the policies say.
    Exempt {
        /// Why.
        exemption: Exemption,
    },
    /// Isolated, and no rule of these policies allows it.
    Denied {
        /// The policies that select the pod for this direction.
        isolated_by: Vec<PolicyId>,
    },
}

impl DirectionVerdict {
    /// Whether traffic passes this direction.
    pub fn allowed(&self) -> bool {
        !matches!(self, DirectionVerdict::Denied { .. })
    }
}

/// Traffic that is outside NetworkPolicy under the profile in force (rules 7.1, 7.2, 7.5, 7.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exemption {
    /// A pod to itself (rule 7.1, `pod-to-self: allowed`).
    PodToSelf,
    /// A pod to itself through a Service (rule 7.2, `service-hairpin: allowed`).
    ServiceHairpin,
    /// Between a pod and its own node (rule 7.5, `node-traffic: always-allowed`).
    OwnNode,
    /// A protocol NetworkPolicy does not speak (rule 7.7, `other-protocols: allowed`).
    OtherProtocol,
}

/// Why a connection was refused before, or instead of, policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "reason")]
pub enum Refusal {
    /// The pod is not running (rule 2.3).
    NotRunning {
        /// The pod.
        pod: PodId,
    },
    /// Type 2 multi-network: the two addresses are on different networks (rule 8.6).
    NoRoute,
    /// The Service has no port for this protocol and port (rule 6.2).
    NoServicePort,
    /// The Service has no possible backend (rule 6.6).
    NoBackends,
    /// An `ExternalName` Service proxies nothing (rule 6.8).
    ExternalName,
    /// A cluster-internal Service address reached from outside the cluster (rule 6.10).
    NotReachableFromOutside,
    /// Several backends are possible, their verdicts differ or allow, and the operation did
    /// not say which one was picked (rule 6.1).
    BackendNotChosen,
}

/// The policy decision for one source, destination, protocol and port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The verdict: a connection may be opened.
    pub allowed: bool,
    /// Set when the connection is refused before policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// Set when the traffic is outside policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemption: Option<Exemption>,
    /// The source pod's egress verdict; `None` when the source is not a policed pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<DirectionVerdict>,
    /// The destination pod's ingress verdict; `None` when the destination is not a policed pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<DirectionVerdict>,
}

/// The result of an `open*Connection` primitive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// Whether the connection is allowed; `None` when it depends on a backend nobody chose.
    pub allowed: Option<bool>,
    /// The new connection's id, when one was opened.
    pub connection: Option<ConnectionId>,
    /// Why nothing was opened, when it was refused before or instead of policy.
    pub refusal: Option<Refusal>,
    /// The decision for the path taken (the chosen backend's, for a Service).
    pub decision: Option<Decision>,
    /// For a Service: every possible backend and its decision (rule 6.1).
    pub backends: Option<BTreeMap<PodId, Decision>>,
    /// For a Service: the backend the connection went to.
    pub backend: Option<PodId>,
}

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

/// One end of a decision, after host-network pods are resolved to their node (rule 7.6).
enum Party<'a> {
    Pod {
        pod: &'a Pod,
        namespace_labels: Labels,
        address: Option<IpAddr>,
    },
    Node {
        node: Option<&'a str>,
        address: Option<IpAddr>,
    },
    External {
        address: Option<IpAddr>,
    },
}

impl State {
    fn party<'a>(&'a self, end: &'a Endpoint) -> Party<'a> {
        let ip = end.address().map(|a| a.ip);
        match end {
            Endpoint::Pod { pod, .. } => match self.pod(pod) {
                Some(p) if p.host_network && self.profile().host_network == HostNetwork::AsNode => {
                    Party::Node {
                        node: p.node.as_deref(),
                        address: ip,
                    }
                }
                Some(p) => Party::Pod {
                    pod: p,
                    namespace_labels: self.namespace_labels(&p.id.namespace),
                    address: ip,
                },
                None => Party::External { address: ip },
            },
            Endpoint::Node { node, .. } => Party::Node {
                node: Some(node),
                address: ip,
            },
            Endpoint::External { .. } => Party::External { address: ip },
        }
    }

    /// Rules 5.2, 5.4, 7.7: the verdict of one direction at `pod` for traffic with `peer`,
    /// with named ports resolved on `destination`.
    pub fn direction_verdict(
        &self,
        pod: &Pod,
        direction: Direction,
        peer: PeerEnd<'_>,
        destination: Option<&Pod>,
        protocol: Protocol,
        port: u16,
    ) -> DirectionVerdict {
        let profile = self.profile();
        let selecting: Vec<_> = self
            .policies()
            .filter(|p| p.selects(pod) && p.applies_to(direction))
            .collect();
        if selecting.is_empty() {
            return DirectionVerdict::NotIsolated;
        }
        let isolated_by = || selecting.iter().map(|p| p.id.clone()).collect();
        if !protocol.is_kubernetes() && profile.other_protocols == OtherProtocols::Denied {
            return DirectionVerdict::Denied {
                isolated_by: isolated_by(),
            };
        }
        let by: Vec<RuleMatch> = selecting
            .iter()
            .flat_map(|p| {
                p.rules(direction)
                    .iter()
                    .enumerate()
                    .filter_map(move |(i, rule)| {
                        rule.matching_peer(
                            &p.id.namespace,
                            peer,
                            protocol,
                            port,
                            destination,
                            profile,
                        )
                        .map(|peer| RuleMatch {
                            policy: p.id.clone(),
                            rule: i,
                            peer,
                        })
                    })
            })
            .collect();
        if by.is_empty() {
            DirectionVerdict::Denied {
                isolated_by: isolated_by(),
            }
        } else {
            DirectionVerdict::Allowed { by }
        }
    }

    /// The decision for a new connection between two endpoints (rules 2.3, 5.4, 7.x, 8.6).
    /// `service` is the Service it goes through, if any (for the hairpin rule 7.2).
    pub fn decide(
        &self,
        source: &Endpoint,
        destination: &Endpoint,
        protocol: Protocol,
        port: u16,
        service: Option<&ServiceId>,
    ) -> Decision {
        let profile = self.profile();
        let refusal = self.refusal(source, destination);
        let src = self.party(source);
        let dst = self.party(destination);

        let exemption =
            if !protocol.is_kubernetes() && profile.other_protocols == OtherProtocols::Allowed {
                Some(Exemption::OtherProtocol)
            } else {
                match (&src, &dst) {
                    (Party::Pod { pod: a, .. }, Party::Pod { pod: b, .. }) if a.id == b.id => {
                        match service {
                            Some(_) if profile.service_hairpin == ServiceHairpin::Allowed => {
                                Some(Exemption::ServiceHairpin)
                            }
                            None if profile.pod_to_self == PodToSelf::Allowed => {
                                Some(Exemption::PodToSelf)
                            }
                            _ => None,
                        }
                    }
                    (Party::Pod { pod, .. }, Party::Node { node, .. })
                    | (Party::Node { node, .. }, Party::Pod { pod, .. })
                        if profile.node_traffic == NodeTraffic::AlwaysAllowed
                            && node.is_some()
                            && pod.node.as_deref() == *node =>
                    {
                        Some(Exemption::OwnNode)
                    }
                    _ => None,
                }
            };

        let dst_pod = match &dst {
            Party::Pod { pod, .. } => Some(*pod),
            _ => None,
        };
        let egress = match &src {
            Party::Pod { pod, .. } => Some(self.direction_verdict(
                pod,
                PolicyType::Egress,
                peer_end(&dst),
                dst_pod,
                protocol,
                port,
            )),
            _ => None,
        };
        let ingress = dst_pod.map(|pod| {
            self.direction_verdict(
                pod,
                PolicyType::Ingress,
                peer_end(&src),
                Some(pod),
                protocol,
                port,
            )
        });
        let allowed = refusal.is_none()
            && (exemption.is_some()
                || (egress.as_ref().is_none_or(DirectionVerdict::allowed)
                    && ingress.as_ref().is_none_or(DirectionVerdict::allowed)));
        Decision {
            allowed,
            refusal,
            exemption,
            egress,
            ingress,
        }
    }

    fn refusal(&self, source: &Endpoint, destination: &Endpoint) -> Option<Refusal> {
        for end in [source, destination] {
            if let Some(p) = end.pod().and_then(|id| self.pod(id)) {
                if !p.is_live() {
                    return Some(Refusal::NotRunning { pod: p.id.clone() });
                }
            }
        }
        if self.profile().multi_network == MultiNetwork::Type2 {
            let network = |e: &Endpoint| match e.address().and_then(|a| self.addresses().get(a)) {
                Some(AddressOwner::Pod { network, .. }) => Some(network.clone()),
                _ => None,
            };
            if let (Some(a), Some(b)) = (network(source), network(destination)) {
                if a != b {
                    return Some(Refusal::NoRoute);
                }
            }
        }
        None
    }

    // ----- the four policy primitives -------------------------------------------------------

    /// `allowNewConnectionToPod(sourcePod, destinationPod, protocol, destinationPort)`: the
    /// source pod's egress verdict towards the destination pod's primary address.
    pub fn allow_new_connection_to_pod(
        &self,
        source: &PodId,
        destination: &PodId,
        protocol: Protocol,
        port: u16,
    ) -> Result<DirectionVerdict, OpError> {
        let (s, d) = self.pod_pair(source, destination)?;
        Ok(self.one_direction(&s, &d, PolicyType::Egress, protocol, port))
    }

    /// `allowNewConnectionFromPod(destinationPod, sourcePod, protocol, destinationPort)`: the
    /// destination pod's ingress verdict for the source pod.
    pub fn allow_new_connection_from_pod(
        &self,
        destination: &PodId,
        source: &PodId,
        protocol: Protocol,
        port: u16,
    ) -> Result<DirectionVerdict, OpError> {
        let (s, d) = self.pod_pair(source, destination)?;
        Ok(self.one_direction(&s, &d, PolicyType::Ingress, protocol, port))
    }

    /// `allowNewConnectionFromIpAddress(sourceIpAddress, destinationPod, …)`: the destination
    /// pod's ingress verdict for an address.
    pub fn allow_new_connection_from_ip_address(
        &self,
        source: &Address,
        destination: &PodId,
        protocol: Protocol,
        port: u16,
    ) -> Result<DirectionVerdict, OpError> {
        let d = self.pod_endpoint(destination, Some(source))?;
        let s = self.address_endpoint(source)?;
        Ok(self.one_direction(&s, &d, PolicyType::Ingress, protocol, port))
    }

    /// `allowNewConnectionToIpAddress(sourcePod, destinationIpAddress, …)`: the source pod's
    /// egress verdict towards an address.
    pub fn allow_new_connection_to_ip_address(
        &self,
        source: &PodId,
        destination: &Address,
        protocol: Protocol,
        port: u16,
    ) -> Result<DirectionVerdict, OpError> {
        let s = self.pod_endpoint(source, Some(destination))?;
        // Rule 3.6: as a destination, a Service address is just the address the filter sees.
        let d = match self.addresses().get(destination) {
            Some(AddressOwner::Service { .. }) => Endpoint::External {
                address: destination.clone(),
            },
            _ => self.address_endpoint(destination)?,
        };
        Ok(self.one_direction(&s, &d, PolicyType::Egress, protocol, port))
    }

    fn one_direction(
        &self,
        source: &Endpoint,
        destination: &Endpoint,
        direction: Direction,
        protocol: Protocol,
        port: u16,
    ) -> DirectionVerdict {
        let decision = self.decide(source, destination, protocol, port, None);
        // Rule 5.4: an exemption holds for both filters, so that `openPodConnection` stays the
        // conjunction of the two primitives.
        if let Some(exemption) = decision.exemption {
            return DirectionVerdict::Exempt { exemption };
        }
        let verdict = match direction {
            PolicyType::Egress => decision.egress,
            PolicyType::Ingress => decision.ingress,
        };
        // An end that is not a policed pod has no policy of its own.
        verdict.unwrap_or(DirectionVerdict::NotIsolated)
    }

    fn pod_pair(
        &self,
        source: &PodId,
        destination: &PodId,
    ) -> Result<(Endpoint, Endpoint), OpError> {
        let d = self.pod_endpoint(destination, None)?;
        let s = self.pod_endpoint(source, d.address())?;
        Ok((s, d))
    }

    /// Rule 3.4: the endpoint of a pod, using its primary address — its first `eth0` address,
    /// of the same family as `towards` when given; a host-network pod uses its node's address.
    pub fn pod_endpoint(
        &self,
        pod: &PodId,
        towards: Option<&Address>,
    ) -> Result<Endpoint, OpError> {
        let p = self
            .pod(pod)
            .ok_or_else(|| OpError::not_found("pod", pod))?;
        let candidates: Vec<&Address> = if p.host_network {
            p.node
                .as_deref()
                .map(|n| self.node_addresses(n).collect())
                .unwrap_or_default()
        } else {
            self.pod_addresses(pod)
                .filter(|(_, interface, _)| *interface == PRIMARY_INTERFACE)
                .map(|(a, _, _)| a)
                .collect()
        };
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

    /// The endpoint an address stands for: its pod, node, or the outside (rule 3.6).
    pub fn address_endpoint(&self, address: &Address) -> Result<Endpoint, OpError> {
        match self.addresses().get(address) {
            Some(AddressOwner::Pod { pod, .. }) => Ok(Endpoint::Pod {
                pod: pod.clone(),
                address: Some(address.clone()),
            }),
            Some(AddressOwner::Node { node }) => Ok(Endpoint::Node {
                node: node.clone(),
                address: Some(address.clone()),
            }),
            Some(AddressOwner::Service { service, .. }) => Err(OpError::new(
                ErrorKind::ServiceAddressAsSource,
                format!("address {address} is a virtual address of service {service}"),
            )),
            Some(AddressOwner::External { .. }) | None => Ok(Endpoint::External {
                address: address.clone(),
            }),
        }
    }

    // ----- Services -------------------------------------------------------------------------

    /// Rules 6.2–6.9: the possible backends of `service` for a client on `source_node` using
    /// `source_address`, for `(protocol, port)`.
    pub fn service_backends(
        &self,
        service: &Service,
        source_node: Option<&str>,
        source_address: Option<&Address>,
        protocol: Protocol,
        port: u16,
    ) -> Result<Vec<Backend>, Refusal> {
        if service.service_type == ServiceType::ExternalName {
            return Err(Refusal::ExternalName);
        }
        let target = if service.headless {
            PortRef::Number(port)
        } else {
            service
                .port(protocol, port)
                .ok_or(Refusal::NoServicePort)?
                .target_port
                .clone()
        };
        let source_network = source_address.and_then(|a| match self.addresses().get(a) {
            Some(AddressOwner::Pod { network, .. }) => Some(network.as_str()),
            _ => None,
        });
        let type2 = self.profile().multi_network == MultiNetwork::Type2;
        let mut out = Vec::new();
        for pod_id in self
            .lookup_service_2_pod_mappings(&service.id)
            .unwrap_or_default()
        {
            let Some(pod) = self.pod(&pod_id) else {
                continue;
            };
            if !pod.is_live() || !(pod.ready || service.publish_not_ready_addresses) {
                continue;
            }
            if service.internal_traffic_policy == TrafficPolicy::Local
                && (source_node.is_none() || pod.node.as_deref() != source_node)
            {
                continue;
            }
            let port = match &target {
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
            out.push(Backend {
                pod: pod_id,
                address: Some(address),
                port,
            });
        }
        if out.is_empty() {
            Err(Refusal::NoBackends)
        } else {
            Ok(out)
        }
    }

    /// Rule 6.1: decides every possible backend, then opens through the chosen one. `pick` is
    /// the backend the caller observed; without it, a single backend is taken, and several are
    /// only decided (no connection) unless they all deny.
    #[allow(clippy::too_many_arguments)]
    fn open_through_service(
        &mut self,
        source: Endpoint,
        source_fixed: bool,
        source_node: Option<String>,
        service: &ServiceId,
        protocol: Protocol,
        port: u16,
        pick: Option<&PodId>,
    ) -> Result<Opened, OpError> {
        let svc = self
            .service(service)
            .ok_or_else(|| OpError::not_found("service", service))?
            .clone();
        let backends = match self.service_backends(
            &svc,
            source_node.as_deref(),
            source.address(),
            protocol,
            port,
        ) {
            Ok(b) => b,
            Err(refusal) => {
                if let Some(p) = pick {
                    return Err(not_a_backend(p, service));
                }
                return Ok(Opened {
                    allowed: Some(false),
                    refusal: Some(refusal),
                    backends: Some(BTreeMap::new()),
                    ..Opened::default()
                });
            }
        };
        let mut decided = BTreeMap::new();
        let mut paths = BTreeMap::new();
        for b in backends {
            let destination = Endpoint::Pod {
                pod: b.pod.clone(),
                address: b.address.clone(),
            };
            // A client named by identity uses its address of the backend's family (rule 3.4);
            // a client named by address keeps it (rules 3.6, 8.6).
            let source = match &source {
                Endpoint::Pod { pod, .. } if !source_fixed => {
                    self.pod_endpoint(pod, b.address.as_ref())?
                }
                other => other.clone(),
            };
            let decision = self.decide(&source, &destination, protocol, b.port, Some(service));
            decided.insert(b.pod.clone(), decision);
            paths.insert(b.pod, (source, destination, b.port));
        }
        let chosen = match pick {
            Some(p) if decided.contains_key(p) => Some(p.clone()),
            Some(p) => return Err(not_a_backend(p, service)),
            None if decided.len() == 1 => decided.keys().next().cloned(),
            None => None,
        };
        let Some(chosen) = chosen else {
            let all_deny = decided.values().all(|d| !d.allowed);
            return Ok(Opened {
                allowed: all_deny.then_some(false),
                refusal: (!all_deny).then_some(Refusal::BackendNotChosen),
                backends: Some(decided),
                ..Opened::default()
            });
        };
        let decision = decided[&chosen].clone();
        let connection = decision.allowed.then(|| {
            let (s, d, p) = paths
                .remove(&chosen)
                .expect("every decided backend has a path");
            self.new_connection(s, d, protocol, p, Some(service.clone()))
        });
        Ok(Opened {
            allowed: Some(decision.allowed),
            connection,
            refusal: decision.refusal.clone(),
            decision: Some(decision),
            backends: Some(decided),
            backend: Some(chosen),
        })
    }

    fn open_direct(
        &mut self,
        source: Endpoint,
        destination: Endpoint,
        protocol: Protocol,
        port: u16,
    ) -> Opened {
        let decision = self.decide(&source, &destination, protocol, port, None);
        let connection = decision
            .allowed
            .then(|| self.new_connection(source, destination, protocol, port, None));
        Opened {
            allowed: Some(decision.allowed),
            connection,
            refusal: decision.refusal.clone(),
            decision: Some(decision),
            ..Opened::default()
        }
    }

    // ----- the connection primitives --------------------------------------------------------

    /// `openPodConnection(sourcePod, destinationPod, protocol, port)`: opens a connection iff
    /// `allowNewConnectionToPod` and `allowNewConnectionFromPod` both allow it (rule 5.4), or
    /// it is exempt (rules 7.1, 7.5).
    pub fn open_pod_connection(
        &mut self,
        source: &PodId,
        destination: &PodId,
        protocol: Protocol,
        port: u16,
    ) -> Result<Opened, OpError> {
        let (s, d) = self.pod_pair(source, destination)?;
        Ok(self.open_direct(s, d, protocol, port))
    }

    /// `openServiceConnection(sourcePod, destinationService, protocol, port)`: translated to a
    /// backend pod and its target port, then decided as pod to pod (rules 6.1, 6.4).
    pub fn open_service_connection(
        &mut self,
        source: &PodId,
        service: &ServiceId,
        protocol: Protocol,
        port: u16,
        pick: Option<&PodId>,
    ) -> Result<Opened, OpError> {
        let src = self.pod_endpoint(source, None)?;
        let node = self.pod(source).and_then(|p| p.node.clone());
        self.open_through_service(src, false, node, service, protocol, port, pick)
    }

    /// `openConnectionWithIpAddresses(sourceDomain, sourceIp, destinationDomain,
    /// destinationIp, protocol, port)`: each address stands for its pod, node, Service or the
    /// outside; pod to pod checks both directions (rule 3.7, fixing the seed's one-way slip).
    pub fn open_connection_with_ip_addresses(
        &mut self,
        source: &Address,
        destination: &Address,
        protocol: Protocol,
        port: u16,
        pick: Option<&PodId>,
    ) -> Result<Opened, OpError> {
        let src = self.address_endpoint(source)?;
        let source_node = match &src {
            Endpoint::Pod { pod, .. } => self.pod(pod).and_then(|p| p.node.clone()),
            Endpoint::Node { node, .. } => Some(node.clone()),
            Endpoint::External { .. } => None,
        };
        if let Some(AddressOwner::Service { service, external }) =
            self.addresses().get(destination).cloned()
        {
            if !external && matches!(src, Endpoint::External { .. }) {
                if let Some(p) = pick {
                    return Err(not_a_backend(p, &service));
                }
                return Ok(Opened {
                    allowed: Some(false),
                    refusal: Some(Refusal::NotReachableFromOutside),
                    backends: Some(BTreeMap::new()),
                    ..Opened::default()
                });
            }
            return self.open_through_service(
                src,
                true,
                source_node,
                &service,
                protocol,
                port,
                pick,
            );
        }
        let dst = self.address_endpoint(destination)?;
        if src.pod().is_none() && dst.pod().is_none() {
            return Err(OpError::new(
                ErrorKind::NoPodEndpoint,
                format!("neither {source} nor {destination} is a pod address"),
            ));
        }
        Ok(self.open_direct(src, dst, protocol, port))
    }

    /// Rule 7.4: whether an open connection would still be allowed if opened now.
    pub(crate) fn recheck(&self, c: &crate::connection::Connection) -> bool {
        let exists = |e: &Endpoint| e.pod().is_none_or(|p| self.pod(p).is_some());
        exists(&c.source)
            && exists(&c.destination)
            && self
                .decide(
                    &c.source,
                    &c.destination,
                    c.protocol,
                    c.port,
                    c.service.as_ref(),
                )
                .allowed
    }
}

fn peer_end<'a>(party: &'a Party<'a>) -> PeerEnd<'a> {
    match party {
        Party::Pod {
            pod,
            namespace_labels,
            address,
        } => PeerEnd::Pod {
            pod,
            namespace_labels,
            address: *address,
        },
        Party::Node { address, .. } | Party::External { address } => PeerEnd::Address(*address),
    }
}

fn not_a_backend(pod: &PodId, service: &ServiceId) -> OpError {
    OpError::new(
        ErrorKind::NotABackend,
        format!("pod {pod} is not a possible backend of service {service}"),
    )
}
