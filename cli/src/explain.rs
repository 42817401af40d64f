//! Why a connection is allowed or denied. The decision is the spec's own (the same
//! [`attempt`] every trace operation goes through), and it carries each selecting policy, each
//! rule's port and peer outcome and every Service backend, so this module only prints it; the
//! profile switches that would change the verdict come from the one table of switches.

use netsem_spec::admin::Action;
use netsem_spec::decision::allocated::{decision_dependencies, Allocated};
use netsem_spec::decision::connect::{attempt, Source, Target};
use netsem_spec::decision::core::direction_name;
use netsem_spec::decision::networks::network_policy_filters;
use netsem_spec::decision::{
    Decision, DirectionVerdict, Exemption, PeerOutcome, PolicyApi, Refusal, RuleMatch, SpecCore,
    TierDecision, TierVerdict,
};
use netsem_spec::net::DEFAULT_NETWORK;
use netsem_spec::policy::PolicyType;
use netsem_spec::profile::MultiNetwork;
use netsem_spec::{Address, AddressOwner, Endpoint, ErrorKind, PodId, PolicyId, Protocol, State};
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

/// The NetworkPolicy tier's own rules of one direction, without exemptions: allowed by some
/// matching rule (rules 5.4, 5.6, 7.7).
fn rules_allow(verdict: &DirectionVerdict) -> bool {
    !verdict.other_protocol_denied && verdict.allowing().next().is_some()
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

/// The NetworkPolicy tier of one direction, decided on `network` when that is not the cluster
/// network (rule 8.7): `head` starts the first line, `indent` the details.
fn network_policy_text(
    state: &State,
    direction: PolicyType,
    network: Option<&str>,
    verdict: &DirectionVerdict,
    head: &str,
    indent: &str,
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
                let _ = writeln!(out, "{head}allowed, not isolated: no NetworkPolicy selects it with {direction:?} [rules 5.2, 5.3]");
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
                let _ = writeln!(out, "{head}allowed, not isolated: no {which} of this network selects it with {direction:?} [rules 5.2, 5.3, 8.7]");
            }
        }
        return;
    }
    // Rule 8.7: a direction on another network is decided by that network's policies.
    let eight = if network.is_some() { ", 8.7" } else { "" };
    if rules_allow(verdict) {
        let _ = writeln!(out, "{head}allowed [rules 5.4, 5.6{eight}]");
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
            let _ = writeln!(out, "{indent}by {shown} {dir}[{}], {peer}", m.rule);
        }
        return;
    }
    let _ = writeln!(
        out,
        "{head}DENIED: isolated, and no rule of a selecting policy matches [rules 5.2, 5.4{eight}]"
    );
    if verdict.other_protocol_denied {
        let _ = writeln!(
            out,
            "{indent}other-protocols=denied: this protocol is never allowed in an isolated direction [rule 7.7]"
        );
    }
    for p in &verdict.policies {
        if p.rules.is_empty() {
            let _ = writeln!(
                out,
                "{indent}{}: selects the pod and has no {dir} rule [rule 5.5]",
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
                "{indent}{} {dir}[{i}]: ports {} [rules 5.7-5.10]; {peers}",
                policy_name(p),
                if rule.ports { "match" } else { "do not match" }
            );
        }
    }
}

