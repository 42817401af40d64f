//! The decision core: the verdict of one direction at one policed pod — the admin tier, the
//! NetworkPolicy tier, the baseline tier (rules 5.1–5.12, 7.3, 7.7, 7.8, 11.2–11.11). This is
//! the only logic netsem deliberately writes twice: [`SpecCore`] evaluates the policies as the
//! rules read, the oracle from its indexes, and the differential tests judge that the two
//! agree. Everything around it (resolution, refusals, which exemptions hold, Services, the
//! primitives) is written once, in the rest of [`crate::decision`].

use crate::admin::{Action, AdminPolicyId, AdminRuleOutcome, PeerView, Tier};
use crate::decision::networks::{policies_on, PolicyApi};
use crate::decision::resolve::Party;
use crate::decision::Exemption;
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
    /// The exemption that holds in the NetworkPolicy tier (rules 7.1, 7.2, 7.5, 7.7): when
    /// the tier decides, it allows (rule 11.11).
    pub exemption: Option<Exemption>,
    /// Whether the admin and baseline tiers apply: not to a pod talking to itself on its own
    /// address (rule 11.11).
    pub admin_tiers: bool,
    /// The network of the address the connection uses at `at` (rule 8.7); `None` is the
    /// cluster default network.
    pub network: Option<&'a str>,
}

/// What a direction, or a connection, may come to. Both are possible where admin policies of
/// one tier and priority disagree: the API lets an implementation apply any of them (rule
/// 11.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Outcome {
    /// Some choice allows.
    pub can_allow: bool,
    /// Some choice denies.
    pub can_deny: bool,
}

impl Outcome {
    /// Allowed, whatever the choice.
    pub const ALLOW: Outcome = Outcome {
        can_allow: true,
        can_deny: false,
    };
    /// Denied, whatever the choice.
    pub const DENY: Outcome = Outcome {
        can_allow: false,
        can_deny: true,
    };

    /// Allowed or denied by `allowed`.
    pub fn of(allowed: bool) -> Outcome {
        if allowed {
            Outcome::ALLOW
        } else {
            Outcome::DENY
        }
    }

    /// Allowed whatever the choice.
    pub fn allowed(self) -> bool {
        self.can_allow && !self.can_deny
    }

    /// Allowed by some choice and denied by another (rule 11.6).
    pub fn tied(self) -> bool {
        self.can_allow && self.can_deny
    }

    /// Either outcome of `self` or of `other`.
    pub fn or(self, other: Outcome) -> Outcome {
        Outcome {
            can_allow: self.can_allow || other.can_allow,
            can_deny: self.can_deny || other.can_deny,
        }
    }

    /// Both directions of a connection (rule 11.2): allowed only if both allow.
    pub fn and(self, other: Outcome) -> Outcome {
        Outcome {
            can_allow: self.can_allow && other.can_allow,
            can_deny: self.can_deny || other.can_deny,
        }
    }
}

/// The admin or baseline tier's result for one direction (rules 11.4, 11.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "decision")]
pub enum TierDecision {
    /// No rule of a policy selecting the pod matches: the next tier decides.
    NoMatch,
    /// The first matching rule of the first policy that matches, by priority.
    Decided {
        /// Its action.
        action: Action,
        /// The policy.
        policy: AdminPolicyId,
        /// The rule's index in its direction.
        rule: usize,
    },
    /// Policies of the same priority match with different actions: any may be applied.
    Tie {
        /// The actions an implementation may take.
        actions: Vec<Action>,
        /// The policies that match at that priority.
        policies: Vec<AdminPolicyId>,
    },
}

impl TierDecision {
    /// The actions the tier may take; `Pass` when nothing matches.
    pub fn actions(&self) -> Vec<Action> {
        match self {
            TierDecision::NoMatch => vec![Action::Pass],
            TierDecision::Decided { action, .. } => vec![*action],
            TierDecision::Tie { actions, .. } => actions.clone(),
        }
    }
}

