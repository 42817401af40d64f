//! Engines: anything that executes trace operations and reports observations — the spec, the
//! oracle, the model. [`execute`] is the one mapping from operations to primitives; an engine
//! is a [`State`] plus a [`DecisionCore`].

use crate::decision::connect::{self, Directional};
use crate::decision::entry::{self, EntryAttempt, EntryConnections};
use crate::decision::{DecisionCore, Opened, SpecCore};
use crate::entry::EntryPoint;
use crate::error::{ErrorKind, OpError};
use crate::manifest::{self, LoadError, Manifest};
use crate::pod::Attachment;
use crate::policy::PolicyType;
use crate::profile::{Established, Profile};
use crate::state::{Effects, State};
use crate::trace::{Leg, LegKind};
use crate::trace::{Observation, Op};
use std::collections::BTreeSet;

/// Anything that executes operations and reports observations: `spec`, the oracle, the model.
pub trait Engine {
    /// The engine's name, for reports.
    fn name(&self) -> &str;

    /// Executes one operation.
    fn execute(&mut self, op: &Op) -> Observation;

    /// Why the engine does not model `op` in its current state, if it does not. Asked before
    /// [`Engine::execute`]; the engine still executes the operation to stay in step, but its
    /// observation is not judged (the replay counts the skip with its reason).
    fn skip_reason(&self, op: &Op) -> Option<&'static str> {
        let _ = op;
        None
    }

    /// A fault the engine found in itself while executing the last operation (for the model:
    /// a property of its pipeline that failed).
    fn fault(&mut self) -> Option<String> {
        None
    }
}

/// The reference engine: a [`State`] decided by the reference core [`SpecCore`].
#[derive(Clone, Debug, Default)]
pub struct SpecEngine {
    /// The cluster state.
    pub state: State,
}

impl SpecEngine {
    /// An empty cluster under `profile`.
    pub fn new(profile: Profile) -> Self {
        SpecEngine {
            state: State::new(profile),
        }
    }
}

impl Engine for SpecEngine {
    fn name(&self) -> &str {
        "spec"
    }

    fn execute(&mut self, op: &Op) -> Observation {
        execute(&mut self.state, &mut SpecCore, op)
    }
}

fn effects(r: Result<Effects, OpError>) -> Observation {
    match r {
        Ok(e) => Observation {
            closed: (!e.closed.is_empty()).then_some(e.closed),
            ..Observation::default()
        },
        Err(e) => Observation::failed(&e),
    }
}

fn verdict<V>(r: Result<Directional<V>, OpError>) -> Observation {
    match r {
        Ok(v) => Observation {
            allowed: (!v.outcome.tied()).then_some(v.allowed),
            ties: ties(&v.ties),
            ..Observation::default()
        },
        Err(e) => Observation::failed(&e),
    }
}

/// Rule 11.6: the tied admin policies an observation names, if any.
fn ties(ids: &[crate::admin::AdminPolicyId]) -> Option<BTreeSet<String>> {
    (!ids.is_empty()).then(|| ids.iter().map(ToString::to_string).collect())
}

/// Rule 6.1: what an `open*Connection` reports, including every possible backend.
pub fn opened<V>(r: Result<Opened<V>, OpError>) -> Observation {
    match r {
        Ok(o) => Observation {
            allowed: o.allowed,
            ties: o.decision.as_ref().and_then(|d| ties(&d.ties)).or_else(|| {
                let all: Vec<_> = o
                    .backends
                    .iter()
                    .flat_map(|b| b.values())
                    .flat_map(|d| d.ties.iter().cloned())
                    .collect();
                ties(&all)
            }),
            refused: o
                .refusal
                .as_ref()
                .filter(|r| **r != crate::decision::Refusal::BackendNotChosen)
                .map(|r| r.name().to_string()),
            connection: o.connection,
            backend: o.backend,
            backends: o.backends.as_ref().map(|b| b.keys().cloned().collect()),
            allowed_backends: o.backends.as_ref().map(|b| {
                b.iter()
                    .filter(|(_, d)| d.allowed)
                    .map(|(p, _)| p.clone())
                    .collect()
            }),
            ..Observation::default()
        },
        Err(e) => Observation::failed(&e),
    }
}

