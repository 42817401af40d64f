//! The class-compressed connectivity matrix.
//!
//! Pods that no rule can tell apart (selected by the same policies and matched by the same
//! selector peers, same container ports, phase, host network and node, address families, and
//! the same ipBlock memberships) have identical rows
//! and columns, so the matrix is computed once per pair of classes, from port-set algebra over
//! the rules instead of one decision per port. The diagonal (a pod to itself) is computed per
//! pod, since it alone can be exempt (rule 7.1).

use crate::bitset::BitSet;
use crate::engine::Oracle;
use crate::index::{named_port_is, proto_slot, CompiledRule, On, PeerRef};
use netsem_spec::decision::resolve::{gate, Kind};
use netsem_spec::matrix::{contract_order, MatrixView};
use netsem_spec::net::Protocol;
use netsem_spec::policy::PolicyType;
use netsem_spec::profile::{IpBlockPods, NamedPortConflict, NodeTraffic};
use netsem_spec::{AllowedPorts, PodId, PortRanges};
// Cells and port sets are interned once per class pair: a hash of a few words (rustc's own)
// instead of SipHash.
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The matrix, stored per class pair, each distinct cell once.
#[derive(Clone, Debug)]
pub struct CompressedMatrix {
    pods: Vec<PodId>,
    class_of: Vec<u32>,
    classes: usize,
    /// The distinct cells; the tables below index it.
    distinct: Vec<AllowedPorts>,
    /// `cells[a * classes + b]`: from class `a` to class `b`, for two distinct pods.
    cells: Vec<u32>,
    /// Each pod to itself.
    diagonal: Vec<u32>,
}

impl CompressedMatrix {
    /// How many classes the pods fell into.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// How many distinct cells the matrix holds.
    pub fn distinct_cells(&self) -> usize {
        self.distinct.len()
    }
}

impl MatrixView for CompressedMatrix {
    fn pods(&self) -> &[PodId] {
        &self.pods
    }

    fn cell(&self, src: usize, dst: usize) -> &AllowedPorts {
        let at = if src == dst {
            self.diagonal[src]
        } else {
            let (a, b) = (self.class_of[src] as usize, self.class_of[dst] as usize);
            self.cells[a * self.classes + b]
        };
        &self.distinct[at as usize]
    }

    fn class_of(&self) -> Option<&[u32]> {
        Some(&self.class_of)
    }
}

/// What a pod looks like to every rule, apart from which policies select it and which selector
/// peers match it (those split the classes afterwards, one pod set at a time).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Signature {
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
    /// The admin tiers' `networks` peers containing its addresses and the nodes owning them
    /// (rules 11.7, 11.8).
    admin: Vec<bool>,
    admin_nodes: (Option<String>, Option<String>),
}

struct Prepared {
    idx: u32,
    /// Its class (numbered in contract order of first pods), once known.
    class: u32,
}

/// What one direction's ports depend on besides the other end's class: the policed pod's
/// isolating policies, the network it is decided on, and (for ingress, where named ports
/// resolve on the policed pod itself) its container ports.
#[derive(Clone, PartialEq, Eq, Hash)]
struct DirectionKey {
    policies: Vec<u32>,
    network: String,
    primary: bool,
    ports: Vec<(Option<String>, u16, Protocol)>,
}

/// Each class's direction keys, interned: every pod of a class has the same keys, and many
/// classes share one (at 100,000 pods: 7,133 classes, 387 ingress keys, 129 egress keys).
struct Keys {
    /// `egress[class][v6]`: the key of the class's egress towards a destination whose address
    /// is IPv4 (`[0]`) or IPv6 (`[1]`), whose family picks the source address and so its
    /// network.
    egress: Vec<[u32; 2]>,
    /// `ingress[class]`.
    ingress: Vec<u32>,
    egress_keys: usize,
    ingress_keys: usize,
}

/// A worker's memo of one direction's ports (interned triples) per (key, other end's class,
/// family of the address used), computed on first use: the rule walk is made once per key
/// and class instead of once per class pair.
struct Memo {
    classes: usize,
    egress: Vec<u32>,
    ingress: Vec<u32>,
    triples: Vec<[PortRanges; 3]>,
    ids: HashMap<[PortRanges; 3], u32>,
}

const UNKNOWN: u32 = u32::MAX;

impl Memo {
    fn new(keys: &Keys, classes: usize) -> Self {
        Memo {
            classes,
            egress: vec![UNKNOWN; keys.egress_keys * classes],
            ingress: vec![UNKNOWN; keys.ingress_keys * classes * 2],
            triples: Vec::new(),
            ids: HashMap::default(),
        }
    }

