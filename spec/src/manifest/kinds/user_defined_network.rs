//! OVN-Kubernetes `k8s.ovn.org/v1` UserDefinedNetwork and ClusterUserDefinedNetwork, and the
//! NetworkAttachmentDefinitions OVN-Kubernetes renders for them (rules 8.9, 8.10; sources:
//! ovn-kubernetes `go-controller/pkg/crd/userdefinednetwork/v1`,
//! `clustermanager/userdefinednetwork/template/net-attach-def-template.go`, okep-5193).
//!
//! - A UserDefinedNetwork `ns/name` is the network `ns/name` (the NAD rendered for it has its
//!   name and namespace); a ClusterUserDefinedNetwork `name` is one network,
//!   `cluster_udn_<name>` (OVN-Kubernetes' own name for it), which the NAD `<ns>/<name>` of
//!   every namespace it selects refers to.
//! - Each is an IP address domain of its own, named after the network: addresses are unique
//!   only within a user-defined network, and two of them may use overlapping subnets (rule 3.2).
//! - `role: Primary` makes it the primary network of its namespaces' pods (rule 8.10), isolated
//!   from every other network (rule 8.11); `Secondary` makes it a secondary network, which only
//!   MultiNetworkPolicies filter (rule 8.7).
//!
//! Validation follows the CRD's CEL rules, with their messages.

use crate::manifest::object::{HasMetadata, Obj};
use crate::manifest::validate::{self, index, Check, Invalid};
use crate::manifest::LoadError;
use crate::net::NetworkRole;
use crate::selector::LabelSelector;
use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

/// The API version of UserDefinedNetwork and ClusterUserDefinedNetwork.
pub(crate) const UDN_API_VERSION: &str = "k8s.ovn.org/v1";
/// The namespace label a namespace must carry, from its creation, to take a primary
/// user-defined network (`RequiredUDNNamespaceLabel`).
pub const PRIMARY_UDN_LABEL: &str = "k8s.ovn.org/primary-user-defined-network";
/// The CNI type of the NADs OVN-Kubernetes renders for user-defined networks.
pub const OVN_CNI_TYPE: &str = "ovn-k8s-cni-overlay";
/// The pod annotation OVN-Kubernetes writes with each network's addresses and role.
pub const POD_NETWORKS_ANNOTATION: &str = "k8s.ovn.org/pod-networks";
/// The prefix of a ClusterUserDefinedNetwork's network name.
pub const CUDN_PREFIX: &str = "cluster_udn_";

/// Where a user-defined network is: a UDN's namespace, or the namespaces a CUDN selects.
#[derive(Clone, Debug)]
pub(crate) enum Scope {
    Namespace(String),
    Selector(LabelSelector),
}

