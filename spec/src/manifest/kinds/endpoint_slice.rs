//! `discovery.k8s.io/v1` EndpointSlice: the explicit mapping of a Service without selector
//! (rule 9.7), each endpoint with what the slice states of it (rule 6.27). Each endpoint is its
//! `targetRef` pod, or else its addresses, resolved to pods at apply time. A slice without the
//! [`SERVICE_NAME_LABEL`] label, or with FQDN addresses, is skipped with a warning (rule 9.8,
//! docs/MANIFESTS.md).

use crate::ident::{PodId, ServiceId};
use crate::manifest::object::{ip, Obj};
use crate::manifest::validate::{self, child, index};
use crate::manifest::{LoadError, Object};
use crate::service::EndpointFacts;
use k8s_openapi::api::discovery::v1 as discovery;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming who manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// The EndpointSlice controller's value of [`MANAGED_BY_LABEL`].
pub const CONTROLLER: &str = "endpointslice-controller.k8s.io";

/// `discovery/v1` validation: at most 100 addresses an endpoint, 8 zone and 8 node hints.
const MAX_ADDRESSES: usize = 100;
const MAX_HINTS: usize = 8;

/// Rules 6.27, 9.7. `Ok(Err(warning))` when the slice is skipped.
pub(crate) fn endpoint_slice_object(
    obj: &Obj,
    value: Value,
) -> Result<Result<Object, String>, LoadError> {
    let slice: discovery::EndpointSlice = obj.read(value)?;
    let labels = slice.metadata.labels.as_ref();
    let Some(service) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) else {
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
    let v6 = slice.address_type == "IPv6";
    let mut pods: Vec<(PodId, EndpointFacts)> = Vec::new();
    let mut addresses: Vec<(IpAddr, EndpointFacts)> = Vec::new();
    for (i, ep) in slice.endpoints.iter().flatten().enumerate() {
        let at = index("endpoints", i);
        let facts = endpoint_facts(obj, ep, &at)?;
        if ep.addresses.is_empty() {
            return Err(obj.error(
                &child(&at, "addresses"),
                "Required value: must contain at least 1 address",
            ));
        }
        if ep.addresses.len() > MAX_ADDRESSES {
            return Err(obj.error(
                &child(&at, "addresses"),
                format!(
                    "Too many: {}: must have at most {MAX_ADDRESSES} items",
                    ep.addresses.len()
                ),
            ));
        }
        let mut own = Vec::new();
        for (j, a) in ep.addresses.iter().enumerate() {
            let path = format!("{at}.addresses[{j}]");
            let a = ip(a, &path).map_err(|e| obj.invalid(e))?;
            validate::non_special_ip(a, &path).map_err(|e| obj.invalid(e))?;
            if a.is_ipv6() != v6 {
                let family = if v6 { "IPv6" } else { "IPv4" };
                return Err(obj.error(
                    &path,
                    format!("Invalid value: \"{a}\": must be a valid {family} address"),
                ));
            }
            own.push(a);
        }
        if let Some(n) = &ep.node_name {
            validate::dns1123_subdomain(n)
                .map_err(|m| obj.error(&child(&at, "nodeName"), format!("Invalid value: {m}")))?;
        }
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
                if !pods.iter().any(|(p, _)| *p == id) {
                    pods.push((id, facts));
                }
            }
            _ => {
                for a in own {
                    if !addresses.iter().any(|(b, _)| *b == a) {
                        addresses.push((a, facts.clone()));
                    }
                }
            }
        }
    }
    Ok(Ok(Object::EndpointSlice {
        service: ServiceId::new(obj.ns(), service.clone()),
        controller: labels
            .and_then(|l| l.get(MANAGED_BY_LABEL))
            .map(String::as_str)
            == Some(CONTROLLER),
        pods,
        addresses,
    }))
}

/// Rule 6.27: an endpoint's conditions as kube-proxy reads them (`ready` and `serving` absent
/// are true, `terminating` absent is false) and its hints, validated as `discovery/v1`
/// `validateHints` does: at most 8 of each, no duplicate, zones valid label values and nodes
/// valid node names.
fn endpoint_facts(
    obj: &Obj,
    ep: &discovery::Endpoint,
    at: &str,
) -> Result<EndpointFacts, LoadError> {
    let c = ep.conditions.clone().unwrap_or_default();
    let hints = ep.hints.clone().unwrap_or_default();
    let names = |list: Vec<String>, field: &str, check: fn(&str) -> Result<(), String>| {
        let path = child(at, &format!("hints.{field}"));
        if list.len() > MAX_HINTS {
            return Err(obj.error(
                &path,
                format!(
                    "Too many: {}: must have at most {MAX_HINTS} items",
                    list.len()
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, n) in list.iter().enumerate() {
            let here = format!("{path}[{i}].name");
            if !seen.insert(n.clone()) {
                return Err(obj.error(&here, format!("Duplicate value: {n:?}")));
            }
            check(n).map_err(|m| obj.error(&here, m))?;
        }
        Ok(list)
    };
    let zone_name = |n: &str| {
        if n.is_empty() {
            return Err("Required value".to_string());
        }
        validate::label_value(n)
    };
    let node_name =
        |n: &str| validate::dns1123_subdomain(n).map_err(|m| format!("Invalid value: {m}"));
    Ok(EndpointFacts {
        ready: c.ready.unwrap_or(true),
        serving: c.serving.unwrap_or(true),
        terminating: c.terminating.unwrap_or(false),
        for_zones: names(
            hints
                .for_zones
                .into_iter()
                .flatten()
                .map(|z| z.name)
                .collect(),
            "forZones",
            zone_name,
        )?,
        for_nodes: names(
            hints
                .for_nodes
                .into_iter()
                .flatten()
                .map(|z| z.name)
                .collect(),
            "forNodes",
            node_name,
        )?,
    })
}
