//! Rule tests through the public API of `netsem_spec`, for what a trace cannot show well: the
//! explanation inside a [`Decision`] (which policy, rule and peer matched; which policies
//! isolate; which exemption applied), exact [`State`] equality around failing primitives,
//! `policyTypes` defaulting, deserialization, and the trace machinery itself. Each test is named
//! after the docs/SEMANTICS.md rule it checks.

use netsem_spec::decision::{PeerOutcome, RuleOutcome};
use netsem_spec::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::IpAddr;

// ----- helpers ------------------------------------------------------------------------------

fn pod_id(s: &str) -> PodId {
    s.parse().unwrap()
}

fn svc_id(s: &str) -> ServiceId {
    s.parse().unwrap()
}

fn pol_id(s: &str) -> PolicyId {
    s.parse().unwrap()
}

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    netsem_spec::selector::labels(pairs.iter().copied())
}

fn pod(id: &str, pairs: &[(&str, &str)]) -> Pod {
    Pod::new(pod_id(id), labels(pairs))
}

fn policy(v: serde_json::Value) -> NetworkPolicy {
    serde_json::from_value(v).unwrap()
}

fn service(v: serde_json::Value) -> Service {
    serde_json::from_value(v).unwrap()
}

fn on_eth0(ips: &[&str]) -> Vec<Attachment> {
    vec![Attachment::primary(ips.iter().map(|s| ip(s)).collect())]
}

fn attachment(interface: &str, network: &str, ips: &[&str]) -> Attachment {
    Attachment {
        interface: interface.to_string(),
        network: network.to_string(),
        addresses: ips.iter().map(|s| ip(s)).collect(),
    }
}

fn state(profile: &str) -> State {
    State::new(profile.parse().unwrap())
}

fn endpoint(s: &State, id: &str) -> Endpoint {
    s.pod_endpoint(&pod_id(id), None).unwrap()
}

fn tcp_decision(s: &State, from: &str, to: &str, port: u16) -> Decision {
    let dst = endpoint(s, to);
    let src = s.pod_endpoint(&pod_id(from), dst.address()).unwrap();
    s.decide(&src, &dst, Protocol::Tcp, port, None)
}

/// Pods `p/web` (10.0.0.1) and `p/client` (10.0.0.2), under the default profile.
fn web_and_client() -> State {
    let mut s = state("default");
    s.add_pod(pod("p/web", &[("app", "web")]), on_eth0(&["10.0.0.1"]))
        .unwrap();
    s.add_pod(
        pod("p/client", &[("app", "client")]),
        on_eth0(&["10.0.0.2"]),
    )
    .unwrap();
    s
}

/// The rules that allowed a direction (rule 5.4).
fn allowing(v: &Option<DirectionVerdict>) -> Vec<RuleMatch> {
    let v = v.as_ref().expect("a policed pod has a verdict");
    assert!(v.allowed(), "{v:?}");
    v.allowing().collect()
}

/// The policies that isolate a denied direction (rule 5.2).
fn isolating(v: &Option<DirectionVerdict>) -> Vec<PolicyId> {
    let v = v.as_ref().expect("a policed pod has a verdict");
    assert!(!v.allowed(), "{v:?}");
    v.policies.iter().map(|p| p.policy.clone()).collect()
}

fn not_isolated(v: &Option<DirectionVerdict>) -> bool {
    v.as_ref().is_some_and(|v| !v.isolated())
}

// ----- 5.3: policyTypes defaulting ----------------------------------------------------------

#[test]
fn r5_3_policy_types_default_from_the_rules() {
    use PolicyType::{Egress, Ingress};
    let cases = [
        (json!({"id": "p/x"}), true, false),
        (json!({"id": "p/x", "egress": []}), true, false),
        (json!({"id": "p/x", "egress": [{}]}), true, true),
        (
            json!({"id": "p/x", "ingress": [], "egress": [{"ports": [{"port": 53}]}]}),
            true,
            true,
        ),
        (
            json!({"id": "p/x", "policyTypes": [], "egress": [{}]}),
            true,
            true,
        ),
        (json!({"id": "p/x", "policyTypes": []}), true, false),
        (
            json!({"id": "p/x", "policyTypes": ["Egress"], "ingress": [{}]}),
            false,
            true,
        ),
        (
            json!({"id": "p/x", "policyTypes": ["Ingress"], "egress": [{}]}),
            true,
            false,
        ),
        (
            json!({"id": "p/x", "policyTypes": ["Ingress", "Egress"]}),
            true,
            true,
        ),
    ];
    for (v, ingress, egress) in cases {
        let p = policy(v.clone());
        assert_eq!(p.applies_to(Ingress), ingress, "Ingress of {v}");
        assert_eq!(p.applies_to(Egress), egress, "Egress of {v}");
    }
}