/// What a UDN, a CUDN or a NAD rendered for one contributes, resolved when the load ends (a
/// CUDN's namespaces are known then).
#[derive(Clone, Debug)]
pub(crate) struct UserNetwork {
    /// The network's name (`ns/name`, `cluster_udn_<name>`).
    pub network: String,
    /// Primary or secondary.
    pub role: NetworkRole,
    /// Its subnets, in order.
    pub subnets: Vec<IpNet>,
    /// Its namespaces.
    pub scope: Scope,
    /// The name of the NAD that refers to it in each of its namespaces.
    pub nad: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Udn {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Topology,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cudn {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: CudnSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CudnSpec {
    #[serde(default)]
    namespace_selector: Option<meta::LabelSelector>,
    #[serde(default)]
    network: Option<Topology>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Topology {
    #[serde(default)]
    topology: String,
    #[serde(default)]
    layer2: Option<Layer>,
    #[serde(default)]
    layer3: Option<Layer>,
    #[serde(default)]
    localnet: Option<Layer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layer {
    #[serde(default)]
    role: String,
    #[serde(default)]
    subnets: Vec<Subnet>,
    #[serde(default)]
    ipam: Option<Ipam>,
}

#[derive(Debug, Default, Deserialize)]
struct Ipam {
    #[serde(default)]
    mode: Option<String>,
}

/// A Layer2/Localnet subnet is a CIDR string; a Layer3 one `{cidr, hostSubnet}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Subnet {
    Cidr(String),
    Layer3 {
        cidr: String,
        #[serde(default, rename = "hostSubnet")]
        host_subnet: Option<i64>,
    },
}

impl HasMetadata for Udn {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl HasMetadata for Cudn {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// The CEL rules of a network's topology, at `path` (`spec`, `spec.network`).
fn topology(t: &Topology, path: &str, localnet: bool) -> Check<(NetworkRole, Vec<IpNet>)> {
    let allowed: &[&str] = if localnet {
        &["Layer2", "Layer3", "Localnet"]
    } else {
        &["Layer2", "Layer3"]
    };
    let layer = match t.topology.as_str() {
        "" => return Err(Invalid::new(format!("{path}.topology"), "Required value")),
        "Layer2" => &t.layer2,
        "Layer3" => &t.layer3,
        "Localnet" if localnet => &t.localnet,
        other => {
            return Err(Invalid::new(
                format!("{path}.topology"),
                format!(
                    "Unsupported value: {other:?}: supported values: {}",
                    allowed
                        .iter()
                        .map(|a| format!("{a:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    };
    for (key, name, given) in [
        ("layer2", "Layer2", t.layer2.is_some()),
        ("layer3", "Layer3", t.layer3.is_some()),
        ("localnet", "Localnet", t.localnet.is_some()),
    ] {
        if given != (t.topology == name) {
            return Err(Invalid::new(
                format!("{path}.{key}"),
                format!(
                    "Invalid value: \"object\": spec.{key} is required when topology is {name} \
                     and forbidden otherwise"
                ),
            ));
        }
    }
    let Some(layer) = layer else {
        return Err(Invalid::new(path, "Required value"));
    };
    let key = t.topology.to_ascii_lowercase();
    let at = format!("{path}.{key}");
    let role = match layer.role.as_str() {
        "Primary" if t.topology != "Localnet" => NetworkRole::Primary,
        "Secondary" => NetworkRole::Secondary,
        "" => return Err(Invalid::new(format!("{at}.role"), "Required value")),
        other => {
            return Err(Invalid::new(
                format!("{at}.role"),
                format!(
                    "Unsupported value: {other:?}: supported values: \"Primary\", \"Secondary\""
                ),
            ))
        }
    };
    let mut subnets: Vec<IpNet> = Vec::new();
    for (i, s) in layer.subnets.iter().enumerate() {
        let (cidr, host) = match s {
            Subnet::Cidr(c) => (c, None),
            Subnet::Layer3 { cidr, host_subnet } => (cidr, *host_subnet),
        };
        let sp = index(&format!("{at}.subnets"), i);
        let field = if matches!(s, Subnet::Layer3 { .. }) {
            format!("{sp}.cidr")
        } else {
            sp.clone()
        };
        let net = validate::cidr(cidr, &field)?;
        if let Some(h) = host {
            let max = if net.addr().is_ipv4() { 31 } else { 127 };
            if h <= i64::from(net.prefix_len()) || h > max {
                return Err(Invalid::new(
                    format!("{sp}.hostSubnet"),
                    format!("Invalid value: {h}: HostSubnet must be smaller than CIDR subnet"),
                ));
            }
        }
        if subnets
            .iter()
            .any(|o| o.contains(&net.network()) || net.contains(&o.network()))
        {
            return Err(Invalid::new(
                format!("{at}.subnets"),
                "Invalid value: \"array\": Subnets must not overlap or contain each other",
            ));
        }
        subnets.push(net);
    }
    let ipam_off = layer
        .ipam
        .as_ref()
        .and_then(|i| i.mode.as_deref())
        .is_some_and(|m| m == "Disabled");
    if ipam_off && role == NetworkRole::Primary {
        return Err(Invalid::new(
            format!("{at}.ipam.mode"),
            "Invalid value: \"Disabled\": ipam.mode Disabled is only supported for Secondary \
             networks",
        ));
    }
    if subnets.is_empty() && !ipam_off && t.topology != "Localnet" {
        return Err(Invalid::new(format!("{at}.subnets"), "Required value"));
    }
    Ok((role, subnets))
}

/// Rule 8.9: a UserDefinedNetwork: the network `ns/name`.
pub(crate) fn udn(obj: &Obj, value: Value) -> Result<UserNetwork, LoadError> {
    let u: Udn = obj.read(value)?;
    let (role, subnets) = topology(&u.spec, "spec", false).map_err(|e| obj.invalid(e))?;
    Ok(UserNetwork {
        network: format!("{}/{}", obj.ns(), obj.name),
        role,
        subnets,
        scope: Scope::Namespace(obj.ns().to_string()),
        nad: obj.name.clone(),
    })
}

/// Rule 8.9: a ClusterUserDefinedNetwork: the network `cluster_udn_<name>` in the namespaces
/// it selects.
pub(crate) fn cudn(obj: &Obj, value: Value) -> Result<UserNetwork, LoadError> {
    let c: Cudn = obj.read(value)?;
    let Some(selector) = &c.spec.namespace_selector else {
        return Err(obj.error("spec.namespaceSelector", "Required value"));
    };
    let selector =
        validate::label_selector(selector, "spec.namespaceSelector").map_err(|e| obj.invalid(e))?;
    let Some(network) = &c.spec.network else {
        return Err(obj.error("spec.network", "Required value"));
    };
    let (role, subnets) = topology(network, "spec.network", true).map_err(|e| obj.invalid(e))?;
    Ok(UserNetwork {
        network: format!("{CUDN_PREFIX}{}", obj.name),
        role,
        subnets,
        scope: Scope::Selector(selector),
        nad: obj.name.clone(),
    })
}

/// Rule 8.9: a NAD whose CNI config is OVN-Kubernetes' (`type: ovn-k8s-cni-overlay`) is the
/// user-defined network its config names: `cluster_udn_<name>` for a CUDN's, else the NAD's
/// own `ns/name` (a UDN's), with the config's `role` and `subnets`.
pub(crate) fn ovn_nad(
    namespace: &str,
    name: &str,
    config: &Value,
) -> Result<Option<UserNetwork>, Invalid> {
    if config.get("type").and_then(Value::as_str) != Some(OVN_CNI_TYPE) {
        return Ok(None);
    }
    let text = |key: &str| config.get(key).and_then(Value::as_str).unwrap_or("");
    let network = match text("name") {
        n if n.starts_with(CUDN_PREFIX) => n.to_string(),
        _ => format!("{namespace}/{name}"),
    };
    let role = match text("role") {
        "primary" => NetworkRole::Primary,
        _ => NetworkRole::Secondary,
    };
    let mut subnets = Vec::new();
    for part in text("subnets").split(',').filter(|p| !p.trim().is_empty()) {
        // Layer3 subnets are written `cidr/hostSubnet`.
        let part = part.trim();
        let cidr = match part.matches('/').count() {
            2 => part.rsplit_once('/').map_or(part, |(c, _)| c),
            _ => part,
        };
        subnets.push(validate::cidr(cidr, "spec.config")?);
    }
    Ok(Some(UserNetwork {
        network,
        role,
        subnets,
        scope: Scope::Namespace(namespace.to_string()),
        nad: name.to_string(),
    }))
}
