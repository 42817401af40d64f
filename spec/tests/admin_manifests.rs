//! Cluster-admin policy manifests (rules 11.10, 11.12, 11.13): what the CRDs admit converts to
//! the spec's object, what they reject is an error naming the document, the object and the
//! field, and fields netsem does not know fail closed with a warning.

use netsem_spec::admin::{
    Action, AdminKind, AdminPeer, AdminProtocol, ClusterNetworkPolicy, Subject, Tier,
};
use netsem_spec::manifest::{parse_str, Object};
use netsem_spec::Protocol;

const CNP: &str = "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n";
const ANP: &str = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n";
const BANP: &str =
    "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n";

fn policy(text: &str) -> (ClusterNetworkPolicy, Vec<String>) {
    let m = parse_str("p.yaml", text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut policies = m.objects.into_iter().filter_map(|(_, o)| match o {
        Object::AdminPolicy(p) => Some(p),
        _ => None,
    });
    let p = policies.next().expect("one admin policy");
    (p, m.warnings)
}

/// The whole error line, as the CLI prints it.
fn error(text: &str) -> String {
    match parse_str("p.yaml", text) {
        Ok(m) => panic!("loaded: {:?}\n{text}", m.objects),
        Err(e) => e.to_string(),
    }
}

fn cnp(spec: &str) -> String {
    format!("{CNP}metadata: {{name: p}}\nspec:\n{spec}")
}

#[test]
fn r11_12_a_valid_cluster_network_policy_converts_field_for_field() {
    let (p, warnings) = policy(&cnp(
        "  tier: Baseline\n  priority: 1000\n  subject: {pods: {podSelector: {matchLabels: {app: web}}}}\n  ingress:\n    - {name: r, action: Pass, from: [{namespaces: {}}], protocols: [{udp: {destinationPort: {number: 53}}}, {destinationNamedPort: http}]}\n  egress:\n    - {action: Deny, to: [{networks: [10.0.0.0/8, '::/0']}, {nodes: {}}], protocols: [{sctp: {destinationPort: {range: {start: 9000, end: 9100}}}}]}\n",
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(p.kind, AdminKind::ClusterNetworkPolicy);
    assert_eq!((p.tier, p.priority), (Tier::Baseline, 1000));
    assert!(matches!(&p.subject, Subject::Pods(n) if n.namespace_selector == Default::default()));
    assert_eq!(p.ingress[0].action, Action::Pass);
    assert_eq!(p.ingress[0].name.as_deref(), Some("r"));
    assert_eq!(
        p.ingress[0].protocols,
        Some(vec![
            AdminProtocol::Ports {
                protocol: Protocol::Udp,
                first: 53,
                last: 53
            },
            AdminProtocol::NamedPort("http".into()),
        ])
    );
    assert_eq!(
        p.egress[0].peers[0],
        AdminPeer::Networks(vec!["10.0.0.0/8".parse().unwrap(), "::/0".parse().unwrap()])
    );
    assert_eq!(p.egress[0].peers[1], AdminPeer::Nodes(Default::default()));
    assert_eq!(
        p.egress[0].protocols,
        Some(vec![AdminProtocol::Ports {
            protocol: Protocol::Sctp,
            first: 9000,
            last: 9100
        }])
    );
}

#[test]
fn r11_12_what_the_crd_rejects_names_document_object_and_field() {
    let rule = |r: &str| {
        cnp(&format!(
            "  tier: Admin\n  priority: 1\n  subject: {{namespaces: {{}}}}\n  egress:\n    - {r}\n"
        ))
    };
    let cases: Vec<(String, &str)> = vec![
        (
            cnp("  priority: 1\n  subject: {namespaces: {}}\n"),
            "spec.tier: Required value",
        ),
        (
            cnp("  tier: Middle\n  priority: 1\n  subject: {namespaces: {}}\n"),
            "spec.tier: Unsupported value `Middle`: supported values: \"Admin\", \"Baseline\"",
        ),
        (
            cnp("  tier: Admin\n  subject: {namespaces: {}}\n"),
            "spec.priority: Required value",
        ),
        (
            cnp("  tier: Admin\n  priority: 1001\n  subject: {namespaces: {}}\n"),
            "spec.priority: Invalid value: 1001: must be between 0 and 1000",
        ),
        (
            cnp("  tier: Admin\n  priority: -1\n  subject: {namespaces: {}}\n"),
            "spec.priority: Invalid value: -1: must be between 0 and 1000",
        ),
        (
            cnp("  tier: Admin\n  priority: 1\n"),
            "spec.subject: Required value",
        ),
        (
            cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}, pods: {podSelector: {}}}\n"),
            "spec.subject: Invalid value: exactly one of `namespaces` or `pods` must be set",
        ),
        (
            cnp("  tier: Admin\n  priority: 1\n  subject: {pods: {}}\n"),
            "spec.subject.pods.podSelector: Required value",
        ),
        (
            rule("{action: Allow, to: [{namespaces: {}}]}"),
            "spec.egress[0].action: Unsupported value `Allow`: supported values: \"Accept\", \"Deny\", \"Pass\"",
        ),
        (
            rule("{to: [{namespaces: {}}]}"),
            "spec.egress[0].action: Required value",
        ),
        (
            rule("{action: Deny}"),
            "spec.egress[0].to: Required value",
        ),
        (
            rule("{action: Deny, to: []}"),
            "spec.egress[0].to: Invalid value: 0 peers: must have between 1 and 25 items",
        ),
        (
            rule("{action: Deny, from: [{namespaces: {}}]}"),
            "spec.egress[0].from: unknown field: this direction's peers are `to`",
        ),
        (
            rule("{action: Deny, to: [{}]}"),
            "spec.egress[0].to[0]: Invalid value: exactly one field must be set, found none",
        ),
        (
            rule("{action: Deny, to: [{namespaces: {}, nodes: {}}]}"),
            "spec.egress[0].to[0]: Invalid value: exactly one field must be set, found `namespaces`, `nodes`",
        ),
        (
            rule("{action: Deny, to: [{networks: []}]}"),
            "spec.egress[0].to[0].networks: Invalid value: 0 CIDRs: must have between 1 and 25 items",
        ),
        (
            rule("{action: Deny, to: [{networks: [10.0.0.300/8]}]}"),
            "spec.egress[0].to[0].networks[0]: Invalid CIDR format provided: `10.0.0.300/8`",
        ),
        (
            rule("{action: Deny, to: [{networks: ['::ffff:10.0.0.1/128']}]}"),
            "spec.egress[0].to[0].networks[0]: Invalid CIDR format provided: `::ffff:10.0.0.1/128` is IPv4-mapped IPv6",
        ),
        (
            rule("{action: Deny, to: [{networks: ['1111:2222:3333:4444:5555:6666:255.255.255.255/128']}]}"),
            "spec.egress[0].to[0].networks[0]: Too long: may not be more than 43 bytes",
        ),
        (
            rule("{action: Deny, to: [{networks: [10.0.0.0/8, 10.0.0.0/8]}]}"),
            "spec.egress[0].to[0].networks[1]: Duplicate value: `10.0.0.0/8`",
        ),
        (
            rule("{action: Deny, to: [{namespaces: {}}], protocols: []}"),
            "spec.egress[0].protocols: Invalid value: 0 entries: must have between 1 and 25 items",
        ),
        (
            rule("{action: Deny, to: [{namespaces: {}}], protocols: [{tcp: {}}]}"),
            "spec.egress[0].protocols[0].tcp.destinationPort: Required value: the CRD admits no protocol without a destinationPort",
        ),
        (
            rule("{action: Deny, to: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {number: 0}}}]}"),
            "spec.egress[0].protocols[0].tcp.destinationPort.number: Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            rule("{action: Deny, to: [{namespaces: {}}], protocols: [{udp: {destinationPort: {number: 1, range: {start: 1, end: 2}}}}]}"),
            "spec.egress[0].protocols[0].udp.destinationPort: Invalid value: exactly one field must be set, found `number`, `range`",
        ),
        (
            rule("{action: Deny, to: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 80, end: 80}}}}]}"),
            "spec.egress[0].protocols[0].tcp.destinationPort.range: Invalid value: Start port must be less than End port (80 >= 80)",
        ),
        (
            rule("{action: Deny, to: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {number: 80}}, udp: {destinationPort: {number: 53}}}]}"),
            "spec.egress[0].protocols[0]: Invalid value: exactly one field must be set, found `tcp`, `udp`",
        ),
        (
            rule("{action: Accept, to: [{networks: [10.0.0.0/8]}], protocols: [{destinationNamedPort: http}]}"),
            "spec.egress[0]: Invalid value: networks/nodes peer cannot be set with named ports",
        ),
        (
            rule(&format!("{{name: {}, action: Deny, to: [{{namespaces: {{}}}}]}}", "n".repeat(101))),
            "spec.egress[0].name: Too long: may not be more than 100 bytes",
        ),
        (
            cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n    - {action: Deny, from: [{networks: [10.0.0.0/8]}]}\n"),
            "spec.ingress[0].from[0].networks: unknown field: ingress peers are `namespaces` or `pods`",
        ),
        (
            cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  policyTypes: [Ingress]\n"),
            "spec.policyTypes: unknown field `policyTypes`, expected one of `tier`, `priority`, `subject`, `ingress`, `egress`",
        ),
        (
            cnp(&format!(
                "  tier: Admin\n  priority: 1\n  subject: {{namespaces: {{}}}}\n  egress:\n{}",
                "    - {action: Deny, to: [{namespaces: {}}]}\n".repeat(26)
            )),
            "spec.egress: Too many: 26: must have at most 25 items",
        ),
        (
            cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {matchLabels: {'bad key!': x}}}\n"),
            "spec.subject.namespaces",
        ),
    ];
    for (text, want) in cases {
        let got = error(&text);
        assert!(
            got.starts_with("p.yaml: document 1: ClusterNetworkPolicy p: "),
            "{got}"
        );
        assert!(got.contains(want), "want `{want}`\n got `{got}`");
    }
}

