//! Bounded universes: a small cluster, a script of control-plane operations, and the
//! connection attempts the pods' applications make. Every control-plane version's state is
//! computed once with `netsem-spec`, so filters can ask the spec about their (possibly stale)
//! view by version number.

use netsem_spec::admin::{
    Action, AdminKind, AdminPeer, AdminRule, ClusterNetworkPolicy, NamespacedPods, Subject, Tier,
};
use netsem_spec::decision::DirectionVerdict;
use netsem_spec::net::{PortRef, Protocol};
use netsem_spec::policy::{NetworkPolicy, Peer, PolicyPort, PolicyType, Rule};
use netsem_spec::{
    Engine, LabelSelector, Labels, Op, Pod, PodId, Profile, Service, ServiceId, ServicePort,
    SpecEngine, State,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// A deliberately broken pipeline, to show that the properties can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The pipeline as the source design describes it.
    None,
    /// The ingress filter judges replies as new connections instead of letting the connection
    /// tracker pass them.
    IngressSkipsConntrack,
    /// The service mapper applies backend additions but ignores removals.
    MapperIgnoresRemovals,
    /// Packets leave a pod without the sanity filter's source-address check.
    NoSanityFilter,
    /// An admin-tier `Pass` is enforced as `Accept` (rule 11.4).
    PassAsAccept,
    /// The baseline tier runs before the NetworkPolicy tier (rule 11.3).
    BaselineBeforeNetworkPolicy,
    /// A NetworkPolicy allow is final before the admin tier is consulted (rule 11.3).
    NetworkPolicyBeforeAdmin,
    /// A node's proxy keeps the client's address under `externalTrafficPolicy: Cluster`
    /// instead of masquerading it to the node's (rule 6.13).
    ProxyKeepsClient,
    /// A node's proxy admits every client to a load-balancer address, ignoring
    /// `loadBalancerSourceRanges` (rule 6.14).
    ProxyIgnoresSourceRanges,
    /// The service mappers (a pod's and a node proxy's) pick freely, ignoring session affinity
    /// (rule 6.16).
    MapperIgnoresAffinity,
}

/// Who opens a connection: a pod's application, or a host that is not a pod (a node's own
/// stack, or a client outside the cluster).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    /// A pod, by index.
    Pod(usize),
    /// A host, by index into [`Universe::hosts`].
    Host(usize),
}

/// What an application connects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A pod (by index), on its primary address.
    Pod(usize),
    /// The universe's Service, through the client's service mapper (its cluster address).
    Service,
    /// An address a node's proxy translates: a node port on a node's address, an external or
    /// load-balancer address of a Service, a cluster address reached from a host, or an
    /// address inside a `ServiceCIDR` (rules 6.10, 6.12–6.14, 6.17).
    Address(IpAddr),
}

/// One connection attempt by a pod's application.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attempt {
    /// Its id, unique in the universe.
    pub id: u32,
    /// Who opens it.
    pub from: Client,
    /// What it connects to.
    pub to: Target,
    /// The protocol.
    pub protocol: Protocol,
    /// The destination port (the Service port for a Service).
    pub port: u16,
    /// The pod (by index) whose address the application forges as its source.
    pub spoof_as: Option<usize>,
}

/// A bounded universe and the pipeline variant to check.
#[derive(Clone, Debug)]
pub struct Universe {
    /// Its name.
    pub name: &'static str,
    /// The profile of the semantics.
    pub profile: Profile,
    /// The operations that build the initial cluster.
    pub setup: Vec<Op>,
    /// The control plane's operations, applied one at a time while traffic flows.
    pub ops: Vec<Op>,
    /// `versions[v]` is the cluster after `ops[..v]`.
    pub versions: Vec<State>,
    /// The pods, by index (actor `i + 1` is pod `i`; actor 0 is the control plane).
    pub pods: Vec<PodId>,
    /// Each pod's primary address.
    pub addresses: Vec<IpAddr>,
    /// The Service, if the universe has one.
    pub service: Option<ServiceId>,
    /// The applications' attempts.
    pub attempts: Vec<Attempt>,
    /// The nodes whose proxies are actors (actor `1 + pods + j` is node `j`'s proxy).
    pub nodes: Vec<String>,
    /// The hosts that open connections and are not pods: a node's address or an outside one
    /// (actor `1 + pods + nodes + k` is host `k`).
    pub hosts: Vec<IpAddr>,
    /// The pipeline variant.
    pub fault: Fault,
    /// Answers of spec and of the model's endpoint code, per version: pure functions of the
    /// universe that every state asks again (they were half the checking time).
    pub(crate) memo: Arc<Memo>,
}

