//! The cases of the conformance suite, in the style of the upstream e2e netpol tests and
//! cyclonus: each is ordered steps of manifests to apply or delete, with probes. The seed picks
//! the ports the policies and probes use (80 or 81), so two seeds give two suites of the same
//! shape. The rules each case names are those its policies and probes exercise; the generator
//! adds the rule of every profile switch that changes one of its probes.

use super::{Client, To};
use netsem_spec::{PodId, Protocol};

/// A probe of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeDef {
    /// The client.
    pub from: Client,
    /// The destination.
    pub to: To,
    /// The destination port (0 for ICMP).
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// One connection kept open across steps.
    pub held: bool,
}

/// A step of a case.
#[derive(Clone, Debug, Default)]
pub struct StepDef {
    /// What it does.
    pub description: &'static str,
    /// Manifests to apply (empty: none).
    pub apply: String,
    /// Manifests to delete (empty: none).
    pub delete: String,
    /// Probe every ordered pair of grid pods on this port and protocol.
    pub grid: Option<(u16, Protocol)>,
    /// More probes.
    pub extra: Vec<ProbeDef>,
    /// Grid pods this step deletes.
    pub deletes_pods: Vec<PodId>,
    /// Grid pods this step creates again.
    pub creates_pods: Vec<PodId>,
}

/// A case.
#[derive(Clone, Debug)]
pub struct CaseDef {
    /// Its id.
    pub id: &'static str,
    /// What it shows.
    pub title: &'static str,
    /// The rules it exercises.
    pub rules: Vec<&'static str>,
    /// What the cluster needs beyond the topology.
    pub requires: Vec<&'static str>,
    /// The steps.
    pub steps: Vec<StepDef>,
}

/// splitmix64: the seed's stream of choices.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn port(&mut self) -> u16 {
        80 + (self.next() % 2) as u16
    }
}

fn pod(s: &str) -> PodId {
    s.parse().expect("a pod of the topology")
}

fn probe(from: &str, to: &str, protocol: Protocol, port: u16) -> ProbeDef {
    ProbeDef {
        from: from.parse().expect("a client of the topology"),
        to: to.parse().expect("a destination of the topology"),
        port,
        protocol,
        held: false,
    }
}

fn held(from: &str, to: &str, port: u16) -> ProbeDef {
    ProbeDef {
        held: true,
        ..probe(from, to, Protocol::Tcp, port)
    }
}

/// A NetworkPolicy manifest.
fn np(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: \"{ns}\"}}\nspec:\n{spec}"
    )
}

fn step(description: &'static str, apply: String, grid: (u16, Protocol)) -> StepDef {
    StepDef {
        description,
        apply,
        grid: Some(grid),
        ..StepDef::default()
    }
}

