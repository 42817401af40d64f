//! The class-compressed connectivity matrix.
//!
//! Pods that no rule can tell apart (selected by the same policies and matched by the same
//! selector peers, same container ports, phase, host network and node, address families, and
//! the same ipBlock memberships) have identical rows
//! and columns, so the matrix is computed once per pair of classes, from port-set algebra over
//! the rules instead of one decision per port. The diagonal (a pod to itself) is computed per
//! pod, since it alone can be exempt (rule 7.1).

use crate::engine::Oracle;
use crate::index::{named_port_is, proto_slot, CompiledRule, On, PeerRef};
use netsem_spec::decision::resolve::{gate, Kind};
use netsem_spec::matrix::{contract_order, MatrixView};
use netsem_spec::net::Protocol;
use netsem_spec::policy::PolicyType;
use netsem_spec::profile::{IpBlockPods, NamedPortConflict, NodeTraffic};
use netsem_spec::{AllowedPorts, PodId, PortRanges};
use std::collections::HashMap;
use std::net::IpAddr;

/// The matrix, stored per class pair.
#[derive(Clone, Debug)]
pub struct CompressedMatrix {
    pods: Vec<PodId>,
    class_of: Vec<u32>,
    classes: usize,
    cells: Vec<AllowedPorts>,
    diagonal: Vec<AllowedPorts>,
}

impl CompressedMatrix {
    /// How many classes the pods fell into.
    pub fn classes(&self) -> usize {
        self.classes
    }
}

impl MatrixView for CompressedMatrix {
    fn pods(&self) -> &[PodId] {
        &self.pods
    }

    fn cell(&self, src: usize, dst: usize) -> &AllowedPorts {
        if src == dst {
            &self.diagonal[src]
        } else {
            let (a, b) = (self.class_of[src] as usize, self.class_of[dst] as usize);
            &self.cells[a * self.classes + b]
        }
    }
}

/// What a pod looks like to every rule.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Signature {
    /// Which policies select the pod, and which rules' selector peers match it: all that
    /// namespace and labels can mean to the rules in force.
    membership: Vec<bool>,
    ports: Vec<(Option<String>, u16, Protocol)>,
    live: bool,
    host_network: bool,
    node: Option<String>,
    /// Which address families the pod has a primary address in.
    families: (bool, bool),
    /// The networks of its primary addresses (rules 8.6, 8.7, 8.11).
    networks: Vec<Option<String>>,
    /// Which ipBlock-bearing rules contain its primary v4 / v6 address.
    blocks: Vec<bool>,
    /// The admin tiers: the policies holding it, the rules whose peers match it, which
    /// `networks` peers contain its addresses and the nodes owning them (rules 11.7, 11.8).
    admin: Vec<bool>,
    admin_nodes: (Option<String>, Option<String>),
}

struct Prepared {
    idx: u32,
}