/// Rule 6.26: what an `openEntryPointConnection` reports: the route, the verdict, the
/// backends, and each leg of a definite connection with the source its policy saw.
pub fn entry_observation<V>(a: &EntryAttempt<V>, opened: EntryConnections) -> Observation {
    let chosen = a.chosen.as_ref().map(|(c, b)| (&a.paths[*c], b));
    let legs = chosen.map(|(p, b)| {
        let d = &p.backends[b];
        let client = match &p.client {
            Some(c) => Leg {
                leg: LegKind::Client,
                from: c.source.clone(),
                to: c.destination.clone(),
                port: c.port,
                allowed: c.verdict(),
                connection: opened.0,
            },
            // A controller outside the pods: nothing polices the client's leg.
            None => Leg {
                leg: LegKind::Client,
                from: a.client.0.clone(),
                to: p.controller.clone(),
                port: a.client.1,
                allowed: Some(true),
                connection: None,
            },
        };
        vec![
            client,
            Leg {
                leg: LegKind::Backend,
                from: d.source.clone(),
                to: d.destination.clone(),
                port: d.port,
                allowed: d.verdict(),
                connection: opened.1,
            },
        ]
    });
    let tied: Vec<crate::admin::AdminPolicyId> = match chosen {
        Some((p, b)) => p
            .client
            .iter()
            .chain(p.backends.get(b))
            .flat_map(|d| d.ties.iter().cloned())
            .collect(),
        None => Vec::new(),
    };
    Observation {
        allowed: a.allowed(),
        ties: ties(&tied),
        refused: a.refusal.as_ref().map(|r| r.name().to_string()),
        route: a.route.as_ref().map(|r| r.route.clone()),
        backend: a.chosen.as_ref().map(|(_, b)| b.clone()),
        backends: Some(a.backends()),
        allowed_backends: Some(a.allowed_backends()),
        legs,
        ..Observation::default()
    }
}

fn lookup<T, U: Ord>(
    r: Result<T, OpError>,
    into: impl FnOnce(T) -> BTreeSet<U>,
    place: impl FnOnce(&mut Observation, BTreeSet<U>),
) -> Observation {
    match r {
        Ok(v) => {
            let mut o = Observation::default();
            place(&mut o, into(v));
            o
        }
        Err(e) => Observation::failed(&e),
    }
}

/// Rule 9.1: an `apply`/`delete` step: a manifest that does not load is `invalid-manifest`; an
/// object the state refuses is the state's error kind; either way nothing changes.
fn manifest_op(
    state: &mut State,
    text: &str,
    file: Option<&str>,
    run: impl FnOnce(&Manifest, &mut State) -> Result<Effects, LoadError>,
) -> Observation {
    if text.is_empty() && file.is_some() {
        // The file was never read (the trace was parsed, not loaded): nothing to apply.
        return Observation::error(ErrorKind::InvalidManifest);
    }
    let loaded = manifest::parse_str(file.unwrap_or("<inline manifest>"), text);
    match loaded.and_then(|m| run(&m, state)) {
        Ok(e) => effects(Ok(e)),
        Err(e) => Observation {
            message: Some(e.to_string()),
            ..Observation::error(e.kind)
        },
    }
}

/// Executes one operation on `state`, deciding with `core` (rule 10.1): the lifecycle and
/// mapping primitives change the state; the decision and connection primitives go through
/// [`crate::decision::connect`]. After every successful change, the core syncs its indexes and,
/// under `established: recheck`, every open connection is decided again (rule 7.4).
pub fn execute<C: DecisionCore>(state: &mut State, core: &mut C, op: &Op) -> Observation {
    let mut observed = dispatch(state, core, op);
    if observed.error.is_none() && op.changes_cluster() {
        core.sync(state, op);
        if state.profile().established == Established::Recheck {
            let cut = connect::recheck(state, core);
            observed.add_closed(cut);
        }
    }
    observed
}