/// One admin tier of one direction (rules 11.4, 11.6): what it decided, and each selecting
/// policy's first matching rule.
fn tier_text(name: &str, dir: &str, tier: &TierVerdict, reached: bool, out: &mut String) {
    if !reached {
        let _ = writeln!(out, "    {name} tier: not reached");
        return;
    }
    let decided = match &tier.decision {
        TierDecision::NoMatch if tier.policies.is_empty() => {
            "no policy of the tier selects the pod: Pass [rule 11.4]".to_string()
        }
        TierDecision::NoMatch => "no rule of a selecting policy matches: Pass [rule 11.4]".into(),
        TierDecision::Decided {
            action,
            policy,
            rule,
        } => format!("{action} by {policy} {dir}[{rule}] [rule 11.4]"),
        TierDecision::Tie { actions, policies } => format!(
            "UNDETERMINED: {} tie at one priority with {} [rule 11.6]",
            policies
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            actions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" / ")
        ),
    };
    let _ = writeln!(out, "    {name} tier: {decided}");
    // A selecting policy without rules in this direction says nothing here.
    for p in tier.policies.iter().filter(|p| !p.rules.is_empty()) {
        let first = match p.first {
            Some((i, action)) if p.rules[i].fail_closed => format!(
                "{dir}[{i}] fails closed: a field netsem does not know makes it {action} [rule 11.10]"
            ),
            Some((i, action)) => format!("{dir}[{i}] matches: {action}"),
            None => format!("no {dir} rule matches"),
        };
        let _ = writeln!(out, "      {} (priority {}): {first}", p.policy, p.priority);
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
    // Rule 8.7: a direction on another network is decided by that network's policies.
    let on = network.map_or(String::new(), |n| format!(" on network {n}"));
    if verdict.admin.policies.is_empty() && verdict.baseline.policies.is_empty() {
        network_policy_text(
            state,
            direction,
            network,
            verdict,
            &format!("  {dir} of {pod}{on}: "),
            "    ",
            out,
        );
        return;
    }
    let outcome = if verdict.outcome.tied() {
        "UNDETERMINED: tied admin policies may be applied either way"
    } else if verdict.allowed() {
        "allowed"
    } else {
        "DENIED"
    };
    let _ = writeln!(
        out,
        "  {dir} of {pod}{on}: {outcome}, through the admin, NetworkPolicy and baseline tiers [rule 11.3]"
    );
    tier_text("admin", dir, &verdict.admin, true, out);
    let admin_passes = verdict.admin.decision.actions().contains(&Action::Pass);
    if admin_passes {
        network_policy_text(
            state,
            direction,
            network,
            verdict,
            "    NetworkPolicy tier: ",
            "      ",
            out,
        );
        if verdict.isolated() {
            if let Some(e) = verdict.exemption {
                let _ = writeln!(out, "      exempt ({e:?}): the tier allows [rule 11.11]");
            }
        }
    } else {
        let _ = writeln!(out, "    NetworkPolicy tier: not reached");
    }
    let baseline_reached = admin_passes && !verdict.isolated();
    tier_text("baseline", dir, &verdict.baseline, baseline_reached, out);
    if baseline_reached && verdict.baseline.decision.actions().contains(&Action::Pass) {
        let _ = writeln!(out, "    default: allowed [rule 11.3]");
    }
}

/// Prints one decision, and which single profile switches would flip it.
/// Rules 6.12, 6.13, 7.10: how a Service connection reached its backend, and which source the
/// backend's policy sees.
fn arrival_text(state: &State, d: &Decision, out: &mut String) {
    use netsem_spec::decision::Via;
    let Some(a) = &d.arrival else {
        return;
    };
    let node = a
        .node
        .as_deref()
        .map(|n| format!(" on node {n}"))
        .unwrap_or_default();
    let via = match &a.via {
        Via::ClusterAddress => return,
        Via::NodePort { port, .. } => format!("node port {port} (Service port {})", a.service_port),
        Via::ExternalAddress {
            load_balancer: true,
        } => "a load-balancer address".to_string(),
        Via::ExternalAddress { .. } => "an external address".to_string(),
    };
    let _ = writeln!(
        out,
        "  arrived through {via}, translated{node} [rules 6.12, 6.13]"
    );
    if let Some(from) = &a.masqueraded_from {
        let _ = writeln!(
            out,
            "  masqueraded: the client {} is seen as the node's address (service-snat=visible) [rules 6.13, 7.10]",
            endpoint_text(state, from)
        );
    }
    if a.nodes.len() > 1 {
        let list: Vec<String> = a
            .nodes
            .iter()
            .map(|(n, ok)| format!("{n}: {}", if *ok { "allowed" } else { "denied" }))
            .collect();
        let _ = writeln!(
            out,
            "  the network may deliver it to any node; allowed only if allowed through each: {} [rule 6.13]",
            list.join(", ")
        );
    }
}

