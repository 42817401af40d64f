//! `v1` Pod, and the pod spec that workload templates share (rules 2.1, 2.3, 3.4, 9.2, 9.5,
//! 9.6): labels, container ports (names validated, `protocol` defaulting to TCP), `nodeName`,
//! `hostNetwork`, `status.phase` (absent is `Running`, rule 2.3), the `Ready` condition (absent
//! is ready), and the addresses: `status.podIPs`, else `podIP`, else the Multus default entry
//! (rule 9.6); a pod with none gets one allocated at apply time (rule 9.5). A host-network pod's
//! addresses are its node's (rule 3.4), so it has no attachments.

use crate::ident::PodId;
use crate::manifest::multus;
use crate::manifest::object::{ip, Obj};
use crate::manifest::validate::{self, child, Check, Invalid};
use crate::manifest::{LoadError, Object};
use crate::pod::{Attachment, ContainerPort, Pod, PodPhase};
use k8s_openapi::api::core::v1 as core;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// What a pod spec (of a pod or a template) contributes.
#[derive(Clone, Debug)]
pub(crate) struct PodParts {
    pub ports: Vec<ContainerPort>,
    pub host_network: bool,
    pub node: Option<String>,
}

/// Validates and converts a pod spec at `path` (`spec`, `spec.template.spec`, …); a container
/// port without `protocol` is TCP.
pub(crate) fn pod_spec(spec: Option<&core::PodSpec>, path: &str) -> Check<PodParts> {
    let Some(spec) = spec else {
        return Ok(PodParts {
            ports: Vec::new(),
            host_network: false,
            node: None,
        });
    };
    let mut ports = Vec::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let mut names = BTreeSet::new();
        for (j, p) in c.ports.iter().flatten().enumerate() {
            let at = format!("{path}.containers[{i}].ports[{j}]");
            if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                validate::port_name(name).map_err(|m| Invalid::new(child(&at, "name"), m))?;
                if !names.insert(name.to_string()) {
                    return Err(Invalid::new(
                        child(&at, "name"),
                        format!("Duplicate value: {name:?}"),
                    ));
                }
            }
            // An absent containerPort decodes as 0 in the API server too (a non-pointer int32):
            // both are `Required value` there.
            if p.container_port == 0 {
                return Err(Invalid::new(child(&at, "containerPort"), "Required value"));
            }
            let port = validate::port_number(p.container_port, &child(&at, "containerPort"))?;
            if let Some(h) = p.host_port.filter(|&h| h != 0) {
                validate::port_number(h, &child(&at, "hostPort"))?;
            }
            let protocol = validate::protocol(p.protocol.as_deref(), &child(&at, "protocol"))?;
            ports.push(ContainerPort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port,
                protocol,
            });
        }
    }
    let node = spec.node_name.clone().filter(|n| !n.is_empty());
    if let Some(n) = &node {
        validate::dns1123_subdomain(n).map_err(|m| Invalid::new(child(path, "nodeName"), m))?;
    }
    Ok(PodParts {
        ports,
        host_network: spec.host_network.unwrap_or(false),
        node,
    })
}

/// What the loader needs of a pod besides its [`Object`]: facts it resolves against the rest
/// of the input when the load ends (`loader.rs`).
#[derive(Clone, Debug, Default)]
pub(crate) struct PodFacts {
    /// Rule 9.9: the node's addresses as the pod's status gives them: `status.hostIPs`, else
    /// `hostIP`, else, for a host-network pod, its `podIPs`/`podIP` (the kubelet gives a
    /// host-network pod its node's addresses).
    pub host_ips: Vec<IpAddr>,
    /// The workload that owns it (rule 9.10): its controller ownerReference's kind and name,
    /// a ReplicaSet named `NAME-<pod-template-hash>` read as Deployment `NAME`.
    pub owner: Option<(String, String)>,
    /// Rule 8.10: its addresses on a primary user-defined network, as OVN-Kubernetes reports
    /// them: the network-status entry marked `default` on another interface than `eth0`
    /// (`ovn-udn1`), else the `k8s.ovn.org/pod-networks` entry with role `primary`.
    pub udn_ips: Option<Vec<IpAddr>>,
}

/// One entry of OVN-Kubernetes' `k8s.ovn.org/pod-networks` annotation.
#[derive(serde::Deserialize)]
struct OvnPodNetwork {
    #[serde(default)]
    ip_addresses: Vec<String>,
    #[serde(default)]
    role: Option<String>,
}

