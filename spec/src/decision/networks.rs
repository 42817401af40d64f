//! Rule 8.7: the policies that apply to a connection depend on the network of the attachment
//! it uses at the policed pod. A NetworkPolicy filters the pod's primary network (the cluster
//! default network, or its primary user-defined network), or every network under
//! `network-policy-networks: all` (rule 7.11, the source design's reading); a
//! MultiNetworkPolicy filters only the networks it names (rule 8.8), as the NetworkPolicy it
//! is under the profile (rules 7.12, 7.13). Within a network, the policies that apply are
//! combined as §5 says.
//!
//! This is the one predicate both decision cores share in meaning: the reference core calls
//! [`policies_on`]; the oracle's core checks the same scope on its compiled policies.

use crate::net::DEFAULT_NETWORK;
use crate::policy::NetworkPolicy;
use crate::profile::{NetworkPolicyNetworks, Profile};
use crate::state::State;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Which API a policy comes from.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyApi {
    /// `networking.k8s.io/v1` NetworkPolicy.
    #[default]
    NetworkPolicy,
    /// `k8s.cni.cncf.io/v1beta1` MultiNetworkPolicy (rule 8.8).
    MultiNetworkPolicy,
}

/// The network a connection uses at the policed pod: the network of the pod's address it
/// uses, and whether that is a primary network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnNetwork<'a> {
    /// The network's name.
    pub name: &'a str,
    /// Whether it is a primary network (rule 8.7).
    pub primary: bool,
}

impl<'a> OnNetwork<'a> {
    /// The network of an address's attachment; an end without one (no address, a host-network
    /// pod's node address) is on the cluster default network.
    pub fn of(state: &State, network: Option<&'a str>) -> Self {
        let name = network.unwrap_or(DEFAULT_NETWORK);
        OnNetwork {
            name,
            primary: state.is_primary_network(name),
        }
    }
}

/// Rules 8.7, 7.11: whether NetworkPolicy filters traffic on `on`.
pub fn network_policy_filters(profile: &Profile, on: OnNetwork<'_>) -> bool {
    on.primary || profile.network_policy_networks == NetworkPolicyNetworks::All
}

/// Rules 8.7, 11.15: whether the Admin and Baseline tiers filter traffic on `network` (the
/// network of the policed pod's address): only on the pod's primary networks, whatever
/// `network-policy-networks` says.
pub fn admin_tiers_filter(state: &State, network: Option<&str>) -> bool {
    OnNetwork::of(state, network).primary
}

/// Rules 8.7, 8.8: every policy that filters traffic on `network` (the network of the policed
/// pod's address), each as the NetworkPolicy it is there: the NetworkPolicies first, then the
/// MultiNetworkPolicies naming the network, each in identity order.
pub fn policies_on<'s>(
    state: &'s State,
    network: Option<&'s str>,
) -> impl Iterator<Item = (PolicyApi, Cow<'s, NetworkPolicy>)> + 's {
    let on = OnNetwork::of(state, network);
    let profile = state.profile();
    let nps = network_policy_filters(profile, on)
        .then(|| state.policies())
        .into_iter()
        .flatten()
        .map(|p| (PolicyApi::NetworkPolicy, Cow::Borrowed(p)));
    let mnps = state
        .multi_network_policies()
        .filter(move |m| m.filters(on.name))
        .filter_map(move |m| m.effective(profile))
        .map(|p| (PolicyApi::MultiNetworkPolicy, Cow::Owned(p)));
    nps.chain(mnps)
}
