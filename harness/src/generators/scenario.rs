//! Random scenarios: a profile and a sequence of trace operations over a small universe of
//! names, so that operations keep hitting the same pods, Services, policies and addresses.
//!
//! Decoded from bytes with `arbitrary`, so the same decoder serves proptest (which shrinks the
//! bytes), the fuzz targets (typed `Arbitrary` input) and replays (a failure prints its bytes as
//! `NETSEM_SCENARIO=<hex>`, VOPR style). Every trace operation is generated —
//! [`tests::every_operation_is_generated`] fails when one is added and not generated — and
//! Services are built from the generated pods: their selectors from pod labels, their target
//! ports from the pods' container ports, and clients connect on the Service's own ports.

use super::admin::{
    admin_manifest, admin_policy_id, cluster_network_policy, known_admin_policy_id,
};
use arbitrary::{Arbitrary, Result, Unstructured};
use netsem_spec::net::NetworkRole;
use netsem_spec::net::{Address, PortRef, Protocol};
use netsem_spec::policy::{
    IpBlock, MultiNetworkPolicy, NetworkPolicy, Peer, PolicyPort, PolicyType, Rule,
};
use netsem_spec::profile::{Profile, SWITCHES};
use netsem_spec::service::EndpointFacts;
use netsem_spec::{
    Attachment, ContainerPort, Engine, LabelSelector, Labels, Op, Operator, Pod, PodId, PodPhase,
    PolicyId, Requirement, Service, ServiceId, ServicePort, ServiceType, SpecEngine, TrafficPolicy,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

/// A profile and the operations to run under it.
#[derive(Clone, PartialEq)]
pub struct Scenario {
    /// The profile.
    pub profile: Profile,
    /// The operations.
    pub ops: Vec<Op>,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Scenario {{ profile: {}, ops: {} }}",
            self.profile,
            netsem_spec::trace::to_json(&self.ops)
        )
    }
}

/// The longest scenario the fuzz targets build from their typed input.
pub const MAX_OPS: usize = 60;

impl<'a> Arbitrary<'a> for Scenario {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(scenario(u, MAX_OPS))
    }
}

const NAMESPACES: [&str; 2] = ["ns-a", "ns-b"];
const PODS: [&str; 4] = ["p0", "p1", "p2", "p3"];
const SERVICES: [&str; 2] = ["s0", "s1"];
const POLICIES: [&str; 3] = ["np0", "np1", "np2"];
/// Label keys of every shape the API accepts: plain, upper case, dotted and prefixed.
const KEYS: [&str; 4] = ["app", "Tier", "example.com/team", "role.v1"];
/// Label values of every shape the API accepts, the empty value included.
const VALUES: [&str; 4] = ["web", "DB", "ops-1", ""];
pub(super) const PORT_NAMES: [&str; 3] = ["http", "dns", "metrics"];
pub(super) const PORTS: [u16; 6] = [53, 80, 443, 8080, 8081, 9090];
const NODES: [&str; 2] = ["node-1", "node-2"];
const DOMAINS: [&str; 3] = ["default", "blue", "red"];
/// The networks: the cluster network, a secondary (Multus) network and a primary user-defined
/// network in domains of their own (rules 8.7, 8.11).
const NETWORKS: [(&str, &str, NetworkRole); 3] = [
    ("default", "default", NetworkRole::Primary),
    ("net-blue", "blue", NetworkRole::Secondary),
    ("udn-red", "red", NetworkRole::Primary),
];
const ENTITIES: [&str; 2] = ["partner", "vault"];

/// What the generator has built so far, so later operations mostly name objects that exist:
/// the generator runs every operation it emits on its own spec engine and draws names, labels,
/// ports and addresses from that state.
struct Ctx {
    spec: SpecEngine,
    /// Fresh addresses handed out so far (for pods that should not collide).
    fresh: u32,
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::new(Profile::default())
    }
}

impl Ctx {
    fn new(profile: Profile) -> Self {
        Ctx {
            spec: SpecEngine::new(profile),
            fresh: 0,
        }
    }

    fn state(&self) -> &netsem_spec::State {
        &self.spec.state
    }

    fn pods(&self) -> Vec<&Pod> {
        self.state().pods().collect()
    }