/// Rules 11.3, 11.4: the outcome of the tier chain of one direction — the admin tier's
/// actions, the NetworkPolicy tier's verdict (`None` when it does not isolate the pod), the
/// baseline tier's actions; `Pass` goes on to the next tier, and after the baseline tier the
/// default allows.
pub fn chain(admin: &[Action], network_policy: Option<bool>, baseline: &[Action]) -> Outcome {
    let after_admin = || match network_policy {
        Some(allowed) => Outcome::of(allowed),
        None => baseline
            .iter()
            .map(|a| Outcome::of(*a != Action::Deny))
            .fold(None, |acc: Option<Outcome>, o| {
                Some(acc.map_or(o, |a| a.or(o)))
            })
            .unwrap_or(Outcome::ALLOW),
    };
    admin
        .iter()
        .map(|a| match a {
            Action::Accept => Outcome::ALLOW,
            Action::Deny => Outcome::DENY,
            Action::Pass => after_admin(),
        })
        .fold(None, |acc: Option<Outcome>, o| {
            Some(acc.map_or(o, |a| a.or(o)))
        })
        .unwrap_or_else(after_admin)
}

/// A decision core: answers [`Query`]s about a [`State`].
pub trait DecisionCore {
    /// The verdict of one direction, as detailed as the core keeps it.
    type Verdict: Clone + fmt::Debug + PartialEq;

    /// The verdict of the query's direction at its pod.
    fn direction(&self, state: &State, query: &Query<'_>) -> Self::Verdict;

    /// What a verdict comes to.
    fn outcome(verdict: &Self::Verdict) -> Outcome;

    /// The admin policies whose tie makes the verdict undetermined (rule 11.6).
    fn ties(verdict: &Self::Verdict) -> Vec<AdminPolicyId>;

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

/// One admin policy selecting the pod, with each rule's outcome in this direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminPolicyOutcome {
    /// The policy.
    pub policy: AdminPolicyId,
    /// Its priority.
    pub priority: u32,
    /// Its rules' outcomes, in order.
    pub rules: Vec<AdminRuleOutcome>,
    /// Its first matching rule and the action it takes.
    pub first: Option<(usize, Action)>,
}

/// One admin tier's evaluation for a direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierVerdict {
    /// Every policy of the tier selecting the pod, by priority then identity.
    pub policies: Vec<AdminPolicyOutcome>,
    /// What the tier decided.
    pub decision: TierDecision,
}

impl TierVerdict {
    fn none() -> Self {
        TierVerdict {
            policies: Vec::new(),
            decision: TierDecision::NoMatch,
        }
    }
}

/// The spec's verdict of one direction at one pod: each tier with every selecting policy and
/// every rule's outcome, and what they come to (the NetworkPolicy tier holds the policies of
/// the network the connection uses there, rule 8.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectionVerdict {
    /// The admin tier (rules 11.3, 11.4); empty when the admin tiers do not apply.
    pub admin: TierVerdict,
    /// The NetworkPolicy tier: every NetworkPolicy that selects the pod and has the direction
    /// among its effective `policyTypes`, in identity order (rules 5.1–5.3). Empty: the pod is
    /// not isolated.
    pub policies: Vec<PolicyOutcome>,
    /// Rule 7.7, `other-protocols: denied`: the protocol is denied in an isolated direction
    /// whatever the rules say.
    pub other_protocol_denied: bool,
    /// The exemption the NetworkPolicy tier honours (rules 7.1, 7.2, 7.5, 7.7).
    pub exemption: Option<Exemption>,
    /// The baseline tier (rule 11.3).
    pub baseline: TierVerdict,
    /// What the chain comes to (rule 11.3).
    pub outcome: Outcome,
}

impl DirectionVerdict {
    /// Rule 5.2: whether some NetworkPolicy isolates the pod in this direction.
    pub fn isolated(&self) -> bool {
        !self.policies.is_empty()
    }

    /// Rules 5.2, 5.4: the NetworkPolicy tier's own verdict, when it isolates the pod.
    pub fn network_policy_allows(&self) -> Option<bool> {
        self.isolated().then(|| {
            self.exemption.is_some()
                || (!self.other_protocol_denied && self.allowing().next().is_some())
        })
    }

    /// Allowed whatever the choice between tied admin policies (rule 11.6).
    pub fn allowed(&self) -> bool {
        self.outcome.allowed()
    }

    /// Every NetworkPolicy rule that matches, with its first matching peer (rule 5.4: a
    /// union).
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