#[test]
fn r11_13_v1alpha1_kinds_map_onto_the_tiers() {
    let (anp, _) = policy(&format!(
        "{ANP}metadata: {{name: a}}\nspec:\n  priority: 7\n  subject: {{pods: {{namespaceSelector: {{}}, podSelector: {{}}}}}}\n  ingress:\n    - {{action: Allow, from: [{{namespaces: {{}}}}], ports: [{{portNumber: {{port: 80}}}}, {{portRange: {{protocol: UDP, start: 5000, end: 5000}}}}, {{namedPort: dns}}]}}\n"
    ));
    assert_eq!(
        (anp.kind, anp.tier, anp.priority),
        (AdminKind::AdminNetworkPolicy, Tier::Admin, 7)
    );
    assert_eq!(anp.ingress[0].action, Action::Accept);
    assert_eq!(
        anp.ingress[0].protocols,
        Some(vec![
            AdminProtocol::Ports {
                protocol: Protocol::Tcp,
                first: 80,
                last: 80
            },
            AdminProtocol::Ports {
                protocol: Protocol::Udp,
                first: 5000,
                last: 5000
            },
            AdminProtocol::NamedPort("dns".into()),
        ])
    );
    let (banp, _) = policy(&format!(
        "{BANP}metadata: {{name: default}}\nspec:\n  subject: {{namespaces: {{}}}}\n  egress: [{{action: Deny, to: [{{networks: [0.0.0.0/0]}}]}}]\n"
    ));
    assert_eq!(
        (banp.kind, banp.tier, banp.priority),
        (AdminKind::BaselineAdminNetworkPolicy, Tier::Baseline, 0)
    );
    let rejected = [
        (
            format!("{BANP}metadata: {{name: other}}\nspec: {{subject: {{namespaces: {{}}}}}}\n"),
            "BaselineAdminNetworkPolicy other: metadata.name: Invalid value: only one BaselineAdminNetworkPolicy, named `default`, can exist",
        ),
        (
            format!("{BANP}metadata: {{name: default}}\nspec:\n  subject: {{namespaces: {{}}}}\n  ingress: [{{action: Pass, from: [{{namespaces: {{}}}}]}}]\n"),
            "spec.ingress[0].action: Unsupported value `Pass`: supported values: \"Allow\", \"Deny\"",
        ),
        (
            format!("{BANP}metadata: {{name: default}}\nspec: {{priority: 3, subject: {{namespaces: {{}}}}}}\n"),
            "spec.priority: unknown field: a BaselineAdminNetworkPolicy has no priority",
        ),
        (
            format!("{ANP}metadata: {{name: a}}\nspec: {{priority: 1, subject: {{pods: {{podSelector: {{}}}}}}}}\n"),
            "spec.subject.pods.namespaceSelector: Required value",
        ),
        (
            format!("{ANP}metadata: {{name: a}}\nspec: {{tier: Admin, priority: 1, subject: {{namespaces: {{}}}}}}\n"),
            "spec.tier: unknown field: v1alpha1 kinds have no tier",
        ),
        (
            format!("{ANP}metadata: {{name: a}}\nspec:\n  priority: 1\n  subject: {{namespaces: {{}}}}\n  ingress: [{{action: Accept, from: [{{namespaces: {{}}}}]}}]\n"),
            "spec.ingress[0].action: Unsupported value `Accept`: supported values: \"Allow\", \"Deny\", \"Pass\"",
        ),
        (
            format!("{ANP}metadata: {{name: a}}\nspec:\n  priority: 1\n  subject: {{namespaces: {{}}}}\n  ingress: [{{action: Deny, from: [{{namespaces: {{}}}}], protocols: [{{tcp: {{destinationPort: {{number: 1}}}}}}]}}]\n"),
            "spec.ingress[0].protocols: unknown field: this API version's field is `ports`",
        ),
        (
            format!("{ANP}metadata: {{name: a}}\nspec:\n  priority: 1\n  subject: {{namespaces: {{}}}}\n  ingress: [{{action: Deny, from: [{{namespaces: {{}}}}], ports: [{{portRange: {{start: 9, end: 8}}}}]}}]\n"),
            "spec.ingress[0].ports[0].portRange: Invalid value: start 9 must not be greater than end 8",
        ),
        (
            format!("{ANP}metadata: {{name: a}}\nspec:\n  priority: 1\n  subject: {{namespaces: {{}}}}\n  ingress: [{{action: Deny, from: [{{namespaces: {{}}}}], ports: [{{portNumber: {{protocol: ICMP, port: 8}}}}]}}]\n"),
            "spec.ingress[0].ports[0].portNumber.protocol",
        ),
        (
            "apiVersion: policy.networking.k8s.io/v1\nkind: ClusterNetworkPolicy\nmetadata: {name: a}\n".to_string(),
            "apiVersion: unsupported apiVersion `policy.networking.k8s.io/v1` for kind ClusterNetworkPolicy: expected `policy.networking.k8s.io/v1alpha2`",
        ),
    ];
    for (text, want) in rejected {
        let got = error(&text);
        assert!(got.contains(want), "want `{want}`\n got `{got}`");
    }
}

