//! Random scenarios: a profile and a sequence of operations over a small universe of names, so
//! that operations keep hitting the same pods, policies and addresses. Decoded from bytes with
//! `arbitrary`, so the same decoder serves proptest (shrinking the bytes), the fuzzers, and
//! seeds (VOPR style: a failure is a byte string to paste).

use arbitrary::{Arbitrary, Result, Unstructured};
use netsem_spec::net::{Address, PortRef, Protocol};
use netsem_spec::policy::{IpBlock, NetworkPolicy, Peer, PolicyPort, PolicyType, Rule};
use netsem_spec::profile::*;
use netsem_spec::{
    Attachment, ContainerPort, LabelSelector, Labels, Op, Operator, Pod, PodId, PodPhase, PolicyId,
    Requirement, Service, ServiceId, ServicePort, ServiceType, TrafficPolicy,
};
use std::net::IpAddr;

/// A profile and the operations to run under it.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The profile.
    pub profile: Profile,
    /// The operations.
    pub ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Scenario {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        scenario(u, 40)
    }
}

const NAMESPACES: [&str; 2] = ["ns-a", "ns-b"];
const PODS: [&str; 4] = ["p0", "p1", "p2", "p3"];
const SERVICES: [&str; 2] = ["s0", "s1"];
const POLICIES: [&str; 3] = ["np0", "np1", "np2"];
const KEYS: [&str; 3] = ["app", "tier", "team"];
const VALUES: [&str; 3] = ["web", "db", "ops"];
const PORT_NAMES: [&str; 3] = ["http", "dns", "metrics"];
const PORTS: [u16; 6] = [53, 80, 443, 8080, 8081, 9090];
const NODES: [&str; 2] = ["node-1", "node-2"];
const DOMAINS: [&str; 2] = ["default", "blue"];
const NETWORKS: [(&str, &str); 2] = [("default", "default"), ("net-blue", "blue")];

/// What the generator has created so far, so later operations mostly name existing objects.
#[derive(Default)]
struct Ctx {
    pods: Vec<PodId>,
    services: Vec<ServiceId>,
    addresses: Vec<Address>,
}

impl Ctx {
    fn pod(&self, u: &mut Unstructured) -> Result<PodId> {
        if !self.pods.is_empty() && u.ratio(5, 6)? {
            Ok(u.choose(&self.pods)?.clone())
        } else {
            pod_id(u)
        }
    }

    fn service(&self, u: &mut Unstructured) -> Result<ServiceId> {
        if !self.services.is_empty() && u.ratio(5, 6)? {
            Ok(u.choose(&self.services)?.clone())
        } else {
            service_id(u)
        }
    }

    fn address(&self, u: &mut Unstructured) -> Result<Address> {
        if !self.addresses.is_empty() && u.ratio(2, 3)? {
            Ok(u.choose(&self.addresses)?.clone())
        } else {
            address(u)
        }
    }

    fn note(&mut self, op: &Op) {
        match op {
            Op::AddPod {
                pod,
                addresses,
                attachments,
            } => {
                self.pods.push(pod.id.clone());
                self.addresses
                    .extend(addresses.iter().map(|ip| Address::default_domain(*ip)));
                for a in attachments {
                    let domain = if a.network == "net-blue" {
                        "blue"
                    } else {
                        "default"
                    };
                    self.addresses
                        .extend(a.addresses.iter().map(|ip| Address::new(domain, *ip)));
                }
            }
            Op::AddService {
                service,
                addresses,
                external_addresses,
            } => {
                self.services.push(service.id.clone());
                self.addresses
                    .extend(addresses.iter().chain(external_addresses).cloned());
            }
            Op::AddNode { addresses, .. } => self.addresses.extend(addresses.iter().cloned()),
            Op::RemovePod { pod } => self.pods.retain(|p| p != pod),
            Op::RemoveService { service } => self.services.retain(|s| s != service),
            Op::RemoveNamespace { name } => {
                self.pods.retain(|p| p.namespace != *name);
                self.services.retain(|s| s.namespace != *name);
            }
            _ => {}
        }
    }
}

fn pick<'a, T: Copy>(u: &mut Unstructured<'a>, items: &[T]) -> Result<T> {
    Ok(*u.choose(items)?)
}

fn pod_id(u: &mut Unstructured) -> Result<PodId> {
    Ok(PodId::new(pick(u, &NAMESPACES)?, pick(u, &PODS)?))
}