/// A case whose every step applies one manifest and probes the grid, TCP on the seed's port
/// (`steps` gets it, for manifests that name it).
fn grid_case(
    c: &mut Choices,
    id: &'static str,
    title: &'static str,
    rules: &[&'static str],
    steps: impl FnOnce(u16) -> Vec<(&'static str, String)>,
) -> CaseDef {
    let p = c.port();
    CaseDef {
        id,
        title,
        rules: rules.to_vec(),
        requires: vec![],
        steps: steps(p)
            .into_iter()
            .map(|(description, apply)| step(description, apply, (p, TCP)))
            .collect(),
    }
}

const TCP: Protocol = Protocol::Tcp;
const UDP: Protocol = Protocol::Udp;
const SCTP: Protocol = Protocol::Sctp;
const ICMP: Protocol = Protocol::Other(1);

/// Every case, for `seed`.
pub fn cases(seed: u64) -> Vec<CaseDef> {
    let mut c = Choices(seed);
    let mut out = Vec::new();
    let p = c.port();
    out.push(CaseDef {
        id: "allow-all-without-policies",
        title: "no policy: every pod reaches every pod, on every protocol",
        rules: vec!["5.2", "5.13", "7.0"],
        requires: vec![],
        steps: vec![
            step("nothing is applied", String::new(), (p, TCP)),
            step("nothing is applied; UDP", String::new(), (p, UDP)),
            step("nothing is applied; SCTP", String::new(), (p, SCTP)),
        ],
    });
    out.push(grid_case(
        &mut c,
        "default-deny-ingress",
        "should support a 'default-deny-ingress' policy",
        &["4.3", "5.1", "5.2", "5.3", "5.5"],
        |_| {
            vec![(
                "deny all ingress in x",
                np(
                    "x",
                    "default-deny-ingress",
                    "  podSelector: {}\n  policyTypes: [Ingress]\n",
                ),
            )]
        },
    ));
    out.push(grid_case(
        &mut c,
        "default-deny-egress",
        "should support a 'default-deny-egress' policy; replies still flow into x",
        &["5.2", "5.3", "5.15"],
        |_| {
            vec![(
                "deny all egress in x (egress: [] does not add Egress, policyTypes does)",
                np(
                    "x",
                    "default-deny-egress",
                    "  podSelector: {}\n  policyTypes: [Egress]\n  egress: []\n",
                ),
            )]
        },
    ));
    out.push(grid_case(
        &mut c,
        "egress-rule-isolates",
        "egress: [{}] without policyTypes isolates for egress and allows everything",
        &["5.3", "5.5"],
        |_| {
            vec![(
                "x/a: ingress [] and egress [{}], no policyTypes",
                np(
                    "x",
                    "egress-any",
                    "  podSelector: {matchLabels: {pod: a}}\n  egress: [{}]\n",
                ),
            )]
        },
    ));
    out.push(grid_case(
        &mut c,
        "allow-from-pod-selector",
        "should enforce policy to allow traffic from pods within server namespace based on PodSelector",
        &["4.1", "5.1", "5.4", "5.6", "5.11"],
        |p| vec![
            (
                "x/a accepts x/b only",
                np(
                "x",
                "allow-b-to-a",
                &format!("  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress:\n    - from: [{{podSelector: {{matchLabels: {{pod: b}}}}}}]\n      ports: [{{port: {p}, protocol: TCP}}]\n"),
            ),
            ),
        ],
    ));
    out.push(grid_case(
        &mut c,
        "allow-from-namespace-selector",
        "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
        &["4.1", "5.11"],
        |_| vec![
            (
                "x/a accepts every pod of namespace y",
                np(
                "x",
                "allow-ns-y",
                "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]\n",
            ),
            ),
        ],
    ));
    out.push(grid_case(
        &mut c,
        "namespace-and-pod-selector",
        "one peer with both selectors is their AND; two peers are an OR",
        &["5.11", "5.4"],
        |_| vec![
            (
                "x/a accepts pods b of namespace y (one peer)",
                np(
                    "x",
                    "and-peer",
                    "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}, podSelector: {matchLabels: {pod: b}}}]\n",
                ),
            ),
            (
                "the same selectors as two peers: every pod of y, and every pod b of x",
                np(
                    "x",
                    "and-peer",
                    "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}, {podSelector: {matchLabels: {pod: b}}}]\n",
                ),
            ),
        ],
    ));
    out.push(grid_case(
        &mut c,
        "match-expressions",
        "matchExpressions: In, NotIn, Exists, DoesNotExist",
        &["4.1", "4.2"],
        |_| vec![
            (
                "x/a accepts pods whose pod label is In [b] from namespaces NotIn [z]",
                np(
                    "x",
                    "expressions",
                    "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from:\n        - podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}\n          namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [z]}]}\n",
                ),
            ),
            (
                "Exists pod, and DoesNotExist team: every pod of every namespace",
                np(
                    "x",
                    "expressions",
                    "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from:\n        - podSelector: {matchExpressions: [{key: pod, operator: Exists}]}\n          namespaceSelector: {matchExpressions: [{key: team, operator: DoesNotExist}]}\n",
                ),
            ),
        ],
    ));
    out.push(grid_case(
        &mut c,
        "empty-selectors",
        "podSelector: {} is the policy's namespace, namespaceSelector: {} every namespace",
        &["4.3", "5.11"],
        |_| {
            vec![
                (
                    "y accepts only pods of y",
                    np(
                        "y",
                        "same-namespace",
                        "  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n",
                    ),
                ),
                (
                    "y accepts every pod",
                    np(
                        "y",
                        "same-namespace",
                        "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}}]}]\n",
                    ),
                ),
            ]
        },
    ));
    out.push(grid_case(
        &mut c,
        "namespace-name-label",
        "should enforce policy based on the namespace name label (kubernetes.io/metadata.name)",
        &["4.4", "5.11"],
        |_| vec![
            (
                "z accepts namespace y only, by its name label",
                np(
                "z",
                "from-y-by-name",
                "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: \"y\"}}}]}]\n",
            ),
            ),
        ],
    ));
    out.push(CaseDef {
        id: "ports-numbered-and-named",
        title: "should enforce policy based on Ports, by number and by name",
        rules: vec!["5.6", "5.7", "5.9", "5.13"],
        requires: vec![],
        steps: vec![
            step(
                "x/a accepts TCP 80 by number",
                np("x", "ports", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{port: 80}]}]\n"),
                (81, TCP),
            ),
            step(
                "x/a accepts the named port serve-81-tcp",
                np("x", "ports", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{port: serve-81-tcp, protocol: TCP}]}]\n"),
                (81, TCP),
            ),
            step(
                "x/a accepts every TCP port (a port entry without a port)",
                np("x", "ports", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{protocol: TCP}]}]\n"),
                (81, UDP),
            ),
        ],
    });
    out.push(CaseDef {
        id: "end-port",
        title: "should enforce policy based on a port range (endPort)",
        rules: vec!["5.8"],
        requires: vec![],
        steps: vec![
            step(
                "x/a accepts TCP 75-80",
                np("x", "range", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{port: 75, endPort: 80, protocol: TCP}]}]\n"),
                (80, TCP),
            ),
            StepDef {
                grid: Some((81, TCP)),
                description: "the same range, port 81",
                ..StepDef::default()
            },
        ],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "protocols",
        title: "should enforce policy based on protocols: UDP, SCTP; an SCTP-only rule isolates for TCP",
        rules: vec!["5.7", "5.10"],
        requires: vec![],
        steps: vec![
            step(
                "x/a accepts SCTP only",
                np("x", "sctp-only", &format!("  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress: [{{ports: [{{port: {p}, protocol: SCTP}}]}}]\n")),
                (p, SCTP),
            ),
            StepDef {
                grid: Some((p, TCP)),
                description: "the same policy, TCP",
                ..StepDef::default()
            },
            step(
                "x/a accepts UDP only",
                np("x", "sctp-only", &format!("  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress: [{{ports: [{{port: {p}, protocol: UDP}}]}}]\n")),
                (p, UDP),
            ),
        ],
    });
    out.push(grid_case(
        &mut c,
        "ip-block",
        "should allow ingress access from an ipBlock with except",
        &["5.12"],
        |_| vec![
            (
                "y/a accepts the pod network, except the node range",
                np(
                "y",
                "from-cidr",
                "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.250.0.0/16]}}]}]\n",
            ),
            ),
        ],
    ));
    out.push(grid_case(
        &mut c,
        "egress-and-ingress-both-needed",
        "pod to pod needs the source's egress and the destination's ingress",
        &["5.4"],
        |_| vec![
            (
                "x/a may only reach y; y/b accepts only z",
                format!(
                "{}---\n{}",
                np("x", "a-to-y", "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{to: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n"),
                np("y", "b-from-z", "  podSelector: {matchLabels: {pod: b}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]\n")
            ),
            ),
        ],
    ));
    let p = c.port();
    out.push(CaseDef {
        id: "create-update-delete-policy",
        title: "Create/update/delete policy",
        rules: vec!["5.14"],
        requires: vec![],
        steps: vec![
            step(
                "create: x/a accepts x/b",
                np("x", "moving", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]\n"),
                (p, TCP),
            ),
            step(
                "update: x/a accepts x/c instead",
                np("x", "moving", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: c}}}]}]\n"),
                (p, TCP),
            ),
            StepDef {
                description: "delete the policy",
                delete: np("x", "moving", "  podSelector: {}\n"),
                grid: Some((p, TCP)),
                ..StepDef::default()
            },
        ],
    });
    out.push(grid_case(
        &mut c,
        "set-pod-labels",
        "Update pod labels so that the policy selects another pod",
        &["5.1", "5.11"],
        |_| vec![
            (
                "x pods labelled role=db accept only x/a",
                np("x", "db", "  podSelector: {matchLabels: {role: db}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]\n"),
            ),
            (
                "label x/c role=db",
                super::grid_pod("x", "c", ", role: db"),
            ),
        ],
    ));
    out.push(grid_case(
        &mut c,
        "set-namespace-labels",
        "Update namespace so that policy applies, then again so it no longer applies",
        &["5.11", "4.1"],
        |_| vec![
            (
                "x/a accepts namespaces labelled team=blue (none yet)",
                np("x", "from-blue", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}]}]\n"),
            ),
            (
                "label z team=blue",
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: z, labels: {ns: z, team: blue}}\n".to_string(),
            ),
            (
                "label z without team",
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: z, labels: {ns: z}}\n".to_string(),
            ),
        ],
    ));
    let p = c.port();
    out.push(CaseDef {
        id: "delete-pod",
        title: "Create/delete pod: a deleted pod is neither probed nor matched",
        rules: vec!["5.1", "5.11"],
        requires: vec![],
        steps: vec![
            step(
                "y/a accepts pods labelled pod=c of y",
                np("y", "from-c", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: c}}}]}]\n"),
                (p, TCP),
            ),
            StepDef {
                description: "delete y/c",
                delete: super::grid_pod("y", "c", ""),
                grid: Some((p, TCP)),
                deletes_pods: vec![pod("y/c")],
                ..StepDef::default()
            },
        ],
    });
    out.push(CaseDef {
        id: "services",
        title: "probes through Services: translated before policy, on the target port",
        rules: vec!["6.1", "6.2", "6.3", "6.4", "6.9", "6.10"],
        requires: vec![],
        steps: vec![
            step(
                "x/a accepts TCP 80 only",
                np("x", "a-80", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{port: 80}]}]\n"),
                (80, TCP),
            ),
            StepDef {
                description: "the Services: ports 80 and 81 of s-x-a, x/web (x/a and x/b on port 8080 to serve-80-tcp), an unknown port, headless, an external address",
                extra: ["y/b", "z/c"]
                    .iter()
                    .flat_map(|from| {
                        [
                            probe(from, "service:x/s-x-a", TCP, 80),
                            probe(from, "service:x/s-x-a", TCP, 81),
                            probe(from, "service:x/web", TCP, 8080),
                            probe(from, "service:x/web", TCP, 9999),
                            probe(from, "service:x/headless", TCP, 80),
                            probe(from, "service:x/public", TCP, 80),
                        ]
                    })
                    .collect(),
                ..StepDef::default()
            },
            StepDef {
                description: "x/b accepts only x/c: x/web's backends now differ for y/b",
                apply: np("x", "b-from-c", "  podSelector: {matchLabels: {pod: b}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: c}}}]}]\n"),
                extra: vec![
                    probe("y/b", "service:x/web", TCP, 8080),
                    probe("x/c", "service:x/web", TCP, 8080),
                ],
                ..StepDef::default()
            },
        ],
    });
    out.push(CaseDef {
        id: "service-backends",
        title: "no backend: not ready, none selected, only on other nodes, ExternalName",
        rules: vec!["6.5", "6.6", "6.7", "6.8"],
        requires: vec![],
        steps: vec![StepDef {
            description: "probe the Services without backends for some clients",
            extra: vec![
                probe("x/b", "service:z/s-z-u", TCP, 80),
                probe("x/b", "service:x/empty", TCP, 80),
                probe("y/a", "service:x/local", TCP, 80),
                probe("y/b", "service:x/local", TCP, 80),
                probe("x/b", "service:x/ext", TCP, 80),
            ],
            ..StepDef::default()
        }],
    });
    out.push(CaseDef {
        id: "held-connections",
        title: "connections opened before a policy change, and through a Service that goes away",
        rules: vec!["5.15", "6.11", "7.4"],
        requires: vec!["held-probes"],
        steps: vec![
            StepDef {
                description: "open y/b -> x/a on 80, and y/c -> x/s-x-b on 80, and keep them open",
                extra: vec![held("y/b", "x/a", 80), held("y/c", "service:x/s-x-b", 80)],
                ..StepDef::default()
            },
            StepDef {
                description: "deny all ingress in x, delete the Service x/s-x-b",
                apply: np("x", "deny-all", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
                delete: "apiVersion: v1\nkind: Service\nmetadata: {name: s-x-b, namespace: x}\nspec: {ports: [{port: 80}]}\n".to_string(),
                extra: vec![held("y/b", "x/a", 80), held("y/c", "service:x/s-x-b", 80)],
                ..StepDef::default()
            },
        ],
    });
    out.push(CaseDef {
        id: "host-network-and-node",
        title: "a host-network client: its node's traffic, exempt to pods of its own node",
        rules: vec![],
        requires: vec![],
        steps: vec![StepDef {
            description: "deny all ingress in x; probe from x/h (host network, on kind-worker) to x/a (kind-worker) and x/b (kind-worker2)",
            apply: np("x", "deny-all", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
            extra: vec![probe("x/h", "x/a", TCP, 80), probe("x/h", "x/b", TCP, 80)],
            ..StepDef::default()
        }],
    });
    out.push(CaseDef {
        id: "self-and-hairpin",
        title: "a pod to itself, directly and through its own Service, when it is isolated",
        rules: vec![],
        requires: vec![],
        steps: vec![StepDef {
            description: "x/a accepts nothing; x/a probes itself and s-x-a",
            apply: np(
                "x",
                "deny-a",
                "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Ingress]\n",
            ),
            extra: vec![
                probe("x/a", "x/a", TCP, 80),
                probe("x/a", "service:x/s-x-a", TCP, 80),
            ],
            ..StepDef::default()
        }],
    });
    out.push(CaseDef {
        id: "icmp",
        title: "ICMP (ping): matched by rules without ports only",
        rules: vec!["5.10"],
        requires: vec!["icmp-probes"],
        steps: vec![
            StepDef {
                description: "x/a accepts TCP 80 from anyone: ping is denied",
                apply: np("x", "icmp", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{port: 80}]}]\n"),
                extra: vec![probe("y/a", "x/a", ICMP, 0)],
                ..StepDef::default()
            },
            StepDef {
                description: "x/a accepts anything from namespace y: ping from y is allowed",
                apply: np("x", "icmp", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n"),
                extra: vec![probe("y/a", "x/a", ICMP, 0), probe("z/a", "x/a", ICMP, 0)],
                ..StepDef::default()
            },
        ],
    });
    out.push(CaseDef {
        id: "named-port-conflict",
        title: "one port name on two numbers in two containers",
        rules: vec!["5.9"],
        requires: vec![],
        steps: vec![StepDef {
            description: "z/d accepts its named port serve-multi (80 and 81)",
            apply: np("z", "multi", "  podSelector: {matchLabels: {pod: d}}\n  ingress: [{ports: [{port: serve-multi}]}]\n"),
            extra: vec![probe("x/a", "z/d", TCP, 80), probe("x/a", "z/d", TCP, 81)],
            ..StepDef::default()
        }],
    });
    out.push(CaseDef {
        id: "multi-network",
        title: "a second network: reachable from the cluster network only in a type 1 cluster",
        rules: vec![],
        requires: vec!["multus"],
        steps: vec![StepDef {
            description: "x/a probes x/m on its net2 address",
            extra: vec![probe("x/a", "ip:192.168.200.10", TCP, 80)],
            ..StepDef::default()
        }],
    });
    out.push(CaseDef {
        id: "multi-network-policies",
        title: "which policies filter a second network: NetworkPolicy on the primary one only, MultiNetworkPolicy on net2",
        rules: vec![],
        requires: vec!["multus", "multi-networkpolicy"],
        steps: vec![
            StepDef {
                description: "x/m accepts nothing by NetworkPolicy: its cluster address is isolated, its net2 address is not",
                apply: np("x", "deny-m", "  podSelector: {matchLabels: {pod: m}}\n  policyTypes: [Ingress]\n"),
                extra: vec![
                    probe("x/a", "x/m", TCP, 80),
                    probe("x/a", "ip:192.168.200.10", TCP, 80),
                ],
                ..StepDef::default()
            },
            StepDef {
                description: "instead, a MultiNetworkPolicy for net2 selects x/m, with neither policyTypes nor rules",
                delete: np("x", "deny-m", "  podSelector: {}\n"),
                apply: "apiVersion: k8s.cni.cncf.io/v1beta1\nkind: MultiNetworkPolicy\nmetadata:\n  name: net2-m\n  namespace: x\n  annotations: {k8s.v1.cni.cncf.io/policy-for: x/net2}\nspec:\n  podSelector: {matchLabels: {pod: m}}\n".to_string(),
                extra: vec![
                    probe("x/a", "x/m", TCP, 80),
                    probe("x/a", "ip:192.168.200.10", TCP, 80),
                ],
                ..StepDef::default()
            },
            StepDef {
                description: "the MultiNetworkPolicy admits pods labelled pod=m by a podSelector without namespaceSelector: y/m (on net2 too) probes x/m's net2 address",
                apply: "apiVersion: k8s.cni.cncf.io/v1beta1\nkind: MultiNetworkPolicy\nmetadata:\n  name: net2-m\n  namespace: x\n  annotations: {k8s.v1.cni.cncf.io/policy-for: x/net2}\nspec:\n  podSelector: {matchLabels: {pod: m}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: m}}}]}]\n".to_string(),
                extra: vec![probe("y/m", "ip:192.168.200.10", TCP, 80)],
                ..StepDef::default()
            },
        ],
    });
    out.push(node_ports(&mut c));
    out.push(load_balancers(&mut c));
    out.push(topology(&mut c));
    out.push(CaseDef {
        id: "service-cidr",
        title: "an address of a ServiceCIDR that no Service holds is dropped",
        rules: vec!["6.17", "6.18"],
        requires: vec!["service-cidrs"],
        steps: vec![StepDef {
            description: "declare the ServiceCIDR netsem-extra (10.100.0.0/24); x/a probes an address of it no Service holds",
            apply: "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: netsem-extra}\nspec: {cidrs: [10.100.0.0/24]}\n".to_string(),
            extra: vec![probe("x/a", "ip:10.100.0.77", TCP, 80)],
            ..StepDef::default()
        }],
    });
    out
}

