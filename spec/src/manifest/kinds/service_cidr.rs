//! `networking.k8s.io/v1` ServiceCIDR: ranges cluster addresses are allocated from (rule 6.17),
//! validated as `ValidateServiceCIDR` does (kubernetes `pkg/apis/networking/validation`): one
//! or two CIDRs, two only of different families, each valid and in canonical form. The API
//! server keeps a ServiceCIDR named [`DEFAULT_SERVICE_CIDR`] for its
//! `--service-cluster-ip-range`; netsem allocates missing cluster addresses from that one's
//! IPv4 range when the input holds it (rule 9.5).

use crate::manifest::object::Obj;
use crate::manifest::validate::index;
use crate::manifest::{LoadError, Object};
use ipnet::IpNet;
use k8s_openapi::api::networking::v1 as networking;
use serde_json::Value;

/// The name of the API server's own ServiceCIDR.
pub const DEFAULT_SERVICE_CIDR: &str = "kubernetes";

/// Rule 6.17: a ServiceCIDR and its ranges.
pub(crate) fn service_cidr_object(obj: &Obj, value: Value) -> Result<Object, LoadError> {
    let cidr: networking::ServiceCIDR = obj.read(value)?;
    let list = cidr.spec.and_then(|s| s.cidrs).unwrap_or_default();
    let path = "spec.cidrs";
    if list.is_empty() {
        return Err(obj.error(path, "Required value: at least one CIDR required"));
    }
    if list.len() > 2 {
        return Err(obj.error(path, "Invalid value: may only hold up to 2 values"));
    }
    let mut cidrs = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let at = index(path, i);
        let net: IpNet = s.parse().map_err(|_| {
            obj.error(
                &at,
                format!(
                    "Invalid value: {s:?}: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
                ),
            )
        })?;
        let canonical = net.trunc().to_string();
        if *s != canonical {
            return Err(obj.error(
                &at,
                format!("Invalid value: {s:?}: must be in canonical form ({canonical:?})"),
            ));
        }
        cidrs.push(net);
    }
    if let [a, b] = cidrs.as_slice() {
        if matches!(a, IpNet::V4(_)) == matches!(b, IpNet::V4(_)) {
            return Err(obj.error(
                path,
                "Invalid value: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64",
            ));
        }
    }
    Ok(Object::ServiceCidr {
        name: obj.name.clone(),
        cidrs,
    })
}