impl Oracle {
    /// The connectivity matrix (rule 10.3), class-compressed.
    pub fn compressed_matrix(&self) -> CompressedMatrix {
        let ix = &self.core.index;
        let pods = contract_order(ix.pod_by_id.keys().cloned());
        let block_rules: Vec<&CompiledRule> = ix
            .policies
            .iter()
            .flatten()
            .flat_map(|p| p.ingress.iter().chain(p.egress.iter()))
            .filter(|r| !r.blocks.is_empty())
            .collect();
        let any_host_network = ix.pods.iter().flatten().any(|p| p.host_network);
        let node_matters =
            any_host_network || self.profile().node_traffic == NodeTraffic::PolicyChecked;
        let blocks_match_pods = self.profile().ip_block_pods == IpBlockPods::MatchPodAddresses;

        let mut prepared = Vec::with_capacity(pods.len());
        let mut class_of = Vec::with_capacity(pods.len());
        let mut by_sig: HashMap<Signature, u32> = HashMap::new();
        let mut reps: Vec<Vec<usize>> = Vec::new();
        for (i, id) in pods.iter().enumerate() {
            let idx = ix.pod_by_id[id];
            let slot = ix.slot(idx);
            let v4 = slot.primary.iter().map(|(ip, _)| *ip).find(IpAddr::is_ipv4);
            let v6 = slot.primary.iter().map(|(ip, _)| *ip).find(IpAddr::is_ipv6);
            let blocks = if blocks_match_pods || slot.host_network {
                block_rules
                    .iter()
                    .flat_map(|r| {
                        [
                            v4.is_some_and(|ip| r.block_contains(ip)),
                            v6.is_some_and(|ip| r.block_contains(ip)),
                        ]
                    })
                    .collect()
            } else {
                Vec::new()
            };
            // The networks of its primary addresses: which policies apply (rule 8.7) and which
            // routes exist (rules 8.6, 8.11) depend on them.
            let networks = slot.primary.iter().map(|(_, n)| n.clone()).collect();
            let membership = ix
                .policies
                .iter()
                .flatten()
                .flat_map(|p| {
                    std::iter::once(p.selected.contains(idx)).chain(
                        p.ingress
                            .iter()
                            .chain(p.egress.iter())
                            .map(|r| r.peer_pods.contains(idx)),
                    )
                })
                .collect();
            let mut admin = Vec::new();
            ix.admin.membership(idx, &mut admin);
            let admin_nodes = (
                ix.admin.address_membership(v4, &mut admin),
                ix.admin.address_membership(v6, &mut admin),
            );
            let sig = Signature {
                admin,
                admin_nodes,
                membership,
                ports: slot
                    .ports
                    .iter()
                    .map(|c| (c.name.clone(), c.port, c.protocol))
                    .collect(),
                live: slot.live,
                host_network: slot.host_network,
                node: if node_matters {
                    slot.node.clone()
                } else {
                    None
                },
                families: (v4.is_some(), v6.is_some()),
                networks,
                blocks,
            };
            let next = by_sig.len() as u32;
            let class = *by_sig.entry(sig).or_insert(next);
            if class as usize == reps.len() {
                reps.push(Vec::new());
            }
            if reps[class as usize].len() < 2 {
                reps[class as usize].push(i);
            }
            class_of.push(class);
            prepared.push(Prepared { idx });
        }

        let classes = reps.len();
        let mut cells = Vec::with_capacity(classes * classes);
        for a in 0..classes {
            for b in 0..classes {
                let s = reps[a][0];
                let d = if a == b {
                    reps[a].get(1).copied()
                } else {
                    Some(reps[b][0])
                };
                cells.push(match d {
                    Some(d) => self.pair_ports(&prepared[s], &prepared[d], false),
                    None => AllowedPorts::default(),
                });
            }
        }
        let diagonal = prepared
            .iter()
            .map(|p| self.pair_ports(p, p, true))
            .collect();
        CompressedMatrix {
            pods,
            class_of,
            classes,
            cells,
            diagonal,
        }
    }

    /// The allowed ports from one pod to another's primary address, by port-set algebra. The
    /// port-independent rules (refusals, exemptions) are the spec's own [`gate`].
    fn pair_ports(&self, s: &Prepared, d: &Prepared, same: bool) -> AllowedPorts {
        let ix = &self.core.index;
        let (ss, ds) = (ix.slot(s.idx), ix.slot(d.idx));
        let (dst_facts, dst_ip, dst_on) = self.pod_facts(ds, None);
        let (src_facts, src_ip, src_on) =
            self.pod_facts(ss, Some(dst_ip.is_none_or(|ip| ip.is_ipv4())));
        // Every protocol of the matrix carries ports, so the gate is the same for all three.
        let g = gate(
            self.profile(),
            &src_facts,
            &dst_facts,
            same,
            Protocol::Tcp,
            false,
        );
        if g.blocked.is_some() {
            return AllowedPorts::default();
        }
        let (src_pod, dst_pod) = (src_facts.kind == Kind::Pod, dst_facts.kind == Kind::Pod);
        // Rule 11.15: the admin tiers hold a direction only on a primary network.
        let tiered = g.admin_tiers
            && ((src_pod && src_on.1 && ix.admin.selects(s.idx))
                || (dst_pod && dst_on.1 && ix.admin.selects(d.idx)));
        if tiered {
            return self.tiered_ports(
                s,
                d,
                (src_pod, dst_pod),
                (src_ip, dst_ip),
                (src_on, dst_on),
                g.exemption.is_some(),
            );
        }
        if g.exemption.is_some() {
            return AllowedPorts::all();
        }
        let mut out = AllowedPorts::default();
        for protocol in Protocol::PORTED {
            let egress = if src_pod {
                let peer = if dst_pod {
                    PeerRef::Pod(d.idx, dst_ip)
                } else {
                    PeerRef::Address(dst_ip)
                };
                self.direction_ports(
                    s.idx,
                    PolicyType::Egress,
                    src_on,
                    peer,
                    dst_pod.then_some(d.idx),
                    protocol,
                )
            } else {
                PortRanges::all()
            };
            if egress.is_empty() {
                continue;
            }
            let ingress = if dst_pod {
                let peer = if src_pod {
                    PeerRef::Pod(s.idx, src_ip)
                } else {
                    PeerRef::Address(src_ip)
                };
                self.direction_ports(
                    d.idx,
                    PolicyType::Ingress,
                    dst_on,
                    peer,
                    Some(d.idx),
                    protocol,
                )
            } else {
                PortRanges::all()
            };
            *out.get_mut(protocol) = egress.intersection(&ingress);
        }
        out
    }

