//! Implementation-defined behaviour, one named switch per point (docs/SEMANTICS.md §7).
//!
//! Kubernetes leaves these choices to the network plugin. The spec never picks silently: every
//! evaluation takes a [`Profile`], whose [`Default`] is documented per switch, and every
//! alternative is tested. [`SWITCHES`] is the one table of switches: parsing and printing
//! profiles, the documentation check, `explain`'s "switches that would change the verdict" and
//! the generators all read it, so a new switch cannot be missing from any of them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Declares a switch's values: an enum with its kebab-case spellings, the default value and the
/// most restrictive one.
macro_rules! switch_values {
    (
        $(#[$doc:meta])*
        $name:ident {
            $( $(#[$vdoc:meta])* $variant:ident = $text:literal, )+
        }
        default $default:ident, strict $strict:ident
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The most restrictive value (the `strict` profile's).
            pub const STRICT: $name = $name::$strict;

            /// The value's spelling in profiles and traces.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value of a spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("`{text}` is not a value of {}", stringify!($name)))
                })
            }
        }
    };
}

switch_values! {
    /// Rule 7.1: a pod's connection to its own address.
    PodToSelf {
        /// Always allowed: "a pod cannot block access to itself" (NP-doc). Default.
        Allowed = "allowed",
        /// Checked against the pod's own egress and ingress rules like any other pod pair.
        PolicyChecked = "policy-checked",
    }
    default Allowed, strict PolicyChecked
}

switch_values! {
    /// Rule 7.2: a pod reaching itself as the chosen backend of a Service (hairpin).
    ServiceHairpin {
        /// Always allowed, as for a pod talking to itself. Default.
        Allowed = "allowed",
        /// Checked like any other pod pair.
        PolicyChecked = "policy-checked",
    }
    default Allowed, strict PolicyChecked
}

switch_values! {
    /// Rule 7.3: whether an `ipBlock` peer matches the addresses of pods.
    IpBlockPods {
        /// `ipBlock` matches any address, pod addresses included (the upstream e2e suite,
        /// kube-network-policies). Default.
        MatchPodAddresses = "match-pod-addresses",
        /// `ipBlock` matches only addresses that are not pod addresses (Cilium).
        ExternalOnly = "external-only",
    }
    default MatchPodAddresses, strict ExternalOnly
}

switch_values! {
    /// Rule 7.4: what a policy or label change does to established connections.
    Established {
        /// Established connections stay open (Calico, kube-network-policies). Default.
        Keep = "keep",
        /// Every open connection is re-checked as if new; those now denied are cut.
        Recheck = "recheck",
    }
    default Keep, strict Recheck
}

switch_values! {
    /// Rule 7.5: traffic between a pod and the node it runs on.
    NodeTraffic {
        /// Always allowed in both directions (NP-doc). Default.
        AlwaysAllowed = "always-allowed",
        /// The node's address is matched by `ipBlock` peers like any cluster-external address.
        PolicyChecked = "policy-checked",
    }
    default AlwaysAllowed, strict PolicyChecked
}

switch_values! {
    /// Rule 7.6: pods with `hostNetwork: true`.
    HostNetwork {
        /// They are their node: policies do not isolate them, and peers see the node's
        /// address. Default.
        AsNode = "as-node",
        /// They are pods like any other: selected by policies, matched by pod selectors.
        AsPod = "as-pod",
    }
    default AsNode, strict AsPod
}

switch_values! {
    /// Rule 7.7: protocols other than TCP, UDP and SCTP (ICMP, …).
    OtherProtocols {
        /// Matched by rules without `ports`, never by rules with ports. Default.
        RulesWithoutPorts = "rules-without-ports",
        /// Never allowed in an isolated direction.
        Denied = "denied",
        /// Never filtered.
        Allowed = "allowed",
    }
    default RulesWithoutPorts, strict Denied
}

switch_values! {
    /// Rule 7.8: a named port whose name maps to different numbers in different containers.
    NamedPortConflict {
        /// Any of the numbers matches (kube-network-policies). Default.
        AnyMatch = "any-match",
        /// Only the first container port with that name and protocol counts.
        FirstOnly = "first-only",
    }
    default AnyMatch, strict FirstOnly
}

