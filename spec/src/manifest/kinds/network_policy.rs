//! `networking.k8s.io/v1` NetworkPolicy: validated as `ValidateNetworkPolicySpec` does
//! (rule 9.2: selectors, ports, `endPort`, peers, `ipBlock`, `policyTypes`) and converted to
//! the spec's [`NetworkPolicy`]. Defaults are kept as written and applied by the decision
//! rules: absent `policyTypes` stays `None` (rule 5.3 derives the effective types), a port
//! entry's absent `protocol` is TCP (rule 5.7), an absent `port` stays `None` (every port of
//! its protocol, rule 5.7), and `endPort` makes a range (rule 5.8).

use crate::ident::PolicyId;
use crate::manifest::object::Obj;
use crate::manifest::validate::{self, child, index, Check, Invalid};
use crate::manifest::{LoadError, Object};
use crate::net::PortRef;
use crate::policy::{IpBlock, NetworkPolicy, Peer, PolicyPort, PolicyType, Rule};
use k8s_openapi::api::networking::v1 as networking;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

/// Rule 9.2: a NetworkPolicy, validated and converted.
pub(crate) fn policy_object(obj: &Obj, value: Value) -> Result<Object, LoadError> {
    let np: networking::NetworkPolicy = obj.read(value)?;
    let spec = np.spec.unwrap_or_default();
    let policy = policy_spec(obj.ns(), &obj.name, &spec).map_err(|e| obj.invalid(e))?;
    Ok(Object::NetworkPolicy(policy))
}

/// Rule 9.2 (`ValidateNetworkPolicySpec`) and conversion.
pub(crate) fn policy_spec(
    ns: &str,
    name: &str,
    spec: &networking::NetworkPolicySpec,
) -> Check<NetworkPolicy> {
    let pod_selector = match &spec.pod_selector {
        Some(s) => validate::label_selector(s, "spec.podSelector")?,
        None => Default::default(),
    };
    let mut ingress = Vec::new();
    for (i, r) in spec.ingress.iter().flatten().enumerate() {
        let at = index("spec.ingress", i);
        ingress.push(rule(
            &at,
            r.ports.as_deref().unwrap_or_default(),
            "from",
            r.from.as_deref().unwrap_or_default(),
        )?);
    }
    let mut egress = Vec::new();
    for (i, r) in spec.egress.iter().flatten().enumerate() {
        let at = index("spec.egress", i);
        egress.push(rule(
            &at,
            r.ports.as_deref().unwrap_or_default(),
            "to",
            r.to.as_deref().unwrap_or_default(),
        )?);
    }
    let policy_types = match &spec.policy_types {
        None => None,
        Some(types) => {
            if types.len() > 2 {
                return Err(Invalid::new(
                    "spec.policyTypes",
                    "Too many: may not specify more than two policyTypes",
                ));
            }
            let mut out = Vec::new();
            for (i, t) in types.iter().enumerate() {
                out.push(match t.as_str() {
                    "Ingress" => PolicyType::Ingress,
                    "Egress" => PolicyType::Egress,
                    other => {
                        return Err(Invalid::new(
                            index("spec.policyTypes", i),
                            format!(
                                "Unsupported value: {other:?}: supported values: \"Egress\", \
                                 \"Ingress\""
                            ),
                        ))
                    }
                });
            }
            Some(out)
        }
    };
    Ok(NetworkPolicy {
        id: PolicyId::new(ns, name),
        pod_selector,
        policy_types,
        ingress,
        egress,
    })
}

fn rule(
    at: &str,
    ports: &[networking::NetworkPolicyPort],
    peers_key: &str,
    peers: &[networking::NetworkPolicyPeer],
) -> Check<Rule> {
    let mut out_ports = Vec::new();
    for (j, p) in ports.iter().enumerate() {
        out_ports.push(policy_port(&index(&child(at, "ports"), j), p)?);
    }
    let mut out_peers = Vec::new();
    for (j, p) in peers.iter().enumerate() {
        out_peers.push(peer(&index(&child(at, peers_key), j), p)?);
    }
    Ok(Rule {
        ports: out_ports,
        peers: out_peers,
    })
}

/// `ValidateNetworkPolicyPort`.
fn policy_port(at: &str, p: &networking::NetworkPolicyPort) -> Check<PolicyPort> {
    let protocol = validate::protocol(p.protocol.as_deref(), &child(at, "protocol"))?;
    let end_path = child(at, "endPort");
    let (port, end_port) = match (&p.port, p.end_port) {
        (None, None) => (None, None),
        (None, Some(_)) => {
            return Err(Invalid::new(
                end_path,
                "Forbidden: may not be specified when `port` is not specified",
            ))
        }
        (Some(IntOrString::String(_)), Some(_)) => {
            return Err(Invalid::new(
                end_path,
                "Forbidden: may not be specified when `port` is non-numeric",
            ))
        }
        (Some(r), None) => (Some(validate::port_ref(r, &child(at, "port"))?), None),
        (Some(IntOrString::Int(start)), Some(end)) => {
            let start_port = validate::port_number(*start, &child(at, "port"))?;
            if end < *start {
                return Err(Invalid::new(
                    end_path,
                    format!(
                        "Invalid value: {end}: must be greater than or equal to `port` ({start})"
                    ),
                ));
            }
            let end_port = validate::port_number(end, &end_path)?;
            (Some(PortRef::Number(start_port)), Some(end_port))
        }
    };
    Ok(PolicyPort {
        protocol,
        port,
        end_port,
    })
}

/// `ValidateNetworkPolicyPeer` and `ValidateIPBlock`.
fn peer(at: &str, p: &networking::NetworkPolicyPeer) -> Check<Peer> {
    let pod_selector = p
        .pod_selector
        .as_ref()
        .map(|s| validate::label_selector(s, &child(at, "podSelector")))
        .transpose()?;
    let namespace_selector = p
        .namespace_selector
        .as_ref()
        .map(|s| validate::label_selector(s, &child(at, "namespaceSelector")))
        .transpose()?;
    match &p.ip_block {
        None if pod_selector.is_none() && namespace_selector.is_none() => Err(Invalid::new(
            at,
            "Required value: must specify a peer (podSelector, namespaceSelector or ipBlock)",
        )),
        None => Ok(Peer::Pods {
            namespace_selector,
            pod_selector,
        }),
        Some(_) if pod_selector.is_some() || namespace_selector.is_some() => Err(Invalid::new(
            at,
            "Forbidden: may not specify both ipBlock and another peer",
        )),
        Some(block) => {
            let block_path = child(at, "ipBlock");
            let cidr = validate::cidr(&block.cidr, &child(&block_path, "cidr"))?;
            let mut except = Vec::new();
            for (k, e) in block.except.iter().flatten().enumerate() {
                let e_path = index(&child(&block_path, "except"), k);
                let net = validate::cidr(e, &e_path)?;
                if !validate::strict_subset(&net, &cidr) {
                    return Err(Invalid::new(
                        e_path,
                        format!(
                            "Invalid value: {e:?}: must be a strict subset of `cidr` ({})",
                            block.cidr
                        ),
                    ));
                }
                except.push(net);
            }
            Ok(Peer::IpBlock(IpBlock { cidr, except }))
        }
    }
}
