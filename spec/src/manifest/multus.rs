//! Multus (rule 9.6): `k8s.cni.cncf.io/v1` NetworkAttachmentDefinitions are networks, and the
//! pod annotation `k8s.v1.cni.cncf.io/network-status` gives a pod's attachments.

use super::validate::{self, Check, Invalid};
use crate::net::DEFAULT_DOMAIN;
use crate::pod::Attachment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The API version of NetworkAttachmentDefinition.
pub(crate) const NAD_API_VERSION: &str = "k8s.cni.cncf.io/v1";
/// The annotation that names a network's IP address domain (netsem's own).
pub const DOMAIN_ANNOTATION: &str = "netsem.io/ip-address-domain";
/// The CNI config attribute that names a network's IP address domain.
pub const DOMAIN_CONFIG_ATTRIBUTE: &str = "ipAddressDomain";
/// The pod annotation Multus writes with the pod's attachments.
pub const NETWORK_STATUS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/network-status";

/// A NetworkAttachmentDefinition: there is no k8s-openapi type for it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworkAttachmentDefinition {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<NadSpec>,
}

/// Its spec: the CNI configuration as a JSON string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NadSpec {
    #[serde(default)]
    pub config: Option<String>,
}

fn domain_name(name: &str, path: &str) -> Check<String> {
    validate::dns1123_subdomain(name)
        .map_err(|m| Invalid::new(path, format!("invalid IP address domain: {m}")))?;
    Ok(name.to_string())
}

/// Rule 9.6: the domain of a NetworkAttachmentDefinition: the annotation, else the CNI config
/// attribute, else `default`.
pub(crate) fn nad_domain(nad: &NetworkAttachmentDefinition) -> Check<String> {
    if let Some(d) = nad
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DOMAIN_ANNOTATION))
    {
        return domain_name(d, &format!("metadata.annotations[{DOMAIN_ANNOTATION}]"));
    }
    let Some(config) = nad.spec.as_ref().and_then(|s| s.config.as_deref()) else {
        return Ok(DEFAULT_DOMAIN.to_string());
    };
    if config.trim().is_empty() {
        return Ok(DEFAULT_DOMAIN.to_string());
    }
    let value: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| Invalid::new("spec.config", format!("not valid JSON: {e}")))?;
    match value.get(DOMAIN_CONFIG_ATTRIBUTE) {
        None => Ok(DEFAULT_DOMAIN.to_string()),
        Some(serde_json::Value::String(d)) => domain_name(d, "spec.config"),
        Some(other) => Err(Invalid::new(
            "spec.config",
            format!("`{DOMAIN_CONFIG_ATTRIBUTE}` must be a string, got {other}"),
        )),
    }
}

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
            out.default_ips = Some(ips);
            continue;
        }
        let interface = entry.interface.filter(|s| !s.is_empty()).ok_or_else(|| {
            Invalid::new(&path, format!("entry {i} (`{}`): no interface", entry.name))
        })?;
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
