//! `k8s.cni.cncf.io/v1` NetworkAttachmentDefinition (rule 9.6): the Multus network
//! `namespace/name`, in the IP address domain named by the annotation [`DOMAIN_ANNOTATION`],
//! else the CNI config attribute [`DOMAIN_CONFIG_ATTRIBUTE`], else `default`. There is no
//! k8s-openapi type for it, so its type is declared here. (The pod side of Multus, the
//! network-status annotation, is in `multus.rs`.)

use super::user_defined_network::{self, UserNetwork};
use crate::manifest::object::Obj;
use crate::manifest::validate::{self, Check, Invalid};
use crate::manifest::{LoadError, Object};
use crate::net::DEFAULT_DOMAIN;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

/// The API version of NetworkAttachmentDefinition.
pub(crate) const NAD_API_VERSION: &str = "k8s.cni.cncf.io/v1";
/// The annotation that names a network's IP address domain (netsem's own).
pub const DOMAIN_ANNOTATION: &str = "netsem.io/ip-address-domain";
/// The CNI config attribute that names a network's IP address domain.
pub const DOMAIN_CONFIG_ATTRIBUTE: &str = "ipAddressDomain";

/// A NetworkAttachmentDefinition: there is no k8s-openapi type for it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkAttachmentDefinition {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<NadSpec>,
}

impl crate::manifest::object::HasMetadata for NetworkAttachmentDefinition {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// Its spec: the CNI configuration as a JSON string.
#[derive(Debug, Default, Deserialize)]
struct NadSpec {
    #[serde(default)]
    config: Option<String>,
}

fn domain_name(name: &str, path: &str) -> Check<String> {
    validate::dns1123_subdomain(name)
        .map_err(|m| Invalid::new(path, format!("invalid IP address domain: {m}")))?;
    Ok(name.to_string())
}

/// Rule 9.6: the domain of a NetworkAttachmentDefinition: the annotation, else the CNI config
/// attribute, else `default`.
fn nad_domain(nad: &NetworkAttachmentDefinition) -> Check<String> {
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

/// What a NetworkAttachmentDefinition is: a Multus network, or one OVN-Kubernetes rendered for
/// a user-defined network (rule 8.9).
pub(crate) enum Nad {
    Network(Vec<Object>),
    UserNetwork(UserNetwork),
}

/// Rule 9.6: a network `namespace/name` in its domain, and the domain when it is not the
/// default one; rule 8.9: an OVN-Kubernetes NAD is its user-defined network.
pub(crate) fn nad_objects(obj: &Obj, value: Value) -> Result<Nad, LoadError> {
    let nad: NetworkAttachmentDefinition = obj.read(value)?;
    if let Some(config) = nad.spec.as_ref().and_then(|s| s.config.as_deref()) {
        if let Ok(json) = serde_json::from_str::<Value>(config) {
            if let Some(u) = user_defined_network::ovn_nad(obj.ns(), &obj.name, &json)
                .map_err(|e| obj.invalid(e))?
            {
                return Ok(Nad::UserNetwork(u));
            }
        }
    }
    let domain = nad_domain(&nad).map_err(|e| obj.invalid(e))?;
    let mut out = Vec::new();
    if domain != DEFAULT_DOMAIN {
        out.push(Object::IpAddressDomain {
            name: domain.clone(),
        });
    }
    out.push(Object::Network {
        name: format!("{}/{}", obj.ns(), obj.name),
        domain,
        implicit: false,
        role: crate::net::NetworkRole::Secondary,
    });
    Ok(Nad::Network(out))
}