/// A Service manifest in `x` with a `spec` (indented two spaces) and perhaps a `status`.
fn svc(name: &str, spec: &str, status: &str) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: x}}\nspec:\n{spec}{status}")
}

/// Rules 6.10, 6.12, 6.13, 6.18, 7.10: node ports under both external traffic policies, from
/// outside the cluster, from a node (the host-network x/h on kind-worker) and from a pod; then
/// the backend isolated, where masquerading decides what its policy sees.
fn node_ports(c: &mut Choices) -> CaseDef {
    let p = c.port();
    let services = format!(
        "{}---\n{}",
        svc(
            "np-cluster",
            &format!("  type: NodePort\n  selector: {{pod: b}}\n  ports: [{{port: 80, targetPort: {p}, nodePort: 30080, protocol: TCP}}]\n"),
            ""
        ),
        svc(
            "np-local",
            &format!("  type: NodePort\n  externalTrafficPolicy: Local\n  selector: {{pod: b}}\n  ports: [{{port: 80, targetPort: {p}, nodePort: 30081, protocol: TCP}}]\n"),
            ""
        )
    );
    let probes = || {
        let mut v = Vec::new();
        for from in ["outside", "x/h"] {
            for node in ["kind-worker", "kind-worker2"] {
                for port in [30080, 30081] {
                    v.push(probe(from, &format!("node:{node}"), TCP, port));
                }
            }
        }
        v.push(probe("y/a", "node:kind-worker", TCP, 30081));
        v.push(probe("y/a", "node:kind-worker2", TCP, 30081));
        v.push(probe("outside", "service:x/np-cluster", TCP, 80));
        v.push(probe("x/h", "service:x/local", TCP, 80));
        v
    };
    CaseDef {
        id: "node-ports",
        title: "node ports from outside, from a node and from a pod, under both external traffic policies",
        rules: vec!["6.10", "6.12", "6.13", "6.18"],
        requires: vec!["outside-probes"],
        steps: vec![
            StepDef {
                description: "x/np-cluster (nodePort 30080) and x/np-local (30081, externalTrafficPolicy: Local) select x/b on kind-worker2",
                apply: services,
                extra: probes(),
                ..StepDef::default()
            },
            StepDef {
                description: "x/b accepts nothing: only what its own node sends reaches it (a masqueraded client on kind-worker2 looks like that node)",
                apply: np("x", "deny-b", "  podSelector: {matchLabels: {pod: b}}\n  policyTypes: [Ingress]\n"),
                extra: probes(),
                ..StepDef::default()
            },
        ],
    }
}