    fn pod(&self, u: &mut Unstructured) -> Result<PodId> {
        let pods = self.pods();
        if !pods.is_empty() && u.ratio(5, 6)? {
            Ok(u.choose(&pods)?.id.clone())
        } else {
            pod_id(u)
        }
    }

    fn service(&self, u: &mut Unstructured) -> Result<ServiceId> {
        let services: Vec<&Service> = self.state().services().collect();
        // Mostly one with backends, so that connections through it are decided by policy.
        let serving: Vec<&Service> = services
            .iter()
            .copied()
            .filter(|s| {
                self.state()
                    .lookup_service_2_pod_mappings(&s.id)
                    .is_ok_and(|m| !m.is_empty())
            })
            .collect();
        if !serving.is_empty() && u.ratio(3, 4)? {
            Ok(u.choose(&serving)?.id.clone())
        } else if !services.is_empty() && u.ratio(5, 6)? {
            Ok(u.choose(&services)?.id.clone())
        } else {
            service_id(u)
        }
    }

    fn policy(&self, u: &mut Unstructured) -> Result<PolicyId> {
        let known: Vec<&NetworkPolicy> = self.state().policies().collect();
        if !known.is_empty() && u.ratio(4, 5)? {
            Ok(u.choose(&known)?.id.clone())
        } else {
            policy_id(u)
        }
    }

    fn multi_policy(&self, u: &mut Unstructured) -> Result<PolicyId> {
        let known: Vec<&MultiNetworkPolicy> = self.state().multi_network_policies().collect();
        if !known.is_empty() && u.ratio(4, 5)? {
            Ok(u.choose(&known)?.id.clone())
        } else {
            policy_id(u)
        }
    }

    fn address(&self, u: &mut Unstructured) -> Result<Address> {
        let known: Vec<&Address> = self.state().addresses().keys().collect();
        if !known.is_empty() && u.ratio(2, 3)? {
            Ok((*u.choose(&known)?).clone())
        } else {
            address(u)
        }
    }