fn decision_text(state: &mut State, d: &Decision, out: &mut String) {
    let _ = writeln!(
        out,
        "{} {} -> {} port {}",
        d.protocol,
        endpoint_text(state, &d.source),
        endpoint_text(state, &d.destination),
        d.port
    );
    arrival_text(state, d, out);
    if d.undetermined() {
        let _ = writeln!(
            out,
            "  verdict: UNDETERMINED: allowed or denied as the implementation applies tied admin policies {} [rule 11.6]",
            d.ties
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    } else {
        let _ = writeln!(
            out,
            "  verdict: {}",
            if d.allowed { "ALLOWED" } else { "DENIED" }
        );
    }
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
    let mattered = switches_flipping(state, d);
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

/// The profile switches (`switch=value`, from [`netsem_spec::Profile::neighbours`]) each of which
/// alone would flip the verdict of `d`. The state's profile is changed only while they are
/// tried, and restored.
pub fn switches_flipping(state: &mut State, d: &Decision) -> Vec<String> {
    let profile = *state.profile();
    let mut mattered = Vec::new();
    for (name, other) in profile.neighbours() {
        state.set_profile(other);
        // Rule 7.10: with the masquerade hidden, policy sees the client the node masqueraded.
        let source = match d.arrival.as_ref().and_then(|a| a.masqueraded_from.as_ref()) {
            Some(client) if other.service_snat != profile.service_snat => client,
            _ => &d.source,
        };
        let flipped = state
            .decide(
                source,
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
    mattered
}

/// What decided one direction of a connection, or the connection as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Because {
    /// Refused before policy (rules 2.3, 6.x, 8.6).
    Refused(Refusal),
    /// Outside policy under the profile (rules 7.1, 7.2, 7.5, 7.7).
    Exempt(Exemption),
    /// No policy isolates the pod in this direction (rules 5.2, 5.3).
    NotIsolated(PolicyType, netsem_spec::PodId),
    /// The first rule of a selecting policy that matches (rules 5.4, 5.6).
    AllowedBy(PolicyType, RuleMatch),
    /// Isolated by these policies, and none of their rules matches (rules 5.2, 5.4, 5.5).
    NoRuleMatches(PolicyType, netsem_spec::PodId, Vec<PolicyId>),
    /// Isolated, and the protocol is denied whatever the rules say (rule 7.7).
    OtherProtocolDenied(PolicyType, netsem_spec::PodId, Vec<PolicyId>),
    /// An admin tier's rule decided (rules 11.3, 11.4): the tier (`Admin`, `Baseline`), the
    /// policy, the rule's index and its action.
    Tier(
        PolicyType,
        &'static str,
        netsem_spec::admin::AdminPolicyId,
        usize,
        Action,
    ),
    /// Admin policies of one tier and priority disagree: the implementation may apply either
    /// (rule 11.6).
    Tied(PolicyType, Vec<netsem_spec::admin::AdminPolicyId>),
}

impl Because {
    /// The direction this is about; `None` for the connection as a whole.
    pub fn direction(&self) -> Option<PolicyType> {
        match self {
            Because::Refused(_) | Because::Exempt(_) => None,
            Because::NotIsolated(d, _)
            | Because::AllowedBy(d, _)
            | Because::NoRuleMatches(d, _, _)
            | Because::OtherProtocolDenied(d, _, _)
            | Because::Tier(d, ..)
            | Because::Tied(d, _) => Some(*d),
        }
    }
}

impl std::fmt::Display for Because {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[PolicyId]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Because::Refused(Refusal::NotRunning { pod }) => {
                write!(f, "refused: pod {pod} is not running [rule 2.3]")
            }
            Because::Refused(Refusal::NoRoute) => {
                write!(
                    f,
                    "refused: no route between the networks (multi-network type 2, or a primary user-defined network) [rules 8.6, 8.11]"
                )
            }
            Because::Refused(r) => write!(
                f,
                "refused by the Service: {} ({}) [rules 6.2-6.18]",
                r.name(),
                if r.dropped() { "dropped" } else { "rejected" }
            ),
            Because::Tier(d, tier, policy, rule, action) => write!(
                f,
                "{action} by {policy} {}[{rule}] in the {tier} tier [rules 11.3, 11.4]",
                direction_name(*d)
            ),
            Because::Tied(d, policies) => write!(
                f,
                "{} undetermined: tied admin policies {} [rule 11.6]",
                direction_name(*d),
                policies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Because::Exempt(e) => f.write_str(match e {
                Exemption::PodToSelf => "exempt: pod to itself (pod-to-self=allowed) [rule 7.1]",
                Exemption::ServiceHairpin => {
                    "exempt: pod to itself through a Service (service-hairpin=allowed) [rule 7.2]"
                }
                Exemption::OwnNode => {
                    "exempt: pod and its own node (node-traffic=always-allowed) [rule 7.5]"
                }
                Exemption::OtherProtocol => {
                    "exempt: protocol not filtered (other-protocols=allowed) [rule 7.7]"
                }
            }),
            Because::NotIsolated(d, pod) => write!(
                f,
                "{} of {pod} not isolated [rules 5.2, 5.3]",
                direction_name(*d)
            ),
            Because::AllowedBy(d, m) => {
                let word = if *d == PolicyType::Ingress {
                    "from"
                } else {
                    "to"
                };
                let peer = match m.peer {
                    Some(i) => format!("{word}[{i}]"),
                    None => "any peer".to_string(),
                };
                write!(
                    f,
                    "allowed by {} {}[{}] {peer} [rules 5.4, 5.6]",
                    m.policy,
                    direction_name(*d),
                    m.rule
                )
            }
            Because::NoRuleMatches(d, pod, policies) => write!(
                f,
                "{} of {pod} isolated by {}, no rule matches [rules 5.2, 5.4]",
                direction_name(*d),
                list(policies)
            ),
            Because::OtherProtocolDenied(d, pod, policies) => write!(
                f,
                "{} of {pod} isolated by {}, other-protocols=denied [rule 7.7]",
                direction_name(*d),
                list(policies)
            ),
        }
    }
}

/// What decided a connection: the verdict and its reasons, the connection's own (a refusal, an
/// exemption) or one per policed direction, egress first. Only the directions that decided are
/// listed: for a denied connection, the denying directions; for an allowed one, both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    /// The verdict.
    pub allowed: bool,
    /// Why.
    pub because: Vec<Because>,
}

impl Attribution {
    /// The reasons about `direction` (and those about the whole connection).
    pub fn about(&self, direction: Option<PolicyType>) -> Vec<&Because> {
        self.because
            .iter()
            .filter(|b| direction.is_none() || b.direction().is_none_or(|d| Some(d) == direction))
            .collect()
    }
}

impl std::fmt::Display for Attribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.because.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

/// The one place that says what decided a connection (the "which policy" question): the
/// refusal or exemption, else, per policed direction, the first allowing rule, or the policies
/// that isolate the pod without any rule matching. `check --attribute`, the disagreements of
/// `check`, `serve`'s `explain` and the suite all read it.
pub fn deciding(d: &Decision) -> Attribution {
    let mut because = Vec::new();
    if let Some(r) = &d.refusal {
        because.push(Because::Refused(r.clone()));
    } else if let Some(e) = d.exemption {
        because.push(Because::Exempt(e));
    } else {
        for (direction, verdict, pod) in [
            (PolicyType::Egress, &d.egress, d.source.pod()),
            (PolicyType::Ingress, &d.ingress, d.destination.pod()),
        ] {
            let (Some(v), Some(pod)) = (verdict, pod) else {
                continue;
            };
            let tier_decided = |t: &TierDecision, name: &'static str| match t {
                TierDecision::Decided {
                    action: action @ (Action::Accept | Action::Deny),
                    policy,
                    rule,
                } => Some(Because::Tier(
                    direction,
                    name,
                    policy.clone(),
                    *rule,
                    *action,
                )),
                TierDecision::Tie { policies, .. } => {
                    Some(Because::Tied(direction, policies.clone()))
                }
                _ => None,
            };
            // Rule 11.3: the admin tier, then NetworkPolicy, then the baseline tier.
            if let Some(b) = tier_decided(&v.admin.decision, "Admin") {
                because.push(b);
                continue;
            }
            let isolating = || v.policies.iter().map(|p| p.policy.clone()).collect();
            if !v.isolated() {
                if let Some(b) = tier_decided(&v.baseline.decision, "Baseline") {
                    because.push(b);
                } else if d.allowed {
                    because.push(Because::NotIsolated(direction, pod.clone()));
                }
            } else if v.network_policy_allows() == Some(true) {
                if d.allowed {
                    match v.allowing().next() {
                        Some(first) => because.push(Because::AllowedBy(direction, first)),
                        None => {
                            if let Some(e) = v.exemption {
                                because.push(Because::Exempt(e));
                            }
                        }
                    }
                }
            } else if v.other_protocol_denied {
                because.push(Because::OtherProtocolDenied(
                    direction,
                    pod.clone(),
                    isolating(),
                ));
            } else {
                because.push(Because::NoRuleMatches(direction, pod.clone(), isolating()));
            }
        }
    }
    Attribution {
        allowed: d.allowed,
        because,
    }
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
        return Ok((out, d.verdict()));
    };
    // What the connection was sent to: a Service (by name, cluster or external address), a
    // node port (rule 6.12), or an unallocated address of a ServiceCIDR (rule 6.17).
    let service = match target {
        Target::Service(s) => Some(s.clone()),
        Target::Address(a) => match state.addresses().get(a) {
            Some(AddressOwner::Service { service, .. }) => Some(service.clone()),
            Some(AddressOwner::Node { .. }) => state
                .node_port_service(protocol, port)
                .map(|s| s.id.clone()),
            _ => None,
        },
        Target::Pod(_) => None,
    };
    let to = match (&service, target) {
        (Some(s), Target::Address(a)) => format!("service {s} ({a})"),
        (Some(s), _) => format!("service {s}"),
        (None, Target::Address(a)) => a.to_string(),
        (None, _) => "?".to_string(),
    };
    if backends.is_empty() {
        let refusal = opened.refusal.clone().unwrap_or(Refusal::NoBackends);
        let why = match &refusal {
            Refusal::NotReachableFromOutside => "a cluster address of a Service is not reachable from outside the cluster [rule 6.10]".to_string(),
            Refusal::UnallocatedServiceAddress => "the address lies in a ServiceCIDR but no Service holds it [rule 6.17]".to_string(),
            Refusal::SourceRange => "the client is outside the Service's loadBalancerSourceRanges [rule 6.14]".to_string(),
            Refusal::NoLocalEndpoints => "the traffic policy is Local and the node that receives the connection has no endpoint [rules 6.7, 6.13]".to_string(),
            r => format!("refused by the Service: {} [rules 6.2, 6.5-6.8]", r.name()),
        };
        let how = if refusal.dropped() {
            "dropped"
        } else {
            "rejected"
        };
        let _ = writeln!(
            out,
            "{protocol} {} -> {to} port {port}",
            source_text(state, source)
        )
        .and_then(|_| writeln!(out, "  verdict: DENIED, {how}: {why} [rule 6.18]"));
        return Ok((out, Some(false)));
    }
    let _ = writeln!(out, "{to} port {port}/{protocol} has {} possible backend(s); each is decided pod to pod on its target port [rules 6.1, 6.4]", backends.len());
    for d in backends.values() {
        let _ = writeln!(out);
        decision_text(state, d, &mut out);
    }
    let all = backends.values().all(|d| d.allowed);
    let none = backends.values().all(Decision::denied);
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

