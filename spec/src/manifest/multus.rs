//! Multus on the pod side (rule 9.6): the pod annotation `k8s.v1.cni.cncf.io/network-status`
//! gives a pod's attachments; the entry marked `default` is `eth0` on the cluster network, the
//! others name a NetworkAttachmentDefinition (a network, `kinds/network_attachment.rs`) and an
//! interface. Used by the Pod kind; it depends only on `validate`.

use super::validate::{Check, Invalid};
use crate::pod::Attachment;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The pod annotation Multus writes with the pod's attachments.
pub const NETWORK_STATUS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/network-status";

/// One entry of `k8s.v1.cni.cncf.io/network-status`.
#[derive(Debug, Deserialize)]
struct NetworkStatus {
    name: String,
    #[serde(default)]
    interface: Option<String>,
    #[serde(default)]
    ips: Vec<String>,
    #[serde(default)]
    default: bool,
}

/// A pod's attachments from its network-status annotation.
#[derive(Debug, Default)]
pub(crate) struct PodNetworks {
    /// The IPs of the entry marked `default` (the cluster network on `eth0`), if any.
    pub default_ips: Option<Vec<IpAddr>>,
    /// The interface of the entry marked `default`, when it is not `eth0`: OVN-Kubernetes
    /// marks a primary user-defined network's interface (`ovn-udn1`) default (rule 8.10).
    pub default_interface: Option<String>,
    /// The other attachments.
    pub others: Vec<Attachment>,
}

/// Rule 9.6: parses the network-status annotation of a pod in `namespace`.
pub(crate) fn network_status(
    annotations: Option<&BTreeMap<String, String>>,
    namespace: &str,
) -> Check<PodNetworks> {
    let Some(text) = annotations.and_then(|a| a.get(NETWORK_STATUS_ANNOTATION)) else {
        return Ok(PodNetworks::default());
    };
    let path = format!("metadata.annotations[{NETWORK_STATUS_ANNOTATION}]");
    let entries: Vec<NetworkStatus> = serde_json::from_str(text).map_err(|e| {
        Invalid::new(
            &path,
            format!("not a JSON list of network status entries: {e}"),
        )
    })?;
    let mut out = PodNetworks::default();
    for (i, entry) in entries.into_iter().enumerate() {
        let mut ips = Vec::new();
        for ip in &entry.ips {
            ips.push(ip.parse::<IpAddr>().map_err(|_| {
                Invalid::new(
                    &path,
                    format!("entry {i} (`{}`): `{ip}` is not an IP address", entry.name),
                )
            })?);
        }
        if entry.default {
            if out.default_ips.is_some() {
                return Err(Invalid::new(
                    &path,
                    format!(
                        "entry {i} (`{}`): more than one entry is marked default",
                        entry.name
                    ),
                ));
            }
            out.default_interface = entry
                .interface
                .clone()
                .filter(|i| !i.is_empty() && i != crate::net::PRIMARY_INTERFACE);
            out.default_ips = Some(ips);
            continue;
        }
        let interface = entry.interface.filter(|s| !s.is_empty()).ok_or_else(|| {
            Invalid::new(&path, format!("entry {i} (`{}`): no interface", entry.name))
        })?;
        // The cluster network's `eth0`, not marked default because another interface is (a
        // primary user-defined network's pod, rule 8.10): its addresses are `status.podIPs`.
        if interface == crate::net::PRIMARY_INTERFACE {
            continue;
        }
        let network = if entry.name.contains('/') {
            entry.name
        } else if entry.name.is_empty() {
            return Err(Invalid::new(
                &path,
                format!("entry {i}: a non-default entry must name a NetworkAttachmentDefinition"),
            ));
        } else {
            format!("{namespace}/{}", entry.name)
        };
        out.others.push(Attachment {
            interface,
            network,
            addresses: ips,
        });
    }
    Ok(out)
}
