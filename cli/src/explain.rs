//! Why a connection is allowed or denied: the spec's decision, with each selecting policy,
//! each rule's port and peer outcome, the docs/SEMANTICS.md rules, and the profile switches
//! whose flip would change the verdict.

use netsem_spec::decision::{Decision, DirectionVerdict, Exemption, Refusal};
use netsem_spec::policy::{PeerEnd, PolicyType};
use netsem_spec::{Endpoint, PodId, Profile, Protocol, ServiceId, State};
use std::fmt::Write as _;

/// One end of the connection to explain, as the user named it.
#[derive(Clone, Debug)]
pub enum End {
    /// A pod.
    Pod(PodId),
    /// An address (with its domain).
    Address(netsem_spec::Address),
    /// A Service (destination only).
    Service(ServiceId),
}

fn endpoint_text(state: &State, e: &Endpoint) -> String {
    let addr = e.address().map(|a| format!(" ({a})")).unwrap_or_default();
    match e {
        Endpoint::Pod { pod, .. } => {
            let hn = state.pod(pod).is_some_and(|p| p.host_network);
            format!("pod {pod}{addr}{}", if hn { ", host network" } else { "" })
        }
        Endpoint::Node { node, .. } => format!("node {node}{addr}"),
        Endpoint::External { address } => match state.addresses().get(address) {
            Some(netsem_spec::AddressOwner::External { name }) => {
                format!("external entity {name} ({address})")
            }
            _ => format!("cluster-external address {address}"),
        },
    }
}

