//! `v1` Service (rules 2.6, 6.2, 6.7–6.10, 9.2, 9.5): type, selector (empty or absent selects
//! nothing automatically, rule 2.6), cluster addresses (`clusterIPs`, else `clusterIP`; `None`
//! is headless, rule 6.9), external addresses (`externalIPs`, load-balancer ingress, rule 6.10),
//! `internalTrafficPolicy` (rule 6.7) and ports: `protocol` defaults to TCP and `targetPort` to
//! `port` (rule 6.2). A Service that needs a cluster address and gives none gets one allocated
//! at apply time (rule 9.5). Port names and duplicates are validated by rule 9.2.

use crate::ident::ServiceId;
use crate::manifest::object::{ip, Obj};
use crate::manifest::validate::{self, child, index, Check, Invalid};
use crate::manifest::{LoadError, Object};
use crate::net::{Address, PortRef};
use crate::service::{
    Service, ServicePort, ServiceType, SessionAffinity, TrafficDistribution, TrafficPolicy,
};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::BTreeSet;

/// Rules 6.2, 6.12–6.16, 9.2, 9.5: a Service with its cluster and external addresses, and the
/// warnings of what netsem reads differently from the object (a proxying load balancer).
pub(crate) fn service_object(obj: &Obj, value: Value) -> Result<(Object, Vec<String>), LoadError> {
    let svc: core::Service = obj.read(value)?;
    let spec = svc.spec.unwrap_or_default();
    let e = |e: Invalid| obj.invalid(e);
    let service_type = match spec.type_.as_deref() {
        None | Some("") | Some("ClusterIP") => ServiceType::ClusterIP,
        Some("NodePort") => ServiceType::NodePort,
        Some("LoadBalancer") => ServiceType::LoadBalancer,
        Some("ExternalName") => ServiceType::ExternalName,
        Some(other) => {
            return Err(obj.error(
                "spec.type",
                format!(
                    "Unsupported value: {other:?}: supported values: \"ClusterIP\", \
                     \"ExternalName\", \"LoadBalancer\", \"NodePort\""
                ),
            ))
        }
    };
    let selector = match &spec.selector {
        Some(s) if !s.is_empty() => Some(validate::selector_map(s, "spec.selector").map_err(e)?),
        _ => None,
    };
    // Cluster addresses: clusterIPs, else clusterIP; "None" is headless.
    let (cluster_ips, cluster_path): (Vec<String>, &str) = match &spec.cluster_ips {
        Some(list) if !list.is_empty() => (list.clone(), "spec.clusterIPs"),
        _ => (
            spec.cluster_ip
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect(),
            "spec.clusterIP",
        ),
    };
    let headless = cluster_ips.first().is_some_and(|s| s == "None");
    if service_type == ServiceType::ExternalName && !cluster_ips.is_empty() && !headless {
        return Err(obj.error(cluster_path, "must be empty for type ExternalName"));
    }
    let mut addresses = Vec::new();
    if !headless {
        for (i, s) in cluster_ips.iter().enumerate() {
            let path = if cluster_path == "spec.clusterIP" {
                cluster_path.to_string()
            } else {
                index(cluster_path, i)
            };
            addresses.push(Address::default_domain(ip(s, &path).map_err(e)?));
        }
    }
    let mut external_addresses: Vec<Address> = Vec::new();
    let mut add_external = |a: Address| {
        if !external_addresses.contains(&a) {
            external_addresses.push(a);
        }
    };
    for (i, s) in spec.external_ips.iter().flatten().enumerate() {
        let path = index("spec.externalIPs", i);
        let addr = ip(s, &path).map_err(e)?;
        validate::non_special_ip(addr, &path).map_err(e)?;
        add_external(Address::default_domain(addr));
    }
    let ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref());
    let mut load_balancer_ips = Vec::new();
    let mut warnings = Vec::new();
    for (i, ing) in ingress.into_iter().flatten().enumerate() {
        if service_type != ServiceType::LoadBalancer {
            return Err(obj.error(
                "status.loadBalancer.ingress",
                "Forbidden: may only be used when `spec.type` is 'LoadBalancer'",
            ));
        }
        if ing.ip.as_deref().unwrap_or_default().is_empty() && ing.ip_mode.is_some() {
            return Err(obj.error(
                &format!("status.loadBalancer.ingress[{i}].ipMode"),
                "Forbidden: may not be specified when `ip` is not set",
            ));
        }
        if let Some(s) = ing.ip.as_deref().filter(|s| !s.is_empty()) {
            let path = format!("status.loadBalancer.ingress[{i}].ip");
            let addr = ip(s, &path).map_err(e)?;
            match ing.ip_mode.as_deref() {
                None | Some("VIP") => {
                    add_external(Address::default_domain(addr));
                    load_balancer_ips.push(addr);
                }
                // Rule 6.14: kube-proxy programs nothing for a proxying load balancer.
                Some("Proxy") => warnings.push(format!(
                    "{path}: ipMode Proxy: the load balancer proxies to the nodes' ports or the pods itself, so {s} is no Service address here; connections reach the Service through its node ports"
                )),
                Some(other) => {
                    return Err(obj.error(
                        &format!("status.loadBalancer.ingress[{i}].ipMode"),
                        format!("Unsupported value `{other}`: supported values: \"Proxy\", \"VIP\""),
                    ))
                }
            }
        }
    }
    let externally_accessible = matches!(
        service_type,
        ServiceType::NodePort | ServiceType::LoadBalancer
    ) || spec.external_ips.as_ref().is_some_and(|v| !v.is_empty());
    let external_traffic_policy = match spec.external_traffic_policy.as_deref() {
        None | Some("") => TrafficPolicy::Cluster,
        Some(_) if !externally_accessible => {
            return Err(obj.error(
                "spec.externalTrafficPolicy",
                "Invalid value: may only be set for externally-accessible services",
            ))
        }
        Some("Cluster") => TrafficPolicy::Cluster,
        Some("Local") => TrafficPolicy::Local,
        Some(other) => {
            return Err(obj.error(
                "spec.externalTrafficPolicy",
                format!("Unsupported value `{other}`: supported values: \"Cluster\", \"Local\""),
            ))
        }
    };
    let traffic_distribution = match spec.traffic_distribution.as_deref() {
        None => None,
        Some("PreferClose") | Some("PreferSameZone") => Some(TrafficDistribution::PreferSameZone),
        Some("PreferSameNode") => Some(TrafficDistribution::PreferSameNode),
        Some(other) => {
            return Err(obj.error(
                "spec.trafficDistribution",
                format!(
                    "Unsupported value `{other}`: supported values: \"PreferClose\", \"PreferSameNode\", \"PreferSameZone\""
                ),
            ))
        }
    };
    let session_affinity = match spec.session_affinity.as_deref() {
        None | Some("") | Some("None") => {
            if spec.session_affinity_config.is_some()
                && spec.session_affinity.as_deref() == Some("None")
            {
                return Err(obj.error(
                    "spec.sessionAffinityConfig",
                    "Forbidden: must not be set when session affinity is None",
                ));
            }
            None
        }
        Some("ClientIP") => {
            let timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .unwrap_or(SessionAffinity::DEFAULT_TIMEOUT as i32);
            if timeout <= 0 || timeout > 86_400 {
                return Err(obj.error(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    format!("Invalid value: {timeout}: must be greater than 0 and less than 86400"),
                ));
            }
            Some(SessionAffinity {
                timeout_seconds: timeout as u32,
            })
        }
        Some(other) => {
            return Err(obj.error(
                "spec.sessionAffinity",
                format!("Unsupported value `{other}`: supported values: \"ClientIP\", \"None\""),
            ))
        }
    };
    let mut load_balancer_source_ranges = Vec::new();
    for (i, r) in spec
        .load_balancer_source_ranges
        .iter()
        .flatten()
        .enumerate()
    {
        let path = index("spec.loadBalancerSourceRanges", i);
        if service_type != ServiceType::LoadBalancer {
            return Err(obj.error(
                "spec.loadBalancerSourceRanges",
                "Forbidden: may only be used when `type` is 'LoadBalancer'",
            ));
        }
        load_balancer_source_ranges.push(validate::cidr(r.trim(), &path).map_err(e)?);
    }
    let internal_traffic_policy = match spec.internal_traffic_policy.as_deref() {
        None | Some("") | Some("Cluster") => TrafficPolicy::Cluster,
        Some("Local") => TrafficPolicy::Local,
        Some(other) => {
            return Err(obj.error(
                "spec.internalTrafficPolicy",
                format!("Unsupported value: {other:?}: supported values: \"Cluster\", \"Local\""),
            ))
        }
    };
    let ports =
        service_ports(spec.ports.as_deref().unwrap_or_default(), service_type).map_err(e)?;
    if ports.is_empty() && !headless && service_type != ServiceType::ExternalName {
        return Err(obj.error("spec.ports", "Required value"));
    }
    let auto_address =
        !headless && service_type != ServiceType::ExternalName && addresses.is_empty();
    Ok(Object::Service {
        service: Service {
            id: ServiceId::new(obj.ns(), obj.name.clone()),
            selector,
            ports,
            service_type,
            headless,
            internal_traffic_policy,
            publish_not_ready_addresses: spec.publish_not_ready_addresses.unwrap_or(false),
            external_traffic_policy,
            traffic_distribution,
            session_affinity,
            load_balancer_ips,
            load_balancer_source_ranges,
        },
        addresses,
        external_addresses,
        auto_address,
    })
    .map(|o| (o, warnings))
}

