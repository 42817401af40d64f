//! Implementation-defined behaviour, one named switch per point (docs/SEMANTICS.md §7).
//!
//! Kubernetes leaves these choices to the network plugin. The spec never picks silently: every
//! evaluation takes a [`Profile`], whose [`Default`] is documented per field, and every
//! alternative is tested.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Rule 7.1: a pod's connection to its own address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodToSelf {
    /// Always allowed: "a pod cannot block access to itself" (NP-doc). Default.
    #[default]
    Allowed,
    /// Checked against the pod's own egress and ingress rules like any other pod pair.
    PolicyChecked,
}

/// Rule 7.2: a pod reaching itself as the chosen backend of a Service (hairpin).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceHairpin {
    /// Always allowed, as for a pod talking to itself. Default.
    #[default]
    Allowed,
    /// Checked like any other pod pair.
    PolicyChecked,
}

/// Rule 7.3: whether an `ipBlock` peer matches the addresses of pods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IpBlockPods {
    /// `ipBlock` matches any address, pod addresses included (the upstream e2e suite,
    /// kube-network-policies). Default.
    #[default]
    MatchPodAddresses,
    /// `ipBlock` matches only addresses that are not pod addresses (Cilium).
    ExternalOnly,
}

/// Rule 7.4: what a policy or label change does to established connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Established {
    /// Established connections stay open (Calico, kube-network-policies). Default.
    #[default]
    Keep,
    /// Every open connection is re-checked as if new; those now denied are cut.
    Recheck,
}

/// Rule 7.5: traffic between a pod and the node it runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeTraffic {
    /// Always allowed in both directions (NP-doc). Default.
    #[default]
    AlwaysAllowed,
    /// The node's address is matched by `ipBlock` peers like any cluster-external address.
    PolicyChecked,
}

/// Rule 7.6: pods with `hostNetwork: true`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostNetwork {
    /// They are their node: policies do not isolate them, and peers see the node's address.
    /// Default.
    #[default]
    AsNode,
    /// They are pods like any other: selected by policies, matched by pod selectors.
    AsPod,
}

/// Rule 7.7: protocols other than TCP, UDP and SCTP (ICMP, …).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OtherProtocols {
    /// Matched by rules without `ports`, never by rules with ports. Default.
    #[default]
    RulesWithoutPorts,
    /// Never allowed in an isolated direction.
    Denied,
    /// Never filtered.
    Allowed,
}

/// Rule 7.8: a named port whose name maps to different numbers in different containers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamedPortConflict {
    /// Any of the numbers matches (kube-network-policies). Default.
    #[default]
    AnyMatch,
    /// Only the first container port with that name and protocol counts.
    FirstOnly,
}

/// Rule 8.6: the source design's two multi-network scenarios.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MultiNetwork {
    /// Type 1: L3 reachability between all networks; a service maps to any pod address.
    /// Default.
    #[default]
    Type1,
    /// Type 2: no L3 reachability between networks; service lookup uses only `eth0` addresses.
    Type2,
}

/// The implementation-defined choices, one field per point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct Profile {
    /// Rule 7.1.
    pub pod_to_self: PodToSelf,
    /// Rule 7.2.
    pub service_hairpin: ServiceHairpin,
    /// Rule 7.3.
    pub ip_block_pods: IpBlockPods,
    /// Rule 7.4.
    pub established: Established,
    /// Rule 7.5.
    pub node_traffic: NodeTraffic,
    /// Rule 7.6.
    pub host_network: HostNetwork,
    /// Rule 7.7.
    pub other_protocols: OtherProtocols,
    /// Rule 7.8.
    pub named_port_conflict: NamedPortConflict,
    /// Rule 8.6.
    pub multi_network: MultiNetwork,
}