/// Memoized answers, keyed by their arguments. A universe is not changed once checking starts,
/// so an answer stays right; the builders that change one create it before anything is asked.
#[derive(Default)]
pub(crate) struct Memo {
    /// By (version, client pod): the model's endpoints (pod, target port).
    backends: Mutex<HashMap<(usize, usize), Endpoints>>,
    spec_backends: Mutex<HashMap<(usize, usize), Vec<usize>>>,
    /// `properties::tier_verdict`, by (view, from, to, port, protocol, outbound).
    pub(crate) verdicts: Mutex<HashMap<VerdictKey, Option<DirectionVerdict>>>,
}

/// Endpoints as (pod index, target port).
type Endpoints = Vec<(usize, u16)>;

/// The arguments of `properties::tier_verdict`.
pub(crate) type VerdictKey = (u32, usize, usize, u16, Protocol, bool);

impl Memo {
    /// The answer for `key`, computed by `f` the first time.
    pub(crate) fn get<K: Eq + std::hash::Hash, V: Clone>(
        map: &Mutex<HashMap<K, V>>,
        key: K,
        f: impl FnOnce() -> V,
    ) -> V {
        if let Some(v) = map.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return v.clone();
        }
        // Computed outside the lock: two threads may both compute it, with the same answer.
        let v = f();
        map.lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, v.clone());
        v
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

/// Every node of a cluster: those it knows and those its pods run on, by name (each has a
/// proxy actor).
fn node_names(state: &State) -> Vec<String> {
    let mut nodes: BTreeSet<String> = state.nodes().keys().cloned().collect();
    nodes.extend(state.pods().filter_map(|p| p.node.clone()));
    nodes.into_iter().collect()
}

/// The nodes that get a proxy actor: every node, when some attempt goes to an address a proxy
/// translates (else none, so that universes without such traffic keep their size). A cluster
/// that names no node has one unnamed node, whose proxy serves every pod.
fn proxy_nodes(state: &State, attempts: &[Attempt]) -> Vec<String> {
    if !attempts.iter().any(|a| matches!(a.to, Target::Address(_))) {
        return Vec::new();
    }
    let nodes = node_names(state);
    if nodes.is_empty() {
        vec![String::new()]
    } else {
        nodes
    }
}

/// The client's ephemeral port: the destination port of replies.
pub const EPHEMERAL_PORT: u16 = 40000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    netsem_spec::selector::labels(pairs.iter().copied())
}

fn add_pod(name: &str, app: &str, ip: [u8; 4]) -> Op {
    let mut pod = Pod::new(PodId::new("shop", name), labels(&[("app", app)]));
    pod.node = Some("node-1".into());
    pod.ports = vec![netsem_spec::ContainerPort {
        name: Some("http".into()),
        port: 8080,
        protocol: Protocol::Tcp,
    }];
    Op::AddPod {
        pod,
        addresses: vec![IpAddr::from(ip)],
        attachments: vec![],
    }
}

/// The Service `shop/web`: port 80 to the pods' `http` port, at 10.96.0.1.
fn add_web_service() -> Op {
    Op::AddService {
        service: Service::new(
            ServiceId::new("shop", "web"),
            Some(labels(&[("app", "web")])),
            vec![ServicePort {
                name: None,
                protocol: Protocol::Tcp,
                port: 80,
                target_port: PortRef::Name("http".into()),
                node_port: None,
            }],
        ),
        addresses: vec!["10.96.0.1".parse().expect("literal")],
        external_addresses: vec![],
    }
}

fn add_node(name: &str, ip: [u8; 4]) -> Op {
    Op::AddNode {
        name: name.into(),
        labels: Labels::default(),
        addresses: vec![netsem_spec::Address::default_domain(IpAddr::from(ip))],
    }
}

