//! `route.openshift.io/v1` Route (OpenShift): read and validated as the openshift/api types and
//! their CEL rules say (rule 9.12). A Route is an entry point from outside the cluster: the
//! OpenShift router pods (`openshift-ingress/router-<ingresscontroller>-…`, label
//! `ingresscontroller.operator.openshift.io/deployment-ingresscontroller`) accept the traffic
//! and open connections **directly to the endpoints** of the Route's Services (`spec.to`,
//! `spec.alternateBackends`), on `spec.port.targetPort` or every endpoint port. Those
//! connections are pod-to-pod (or node-to-pod, for a host-network router) and decided as such;
//! the Route itself adds no address and no connection to the state, so it contributes no
//! object: what it names is checked, and the loader warns when its Services or the router pods
//! are missing from the input (docs/MANIFESTS.md).

use crate::manifest::object::{HasMetadata, Obj};
use crate::manifest::validate::{self, child, index, Check, Invalid};
use crate::manifest::LoadError;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde_json::Value;

/// The API version of Route.
pub(crate) const ROUTE_API_VERSION: &str = "route.openshift.io/v1";
/// The namespace of the OpenShift router pods.
pub const ROUTER_NAMESPACE: &str = "openshift-ingress";
/// The label of the router pods of an IngressController (cluster-ingress-operator).
pub const ROUTER_LABEL: &str =
    "ingresscontroller.operator.openshift.io/deployment-ingresscontroller";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Route {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: RouteSpec,
}

impl HasMetadata for Route {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteSpec {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    to: Option<Target>,
    #[serde(default)]
    alternate_backends: Vec<Target>,
    #[serde(default)]
    port: Option<RoutePort>,
    #[serde(default)]
    tls: Option<Tls>,
    #[serde(default)]
    wildcard_policy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Target {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    weight: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoutePort {
    target_port: IntOrString,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tls {
    #[serde(default)]
    termination: String,
    #[serde(default)]
    insecure_edge_termination_policy: Option<String>,
}

/// What a Route names: the Services whose endpoints the router reaches, with their weights.
#[derive(Clone, Debug)]
pub(crate) struct RouteInfo {
    /// `spec.to` then `spec.alternateBackends`: Service names in the Route's namespace, each
    /// with its weight (0: no traffic).
    pub services: Vec<(String, i64)>,
}

fn target(t: &Target, path: &str) -> Check<(String, i64)> {
    match t.kind.as_deref() {
        None | Some("") | Some("Service") => {}
        Some(other) => {
            return Err(Invalid::new(
                child(path, "kind"),
                format!("Unsupported value: {other:?}: supported values: \"Service\""),
            ))
        }
    }
    if t.name.is_empty() {
        return Err(Invalid::new(child(path, "name"), "Required value"));
    }
    validate::dns1035_label(&t.name).map_err(|m| Invalid::new(child(path, "name"), m))?;
    let weight = t.weight.unwrap_or(100);
    if !(0..=256).contains(&weight) {
        return Err(Invalid::new(
            child(path, "weight"),
            format!("Invalid value: {weight}: must be between 0 and 256, inclusive"),
        ));
    }
    Ok((t.name.clone(), weight))
}

/// Rule 9.12: a Route, validated.
pub(crate) fn route(obj: &Obj, value: Value) -> Result<RouteInfo, LoadError> {
    let r: Route = obj.read(value)?;
    let spec = r.spec;
    let e = |e: Invalid| obj.invalid(e);
    if let Some(host) = spec.host.as_deref().filter(|h| !h.is_empty()) {
        validate::dns1123_subdomain(host.trim_start_matches("*."))
            .map_err(|m| obj.error("spec.host", m))?;
    }
    if let Some(path) = spec.path.as_deref().filter(|p| !p.is_empty()) {
        if !path.starts_with('/') {
            return Err(obj.error(
                "spec.path",
                format!("Invalid value: {path:?}: path must begin with /"),
            ));
        }
    }
    let Some(to) = &spec.to else {
        return Err(obj.error("spec.to", "Required value"));
    };
    let mut services = vec![target(to, "spec.to").map_err(e)?];
    if spec.alternate_backends.len() > 3 {
        return Err(obj.error(
            "spec.alternateBackends",
            format!(
                "Too many: {}: must have at most 3 items",
                spec.alternate_backends.len()
            ),
        ));
    }
    for (i, b) in spec.alternate_backends.iter().enumerate() {
        services.push(target(b, &index("spec.alternateBackends", i)).map_err(e)?);
    }
    if let Some(p) = &spec.port {
        validate::port_ref(&p.target_port, "spec.port.targetPort").map_err(e)?;
    }
    if let Some(tls) = &spec.tls {
        if !["edge", "passthrough", "reencrypt"].contains(&tls.termination.as_str()) {
            return Err(obj.error(
                "spec.tls.termination",
                format!(
                    "Unsupported value: {:?}: supported values: \"edge\", \"passthrough\", \
                     \"reencrypt\"",
                    tls.termination
                ),
            ));
        }
        match tls.insecure_edge_termination_policy.as_deref() {
            None | Some("") | Some("None") | Some("Redirect") => {}
            Some("Allow") if tls.termination == "passthrough" => {
                return Err(obj.error(
                    "spec.tls.insecureEdgeTerminationPolicy",
                    "Invalid value: \"Allow\": cannot be Allow when termination is passthrough",
                ))
            }
            Some("Allow") => {}
            Some(other) => {
                return Err(obj.error(
                    "spec.tls.insecureEdgeTerminationPolicy",
                    format!(
                        "Unsupported value: {other:?}: supported values: \"Allow\", \"None\", \
                         \"Redirect\""
                    ),
                ))
            }
        }
    }
    match spec.wildcard_policy.as_deref() {
        None | Some("") | Some("None") | Some("Subdomain") => {}
        Some(other) => {
            return Err(obj.error(
                "spec.wildcardPolicy",
                format!("Unsupported value: {other:?}: supported values: \"None\", \"Subdomain\""),
            ))
        }
    }
    Ok(RouteInfo { services })
}
