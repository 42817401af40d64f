//! Realistic clusters of a given size, for benchmarks: namespaces with team and environment
//! labels, pods of many apps with named container ports, one Service per app, and policies
//! using every selector and port form (default deny, pod and namespace selectors with
//! `matchExpressions`, ipBlock with except, named ports, endPort ranges, DNS egress).
//! Deterministic in `(pods, policies, seed)`. [`manifests`] writes a cluster as the Kubernetes
//! YAML a user would hand the command line (and a peer tool): the end-to-end benchmarks read it.

use super::scenario::{namespace_manifest, pod_manifest, policy_manifest, service_manifest};
use netsem_spec::net::{PortRef, Protocol};
use netsem_spec::policy::{IpBlock, NetworkPolicy, Peer, PolicyPort, PolicyType, Rule};
use netsem_spec::{
    Address, ContainerPort, LabelSelector, Labels, Op, Operator, Pod, PodId, PolicyId, Requirement,
    Service, ServiceId, ServicePort,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The size of a generated cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Number of pods.
    pub pods: usize,
    /// Number of NetworkPolicies.
    pub policies: usize,
}

const TIERS: [&str; 4] = ["web", "api", "db", "cache"];
const ENVS: [&str; 2] = ["prod", "staging"];
const TEAMS: [&str; 5] = ["payments", "search", "identity", "platform", "data"];

fn labels(pairs: &[(&str, String)]) -> Labels {
    netsem_spec::selector::labels(pairs.iter().map(|(k, v)| (*k, v.clone())))
}

fn port(protocol: Protocol, p: u16) -> PolicyPort {
    PolicyPort {
        protocol,
        port: Some(PortRef::Number(p)),
        end_port: None,
    }
}