    fn intern(&mut self, t: [PortRanges; 3]) -> u32 {
        if let Some(&id) = self.ids.get(&t) {
            return id;
        }
        let id = self.triples.len() as u32;
        self.triples.push(t.clone());
        self.ids.insert(t, id);
        id
    }
}

/// Splits every class of `class` (indexed by pod slot) into its pods in `set` and the rest:
/// afterwards two pods share a class only if they did before and `set` holds both or neither.
/// It costs the set's size, not the number of pods (partition refinement).
fn refine(class: &mut [u32], size: &mut Vec<u32>, set: &BitSet, hits: &mut Vec<u32>) {
    let mut touched: Vec<u32> = Vec::new();
    let members = || {
        set.iter()
            .filter(|&i| class.get(i as usize).is_some_and(|&c| c != NONE))
    };
    for i in members() {
        let c = class[i as usize] as usize;
        if hits[c] == 0 {
            touched.push(c as u32);
        }
        hits[c] += 1;
    }
    // `hits[c]` becomes the class the members of `c` move to.
    for &c in &touched {
        let c = c as usize;
        if hits[c] == size[c] {
            hits[c] = c as u32;
        } else {
            size[c] -= hits[c];
            size.push(hits[c]);
            hits.push(0);
            hits[c] = (size.len() - 1) as u32;
        }
    }
    let moved: Vec<u32> = members().collect();
    for i in moved {
        let c = class[i as usize] as usize;
        class[i as usize] = hits[c];
    }
    for &c in &touched {
        hits[c as usize] = 0;
    }
}

/// The class of a slot that holds no pod.
const NONE: u32 = u32::MAX;