    /// Rules 11.3–11.9: where an admin policy holds one end, the ports by one decision of the
    /// tier chain per interval between the ports where any tier's verdict may change.
    fn tiered_ports(
        &self,
        s: &Prepared,
        d: &Prepared,
        (src_pod, dst_pod): (bool, bool),
        (src_ip, dst_ip): (Option<IpAddr>, Option<IpAddr>),
        (src_on, dst_on): (On<'_>, On<'_>),
        exempt: bool,
    ) -> AllowedPorts {
        let ix = &self.core.index;
        let ds = ix.slot(d.idx);
        let mut points: Vec<u32> = vec![1, 65536];
        let mut bounds = |idx: u32, direction: PolicyType| {
            let list = match direction {
                PolicyType::Ingress => &ix.ingress_of[idx as usize],
                PolicyType::Egress => &ix.egress_of[idx as usize],
            };
            for p in list
                .iter()
                .filter_map(|&pi| ix.policies[pi as usize].as_ref())
            {
                for r in p.rules(direction) {
                    for (a, b) in r.ports.ranges.iter().flatten() {
                        points.push(u32::from(*a));
                        points.push(u32::from(*b) + 1);
                    }
                }
            }
            ix.admin.port_bounds(idx, direction, &mut points);
        };
        if src_pod {
            bounds(s.idx, PolicyType::Egress);
        }
        if dst_pod {
            bounds(d.idx, PolicyType::Ingress);
        }
        for c in &ds.ports {
            points.push(u32::from(c.port));
            points.push(u32::from(c.port) + 1);
        }
        points.sort_unstable();
        points.dedup();
        let dest = dst_pod.then_some(ds);
        let egress_peer = if dst_pod {
            PeerRef::Pod(d.idx, dst_ip)
        } else {
            PeerRef::Address(dst_ip)
        };
        let ingress_peer = if src_pod {
            PeerRef::Pod(s.idx, src_ip)
        } else {
            PeerRef::Address(src_ip)
        };
        let mut out = AllowedPorts::default();
        for protocol in Protocol::PORTED {
            let mut ranges = Vec::new();
            for w in points.windows(2) {
                let (start, end) = (w[0] as u16, (w[1] - 1) as u16);
                let allows = |at: u32, direction, on: On<'_>, peer| {
                    ix.verdict(at, direction, on, peer, dest, protocol, start, exempt, on.1)
                        .outcome
                        .allowed()
                };
                if (!src_pod || allows(s.idx, PolicyType::Egress, src_on, egress_peer))
                    && (!dst_pod || allows(d.idx, PolicyType::Ingress, dst_on, ingress_peer))
                {
                    ranges.push((start, end));
                }
            }
            *out.get_mut(protocol) = PortRanges::from_ranges(ranges);
        }
        out
    }

    /// The ports one direction at pod `idx` allows for `peer`, named ports resolved on `dest`.
    fn direction_ports(
        &self,
        idx: u32,
        direction: PolicyType,
        on: On<'_>,
        peer: PeerRef,
        dest: Option<u32>,
        protocol: Protocol,
    ) -> PortRanges {
        let ix = &self.core.index;
        let mut list = ix.isolating(idx, direction, on).peekable();
        if list.peek().is_none() {
            return PortRanges::all();
        }
        let slot = proto_slot(protocol).expect("ported protocol");
        let dest = dest.map(|d| ix.slot(d));
        let mut ranges: Vec<(u16, u16)> = Vec::new();
        for p in list {
            for r in p.rules(direction) {
                if !ix.peer_matches(r, peer) {
                    continue;
                }
                if r.ports.any {
                    return PortRanges::all();
                }
                ranges.extend_from_slice(&r.ports.ranges[slot]);
                if let Some(d) = dest {
                    for (proto, name) in &r.ports.named {
                        if *proto != protocol {
                            continue;
                        }
                        let first_only =
                            self.profile().named_port_conflict == NamedPortConflict::FirstOnly;
                        for c in d
                            .ports
                            .iter()
                            .filter(|c| c.protocol == protocol && c.name.as_deref() == Some(name))
                        {
                            if named_port_is(d, name, protocol, c.port, self.profile()) {
                                ranges.push((c.port, c.port));
                            }
                            if first_only {
                                break;
                            }
                        }
                    }
                }
            }
        }
        PortRanges::from_ranges(ranges)
    }
}
