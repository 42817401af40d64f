//! Rule 9.13: which verdicts depend on an address netsem allocated (rule 9.5) rather than one
//! the input gave. Pod selectors do not look at addresses, so only an `ipBlock` can tell an
//! invented address from a real one: a verdict *depends* on an allocated address when an
//! `ipBlock` peer was evaluated against it, whether it matched or missed.
//!
//! - For one decision (`explain`): the address the other end of a direction uses is allocated,
//!   `ip-block-pods` lets ipBlocks see pod addresses (rule 7.3), and a rule whose ports match,
//!   of a policy that isolates the policed end in that direction, has an `ipBlock` peer.
//! - For a matrix cell (every port at once): the same, with any rule of such a policy.
//!
//! Both are cheap: they read the verdicts already made, or the policies selecting each pod.

use crate::connection::Endpoint;
use crate::decision::networks::{policies_on, PolicyApi};
use crate::decision::{Decision, DirectionVerdict};
use crate::ident::PodId;
use crate::net::Address;
use crate::policy::{Direction, Peer, PolicyType, Rule};
use crate::profile::IpBlockPods;
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};

/// Addresses netsem allocated, with their pod.
pub type Allocated = BTreeMap<Address, PodId>;

/// The network of a pod's primary address (rule 3.4), if it is on one.
fn primary_network<'s>(state: &'s State, pod: &PodId) -> Option<&'s str> {
    let first = state.primary_addresses(pod).into_iter().next()?;
    match state.addresses().get(first) {
        Some(crate::state::AddressOwner::Pod { network, .. }) => Some(network.as_str()),
        _ => None,
    }
}

fn has_ip_block(rule: &Rule) -> bool {
    rule.peers.iter().any(|p| matches!(p, Peer::IpBlock(_)))
}

/// The allocated address of the other end of a direction, when an ipBlock of a matching rule
/// was evaluated against it.
fn direction_dependency(
    state: &State,
    verdict: &DirectionVerdict,
    direction: Direction,
    peer: &Endpoint,
    allocated: &Allocated,
) -> Option<(PodId, Address)> {
    let address = peer.address()?;
    let pod = allocated.get(address)?;
    let evaluated = verdict.policies.iter().any(|p| {
        let rules = match p.api {
            PolicyApi::NetworkPolicy => state.policy(&p.policy).map(|x| x.rules(direction)),
            PolicyApi::MultiNetworkPolicy => {
                state
                    .multi_network_policy(&p.policy)
                    .map(|x| match direction {
                        PolicyType::Ingress => x.ingress.as_slice(),
                        PolicyType::Egress => x.egress.as_slice(),
                    })
            }
        };
        rules.is_some_and(|rules| {
            p.rules
                .iter()
                .zip(rules)
                .any(|(outcome, rule)| outcome.ports && has_ip_block(rule))
        })
    });
    evaluated.then(|| (pod.clone(), address.clone()))
}

/// Rule 9.13: the allocated addresses a decision depends on, with their pods.
pub fn decision_dependencies(
    state: &State,
    d: &Decision,
    allocated: &Allocated,
) -> Vec<(PodId, Address)> {
    if state.profile().ip_block_pods != IpBlockPods::MatchPodAddresses || allocated.is_empty() {
        return Vec::new();
    }
    let mut out = BTreeSet::new();
    if let Some(v) = &d.egress {
        out.extend(direction_dependency(
            state,
            v,
            PolicyType::Egress,
            &d.destination,
            allocated,
        ));
    }
    if let Some(v) = &d.ingress {
        out.extend(direction_dependency(
            state,
            v,
            PolicyType::Ingress,
            &d.source,
            allocated,
        ));
    }
    out.into_iter().collect()
}

/// How many cells of the connectivity matrix depend on one allocated address (rule 9.13), and
/// the first of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellDependencies {
    /// The pod the address was allocated to.
    pub pod: PodId,
    /// The address.
    pub address: Address,
    /// How many cells (ordered pairs of pods) depend on it.
    pub cells: usize,
    /// The first such cell, `(source, destination)` in contract order.
    pub example: (PodId, PodId),
}

/// Rule 9.13: for each allocated primary address, the matrix cells that depend on it: a cell
/// from its pod to a pod isolated for ingress by a policy with an ipBlock ingress peer, or
/// from a pod isolated for egress by a policy with an ipBlock egress peer to it. In address
/// order; addresses no cell depends on are left out.
pub fn matrix_dependencies(state: &State, allocated: &Allocated) -> Vec<CellDependencies> {
    if state.profile().ip_block_pods != IpBlockPods::MatchPodAddresses || allocated.is_empty() {
        return Vec::new();
    }
    // Which pods an ipBlock guards, per direction.
    let guarded = |direction: Direction| -> BTreeSet<&PodId> {
        state
            .pods()
            .filter(|pod| state.profile().policed(pod.host_network))
            .filter(|pod| {
                // The policies of the network of the pod's primary address (rule 8.7).
                let network = primary_network(state, &pod.id);
                policies_on(state, network).any(|(_, p)| {
                    p.selects(pod)
                        && p.applies_to(direction)
                        && p.rules(direction).iter().any(has_ip_block)
                })
            })
            .map(|pod| &pod.id)
            .collect()
    };
    let ingress = guarded(PolicyType::Ingress);
    let egress = guarded(PolicyType::Egress);
    let order = crate::matrix::contract_order(state.pods().map(|p| p.id.clone()));
    let mut out = Vec::new();
    for (address, pod) in allocated {
        if !state.primary_addresses(pod).contains(&address) {
            continue;
        }
        let mut cells = Vec::new();
        for other in &order {
            if ingress.contains(other) {
                cells.push((pod.clone(), other.clone()));
            }
            if egress.contains(other) {
                cells.push((other.clone(), pod.clone()));
            }
        }
        let key = |c: &(PodId, PodId)| (c.0.to_string(), c.1.to_string());
        cells.sort_by_key(key);
        cells.dedup();
        if let Some(first) = cells.first().cloned() {
            out.push(CellDependencies {
                pod: pod.clone(),
                address: address.clone(),
                cells: cells.len(),
                example: first,
            });
        }
    }
    out
}