fn service_id(u: &mut Unstructured) -> Result<ServiceId> {
    Ok(ServiceId::new(pick(u, &NAMESPACES)?, pick(u, &SERVICES)?))
}

fn policy_id(u: &mut Unstructured) -> Result<PolicyId> {
    Ok(PolicyId::new(pick(u, &NAMESPACES)?, pick(u, &POLICIES)?))
}

fn ip(u: &mut Unstructured) -> Result<IpAddr> {
    Ok(match u.int_in_range(0..=9)? {
        0..=5 => IpAddr::from([10, 0, 0, u.int_in_range(1..=8)?]),
        6 => IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, u.int_in_range(1..=4)?]),
        7 => IpAddr::from([192, 0, 2, u.int_in_range(1..=3)?]),
        8 => IpAddr::from([172, 16, 0, u.int_in_range(1..=2)?]),
        _ => IpAddr::from([10, 96, 0, u.int_in_range(1..=3)?]),
    })
}

fn address(u: &mut Unstructured) -> Result<Address> {
    let domain = if u.ratio(1, 6)? { "blue" } else { "default" };
    Ok(Address::new(domain, ip(u)?))
}

fn labels(u: &mut Unstructured) -> Result<Labels> {
    let mut l = Labels::new();
    for k in KEYS {
        if u.ratio(1, 2)? {
            l.insert(k.to_string(), pick(u, &VALUES)?.to_string());
        }
    }
    Ok(l)
}

fn protocol(u: &mut Unstructured) -> Result<Protocol> {
    Ok(match u.int_in_range(0..=9)? {
        0..=5 => Protocol::Tcp,
        6..=7 => Protocol::Udp,
        8 => Protocol::Sctp,
        _ => Protocol::Other(1),
    })
}

fn ported(u: &mut Unstructured) -> Result<Protocol> {
    pick(u, &Protocol::PORTED)
}

fn selector(u: &mut Unstructured) -> Result<LabelSelector> {
    let mut s = LabelSelector::default();
    for _ in 0..u.int_in_range(0..=2)? {
        if u.ratio(1, 2)? {
            s.match_labels
                .insert(pick(u, &KEYS)?.into(), pick(u, &VALUES)?.into());
        } else {
            let operator = pick(
                u,
                &[
                    Operator::In,
                    Operator::NotIn,
                    Operator::Exists,
                    Operator::DoesNotExist,
                ],
            )?;
            let values = match operator {
                Operator::In | Operator::NotIn => {
                    let mut v = std::collections::BTreeSet::from([pick(u, &VALUES)?.to_string()]);
                    if u.ratio(1, 3)? {
                        v.insert(pick(u, &VALUES)?.to_string());
                    }
                    v
                }
                _ => Default::default(),
            };
            s.match_expressions.push(Requirement {
                key: pick(u, &KEYS)?.into(),
                operator,
                values,
            });
        }
    }
    Ok(s)
}

fn namespace_selector(u: &mut Unstructured) -> Result<LabelSelector> {
    if u.ratio(1, 3)? {
        Ok(LabelSelector::from_labels([(
            "kubernetes.io/metadata.name",
            pick(u, &NAMESPACES)?,
        )]))
    } else {
        selector(u)
    }
}

fn cidr(u: &mut Unstructured) -> Result<IpBlock> {
    let (cidr, excepts): (&str, &[&str]) = pick(
        u,
        &[
            ("10.0.0.0/24", &["10.0.0.0/30", "10.0.0.4/31"][..]),
            ("10.0.0.0/8", &["10.0.0.0/16"][..]),
            ("0.0.0.0/0", &["10.0.0.0/8", "192.0.2.0/24"][..]),
            ("192.0.2.0/24", &["192.0.2.2/32"][..]),
            ("172.16.0.0/12", &[][..]),
            ("fd00::/64", &["fd00::2/127"][..]),
            ("::/0", &[][..]),
        ],
    )?;
    let mut except = Vec::new();
    for e in excepts {
        if u.ratio(1, 2)? {
            except.push(e.parse().expect("valid literal"));
        }
    }
    Ok(IpBlock {
        cidr: cidr.parse().expect("valid literal"),
        except,
    })
}