    /// The Service addresses that exist, with their Service.
    fn service_addresses(&self) -> Vec<(Address, ServiceId)> {
        self.state()
            .addresses()
            .iter()
            .filter_map(|(a, o)| match o {
                netsem_spec::AddressOwner::Service { service, .. } => {
                    Some((a.clone(), service.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// An address no pod has been given yet, so that pods mostly get added.
    fn fresh_ip(&mut self) -> IpAddr {
        self.fresh += 1;
        IpAddr::from([10, 0, 1 + (self.fresh >> 8) as u8, self.fresh as u8])
    }

    /// A port a client would use for `service`: mostly one of its own ports.
    fn service_port(&self, u: &mut Unstructured, service: &ServiceId) -> Result<(Protocol, u16)> {
        let ports = self
            .state()
            .service(service)
            .map(|s| s.ports.as_slice())
            .unwrap_or_default();
        if !ports.is_empty() && u.ratio(7, 8)? {
            let p = u.choose(ports)?;
            Ok((p.protocol, p.port))
        } else {
            Ok((ported(u)?, pick(u, &PORTS)?))
        }
    }

    /// A pod mapped to the Service, for `backend:`, or now and then any pod.
    fn backend(&self, u: &mut Unstructured, service: &ServiceId) -> Result<Option<PodId>> {
        if u.ratio(1, 3)? {
            return Ok(None);
        }
        let mapped: Vec<PodId> = self
            .state()
            .lookup_service_2_pod_mappings(service)
            .unwrap_or_default()
            .into_iter()
            .collect();
        if !mapped.is_empty() && u.ratio(4, 5)? {
            Ok(Some(u.choose(&mapped)?.clone()))
        } else {
            Ok(Some(self.pod(u)?))
        }
    }

    fn connections(&self) -> u64 {
        self.state()
            .connections()
            .keys()
            .max()
            .copied()
            .unwrap_or(0)
    }

    fn note(&mut self, op: &Op) {
        self.spec.execute(op);
    }
}

pub(super) fn pick<T: Copy>(u: &mut Unstructured<'_>, items: &[T]) -> Result<T> {
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
    let domain = match u.int_in_range(0..=11)? {
        0 | 1 => "blue",
        2 => "red",
        _ => "default",
    };
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

fn port(u: &mut Unstructured) -> Result<u16> {
    if u.ratio(1, 8)? {
        u.int_in_range(1..=65535)
    } else {
        pick(u, &PORTS)
    }
}

pub(super) fn selector(u: &mut Unstructured) -> Result<LabelSelector> {
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
                    let mut v = BTreeSet::from([pick(u, &VALUES)?.to_string()]);
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

pub(super) fn namespace_selector(u: &mut Unstructured) -> Result<LabelSelector> {
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

/// A random, valid MultiNetworkPolicy on some of the networks (rule 8.8): the NetworkPolicy
/// spec of [`policy`], filtering the networks it names.
pub fn multi_policy(u: &mut Unstructured, id: PolicyId) -> Result<MultiNetworkPolicy> {
    let p = policy(u, id)?;
    let mut networks: Vec<String> = NETWORKS
        .iter()
        .filter(|_| u.ratio(1, 2).unwrap_or(false))
        .map(|(n, _, _)| n.to_string())
        .collect();
    if networks.is_empty() {
        networks.push("net-blue".into());
    }
    Ok(MultiNetworkPolicy {
        id: p.id,
        networks,
        pod_selector: p.pod_selector,
        policy_types: p.policy_types,
        ingress: p.ingress,
        egress: p.egress,
    })
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
    pod.terminating = u.ratio(1, 10)?;
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
    // Now and then a pod on a primary user-defined network: its eth0 is there (rule 8.11).
    if !pod.host_network && u.ratio(1, 10)? {
        addresses.clear();
        attachments.push(Attachment {
            interface: "eth0".into(),
            network: "udn-red".into(),
            addresses: vec![ip(u)?],
        });
    }
    if u.ratio(1, 4)? {
        let (network, _, _) = pick(u, &NETWORKS)?;
        attachments.push(Attachment {
            interface: "net1".into(),
            network: network.into(),
            addresses: vec![ip(u)?],
        });
    }
    Ok((pod, addresses, attachments))
}

/// A Service built from the generated pods: its selector is (part of) a pod's labels, its
/// target ports that pod's container ports by number or name, so that connections through it
/// reach backends.
fn service(u: &mut Unstructured, c: &Ctx) -> Result<(Service, Vec<Address>, Vec<Address>)> {
    // Mostly a pod that can be a backend: running, ready, with labels and an address.
    let all = c.pods();
    let eligible: Vec<&Pod> = all
        .iter()
        .copied()
        .filter(|p| {
            p.is_live()
                && p.ready
                && !p.labels.is_empty()
                && !c.state().primary_addresses(&p.id).is_empty()
        })
        .collect();
    let pods = if eligible.is_empty() || u.ratio(1, 6)? {
        all
    } else {
        eligible
    };
    let model: Option<(PodId, Labels, Vec<ContainerPort>)> =
        if !pods.is_empty() && u.ratio(9, 10)? {
            let p = u.choose(&pods)?;
            Some((p.id.clone(), p.labels.clone(), p.ports.clone()))
        } else {
            None
        };
    let id = match &model {
        Some((pod, _, _)) if u.ratio(5, 6)? => {
            ServiceId::new(pod.namespace.clone(), pick(u, &SERVICES)?)
        }
        _ => service_id(u)?,
    };
    let selector = match &model {
        Some((_, labels, _)) if u.ratio(9, 10)? && !labels.is_empty() => {
            // Mostly one label, so that several pods are backends; else a few.
            let keys: Vec<&String> = labels.keys().collect();
            let sel: Labels = if u.ratio(2, 3)? {
                let k = *u.choose(&keys)?;
                Labels::from([(k.clone(), labels[k].clone())])
            } else {
                labels
                    .iter()
                    .filter(|_| u.ratio(1, 2).unwrap_or(true))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            };
            Some(if sel.is_empty() { labels.clone() } else { sel })
        }
        _ if u.ratio(1, 4)? => None,
        _ => Some(labels(u)?),
    };
    let mut ports = Vec::new();
    for i in 0..u.int_in_range(1..=2)? {
        let container = model
            .as_ref()
            .map(|(_, _, p)| p.as_slice())
            .filter(|p| !p.is_empty());
        let (protocol, target_port) = match container {
            Some(cps) if u.ratio(4, 5)? => {
                let cp = u.choose(cps)?;
                let target = match &cp.name {
                    Some(name) if u.ratio(1, 2)? => PortRef::Name(name.clone()),
                    _ => PortRef::Number(cp.port),
                };
                (cp.protocol, target)
            }
            _ => (
                ported(u)?,
                if u.ratio(1, 3)? {
                    PortRef::Name(pick(u, &PORT_NAMES)?.into())
                } else {
                    PortRef::Number(pick(u, &PORTS)?)
                },
            ),
        };
        let port = pick(u, &PORTS)?;
        // The API server rejects two ports with one number and protocol.
        if !ports
            .iter()
            .any(|p: &ServicePort| p.protocol == protocol && p.port == port)
        {
            ports.push(ServicePort {
                name: Some(format!("p{i}")),
                protocol,
                port,
                target_port,
                node_port: None,
            });
        }
    }
    let mut s = Service::new(id, selector, ports);
    s.service_type = if u.ratio(1, 12)? {
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
    super::services::service_path(u, &mut s, &external)?;
    Ok((s, addresses, external))
}

/// A random profile: every switch of the one switch table, independently.
pub fn profile(u: &mut Unstructured) -> Result<Profile> {
    let mut p = Profile::default();
    for switch in SWITCHES {
        let values = (switch.values)();
        let value = u.choose(&values)?;
        (switch.set)(&mut p, value);
    }
    Ok(p)
}

/// A manifest for an `apply` or `delete` step: a namespace, a pod, a Service or a policy of
/// the scenario's universe of names, as Kubernetes YAML.
fn manifest(u: &mut Unstructured, c: &Ctx) -> Result<String> {
    let doc: Value = match u.int_in_range(0..=4)? {
        4 => {
            let id = known_admin_policy_id(u, c.state())?;
            admin_manifest(&cluster_network_policy(u, id)?)
        }
        0 => namespace_manifest(pick(u, &NAMESPACES)?, &labels(u)?),
        1 => {
            let (pod, addresses, _) = pod(u)?;
            pod_manifest(&pod, &addresses)
        }
        2 => {
            let (svc, addresses, _) = service(u, c)?;
            service_manifest(&svc, addresses.first().map(|a| a.ip))
        }
        _ => {
            let id = c.policy(u)?;
            policy_manifest(&policy(u, id)?)
        }
    };
    Ok(serde_saphyr_free_yaml(&doc))
}

/// JSON is YAML: manifests are written as JSON text, so no YAML writer is needed.
fn serde_saphyr_free_yaml(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).expect("a manifest serializes")
}

/// A Namespace as the `v1` object it stands for.
pub fn namespace_manifest(name: &str, labels: &Labels) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": labels},
    })
}

/// A Pod as the `v1` object it stands for, its addresses as `status.podIPs`.
pub fn pod_manifest(pod: &Pod, addresses: &[IpAddr]) -> Value {
    let ports: Vec<Value> = pod
        .ports
        .iter()
        .map(|p| {
            let mut v = json!({"containerPort": p.port, "protocol": p.protocol.to_string()});
            if let Some(n) = &p.name {
                v["name"] = json!(n);
            }
            v
        })
        .collect();
    let mut status = json!({"phase": format!("{:?}", pod.phase)});
    if !addresses.is_empty() {
        status["podIPs"] = json!(addresses
            .iter()
            .map(|ip| json!({"ip": ip.to_string()}))
            .collect::<Vec<_>>());
    }
    // One container per port: port names are unique within a container only.
    let mut containers: Vec<Value> = ports
        .into_iter()
        .enumerate()
        .map(|(i, p)| json!({"name": format!("c{i}"), "image": "app", "ports": [p]}))
        .collect();
    if containers.is_empty() {
        containers.push(json!({"name": "c", "image": "app"}));
    }
    let mut spec = json!({"containers": containers});
    if let Some(node) = &pod.node {
        spec["nodeName"] = json!(node);
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod.id.name, "namespace": pod.id.namespace, "labels": pod.labels},
        "spec": spec, "status": status,
    })
}

/// A Service as the `v1` object it stands for, with `cluster_ip` as `spec.clusterIP`.
pub fn service_manifest(svc: &Service, cluster_ip: Option<IpAddr>) -> Value {
    let ports: Vec<Value> = svc
        .ports
        .iter()
        .map(|p| {
            json!({"name": p.name, "port": p.port, "protocol": p.protocol.to_string(),
            "targetPort": match &p.target_port {
                PortRef::Number(n) => json!(n),
                PortRef::Name(s) => json!(s),
            }})
        })
        .collect();
    let mut spec = json!({"ports": ports});
    if let Some(sel) = &svc.selector {
        spec["selector"] = json!(sel);
    }
    if let Some(ip) = cluster_ip {
        spec["clusterIP"] = json!(ip.to_string());
    }
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": svc.id.name, "namespace": svc.id.namespace},
        "spec": spec,
    })
}

/// A NetworkPolicy as the `networking.k8s.io/v1` object it stands for.
pub fn policy_manifest(p: &NetworkPolicy) -> Value {
    let rules = |rules: &[Rule], peers: &str| -> Vec<Value> {
        rules
            .iter()
            .map(|r| {
                let mut v = serde_json::Map::new();
                if !r.ports.is_empty() {
                    v.insert("ports".into(), json!(r.ports));
                }
                if !r.peers.is_empty() {
                    v.insert(peers.into(), json!(r.peers));
                }
                Value::Object(v)
            })
            .collect()
    };
    let mut spec = json!({"podSelector": p.pod_selector});
    if let Some(t) = &p.policy_types {
        spec["policyTypes"] = json!(t);
    }
    if !p.ingress.is_empty() {
        spec["ingress"] = json!(rules(&p.ingress, "from"));
    }
    if !p.egress.is_empty() {
        spec["egress"] = json!(rules(&p.egress, "to"));
    }
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": p.id.name, "namespace": p.id.namespace},
        "spec": spec,
    })
}