#[test]
fn r5_3_rules_of_a_direction_outside_policy_types_are_never_consulted() {
    let mut s = state("default");
    s.add_pod(pod("p/a", &[("app", "a")]), on_eth0(&["10.0.0.1"]))
        .unwrap();
    s.add_pod(pod("p/b", &[("app", "b")]), on_eth0(&["10.0.0.2"]))
        .unwrap();
    // An ingress rule that would deny, under policyTypes [Egress].
    s.add_network_policy(policy(json!({
        "id": "p/a", "podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "nobody"}}}]}],
        "egress": [{}]
    })))
    .unwrap();
    let d = tcp_decision(&s, "p/b", "p/a", 80);
    assert!(not_isolated(&d.ingress));
    assert!(d.allowed);
    let d = tcp_decision(&s, "p/a", "p/b", 80);
    assert_eq!(
        allowing(&d.egress),
        vec![RuleMatch {
            policy: pol_id("p/a"),
            rule: 0,
            peer: None
        }]
    );
}

// ----- 5.11: peers need a selector or an ipBlock ---------------------------------------------

#[test]
fn r5_11_a_peer_without_selector_or_ip_block_is_rejected() {
    assert!(serde_json::from_value::<Peer>(json!({})).is_err());
    assert!(serde_json::from_value::<Peer>(
        json!({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}})
    )
    .is_err());
    assert!(serde_json::from_value::<Peer>(
        json!({"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}})
    )
    .is_err());
    assert!(serde_json::from_value::<NetworkPolicy>(json!({
        "id": "p/x", "ingress": [{"from": [{}]}]
    }))
    .is_err());
    assert!(serde_json::from_value::<Peer>(json!({"bogus": {}})).is_err());

    let ns_only: Peer = serde_json::from_value(json!({"namespaceSelector": {}})).unwrap();
    assert_eq!(
        ns_only,
        Peer::Pods {
            namespace_selector: Some(LabelSelector::everything()),
            pod_selector: None
        }
    );
    let both: Peer = serde_json::from_value(json!({
        "namespaceSelector": {"matchLabels": {"team": "a"}},
        "podSelector": {"matchLabels": {"role": "db"}}
    }))
    .unwrap();
    // Serialization gives the same peer back.
    let again: Peer = serde_json::from_value(serde_json::to_value(&both).unwrap()).unwrap();
    assert_eq!(both, again);
    let block: Peer = serde_json::from_value(
        json!({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}),
    )
    .unwrap();
    assert!(matches!(block, Peer::IpBlock(_)));
}

#[test]
fn r5_11_separate_peers_or_and_one_peer_ands() {
    let mut s = state("default");
    s.add_namespace("team-a", labels(&[("team", "a")])).unwrap();
    s.add_pod(pod("prod/api", &[("app", "api")]), on_eth0(&["10.0.0.1"]))
        .unwrap();
    s.add_pod(
        pod("team-a/web", &[("role", "web")]),
        on_eth0(&["10.0.1.1"]),
    )
    .unwrap();
    s.add_pod(pod("prod/db", &[("role", "db")]), on_eth0(&["10.0.0.2"]))
        .unwrap();
    s.add_network_policy(policy(json!({
        "id": "prod/api", "podSelector": {"matchLabels": {"app": "api"}},
        "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": {"matchLabels": {"role": "db"}}},
            {"namespaceSelector": {"matchLabels": {"team": "a"}}},
            {"podSelector": {"matchLabels": {"role": "db"}}}
        ]}]
    })))
    .unwrap();
    let by = |from: &str| allowing(&tcp_decision(&s, from, "prod/api", 80).ingress);
    // team-a/web: not the ANDed peer 0, but namespace peer 1.
    assert_eq!(by("team-a/web")[0].peer, Some(1));
    // prod/db: pod peer 2 (its namespace is the policy's).
    assert_eq!(by("prod/db")[0].peer, Some(2));
}

// ----- 5.4, 5.6: the explanation of a decision -----------------------------------------------