/// Rule 8.10: the addresses of the `primary` entry of `k8s.ovn.org/pod-networks`.
fn ovn_primary_ips(
    annotations: Option<&std::collections::BTreeMap<String, String>>,
) -> Check<Option<Vec<IpAddr>>> {
    use crate::manifest::kinds::user_defined_network::POD_NETWORKS_ANNOTATION;
    let Some(text) = annotations.and_then(|a| a.get(POD_NETWORKS_ANNOTATION)) else {
        return Ok(None);
    };
    let path = format!("metadata.annotations[{POD_NETWORKS_ANNOTATION}]");
    let entries: std::collections::BTreeMap<String, OvnPodNetwork> = serde_json::from_str(text)
        .map_err(|e| Invalid::new(&path, format!("not a JSON map of networks: {e}")))?;
    for (name, entry) in entries {
        if entry.role.as_deref() != Some("primary") {
            continue;
        }
        let mut ips = Vec::new();
        for a in &entry.ip_addresses {
            let bare = a.split('/').next().unwrap_or(a);
            ips.push(bare.parse::<IpAddr>().map_err(|_| {
                Invalid::new(&path, format!("entry `{name}`: `{a}` is not an IP address"))
            })?);
        }
        return Ok(Some(ips));
    }
    Ok(None)
}

/// Rule 9.10: the workload that owns a pod, from its controller ownerReference.
fn owner(pod: &core::Pod) -> Option<(String, String)> {
    let meta = &pod.metadata;
    let r = meta
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))?;
    let hash = meta
        .labels
        .as_ref()
        .and_then(|l| l.get("pod-template-hash"));
    if r.kind == "ReplicaSet" && r.api_version.starts_with("apps/") {
        if let Some(name) = hash.and_then(|h| r.name.strip_suffix(&format!("-{h}"))) {
            return Some(("Deployment".to_string(), name.to_string()));
        }
    }
    Some((r.kind.clone(), r.name.clone()))
}

/// Rules 2.1, 2.3, 9.5, 9.6: a Pod with its attachments.
pub(crate) fn pod_object(obj: &Obj, value: Value) -> Result<(Object, PodFacts), LoadError> {
    let pod: core::Pod = obj.read(value)?;
    let owner = owner(&pod);
    let parts = pod_spec(pod.spec.as_ref(), "spec").map_err(|e| obj.invalid(e))?;
    let status = pod.status.unwrap_or_default();
    let phase = match status.phase.as_deref() {
        None | Some("") | Some("Running") => PodPhase::Running,
        Some("Pending") => PodPhase::Pending,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some("Unknown") => PodPhase::Unknown,
        Some(other) => {
            return Err(obj.error(
                "status.phase",
                format!(
                    "Unsupported value: {other:?}: supported values: \"Failed\", \"Pending\", \
                     \"Running\", \"Succeeded\", \"Unknown\""
                ),
            ))
        }
    };
    // The Ready condition; absent means ready.
    let ready = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .is_none_or(|c| c.status == "True");
    let mut ips = Vec::new();
    for (i, p) in status.pod_ips.iter().flatten().enumerate() {
        ips.push(ip(&p.ip, &format!("status.podIPs[{i}].ip")).map_err(|e| obj.invalid(e))?);
    }
    if ips.is_empty() {
        if let Some(p) = status.pod_ip.as_deref().filter(|p| !p.is_empty()) {
            ips.push(ip(p, "status.podIP").map_err(|e| obj.invalid(e))?);
        }
    }
    let mut host_ips = Vec::new();
    for (i, h) in status.host_ips.iter().flatten().enumerate() {
        host_ips.push(ip(&h.ip, &format!("status.hostIPs[{i}].ip")).map_err(|e| obj.invalid(e))?);
    }
    if host_ips.is_empty() {
        if let Some(h) = status.host_ip.as_deref().filter(|h| !h.is_empty()) {
            host_ips.push(ip(h, "status.hostIP").map_err(|e| obj.invalid(e))?);
        }
    }
    if host_ips.is_empty() && parts.host_network {
        host_ips = ips.clone();
    }
    let networks = multus::network_status(pod.metadata.annotations.as_ref(), obj.ns())
        .map_err(|e| obj.invalid(e))?;
    let udn_ips = match (&networks.default_interface, &networks.default_ips) {
        (Some(_), Some(udn)) => Some(udn.clone()),
        _ => ovn_primary_ips(pod.metadata.annotations.as_ref()).map_err(|e| obj.invalid(e))?,
    };
    if ips.is_empty() {
        ips = networks.default_ips.unwrap_or_default();
    }
    // A host-network pod's addresses are its node's (rule 3.4): it has no attachments.
    let (attachments, auto_address) = if parts.host_network {
        (Vec::new(), false)
    } else {
        let auto = ips.is_empty();
        let mut all = Vec::new();
        if !ips.is_empty() {
            all.push(Attachment::primary(ips));
        }
        all.extend(networks.others);
        (all, auto)
    };
    let object = Object::Pod {
        pod: Pod {
            id: PodId::new(obj.ns(), obj.name.clone()),
            labels: pod.metadata.labels.unwrap_or_default(),
            node: parts.node,
            host_network: parts.host_network,
            phase,
            ready,
            ports: parts.ports,
            terminating: pod.metadata.deletion_timestamp.is_some(),
        },
        attachments,
        auto_address,
        pool: None,
    };
    Ok((
        object,
        PodFacts {
            host_ips,
            owner,
            udn_ips,
        },
    ))
}