switch_values! {
    /// Rule 8.6: the source design's two multi-network scenarios. It describes the cluster's
    /// topology rather than a stricter enforcement, so `strict` leaves it at `type1` (rule 7.0).
    MultiNetwork {
        /// Type 1: L3 reachability between all networks; a service maps to any pod address.
        /// Default.
        Type1 = "type1",
        /// Type 2: no L3 reachability between networks; service lookup uses only `eth0`
        /// addresses.
        Type2 = "type2",
    }
    default Type1, strict Type1
}

switch_values! {
    /// Rule 7.10: which source a Service connection's policy sees where the proxy masquerades
    /// it (rule 6.13). It describes where the plugin filters rather than a stricter
    /// enforcement, so `strict` leaves it at `visible` (rule 7.0).
    ServiceSnat {
        /// The masqueraded source: the translating node's address, as the backend receives it
        /// (kube-proxy, with a plugin that filters at the backend). Default.
        Visible = "visible",
        /// The client's own address: a plugin that decides before the masquerade (such as
        /// kube-network-policies on the translating node) or a proxy that keeps the source.
        Hidden = "hidden",
    }
    default Visible, strict Visible
}

switch_values! {
    /// Rule 7.11: which networks NetworkPolicy filters (rule 8.7). Like `multi-network`, it
    /// describes where the implementation enforces rather than how strictly (on a network that
    /// MultiNetworkPolicies filter too, more policies also allow more), so `strict` leaves it
    /// at its default (rule 7.0).
    NetworkPolicyNetworks {
        /// Only the pod's primary network: the cluster default network, or its primary
        /// user-defined network (Multus with multi-networkpolicy, OVN-Kubernetes). Default.
        Primary = "primary",
        /// Every network the pod is attached to (the source design: "Network Policy model works
        /// for all addresses on all networks", rule 8.3).
        All = "all",
    }
    default Primary, strict Primary
}

switch_values! {
    /// Rule 7.12: a MultiNetworkPolicy peer with a `podSelector` and no `namespaceSelector`.
    MnpPodSelectorPeers {
        /// The pods of the policy's namespace, as in NetworkPolicy (OVN-Kubernetes converts a
        /// MultiNetworkPolicy into a NetworkPolicy). Default, and the most restrictive.
        PolicyNamespace = "policy-namespace",
        /// The pods of every namespace (multi-networkpolicy-iptables lists pods in all
        /// namespaces unless a namespaceSelector is given).
        AllNamespaces = "all-namespaces",
    }
    default PolicyNamespace, strict PolicyNamespace
}

switch_values! {
    /// Rule 7.13: a MultiNetworkPolicy without `policyTypes`.
    MnpPolicyTypes {
        /// As NetworkPolicy (rule 5.3): Ingress, plus Egress with egress rules (OVN-Kubernetes).
        /// Default, and the most restrictive.
        AsNetworkPolicy = "as-network-policy",
        /// A direction is enforced only when it has rules, so a policy without rules isolates
        /// nothing (multi-networkpolicy-iptables `getEnabledPolicyTypes`).
        RulesPresent = "rules-present",
    }
    default AsNetworkPolicy, strict AsNetworkPolicy
}

/// One profile switch, as the table [`SWITCHES`] lists it.
#[derive(Clone, Copy)]
pub struct Switch {
    /// Its name in profiles and traces (`pod-to-self`).
    pub name: &'static str,
    /// The rule of docs/SEMANTICS.md that defines it.
    pub rule: &'static str,
    /// Every value's spelling, in declaration order.
    pub values: fn() -> Vec<&'static str>,
    /// The default value's spelling.
    pub default: fn() -> &'static str,
    /// The `strict` profile's value.
    pub strict: fn() -> &'static str,
    /// The value a profile has.
    pub get: fn(&Profile) -> &'static str,
    /// Sets the value by its spelling; `false` when it is not a value of the switch.
    pub set: fn(&mut Profile, &str) -> bool,
}