#[test]
fn r5_4_a_decision_names_every_matching_rule_and_peer_of_every_policy() {
    let mut s = web_and_client();
    s.add_network_policy(policy(json!({
        "id": "p/one", "podSelector": {"matchLabels": {"app": "web"}},
        "ingress": [
            {"from": [{"podSelector": {"matchLabels": {"app": "nobody"}}}]},
            {"from": [{"ipBlock": {"cidr": "10.9.0.0/16"}}, {"podSelector": {"matchLabels": {"app": "client"}}}]},
            {"ports": [{"port": 443}]}
        ]
    })))
    .unwrap();
    // Rule 5.6: a rule without peers matches with no peer index.
    s.add_network_policy(policy(json!({
        "id": "p/two", "podSelector": {}, "ingress": [{}]
    })))
    .unwrap();
    let d = tcp_decision(&s, "p/client", "p/web", 80);
    assert!(d.allowed);
    assert_eq!(d.refusal, None);
    assert_eq!(d.exemption, None);
    assert!(not_isolated(&d.egress));
    assert_eq!(
        allowing(&d.ingress),
        vec![
            RuleMatch {
                policy: pol_id("p/one"),
                rule: 1,
                peer: Some(1)
            },
            RuleMatch {
                policy: pol_id("p/two"),
                rule: 0,
                peer: None
            },
        ]
    );
    // Every rule's outcome is kept: p/one's rule 0 matched the ports but no peer.
    let one = &d.ingress.as_ref().unwrap().policies[0];
    assert_eq!(one.policy, pol_id("p/one"));
    assert_eq!(
        one.rules[0],
        RuleOutcome {
            ports: true,
            peers: PeerOutcome::Matched(vec![])
        }
    );
    assert!(!one.rules[2].ports, "rule 2 is for port 443 only");
    // Port 443 adds rule 2 of p/one (no peers).
    let d = tcp_decision(&s, "p/client", "p/web", 443);
    let by = allowing(&d.ingress);
    assert_eq!(
        by.iter()
            .map(|m| (m.policy.name.as_str(), m.rule, m.peer))
            .collect::<Vec<_>>(),
        [("one", 1, Some(1)), ("one", 2, None), ("two", 0, None)]
    );
    // The same verdict through the primitive.
    assert_eq!(
        s.allow_new_connection_from_pod(&pod_id("p/web"), &pod_id("p/client"), Protocol::Tcp, 80)
            .unwrap()
            .verdict,
        tcp_decision(&s, "p/client", "p/web", 80).ingress
    );
}

#[test]
fn r5_4_a_denial_names_every_policy_that_isolates() {
    let mut s = web_and_client();
    s.add_network_policy(policy(json!({
        "id": "p/b-only-443", "podSelector": {}, "ingress": [{"ports": [{"port": 443}]}]
    })))
    .unwrap();
    s.add_network_policy(policy(json!({
        "id": "p/a-deny", "podSelector": {"matchLabels": {"app": "web"}}
    })))
    .unwrap();
    // Egress-only policy: does not isolate ingress, so it is not named.
    s.add_network_policy(policy(json!({
        "id": "p/c-egress", "podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]
    })))
    .unwrap();
    let d = tcp_decision(&s, "p/client", "p/web", 80);
    assert!(!d.allowed);
    assert_eq!(
        isolating(&d.ingress),
        vec![pol_id("p/a-deny"), pol_id("p/b-only-443")]
    );
    let by = allowing(&d.egress);
    assert!(
        by.len() == 1 && by[0].policy == pol_id("p/c-egress"),
        "{by:?}"
    );
    // Order of addition does not matter (rule 5.4: a union).
    let mut t = web_and_client();
    for p in s.policies().cloned().collect::<Vec<_>>().into_iter().rev() {
        t.add_network_policy(p).unwrap();
    }
    assert_eq!(tcp_decision(&t, "p/client", "p/web", 80), d);
    assert_eq!(
        tcp_decision(&t, "p/client", "p/web", 443),
        tcp_decision(&s, "p/client", "p/web", 443)
    );
}

#[test]
fn r5_12_ip_block_contains_inside_cidr_outside_except_same_family_only() {
    let b: IpBlock = serde_json::from_value(
        json!({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.2.0.0/16"]}),
    )
    .unwrap();
    assert!(b.contains(ip("10.0.0.1")));
    assert!(b.contains(ip("10.3.255.255")));
    assert!(!b.contains(ip("10.1.2.3")));
    assert!(!b.contains(ip("10.2.0.0")));
    assert!(!b.contains(ip("11.0.0.1")));
    assert!(!b.contains(ip("::ffff:10.0.0.1")));
    let all6: IpBlock = serde_json::from_value(json!({"cidr": "::/0"})).unwrap();
    assert!(all6.contains(ip("fd00::1")));
    assert!(!all6.contains(ip("10.0.0.1")));
}

// ----- exemptions and refusals in the decision -------------------------------------------------

#[test]
fn r7_1_pod_to_self_exemption_is_named_and_the_verdicts_still_shown() {
    for (profile, exempt) in [
        ("default", true),
        ("default,pod-to-self=policy-checked", false),
    ] {
        let mut s = state(profile);
        s.add_pod(pod("p/a", &[("app", "a")]), on_eth0(&["10.0.0.1"]))
            .unwrap();
        s.add_network_policy(policy(json!({"id": "p/deny", "podSelector": {}})))
            .unwrap();
        let d = tcp_decision(&s, "p/a", "p/a", 80);
        assert_eq!(d.allowed, exempt, "{profile}");
        assert_eq!(
            d.exemption,
            exempt.then_some(Exemption::PodToSelf),
            "{profile}"
        );
        // The NetworkPolicy tier still shows its policies and that no rule matches; the
        // exemption is what makes the tier allow (rule 11.11).
        let v = d.ingress.as_ref().expect("a policed pod has a verdict");
        let isolating: Vec<PolicyId> = v.policies.iter().map(|p| p.policy.clone()).collect();
        assert_eq!(isolating, vec![pol_id("p/deny")]);
        assert_eq!(v.allowing().count(), 0);
        assert_eq!(v.allowed(), exempt, "{profile}");
    }
}

#[test]
fn r7_2_service_hairpin_exemption_is_named() {
    for (profile, exempt) in [
        ("default,pod-to-self=policy-checked", true),
        ("default,service-hairpin=policy-checked", false),
    ] {
        let mut s = state(profile);
        s.add_pod(pod("p/a", &[("app", "web")]), on_eth0(&["10.0.0.1"]))
            .unwrap();
        s.add_service(
            service(json!({"id": "p/web", "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": 8080}]})),
            vec![addr("10.96.0.1")],
            vec![],
        )
        .unwrap();
        s.add_network_policy(policy(json!({"id": "p/deny", "podSelector": {}})))
            .unwrap();
        let o = s
            .open_service_connection(&pod_id("p/a"), &svc_id("p/web"), Protocol::Tcp, 80, None)
            .unwrap();
        assert_eq!(o.allowed, Some(exempt), "{profile}");
        assert_eq!(o.backend, Some(pod_id("p/a")));
        let d = o.decision.unwrap();
        assert_eq!(d.exemption, exempt.then_some(Exemption::ServiceHairpin));
        assert_eq!(o.connection.is_some(), exempt);
    }
}

