//! The oracle engine: the spec's object store and the spec's connection primitives (one home
//! for the vocabulary, the resolution of ends, refusals, exemptions and Services), with the one
//! deliberate twin — the decision core — computed from the indexes instead.

use crate::index::{Index, On, PeerRef, PodSlot, Verdict};
use netsem_spec::admin::AdminPolicyId;
use netsem_spec::decision::resolve::{gate, Facts, Kind};
use netsem_spec::decision::{DecisionCore, Outcome, Party, Query};
use netsem_spec::decision::{Source, Target};
use netsem_spec::engine::{self, Engine};
use netsem_spec::manifest::LoadError;
use netsem_spec::net::Protocol;
use netsem_spec::policy::PolicyType;
use netsem_spec::profile::Profile;
use netsem_spec::trace::Touched;
use netsem_spec::{Observation, Op, OpError, PodId, State};

/// The decision core of the oracle: policy selection and rule matching from the indexes.
#[derive(Clone, Debug)]
pub struct IndexCore {
    pub(crate) index: Index,
}

impl DecisionCore for IndexCore {
    type Verdict = Verdict;

    fn direction(&self, _state: &State, q: &Query<'_>) -> Verdict {
        let ix = &self.index;
        let idx = ix.pod_by_id[&q.at.id];
        let peer = match q.peer {
            Party::Pod { pod, address } => PeerRef::Pod(ix.pod_by_id[&pod.id], address),
            Party::Address(address) => PeerRef::Address(address),
        };
        let dest = q.destination.map(|d| ix.slot(ix.pod_by_id[&d.id]));
        // Rule 8.7: the network the connection uses at the policed pod; the admin tiers only
        // on a primary network (rule 11.15).
        let network = q.network.unwrap_or(netsem_spec::net::DEFAULT_NETWORK);
        let on = (network, _state.is_primary_network(network));
        ix.verdict(
            idx,
            q.direction,
            on,
            peer,
            dest,
            q.protocol,
            q.port,
            q.exemption.is_some(),
            q.admin_tiers,
        )
    }

    fn outcome(verdict: &Verdict) -> Outcome {
        verdict.outcome
    }

    fn ties(verdict: &Verdict) -> Vec<AdminPolicyId> {
        verdict.ties.clone()
    }

    fn sync(&mut self, state: &State, op: &Op) {
        let ix = &mut self.index;
        match op.touches() {
            Touched::Pod(pod) => ix.sync_pod(state, pod),
            Touched::Namespace(name) => ix.sync_namespace(state, name),
            Touched::Policy(policy) => ix.sync_policy(state, policy),
            Touched::AdminPolicies => ix.sync_admin_policies(state),
            Touched::MultiNetworkPolicy(policy) => ix.sync_multi_policy(state, policy),
            Touched::NothingIndexed => {}
            Touched::Anything => *ix = Index::build(state, *state.profile()),
        }
    }
}

/// The fast engine.
#[derive(Clone, Debug)]
pub struct Oracle {
    state: State,
    pub(crate) core: IndexCore,
}

/// An interned pod (see [`Oracle::pod_ref`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PodRef(u32);

impl Oracle {
    /// An empty cluster.
    pub fn new(profile: Profile) -> Self {
        Self::from_state(State::new(profile))
    }

    /// An oracle over an existing state (e.g. loaded from manifests), under its profile.
    pub fn from_state(state: State) -> Self {
        let index = Index::build(&state, *state.profile());
        Oracle {
            state,
            core: IndexCore { index },
        }
    }

    /// An oracle over the cluster of a manifest text (YAML, several documents, or JSON; rules
    /// 9.1–9.7), under `profile`: what an implementation's tests start from.
    pub fn from_manifests(text: &str, profile: Profile) -> Result<Self, LoadError> {
        let manifest = netsem_spec::manifest::parse_str("<manifests>", text)?;
        let mut state = State::new(profile);
        manifest.apply(&mut state)?;
        Ok(Self::from_state(state))
    }

    /// Whether a new connection from `source` to `target` on `(protocol, port)` is allowed:
    /// `Some(verdict)`, or `None` when it goes through a Service whose possible backends are
    /// decided differently (rule 6.1). The spec's own primitive
    /// (`netsem_spec::decision::connect::attempt`) over the oracle's core; nothing changes.
    pub fn allows(
        &self,
        source: &Source,
        target: &Target,
        protocol: Protocol,
        port: u16,
    ) -> Result<Option<bool>, OpError> {
        netsem_spec::decision::connect::attempt(
            &self.state,
            &self.core,
            source,
            target,
            protocol,
            port,
            None,
        )
        .map(|o| o.allowed)
    }