/// The node port range of an API server with the default `--service-node-port-range`.
pub(crate) const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

/// Rules 6.2, 6.12, 9.2: the ports, with `protocol` defaulted to TCP and `targetPort` to
/// `port`; a `nodePort` only on NodePort and LoadBalancer Services, in the node port range.
fn service_ports(
    ports: &[core::ServicePort],
    service_type: ServiceType,
) -> Check<Vec<ServicePort>> {
    let mut out: Vec<ServicePort> = Vec::new();
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = index("spec.ports", i);
        let name = p.name.clone().filter(|n| !n.is_empty());
        match &name {
            None if ports.len() > 1 => {
                return Err(Invalid::new(
                    child(&at, "name"),
                    "Required value: a Service with several ports must name each",
                ))
            }
            None => {}
            Some(n) => {
                validate::dns1123_label(n).map_err(|m| Invalid::new(child(&at, "name"), m))?;
                if !names.insert(n.clone()) {
                    return Err(Invalid::new(
                        child(&at, "name"),
                        format!("Duplicate value: {n:?}"),
                    ));
                }
            }
        }
        let port = validate::port_number(p.port, &child(&at, "port"))?;
        let protocol = validate::protocol(p.protocol.as_deref(), &child(&at, "protocol"))?;
        // Rule 6.2: targetPort defaults to port (so do 0 and "").
        let target_port = match &p.target_port {
            None => PortRef::Number(port),
            Some(IntOrString::Int(0)) => PortRef::Number(port),
            Some(IntOrString::String(s)) if s.is_empty() => PortRef::Number(port),
            Some(t) => validate::port_ref(t, &child(&at, "targetPort"))?,
        };
        if out.iter().any(|q| q.port == port && q.protocol == protocol) {
            return Err(Invalid::new(
                at,
                format!("Duplicate value: port {port}/{protocol}"),
            ));
        }
        let node_port = match p.node_port {
            None | Some(0) => None,
            Some(n) => {
                let path = child(&at, "nodePort");
                if !matches!(
                    service_type,
                    ServiceType::NodePort | ServiceType::LoadBalancer
                ) {
                    return Err(Invalid::new(
                        path,
                        "Forbidden: may not be used when `type` is 'ClusterIP'",
                    ));
                }
                let n = validate::port_number(n, &path)?;
                if !NODE_PORTS.contains(&n) {
                    return Err(Invalid::new(
                        path,
                        format!("Invalid value: {n}: provided port is not in the valid range. The range of valid ports is 30000-32767"),
                    ));
                }
                if out
                    .iter()
                    .any(|q| q.protocol == protocol && q.node_port == Some(n))
                {
                    return Err(Invalid::new(path, format!("Duplicate value: {n}")));
                }
                Some(n)
            }
        };
        out.push(ServicePort {
            name,
            protocol,
            port,
            target_port,
            node_port,
        });
    }
    Ok(out)
}