fn peer(u: &mut Unstructured) -> Result<Peer> {
    Ok(match u.int_in_range(0..=3)? {
        0 => Peer::Pods {
            namespace_selector: None,
            pod_selector: Some(selector(u)?),
        },
        1 => Peer::Pods {
            namespace_selector: Some(namespace_selector(u)?),
            pod_selector: None,
        },
        2 => Peer::Pods {
            namespace_selector: Some(namespace_selector(u)?),
            pod_selector: Some(selector(u)?),
        },
        _ => Peer::IpBlock(cidr(u)?),
    })
}

fn policy_port(u: &mut Unstructured) -> Result<PolicyPort> {
    let protocol = ported(u)?;
    let (port, end_port) = match u.int_in_range(0..=4)? {
        0 => (None, None),
        1 | 2 => (Some(PortRef::Number(pick(u, &PORTS)?)), None),
        3 => {
            let p = pick(u, &PORTS)?;
            (
                Some(PortRef::Number(p)),
                Some(p.saturating_add(u.int_in_range(0..=2000)?)),
            )
        }
        _ => (Some(PortRef::Name(pick(u, &PORT_NAMES)?.into())), None),
    };
    Ok(PolicyPort {
        protocol,
        port,
        end_port,
    })
}

fn rule(u: &mut Unstructured) -> Result<Rule> {
    let mut r = Rule::default();
    for _ in 0..u.int_in_range(0..=2)? {
        r.ports.push(policy_port(u)?);
    }
    for _ in 0..u.int_in_range(0..=2)? {
        r.peers.push(peer(u)?);
    }
    Ok(r)
}

/// A random, valid NetworkPolicy.
pub fn policy(u: &mut Unstructured, id: PolicyId) -> Result<NetworkPolicy> {
    let policy_types = match u.int_in_range(0..=4)? {
        0 => None,
        1 => Some(vec![]),
        2 => Some(vec![PolicyType::Ingress]),
        3 => Some(vec![PolicyType::Egress]),
        _ => Some(vec![PolicyType::Ingress, PolicyType::Egress]),
    };
    let mut p = NetworkPolicy {
        id,
        pod_selector: selector(u)?,
        policy_types,
        ingress: Vec::new(),
        egress: Vec::new(),
    };
    for _ in 0..u.int_in_range(0..=2)? {
        p.ingress.push(rule(u)?);
    }
    for _ in 0..u.int_in_range(0..=2)? {
        p.egress.push(rule(u)?);
    }
    Ok(p)
}

fn pod(u: &mut Unstructured) -> Result<(Pod, Vec<IpAddr>, Vec<Attachment>)> {
    let mut pod = Pod::new(pod_id(u)?, labels(u)?);
    pod.node = if u.ratio(4, 5)? {
        Some(pick(u, &NODES)?.into())
    } else {
        None
    };
    pod.host_network = u.ratio(1, 12)?;
    pod.phase = if u.ratio(1, 10)? {
        pick(
            u,
            &[PodPhase::Pending, PodPhase::Succeeded, PodPhase::Failed],
        )?
    } else {
        PodPhase::Running
    };
    pod.ready = !u.ratio(1, 10)?;
    for _ in 0..u.int_in_range(0..=3)? {
        pod.ports.push(ContainerPort {
            name: if u.ratio(2, 3)? {
                Some(pick(u, &PORT_NAMES)?.into())
            } else {
                None
            },
            port: pick(u, &PORTS)?,
            protocol: ported(u)?,
        });
    }
    let mut addresses = Vec::new();
    if !pod.host_network {
        for _ in 0..u.int_in_range(0..=2)? {
            addresses.push(ip(u)?);
        }
    }
    let mut attachments = Vec::new();
    if u.ratio(1, 6)? {
        let (network, _) = pick(u, &NETWORKS)?;
        attachments.push(Attachment {
            interface: "net1".into(),
            network: network.into(),
            addresses: vec![ip(u)?],
        });
    }
    Ok((pod, addresses, attachments))
}