/// The NodePort Service `shop/web`: node port 30080 to port 80, to the pods' `http` port,
/// `externalTrafficPolicy: Local`, with `sessionAffinity: ClientIP`.
fn add_node_port_service() -> Op {
    let mut service = Service::new(
        ServiceId::new("shop", "web"),
        Some(labels(&[("app", "web")])),
        vec![ServicePort {
            name: None,
            protocol: Protocol::Tcp,
            port: 80,
            target_port: PortRef::Name("http".into()),
            node_port: Some(30080),
        }],
    );
    service.service_type = netsem_spec::ServiceType::NodePort;
    service.external_traffic_policy = netsem_spec::TrafficPolicy::Local;
    service.session_affinity = Some(netsem_spec::service::SessionAffinity {
        timeout_seconds: netsem_spec::service::SessionAffinity::DEFAULT_TIMEOUT,
    });
    Op::AddService {
        service,
        addresses: vec!["10.96.0.1".parse().expect("literal")],
        external_addresses: vec![],
    }
}

/// Ingress to `target_app` on `http` from the address blocks `cidrs`.
fn allow_blocks(name: &str, target_app: &str, cidrs: &[&str]) -> NetworkPolicy {
    let mut policy = allow_from(name, target_app, &[]);
    policy.ingress[0].peers = cidrs
        .iter()
        .map(|c| {
            Peer::IpBlock(netsem_spec::IpBlock {
                cidr: c.parse().expect("literal"),
                except: vec![],
            })
        })
        .collect();
    policy
}

fn allow_from(name: &str, target_app: &str, from_apps: &[&str]) -> NetworkPolicy {
    NetworkPolicy {
        id: netsem_spec::PolicyId::new("shop", name),
        pod_selector: LabelSelector::from_labels([("app", target_app)]),
        policy_types: Some(vec![PolicyType::Ingress]),
        ingress: vec![Rule {
            ports: vec![PolicyPort {
                protocol: Protocol::Tcp,
                port: Some(PortRef::Name("http".into())),
                end_port: None,
            }],
            peers: from_apps
                .iter()
                .map(|a| Peer::Pods {
                    namespace_selector: None,
                    pod_selector: Some(LabelSelector::from_labels([("app", *a)])),
                })
                .collect(),
        }],
        egress: vec![],
    }
}

fn deny_ingress(name: &str, app: &str) -> NetworkPolicy {
    NetworkPolicy {
        id: netsem_spec::PolicyId::new("shop", name),
        pod_selector: LabelSelector::from_labels([("app", app)]),
        policy_types: Some(vec![PolicyType::Ingress]),
        ingress: vec![],
        egress: vec![],
    }
}

/// An Admin-tier policy over every pod's ingress: `Deny` from `deny_app` first, if given, then
/// `Pass` for everything else (rules 11.3, 11.4).
fn admin_ingress(deny_app: Option<&str>) -> ClusterNetworkPolicy {
    let mut ingress = Vec::new();
    if let Some(app) = deny_app {
        ingress.push(AdminRule {
            name: None,
            action: Action::Deny,
            peers: vec![AdminPeer::Pods(NamespacedPods {
                namespace_selector: LabelSelector::default(),
                pod_selector: LabelSelector::from_labels([("app", app)]),
            })],
            protocols: None,
        });
    }
    ingress.push(AdminRule {
        name: None,
        action: Action::Pass,
        peers: vec![AdminPeer::Namespaces(LabelSelector::default())],
        protocols: None,
    });
    ClusterNetworkPolicy {
        kind: AdminKind::ClusterNetworkPolicy,
        name: "admin".into(),
        tier: Tier::Admin,
        priority: 10,
        subject: Subject::Namespaces(LabelSelector::default()),
        ingress,
        egress: vec![],
    }
}

/// A Baseline-tier policy denying every pod's ingress from any pod (rule 11.3).
fn baseline_deny_ingress() -> ClusterNetworkPolicy {
    ClusterNetworkPolicy {
        kind: AdminKind::ClusterNetworkPolicy,
        name: "baseline".into(),
        tier: Tier::Baseline,
        priority: 10,
        subject: Subject::Namespaces(LabelSelector::default()),
        ingress: vec![AdminRule {
            name: None,
            action: Action::Deny,
            peers: vec![AdminPeer::Namespaces(LabelSelector::default())],
            protocols: None,
        }],
        egress: vec![],
    }
}