#[test]
fn r11_10_unknown_peer_and_protocol_fields_fail_closed_with_a_warning() {
    let (p, warnings) = policy(&cnp(
        "  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n    - {action: Accept, to: [{domainNames: [example.com]}]}\n    - {action: Pass, to: [{namespaces: {}}], protocols: [{icmp: {}}]}\n",
    ));
    assert_eq!(
        p.egress[0].peers,
        vec![AdminPeer::Unknown("domainNames".into())]
    );
    assert_eq!(
        p.egress[1].protocols,
        Some(vec![AdminProtocol::Unknown("icmp".into())])
    );
    assert_eq!(
        warnings,
        vec![
            "p.yaml: document 1: ClusterNetworkPolicy p: spec.egress[0].to[0]: netsem does not model DNS, so it cannot match `domainNames`: the rule fails closed, the Accept rule matches nothing (rule 11.10)",
            "p.yaml: document 1: ClusterNetworkPolicy p: spec.egress[1].protocols[0]: a protocol field netsem does not know, `icmp`: the rule fails closed, the rule denies all traffic (rule 11.10)",
        ]
    );
}

#[test]
fn r11_12_hostile_input_is_an_error_not_a_panic() {
    for text in [
        cnp("  tier: Admin\n  priority: 99999999999999999999\n  subject: {namespaces: {}}\n"),
        cnp("  tier: [Admin]\n  priority: 1\n  subject: {namespaces: {}}\n"),
        cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress: [{action: Deny, to: [{networks: [1]}]}]\n"),
        cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress: [{action: Deny, to: [{networks: ['10.0.0.0/8/8']}]}]\n"),
        cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress: [{action: Deny, to: [{namespaces: {}}], protocols: [{tcp: {destinationPort: {range: {start: 70000, end: 70001}}}}]}]\n"),
        cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress: [{action: Deny, to: [{namespaces: {}}], protocols: [{tcp: []}]}]\n"),
        cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress: [{action: Deny, to: [7]}]\n"),
        cnp("  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress: [{action: Deny, to: [{networks: ['1111:2222:3333:4444:5555:6666:7777:08888/128']}]}]\n"),
        format!("{CNP}metadata: {{name: p}}\n"),
        format!("{CNP}metadata: {{name: 'Not A Name'}}\nspec: {{tier: Admin, priority: 1, subject: {{namespaces: {{}}}}}}\n"),
    ] {
        let got = error(&text);
        assert!(got.starts_with("p.yaml: document 1: ClusterNetworkPolicy"), "{got}");
    }
}
