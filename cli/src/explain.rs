//! Why a connection is allowed or denied. The decision is the spec's own (the same
//! [`attempt`] every trace operation goes through), and it carries each selecting policy, each
//! rule's port and peer outcome and every Service backend, so this module only prints it; the
//! profile switches that would change the verdict come from the one table of switches.

use netsem_spec::decision::allocated::{decision_dependencies, Allocated};
use netsem_spec::decision::connect::{attempt, Source, Target};
use netsem_spec::decision::core::direction_name;
use netsem_spec::decision::networks::network_policy_filters;
use netsem_spec::decision::{
    Decision, DirectionVerdict, Exemption, PeerOutcome, PolicyApi, Refusal, SpecCore,
};
use netsem_spec::net::DEFAULT_NETWORK;
use netsem_spec::policy::PolicyType;
use netsem_spec::profile::MultiNetwork;
use netsem_spec::{Address, AddressOwner, Endpoint, ErrorKind, PodId, Protocol, State};
use std::fmt::Write as _;

fn endpoint_text(state: &State, e: &Endpoint) -> String {
    let addr = e.address().map(|a| format!(" ({a})")).unwrap_or_default();
    match e {
        Endpoint::Pod { pod, .. } => {
            let hn = state.pod(pod).is_some_and(|p| p.host_network);
            format!("pod {pod}{addr}{}", if hn { ", host network" } else { "" })
        }
        Endpoint::Node { node, .. } => format!("node {node}{addr}"),
        Endpoint::External { address } => match state.addresses().get(address) {
            Some(AddressOwner::External { name }) => {
                format!("external entity {name} ({address})")
            }
            _ => format!("cluster-external address {address}"),
        },
    }
}

fn source_text(state: &State, source: &Source) -> String {
    match source {
        Source::Pod(p) => match state.pod_endpoint(p, None) {
            Ok(e) => endpoint_text(state, &e),
            Err(_) => format!("pod {p}"),
        },
        Source::Address(a) => match state.address_endpoint(a) {
            Ok(e) => endpoint_text(state, &e),
            Err(_) => format!("address {a}"),
        },
    }
}

/// `ns/name`, or `MultiNetworkPolicy ns/name` for a MultiNetworkPolicy (rule 8.8).
fn policy_name(p: &netsem_spec::decision::PolicyOutcome) -> String {
    match p.api {
        PolicyApi::NetworkPolicy => p.policy.to_string(),
        PolicyApi::MultiNetworkPolicy => format!("MultiNetworkPolicy {}", p.policy),
    }
}

/// The network of an end's address, when it is a pod address on another network than the
/// cluster network (rule 8.7).
fn secondary_network<'a>(state: &'a State, end: &Endpoint) -> Option<&'a str> {
    match end.address().and_then(|a| state.addresses().get(a)) {
        Some(AddressOwner::Pod { network, .. }) if network != DEFAULT_NETWORK => {
            Some(network.as_str())
        }
        _ => None,
    }
}