/// One random operation. Every operation of the trace format has its arm; connection
/// operations are weighted up, since they are what is judged.
fn op(u: &mut Unstructured, c: &mut Ctx) -> Result<Op> {
    Ok(match u.int_in_range(0..=78)? {
        75..=78 => {
            let from = c.address(u)?;
            super::services::entry_op(u, c.state(), from)?
        }
        67..=70 => {
            let from = c.address(u)?;
            super::services::op(u, c.state(), from)?
        }
        64 | 65 => {
            let id = known_admin_policy_id(u, c.state())?;
            let policy = cluster_network_policy(u, id)?;
            if c.state().admin_policy(&policy.id()).is_some() && u.ratio(2, 3)? {
                Op::UpdateClusterNetworkPolicy { policy }
            } else {
                Op::AddClusterNetworkPolicy { policy }
            }
        }
        66 => Op::RemoveClusterNetworkPolicy {
            policy: known_admin_policy_id(u, c.state())?,
        },
        0..=2 => {
            let (pod, mut addresses, attachments) = pod(u)?;
            if !pod.host_network && u.ratio(1, 2)? {
                addresses.retain(|a| a.is_ipv6());
                addresses.insert(0, c.fresh_ip());
            }
            Op::AddPod {
                pod,
                addresses,
                attachments,
            }
        }
        3 => Op::RemovePod { pod: c.pod(u)? },
        4 | 5 => {
            let pod = c.pod(u)?;
            // Mostly a change of one label, as a rollout makes; now and then all new labels.
            let mut labels = match c.state().pod(&pod) {
                Some(p) if u.ratio(3, 4)? => p.labels.clone(),
                _ => Labels::new(),
            };
            labels.insert(pick(u, &KEYS)?.into(), pick(u, &VALUES)?.into());
            Op::SetPodLabels { pod, labels }
        }
        6 => Op::AddNamespace {
            name: pick(u, &NAMESPACES)?.into(),
            labels: labels(u)?,
        },
        7 => Op::SetNamespaceLabels {
            name: pick(u, &NAMESPACES)?.into(),
            labels: labels(u)?,
        },
        8 if u.ratio(1, 2)? => Op::RemoveNamespace {
            name: pick(u, &NAMESPACES)?.into(),
        },
        8 => Op::SetNamespaceLabels {
            name: pick(u, &NAMESPACES)?.into(),
            labels: labels(u)?,
        },
        9 | 10 => {
            let id = c.policy(u)?;
            Op::AddNetworkPolicy {
                policy: policy(u, id)?,
            }
        }
        11 => {
            let id = c.policy(u)?;
            Op::UpdateNetworkPolicy {
                policy: policy(u, id)?,
            }
        }
        12 => Op::RemoveNetworkPolicy {
            policy: c.policy(u)?,
        },
        13 | 14 => {
            let (service, addresses, external_addresses) = service(u, c)?;
            Op::AddService {
                service,
                addresses,
                external_addresses,
            }
        }
        15 => Op::RemoveService {
            service: c.service(u)?,
        },
        16 => Op::AddPod2ServiceMapping {
            pod: c.pod(u)?,
            service: c.service(u)?,
            endpoint: endpoint_facts(u)?,
        },
        17 => Op::RemovePod2ServiceMapping {
            pod: c.pod(u)?,
            service: c.service(u)?,
        },
        18 => Op::RemovePod2ServiceMappings { pod: c.pod(u)? },
        19 => Op::RemoveService2PodMappings {
            service: c.service(u)?,
        },
        20 => Op::LookupPod2ServiceMappings { pod: c.pod(u)? },
        21 => Op::LookupService2PodMappings {
            service: c.service(u)?,
        },
        22 => {
            let mut labels = labels(u)?;
            if u.ratio(3, 4)? {
                labels.insert(
                    netsem_spec::decision::services::ZONE_LABEL.into(),
                    pick(u, &super::services::ZONES)?.into(),
                );
            }
            Op::AddNode {
                name: pick(u, &NODES)?.into(),
                labels,
                addresses: vec![Address::default_domain(ip(u)?)],
            }
        }
        23 => Op::RemoveNode {
            name: pick(u, &NODES)?.into(),
        },
        24 => Op::AddExternalEntity {
            name: pick(u, &ENTITIES)?.into(),
            addresses: vec![c.address(u)?],
        },
        25 => Op::AddIpAddressDomain {
            name: pick(u, &DOMAINS)?.into(),
        },
        26 => Op::RemoveIpAddressDomain {
            name: pick(u, &DOMAINS)?.into(),
        },
        27 => {
            let (name, domain, role) = pick(u, &NETWORKS)?;
            Op::AddNetwork {
                name: name.into(),
                domain: domain.into(),
                role,
            }
        }
        28 => Op::RemoveNetwork {
            name: pick(u, &NETWORKS)?.0.into(),
        },
        29 => Op::AddAddress2PodMapping {
            address: c.address(u)?,
            pod: c.pod(u)?,
            interface: if u.ratio(1, 3)? {
                Some("net1".into())
            } else {
                None
            },
            network: if u.ratio(1, 3)? {
                Some(pick(u, &NETWORKS)?.0.into())
            } else {
                None
            },
        },
        30 => Op::RemoveAddress2PodMapping {
            address: c.address(u)?,
            pod: c.pod(u)?,
        },
        31 => Op::RemovePod2AddressMappings { pod: c.pod(u)? },
        32 => Op::LookupPod2AddressMappings { pod: c.pod(u)? },
        33 => Op::LookupAddress2PodMapping {
            address: c.address(u)?,
        },
        34 => Op::AddAddress2ServiceMapping {
            address: c.address(u)?,
            service: c.service(u)?,
            external: u.ratio(1, 3)?,
        },
        35 => match c.service_addresses().is_empty() || u.ratio(1, 4)? {
            true => Op::RemoveAddress2ServiceMapping {
                address: c.address(u)?,
                service: c.service(u)?,
            },
            false => {
                let (address, service) = u.choose(&c.service_addresses())?.clone();
                Op::RemoveAddress2ServiceMapping { address, service }
            }
        },
        36 => Op::RemoveService2AddressMappings {
            service: c.service(u)?,
        },
        37 => Op::LookupService2AddressMappings {
            service: c.service(u)?,
        },
        38 => Op::LookupAddress2ServiceMapping {
            address: c.address(u)?,
        },
        39 => Op::ClosePodConnection {
            connection: u.int_in_range(0..=c.connections() + 1)?,
        },
        40 => Op::Apply {
            manifest: manifest(u, c)?,
            file: None,
        },
        41 => Op::Delete {
            manifest: manifest(u, c)?,
            file: None,
        },
        42..=48 => Op::OpenPodConnection {
            from: c.pod(u)?,
            to: c.pod(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
        49..=53 => {
            let service = c.service(u)?;
            let (protocol, port) = c.service_port(u, &service)?;
            Op::OpenServiceConnection {
                from: c.pod(u)?,
                backend: c.backend(u, &service)?,
                service,
                protocol,
                port,
            }
        }
        54..=57 => match c.service_addresses().is_empty() || u.ratio(1, 2)? {
            true => Op::OpenConnectionWithIpAddresses {
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
            false => {
                let (to, service) = u.choose(&c.service_addresses())?.clone();
                let (protocol, port) = c.service_port(u, &service)?;
                Op::OpenConnectionWithIpAddresses {
                    from: c.address(u)?,
                    to,
                    protocol,
                    port,
                    backend: c.backend(u, &service)?,
                }
            }
        },
        58 => Op::AllowNewConnectionToPod {
            from: c.pod(u)?,
            to: c.pod(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
        59 => Op::AllowNewConnectionFromPod {
            from: c.pod(u)?,
            to: c.pod(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
        60 | 61 => Op::AllowNewConnectionFromIpAddress {
            from: c.address(u)?,
            to: c.pod(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
        71 | 72 => {
            let id = c.multi_policy(u)?;
            Op::AddMultiNetworkPolicy {
                policy: multi_policy(u, id)?,
            }
        }
        73 => {
            let id = c.multi_policy(u)?;
            Op::UpdateMultiNetworkPolicy {
                policy: multi_policy(u, id)?,
            }
        }
        74 => Op::RemoveMultiNetworkPolicy {
            policy: c.multi_policy(u)?,
        },
        _ => Op::AllowNewConnectionToIpAddress {
            from: c.pod(u)?,
            to: c.address(u)?,
            protocol: protocol(u)?,
            port: port(u)?,
        },
    })
}

/// A prologue that builds a populated cluster (pods, Services over them, policies), so that
/// the random operations after it mostly meet objects that exist.
fn prologue(u: &mut Unstructured, ops: &mut Vec<Op>, c: &mut Ctx) -> Result<()> {
    // Mostly the networks pods attach to (rules 8.1, 8.7): a secondary one and a primary
    // user-defined one, each in its own domain.
    if u.ratio(2, 3)? {
        for (name, domain, role) in &NETWORKS[1..] {
            for op in [
                Op::AddIpAddressDomain {
                    name: domain.to_string(),
                },
                Op::AddNetwork {
                    name: name.to_string(),
                    domain: domain.to_string(),
                    role: *role,
                },
            ] {
                c.note(&op);
                ops.push(op);
            }
        }
    }
    for _ in 0..u.int_in_range(4..=8)? {
        let (mut pod, mut addresses, attachments) = pod(u)?;
        // Mostly running pods with an address, so that most connections are decided by policy.
        if u.ratio(3, 4)? {
            pod.phase = PodPhase::Running;
            pod.ready = true;
            if !pod.host_network {
                addresses.retain(|a| a.is_ipv6());
                addresses.insert(0, c.fresh_ip());
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
    for _ in 0..u.int_in_range(1..=2)? {
        let (service, addresses, external_addresses) = service(u, c)?;
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
        let op = Op::AddNetworkPolicy {
            policy: policy(u, id)?,
        };
        c.note(&op);
        ops.push(op);
    }
    // Rules 11.x: admin policies in half the scenarios, so that both the tiers and the
    // NetworkPolicy-only paths stay exercised.
    if u.ratio(1, 2)? {
        for _ in 0..u.int_in_range(1..=2)? {
            let id = admin_policy_id(u)?;
            let op = Op::AddClusterNetworkPolicy {
                policy: cluster_network_policy(u, id)?,
            };
            c.note(&op);
            ops.push(op);
        }
    }
    if u.ratio(1, 3)? {
        let id = policy_id(u)?;
        let op = Op::AddMultiNetworkPolicy {
            policy: multi_policy(u, id)?,
        };
        c.note(&op);
        ops.push(op);
    }
    Ok(())
}

/// A scenario of at most `max_ops` operations after a prologue; running out of input ends it
/// early (what was built is kept), so any bytes decode.
pub fn scenario(u: &mut Unstructured, max_ops: usize) -> Scenario {
    let profile = profile(u).unwrap_or_default();
    let mut ops = Vec::new();
    let mut c = Ctx::new(profile);
    let _ = prologue(u, &mut ops, &mut c);
    while ops.len() < max_ops && !u.is_empty() {
        match op(u, &mut c) {
            Ok(o) => {
                c.note(&o);
                ops.push(o)
            }
            Err(_) => break,
        }
    }
    Scenario { profile, ops }
}

/// Decodes a scenario from bytes.
pub fn scenario_from_bytes(bytes: &[u8], max_ops: usize) -> Scenario {
    scenario(&mut Unstructured::new(bytes), max_ops)
}

/// Bytes as the hex text of `NETSEM_SCENARIO`, the replay handle every failure prints.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a `NETSEM_SCENARIO` hex text.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Rule 6.27: half the explicit mappings state their endpoint as a manual EndpointSlice would:
/// any conditions, and some zone and node hints.
fn endpoint_facts(u: &mut Unstructured<'_>) -> Result<Option<EndpointFacts>> {
    if !u.ratio(1, 2)? {
        return Ok(None);
    }
    let hints = |u: &mut Unstructured<'_>, names: &[&str]| -> Result<Vec<String>> {
        let mut out = Vec::new();
        if u.ratio(1, 2)? {
            out.push(pick(u, names)?.to_string());
        }
        Ok(out)
    };
    Ok(Some(EndpointFacts {
        ready: u.ratio(3, 4)?,
        serving: u.ratio(3, 4)?,
        terminating: u.ratio(1, 4)?,
        for_zones: hints(u, &super::services::ZONES)?,
        for_nodes: hints(u, &NODES)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use netsem_spec::decision::{connect, SpecCore};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use std::collections::BTreeMap;

    /// Every operation of the trace format is generated: this fails when an operation is added
    /// to [`Op`] and not to [`op`].
    #[test]
    fn every_operation_is_generated() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for _ in 0..3000 {
            let bytes: Vec<u8> = (0..2000).map(|_| rng.random()).collect();
            for op in scenario_from_bytes(&bytes, MAX_OPS).ops {
                *seen.entry(op.name()).or_default() += 1;
            }
        }
        let missing: Vec<&str> = Op::NAMES
            .iter()
            .copied()
            .filter(|n| !seen.contains_key(n))
            .collect();
        assert!(missing.is_empty(), "never generated: {missing:?}");
    }

    #[test]
    fn generated_manifests_load() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut loaded = 0;
        for _ in 0..500 {
            let bytes: Vec<u8> = (0..400).map(|_| rng.random()).collect();
            let mut u = Unstructured::new(&bytes);
            let c = Ctx::default();
            if let Ok(text) = manifest(&mut u, &c) {
                let m = netsem_spec::manifest::parse_str("generated.json", &text);
                assert!(m.is_ok(), "{text}\n{m:?}");
                loaded += 1;
            }
        }
        assert!(loaded > 400, "{loaded}");
    }

    /// Services are built from the generated pods: a good share of connections through them
    /// reach a backend, and some reach one of several on a named target port (rules 6.1, 6.3).
    #[test]
    fn service_connections_reach_backends() {
        let mut rng = StdRng::seed_from_u64(3);
        let (mut total, mut reached, mut named_several) = (0, 0, 0);
        for _ in 0..1500 {
            let bytes: Vec<u8> = (0..2000).map(|_| rng.random()).collect();
            let s = scenario_from_bytes(&bytes, MAX_OPS);
            let mut spec = SpecEngine::new(s.profile);
            for op in &s.ops {
                if let Op::OpenServiceConnection {
                    from,
                    service,
                    protocol,
                    port,
                    ..
                } = op
                {
                    total += 1;
                    let st = &spec.state;
                    let o = connect::attempt(
                        st,
                        &SpecCore,
                        &connect::Source::Pod(from.clone()),
                        &connect::Target::Service(service.clone()),
                        *protocol,
                        *port,
                        None,
                    );
                    let backends = o.ok().and_then(|o| o.backends).map_or(0, |b| b.len());
                    reached += usize::from(backends > 0);
                    let named = st
                        .service(service)
                        .and_then(|svc| svc.port(*protocol, *port))
                        .is_some_and(|p| matches!(p.target_port, PortRef::Name(_)));
                    named_several += usize::from(named && backends >= 2);
                }
                spec.execute(op);
            }
        }
        assert!(
            reached * 4 >= total,
            "{reached} of {total} reached a backend"
        );
        assert!(
            named_several >= 5,
            "{named_several} with a named port and 2+ backends ({reached} of {total} reached)"
        );
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(from_hex(&to_hex(&bytes)).unwrap(), bytes);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