/// Rules 6.13, 6.14: load-balancer addresses with and without `loadBalancerSourceRanges`,
/// whatever addresses the cluster's load balancer assigns (a runner reads them from the
/// Services' status; netsem uses those of the manifests).
fn load_balancers(c: &mut Choices) -> CaseDef {
    let p = c.port();
    let lb = |name: &str, extra: &str, ip: &str| {
        svc(
            name,
            &format!("  type: LoadBalancer\n  selector: {{pod: a}}\n{extra}  ports: [{{port: 80, targetPort: {p}, protocol: TCP}}]\n"),
            &format!("status: {{loadBalancer: {{ingress: [{{ip: {ip}}}]}}}}\n"),
        )
    };
    let services = format!(
        "{}---\n{}",
        lb(
            "lb-closed",
            "  loadBalancerSourceRanges: [192.0.2.0/24]\n",
            "203.0.113.90"
        ),
        lb(
            "lb-open",
            "  externalTrafficPolicy: Local\n",
            "203.0.113.91"
        )
    );
    CaseDef {
        id: "load-balancers",
        title: "load-balancer addresses: source ranges admit only their clients",
        rules: vec!["6.13", "6.14", "6.18"],
        requires: vec!["outside-probes", "load-balancer"],
        steps: vec![StepDef {
            description: "x/lb-closed admits only 192.0.2.0/24 (nobody here); x/lb-open admits everyone, externalTrafficPolicy: Local; both select x/a",
            apply: services,
            extra: vec![
                probe("outside", "lb:x/lb-closed", TCP, 80),
                probe("outside", "lb:x/lb-open", TCP, 80),
                probe("y/b", "lb:x/lb-closed", TCP, 80),
                probe("y/b", "lb:x/lb-open", TCP, 80),
            ],
            ..StepDef::default()
        }],
    }
}