fn service(u: &mut Unstructured) -> Result<(Service, Vec<Address>, Vec<Address>)> {
    let selector = if u.ratio(3, 4)? {
        Some(labels(u)?)
    } else {
        None
    };
    let mut ports = Vec::new();
    for _ in 0..u.int_in_range(1..=2)? {
        ports.push(ServicePort {
            name: None,
            protocol: ported(u)?,
            port: pick(u, &PORTS)?,
            target_port: if u.ratio(1, 3)? {
                PortRef::Name(pick(u, &PORT_NAMES)?.into())
            } else {
                PortRef::Number(pick(u, &PORTS)?)
            },
        });
    }
    let mut s = Service::new(service_id(u)?, selector, ports);
    s.service_type = if u.ratio(1, 10)? {
        ServiceType::ExternalName
    } else {
        ServiceType::ClusterIP
    };
    s.headless = u.ratio(1, 10)?;
    s.internal_traffic_policy = if u.ratio(1, 6)? {
        TrafficPolicy::Local
    } else {
        TrafficPolicy::Cluster
    };
    s.publish_not_ready_addresses = u.ratio(1, 6)?;
    let addresses = if u.ratio(3, 4)? {
        vec![Address::default_domain(ip(u)?)]
    } else {
        vec![]
    };
    let external = if u.ratio(1, 5)? {
        vec![Address::default_domain(ip(u)?)]
    } else {
        vec![]
    };
    Ok((s, addresses, external))
}

/// A random profile: every switch independently.
pub fn profile(u: &mut Unstructured) -> Result<Profile> {
    Ok(Profile {
        pod_to_self: pick(u, &[PodToSelf::Allowed, PodToSelf::PolicyChecked])?,
        service_hairpin: pick(u, &[ServiceHairpin::Allowed, ServiceHairpin::PolicyChecked])?,
        ip_block_pods: pick(
            u,
            &[IpBlockPods::MatchPodAddresses, IpBlockPods::ExternalOnly],
        )?,
        established: pick(u, &[Established::Keep, Established::Recheck])?,
        node_traffic: pick(u, &[NodeTraffic::AlwaysAllowed, NodeTraffic::PolicyChecked])?,
        host_network: pick(u, &[HostNetwork::AsNode, HostNetwork::AsPod])?,
        other_protocols: pick(
            u,
            &[
                OtherProtocols::RulesWithoutPorts,
                OtherProtocols::Denied,
                OtherProtocols::Allowed,
            ],
        )?,
        named_port_conflict: pick(
            u,
            &[NamedPortConflict::AnyMatch, NamedPortConflict::FirstOnly],
        )?,
        multi_network: pick(u, &[MultiNetwork::Type1, MultiNetwork::Type2])?,
    })
}