#[test]
fn r7_5_own_node_exemption_is_named_and_another_node_is_an_address() {
    for (profile, exempt) in [
        ("default", true),
        ("default,node-traffic=policy-checked", false),
    ] {
        let mut s = state(profile);
        s.add_node("n1", Labels::new(), vec![addr("10.1.0.1")])
            .unwrap();
        s.add_node("n2", Labels::new(), vec![addr("10.1.0.2")])
            .unwrap();
        let mut a = pod("p/a", &[]);
        a.node = Some("n1".into());
        s.add_pod(a, on_eth0(&["10.0.0.1"])).unwrap();
        s.add_network_policy(policy(json!({"id": "p/deny", "podSelector": {}})))
            .unwrap();
        let dst = endpoint(&s, "p/a");
        let n1 = Endpoint::Node {
            node: "n1".into(),
            address: Some(addr("10.1.0.1")),
        };
        let n2 = Endpoint::Node {
            node: "n2".into(),
            address: Some(addr("10.1.0.2")),
        };
        let d = s.decide(&n1, &dst, Protocol::Tcp, 10250, None);
        assert_eq!(
            d.exemption,
            exempt.then_some(Exemption::OwnNode),
            "{profile}"
        );
        assert_eq!(d.allowed, exempt);
        assert_eq!(d.egress, None, "a node has no policy of its own");
        let d = s.decide(&n2, &dst, Protocol::Tcp, 10250, None);
        assert_eq!(d.exemption, None);
        assert!(!d.allowed);
    }
}

#[test]
fn r7_7_other_protocols_exemption_and_verdicts() {
    let icmp = Protocol::Other(1);
    let mut expected = BTreeMap::new();
    // profile -> (allowed with a no-ports rule, allowed with a ports rule, exemption)
    expected.insert("default", (true, false, None));
    expected.insert("default,other-protocols=denied", (false, false, None));
    expected.insert(
        "default,other-protocols=allowed",
        (true, true, Some(Exemption::OtherProtocol)),
    );
    for (profile, (no_ports, with_ports, exemption)) in expected {
        for (rule, want) in [
            (json!({}), no_ports),
            (json!({"ports": [{"port": 80}]}), with_ports),
        ] {
            let mut s = state(profile);
            s.add_pod(pod("p/a", &[]), on_eth0(&["10.0.0.1"])).unwrap();
            s.add_pod(pod("p/b", &[("app", "b")]), on_eth0(&["10.0.0.2"]))
                .unwrap();
            s.add_network_policy(policy(json!({
                "id": "p/b", "podSelector": {"matchLabels": {"app": "b"}}, "ingress": [rule]
            })))
            .unwrap();
            let dst = endpoint(&s, "p/b");
            let src = endpoint(&s, "p/a");
            let d = s.decide(&src, &dst, icmp, 0, None);
            assert_eq!(d.allowed, want, "{profile}, rule {rule}");
            assert_eq!(d.exemption, exemption, "{profile}");
        }
    }
}

#[test]
fn r2_3_not_running_is_refused_before_policy() {
    let mut s = state("default");
    s.add_pod(pod("p/a", &[]), on_eth0(&["10.0.0.1"])).unwrap();
    let mut p = pod("p/p", &[]);
    p.phase = PodPhase::Pending;
    s.add_pod(p, on_eth0(&["10.0.0.2"])).unwrap();
    let d = tcp_decision(&s, "p/a", "p/p", 80);
    assert!(!d.allowed);
    assert_eq!(d.refusal, Some(Refusal::NotRunning { pod: pod_id("p/p") }));
    let before = s.clone();
    let o = s
        .open_pod_connection(&pod_id("p/p"), &pod_id("p/a"), Protocol::Tcp, 80)
        .unwrap();
    assert_eq!(o.allowed, Some(false));
    assert_eq!(o.connection, None);
    assert_eq!(o.refusal, Some(Refusal::NotRunning { pod: pod_id("p/p") }));
    assert_eq!(before, s);
}