impl Universe {
    /// A universe from its parts. Panics if a setup or control-plane operation fails in spec,
    /// or a pod has no address: a universe is a valid scenario by construction.
    pub fn build(
        name: &'static str,
        profile: Profile,
        setup: Vec<Op>,
        ops: Vec<Op>,
        attempts: Vec<Attempt>,
        fault: Fault,
    ) -> Universe {
        let mut engine = SpecEngine::new(profile);
        for op in &setup {
            let o = engine.execute(op);
            assert!(
                o.error.is_none(),
                "universe {name}: setup {op:?} failed: {o:?}"
            );
        }
        let mut versions = vec![engine.state.clone()];
        for op in &ops {
            let o = engine.execute(op);
            assert!(
                o.error.is_none(),
                "universe {name}: op {op:?} failed: {o:?}"
            );
            versions.push(engine.state.clone());
        }
        let first = &versions[0];
        let pods: Vec<PodId> = first.pods().map(|p| p.id.clone()).collect();
        let addresses = pods
            .iter()
            .map(|p| {
                first
                    .pod_endpoint(p, None)
                    .ok()
                    .and_then(|e| e.address().map(|a| a.ip))
                    .expect("every pod of a universe has an address")
            })
            .collect();
        let service = first.services().next().map(|s| s.id.clone());
        let nodes = proxy_nodes(first, &attempts);
        Universe {
            name,
            profile,
            setup,
            ops,
            versions,
            pods,
            addresses,
            service,
            attempts,
            nodes,
            hosts: Vec::new(),
            fault,
            memo: Arc::default(),
        }
    }

    /// The universe with `hosts` as the non-pod clients of its attempts.
    pub fn with_hosts(mut self, hosts: Vec<IpAddr>) -> Universe {
        self.hosts = hosts;
        self
    }