/// One random operation. Connection operations are weighted up: they are what is judged.
fn op(u: &mut Unstructured, c: &Ctx) -> Result<Op> {
    let port = |u: &mut Unstructured| -> Result<u16> {
        if u.ratio(1, 8)? {
            u.int_in_range(1..=65535)
        } else {
            pick(u, &PORTS)
        }
    };
    Ok(match u.int_in_range(0..=39)? {
        0..=2 | 40.. => {
            let (pod, addresses, attachments) = pod(u)?;
            Op::AddPod {
                pod,
                addresses,
                attachments,
            }
        }
        6 => Op::RemovePod { pod: c.pod(u)? },
        7..=8 => Op::SetPodLabels {
            pod: c.pod(u)?,
            labels: labels(u)?,
        },
        9 => Op::AddNamespace {
            name: pick(u, &NAMESPACES)?.into(),
            labels: labels(u)?,
        },
        10 => Op::SetNamespaceLabels {
            name: pick(u, &NAMESPACES)?.into(),
            labels: labels(u)?,
        },
        11 if u.ratio(1, 3)? => Op::RemoveNamespace {
            name: pick(u, &NAMESPACES)?.into(),
        },
        11 => Op::SetPodLabels {
            pod: c.pod(u)?,
            labels: labels(u)?,
        },
        12..=14 => {
            let id = policy_id(u)?;
            Op::AddNetworkPolicy {
                policy: policy(u, id)?,
            }
        }
        15 => {
            let id = policy_id(u)?;
            Op::UpdateNetworkPolicy {
                policy: policy(u, id)?,
            }
        }
        16 => Op::RemoveNetworkPolicy {
            policy: policy_id(u)?,
        },
        17 => {
            let (service, addresses, external_addresses) = service(u)?;
            Op::AddService {
                service,
                addresses,
                external_addresses,
            }
        }
        18 => Op::RemoveService {
            service: c.service(u)?,
        },
        19 => Op::AddPod2ServiceMapping {
            pod: c.pod(u)?,
            service: c.service(u)?,
        },
        20 => Op::AddNode {
            name: pick(u, &NODES)?.into(),
            labels: Labels::new(),
            addresses: vec![Address::default_domain(ip(u)?)],
        },
        21 => match u.int_in_range(0..=3)? {
            0 => Op::AddIpAddressDomain {
                name: pick(u, &DOMAINS)?.into(),
            },
            1 => {
                let (name, domain) = pick(u, &NETWORKS)?;
                Op::AddNetwork {
                    name: name.into(),
                    domain: domain.into(),
                }
            }
            2 => Op::AddExternalEntity {
                name: "partner".into(),
                addresses: vec![c.address(u)?],
            },
            _ => Op::RemoveNode {
                name: pick(u, &NODES)?.into(),
            },
        },
        22 => Op::AddAddress2PodMapping {
            address: c.address(u)?,
            pod: c.pod(u)?,
            interface: None,
            network: None,
        },
        23 => Op::ClosePodConnection {
            connection: u.int_in_range(0..=6)?,
        },
        3..=5 | 24..=29 => Op::OpenPodConnection {
            from: c.pod(u)?,
            to: c.pod(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
        30..=32 => Op::OpenServiceConnection {
            from: c.pod(u)?,
            service: c.service(u)?,
            protocol: ported(u)?,
            port: port(u)?,
            backend: if u.ratio(1, 2)? {
                Some(c.pod(u)?)
            } else {
                None
            },
        },
        33..=35 => Op::OpenConnectionWithIpAddresses {
            from: c.address(u)?,
            to: c.address(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
            backend: if u.ratio(1, 3)? {
                Some(c.pod(u)?)
            } else {
                None
            },
        },
        36 => Op::AllowNewConnectionToPod {
            from: c.pod(u)?,
            to: c.pod(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
        37 => Op::AllowNewConnectionFromPod {
            from: c.pod(u)?,
            to: c.pod(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
        38 => Op::AllowNewConnectionFromIpAddress {
            from: c.address(u)?,
            to: c.pod(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
        _ => Op::AllowNewConnectionToIpAddress {
            from: c.pod(u)?,
            to: c.address(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
    })
}

/// A prologue that builds a populated cluster (pods, a service, policies), so that the random
/// operations after it mostly meet objects that exist.
fn prologue(u: &mut Unstructured, ops: &mut Vec<Op>, c: &mut Ctx) -> Result<()> {
    for _ in 0..u.int_in_range(3..=8)? {
        let (mut pod, mut addresses, attachments) = pod(u)?;
        // Mostly running pods with an address, so that most connections are decided by policy.
        if u.ratio(3, 4)? {
            pod.phase = PodPhase::Running;
            pod.ready = true;
            if addresses.is_empty() && !pod.host_network {
                addresses.push(ip(u)?);
            }
        }
        let op = Op::AddPod {
            pod,
            addresses,
            attachments,
        };
        c.note(&op);
        ops.push(op);
    }
    for _ in 0..u.int_in_range(0..=2)? {
        let (service, addresses, external_addresses) = service(u)?;
        let op = Op::AddService {
            service,
            addresses,
            external_addresses,
        };
        c.note(&op);
        ops.push(op);
    }
    for _ in 0..u.int_in_range(1..=3)? {
        let id = policy_id(u)?;
        ops.push(Op::AddNetworkPolicy {
            policy: policy(u, id)?,
        });
    }
    Ok(())
}

/// A scenario of at most `max_ops` operations after a prologue; a short input gives a short
/// scenario.
pub fn scenario(u: &mut Unstructured, max_ops: usize) -> Result<Scenario> {
    let profile = profile(u)?;
    let mut ops = Vec::new();
    let mut c = Ctx::default();
    prologue(u, &mut ops, &mut c)?;
    while ops.len() < max_ops && !u.is_empty() {
        let o = op(u, &c)?;
        c.note(&o);
        ops.push(o);
    }
    Ok(Scenario { profile, ops })
}

/// Decodes a scenario from bytes; running out of bytes ends the scenario early.
pub fn scenario_from_bytes(bytes: &[u8], max_ops: usize) -> Scenario {
    let mut u = Unstructured::new(bytes);
    let profile = profile(&mut u).unwrap_or_default();
    let mut ops = Vec::new();
    // Running out of bytes in the prologue keeps what was built.
    let mut c = Ctx::default();
    let _ = prologue(&mut u, &mut ops, &mut c);
    while ops.len() < max_ops && !u.is_empty() {
        match op(&mut u, &c) {
            Ok(o) => {
                c.note(&o);
                ops.push(o)
            }
            Err(_) => break,
        }
    }
    Scenario { profile, ops }
}