fn dispatch<C: DecisionCore>(s: &mut State, core: &C, op: &Op) -> Observation {
    {
        match op {
            Op::AddNamespace { name, labels } => effects(s.add_namespace(name, labels.clone())),
            Op::SetNamespaceLabels { name, labels } => {
                effects(s.set_namespace_labels(name, labels.clone()))
            }
            Op::RemoveNamespace { name } => effects(s.remove_namespace(name)),
            Op::AddNode {
                name,
                labels,
                addresses,
            } => effects(s.add_node(name, labels.clone(), addresses.clone())),
            Op::RemoveNode { name } => effects(s.remove_node(name)),
            Op::AddExternalEntity { name, addresses } => {
                effects(s.add_external_entity(name, addresses.clone()))
            }
            Op::AddIpAddressDomain { name } => effects(s.add_ip_address_domain(name)),
            Op::RemoveIpAddressDomain { name } => effects(s.remove_ip_address_domain(name)),
            Op::AddServiceCidr { name, cidrs } => effects(s.add_service_cidr(name, cidrs.clone())),
            Op::RemoveServiceCidr { name } => effects(s.remove_service_cidr(name)),
            Op::AdvanceClock { seconds } => effects(s.advance_clock(*seconds)),
            Op::AddNetwork { name, domain, role } => {
                effects(s.add_network_with_role(name, domain, *role))
            }
            Op::RemoveNetwork { name } => effects(s.remove_network(name)),
            Op::AddPod {
                pod,
                addresses,
                attachments,
            } => {
                let mut all = Vec::new();
                if !addresses.is_empty() {
                    all.push(Attachment::primary(addresses.clone()));
                }
                all.extend(attachments.iter().cloned());
                effects(s.add_pod(pod.clone(), all))
            }
            Op::RemovePod { pod } => effects(s.remove_pod(pod)),
            Op::SetPodLabels { pod, labels } => effects(s.set_pod_labels(pod, labels.clone())),
            Op::AddService {
                service,
                addresses,
                external_addresses,
            } => effects(s.add_service(
                service.clone(),
                addresses.clone(),
                external_addresses.clone(),
            )),
            Op::RemoveService { service } => effects(s.remove_service(service)),
            Op::AddPod2ServiceMapping {
                pod,
                service,
                endpoint,
            } => effects(s.add_pod_2_service_mapping_with(pod, service, endpoint.clone())),
            Op::RemovePod2ServiceMapping { pod, service } => {
                effects(s.remove_pod_2_service_mapping(pod, service))
            }
            Op::RemovePod2ServiceMappings { pod } => effects(s.remove_pod_2_service_mappings(pod)),
            Op::RemoveService2PodMappings { service } => {
                effects(s.remove_service_2_pod_mappings(service))
            }
            Op::LookupPod2ServiceMappings { pod } => lookup(
                s.lookup_pod_2_service_mappings(pod),
                |v| v,
                |o, v| o.services = Some(v),
            ),
            Op::LookupService2PodMappings { service } => lookup(
                s.lookup_service_2_pod_mappings(service),
                |v| v,
                |o, v| o.pods = Some(v),
            ),
            Op::AddAddress2PodMapping {
                address,
                pod,
                interface,
                network,
            } => effects(s.add_address_2_pod_mapping(
                address.clone(),
                pod,
                interface.as_deref(),
                network.as_deref(),
            )),
            Op::RemoveAddress2PodMapping { address, pod } => {
                effects(s.remove_address_2_pod_mapping(address, pod))
            }
            Op::RemovePod2AddressMappings { pod } => effects(s.remove_pod_2_address_mappings(pod)),
            Op::LookupPod2AddressMappings { pod } => lookup(
                s.lookup_pod_2_address_mappings(pod),
                |v| v.into_iter().collect(),
                |o, v| o.addresses = Some(v),
            ),
            Op::LookupAddress2PodMapping { address } => Observation {
                pods: Some(
                    s.lookup_address_2_pod_mapping(address)
                        .cloned()
                        .into_iter()
                        .collect(),
                ),
                ..Observation::default()
            },
            Op::AddAddress2ServiceMapping {
                address,
                service,
                external,
            } => effects(s.add_address_2_service_mapping(address.clone(), service, *external)),
            Op::RemoveAddress2ServiceMapping { address, service } => {
                effects(s.remove_address_2_service_mapping(address, service))
            }
            Op::RemoveService2AddressMappings { service } => {
                effects(s.remove_service_2_address_mappings(service))
            }
            Op::LookupService2AddressMappings { service } => lookup(
                s.lookup_service_2_address_mappings(service),
                |v| v.into_iter().collect(),
                |o, v| o.addresses = Some(v),
            ),
            Op::LookupAddress2ServiceMapping { address } => Observation {
                services: Some(
                    s.lookup_address_2_service_mapping(address)
                        .cloned()
                        .into_iter()
                        .collect(),
                ),
                ..Observation::default()
            },
            Op::AddNetworkPolicy { policy } => effects(s.add_network_policy(policy.clone())),
            Op::UpdateNetworkPolicy { policy } => effects(s.update_network_policy(policy.clone())),
            Op::RemoveNetworkPolicy { policy } => effects(s.remove_network_policy(policy)),
            Op::AddClusterNetworkPolicy { policy } => {
                effects(s.add_cluster_network_policy(policy.clone()))
            }
            Op::UpdateClusterNetworkPolicy { policy } => {
                effects(s.update_cluster_network_policy(policy.clone()))
            }
            Op::RemoveClusterNetworkPolicy { policy } => {
                effects(s.remove_cluster_network_policy(policy))
            }
            Op::AddMultiNetworkPolicy { policy } => {
                effects(s.add_multi_network_policy(policy.clone()))
            }
            Op::UpdateMultiNetworkPolicy { policy } => {
                effects(s.update_multi_network_policy(policy.clone()))
            }
            Op::RemoveMultiNetworkPolicy { policy } => {
                effects(s.remove_multi_network_policy(policy))
            }
            Op::AllowNewConnectionToPod { .. } | Op::AllowNewConnectionToIpAddress { .. } => {
                let request = op.request().expect("a filter names a connection");
                verdict(connect::allow(s, core, &request, PolicyType::Egress).expect("pod ends"))
            }
            Op::AllowNewConnectionFromPod { .. } | Op::AllowNewConnectionFromIpAddress { .. } => {
                let request = op.request().expect("a filter names a connection");
                verdict(connect::allow(s, core, &request, PolicyType::Ingress).expect("pod ends"))
            }
            Op::OpenPodConnection { .. }
            | Op::OpenServiceConnection { .. }
            | Op::OpenConnectionWithIpAddresses { .. } => {
                let request = op.request().expect("a connection operation asks for one");
                opened(connect::open(s, core, &request))
            }
            Op::AddIngress { ingress } => {
                effects(s.add_entry_point(EntryPoint::Ingress(ingress.clone())))
            }
            Op::RemoveIngress { ingress } => effects(s.remove_ingress(ingress)),
            Op::AddGateway { gateway } => {
                effects(s.add_entry_point(EntryPoint::Gateway(gateway.clone())))
            }
            Op::RemoveGateway { gateway } => effects(s.remove_gateway(gateway)),
            Op::AddRoute { route } => effects(s.add_route(route.clone())),
            Op::RemoveRoute { route } => effects(s.remove_route(route)),
            Op::AddReferenceGrant { grant } => effects(s.add_reference_grant(grant.clone())),
            Op::RemoveReferenceGrant { grant } => effects(s.remove_reference_grant(grant)),
            Op::OpenEntryPointConnection { .. } => {
                let request = op.entry_request().expect("an entry connection");
                match entry::attempt_entry(s, core, &request) {
                    Ok(a) => {
                        let opened = entry::commit_entry(s, &a);
                        entry_observation(&a, opened)
                    }
                    Err(e) => Observation::failed(&e),
                }
            }
            Op::ClosePodConnection { connection } => effects(s.close_pod_connection(*connection)),
            Op::Apply { manifest, file } => {
                manifest_op(s, manifest, file.as_deref(), |m, s| m.apply(s))
            }
            Op::Delete { manifest, file } => {
                manifest_op(s, manifest, file.as_deref(), |m, s| m.delete(s))
            }
        }
    }
}