/// The operations that build a cluster of `size`, seeded.
pub fn cluster(size: Size, seed: u64) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(seed);
    let namespaces = (size.pods / 40).clamp(2, 250);
    let apps = (size.pods / 8).max(2);
    let mut ops = Vec::new();
    let ns_name = |i: usize| format!("ns-{i:03}");
    let app_name = |i: usize| format!("app-{i:04}");
    for n in 0..namespaces {
        ops.push(Op::AddNamespace {
            name: ns_name(n),
            labels: labels(&[
                ("team", TEAMS[n % TEAMS.len()].to_string()),
                ("env", ENVS[n % ENVS.len()].to_string()),
            ]),
        });
    }
    // Each app lives in one namespace; its pods share labels, as replicas of a Deployment do.
    let app_ns: Vec<usize> = (0..apps).map(|a| a % namespaces).collect();
    for i in 0..size.pods {
        let app = rng.random_range(0..apps);
        let tier = TIERS[app % TIERS.len()];
        let mut pod = Pod::new(
            PodId::new(ns_name(app_ns[app]), format!("{}-{i}", app_name(app))),
            labels(&[
                ("app", app_name(app)),
                ("tier", tier.to_string()),
                ("version", format!("v{}", rng.random_range(1..4))),
            ]),
        );
        pod.node = Some(format!("node-{}", i % 50));
        pod.ports = vec![
            ContainerPort {
                name: Some("http".into()),
                port: 8080,
                protocol: Protocol::Tcp,
            },
            ContainerPort {
                name: Some("metrics".into()),
                port: 9090,
                protocol: Protocol::Tcp,
            },
        ];
        if tier == "db" {
            pod.ports.push(ContainerPort {
                name: Some("sql".into()),
                port: 5432,
                protocol: Protocol::Tcp,
            });
        }
        let n = i as u32 + 1;
        let ip = IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
        ops.push(Op::AddPod {
            pod,
            addresses: vec![ip],
            attachments: vec![],
        });
    }
    for (a, &ns) in app_ns.iter().enumerate() {
        let mut svc = Service::new(
            ServiceId::new(ns_name(ns), app_name(a)),
            Some(labels(&[("app", app_name(a))])),
            // Kubernetes requires each port of a multi-port Service to be named.
            vec![ServicePort {
                name: Some("http".into()),
                protocol: Protocol::Tcp,
                port: 80,
                target_port: PortRef::Name("http".into()),
                node_port: None,
            }],
        );
        svc.ports.push(ServicePort {
            name: Some("metrics".into()),
            protocol: Protocol::Tcp,
            port: 9090,
            target_port: PortRef::Number(9090),
            node_port: None,
        });
        let n = a as u32 + 1;
        ops.push(Op::AddService {
            service: svc,
            addresses: vec![Address::default_domain(IpAddr::from([
                10,
                96,
                (n >> 8) as u8,
                n as u8,
            ]))],
            external_addresses: vec![],
        });
    }
    for p in 0..size.policies {
        let ns = p % namespaces;
        let app = rng.random_range(0..apps);
        let other = rng.random_range(0..apps);
        let id = PolicyId::new(ns_name(ns), format!("np-{p:05}"));
        let app_sel = |a: usize| LabelSelector::from_labels([("app", app_name(a))]);
        let policy = match p % 8 {
            // Default deny of the namespace.
            0 => NetworkPolicy {
                id,
                pod_selector: LabelSelector::everything(),
                policy_types: Some(vec![PolicyType::Ingress]),
                ingress: vec![],
                egress: vec![],
            },
            // Allow an app from another app, on a named port.
            1 => NetworkPolicy {
                id,
                pod_selector: app_sel(app),
                policy_types: None,
                ingress: vec![Rule {
                    ports: vec![PolicyPort {
                        protocol: Protocol::Tcp,
                        port: Some(PortRef::Name("http".into())),
                        end_port: None,
                    }],
                    peers: vec![Peer::Pods {
                        namespace_selector: Some(LabelSelector::everything()),
                        pod_selector: Some(app_sel(other)),
                    }],
                }],
                egress: vec![],
            },
            // Namespaces of some teams, by matchExpressions, to a tier.
            2 => NetworkPolicy {
                id,
                pod_selector: LabelSelector::from_labels([("tier", TIERS[p % TIERS.len()])]),
                policy_types: Some(vec![PolicyType::Ingress]),
                ingress: vec![Rule {
                    ports: vec![port(Protocol::Tcp, 8080)],
                    peers: vec![Peer::Pods {
                        namespace_selector: Some(LabelSelector {
                            match_labels: Default::default(),
                            match_expressions: vec![Requirement {
                                key: "team".into(),
                                operator: Operator::In,
                                values: [TEAMS[p % 5], TEAMS[(p + 1) % 5]]
                                    .iter()
                                    .map(|s| s.to_string())
                                    .collect(),
                            }],
                        }),
                        pod_selector: None,
                    }],
                }],
                egress: vec![],
            },
            // Egress: DNS to the world, and the internet but not the cluster range.
            3 => NetworkPolicy {
                id,
                pod_selector: app_sel(app),
                policy_types: Some(vec![PolicyType::Egress]),
                ingress: vec![],
                egress: vec![
                    Rule {
                        ports: vec![port(Protocol::Udp, 53), port(Protocol::Tcp, 53)],
                        peers: vec![],
                    },
                    Rule {
                        ports: vec![port(Protocol::Tcp, 443)],
                        peers: vec![Peer::IpBlock(IpBlock {
                            cidr: "0.0.0.0/0".parse().expect("literal"),
                            except: vec!["10.0.0.0/8".parse().expect("literal")],
                        })],
                    },
                    Rule {
                        ports: vec![],
                        peers: vec![Peer::Pods {
                            namespace_selector: None,
                            pod_selector: Some(LabelSelector::everything()),
                        }],
                    },
                ],
            },
            // A port range with endPort, from pods NotIn a version.
            4 => NetworkPolicy {
                id,
                pod_selector: app_sel(app),
                policy_types: None,
                ingress: vec![Rule {
                    ports: vec![PolicyPort {
                        protocol: Protocol::Tcp,
                        port: Some(PortRef::Number(8000)),
                        end_port: Some(8100),
                    }],
                    peers: vec![Peer::Pods {
                        namespace_selector: None,
                        pod_selector: Some(LabelSelector {
                            match_labels: Default::default(),
                            match_expressions: vec![Requirement {
                                key: "version".into(),
                                operator: Operator::NotIn,
                                values: ["v1".to_string()].into(),
                            }],
                        }),
                    }],
                }],
                egress: vec![],
            },
            // Monitoring: metrics from the platform team's namespaces, by named port.
            5 => NetworkPolicy {
                id,
                pod_selector: LabelSelector::everything(),
                policy_types: None,
                ingress: vec![Rule {
                    ports: vec![PolicyPort {
                        protocol: Protocol::Tcp,
                        port: Some(PortRef::Name("metrics".into())),
                        end_port: None,
                    }],
                    peers: vec![Peer::Pods {
                        namespace_selector: Some(LabelSelector::from_labels([(
                            "team", "platform",
                        )])),
                        pod_selector: None,
                    }],
                }],
                egress: vec![],
            },
            // Database access from the api tier of the same namespace, plus an ipBlock with except.
            6 => NetworkPolicy {
                id,
                pod_selector: LabelSelector::from_labels([("tier", "db")]),
                policy_types: Some(vec![PolicyType::Ingress]),
                ingress: vec![Rule {
                    ports: vec![PolicyPort {
                        protocol: Protocol::Tcp,
                        port: Some(PortRef::Name("sql".into())),
                        end_port: None,
                    }],
                    peers: vec![
                        Peer::Pods {
                            namespace_selector: None,
                            pod_selector: Some(LabelSelector::from_labels([("tier", "api")])),
                        },
                        Peer::IpBlock(IpBlock {
                            cidr: "10.0.0.0/16".parse().expect("literal"),
                            except: vec!["10.0.1.0/24".parse().expect("literal")],
                        }),
                    ],
                }],
                egress: vec![],
            },
            // Exists / DoesNotExist, both directions.
            _ => NetworkPolicy {
                id,
                pod_selector: LabelSelector {
                    match_labels: Default::default(),
                    match_expressions: vec![Requirement {
                        key: "canary".into(),
                        operator: Operator::DoesNotExist,
                        values: Default::default(),
                    }],
                },
                policy_types: Some(vec![PolicyType::Ingress, PolicyType::Egress]),
                ingress: vec![Rule {
                    ports: vec![],
                    peers: vec![Peer::Pods {
                        namespace_selector: Some(LabelSelector {
                            match_labels: Default::default(),
                            match_expressions: vec![Requirement {
                                key: "env".into(),
                                operator: Operator::Exists,
                                values: Default::default(),
                            }],
                        }),
                        pod_selector: Some(app_sel(other)),
                    }],
                }],
                egress: vec![Rule {
                    ports: vec![port(Protocol::Tcp, 8080), port(Protocol::Sctp, 9999)],
                    peers: vec![],
                }],
            },
        };
        ops.push(Op::AddNetworkPolicy { policy });
    }
    ops
}