/// Every profile that differs from `p` in one switch, with the switch's name.
fn neighbours(p: &Profile) -> Vec<(String, Profile)> {
    let mut out = Vec::new();
    let switches: [(&str, &[&str]); 9] = [
        ("pod-to-self", &["allowed", "policy-checked"]),
        ("service-hairpin", &["allowed", "policy-checked"]),
        ("ip-block-pods", &["match-pod-addresses", "external-only"]),
        ("established", &["keep", "recheck"]),
        ("node-traffic", &["always-allowed", "policy-checked"]),
        ("host-network", &["as-node", "as-pod"]),
        (
            "other-protocols",
            &["rules-without-ports", "denied", "allowed"],
        ),
        ("named-port-conflict", &["any-match", "first-only"]),
        ("multi-network", &["type1", "type2"]),
    ];
    for (key, values) in switches {
        for v in values {
            let mut q = *p;
            if q.set(key, v).is_ok() && q != *p {
                out.push((format!("{key}={v}"), q));
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn direction_text(
    state: &State,
    pod: &PodId,
    direction: PolicyType,
    verdict: &DirectionVerdict,
    peer: &Endpoint,
    dest: Option<&PodId>,
    protocol: Protocol,
    port: u16,
    out: &mut String,
) {
    let dir = match direction {
        PolicyType::Ingress => "ingress",
        PolicyType::Egress => "egress",
    };
    match verdict {
        DirectionVerdict::NotIsolated => {
            let _ = writeln!(out, "  {dir} of {pod}: allowed, not isolated: no NetworkPolicy selects it with {direction:?} [rules 5.2, 5.3]");
        }
        DirectionVerdict::Allowed { by } => {
            let _ = writeln!(out, "  {dir} of {pod}: allowed [rules 5.4, 5.6]");
            for m in by {
                let peer = match m.peer {
                    Some(i) => format!(
                        "{}[{i}]",
                        if direction == PolicyType::Ingress {
                            "from"
                        } else {
                            "to"
                        }
                    ),
                    None => "any peer (no from/to)".into(),
                };
                let _ = writeln!(out, "    by {} {dir}[{}], {peer}", m.policy, m.rule);
            }
        }
        DirectionVerdict::Exempt { exemption } => {
            let _ = writeln!(out, "  {dir} of {pod}: allowed, exempt from policy ({exemption:?}) [rules 7.1, 7.2, 7.5, 7.7]");
        }
        DirectionVerdict::Denied { isolated_by } => {
            let _ = writeln!(out, "  {dir} of {pod}: DENIED: isolated, and no rule of a selecting policy matches [rules 5.2, 5.4]");
            for id in isolated_by {
                let Some(policy) = state.policy(id) else {
                    continue;
                };
                let rules = policy.rules(direction);
                if rules.is_empty() {
                    let _ = writeln!(
                        out,
                        "    {id}: selects the pod and has no {dir} rule [rule 5.5]"
                    );
                }
                for (i, rule) in rules.iter().enumerate() {
                    let dest_pod = dest.and_then(|d| state.pod(d));
                    let ports_ok = rule.ports_match(protocol, port, dest_pod, state.profile());
                    let peer_text =
                        peer_outcome(state, &policy.id.namespace, rule, peer, direction);
                    let _ = writeln!(
                        out,
                        "    {id} {dir}[{i}]: ports {} [rules 5.7-5.10]; {peer_text}",
                        if ports_ok { "match" } else { "do not match" }
                    );
                }
            }
        }
    }
}

fn peer_outcome(
    state: &State,
    policy_ns: &str,
    rule: &netsem_spec::Rule,
    peer: &Endpoint,
    direction: PolicyType,
) -> String {
    if rule.peers.is_empty() {
        return "peers: any [rule 5.6]".into();
    }
    let word = if direction == PolicyType::Ingress {
        "from"
    } else {
        "to"
    };
    let labels;
    let end = match peer {
        Endpoint::Pod { pod, address } => match state.pod(pod) {
            Some(p)
                if !(p.host_network
                    && state.profile().host_network
                        == netsem_spec::profile::HostNetwork::AsNode) =>
            {
                labels = state.namespace_labels(&p.id.namespace);
                PeerEnd::Pod {
                    pod: p,
                    namespace_labels: &labels,
                    address: address.as_ref().map(|a| a.ip),
                }
            }
            _ => PeerEnd::Address(address.as_ref().map(|a| a.ip)),
        },
        other => PeerEnd::Address(other.address().map(|a| a.ip)),
    };
    let matched: Vec<String> = rule
        .peers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.matches(policy_ns, end, state.profile()))
        .map(|(i, _)| format!("{word}[{i}]"))
        .collect();
    if matched.is_empty() {
        format!("no {word} peer matches [rules 5.11, 5.12]")
    } else {
        format!("peer {} matches", matched.join(", "))
    }
}

/// Explains one decision between two endpoints.
pub fn explain_decision(
    state: &State,
    source: &Endpoint,
    destination: &Endpoint,
    protocol: Protocol,
    port: u16,
    service: Option<&ServiceId>,
    out: &mut String,
) -> Decision {
    let d = state.decide(source, destination, protocol, port, service);
    let _ = writeln!(
        out,
        "{protocol} {} -> {} port {port}",
        endpoint_text(state, source),
        endpoint_text(state, destination)
    );
    let _ = writeln!(
        out,
        "  verdict: {}",
        if d.allowed { "ALLOWED" } else { "DENIED" }
    );
    if let Some(r) = &d.refusal {
        let why = match r {
            Refusal::NotRunning { pod } => format!("pod {pod} is not running [rule 2.3]"),
            Refusal::NoRoute => "no route: the addresses are on different networks (multi-network type 2) [rule 8.6]".into(),
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
    let dest_pod = destination.pod();
    match (&d.egress, source.pod()) {
        (Some(v), Some(pod)) => direction_text(
            state,
            pod,
            PolicyType::Egress,
            v,
            destination,
            dest_pod,
            protocol,
            port,
            out,
        ),
        _ => {
            let _ = writeln!(
                out,
                "  egress: not checked, the source is not a policed pod [rules 3.7, 7.6]"
            );
        }
    }
    match (&d.ingress, dest_pod) {
        (Some(v), Some(pod)) => direction_text(
            state,
            pod,
            PolicyType::Ingress,
            v,
            source,
            dest_pod,
            protocol,
            port,
            out,
        ),
        _ => {
            let _ = writeln!(
                out,
                "  ingress: not checked, the destination is not a policed pod [rules 3.7, 7.6]"
            );
        }
    }
    let mattered: Vec<String> = neighbours(state.profile())
        .into_iter()
        .filter(|(_, p)| {
            state
                .clone()
                .with_profile(*p)
                .decide(source, destination, protocol, port, service)
                .allowed
                != d.allowed
        })
        .map(|(name, _)| name)
        .collect();
    let _ = writeln!(
        out,
        "  profile switches that would change the verdict: {}",
        if mattered.is_empty() {
            "none".to_string()
        } else {
            mattered.join(", ")
        }
    );
    d
}

/// Explains a connection from `from` to `to`; returns the text and whether it is allowed
/// (`None` when a Service's backends disagree).
pub fn explain(
    state: &State,
    from: &End,
    to: &End,
    protocol: Protocol,
    port: u16,
) -> Result<(String, Option<bool>), String> {
    let mut out = String::new();
    let towards = match to {
        End::Address(a) => Some(a.clone()),
        End::Pod(p) => state
            .pod_endpoint(p, None)
            .map_err(|e| e.to_string())?
            .address()
            .cloned(),
        End::Service(_) => None,
    };
    let source = match from {
        End::Pod(p) => state
            .pod_endpoint(p, towards.as_ref())
            .map_err(|e| e.to_string())?,
        End::Address(a) => state.address_endpoint(a).map_err(|e| e.to_string())?,
        End::Service(s) => return Err(format!("a Service ({s}) cannot be a source [rule 3.6]")),
    };
    match to {
        End::Pod(p) => {
            let dest = state
                .pod_endpoint(p, source.address())
                .map_err(|e| e.to_string())?;
            let d = explain_decision(state, &source, &dest, protocol, port, None, &mut out);
            Ok((out, Some(d.allowed)))
        }
        End::Address(a) => {
            if let Some(netsem_spec::AddressOwner::Service { service, external }) =
                state.addresses().get(a)
            {
                if !external && matches!(source, Endpoint::External { .. }) {
                    let _ = writeln!(
                        out,
                        "{protocol} {} -> service {service} ({a}) port {port}",
                        endpoint_text(state, &source)
                    );
                    let _ = writeln!(out, "  verdict: DENIED, refused: a cluster address of a Service is not reachable from outside the cluster [rule 6.10]");
                    return Ok((out, Some(false)));
                }
                return explain(state, from, &End::Service(service.clone()), protocol, port);
            }
            let dest = state.address_endpoint(a).map_err(|e| e.to_string())?;
            if source.pod().is_none() && dest.pod().is_none() {
                return Err("neither end is a pod: NetworkPolicy says nothing of this traffic (no-pod-endpoint) [rule 3.6]".to_string());
            }
            let d = explain_decision(state, &source, &dest, protocol, port, None, &mut out);
            Ok((out, Some(d.allowed)))
        }
        End::Service(svc) => {
            let service = state
                .service(svc)
                .ok_or_else(|| format!("service {svc} does not exist"))?;
            let node = source
                .pod()
                .and_then(|p| state.pod(p))
                .and_then(|p| p.node.clone());
            match state.service_backends(service, node.as_deref(), source.address(), protocol, port)
            {
                Err(refusal) => {
                    let _ = writeln!(
                        out,
                        "{protocol} {} -> service {svc} port {port}",
                        endpoint_text(state, &source)
                    );
                    let _ = writeln!(out, "  verdict: DENIED, refused by the Service: {refusal:?} [rules 6.2, 6.5-6.8]");
                    Ok((out, Some(false)))
                }
                Ok(backends) => {
                    let _ = writeln!(out, "service {svc} port {port}/{protocol} has {} possible backend(s); each is decided pod to pod on its target port [rules 6.1, 6.4]", backends.len());
                    let mut verdicts = Vec::new();
                    for b in backends {
                        let dest = Endpoint::Pod {
                            pod: b.pod.clone(),
                            address: b.address.clone(),
                        };
                        let src = match &source {
                            Endpoint::Pod { pod, .. } => state
                                .pod_endpoint(pod, b.address.as_ref())
                                .map_err(|e| e.to_string())?,
                            other => other.clone(),
                        };
                        let _ = writeln!(out);
                        let d = explain_decision(
                            state,
                            &src,
                            &dest,
                            protocol,
                            b.port,
                            Some(svc),
                            &mut out,
                        );
                        verdicts.push(d.allowed);
                    }
                    let all = verdicts.iter().all(|v| *v);
                    let none = verdicts.iter().all(|v| !*v);
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
            }
        }
    }
}