#[test]
fn r6_1_refusals_of_service_connections_are_named() {
    let mut s = state("default");
    s.add_pod(pod("p/c", &[]), on_eth0(&["10.0.0.9"])).unwrap();
    s.add_pod(pod("p/w1", &[("app", "web")]), on_eth0(&["10.0.0.1"]))
        .unwrap();
    s.add_pod(pod("p/w2", &[("app", "web")]), on_eth0(&["10.0.0.2"]))
        .unwrap();
    s.add_service(
        service(json!({"id": "p/web", "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 8080}]})),
        vec![addr("10.96.0.1")],
        vec![],
    )
    .unwrap();
    s.add_service(
        service(json!({"id": "p/none", "selector": {"app": "none"},
            "ports": [{"port": 80, "targetPort": 8080}]})),
        vec![],
        vec![],
    )
    .unwrap();
    s.add_service(
        service(json!({"id": "p/ext", "type": "ExternalName",
            "ports": [{"port": 80, "targetPort": 80}]})),
        vec![],
        vec![],
    )
    .unwrap();
    let before = s.clone();
    let c = pod_id("p/c");
    let mut open = |svc: &str, port: u16| {
        s.open_service_connection(&c, &svc_id(svc), Protocol::Tcp, port, None)
            .unwrap()
    };
    // Rule 6.1: several backends, none named.
    let o = open("p/web", 80);
    assert_eq!(o.refusal, Some(Refusal::BackendNotChosen));
    assert_eq!(o.allowed, None);
    assert_eq!(o.connection, None);
    assert_eq!(o.backend, None);
    let backends = o.backends.unwrap();
    assert_eq!(
        backends.keys().cloned().collect::<Vec<_>>(),
        [pod_id("p/w1"), pod_id("p/w2")]
    );
    assert!(backends.values().all(|d| d.allowed));
    // Rules 6.2, 6.6, 6.8.
    assert_eq!(open("p/web", 81).refusal, Some(Refusal::NoServicePort));
    assert_eq!(open("p/none", 80).refusal, Some(Refusal::NoBackends));
    assert_eq!(open("p/ext", 80).refusal, Some(Refusal::ExternalName));
    // Rule 6.10.
    let o = s
        .open_connection_with_ip_addresses(
            &addr("203.0.113.1"),
            &addr("10.96.0.1"),
            Protocol::Tcp,
            80,
            None,
        )
        .unwrap();
    assert_eq!(o.refusal, Some(Refusal::NotReachableFromOutside));
    assert_eq!(o.allowed, Some(false));
    // None of that changed anything (rule 2.7: no id taken).
    assert_eq!(before, s);
}

#[test]
fn r8_6_no_route_is_named() {
    let mut s = state("default,multi-network=type2");
    s.add_ip_address_domain("blue").unwrap();
    s.add_network("blue-net", "blue").unwrap();
    s.add_pod(pod("p/a", &[]), on_eth0(&["10.0.0.1"])).unwrap();
    s.add_pod(
        pod("p/b", &[]),
        vec![attachment("eth0", "blue-net", &["10.0.0.2"])],
    )
    .unwrap();
    let o = s
        .open_connection_with_ip_addresses(
            &addr("10.0.0.1"),
            &addr("10.0.0.2%blue"),
            Protocol::Tcp,
            80,
            None,
        )
        .unwrap();
    assert_eq!(o.refusal, Some(Refusal::NoRoute));
    assert_eq!(o.connection, None);
}

#[test]
fn r2_7_ids_start_at_one_increase_and_are_never_reused() {
    let mut s = state("default");
    let ext = |ip: &str| Endpoint::External { address: addr(ip) };
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(s.new_connection(ext("192.0.2.1"), ext("192.0.2.2"), Protocol::Tcp, 80, None));
    }
    assert_eq!(ids, [1, 2, 3]);
    let c = s.delete_connection(3).unwrap();
    assert_eq!(c.id, 3);
    assert_eq!(c.port, 80);
    assert_eq!(
        s.new_connection(ext("192.0.2.1"), ext("192.0.2.2"), Protocol::Udp, 53, None),
        4
    );
    assert_eq!(
        s.connections().keys().copied().collect::<Vec<_>>(),
        [1, 2, 4]
    );
    // Rule 2.8.
    assert_eq!(
        s.delete_connection(3).unwrap_err().kind,
        ErrorKind::UnknownConnection
    );
    assert_eq!(s.close_pod_connection(1).unwrap(), Effects::default());
    assert_eq!(s.connections().keys().copied().collect::<Vec<_>>(), [2, 4]);
}

#[test]
fn r6_4_a_service_connection_records_the_backend_and_target_port() {
    let mut s = state("default");
    s.add_pod(pod("p/c", &[]), on_eth0(&["10.0.0.9"])).unwrap();
    let mut w = pod("p/w", &[("app", "web")]);
    w.ports = vec![ContainerPort {
        name: Some("http".into()),
        port: 8080,
        protocol: Protocol::Tcp,
    }];
    s.add_pod(w, on_eth0(&["10.0.0.1"])).unwrap();
    s.add_service(
        service(json!({"id": "p/web", "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": "http"}]})),
        vec![addr("10.96.0.1")],
        vec![],
    )
    .unwrap();
    let o = s
        .open_connection_with_ip_addresses(
            &addr("10.0.0.9"),
            &addr("10.96.0.1"),
            Protocol::Tcp,
            80,
            None,
        )
        .unwrap();
    let c = &s.connections()[&o.connection.unwrap()];
    assert_eq!(
        c.destination,
        Endpoint::Pod {
            pod: pod_id("p/w"),
            address: Some(addr("10.0.0.1"))
        }
    );
    assert_eq!(c.port, 8080);
    assert_eq!(c.service, Some(svc_id("p/web")));
    assert_eq!(c.source.address(), Some(&addr("10.0.0.9")));
}