impl fmt::Debug for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Switch({})", self.name)
    }
}

/// Declares the profile: one field per switch, and the table of switches.
macro_rules! profile {
    ( $( $(#[$doc:meta])* $field:ident: $ty:ident = $name:literal, rule $rule:literal; )+ ) => {
        /// The implementation-defined choices, one field per point.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct Profile {
            $( $(#[$doc])* pub $field: $ty, )+
        }

        /// Every switch, in the order of docs/SEMANTICS.md §7.
        pub const SWITCHES: &[Switch] = &[
            $( Switch {
                name: $name,
                rule: $rule,
                values: || $ty::ALL.iter().map(|v| v.as_str()).collect(),
                default: || $ty::default().as_str(),
                strict: || $ty::STRICT.as_str(),
                get: |p| p.$field.as_str(),
                set: |p, text| match $ty::parse(text) {
                    Some(v) => {
                        p.$field = v;
                        true
                    }
                    None => false,
                },
            }, )+
        ];

        impl Profile {
            /// Every switch at its most restrictive choice (rule 7.0).
            pub fn strict() -> Self {
                Profile { $( $field: $ty::STRICT, )+ }
            }
        }
    };
}

profile! {
    /// Rule 7.1.
    pod_to_self: PodToSelf = "pod-to-self", rule "7.1";
    /// Rule 7.2.
    service_hairpin: ServiceHairpin = "service-hairpin", rule "7.2";
    /// Rule 7.3.
    ip_block_pods: IpBlockPods = "ip-block-pods", rule "7.3";
    /// Rule 7.4.
    established: Established = "established", rule "7.4";
    /// Rule 7.5.
    node_traffic: NodeTraffic = "node-traffic", rule "7.5";
    /// Rule 7.6.
    host_network: HostNetwork = "host-network", rule "7.6";
    /// Rule 7.7.
    other_protocols: OtherProtocols = "other-protocols", rule "7.7";
    /// Rule 7.8.
    named_port_conflict: NamedPortConflict = "named-port-conflict", rule "7.8";
    /// Rule 7.9 (rules 8.5, 8.6).
    multi_network: MultiNetwork = "multi-network", rule "7.9";
    /// Rule 7.10 (rule 6.13).
    service_snat: ServiceSnat = "service-snat", rule "7.10";
    /// Rule 7.11 (rule 8.7).
    network_policy_networks: NetworkPolicyNetworks = "network-policy-networks", rule "7.11";
    /// Rule 7.12 (rule 8.8).
    mnp_pod_selector_peers: MnpPodSelectorPeers = "mnp-pod-selector-peers", rule "7.12";
    /// Rule 7.13 (rule 8.8).
    mnp_policy_types: MnpPolicyTypes = "mnp-policy-types", rule "7.13";
}

impl Profile {
    /// The named profiles: `default`, and `strict` (every switch at its most restrictive).
    pub const NAMES: [&'static str; 2] = ["default", "strict"];

    /// A named profile.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "default" => Some(Profile::default()),
            "strict" => Some(Profile::strict()),
            _ => None,
        }
    }

    /// Rule 7.6: whether a pod is policed as a pod (selected by policies, matched by pod
    /// selectors) or, being on the host network under `host-network: as-node`, is its node.
    pub fn policed(&self, host_network: bool) -> bool {
        !host_network || self.host_network == HostNetwork::AsPod
    }

    /// The switch of that name.
    pub fn switch(name: &str) -> Option<&'static Switch> {
        SWITCHES.iter().find(|s| s.name == name)
    }

    /// Sets one switch by its name and value, e.g. `established=recheck`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ProfileError> {
        let switch =
            Profile::switch(key).ok_or_else(|| ProfileError::UnknownSwitch(key.to_string()))?;
        if (switch.set)(self, value) {
            Ok(())
        } else {
            Err(ProfileError::UnknownValue {
                switch: key.to_string(),
                value: value.to_string(),
            })
        }
    }

    /// Every profile that differs from this one in exactly one switch, with `switch=value`.
    pub fn neighbours(&self) -> Vec<(String, Profile)> {
        let mut out = Vec::new();
        for switch in SWITCHES {
            for value in (switch.values)() {
                let mut other = *self;
                if (switch.set)(&mut other, value) && other != *self {
                    out.push((format!("{}={value}", switch.name), other));
                }
            }
        }
        out
    }
}