/// The cluster that `ops` (of [`cluster`]) builds, as Kubernetes manifests: `(relative path,
/// YAML text)` pairs, `00-namespaces.yaml` then `NAMESPACE/pods.yaml`, `services.yaml` and
/// `networkpolicies.yaml`, each a multi-document YAML file in the order of `ops`. Loading the
/// files gives the state `ops` build (a test checks it through the matrix).
///
/// # Panics
/// On an operation other than those [`cluster`] emits.
pub fn manifests(ops: &[Op]) -> Vec<(String, String)> {
    let mut namespaces = Vec::new();
    let mut files: BTreeMap<(String, &str), Vec<Value>> = BTreeMap::new();
    for op in ops {
        let (ns, file, doc) = match op {
            Op::AddNamespace { name, labels } => {
                namespaces.push(namespace_manifest(name, labels));
                continue;
            }
            Op::AddPod {
                pod,
                addresses,
                attachments,
            } => {
                assert!(attachments.is_empty(), "cluster pods have one network");
                let mut doc = pod_manifest(pod, addresses);
                if let Some(app) = pod.labels.get("app") {
                    let (hash, owners) = owned_by_deployment(app);
                    doc["metadata"]["labels"]["pod-template-hash"] = Value::from(hash);
                    doc["metadata"]["ownerReferences"] = owners;
                }
                (&pod.id.namespace, "pods", doc)
            }
            Op::AddService {
                service,
                addresses,
                external_addresses,
            } => {
                assert!(
                    external_addresses.is_empty(),
                    "cluster Services are internal"
                );
                let ip = addresses.first().map(|a| a.ip);
                (
                    &service.id.namespace,
                    "services",
                    service_manifest(service, ip),
                )
            }
            Op::AddNetworkPolicy { policy } => (
                &policy.id.namespace,
                "networkpolicies",
                policy_manifest(policy),
            ),
            other => panic!("not an operation of the cluster generator: {other:?}"),
        };
        files.entry((ns.clone(), file)).or_default().push(doc);
    }
    let mut out = vec![("00-namespaces.yaml".to_string(), yaml(&namespaces))];
    out.extend(
        files
            .into_iter()
            .map(|((ns, file), docs)| (format!("{ns}/{file}.yaml"), yaml(&docs))),
    );
    out
}