#[test]
fn r3_4_connections_by_identity_use_primary_addresses_of_one_family() {
    let mut s = state("default");
    s.add_network("side", "default").unwrap();
    s.add_pod(
        pod("p/a", &[]),
        vec![
            Attachment::primary(vec![ip("fd00::1"), ip("10.0.1.1")]),
            attachment("net1", "side", &["10.0.0.100"]),
        ],
    )
    .unwrap();
    s.add_pod(pod("p/b", &[]), on_eth0(&["fd00::2", "10.0.0.2"]))
        .unwrap();
    s.add_pod(pod("p/v6", &[]), on_eth0(&["fd00::3"])).unwrap();
    let id = s
        .open_pod_connection(&pod_id("p/a"), &pod_id("p/b"), Protocol::Tcp, 80)
        .unwrap()
        .connection
        .unwrap();
    let c = &s.connections()[&id];
    assert_eq!(c.source.address(), Some(&addr("10.0.1.1")));
    assert_eq!(c.destination.address(), Some(&addr("10.0.0.2")));
    // A single-stack IPv6 destination is reached over IPv6.
    let id = s
        .open_pod_connection(&pod_id("p/a"), &pod_id("p/v6"), Protocol::Tcp, 80)
        .unwrap()
        .connection
        .unwrap();
    let c = &s.connections()[&id];
    assert_eq!(c.source.address(), Some(&addr("fd00::1")));
    assert_eq!(c.destination.address(), Some(&addr("fd00::3")));
    // A hostNetwork pod's address is its node's.
    s.add_node("n1", Labels::new(), vec![addr("10.1.0.1")])
        .unwrap();
    let mut h = pod("p/h", &[]);
    h.node = Some("n1".into());
    h.host_network = true;
    s.add_pod(h, vec![]).unwrap();
    assert_eq!(
        s.pod_endpoint(&pod_id("p/h"), None).unwrap().address(),
        Some(&addr("10.1.0.1"))
    );
}

// ----- 1.3: namespace labels -------------------------------------------------------------------

#[test]
fn r1_3_namespaces_always_carry_their_name_label() {
    let mut s = state("default");
    assert_eq!(
        s.namespace_labels("dev"),
        labels(&[("kubernetes.io/metadata.name", "dev")])
    );
    s.add_namespace(
        "dev",
        labels(&[("env", "test"), ("kubernetes.io/metadata.name", "prod")]),
    )
    .unwrap();
    assert_eq!(
        s.namespace_labels("dev"),
        labels(&[("env", "test"), ("kubernetes.io/metadata.name", "dev")])
    );
    s.set_namespace_labels("dev", Labels::new()).unwrap();
    assert_eq!(
        s.namespace_labels("dev"),
        labels(&[("kubernetes.io/metadata.name", "dev")])
    );
    // Rule 1.4: an undeclared namespace exists through its objects, and removing it removes
    // them.
    s.add_pod(pod("qa/x", &[]), on_eth0(&["10.0.0.1"])).unwrap();
    assert!(s.namespaces().contains("qa"));
    s.remove_namespace("qa").unwrap();
    assert!(s.pod(&pod_id("qa/x")).is_none());
    assert!(!s.namespaces().contains("qa"));
}

// ----- 7.0, 10.1, 10.2: profiles in traces, replay, expectations -----------------------------