/// Why a profile description was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileError {
    /// The first part names no profile.
    UnknownProfile(String),
    /// No switch has that name.
    UnknownSwitch(String),
    /// The switch has no such value.
    UnknownValue {
        /// The switch.
        switch: String,
        /// The value given.
        value: String,
    },
    /// A part after the first is not `switch=value`.
    NotASetting(String),
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileError::UnknownProfile(name) => write!(
                f,
                "unknown profile `{name}`: expected one of {}",
                Profile::NAMES.join(", ")
            ),
            ProfileError::UnknownSwitch(key) => write!(f, "unknown profile switch `{key}`"),
            ProfileError::UnknownValue { switch, value } => {
                write!(f, "`{value}` is not a value of profile switch `{switch}`")
            }
            ProfileError::NotASetting(part) => write!(f, "expected `switch=value`, got `{part}`"),
        }
    }
}

impl std::error::Error for ProfileError {}

impl fmt::Display for Profile {
    /// `default` followed by every switch that differs from it, so that parsing the text gives
    /// the same profile back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("default")?;
        let default = Profile::default();
        for switch in SWITCHES {
            let value = (switch.get)(self);
            if value != (switch.get)(&default) {
                write!(f, ",{}={value}", switch.name)?;
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
                    profile = Profile::named(part)
                        .ok_or_else(|| ProfileError::UnknownProfile(part.to_string()))?
                }
                None => return Err(ProfileError::NotASetting(part.to_string())),
            }
        }
        Ok(profile)
    }
}

impl Serialize for Profile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Profile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
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
        assert_eq!(
            "bogus".parse::<Profile>(),
            Err(ProfileError::UnknownProfile("bogus".into()))
        );
        assert_eq!(
            "established=sometimes".parse::<Profile>(),
            Err(ProfileError::UnknownValue {
                switch: "established".into(),
                value: "sometimes".into()
            })
        );
        assert_eq!(
            "default,nope=1".parse::<Profile>(),
            Err(ProfileError::UnknownSwitch("nope".into()))
        );
        assert_eq!(
            p.to_string(),
            "default,established=recheck,multi-network=type2"
        );
        assert_eq!(
            Profile::strict().to_string().parse::<Profile>().unwrap(),
            Profile::strict()
        );
    }

    /// Switches `strict` leaves at their default (rule 7.0): those that describe where the
    /// implementation enforces (`service-snat`, `network-policy-networks`), and those whose default is already
    /// their most restrictive value.
    const DEFAULT_IS_STRICTEST: [&str; 4] = [
        "service-snat",
        "network-policy-networks",
        "mnp-pod-selector-peers",
        "mnp-policy-types",
    ];

    #[test]
    fn r7_0_strict_leaves_the_topology_switch_at_type1() {
        assert_eq!(Profile::strict().multi_network, MultiNetwork::Type1);
        assert_eq!(Profile::strict().service_snat, ServiceSnat::Visible);
        for s in SWITCHES {
            if s.name == "multi-network" || DEFAULT_IS_STRICTEST.contains(&s.name) {
                assert_eq!((s.strict)(), (s.default)(), "{}", s.name);
            } else {
                assert_ne!((s.strict)(), (s.default)(), "{}", s.name);
            }
        }
    }

    #[test]
    fn r7_0_every_switch_value_round_trips_through_the_table() {
        for s in SWITCHES {
            for v in (s.values)() {
                let mut p = Profile::default();
                assert!((s.set)(&mut p, v), "{}={v}", s.name);
                assert_eq!((s.get)(&p), v);
                let text = p.to_string();
                assert_eq!(text.parse::<Profile>().unwrap(), p, "{text}");
            }
            assert!(!(s.set)(&mut Profile::default(), "no-such-value"));
        }
    }
}