    /// [`Oracle::allows`] between two pods named by identity.
    pub fn allows_pods(
        &self,
        from: &PodId,
        to: &PodId,
        protocol: Protocol,
        port: u16,
    ) -> Result<bool, OpError> {
        self.allows(
            &Source::Pod(from.clone()),
            &Target::Pod(to.clone()),
            protocol,
            port,
        )
        .map(|v| v.expect("a connection between two pods is always decided"))
    }

    /// The store.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The decision core over the oracle's indexes, for the spec's connection primitives:
    /// `netsem_spec::decision::connect::attempt(oracle.state(), oracle.core(), …)` decides a
    /// connection as the engine would, without changing anything.
    pub fn core(&self) -> &IndexCore {
        &self.core
    }

    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        self.state.profile()
    }

    /// An interned pod, for [`Oracle::decide_pods`].
    pub fn pod_ref(&self, pod: &PodId) -> Option<PodRef> {
        self.core.index.pod_by_id.get(pod).map(|&i| PodRef(i))
    }

    /// The pre-policy facts of a pod reached on (or connecting from) its primary address of
    /// `family` (rule 3.4), with that address and the network it is decided on (rule 8.7).
    pub(crate) fn pod_facts<'a>(
        &'a self,
        slot: &'a PodSlot,
        family_v4: Option<bool>,
    ) -> (Facts<'a>, Option<std::net::IpAddr>, On<'a>) {
        let primary = family_v4
            .and_then(|v4| slot.primary.iter().find(|p| p.ip.is_ipv4() == v4))
            .or(slot.primary.first());
        let (ip, network) = primary.map_or((None, None), |p| (Some(p.ip), p.network.as_deref()));
        let facts = Facts {
            kind: if self.profile().policed(slot.host_network) {
                Kind::Pod
            } else {
                Kind::Node
            },
            node: slot.node.as_deref(),
            live: slot.live,
            network,
            isolated: primary.is_some_and(|p| p.isolated),
        };
        let name = network.unwrap_or(netsem_spec::net::DEFAULT_NETWORK);
        let on_primary = primary.map_or(slot.default_primary, |p| p.on_primary);
        (facts, ip, (name, on_primary))
    }

    /// The decision between two pods' primary addresses (as `openPodConnection` makes it),
    /// without any lookup by name: the fast path for matrices and benchmarks. The pre-policy
    /// rules are the spec's own [`gate`].
    pub fn decide_pods(
        &self,
        source: PodRef,
        destination: PodRef,
        protocol: Protocol,
        port: u16,
    ) -> bool {
        let ix = &self.core.index;
        let (s, d) = (ix.slot(source.0), ix.slot(destination.0));
        let (dst_facts, dst_ip, dst_on) = self.pod_facts(d, None);
        let (src_facts, src_ip, src_on) =
            self.pod_facts(s, Some(dst_ip.is_none_or(|ip| ip.is_ipv4())));
        let g = gate(
            self.profile(),
            &src_facts,
            &dst_facts,
            source == destination,
            protocol,
            false,
        );
        if g.blocked.is_some() {
            return false;
        }
        let admin = g.admin_tiers && !ix.admin.is_empty() && (src_on.1 || dst_on.1);
        if g.exemption.is_some() && !admin {
            return true;
        }
        let (src_pod, dst_pod) = (src_facts.kind == Kind::Pod, dst_facts.kind == Kind::Pod);
        let peer = |policed: bool, idx: u32, ip| {
            if policed {
                PeerRef::Pod(idx, ip)
            } else {
                PeerRef::Address(ip)
            }
        };
        let dest = dst_pod.then_some(d);
        // Rules 8.7, 11.15: each direction on the network of its pod's address; the admin
        // tiers only on a primary network.
        let direction = |policed: bool, at: u32, d, on: On<'_>, other: PeerRef| {
            !policed
                || ix
                    .verdict(
                        at,
                        d,
                        on,
                        other,
                        dest,
                        protocol,
                        port,
                        g.exemption.is_some(),
                        g.admin_tiers && on.1,
                    )
                    .outcome
                    .allowed()
        };
        direction(
            src_pod,
            source.0,
            PolicyType::Egress,
            src_on,
            peer(dst_pod, destination.0, dst_ip),
        ) && direction(
            dst_pod,
            destination.0,
            PolicyType::Ingress,
            dst_on,
            peer(src_pod, source.0, src_ip),
        )
    }
}

impl Engine for Oracle {
    fn name(&self) -> &str {
        "oracle"
    }

    fn execute(&mut self, op: &Op) -> Observation {
        engine::execute(&mut self.state, &mut self.core, op)
    }
}