#[test]
fn r10_2_an_expectation_checks_only_the_fields_it_states_but_always_the_error() {
    let observed = Observation {
        allowed: Some(true),
        connection: Some(4),
        backends: Some([pod_id("p/a")].into()),
        ..Observation::default()
    };
    // Unstated fields are not compared.
    assert!(Observation::default().mismatches(&observed).is_empty());
    let want = Observation {
        allowed: Some(true),
        ..Observation::default()
    };
    assert!(want.mismatches(&observed).is_empty());
    let want = Observation {
        allowed: Some(true),
        connection: Some(5),
        ..Observation::default()
    };
    assert_eq!(want.mismatches(&observed), ["connection"]);
    // An empty set is a statement: it is compared.
    let want = Observation {
        backends: Some(Default::default()),
        ..Observation::default()
    };
    assert_eq!(want.mismatches(&observed), ["backends"]);
    // An error nobody expected is always a divergence, and so is a missing one.
    let failed = Observation::error(ErrorKind::NotFound);
    assert_eq!(Observation::default().mismatches(&failed), ["error"]);
    assert_eq!(failed.mismatches(&Observation::default()), ["error"]);
    assert_eq!(
        Observation::error(ErrorKind::InUse).mismatches(&failed),
        ["error"]
    );
    assert!(failed.mismatches(&failed).is_empty());
}

// ----- regressions: behaviours once wrong in the spec -----------------------------------------

/// Rule 5.4: `openPodConnection = allowNewConnectionToPod ∧ allowNewConnectionFromPod`.
fn conjunction(s: &mut State, from: &str, to: &str, protocol: Protocol, port: u16) -> (bool, bool) {
    let to_pod = s
        .allow_new_connection_to_pod(&pod_id(from), &pod_id(to), protocol, port)
        .unwrap()
        .allowed;
    let from_pod = s
        .allow_new_connection_from_pod(&pod_id(to), &pod_id(from), protocol, port)
        .unwrap()
        .allowed;
    let opened = s
        .open_pod_connection(&pod_id(from), &pod_id(to), protocol, port)
        .unwrap()
        .allowed
        == Some(true);
    (opened, to_pod && from_pod)
}

#[test]
fn r5_4_open_pod_connection_is_the_conjunction_of_the_allow_primitives() {
    let setup = |profile: &str| {
        let mut s = state(profile);
        s.add_node("n1", Labels::new(), vec![addr("10.1.0.1")])
            .unwrap();
        let mut a = pod("p/a", &[("app", "a")]);
        a.node = Some("n1".into());
        s.add_pod(a, on_eth0(&["10.0.0.1"])).unwrap();
        s.add_pod(pod("p/b", &[("app", "b")]), on_eth0(&["10.0.0.2"]))
            .unwrap();
        s.add_pod(pod("p/c", &[("app", "c")]), on_eth0(&["10.0.0.3"]))
            .unwrap();
        s.add_network_policy(policy(json!({
            "id": "p/b", "podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]
        })))
        .unwrap();
        s.add_network_policy(policy(json!({
            "id": "p/a", "podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Ingress", "Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "b"}}}]}]
        })))
        .unwrap();
        s
    };
    // Without exemptions the equation holds.
    let mut s = setup("default");
    for (from, to) in [
        ("p/a", "p/b"),
        ("p/a", "p/c"),
        ("p/c", "p/b"),
        ("p/b", "p/a"),
        ("p/c", "p/a"),
    ] {
        let (opened, both) = conjunction(&mut s, from, to, Protocol::Tcp, 80);
        assert_eq!(opened, both, "{from} -> {to}");
    }
    // With an exemption (rules 7.1, 7.7) openPodConnection allows what the two primitives deny.
    let mut s = setup("default");
    let (opened, both) = conjunction(&mut s, "p/a", "p/a", Protocol::Tcp, 80);
    // Rule 5.4 with 7.1: the exemption holds for each filter, so the equation still holds.
    assert!(opened);
    assert_eq!(opened, both, "pod to self");
    let mut s = setup("default,other-protocols=allowed");
    let (opened, both) = conjunction(&mut s, "p/a", "p/c", Protocol::Other(1), 0);
    // Rule 7.7: `other-protocols: allowed` is never filtered, by either primitive.
    assert!(opened);
    assert_eq!(opened, both, "ICMP under other-protocols=allowed");
}

#[test]
fn r3_7_outside_to_pod_is_exactly_allow_new_connection_from_ip_address() {
    // Rule 3.7: outside to pod checks only allowNewConnectionFromIpAddress; rule 3.5/7.5: a node
    // address is node traffic, always allowed with the pod's own node by default.
    let mut s = state("default");
    s.add_node("n1", Labels::new(), vec![addr("10.1.0.1")])
        .unwrap();
    let mut a = pod("p/a", &[]);
    a.node = Some("n1".into());
    s.add_pod(a, on_eth0(&["10.0.0.1"])).unwrap();
    s.add_network_policy(policy(json!({"id": "p/deny", "podSelector": {}})))
        .unwrap();
    for from in ["203.0.113.1", "10.1.0.1"] {
        let verdict = s
            .allow_new_connection_from_ip_address(&addr(from), &pod_id("p/a"), Protocol::Tcp, 80)
            .unwrap()
            .allowed;
        let opened = s
            .open_connection_with_ip_addresses(
                &addr(from),
                &addr("10.0.0.1"),
                Protocol::Tcp,
                80,
                None,
            )
            .unwrap()
            .allowed
            == Some(true);
        // Rule 7.5: from the pod's own node both allow; from elsewhere both deny.
        assert_eq!(opened, from == "10.1.0.1", "from {from}");
        assert_eq!(opened, verdict, "from {from}");
    }
}