/// The cells of the class pairs, rows `0..classes` spread over every core; each worker keeps
/// the distinct cells it computed, and they are merged into one table.
fn rows_in_parallel<M>(
    classes: usize,
    state: impl Fn() -> M + Sync,
    row: impl Fn(usize, &mut M, &mut dyn FnMut(AllowedPorts)) + Sync,
) -> (Vec<AllowedPorts>, Vec<u32>) {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, classes.max(1));
    let next = AtomicUsize::new(0);
    type Local = (Vec<AllowedPorts>, Vec<(usize, Vec<u32>)>);
    let locals: Vec<Local> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = state();
                    let mut ids: HashMap<AllowedPorts, u32> = HashMap::default();
                    let mut distinct = Vec::new();
                    let mut rows = Vec::new();
                    loop {
                        let a = next.fetch_add(1, Ordering::Relaxed);
                        if a >= classes {
                            break;
                        }
                        let mut out = Vec::with_capacity(classes);
                        row(a, &mut mine, &mut |cell| {
                            let id = *ids.entry(cell).or_insert_with_key(|c| {
                                distinct.push(c.clone());
                                (distinct.len() - 1) as u32
                            });
                            out.push(id);
                        });
                        rows.push((a, out));
                    }
                    (distinct, rows)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut ids: HashMap<AllowedPorts, u32> = HashMap::default();
    let mut distinct: Vec<AllowedPorts> = Vec::new();
    let mut cells = vec![0u32; classes * classes];
    for (local, rows) in locals {
        let global: Vec<u32> = local
            .into_iter()
            .map(|c| {
                let next = distinct.len() as u32;
                *ids.entry(c).or_insert_with_key(|c| {
                    distinct.push(c.clone());
                    next
                })
            })
            .collect();
        for (a, row) in rows {
            for (b, id) in row.into_iter().enumerate() {
                cells[a * classes + b] = global[id as usize];
            }
        }
    }
    (distinct, cells)
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

        // First the classes of what each pod is on its own, then split by every pod set the
        // rules hold: the same classes as comparing whole membership vectors, without them.
        let mut class = vec![NONE; ix.pods.len()];
        let mut size: Vec<u32> = Vec::new();
        let mut by_sig: HashMap<Signature, u32> = HashMap::default();
        let mut prepared = Vec::with_capacity(pods.len());
        for id in &pods {
            let idx = ix.pod_by_id[id];
            let slot = ix.slot(idx);
            let v4 = slot.primary.iter().map(|p| p.ip).find(IpAddr::is_ipv4);
            let v6 = slot.primary.iter().map(|p| p.ip).find(IpAddr::is_ipv6);
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
            let networks = slot.primary.iter().map(|p| p.network.clone()).collect();
            let mut admin = Vec::new();
            let admin_nodes = (
                ix.admin.address_membership(v4, &mut admin),
                ix.admin.address_membership(v6, &mut admin),
            );
            let sig = Signature {
                admin,
                admin_nodes,
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
            let c = *by_sig.entry(sig).or_insert(next);
            if c as usize == size.len() {
                size.push(0);
            }
            size[c as usize] += 1;
            class[idx as usize] = c;
            prepared.push(Prepared { idx, class: 0 });
        }
        drop(by_sig);
        let mut hits = vec![0u32; size.len()];
        let sets = ix
            .policies
            .iter()
            .flatten()
            .flat_map(|p| {
                std::iter::once(&p.selected).chain(
                    p.ingress
                        .iter()
                        .chain(p.egress.iter())
                        .map(|r| &r.peer_pods),
                )
            })
            .chain(ix.admin.pod_sets());
        for set in sets {
            refine(&mut class, &mut size, set, &mut hits);
        }

        // Classes numbered in contract order of their first pod, with up to two pods each.
        let mut number = vec![NONE; size.len()];
        let mut reps: Vec<Vec<usize>> = Vec::new();
        let mut class_of = Vec::with_capacity(pods.len());
        for (i, p) in prepared.iter_mut().enumerate() {
            let c = class[p.idx as usize] as usize;
            if number[c] == NONE {
                number[c] = reps.len() as u32;
                reps.push(Vec::new());
            }
            let n = number[c];
            if reps[n as usize].len() < 2 {
                reps[n as usize].push(i);
            }
            p.class = n;
            class_of.push(n);
        }

        let classes = reps.len();
        let keys = self.direction_keys(&reps, &prepared);
        let (mut distinct, cells) = rows_in_parallel(
            classes,
            || Memo::new(&keys, classes),
            |a, memo, push| {
                for b in 0..classes {
                    let s = reps[a][0];
                    let d = if a == b {
                        reps[a].get(1).copied()
                    } else {
                        Some(reps[b][0])
                    };
                    push(match d {
                        Some(d) => self.pair_ports(
                            &prepared[s],
                            &prepared[d],
                            false,
                            Some((&keys, &mut *memo)),
                        ),
                        None => AllowedPorts::default(),
                    });
                }
            },
        );
        let mut ids: HashMap<AllowedPorts, u32> = distinct
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i as u32))
            .collect();
        let diagonal = prepared
            .iter()
            .map(|p| {
                let c = self.pair_ports(p, p, true, None);
                let next = distinct.len() as u32;
                *ids.entry(c).or_insert_with_key(|c| {
                    distinct.push(c.clone());
                    next
                })
            })
            .collect();
        CompressedMatrix {
            pods,
            class_of,
            classes,
            distinct,
            cells,
            diagonal,
        }
    }

    /// The allowed ports from one pod to another's primary address, by port-set algebra. The
    /// port-independent rules (refusals, exemptions) are the spec's own [`gate`].
    fn pair_ports(
        &self,
        s: &Prepared,
        d: &Prepared,
        same: bool,
        mut memo: Option<(&Keys, &mut Memo)>,
    ) -> AllowedPorts {
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
        // Each direction walks its rules once for all three protocols: the peer match, the
        // costly part, does not depend on the protocol.
        let egress_of = || {
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
            )
        };
        let ingress_of = || {
            let peer = if src_pod {
                PeerRef::Pod(s.idx, src_ip)
            } else {
                PeerRef::Address(src_ip)
            };
            self.direction_ports(d.idx, PolicyType::Ingress, dst_on, peer, Some(d.idx))
        };
        let intersect = |egress: &[PortRanges; 3], ingress: &[PortRanges; 3]| {
            let mut out = AllowedPorts::default();
            for (slot, protocol) in Protocol::PORTED.into_iter().enumerate() {
                *out.get_mut(protocol) = egress[slot].intersection(&ingress[slot]);
            }
            out
        };
        let Some((keys, memo)) = memo.as_mut() else {
            let egress = if src_pod {
                egress_of()
            } else {
                all_protocols()
            };
            if egress.iter().all(PortRanges::is_empty) {
                return AllowedPorts::default();
            }
            let ingress = if dst_pod {
                ingress_of()
            } else {
                all_protocols()
            };
            return intersect(&egress, &ingress);
        };
        // The same ports as above, each direction looked up by its key and the other end's
        // class (and the family of the address used, which picks the source's address).
        let v6 = usize::from(dst_ip.is_some_and(|ip| ip.is_ipv6()));
        let (a, b) = (s.class as usize, d.class as usize);
        let egress = if src_pod {
            let at = keys.egress[a][v6] as usize * memo.classes + b;
            if memo.egress[at] == UNKNOWN {
                let t = egress_of();
                memo.egress[at] = memo.intern(t);
            }
            memo.egress[at]
        } else {
            memo.intern(all_protocols())
        };
        if memo.triples[egress as usize]
            .iter()
            .all(PortRanges::is_empty)
        {
            return AllowedPorts::default();
        }
        let ingress = if dst_pod {
            let at = (keys.ingress[b] as usize * memo.classes + a) * 2 + v6;
            if memo.ingress[at] == UNKNOWN {
                let t = ingress_of();
                memo.ingress[at] = memo.intern(t);
            }
            memo.ingress[at]
        } else {
            memo.intern(all_protocols())
        };
        intersect(
            &memo.triples[egress as usize],
            &memo.triples[ingress as usize],
        )
    }

    /// Every class's direction keys (see [`Keys`]), from its first pod.
    fn direction_keys(&self, reps: &[Vec<usize>], prepared: &[Prepared]) -> Keys {
        let ix = &self.core.index;
        let mut ids: HashMap<DirectionKey, u32> = HashMap::default();
        let mut intern = |k: DirectionKey| {
            let next = ids.len() as u32;
            *ids.entry(k).or_insert(next)
        };
        let key = |idx: u32, direction: PolicyType, on: On<'_>, ports: bool| {
            let slot = ix.slot(idx);
            DirectionKey {
                policies: match direction {
                    PolicyType::Ingress => ix.ingress_of[idx as usize].clone(),
                    PolicyType::Egress => ix.egress_of[idx as usize].clone(),
                },
                network: on.0.to_string(),
                primary: on.1,
                ports: if ports {
                    slot.ports
                        .iter()
                        .map(|c| (c.name.clone(), c.port, c.protocol))
                        .collect()
                } else {
                    Vec::new()
                },
            }
        };
        let mut egress = Vec::with_capacity(reps.len());
        for r in reps {
            let idx = prepared[r[0]].idx;
            let slot = ix.slot(idx);
            let on = |v4| self.pod_facts(slot, Some(v4)).2;
            egress.push([
                intern(key(idx, PolicyType::Egress, on(true), false)),
                intern(key(idx, PolicyType::Egress, on(false), false)),
            ]);
        }
        let egress_keys = ids.len();
        ids.clear();
        let mut intern = |k: DirectionKey| {
            let next = ids.len() as u32;
            *ids.entry(k).or_insert(next)
        };
        let ingress = reps
            .iter()
            .map(|r| {
                let idx = prepared[r[0]].idx;
                let on = self.pod_facts(ix.slot(idx), None).2;
                intern(key(idx, PolicyType::Ingress, on, true))
            })
            .collect();
        Keys {
            egress,
            ingress,
            egress_keys,
            ingress_keys: ids.len(),
        }
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

    /// The ports one direction at pod `idx` allows for `peer`, per ported protocol (in
    /// [`proto_slot`] order), named ports resolved on `dest`.
    fn direction_ports(
        &self,
        idx: u32,
        direction: PolicyType,
        on: On<'_>,
        peer: PeerRef,
        dest: Option<u32>,
    ) -> [PortRanges; 3] {
        let ix = &self.core.index;
        let mut list = ix.isolating(idx, direction, on).peekable();
        if list.peek().is_none() {
            return all_protocols();
        }
        let dest = dest.map(|d| ix.slot(d));
        let first_only = self.profile().named_port_conflict == NamedPortConflict::FirstOnly;
        let mut ranges: [Vec<(u16, u16)>; 3] = Default::default();
        for p in list {
            for r in p.rules(direction) {
                if !ix.peer_matches(r, peer) {
                    continue;
                }
                if r.ports.any {
                    return all_protocols();
                }
                for (slot, found) in ranges.iter_mut().enumerate() {
                    found.extend_from_slice(&r.ports.ranges[slot]);
                }
                let Some(d) = dest else { continue };
                for (protocol, name) in &r.ports.named {
                    let Some(slot) = proto_slot(*protocol) else {
                        continue;
                    };
                    for c in d
                        .ports
                        .iter()
                        .filter(|c| c.protocol == *protocol && c.name.as_deref() == Some(name))
                    {
                        if named_port_is(d, name, *protocol, c.port, self.profile()) {
                            ranges[slot].push((c.port, c.port));
                        }
                        if first_only {
                            break;
                        }
                    }
                }
            }
        }
        ranges.map(PortRanges::from_ranges)
    }
}

/// Every port of each ported protocol, in [`proto_slot`] order.
fn all_protocols() -> [PortRanges; 3] {
    [PortRanges::all(), PortRanges::all(), PortRanges::all()]
}
