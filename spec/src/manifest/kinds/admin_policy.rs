//! `policy.networking.k8s.io` cluster-admin policies (rules 11.10, 11.12, 11.13):
//! `v1alpha2` ClusterNetworkPolicy and `v1alpha1` AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy, validated as their CRDs admit them and converted to the spec's
//! [`ClusterNetworkPolicy`]. There is no k8s-openapi type for these CRDs, so the spec and its
//! rules are declared here; peers and protocol entries are read field by field, because a field
//! netsem does not know there is not an error but a rule that fails closed (rule 11.10).
//!
//! Sources: network-policy-api `apis/v1alpha2/clusternetworkpolicy_types.go` and the v0.2.0
//! CRDs (limits, CEL), `apis/v1alpha1` on `release-0.1` for the v1alpha1 kinds.

use crate::admin::{
    Action, AdminKind, AdminPeer, AdminProtocol, AdminRule, ClusterNetworkPolicy, NamespacedPods,
    Subject, Tier,
};
use crate::manifest::object::{HasMetadata, Obj};
use crate::manifest::validate::{self, child, index, Check, Invalid};
use crate::manifest::{LoadError, Object};
use crate::net::Protocol;
use crate::selector::LabelSelector;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The API version of ClusterNetworkPolicy.
pub(crate) const V1ALPHA2: &str = "policy.networking.k8s.io/v1alpha2";
/// The API version of AdminNetworkPolicy and BaselineAdminNetworkPolicy.
pub(crate) const V1ALPHA1: &str = "policy.networking.k8s.io/v1alpha1";

#[derive(Debug, Default, Deserialize)]
struct AdminObject {
    #[serde(default)]
    metadata: meta::ObjectMeta,
    #[serde(default)]
    spec: Option<Spec>,
}

impl HasMetadata for AdminObject {
    fn meta(&self) -> &meta::ObjectMeta {
        &self.metadata
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    subject: Option<RawSubject>,
    #[serde(default)]
    ingress: Option<Vec<RawRule>>,
    #[serde(default)]
    egress: Option<Vec<RawRule>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSubject {
    #[serde(default)]
    namespaces: Option<meta::LabelSelector>,
    #[serde(default)]
    pods: Option<RawPods>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPods {
    #[serde(default)]
    namespace_selector: Option<meta::LabelSelector>,
    #[serde(default)]
    pod_selector: Option<meta::LabelSelector>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    from: Option<Vec<Map<String, Value>>>,
    #[serde(default)]
    to: Option<Vec<Map<String, Value>>>,
    /// v1alpha2.
    #[serde(default)]
    protocols: Option<Vec<Map<String, Value>>>,
    /// v1alpha1.
    #[serde(default)]
    ports: Option<Vec<Map<String, Value>>>,
}

/// What the kind's API admits (rules 11.12, 11.13).
struct Api {
    kind: AdminKind,
    /// Most rules per direction, and most peers per rule.
    max_rules: usize,
    max_peers: usize,
    actions: &'static [(&'static str, Action)],
}

impl Api {
    fn of(kind: AdminKind) -> Api {
        match kind {
            AdminKind::ClusterNetworkPolicy => Api {
                kind,
                max_rules: 25,
                max_peers: 25,
                actions: &[
                    ("Accept", Action::Accept),
                    ("Deny", Action::Deny),
                    ("Pass", Action::Pass),
                ],
            },
            AdminKind::AdminNetworkPolicy => Api {
                kind,
                max_rules: 100,
                max_peers: 100,
                actions: &[
                    ("Allow", Action::Accept),
                    ("Deny", Action::Deny),
                    ("Pass", Action::Pass),
                ],
            },
            AdminKind::BaselineAdminNetworkPolicy => Api {
                kind,
                max_rules: 100,
                max_peers: 100,
                actions: &[("Allow", Action::Accept), ("Deny", Action::Deny)],
            },
        }
    }

