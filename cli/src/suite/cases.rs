//! The cases of the conformance suite, in the style of the upstream e2e netpol tests and
//! cyclonus: each is ordered steps of manifests to apply or delete, with probes. The seed picks
//! the ports the policies and probes use (80 or 81), so two seeds give two suites of the same
//! shape. The rules each case names are those its policies and probes exercise; the generator
//! adds the rule of every profile switch that changes one of its probes.

use super::To;
use netsem_spec::{PodId, Protocol};

/// A probe of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeDef {
    /// The client.
    pub from: PodId,
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
        from: pod(from),
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
    let p = c.port();
    out.push(CaseDef {
        id: "default-deny-ingress",
        title: "should support a 'default-deny-ingress' policy",
        rules: vec!["4.3", "5.1", "5.2", "5.3", "5.5"],
        requires: vec![],
        steps: vec![step(
            "deny all ingress in x",
            np(
                "x",
                "default-deny-ingress",
                "  podSelector: {}\n  policyTypes: [Ingress]\n",
            ),
            (p, TCP),
        )],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "default-deny-egress",
        title: "should support a 'default-deny-egress' policy; replies still flow into x",
        rules: vec!["5.2", "5.3", "5.15"],
        requires: vec![],
        steps: vec![step(
            "deny all egress in x (egress: [] does not add Egress, policyTypes does)",
            np(
                "x",
                "default-deny-egress",
                "  podSelector: {}\n  policyTypes: [Egress]\n  egress: []\n",
            ),
            (p, TCP),
        )],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "egress-rule-isolates",
        title: "egress: [{}] without policyTypes isolates for egress and allows everything",
        rules: vec!["5.3", "5.5"],
        requires: vec![],
        steps: vec![step(
            "x/a: ingress [] and egress [{}], no policyTypes",
            np(
                "x",
                "egress-any",
                "  podSelector: {matchLabels: {pod: a}}\n  egress: [{}]\n",
            ),
            (p, TCP),
        )],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "allow-from-pod-selector",
        title: "should enforce policy to allow traffic from pods within server namespace based on PodSelector",
        rules: vec!["4.1", "5.1", "5.4", "5.6", "5.11"],
        requires: vec![],
        steps: vec![step(
            "x/a accepts x/b only",
            np(
                "x",
                "allow-b-to-a",
                &format!("  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress:\n    - from: [{{podSelector: {{matchLabels: {{pod: b}}}}}}]\n      ports: [{{port: {p}, protocol: TCP}}]\n"),
            ),
            (p, TCP),
        )],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "allow-from-namespace-selector",
        title: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
        rules: vec!["4.1", "5.11"],
        requires: vec![],
        steps: vec![step(
            "x/a accepts every pod of namespace y",
            np(
                "x",
                "allow-ns-y",
                "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]\n",
            ),
            (p, TCP),
        )],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "namespace-and-pod-selector",
        title: "one peer with both selectors is their AND; two peers are an OR",
        rules: vec!["5.11", "5.4"],
        requires: vec![],
        steps: vec![
            step(
                "x/a accepts pods b of namespace y (one peer)",
                np(
                    "x",
                    "and-peer",
                    "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}, podSelector: {matchLabels: {pod: b}}}]\n",
                ),
                (p, TCP),
            ),
            step(
                "the same selectors as two peers: every pod of y, and every pod b of x",
                np(
                    "x",
                    "and-peer",
                    "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}, {podSelector: {matchLabels: {pod: b}}}]\n",
                ),
                (p, TCP),
            ),
        ],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "match-expressions",
        title: "matchExpressions: In, NotIn, Exists, DoesNotExist",
        rules: vec!["4.1", "4.2"],
        requires: vec![],
        steps: vec![
            step(
                "x/a accepts pods whose pod label is In [b] from namespaces NotIn [z]",
                np(
                    "x",
                    "expressions",
                    "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from:\n        - podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}\n          namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [z]}]}\n",
                ),
                (p, TCP),
            ),
            step(
                "Exists pod, and DoesNotExist team: every pod of every namespace",
                np(
                    "x",
                    "expressions",
                    "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n    - from:\n        - podSelector: {matchExpressions: [{key: pod, operator: Exists}]}\n          namespaceSelector: {matchExpressions: [{key: team, operator: DoesNotExist}]}\n",
                ),
                (p, TCP),
            ),
        ],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "empty-selectors",
        title: "podSelector: {} is the policy's namespace, namespaceSelector: {} every namespace",
        rules: vec!["4.3", "5.11"],
        requires: vec![],
        steps: vec![
            step(
                "y accepts only pods of y",
                np(
                    "y",
                    "same-namespace",
                    "  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n",
                ),
                (p, TCP),
            ),
            step(
                "y accepts every pod",
                np(
                    "y",
                    "same-namespace",
                    "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}}]}]\n",
                ),
                (p, TCP),
            ),
        ],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "namespace-name-label",
        title: "should enforce policy based on the namespace name label (kubernetes.io/metadata.name)",
        rules: vec!["4.4", "5.11"],
        requires: vec![],
        steps: vec![step(
            "z accepts namespace y only, by its name label",
            np(
                "z",
                "from-y-by-name",
                "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: \"y\"}}}]}]\n",
            ),
            (p, TCP),
        )],
    });
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
    let p = c.port();
    out.push(CaseDef {
        id: "ip-block",
        title: "should allow ingress access from an ipBlock with except",
        rules: vec!["5.12"],
        requires: vec![],
        steps: vec![step(
            "y/a accepts the pod network, except the node range",
            np(
                "y",
                "from-cidr",
                "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.250.0.0/16]}}]}]\n",
            ),
            (p, TCP),
        )],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "egress-and-ingress-both-needed",
        title: "pod to pod needs the source's egress and the destination's ingress",
        rules: vec!["5.4"],
        requires: vec![],
        steps: vec![step(
            "x/a may only reach y; y/b accepts only z",
            format!(
                "{}---\n{}",
                np("x", "a-to-y", "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{to: [{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]\n"),
                np("y", "b-from-z", "  podSelector: {matchLabels: {pod: b}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]\n")
            ),
            (p, TCP),
        )],
    });
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
    let p = c.port();
    out.push(CaseDef {
        id: "set-pod-labels",
        title: "Update pod labels so that the policy selects another pod",
        rules: vec!["5.1", "5.11"],
        requires: vec![],
        steps: vec![
            step(
                "x pods labelled role=db accept only x/a",
                np("x", "db", "  podSelector: {matchLabels: {role: db}}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: a}}}]}]\n"),
                (p, TCP),
            ),
            step(
                "label x/c role=db",
                super::grid_pod("x", "c", ", role: db"),
                (p, TCP),
            ),
        ],
    });
    let p = c.port();
    out.push(CaseDef {
        id: "set-namespace-labels",
        title: "Update namespace so that policy applies, then again so it no longer applies",
        rules: vec!["5.11", "4.1"],
        requires: vec![],
        steps: vec![
            step(
                "x/a accepts namespaces labelled team=blue (none yet)",
                np("x", "from-blue", "  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}]}]\n"),
                (p, TCP),
            ),
            step(
                "label z team=blue",
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: z, labels: {ns: z, team: blue}}\n".to_string(),
                (p, TCP),
            ),
            step(
                "label z without team",
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: z, labels: {ns: z}}\n".to_string(),
                (p, TCP),
            ),
        ],
    });
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
    out
}
