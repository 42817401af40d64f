//! Random cluster-admin policies (rules 11.1–11.9) for the scenario generator: every tier,
//! action, subject, peer and protocol form the API admits, over the scenario's universe of
//! labels, ports and addresses. Priorities come from a small set so that policies of one tier
//! often share one, which is where ties (rule 11.6) come from.

use super::scenario::{namespace_selector, pick, selector, PORTS, PORT_NAMES};
use arbitrary::{Result, Unstructured};
use ipnet::IpNet;
use netsem_spec::admin::{
    Action, AdminKind, AdminPeer, AdminPolicyId, AdminProtocol, AdminRule, ClusterNetworkPolicy,
    NamespacedPods, Subject, Tier,
};
use netsem_spec::net::Protocol;
use netsem_spec::State;
use serde_json::{json, Value};

/// The names admin policies are drawn from.
const NAMES: [&str; 3] = ["cnp-a", "cnp-b", "cnp-c"];
/// Priorities: few, so that ties happen.
const PRIORITIES: [u32; 5] = [0, 5, 5, 10, 1000];
/// CIDRs for `networks` peers: pod addresses the scenarios hand out, the node and external
/// ranges, and everything.
const NETWORKS: [&str; 6] = [
    "10.0.1.0/24",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "::/0",
    "192.0.2.0/24",
    "10.0.1.1/32",
];

/// An admin policy's identity: mostly a `ClusterNetworkPolicy`; now and then one of the
/// v1alpha1 kinds (rule 11.13).
pub fn admin_policy_id(u: &mut Unstructured) -> Result<AdminPolicyId> {
    Ok(match u.int_in_range(0..=7)? {
        0 => AdminPolicyId {
            kind: AdminKind::AdminNetworkPolicy,
            name: pick(u, &NAMES)?.into(),
        },
        1 => AdminPolicyId {
            kind: AdminKind::BaselineAdminNetworkPolicy,
            name: "default".into(),
        },
        _ => AdminPolicyId::cnp(pick(u, &NAMES)?),
    })
}

/// Mostly an admin policy that exists, else a fresh identity.
pub fn known_admin_policy_id(u: &mut Unstructured, state: &State) -> Result<AdminPolicyId> {
    let known: Vec<AdminPolicyId> = state.admin_policies().map(|p| p.id()).collect();
    if !known.is_empty() && u.ratio(4, 5)? {
        Ok(u.choose(&known)?.clone())
    } else {
        admin_policy_id(u)
    }
}

fn namespaced_pods(u: &mut Unstructured) -> Result<NamespacedPods> {
    Ok(NamespacedPods {
        namespace_selector: namespace_selector(u)?,
        pod_selector: selector(u)?,
    })
}

fn peer(u: &mut Unstructured, egress: bool) -> Result<AdminPeer> {
    let choices = if egress { 5 } else { 2 };
    Ok(match u.int_in_range(0..=choices)? {
        0 => AdminPeer::Namespaces(namespace_selector(u)?),
        1 | 2 => AdminPeer::Pods(namespaced_pods(u)?),
        3 | 4 => {
            let mut nets: Vec<IpNet> = vec![pick(u, &NETWORKS)?.parse().expect("literal")];
            if u.ratio(1, 3)? {
                let more: IpNet = pick(u, &NETWORKS)?.parse().expect("literal");
                if !nets.contains(&more) {
                    nets.push(more);
                }
            }
            AdminPeer::Networks(nets)
        }
        _ => AdminPeer::Nodes(selector(u)?),
    })
}

fn protocol_entry(u: &mut Unstructured, named: bool) -> Result<AdminProtocol> {
    if named && u.ratio(1, 4)? {
        return Ok(AdminProtocol::NamedPort(pick(u, &PORT_NAMES)?.into()));
    }
    let protocol = pick(u, &Protocol::PORTED)?;
    let first = pick(u, &PORTS)?;
    // A single port, or a range with start < end as the API requires.
    let last = if u.ratio(1, 2)? {
        first
    } else {
        first
            .saturating_add(u.int_in_range(1..=1000)?)
            .max(first + 1)
    };
    Ok(AdminProtocol::Ports {
        protocol,
        first,
        last,
    })
}

fn rule(u: &mut Unstructured, egress: bool, kind: AdminKind, tier: Tier) -> Result<AdminRule> {
    // v1alpha1's BANP has no Pass; v1alpha2 allows every action in both tiers (rarer in
    // Baseline).
    let action = pick(
        u,
        &[Action::Accept, Action::Deny, Action::Deny, Action::Pass],
    )?;
    let no_pass = kind == AdminKind::BaselineAdminNetworkPolicy
        || (tier == Tier::Baseline && u.ratio(1, 2)?);
    let action = if action == Action::Pass && no_pass {
        Action::Deny
    } else {
        action
    };
    let mut peers = vec![peer(u, egress)?];
    if u.ratio(1, 3)? {
        peers.push(peer(u, egress)?);
    }
    // The API rejects a named port beside a `networks` or `nodes` peer (rule 11.12).
    let named = !peers
        .iter()
        .any(|p| matches!(p, AdminPeer::Networks(_) | AdminPeer::Nodes(_)));
    let protocols = if u.ratio(1, 2)? {
        None
    } else {
        let mut ps = vec![protocol_entry(u, named)?];
        if u.ratio(1, 3)? {
            ps.push(protocol_entry(u, named)?);
        }
        Some(ps)
    };
    Ok(AdminRule {
        name: None,
        action,
        peers,
        protocols,
    })
}