#[test]
fn r3_6_a_service_address_is_a_valid_destination() {
    // Rule 3.6: a Service address is a destination only; service-address-as-source is the error
    // of a Service address used as a *source*.
    let mut s = state("default");
    s.add_pod(pod("p/a", &[]), on_eth0(&["10.0.0.1"])).unwrap();
    s.add_service(
        service(json!({"id": "p/web", "ports": [{"port": 80, "targetPort": 80}]})),
        vec![addr("10.96.0.1")],
        vec![],
    )
    .unwrap();
    let r =
        s.allow_new_connection_to_ip_address(&pod_id("p/a"), &addr("10.96.0.1"), Protocol::Tcp, 80);
    // No policy isolates p/a, so the address is allowed.
    assert!(r.as_ref().is_ok_and(|v| v.allowed), "{r:?}");
}

#[test]
fn r8_6_a_backend_on_the_clients_secondary_network_is_reachable() {
    // Type 2: the client reaches the Service from its net1 address on blue-net; the only backend
    // has its eth0 on blue-net, the client's network, so it is the backend and there is a route.
    let mut s = state("default,multi-network=type2");
    s.add_ip_address_domain("blue").unwrap();
    s.add_network("blue-net", "blue").unwrap();
    s.add_pod(
        pod("p/c", &[]),
        vec![
            Attachment::primary(vec![ip("10.0.0.1")]),
            attachment("net1", "blue-net", &["192.168.0.1"]),
        ],
    )
    .unwrap();
    s.add_pod(
        pod("p/b", &[("app", "b")]),
        vec![attachment("eth0", "blue-net", &["192.168.0.2"])],
    )
    .unwrap();
    s.add_service(
        service(json!({"id": "p/s", "selector": {"app": "b"}, "ports": [{"port": 80, "targetPort": 80}]})),
        vec![addr("10.96.0.1")],
        vec![],
    )
    .unwrap();
    // Directly, on the shared network: a route.
    let direct = s
        .open_connection_with_ip_addresses(
            &addr("192.168.0.1%blue"),
            &addr("192.168.0.2%blue"),
            Protocol::Tcp,
            80,
            None,
        )
        .unwrap();
    assert_eq!(direct.allowed, Some(true));
    let o = s
        .open_connection_with_ip_addresses(
            &addr("192.168.0.1%blue"),
            &addr("10.96.0.1"),
            Protocol::Tcp,
            80,
            None,
        )
        .unwrap();
    assert_eq!(o.backend, Some(pod_id("p/b")));
    // The client keeps the address it used, on the backend's network: a route.
    assert_eq!(o.refusal, None);
    assert_eq!(o.allowed, Some(true), "{o:?}");
}

#[test]
fn r8_5_a_service_connection_decides_on_the_address_it_reports() {
    // Type 1: backend d has eth0 10.0.0.4 and net1 192.168.0.4%blue. The client may only send to
    // 10.0.0.0/24. Directly, d (by identity: its primary address, rule 3.4) is allowed. Through
    // a Service, rule 8.5 lets d be reached on any of its addresses; the spec silently takes
    // 192.168.0.4%blue (the domain `blue` sorted before `default`); it now prefers `eth0`.
    let mut s = state("default");
    s.add_ip_address_domain("blue").unwrap();
    s.add_network("blue-net", "blue").unwrap();
    s.add_pod(pod("p/c", &[("app", "client")]), on_eth0(&["10.0.0.1"]))
        .unwrap();
    s.add_pod(
        pod("p/d", &[("app", "web")]),
        vec![
            Attachment::primary(vec![ip("10.0.0.4")]),
            attachment("net1", "blue-net", &["192.168.0.4"]),
        ],
    )
    .unwrap();
    s.add_service(
        service(json!({"id": "p/web", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]})),
        vec![addr("10.96.0.1")],
        vec![],
    )
    .unwrap();
    s.add_network_policy(policy(json!({
        "id": "p/c", "podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}]
    })))
    .unwrap();
    let direct = s
        .open_pod_connection(&pod_id("p/c"), &pod_id("p/d"), Protocol::Tcp, 80)
        .unwrap();
    assert_eq!(direct.allowed, Some(true));
    let o = s
        .open_service_connection(&pod_id("p/c"), &svc_id("p/web"), Protocol::Tcp, 80, None)
        .unwrap();
    assert_eq!(o.backend, Some(pod_id("p/d")));
    // Rule 8.5: the backend is reached on its primary address, as by identity.
    assert_eq!(o.allowed, Some(true), "{o:?}");
}