/// The `pod-template-hash` label and the `ownerReferences` of a pod of Deployment `app`, as
/// the Deployment controller writes them: the controller is the ReplicaSet
/// `app-<pod-template-hash>` (rule 9.10), the hash in the controller's alphabet (apimachinery
/// `rand.SafeEncodeString`), derived from the name. The label selects nothing here, so the
/// cluster's matrix is the same.
fn owned_by_deployment(app: &str) -> (String, Value) {
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in app.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let hash: String = (0..10)
        .map(|i| SAFE[((h >> (i * 6)) % SAFE.len() as u64) as usize] as char)
        .collect();
    let owners = serde_json::json!([{
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": format!("{app}-{hash}"),
        "uid": format!("{:08x}-0000-4000-8000-{:012x}", h >> 32, h & 0xffff_ffff_ffff),
        "controller": true,
        "blockOwnerDeletion": true,
    }]);
    (hash, owners)
}

/// Documents as one multi-document YAML text.
fn yaml(docs: &[Value]) -> String {
    let mut text = String::new();
    for doc in docs {
        text.push_str("---\n");
        text.push_str(&serde_saphyr::to_string(doc).expect("a manifest serializes"));
    }
    text
}

/// Writes [`manifests`] of `ops` under `dir` (created if need be); returns the bytes written.
pub fn write_manifests(ops: &[Op], dir: &std::path::Path) -> std::io::Result<u64> {
    let mut bytes = 0;
    for (path, text) in manifests(ops) {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &text)?;
        bytes += text.len() as u64;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_are_deterministic_and_sized() {
        let size = Size {
            pods: 120,
            policies: 24,
        };
        let a = cluster(size, 7);
        assert_eq!(a, cluster(size, 7));
        assert_ne!(a, cluster(size, 8));
        let pods = a.iter().filter(|o| matches!(o, Op::AddPod { .. })).count();
        let policies = a
            .iter()
            .filter(|o| matches!(o, Op::AddNetworkPolicy { .. }))
            .count();
        assert_eq!((pods, policies), (120, 24));
    }

    /// The manifests load into the cluster the operations build: the same matrix, pod for pod.
    #[test]
    fn manifests_load_as_the_cluster() {
        let ops = cluster(
            Size {
                pods: 90,
                policies: 24,
            },
            5,
        );
        let dir = std::env::temp_dir().join(format!("netsem-cluster-{}", std::process::id()));
        let bytes = write_manifests(&ops, &dir).expect("the manifests are written");
        assert!(bytes > 0);
        let loaded = netsem_spec::manifest::load(&[&dir], Default::default());
        std::fs::remove_dir_all(&dir).expect("the directory is removed");
        let loaded = loaded.expect("the manifests load");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        // Every pod is a replica of its app's Deployment (rule 9.10), as in a real cluster.
        for op in &ops {
            if let Op::AddPod { pod, .. } = op {
                let w = loaded.workloads.get(&pod.id).map(ToString::to_string);
                assert_eq!(w, Some(format!("{}[Deployment]", pod.labels["app"])));
            }
        }
        let loaded = loaded.state;
        let mut built = netsem_spec::SpecEngine::default();
        for op in &ops {
            netsem_spec::Engine::execute(&mut built, op);
        }
        let from_ops = netsem_oracle::Oracle::from_state(built.state).compressed_matrix();
        let from_yaml = netsem_oracle::Oracle::from_state(loaded).compressed_matrix();
        use netsem_spec::matrix::MatrixView;
        assert_eq!(from_ops.to_matrix(), from_yaml.to_matrix());
    }
}
