//! `discovery.k8s.io/v1` EndpointSlice: the explicit mapping of a Service without selector
//! (rule 9.7). Each endpoint is its `targetRef` pod, or else its addresses, resolved to pods at
//! apply time. A slice without the [`SERVICE_NAME_LABEL`] label, or with FQDN addresses, is
//! skipped with a warning (rule 9.8, docs/MANIFESTS.md).

use crate::ident::{PodId, ServiceId};
use crate::manifest::object::{ip, Obj};
use crate::manifest::validate::{child, index};
use crate::manifest::{LoadError, Object};
use k8s_openapi::api::discovery::v1 as discovery;
use serde_json::Value;

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Rule 9.7. `Ok(Err(warning))` when the slice is skipped.
pub(crate) fn endpoint_slice_object(
    obj: &Obj,
    value: Value,
) -> Result<Result<Object, String>, LoadError> {
    let slice: discovery::EndpointSlice = obj.read(value)?;
    let Some(service) = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
    else {
        return Ok(Err(format!(
            "skipped: no `{SERVICE_NAME_LABEL}` label names its Service"
        )));
    };
    match slice.address_type.as_str() {
        "IPv4" | "IPv6" => {}
        "FQDN" => return Ok(Err("skipped: FQDN endpoints have no pods".into())),
        other => {
            return Err(obj.error(
                "addressType",
                format!(
                    "Unsupported value: {other:?}: supported values: \"FQDN\", \"IPv4\", \"IPv6\""
                ),
            ))
        }
    }
    let mut pods = Vec::new();
    let mut addresses = Vec::new();
    for (i, ep) in slice.endpoints.iter().flatten().enumerate() {
        let at = index("endpoints", i);
        match &ep.target_ref {
            Some(r) if r.kind.as_deref() == Some("Pod") => {
                let name =
                    r.name.clone().filter(|n| !n.is_empty()).ok_or_else(|| {
                        obj.error(&child(&at, "targetRef.name"), "Required value")
                    })?;
                let ns = r
                    .namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| obj.ns().to_string());
                let id = PodId::new(ns, name);
                if !pods.contains(&id) {
                    pods.push(id);
                }
            }
            _ => {
                for (j, a) in ep.addresses.iter().enumerate() {
                    let path = format!("{at}.addresses[{j}]");
                    let a = ip(a, &path).map_err(|e| obj.invalid(e))?;
                    if !addresses.contains(&a) {
                        addresses.push(a);
                    }
                }
            }
        }
    }
    Ok(Ok(Object::EndpointSlice {
        service: ServiceId::new(obj.ns(), service.clone()),
        pods,
        addresses,
    }))
}