    /// A universe of one settled cluster (no control-plane operations): `pods` are the actors,
    /// each with its primary address (rule 3.4), which must be distinct; `service` is the
    /// Service the attempts to [`Target::Service`] go to. The model's trace engine builds one
    /// per connection operation.
    pub fn settled(
        profile: Profile,
        state: State,
        pods: Vec<PodId>,
        service: Option<ServiceId>,
        attempts: Vec<Attempt>,
        fault: Fault,
    ) -> Result<Universe, &'static str> {
        let mut addresses = Vec::new();
        for p in &pods {
            let ip = state
                .pod_endpoint(p, None)
                .ok()
                .and_then(|e| e.address().map(|a| a.ip))
                .ok_or("a pod of the connection has no address, so no packet to send")?;
            if addresses.contains(&ip) {
                return Err("two pods of the connection share an address, and the pipeline knows a packet's source only by its address");
            }
            addresses.push(ip);
        }
        let nodes = proxy_nodes(&state, &attempts);
        Ok(Universe {
            name: "trace",
            profile,
            setup: Vec::new(),
            ops: Vec::new(),
            versions: vec![state],
            pods,
            addresses,
            service,
            attempts,
            nodes,
            hosts: Vec::new(),
            fault,
            memo: Arc::default(),
        })
    }

    /// The named universes: `policy`, `service`, `spoof` and `admin` are small enough for CI;
    /// `policy-strict` is `policy` under `established: recheck`; `large` is for longer runs.
    pub fn named(name: &str, fault: Fault) -> Option<Universe> {
        let pod = |n: &str| PodId::new("shop", n);
        let attempt = |id, from, to, spoof_as| Attempt {
            id,
            from: Client::Pod(from),
            to,
            protocol: Protocol::Tcp,
            port: if to == Target::Service { 80 } else { 8080 },
            spoof_as,
        };
        // Pod indexes follow identity order: client, web-0, web-1 …
        Some(match name {
            "policy" | "policy-strict" => {
                let profile = if name == "policy" {
                    Profile::default()
                } else {
                    "default,established=recheck"
                        .parse()
                        .expect("valid profile")
                };
                Universe::build(
                    if name == "policy" {
                        "policy"
                    } else {
                        "policy-strict"
                    },
                    profile,
                    vec![
                        add_pod("client", "client", [10, 0, 0, 1]),
                        add_pod("web-0", "web", [10, 0, 0, 2]),
                        Op::AddNetworkPolicy {
                            policy: allow_from("web", "web", &["client"]),
                        },
                        Op::AddNetworkPolicy {
                            policy: deny_ingress("client", "client"),
                        },
                    ],
                    // The control plane withdraws the client's access, then restores it.
                    vec![
                        Op::UpdateNetworkPolicy {
                            policy: allow_from("web", "web", &["nobody"]),
                        },
                        Op::UpdateNetworkPolicy {
                            policy: allow_from("web", "web", &["client"]),
                        },
                    ],
                    vec![
                        attempt(1, 0, Target::Pod(1), None),
                        attempt(2, 0, Target::Pod(1), None),
                        attempt(3, 1, Target::Pod(0), None),
                    ],
                    fault,
                )
            }
            "service" => {
                Universe::build(
                    "service",
                    Profile::default(),
                    vec![
                        add_pod("client", "client", [10, 0, 0, 1]),
                        add_pod("web-0", "web", [10, 0, 0, 2]),
                        add_pod("web-1", "web", [10, 0, 0, 3]),
                        add_web_service(),
                    ],
                    // The control plane takes web-1 out of the Service.
                    vec![Op::SetPodLabels {
                        pod: pod("web-1"),
                        labels: labels(&[("app", "retired")]),
                    }],
                    vec![
                        attempt(1, 0, Target::Service, None),
                        attempt(2, 0, Target::Service, None),
                    ],
                    fault,
                )
            }
            "spoof" => Universe::build(
                "spoof",
                Profile::default(),
                vec![
                    add_pod("attacker", "attacker", [10, 0, 0, 9]),
                    add_pod("client", "client", [10, 0, 0, 1]),
                    add_pod("web-0", "web", [10, 0, 0, 2]),
                    Op::AddNetworkPolicy {
                        policy: allow_from("web", "web", &["client"]),
                    },
                ],
                vec![],
                // The attacker forges the client's address, then tries honestly.
                vec![
                    attempt(1, 0, Target::Pod(2), Some(1)),
                    attempt(2, 0, Target::Pod(2), None),
                    attempt(3, 1, Target::Pod(2), None),
                ],
                fault,
            ),
            "admin" => Universe::build(
                "admin",
                Profile::default(),
                vec![
                    add_pod("client", "client", [10, 0, 0, 1]),
                    add_pod("web-0", "web", [10, 0, 0, 2]),
                    Op::AddNetworkPolicy {
                        policy: allow_from("web", "web", &["client"]),
                    },
                    Op::AddNetworkPolicy {
                        policy: deny_ingress("client", "client"),
                    },
                    Op::AddClusterNetworkPolicy {
                        policy: admin_ingress(None),
                    },
                    Op::AddClusterNetworkPolicy {
                        policy: baseline_deny_ingress(),
                    },
                ],
                // The admin tier denies the client what NetworkPolicy allows, passes again,
                // then web's NetworkPolicy goes and the baseline tier decides.
                vec![
                    Op::UpdateClusterNetworkPolicy {
                        policy: admin_ingress(Some("client")),
                    },
                    Op::UpdateClusterNetworkPolicy {
                        policy: admin_ingress(None),
                    },
                    Op::RemoveNetworkPolicy {
                        policy: netsem_spec::PolicyId::new("shop", "web"),
                    },
                ],
                vec![
                    attempt(1, 0, Target::Pod(1), None),
                    attempt(2, 1, Target::Pod(0), None),
                ],
                fault,
            ),
            "external" => {
                let host = |id, from, to: [u8; 4]| Attempt {
                    id,
                    from: Client::Host(from),
                    to: Target::Address(IpAddr::from(to)),
                    protocol: Protocol::Tcp,
                    port: 30080,
                    spoof_as: None,
                };
                let mut web0 = add_pod("web-0", "web", [10, 0, 1, 1]);
                let mut web1 = add_pod("web-1", "web", [10, 0, 2, 1]);
                for (op, node) in [(&mut web0, "n1"), (&mut web1, "n1")] {
                    if let Op::AddPod { pod, .. } = op {
                        pod.node = Some(node.into());
                    }
                }
                Universe::build(
                    "external",
                    Profile::default(),
                    vec![
                        add_node("n1", [10, 1, 0, 1]),
                        add_node("n2", [10, 1, 0, 2]),
                        web0,
                        web1,
                        add_node_port_service(),
                        Op::AddNetworkPolicy {
                            policy: allow_blocks("web", "web", &["198.51.100.0/24", "10.1.0.1/32"]),
                        },
                    ],
                    vec![],
                    // n1's own stack twice (masqueraded, affinity); an outside client through
                    // n1 (its address kept), then through n2, which has no endpoint.
                    vec![
                        host(1, 0, [10, 1, 0, 1]),
                        host(2, 0, [10, 1, 0, 1]),
                        host(3, 1, [10, 1, 0, 1]),
                        host(4, 1, [10, 1, 0, 2]),
                    ],
                    fault,
                )
                .with_hosts(vec![
                    IpAddr::from([10, 1, 0, 1]),
                    IpAddr::from([192, 0, 2, 7]),
                ])
            }
            "large" => Universe::build(
                "large",
                Profile::default(),
                vec![
                    add_pod("client", "client", [10, 0, 0, 1]),
                    add_pod("web-0", "web", [10, 0, 0, 2]),
                    add_pod("web-1", "web", [10, 0, 0, 3]),
                    add_web_service(),
                    Op::AddNetworkPolicy {
                        policy: allow_from("web", "web", &["client"]),
                    },
                ],
                vec![
                    Op::SetPodLabels {
                        pod: pod("web-1"),
                        labels: labels(&[("app", "retired")]),
                    },
                    Op::UpdateNetworkPolicy {
                        policy: allow_from("web", "web", &["nobody"]),
                    },
                    Op::SetPodLabels {
                        pod: pod("web-1"),
                        labels: labels(&[("app", "web")]),
                    },
                ],
                vec![
                    attempt(1, 0, Target::Service, None),
                    attempt(2, 0, Target::Pod(1), None),
                    attempt(3, 2, Target::Pod(0), None),
                ],
                fault,
            ),
            _ => return None,
        })
    }

    /// The names of [`Universe::named`].
    pub const NAMES: [&'static str; 7] = [
        "policy",
        "policy-strict",
        "service",
        "spoof",
        "admin",
        "external",
        "large",
    ];

    /// The pod owning an address, by index.
    pub fn pod_of(&self, ip: IpAddr) -> Option<usize> {
        self.addresses.iter().position(|a| *a == ip)
    }

    /// The protocol of an attempt (TCP for an unknown one).
    pub fn protocol_of(&self, attempt: u32) -> Protocol {
        self.attempts
            .iter()
            .find(|a| a.id == attempt)
            .map_or(Protocol::Tcp, |a| a.protocol)
    }

    /// The protocol and port the applications connect to the Service on (every Service
    /// attempt of a universe uses the same; TCP 80 when there is none).
    pub fn service_port(&self) -> (Protocol, u16) {
        self.attempts
            .iter()
            .find(|a| a.to == Target::Service)
            .map_or((Protocol::Tcp, 80), |a| (a.protocol, a.port))
    }

    /// The service mapper's backends (pod indexes and target ports) for pod `client` in
    /// version `v`, through the Service's cluster address: the endpoints the model's proxy
    /// logic chooses (`internalTrafficPolicy`, conditions, topology, rules 6.5, 6.7, 6.15).
    pub fn backends(&self, v: usize, client: usize) -> Vec<(usize, u16)> {
        Memo::get(&self.memo.backends, (v, client), || {
            self.backends_uncached(v, client)
        })
    }

    fn backends_uncached(&self, v: usize, client: usize) -> Vec<(usize, u16)> {
        let state = &self.versions[v];
        let Some(service) = self.service.as_ref().and_then(|s| state.service(s)) else {
            return Vec::new();
        };
        let node = state
            .pod(&self.pods[client])
            .and_then(|p| p.node.as_deref());
        let (protocol, port) = self.service_port();
        let set = match service.internal_traffic_policy {
            netsem_spec::service::TrafficPolicy::Local => crate::proxy::EndpointSet::Local(node),
            netsem_spec::service::TrafficPolicy::Cluster => {
                crate::proxy::EndpointSet::Cluster(node)
            }
        };
        crate::proxy::endpoints(
            self,
            v,
            service,
            set,
            Some(self.addresses[client]),
            protocol,
            port,
        )
        .unwrap_or_default()
    }

    /// Spec's possible backends of the Service for pod `client` in version `v`: what the
    /// `service` property holds the mapper to.
    pub fn spec_backends(&self, v: usize, client: usize) -> Vec<usize> {
        Memo::get(&self.memo.spec_backends, (v, client), || {
            self.spec_backends_uncached(v, client)
        })
    }

    fn spec_backends_uncached(&self, v: usize, client: usize) -> Vec<usize> {
        let state = &self.versions[v];
        let Some(service) = self.service.as_ref().and_then(|s| state.service(s)) else {
            return Vec::new();
        };
        let node = state.pod(&self.pods[client]).and_then(|p| p.node.clone());
        let source = state.pod_endpoint(&self.pods[client], None).ok();
        let (protocol, port) = self.service_port();
        state
            .service_backends(
                service,
                node.as_deref(),
                source.as_ref().and_then(|e| e.address()),
                protocol,
                port,
            )
            .unwrap_or_default()
            .into_iter()
            .filter_map(|b| self.pods.iter().position(|p| *p == b.pod))
            .collect()
    }

    /// The address a client sends from.
    pub fn client_address(&self, c: Client) -> IpAddr {
        match c {
            Client::Pod(i) => self.addresses[i],
            Client::Host(k) => self.hosts[k],
        }
    }

    /// Whether the universe's Service keeps session affinity (rule 6.16).
    pub fn affine(&self) -> bool {
        self.service
            .as_ref()
            .and_then(|s| self.versions[0].service(s))
            .is_some_and(|s| s.session_affinity.is_some())
    }

    /// The backend a pod's mapper starts out keeping it on: the affinity the cluster holds
    /// for its address (the trace engine's earlier connections, rule 6.16).
    pub fn held_affinity(&self, client: Client) -> Option<usize> {
        let state = &self.versions[0];
        let service = self.service.as_ref()?;
        let (protocol, port) = self.service_port();
        let held = state.affinity_of(service, protocol, port, self.client_address(client))?;
        self.pods.iter().position(|p| *p == held.backend)
    }

    /// The affinities a node's proxy starts out with, per client address and Service port:
    /// those the cluster holds for the clients of the attempts to translated addresses.
    pub fn held_affinities(&self) -> BTreeMap<(IpAddr, u16), usize> {
        let state = &self.versions[0];
        let mut held = BTreeMap::new();
        for a in &self.attempts {
            let Target::Address(dst) = a.to else { continue };
            let client = self.client_address(a.from);
            let (service, port) = match state
                .addresses()
                .get(&netsem_spec::Address::default_domain(dst))
            {
                Some(netsem_spec::AddressOwner::Service { service, .. }) => {
                    (service.clone(), a.port)
                }
                Some(netsem_spec::AddressOwner::Node { .. }) => {
                    let Some(svc) = state.node_port_service(a.protocol, a.port) else {
                        continue;
                    };
                    let Some(p) = svc.node_port(a.protocol, a.port) else {
                        continue;
                    };
                    (svc.id.clone(), p.port)
                }
                _ => continue,
            };
            let backend = state
                .affinity_of(&service, a.protocol, port, client)
                .and_then(|h| self.pods.iter().position(|p| *p == h.backend));
            if let Some(b) = backend {
                held.insert((client, port), b);
            }
        }
        held
    }

    /// The attempt with this id.
    pub fn attempt(&self, id: u32) -> Option<&Attempt> {
        self.attempts.iter().find(|a| a.id == id)
    }

    /// The pods that are a backend of the Service in some version.
    pub fn all_backends(&self) -> BTreeSet<usize> {
        (0..self.versions.len())
            .flat_map(|v| self.backends(v, 0))
            .map(|(p, _)| p)
            .collect()
    }
}