/// Rule 6.15: `trafficDistribution: PreferSameZone` keeps a client in its zone, which an
/// isolated backend makes visible: the Service's verdict is its zone's backend's.
fn topology(c: &mut Choices) -> CaseDef {
    let p = c.port();
    let node = |name: &str, zone: &str, ip: &str| {
        format!("apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}, topology.kubernetes.io/zone: {zone}}}}}\nstatus: {{addresses: [{{type: InternalIP, address: {ip}}}]}}\n")
    };
    let apply = format!(
        "{}---\n{}---\n{}---\n{}",
        node("kind-worker", "zone-a", "172.18.0.3"),
        node("kind-worker2", "zone-b", "172.18.0.4"),
        svc(
            "zonal",
            &format!("  selector: {{app: web}}\n  trafficDistribution: PreferSameZone\n  ports: [{{port: 80, targetPort: {p}, protocol: TCP}}]\n"),
            ""
        ),
        np("x", "deny-a", "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Ingress]\n")
    );
    CaseDef {
        id: "topology",
        title: "PreferSameZone keeps clients in their zone",
        rules: vec!["6.15", "6.1"],
        requires: vec![],
        steps: vec![StepDef {
            description: "zones zone-a (kind-worker: x/a) and zone-b (kind-worker2: x/b); x/zonal selects both, PreferSameZone; x/a accepts nothing",
            apply,
            extra: vec![
                probe("y/a", "service:x/zonal", TCP, 80),
                probe("y/b", "service:x/zonal", TCP, 80),
                probe("y/a", "service:x/web", TCP, 8080),
            ],
            ..StepDef::default()
        }],
    }
}