/// A random, valid admin policy of identity `id`: its kind fixes the tier of the v1alpha1
/// kinds (rule 11.13).
pub fn cluster_network_policy(
    u: &mut Unstructured,
    id: AdminPolicyId,
) -> Result<ClusterNetworkPolicy> {
    let tier = match id.kind {
        AdminKind::AdminNetworkPolicy => Tier::Admin,
        AdminKind::BaselineAdminNetworkPolicy => Tier::Baseline,
        AdminKind::ClusterNetworkPolicy => pick(u, &[Tier::Admin, Tier::Baseline])?,
    };
    let priority = match id.kind {
        AdminKind::BaselineAdminNetworkPolicy => 0,
        _ => pick(u, &PRIORITIES)?,
    };
    let kind = id.kind;
    let subject = if u.ratio(1, 2)? {
        Subject::Namespaces(namespace_selector(u)?)
    } else {
        Subject::Pods(namespaced_pods(u)?)
    };
    let mut p = ClusterNetworkPolicy {
        kind: id.kind,
        name: id.name,
        tier,
        priority,
        subject,
        ingress: Vec::new(),
        egress: Vec::new(),
    };
    for _ in 0..u.int_in_range(0..=2)? {
        p.ingress.push(rule(u, false, kind, tier)?);
    }
    for _ in 0..u.int_in_range(0..=2)? {
        p.egress.push(rule(u, true, kind, tier)?);
    }
    Ok(p)
}

/// An admin policy as the `policy.networking.k8s.io` object it stands for: `v1alpha2`
/// `ClusterNetworkPolicy`, or the `v1alpha1` kinds (`Allow` for `Accept`, `ports` for
/// `protocols`, no `tier`, no BANP priority).
pub fn admin_manifest(p: &ClusterNetworkPolicy) -> Value {
    let v1alpha1 = p.kind != AdminKind::ClusterNetworkPolicy;
    let protocol = |e: &AdminProtocol| -> Value {
        if v1alpha1 {
            match e {
                AdminProtocol::Ports {
                    protocol,
                    first,
                    last,
                } if first == last => {
                    json!({"portNumber": {"protocol": protocol.to_string(), "port": first}})
                }
                AdminProtocol::Ports {
                    protocol,
                    first,
                    last,
                } => {
                    json!({"portRange": {"protocol": protocol.to_string(), "start": first, "end": last}})
                }
                AdminProtocol::NamedPort(n) => json!({"namedPort": n}),
                AdminProtocol::Unknown(_) => json!({}),
            }
        } else {
            json!(e)
        }
    };
    let peer = |peer: &AdminPeer| -> Value {
        match peer {
            AdminPeer::Pods(NamespacedPods {
                namespace_selector,
                pod_selector,
            }) => {
                json!({"pods": {"namespaceSelector": namespace_selector, "podSelector": pod_selector}})
            }
            other => json!(other),
        }
    };
    let rules = |rules: &[AdminRule], peers: &str| -> Vec<Value> {
        rules
            .iter()
            .map(|r| {
                let action = match (v1alpha1, r.action) {
                    (true, Action::Accept) => "Allow".to_string(),
                    (_, a) => a.to_string(),
                };
                let mut v =
                    json!({"action": action, peers: r.peers.iter().map(peer).collect::<Vec<_>>()});
                if let Some(ps) = &r.protocols {
                    let key = if v1alpha1 { "ports" } else { "protocols" };
                    v[key] = json!(ps.iter().map(protocol).collect::<Vec<_>>());
                }
                v
            })
            .collect()
    };
    let subject = match &p.subject {
        Subject::Namespaces(s) => json!({"namespaces": s}),
        Subject::Pods(n) => {
            json!({"pods": {"namespaceSelector": n.namespace_selector, "podSelector": n.pod_selector}})
        }
    };
    let mut spec = json!({"subject": subject});
    match p.kind {
        AdminKind::ClusterNetworkPolicy => {
            spec["tier"] = json!(p.tier);
            spec["priority"] = json!(p.priority);
        }
        AdminKind::AdminNetworkPolicy => spec["priority"] = json!(p.priority),
        AdminKind::BaselineAdminNetworkPolicy => {}
    }
    if !p.ingress.is_empty() {
        spec["ingress"] = json!(rules(&p.ingress, "from"));
    }
    if !p.egress.is_empty() {
        spec["egress"] = json!(rules(&p.egress, "to"));
    }
    let api_version = if v1alpha1 {
        "policy.networking.k8s.io/v1alpha1"
    } else {
        "policy.networking.k8s.io/v1alpha2"
    };
    json!({
        "apiVersion": api_version, "kind": p.kind.as_str(),
        "metadata": {"name": p.name},
        "spec": spec,
    })
}