impl Profile {
    /// The named profiles: `default`, and `strict` (every switch at its most restrictive).
    pub const NAMES: [&'static str; 2] = ["default", "strict"];

    /// Every switch at its most restrictive choice: self, hairpin and node traffic checked,
    /// `ipBlock` only for external addresses, established connections re-checked, other
    /// protocols denied, the first named port only.
    pub fn strict() -> Self {
        Profile {
            pod_to_self: PodToSelf::PolicyChecked,
            service_hairpin: ServiceHairpin::PolicyChecked,
            ip_block_pods: IpBlockPods::ExternalOnly,
            established: Established::Recheck,
            node_traffic: NodeTraffic::PolicyChecked,
            host_network: HostNetwork::AsPod,
            other_protocols: OtherProtocols::Denied,
            named_port_conflict: NamedPortConflict::FirstOnly,
            multi_network: MultiNetwork::Type1,
        }
    }

    /// A named profile.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Profile::default()),
            "strict" => Some(Profile::strict()),
            _ => None,
        }
    }

    /// Sets one switch by its kebab-case name and value, e.g. `established=recheck`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ProfileError> {
        fn parse<T: serde::de::DeserializeOwned>(
            key: &str,
            value: &str,
        ) -> Result<T, ProfileError> {
            serde_json::from_value(serde_json::Value::String(value.to_string())).map_err(|_| {
                ProfileError(format!(
                    "`{value}` is not a value of profile switch `{key}`"
                ))
            })
        }
        match key {
            "pod-to-self" => self.pod_to_self = parse(key, value)?,
            "service-hairpin" => self.service_hairpin = parse(key, value)?,
            "ip-block-pods" => self.ip_block_pods = parse(key, value)?,
            "established" => self.established = parse(key, value)?,
            "node-traffic" => self.node_traffic = parse(key, value)?,
            "host-network" => self.host_network = parse(key, value)?,
            "other-protocols" => self.other_protocols = parse(key, value)?,
            "named-port-conflict" => self.named_port_conflict = parse(key, value)?,
            "multi-network" => self.multi_network = parse(key, value)?,
            _ => return Err(ProfileError(format!("unknown profile switch `{key}`"))),
        }
        Ok(())
    }
}

/// Why a profile description was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileError(pub String);

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProfileError {}

impl fmt::Display for Profile {
    /// `default` followed by every switch that differs from it, so that parsing the text gives
    /// the same profile back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("default")?;
        let value = |p: &Profile| serde_json::to_value(p).expect("profiles serialize");
        if let (serde_json::Value::Object(this), serde_json::Value::Object(default)) =
            (value(self), value(&Profile::default()))
        {
            for (k, v) in this {
                if default.get(&k) != Some(&v) {
                    write!(f, ",{k}={}", v.as_str().unwrap_or_default())?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for Profile {
    type Err = ProfileError;
    /// `NAME[,switch=value]*` or `switch=value[,…]` starting from the default profile.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut profile = Profile::default();
        for (i, part) in s.split(',').map(str::trim).enumerate() {
            match part.split_once('=') {
                Some((k, v)) => profile.set(k.trim(), v.trim())?,
                None if i == 0 => {
                    profile = Profile::named(part).ok_or_else(|| {
                        ProfileError(format!(
                            "unknown profile `{part}`: expected one of {}",
                            Profile::NAMES.join(", ")
                        ))
                    })?
                }
                None => {
                    return Err(ProfileError(format!(
                        "expected `switch=value`, got `{part}`"
                    )))
                }
            }
        }
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r7_0_profiles_parse_by_name_and_switch() {
        assert_eq!("default".parse::<Profile>().unwrap(), Profile::default());
        assert_eq!("strict".parse::<Profile>().unwrap(), Profile::strict());
        let p: Profile = "default,established=recheck,multi-network=type2"
            .parse()
            .unwrap();
        assert_eq!(p.established, Established::Recheck);
        assert_eq!(p.multi_network, MultiNetwork::Type2);
        assert_eq!(p.pod_to_self, PodToSelf::Allowed);
        assert!("bogus".parse::<Profile>().is_err());
        assert!("established=sometimes".parse::<Profile>().is_err());
        assert!("default,nope=1".parse::<Profile>().is_err());
        assert_eq!(
            p.to_string(),
            "default,established=recheck,multi-network=type2"
        );
        assert_eq!(
            Profile::strict().to_string().parse::<Profile>().unwrap(),
            Profile::strict()
        );
    }
}
