//! `v1` Node: a node, its labels and its `InternalIP`/`ExternalIP` addresses, which are node
//! addresses in the default domain (rule 3.5); DaemonSets expand over the declared nodes
//! (rule 9.4). Metadata is validated by rule 9.2.

use crate::manifest::object::{ip, Obj};
use crate::manifest::{LoadError, Object};
use crate::net::Address;
use k8s_openapi::api::core::v1 as core;
use serde_json::Value;

/// Rule 3.5: a Node with its `InternalIP` and `ExternalIP` addresses (each once, in order).
pub(crate) fn node_object(obj: &Obj, value: Value) -> Result<Object, LoadError> {
    let node: core::Node = obj.read(value)?;
    let mut addresses = Vec::new();
    for (i, a) in node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if matches!(a.type_.as_str(), "InternalIP" | "ExternalIP") {
            let path = format!("status.addresses[{i}].address");
            let address =
                Address::default_domain(ip(&a.address, &path).map_err(|e| obj.invalid(e))?);
            if !addresses.contains(&address) {
                addresses.push(address);
            }
        }
    }
    Ok(Object::Node {
        name: obj.name.clone(),
        labels: node.metadata.labels.unwrap_or_default(),
        addresses,
    })
}
