//! `k8s.cni.cncf.io/v1beta1` MultiNetworkPolicy (rule 8.8; k8snetworkplumbingwg
//! multi-networkpolicy): the NetworkPolicy v1 spec, validated as a NetworkPolicy (rule 9.2),
//! for the networks named by the annotation [`POLICY_FOR_ANNOTATION`]. That annotation is a
//! comma-separated list of NetworkAttachmentDefinitions, `name` (in the policy's namespace) or
//! `namespace/name`; both implementations strip every space first (multi-networkpolicy-iptables
//! `pkg/server/server.go`, OVN-Kubernetes `shouldApplyMultiPolicy`). The upstream CRD serves
//! only `v1beta1` (`v1beta2` is `served: false`), so another version is refused.

use super::network_policy::policy_spec;
use crate::manifest::object::Obj;
use crate::manifest::validate::{self, Invalid};
use crate::manifest::{LoadError, Object};
use crate::policy::MultiNetworkPolicy;
use k8s_openapi::api::networking::v1 as networking;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

/// The API version of MultiNetworkPolicy.
pub(crate) const MNP_API_VERSION: &str = "k8s.cni.cncf.io/v1beta1";
/// The annotation naming the networks a MultiNetworkPolicy filters.
pub const POLICY_FOR_ANNOTATION: &str = "k8s.v1.cni.cncf.io/policy-for";

/// A MultiNetworkPolicy: its spec is NetworkPolicy's.
#[derive(Debug, Default, Deserialize)]
struct Mnp {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<networking::NetworkPolicySpec>,
}

impl crate::manifest::object::HasMetadata for Mnp {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// Rule 8.8: the NAD references of a `policy-for` annotation, as `namespace/name`.
pub(crate) fn policy_for(text: &str, namespace: &str, path: &str) -> Result<Vec<String>, Invalid> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    for entry in text.split(',').filter(|e| !e.is_empty()) {
        let (ns, name) = match entry.split_once('/') {
            Some((ns, name)) => (ns, name),
            None => (namespace, entry),
        };
        validate::dns1123_label(ns)
            .and_then(|()| validate::dns1123_subdomain(name))
            .map_err(|m| Invalid::new(path, format!("Invalid value: {entry:?}: {m}")))?;
        let reference = format!("{ns}/{name}");
        if !out.contains(&reference) {
            out.push(reference);
        }
    }
    Ok(out)
}

/// Rule 8.8: a MultiNetworkPolicy, or a warning when it names no network.
pub(crate) fn mnp_object(obj: &Obj, value: Value) -> Result<Result<Object, String>, LoadError> {
    let mnp: Mnp = obj.read(value)?;
    let spec = mnp.spec.unwrap_or_default();
    let policy = policy_spec(obj.ns(), &obj.name, &spec).map_err(|e| obj.invalid(e))?;
    let path = format!("metadata.annotations[{POLICY_FOR_ANNOTATION}]");
    let networks = match mnp
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POLICY_FOR_ANNOTATION))
    {
        Some(text) => policy_for(text, obj.ns(), &path).map_err(|e| obj.invalid(e))?,
        None => Vec::new(),
    };
    if networks.is_empty() {
        return Ok(Err(format!(
            "skipped: no `{POLICY_FOR_ANNOTATION}` annotation names a network, so it filters \
             nothing [rule 8.8]"
        )));
    }
    Ok(Ok(Object::MultiNetworkPolicy(MultiNetworkPolicy {
        id: policy.id,
        networks,
        pod_selector: policy.pod_selector,
        policy_types: policy.policy_types,
        ingress: policy.ingress,
        egress: policy.egress,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rule 8.8: policy-for entries, spaces stripped, bare names in the policy's namespace.
    #[test]
    fn r8_8_policy_for_lists_nad_references() {
        assert_eq!(
            policy_for("macvlan-net1, other/ipvlan ,macvlan-net1", "shop", "p").unwrap(),
            ["shop/macvlan-net1", "other/ipvlan"]
        );
        assert!(policy_for("Bad_Name", "shop", "p").is_err());
        assert!(policy_for(" , ", "shop", "p").unwrap().is_empty());
    }
}