    fn v1alpha1(&self) -> bool {
        self.kind != AdminKind::ClusterNetworkPolicy
    }
}

/// Rules 11.12, 11.13: an admin policy of `kind`, validated and converted, with the warnings
/// of rules that fail closed (rule 11.10).
pub(crate) fn admin_policy_object(
    obj: &Obj,
    kind: AdminKind,
    value: Value,
) -> Result<(Object, Vec<String>), LoadError> {
    let raw: AdminObject = obj.read(value)?;
    let mut warnings = Vec::new();
    let policy =
        convert(&obj.name, Api::of(kind), raw.spec, &mut warnings).map_err(|e| obj.invalid(e))?;
    Ok((Object::AdminPolicy(policy), warnings))
}

fn convert(
    name: &str,
    api: Api,
    spec: Option<Spec>,
    warnings: &mut Vec<String>,
) -> Check<ClusterNetworkPolicy> {
    let spec = spec.ok_or_else(|| Invalid::new("spec", "Required value"))?;
    if api.kind == AdminKind::BaselineAdminNetworkPolicy && name != "default" {
        return Err(Invalid::new(
            "metadata.name",
            "Invalid value: only one BaselineAdminNetworkPolicy, named `default`, can exist",
        ));
    }
    let tier = match api.kind {
        AdminKind::ClusterNetworkPolicy => match spec.tier.as_deref() {
            Some("Admin") => Tier::Admin,
            Some("Baseline") => Tier::Baseline,
            Some(other) => {
                return Err(Invalid::new(
                    "spec.tier",
                    format!(
                        "Unsupported value `{other}`: supported values: \"Admin\", \"Baseline\""
                    ),
                ))
            }
            None => return Err(Invalid::new("spec.tier", "Required value")),
        },
        _ if spec.tier.is_some() => {
            return Err(Invalid::new(
                "spec.tier",
                "unknown field: v1alpha1 kinds have no tier (the kind is the tier)",
            ))
        }
        AdminKind::AdminNetworkPolicy => Tier::Admin,
        AdminKind::BaselineAdminNetworkPolicy => Tier::Baseline,
    };
    let priority = match (api.kind, spec.priority) {
        (AdminKind::BaselineAdminNetworkPolicy, None) => 0,
        (AdminKind::BaselineAdminNetworkPolicy, Some(_)) => {
            return Err(Invalid::new(
                "spec.priority",
                "unknown field: a BaselineAdminNetworkPolicy has no priority",
            ))
        }
        (_, None) => return Err(Invalid::new("spec.priority", "Required value")),
        (_, Some(p)) if !(0..=1000).contains(&p) => {
            return Err(Invalid::new(
                "spec.priority",
                format!("Invalid value: {p}: must be between 0 and 1000"),
            ))
        }
        (_, Some(p)) => p as u32,
    };
    let subject = subject(&api, spec.subject)?;
    let ingress = rules(&api, spec.ingress, false, warnings)?;
    let egress = rules(&api, spec.egress, true, warnings)?;
    Ok(ClusterNetworkPolicy {
        kind: api.kind,
        name: name.to_string(),
        tier,
        priority,
        subject,
        ingress,
        egress,
    })
}

fn selector(sel: Option<&meta::LabelSelector>, path: &str) -> Check<LabelSelector> {
    match sel {
        Some(s) => validate::label_selector(s, path),
        None => Err(Invalid::new(path, "Required value")),
    }
}

fn namespaced_pods(api: &Api, p: &RawPods, path: &str) -> Check<NamespacedPods> {
    let namespace_path = child(path, "namespaceSelector");
    let namespace_selector = match (&p.namespace_selector, api.v1alpha1()) {
        (None, false) => LabelSelector::default(),
        (s, _) => selector(s.as_ref(), &namespace_path)?,
    };
    Ok(NamespacedPods {
        namespace_selector,
        pod_selector: selector(p.pod_selector.as_ref(), &child(path, "podSelector"))?,
    })
}

fn subject(api: &Api, s: Option<RawSubject>) -> Check<Subject> {
    let s = s.ok_or_else(|| Invalid::new("spec.subject", "Required value"))?;
    match (&s.namespaces, &s.pods) {
        (Some(ns), None) => Ok(Subject::Namespaces(validate::label_selector(
            ns,
            "spec.subject.namespaces",
        )?)),
        (None, Some(p)) => Ok(Subject::Pods(namespaced_pods(api, p, "spec.subject.pods")?)),
        _ => Err(Invalid::new(
            "spec.subject",
            "Invalid value: exactly one of `namespaces` or `pods` must be set",
        )),
    }
}

fn rules(
    api: &Api,
    raw: Option<Vec<RawRule>>,
    egress: bool,
    warnings: &mut Vec<String>,
) -> Check<Vec<AdminRule>> {
    let dir = if egress {
        "spec.egress"
    } else {
        "spec.ingress"
    };
    let raw = raw.unwrap_or_default();
    if raw.len() > api.max_rules {
        return Err(Invalid::new(
            dir,
            format!(
                "Too many: {}: must have at most {} items",
                raw.len(),
                api.max_rules
            ),
        ));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| rule(api, r, &index(dir, i), egress, warnings))
        .collect()
}

fn rule(
    api: &Api,
    r: RawRule,
    at: &str,
    egress: bool,
    warnings: &mut Vec<String>,
) -> Check<AdminRule> {
    if let Some(n) = &r.name {
        if n.len() > 100 {
            return Err(Invalid::new(
                child(at, "name"),
                "Too long: may not be more than 100 bytes",
            ));
        }
    }
    let action_path = child(at, "action");
    let action = match r.action.as_deref() {
        None => return Err(Invalid::new(action_path, "Required value")),
        Some(a) => api
            .actions
            .iter()
            .find(|(name, _)| *name == a)
            .map(|(_, action)| *action)
            .ok_or_else(|| {
                let supported: Vec<String> = api
                    .actions
                    .iter()
                    .map(|(n, _)| format!("\"{n}\""))
                    .collect();
                Invalid::new(
                    &action_path,
                    format!(
                        "Unsupported value `{a}`: supported values: {}",
                        supported.join(", ")
                    ),
                )
            })?,
    };
    let (peers_key, wrong_key, peers, wrong) = if egress {
        ("to", "from", r.to, r.from)
    } else {
        ("from", "to", r.from, r.to)
    };
    if wrong.is_some() {
        return Err(Invalid::new(
            child(at, wrong_key),
            format!("unknown field: this direction's peers are `{peers_key}`"),
        ));
    }
    let peers_path = child(at, peers_key);
    let raw_peers = peers.ok_or_else(|| Invalid::new(&peers_path, "Required value"))?;
    if raw_peers.is_empty() || raw_peers.len() > api.max_peers {
        return Err(Invalid::new(
            &peers_path,
            format!(
                "Invalid value: {} peers: must have between 1 and {} items",
                raw_peers.len(),
                api.max_peers
            ),
        ));
    }
    let mut peers = Vec::new();
    for (j, p) in raw_peers.iter().enumerate() {
        peers.push(peer(
            api,
            p,
            &index(&peers_path, j),
            egress,
            action,
            warnings,
        )?);
    }
    let (key, wrong_key, entries, wrong) = if api.v1alpha1() {
        ("ports", "protocols", r.ports, r.protocols)
    } else {
        ("protocols", "ports", r.protocols, r.ports)
    };
    if wrong.is_some() {
        return Err(Invalid::new(
            child(at, wrong_key),
            format!("unknown field: this API version's field is `{key}`"),
        ));
    }
    let protocols = match entries {
        None => None,
        Some(entries) => {
            let path = child(at, key);
            let max = if api.v1alpha1() { 100 } else { 25 };
            if entries.is_empty() || entries.len() > max {
                return Err(Invalid::new(
                    &path,
                    format!(
                        "Invalid value: {} entries: must have between 1 and {max} items",
                        entries.len()
                    ),
                ));
            }
            let mut out = Vec::new();
            for (j, e) in entries.iter().enumerate() {
                let at = index(&path, j);
                out.push(if api.v1alpha1() {
                    port_entry(e, &at, action, warnings)?
                } else {
                    protocol_entry(e, &at, action, warnings)?
                });
            }
            Some(out)
        }
    };
    // The experimental CRD's CEL, enforced in every profile: a named port needs a pod.
    let named = protocols
        .iter()
        .flatten()
        .any(|p| matches!(p, AdminProtocol::NamedPort(_)));
    let not_pods = peers
        .iter()
        .any(|p| matches!(p, AdminPeer::Networks(_) | AdminPeer::Nodes(_)));
    if named && not_pods {
        return Err(Invalid::new(
            at,
            "Invalid value: networks/nodes peer cannot be set with named ports since there are \
             no named ports for networks/nodes",
        ));
    }
    Ok(AdminRule {
        name: r.name,
        action,
        peers,
        protocols,
    })
}

/// The single field of a one-of object (`MinProperties=1`, `MaxProperties=1`).
fn one_field<'a>(map: &'a Map<String, Value>, at: &str) -> Check<(&'a str, &'a Value)> {
    let mut fields = map.iter();
    match (fields.next(), fields.next()) {
        (Some((k, v)), None) => Ok((k.as_str(), v)),
        (None, _) => Err(Invalid::new(
            at,
            "Invalid value: exactly one field must be set, found none",
        )),
        (Some(_), Some(_)) => Err(Invalid::new(
            at,
            format!(
                "Invalid value: exactly one field must be set, found {}",
                map.keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn typed<T: serde::de::DeserializeOwned>(v: &Value, at: &str) -> Check<T> {
    serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." {
            at.to_string()
        } else {
            format!("{at}.{inner}")
        };
        Invalid::new(path, e.inner().to_string())
    })
}

/// Rule 11.10: a field netsem does not know fails closed, with a warning.
fn fail_closed(
    key: &str,
    at: &str,
    action: Action,
    why: &str,
    warnings: &mut Vec<String>,
) -> String {
    let effect = if action == Action::Accept {
        "the Accept rule matches nothing"
    } else {
        "the rule denies all traffic"
    };
    warnings.push(format!(
        "{at}: {why} `{key}`: the rule fails closed, {effect} (rule 11.10)"
    ));
    key.to_string()
}

fn peer(
    api: &Api,
    map: &Map<String, Value>,
    at: &str,
    egress: bool,
    action: Action,
    warnings: &mut Vec<String>,
) -> Check<AdminPeer> {
    let (key, value) = one_field(map, at)?;
    let path = child(at, key);
    match key {
        "namespaces" => Ok(AdminPeer::Namespaces(validate::label_selector(
            &typed(value, &path)?,
            &path,
        )?)),
        "pods" => Ok(AdminPeer::Pods(namespaced_pods(
            api,
            &typed(value, &path)?,
            &path,
        )?)),
        "networks" | "nodes" if !egress => Err(Invalid::new(
            path,
            "unknown field: ingress peers are `namespaces` or `pods`",
        )),
        "networks" => {
            let nets: Vec<String> = typed(value, &path)?;
            if nets.is_empty() || nets.len() > 25 {
                return Err(Invalid::new(
                    &path,
                    format!(
                        "Invalid value: {} CIDRs: must have between 1 and 25 items",
                        nets.len()
                    ),
                ));
            }
            let mut out = Vec::new();
            for (k, n) in nets.iter().enumerate() {
                let p = index(&path, k);
                if n.len() > 43 {
                    return Err(Invalid::new(p, "Too long: may not be more than 43 bytes"));
                }
                let net = validate::cidr(n, &p).map_err(|_| {
                    Invalid::new(&p, format!("Invalid CIDR format provided: `{n}`"))
                })?;
                if let ipnet::IpNet::V6(v6) = net {
                    if v6.addr().to_ipv4_mapped().is_some() {
                        return Err(Invalid::new(
                            &p,
                            format!("Invalid CIDR format provided: `{n}` is IPv4-mapped IPv6"),
                        ));
                    }
                }
                if out.contains(&net) {
                    return Err(Invalid::new(p, format!("Duplicate value: `{n}`")));
                }
                out.push(net);
            }
            Ok(AdminPeer::Networks(out))
        }
        "nodes" => Ok(AdminPeer::Nodes(validate::label_selector(
            &typed(value, &path)?,
            &path,
        )?)),
        "domainNames" if egress => Ok(AdminPeer::Unknown(fail_closed(
            key,
            at,
            action,
            "netsem does not model DNS, so it cannot match",
            warnings,
        ))),
        other => Ok(AdminPeer::Unknown(fail_closed(
            other,
            at,
            action,
            "a peer field netsem does not know,",
            warnings,
        ))),
    }
}

fn port_number(v: &Value, at: &str) -> Check<u16> {
    let n: i64 = typed(v, at)?;
    if !(1..=65535).contains(&n) {
        return Err(Invalid::new(
            at,
            format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
        ));
    }
    Ok(n as u16)
}

/// A v1alpha2 `protocols` entry (rule 11.9).
fn protocol_entry(
    map: &Map<String, Value>,
    at: &str,
    action: Action,
    warnings: &mut Vec<String>,
) -> Check<AdminProtocol> {
    let (key, value) = one_field(map, at)?;
    let path = child(at, key);
    let protocol = match key {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        "destinationNamedPort" => {
            let name: String = typed(value, &path)?;
            if name.is_empty() {
                return Err(Invalid::new(path, "Required value"));
            }
            return Ok(AdminProtocol::NamedPort(name));
        }
        other => {
            return Ok(AdminProtocol::Unknown(fail_closed(
                other,
                at,
                action,
                "a protocol field netsem does not know,",
                warnings,
            )))
        }
    };
    let ports: Map<String, Value> = typed(value, &path)?;
    // `tcp: {}` is rejected by the CRD (`MinProperties=1`), although the docs describe it.
    let port_path = child(&path, "destinationPort");
    let Some(port) = ports.get("destinationPort") else {
        return Err(Invalid::new(
            port_path,
            "Required value: the CRD admits no protocol without a destinationPort; write \
             `range: {start: 1, end: 65535}` for every port",
        ));
    };
    if let Some(k) = ports.keys().find(|k| *k != "destinationPort") {
        return Err(Invalid::new(child(&path, k), "unknown field"));
    }
    let port: Map<String, Value> = typed(port, &port_path)?;
    let (k, v) = one_field(&port, &port_path)?;
    match k {
        "number" => {
            let n = port_number(v, &child(&port_path, "number"))?;
            Ok(AdminProtocol::Ports {
                protocol,
                first: n,
                last: n,
            })
        }
        "range" => {
            let range_path = child(&port_path, "range");
            let range: Map<String, Value> = typed(v, &range_path)?;
            let bound = |name: &str| -> Check<u16> {
                let p = child(&range_path, name);
                port_number(
                    range
                        .get(name)
                        .ok_or_else(|| Invalid::new(&p, "Required value"))?,
                    &p,
                )
            };
            let (start, end) = (bound("start")?, bound("end")?);
            if let Some(k) = range
                .keys()
                .find(|k| !matches!(k.as_str(), "start" | "end"))
            {
                return Err(Invalid::new(child(&range_path, k), "unknown field"));
            }
            if start >= end {
                return Err(Invalid::new(
                    range_path,
                    format!(
                        "Invalid value: Start port must be less than End port ({start} >= {end})"
                    ),
                ));
            }
            Ok(AdminProtocol::Ports {
                protocol,
                first: start,
                last: end,
            })
        }
        other => Err(Invalid::new(child(&port_path, other), "unknown field")),
    }
}

fn v1alpha1_protocol(map: &Map<String, Value>, at: &str) -> Check<Protocol> {
    let path = child(at, "protocol");
    match map.get("protocol") {
        None => Ok(Protocol::Tcp),
        Some(v) => {
            let p: String = typed(v, &path)?;
            validate::protocol(Some(&p), &path)
        }
    }
}

/// A v1alpha1 `ports` entry (rule 11.13).
fn port_entry(
    map: &Map<String, Value>,
    at: &str,
    action: Action,
    warnings: &mut Vec<String>,
) -> Check<AdminProtocol> {
    let (key, value) = one_field(map, at)?;
    let path = child(at, key);
    let fields = |allowed: &[&str]| -> Check<Map<String, Value>> {
        let m: Map<String, Value> = typed(value, &path)?;
        if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Invalid::new(child(&path, k), "unknown field"));
        }
        Ok(m)
    };
    let required = |m: &Map<String, Value>, name: &str| -> Check<u16> {
        let p = child(&path, name);
        port_number(
            m.get(name)
                .ok_or_else(|| Invalid::new(&p, "Required value"))?,
            &p,
        )
    };
    match key {
        "portNumber" => {
            let m = fields(&["protocol", "port"])?;
            let protocol = v1alpha1_protocol(&m, &path)?;
            let n = required(&m, "port")?;
            Ok(AdminProtocol::Ports {
                protocol,
                first: n,
                last: n,
            })
        }
        "portRange" => {
            let m = fields(&["protocol", "start", "end"])?;
            let protocol = v1alpha1_protocol(&m, &path)?;
            let (start, end) = (required(&m, "start")?, required(&m, "end")?);
            if start > end {
                return Err(Invalid::new(
                    path,
                    format!("Invalid value: start {start} must not be greater than end {end}"),
                ));
            }
            Ok(AdminProtocol::Ports {
                protocol,
                first: start,
                last: end,
            })
        }
        "namedPort" => {
            let name: String = typed(value, &path)?;
            if name.is_empty() {
                return Err(Invalid::new(path, "Required value"));
            }
            Ok(AdminProtocol::NamedPort(name))
        }
        other => Ok(AdminProtocol::Unknown(fail_closed(
            other,
            at,
            action,
            "a port field netsem does not know,",
            warnings,
        ))),
    }
}
