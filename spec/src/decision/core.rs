//! The decision core: the verdict of one direction at one policed pod (rules 5.1–5.12, 7.3,
//! 7.7, 7.8). This is the only logic netsem deliberately writes twice: [`SpecCore`] evaluates
//! the policies as the rules read, the oracle from its indexes, and the differential tests
//! judge that the two agree. Everything around it (resolution, refusals, exemptions, Services,
//! the primitives) is written once, in the rest of [`crate::decision`].

use crate::decision::networks::{policies_on, PolicyApi};
use crate::decision::resolve::Party;
use crate::ident::PolicyId;
use crate::net::Protocol;
use crate::pod::Pod;
use crate::policy::{Direction, PolicyType};
use crate::profile::OtherProtocols;
use crate::state::State;
use crate::trace::Op;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One question to the decision core: does `direction` at pod `at` let traffic with `peer`
/// through, on `(protocol, port)`, with named ports resolved on `destination`?
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The policed pod whose policies decide.
    pub at: &'a Pod,
    /// Egress (at the source) or ingress (at the destination).
    pub direction: Direction,
    /// The other end.
    pub peer: Party<'a>,
    /// The destination pod, where named ports resolve (rule 5.9); `None` when the destination
    /// is not a pod.
    pub destination: Option<&'a Pod>,
    /// The protocol.
    pub protocol: Protocol,
    /// The destination port.
    pub port: u16,
    /// The network of the address the connection uses at `at` (rule 8.7); `None` is the
    /// cluster default network.
    pub network: Option<&'a str>,
}

/// A decision core: answers [`Query`]s about a [`State`].
pub trait DecisionCore {
    /// The verdict of one direction, as detailed as the core keeps it.
    type Verdict: Clone + fmt::Debug + PartialEq;

    /// The verdict of the query's direction at its pod.
    fn direction(&self, state: &State, query: &Query<'_>) -> Self::Verdict;

    /// Whether a verdict lets the traffic through.
    fn allows(verdict: &Self::Verdict) -> bool;

    /// Brings the core's own indexes in step after `op` changed `state`. The reference core
    /// keeps none.
    fn sync(&mut self, state: &State, op: &Op) {
        let _ = (state, op);
    }
}

/// How one rule's peers matched (rule 5.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerOutcome {
    /// The rule has no `from`/`to`: every peer matches.
    Any,
    /// The indexes of the peers that match; empty when none does.
    Matched(Vec<usize>),
}

/// How one rule matched: its ports, and its peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleOutcome {
    /// Whether the rule's `ports` admit the protocol and port (rules 5.6–5.10).
    pub ports: bool,
    /// Which of its peers match (rules 5.11, 5.12).
    pub peers: PeerOutcome,
}

impl RuleOutcome {
    /// Rule 5.6: a rule matches iff its ports match and one of its peers does.
    pub fn matches(&self) -> bool {
        self.ports
            && match &self.peers {
                PeerOutcome::Any => true,
                PeerOutcome::Matched(v) => !v.is_empty(),
            }
    }

    /// The first matching peer (`None` for a rule without peers).
    pub fn first_peer(&self) -> Option<usize> {
        match &self.peers {
            PeerOutcome::Any => None,
            PeerOutcome::Matched(v) => v.first().copied(),
        }
    }
}

/// One selecting policy and the outcome of each of its rules for the direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyOutcome {
    /// The policy.
    pub policy: PolicyId,
    /// Its API: a NetworkPolicy, or a MultiNetworkPolicy (rule 8.7).
    #[serde(default)]
    pub api: PolicyApi,
    /// Its `ingress` or `egress` rules' outcomes, in order.
    pub rules: Vec<RuleOutcome>,
}

/// A rule that allowed a connection: policy, rule index, and the index of the first peer that
/// matched (`None` when the rule has no peers and so matches every peer).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuleMatch {
    /// The policy.
    pub policy: PolicyId,
    /// Index into its `ingress` or `egress` list.
    pub rule: usize,
    /// Index into the rule's `from`/`to` list.
    pub peer: Option<usize>,
}

/// The spec's verdict of one direction at one pod, with every selecting policy and every rule's
/// port and peer outcome (the policies of the network the connection uses there, rule 8.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectionVerdict {
    /// Every NetworkPolicy that selects the pod and has the direction among its effective
    /// `policyTypes`, in identity order (rules 5.1–5.3). Empty: the pod is not isolated.
    pub policies: Vec<PolicyOutcome>,
    /// Rule 7.7, `other-protocols: denied`: the protocol is denied in an isolated direction
    /// whatever the rules say.
    pub other_protocol_denied: bool,
}

impl DirectionVerdict {
    /// Rule 5.2: whether some policy isolates the pod in this direction.
    pub fn isolated(&self) -> bool {
        !self.policies.is_empty()
    }

    /// Rules 5.2, 5.4: not isolated, or some rule of some selecting policy matches.
    pub fn allowed(&self) -> bool {
        !self.isolated() || (!self.other_protocol_denied && self.allowing().next().is_some())
    }

    /// Every rule that matches, with its first matching peer (rule 5.4: a union).
    pub fn allowing(&self) -> impl Iterator<Item = RuleMatch> + '_ {
        self.policies.iter().flat_map(|p| {
            p.rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.matches())
                .map(|(i, r)| RuleMatch {
                    policy: p.policy.clone(),
                    rule: i,
                    peer: r.first_peer(),
                })
        })
    }
}

/// The reference decision core: every policy of the state, evaluated as docs/SEMANTICS.md §5
/// reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecCore;

impl DecisionCore for SpecCore {
    type Verdict = DirectionVerdict;

    fn direction(&self, state: &State, q: &Query<'_>) -> DirectionVerdict {
        let profile = state.profile();
        let peer_namespace_labels = match q.peer {
            Party::Pod { pod, .. } => Some(state.namespace_labels(&pod.id.namespace)),
            Party::Address(_) => None,
        };
        // Rule 8.7: the policies of the network the connection uses at `at`.
        let policies: Vec<PolicyOutcome> = policies_on(state, q.network)
            .filter(|(_, p)| p.selects(q.at) && p.applies_to(q.direction))
            .map(|(api, p)| PolicyOutcome {
                policy: p.id.clone(),
                api,
                rules: p
                    .rules(q.direction)
                    .iter()
                    .map(|rule| RuleOutcome {
                        ports: rule.ports_match(q.protocol, q.port, q.destination, profile),
                        peers: if rule.peers.is_empty() {
                            PeerOutcome::Any
                        } else {
                            PeerOutcome::Matched(
                                rule.peers
                                    .iter()
                                    .enumerate()
                                    .filter(|(_, peer)| {
                                        peer.matches(
                                            &p.id.namespace,
                                            q.peer,
                                            peer_namespace_labels.as_ref(),
                                            profile,
                                        )
                                    })
                                    .map(|(i, _)| i)
                                    .collect(),
                            )
                        },
                    })
                    .collect(),
            })
            .collect();
        DirectionVerdict {
            other_protocol_denied: !policies.is_empty()
                && !q.protocol.is_kubernetes()
                && profile.other_protocols == OtherProtocols::Denied,
            policies,
        }
    }

    fn allows(verdict: &DirectionVerdict) -> bool {
        verdict.allowed()
    }
}

/// The direction name used in explanations and the NetworkPolicy field it reads.
pub fn direction_name(direction: Direction) -> &'static str {
    match direction {
        PolicyType::Ingress => "ingress",
        PolicyType::Egress => "egress",
    }
}