    /// Rule 11.6: when the outcome is undetermined, the tied admin policies of the tiers the
    /// chain reaches; otherwise none.
    pub fn ties(&self) -> Vec<AdminPolicyId> {
        if !self.outcome.tied() {
            return Vec::new();
        }
        let baseline_reached = self.admin.decision.actions().contains(&Action::Pass)
            && self.network_policy_allows().is_none();
        [
            Some(&self.admin),
            baseline_reached.then_some(&self.baseline),
        ]
        .into_iter()
        .flatten()
        .flat_map(|t| match &t.decision {
            TierDecision::Tie { policies, .. } => policies.clone(),
            _ => Vec::new(),
        })
        .collect()
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
        let (admin, baseline) = if q.admin_tiers {
            let node_labels = q
                .peer
                .address()
                .and_then(|ip| state.node_at(ip))
                .and_then(|n| state.nodes().get(n));
            let view = PeerView {
                party: q.peer,
                namespace_labels: peer_namespace_labels.as_ref(),
                node_labels,
            };
            (
                admin_tier(state, q, Tier::Admin, &view),
                admin_tier(state, q, Tier::Baseline, &view),
            )
        } else {
            (TierVerdict::none(), TierVerdict::none())
        };
        let mut verdict = DirectionVerdict {
            admin,
            other_protocol_denied: !policies.is_empty()
                && !q.protocol.is_kubernetes()
                && profile.other_protocols == OtherProtocols::Denied,
            policies,
            exemption: q.exemption,
            baseline,
            outcome: Outcome::ALLOW,
        };
        verdict.outcome = chain(
            &verdict.admin.decision.actions(),
            verdict.network_policy_allows(),
            &verdict.baseline.decision.actions(),
        );
        verdict
    }

    fn outcome(verdict: &DirectionVerdict) -> Outcome {
        verdict.outcome
    }

    fn ties(verdict: &DirectionVerdict) -> Vec<AdminPolicyId> {
        verdict.ties()
    }
}

/// Rules 11.4, 11.6, 11.7: one admin tier for a direction — the tier's policies whose subject
/// holds the pod, by ascending priority; each policy's first matching rule; the first priority
/// at which some policy matches decides, and policies of that priority that disagree tie.
fn admin_tier(state: &State, q: &Query<'_>, tier: Tier, peer: &PeerView<'_>) -> TierVerdict {
    let profile = state.profile();
    let at_labels = state.namespace_labels(&q.at.id.namespace);
    let mut selecting: Vec<_> = state
        .admin_policies()
        .filter(|p| p.tier == tier && p.selects(q.at, &at_labels))
        .collect();
    selecting.sort_by_key(|p| (p.priority, p.id()));
    let policies: Vec<AdminPolicyOutcome> = selecting
        .iter()
        .map(|p| {
            let rules: Vec<AdminRuleOutcome> = p
                .rules(q.direction)
                .iter()
                .map(|r| r.outcome(peer, q.protocol, q.port, q.destination, profile))
                .collect();
            let first = rules
                .iter()
                .position(AdminRuleOutcome::matches)
                .map(|i| (i, p.rules(q.direction)[i].effective_action(&rules[i])));
            AdminPolicyOutcome {
                policy: p.id(),
                priority: p.priority,
                rules,
                first,
            }
        })
        .collect();
    let decision = policies
        .iter()
        .filter_map(|p| p.first.map(|f| (p, f)))
        .next()
        .map(|(top, _)| {
            let at_priority: Vec<(&AdminPolicyOutcome, (usize, Action))> = policies
                .iter()
                .filter(|p| p.priority == top.priority)
                .filter_map(|p| p.first.map(|f| (p, f)))
                .collect();
            let mut actions: Vec<Action> = at_priority.iter().map(|(_, (_, a))| *a).collect();
            actions.sort();
            actions.dedup();
            if actions.len() == 1 {
                let (p, (rule, action)) = at_priority[0];
                TierDecision::Decided {
                    action,
                    policy: p.policy.clone(),
                    rule,
                }
            } else {
                TierDecision::Tie {
                    actions,
                    policies: at_priority.iter().map(|(p, _)| p.policy.clone()).collect(),
                }
            }
        })
        .unwrap_or(TierDecision::NoMatch);
    TierVerdict { policies, decision }
}

/// The direction name used in explanations and the NetworkPolicy field it reads.
pub fn direction_name(direction: Direction) -> &'static str {
    match direction {
        PolicyType::Ingress => "ingress",
        PolicyType::Egress => "egress",
    }
}