fn direction_text(
    state: &State,
    direction: PolicyType,
    pod: &netsem_spec::PodId,
    network: Option<&str>,
    verdict: &DirectionVerdict,
    out: &mut String,
) {
    let dir = direction_name(direction);
    let word = match direction {
        PolicyType::Ingress => "from",
        PolicyType::Egress => "to",
    };
    if !verdict.isolated() {
        match network {
            None => {
                let _ = writeln!(out, "  {dir} of {pod}: allowed, not isolated: no NetworkPolicy selects it with {direction:?} [rules 5.2, 5.3]");
            }
            Some(n) => {
                let which = if network_policy_filters(
                    state.profile(),
                    netsem_spec::decision::OnNetwork::of(state, Some(n)),
                ) {
                    "NetworkPolicy or MultiNetworkPolicy"
                } else {
                    "MultiNetworkPolicy (NetworkPolicy does not filter this secondary network)"
                };
                let _ = writeln!(out, "  {dir} of {pod} on network {n}: allowed, not isolated: no {which} of this network selects it with {direction:?} [rules 5.2, 5.3, 8.7]");
            }
        }
        return;
    }
    // Rule 8.7: a direction on another network is decided by that network's policies.
    let on = network.map_or(String::new(), |n| format!(" on network {n}"));
    let eight = if network.is_some() { ", 8.7" } else { "" };
    if verdict.allowed() {
        let _ = writeln!(out, "  {dir} of {pod}{on}: allowed [rules 5.4, 5.6{eight}]");
        for m in verdict.allowing() {
            let peer = match m.peer {
                Some(i) => format!("{word}[{i}]"),
                None => "any peer (no from/to)".into(),
            };
            let shown = verdict
                .policies
                .iter()
                .find(|p| p.policy == m.policy)
                .map_or(m.policy.to_string(), policy_name);
            let _ = writeln!(out, "    by {shown} {dir}[{}], {peer}", m.rule);
        }
        return;
    }
    let _ = writeln!(out, "  {dir} of {pod}{on}: DENIED: isolated, and no rule of a selecting policy matches [rules 5.2, 5.4{eight}]");
    if verdict.other_protocol_denied {
        let _ = writeln!(
            out,
            "    other-protocols=denied: this protocol is never allowed in an isolated direction [rule 7.7]"
        );
    }
    for p in &verdict.policies {
        if p.rules.is_empty() {
            let _ = writeln!(
                out,
                "    {}: selects the pod and has no {dir} rule [rule 5.5]",
                policy_name(p)
            );
        }
        for (i, rule) in p.rules.iter().enumerate() {
            let peers = match &rule.peers {
                PeerOutcome::Any => "peers: any [rule 5.6]".to_string(),
                PeerOutcome::Matched(m) if m.is_empty() => {
                    format!("no {word} peer matches [rules 5.11, 5.12]")
                }
                PeerOutcome::Matched(m) => format!(
                    "peer {} matches",
                    m.iter()
                        .map(|j| format!("{word}[{j}]"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let _ = writeln!(
                out,
                "    {} {dir}[{i}]: ports {} [rules 5.7-5.10]; {peers}",
                policy_name(p),
                if rule.ports { "match" } else { "do not match" }
            );
        }
    }
}

/// Prints one decision, and which single profile switches would flip it.
fn decision_text(state: &mut State, d: &Decision, out: &mut String) {
    let _ = writeln!(
        out,
        "{} {} -> {} port {}",
        d.protocol,
        endpoint_text(state, &d.source),
        endpoint_text(state, &d.destination),
        d.port
    );
    let _ = writeln!(
        out,
        "  verdict: {}",
        if d.allowed { "ALLOWED" } else { "DENIED" }
    );
    if let Some(r) = &d.refusal {
        let why = match r {
            Refusal::NotRunning { pod } => format!("pod {pod} is not running [rule 2.3]"),
            Refusal::NoRoute if state.profile().multi_network == MultiNetwork::Type2 => "no route: the addresses are on different networks (multi-network type 2) [rule 8.6]".into(),
            Refusal::NoRoute => "no route: the addresses are on different networks, one of them a primary user-defined network, which is isolated [rule 8.11]".into(),
            other => format!("{other:?}"),
        };
        let _ = writeln!(out, "  refused before policy: {why}");
    }
    if let Some(e) = d.exemption {
        let why = match e {
            Exemption::PodToSelf => "a pod talking to itself is outside policy (pod-to-self=allowed) [rule 7.1]",
            Exemption::ServiceHairpin => "a pod reaching itself through a Service (service-hairpin=allowed) [rule 7.2]",
            Exemption::OwnNode => "traffic between a pod and its own node (node-traffic=always-allowed) [rule 7.5]",
            Exemption::OtherProtocol => "protocols other than TCP/UDP/SCTP are not filtered (other-protocols=allowed) [rule 7.7]",
        };
        let _ = writeln!(out, "  exempt: {why}");
    }
    match (&d.egress, d.source.pod()) {
        (Some(v), Some(pod)) => direction_text(
            state,
            PolicyType::Egress,
            pod,
            secondary_network(state, &d.source),
            v,
            out,
        ),
        _ => {
            let _ = writeln!(
                out,
                "  egress: not checked, the source is not a policed pod [rules 3.7, 7.6]"
            );
        }
    }
    match (&d.ingress, d.destination.pod()) {
        (Some(v), Some(pod)) => direction_text(
            state,
            PolicyType::Ingress,
            pod,
            secondary_network(state, &d.destination),
            v,
            out,
        ),
        _ => {
            let _ = writeln!(
                out,
                "  ingress: not checked, the destination is not a policed pod [rules 3.7, 7.6]"
            );
        }
    }
    let profile = *state.profile();
    let mut mattered = Vec::new();
    for (name, other) in profile.neighbours() {
        state.set_profile(other);
        let flipped = state
            .decide(
                &d.source,
                &d.destination,
                d.protocol,
                d.port,
                d.service.as_ref(),
            )
            .allowed
            != d.allowed;
        if flipped {
            mattered.push(name);
        }
    }
    state.set_profile(profile);
    let _ = writeln!(
        out,
        "  profile switches that would change the verdict: {}",
        if mattered.is_empty() {
            "none".to_string()
        } else {
            mattered.join(", ")
        }
    );
}

/// An explanation: the text, the verdict, and the addresses netsem allocated that the verdict
/// depends on (rule 9.13).
pub struct Explained {
    /// The explanation.
    pub text: String,
    /// Whether the connection is allowed; `None` when a Service's backends disagree.
    pub allowed: Option<bool>,
    /// Allocated addresses an ipBlock was evaluated against, with their pods.
    pub dependencies: Vec<(PodId, Address)>,
}

/// Explains a connection from `source` to `target`. The state's profile is the one in force;
/// it is changed only while the switches are tried, and restored.
pub fn explain(
    state: &mut State,
    source: &Source,
    target: &Target,
    protocol: Protocol,
    port: u16,
    allocated: &Allocated,
) -> Result<Explained, String> {
    let (text, allowed) = explain_text(state, source, target, protocol, port)?;
    let opened =
        attempt(state, &SpecCore, source, target, protocol, port, None).map_err(|e| e.message)?;
    let mut dependencies = Vec::new();
    for d in opened
        .decision
        .iter()
        .chain(opened.backends.iter().flat_map(|b| b.values()))
    {
        for dep in decision_dependencies(state, d, allocated) {
            if !dependencies.contains(&dep) {
                dependencies.push(dep);
            }
        }
    }
    Ok(Explained {
        text,
        allowed,
        dependencies,
    })
}

fn explain_text(
    state: &mut State,
    source: &Source,
    target: &Target,
    protocol: Protocol,
    port: u16,
) -> Result<(String, Option<bool>), String> {
    let opened = attempt(state, &SpecCore, source, target, protocol, port, None).map_err(|e| {
        if e.kind == ErrorKind::NoPodEndpoint {
            "neither end is a pod: NetworkPolicy says nothing of this traffic (no-pod-endpoint) [rule 3.6]".to_string()
        } else {
            e.message
        }
    })?;
    let mut out = String::new();
    let Some(backends) = &opened.backends else {
        let d = opened
            .decision
            .as_ref()
            .expect("a direct connection is decided");
        decision_text(state, d, &mut out);
        return Ok((out, Some(d.allowed)));
    };
    let service = match target {
        Target::Service(s) => s.clone(),
        Target::Address(a) => match state.addresses().get(a) {
            Some(AddressOwner::Service { service, .. }) => service.clone(),
            _ => unreachable!("only a Service has backends"),
        },
        Target::Pod(_) => unreachable!("only a Service has backends"),
    };
    if backends.is_empty() {
        let _ = match (&opened.refusal, target) {
            (Some(Refusal::NotReachableFromOutside), Target::Address(a)) => {
                writeln!(
                    out,
                    "{protocol} {} -> service {service} ({a}) port {port}",
                    source_text(state, source)
                )
                .and_then(|_| writeln!(out, "  verdict: DENIED, refused: a cluster address of a Service is not reachable from outside the cluster [rule 6.10]"))
            }
            (refusal, _) => writeln!(
                out,
                "{protocol} {} -> service {service} port {port}",
                source_text(state, source)
            )
            .and_then(|_| {
                writeln!(
                    out,
                    "  verdict: DENIED, refused by the Service: {:?} [rules 6.2, 6.5-6.8]",
                    refusal.clone().unwrap_or(Refusal::NoBackends)
                )
            }),
        };
        return Ok((out, Some(false)));
    }
    let _ = writeln!(out, "service {service} port {port}/{protocol} has {} possible backend(s); each is decided pod to pod on its target port [rules 6.1, 6.4]", backends.len());
    for d in backends.values() {
        let _ = writeln!(out);
        decision_text(state, d, &mut out);
    }
    let all = backends.values().all(|d| d.allowed);
    let none = backends.values().all(|d| !d.allowed);
    Ok((
        out,
        if all {
            Some(true)
        } else if none {
            Some(false)
        } else {
            None
        },
    ))
}