/// Rules 6.19–6.26: a connection from outside through an Ingress or a Gateway: the route the
/// request matched, the controller, and each leg decided as the connection it is, with the
/// source its destination's policy saw. The verdict is the whole path's: allowed only when both
/// legs are, for every controller pod and backend that may carry it.
pub fn explain_entry(
    state: &mut State,
    request: &netsem_spec::decision::entry::EntryRequest,
) -> Result<Explained, String> {
    use netsem_spec::decision::entry::attempt_entry;
    use netsem_spec::entry::Controller;
    let a = attempt_entry(state, &SpecCore, request).map_err(|e| e.message)?;
    let entry = state
        .entry_point(&request.via)
        .cloned()
        .expect("attempt_entry found it");
    let mut out = String::new();
    let l7 = &request.l7;
    let mut asked = vec![format!("path {}", l7.path)];
    if let Some(h) = &l7.host {
        asked.insert(0, format!("host {h}"));
    }
    if let Some(m) = &l7.method {
        asked.push(format!("method {m}"));
    }
    for (k, v) in &l7.headers {
        asked.push(format!("header {k}: {v}"));
    }
    let _ = writeln!(
        out,
        "{} {} -> {} port {} ({})",
        request.protocol,
        source_text(state, &Source::Address(request.from.clone())),
        request.via,
        request.port,
        asked.join(", ")
    );
    let controller = match entry.controller() {
        Controller::Service(s) => format!("the pods behind Service {s}, reached through it"),
        Controller::Pods {
            namespace,
            selector,
        } => format!(
            "the pods of namespace {namespace} labelled {}",
            selector
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Controller::Address(addr) => {
            format!("outside the pods, sending from {addr} (the ingress-controller entity)")
        }
    };
    let _ = writeln!(out, "  controller: {controller} [rule 6.20]");
    match &a.route {
        Some(r) => {
            let backends: Vec<String> = r
                .backends
                .iter()
                .map(|b| format!("service {} port {}", b.service, b.port))
                .collect();
            let _ = writeln!(
                out,
                "  route: {} -> {} [rules 6.21, 6.24, 6.25]",
                r.route,
                if backends.is_empty() {
                    "no backend".to_string()
                } else {
                    backends.join(", ")
                }
            );
        }
        None if a.refusal == Some(Refusal::NoMatchingRoute) => {
            let _ = writeln!(out, "  route: none: no listener and route of {} take this request, and it has no default backend [rules 6.21, 6.23, 6.24]", request.via);
        }
        None => {}
    }
    if let Some(r) = &a.refusal {
        let why = match r {
            Refusal::NoMatchingRoute => "the controller answers the request itself (HTTP 404) or closes it".to_string(),
            Refusal::NoBackends if a.route.is_some() => "the route's backends have no usable endpoint, or are not Services it may reach (a cross-namespace backendRef needs a ReferenceGrant) [rule 6.25]".to_string(),
            Refusal::NotReachableFromOutside => "the controller's Service has only a cluster address, which outside clients cannot reach [rule 6.10]".to_string(),
            other => format!("the client's leg to the controller is refused: {} [rules 6.18, 6.20]", other.name()),
        };
        let _ = writeln!(out, "  verdict: DENIED: {why} [rule 6.26]");
        return Ok(Explained {
            text: out,
            allowed: Some(false),
            dependencies: Vec::new(),
        });
    }
    for p in &a.paths {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "through controller {}:",
            endpoint_text(state, &p.controller)
        );
        match &p.client {
            Some(d) => {
                let _ = writeln!(
                    out,
                    "client leg, the controller's policy sees {} [rule 6.19]:",
                    endpoint_text(state, &d.source)
                );
                decision_text(state, d, &mut out);
            }
            None => {
                let _ = writeln!(out, "client leg: the controller is outside the pods: no policy applies to it [rule 6.20]");
            }
        }
        for d in p.backends.values() {
            let _ = writeln!(
                out,
                "backend leg, the backend's policy sees {} (never the client) [rule 6.19]:",
                endpoint_text(state, &d.source)
            );
            decision_text(state, d, &mut out);
        }
    }
    let allowed = if a.chosen.is_some() {
        a.allowed()
    } else {
        let every = a
            .paths
            .iter()
            .all(|p| p.backends.keys().all(|b| p.allowed(b)));
        if every {
            Some(true)
        } else {
            a.allowed()
        }
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "verdict: {} [rule 6.26]",
        match allowed {
            Some(true) => "ALLOWED: both legs allow, through every controller pod and backend",
            Some(false) => "DENIED: a leg denies on every path",
            None => "it depends on the controller pod and backend the implementation picks",
        }
    );
    Ok(Explained {
        text: out,
        allowed,
        dependencies: Vec::new(),
    })
}
