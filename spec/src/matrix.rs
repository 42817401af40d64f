//! The connectivity matrix: for every ordered pair of pods, the destination ports on which a new
//! connection to the destination's primary address is allowed. Its JSON Lines form is a public
//! contract (docs/FORMATS.md): field order, key order, sorting and range merging are fixed.

use crate::ident::PodId;
use crate::net::{PortRef, Protocol};
use crate::state::State;
use serde::{Deserialize, Serialize};
// The aggregation's and the writer's maps are keyed by cell addresses and pair counts, looked
// up once per pair: a hash of a few words (rustc's own) instead of SipHash.
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeSet;
use std::fmt;

/// A set of ports as sorted, merged, inclusive ranges: `[[80,80],[8000,8010]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<(u16, u16)>", into = "Vec<(u16, u16)>")]
pub struct PortRanges(Vec<(u16, u16)>);

impl PortRanges {
    /// Every port, `[[1,65535]]`.
    pub fn all() -> Self {
        PortRanges(vec![(1, u16::MAX)])
    }

    /// No port.
    pub fn none() -> Self {
        PortRanges(Vec::new())
    }

    /// From any ranges: empty ones dropped, the rest sorted and merged (touching ranges too).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u16, u16)>) -> Self {
        let mut v: Vec<(u16, u16)> = ranges.into_iter().filter(|(a, b)| a <= b).collect();
        v.sort_unstable();
        let mut out: Vec<(u16, u16)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        PortRanges(out)
    }

    /// The ranges.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }

    /// Each range as text, `80` or `8000-8010`.
    pub fn items(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect()
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|&(a, b)| a <= port && port <= b)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many ports the set holds.
    pub fn len(&self) -> u32 {
        self.0
            .iter()
            .map(|&(a, b)| u32::from(b) - u32::from(a) + 1)
            .sum()
    }

    /// The union of two sets.
    pub fn union(&self, other: &PortRanges) -> PortRanges {
        PortRanges::from_ranges(self.0.iter().chain(other.0.iter()).copied())
    }

    /// The intersection of two sets.
    pub fn intersection(&self, other: &PortRanges) -> PortRanges {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.0.len() && j < other.0.len() {
            let (a1, b1) = self.0[i];
            let (a2, b2) = other.0[j];
            let (a, b) = (a1.max(a2), b1.min(b2));
            if a <= b {
                out.push((a, b));
            }
            if b1 < b2 {
                i += 1;
            } else {
                j += 1;
            }
        }
        PortRanges(out)
    }
}

impl From<Vec<(u16, u16)>> for PortRanges {
    fn from(v: Vec<(u16, u16)>) -> Self {
        PortRanges::from_ranges(v)
    }
}

impl From<PortRanges> for Vec<(u16, u16)> {
    fn from(p: PortRanges) -> Self {
        p.0
    }
}

impl fmt::Display for PortRanges {
    /// `80,8000-8010`, `all`, or `-` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        if self.0 == [(1, u16::MAX)] {
            return f.write_str("all");
        }
        f.write_str(&self.items().join(","))
    }
}

/// The allowed destination ports per protocol. Serialized with the keys `TCP`, `UDP`, `SCTP`,
/// in that order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedPorts {
    /// TCP ports.
    #[serde(rename = "TCP")]
    pub tcp: PortRanges,
    /// UDP ports.
    #[serde(rename = "UDP")]
    pub udp: PortRanges,
    /// SCTP ports.
    #[serde(rename = "SCTP")]
    pub sctp: PortRanges,
}

impl AllowedPorts {
    /// Every port of every protocol.
    pub fn all() -> Self {
        AllowedPorts {
            tcp: PortRanges::all(),
            udp: PortRanges::all(),
            sctp: PortRanges::all(),
        }
    }

    /// The ports of one protocol (other protocols have none).
    pub fn get(&self, protocol: Protocol) -> &PortRanges {
        static NONE: PortRanges = PortRanges(Vec::new());
        match protocol {
            Protocol::Tcp => &self.tcp,
            Protocol::Udp => &self.udp,
            Protocol::Sctp => &self.sctp,
            Protocol::Other(_) => &NONE,
        }
    }

    /// The ports of one protocol, mutably. Panics for a protocol without ports.
    pub fn get_mut(&mut self, protocol: Protocol) -> &mut PortRanges {
        match protocol {
            Protocol::Tcp => &mut self.tcp,
            Protocol::Udp => &mut self.udp,
            Protocol::Sctp => &mut self.sctp,
            Protocol::Other(_) => panic!("protocol {protocol} has no ports"),
        }
    }

    /// Whether nothing at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty() && self.sctp.is_empty()
    }
}

/// One cell of the matrix: the line format of `netsem matrix --format jsonl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixEntry {
    /// The source pod.
    pub src: PodId,
    /// The destination pod.
    pub dst: PodId,
    /// Where a new connection is allowed.
    pub allowed: AllowedPorts,
}

impl MatrixEntry {
    /// The entry as one JSON line, without the newline (the public contract).
    pub fn to_json_line(&self) -> String {
        json_line(&self.src, &self.dst, &self.allowed)
    }
}

/// The borrowed twin of [`MatrixEntry`], so a matrix can be written without building entries.
#[derive(Serialize)]
struct EntryRef<'a> {
    src: &'a PodId,
    dst: &'a PodId,
    allowed: &'a AllowedPorts,
}

/// One line of the JSON Lines contract for a pair (without the newline).
pub fn json_line(src: &PodId, dst: &PodId, allowed: &AllowedPorts) -> String {
    serde_json::to_string(&EntryRef { src, dst, allowed })
        .expect("a matrix entry always serializes")
}

/// Read access to a connectivity matrix, however it is stored.
pub trait MatrixView {
    /// The pods, in contract order (byte order of `namespace/name`).
    fn pods(&self) -> &[PodId];

    /// The allowed ports from `pods()[src]` to `pods()[dst]`.
    fn cell(&self, src: usize, dst: usize) -> &AllowedPorts;

    /// A class per pod such that the cell between two distinct pods depends only on their
    /// classes, when the view keeps one (the oracle's compressed matrix); aggregations then
    /// visit class pairs instead of pod pairs. `None` (the default): no such classes.
    fn class_of(&self) -> Option<&[u32]> {
        None
    }

    /// Writes the JSON Lines contract: one line per ordered pair, `src` then `dst` order.
    ///
    /// The bytes are exactly [`json_line`]'s, but each pod's name is escaped once, a cell
    /// stored once (a class pair of a compressed matrix) is serialized once while it stays in
    /// a bounded cache, and lines are written in large chunks: the output is bound by writing
    /// it, not by formatting.
    fn write_jsonl(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        const CHUNK: usize = 1 << 20;
        const CACHE_BYTES: usize = 64 << 20;
        let json = |p: &PodId| serde_json::to_vec(p).expect("a pod name always serializes");
        let pods = self.pods();
        let srcs: Vec<Vec<u8>> = pods
            .iter()
            .map(|p| [b"{\"src\":".as_slice(), &json(p), b",\"dst\":"].concat())
            .collect();
        let dsts: Vec<Vec<u8>> = pods
            .iter()
            .map(|p| [json(p).as_slice(), b",\"allowed\":"].concat())
            .collect();
        // Keyed by where the cell is stored: equal keys are the same cell, so the same bytes.
        let mut cache: HashMap<usize, (usize, usize)> = HashMap::default();
        let mut arena: Vec<u8> = Vec::new();
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
        for (i, src) in srcs.iter().enumerate() {
            for (j, dst) in dsts.iter().enumerate() {
                let cell = self.cell(i, j);
                let key = cell as *const AllowedPorts as usize;
                let (at, len) = match cache.get(&key) {
                    Some(&hit) => hit,
                    None => {
                        if arena.len() > CACHE_BYTES {
                            arena.clear();
                            cache.clear();
                        }
                        let at = arena.len();
                        serde_json::to_writer(&mut arena, cell)
                            .expect("allowed ports always serialize");
                        let entry = (at, arena.len() - at);
                        cache.insert(key, entry);
                        entry
                    }
                };
                buf.extend_from_slice(src);
                buf.extend_from_slice(dst);
                buf.extend_from_slice(&arena[at..at + len]);
                buf.extend_from_slice(b"}\n");
                if buf.len() >= CHUNK {
                    out.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
        out.write_all(&buf)
    }

    /// The matrix as entries.
    fn to_matrix(&self) -> Matrix {
        let pods = self.pods().to_vec();
        let mut entries = Vec::with_capacity(pods.len() * pods.len());
        for (i, s) in pods.iter().enumerate() {
            for (j, d) in pods.iter().enumerate() {
                entries.push(MatrixEntry {
                    src: s.clone(),
                    dst: d.clone(),
                    allowed: self.cell(i, j).clone(),
                });
            }
        }
        Matrix { pods, entries }
    }
}

impl MatrixView for Matrix {
    fn pods(&self) -> &[PodId] {
        &self.pods
    }

    fn cell(&self, src: usize, dst: usize) -> &AllowedPorts {
        &self.entries[src * self.pods.len() + dst].allowed
    }
}

/// The whole matrix: one entry per ordered pair of pods (self pairs included), sorted by `src`
/// then `dst` in byte order of `namespace/name`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matrix {
    /// The pods, in contract order.
    pub pods: Vec<PodId>,
    /// `entries[i * pods.len() + j]` is from `pods[i]` to `pods[j]`.
    pub entries: Vec<MatrixEntry>,
}

impl Matrix {
    /// Builds the matrix from a function giving each pair's allowed ports.
    pub fn build(
        pods: impl IntoIterator<Item = PodId>,
        mut cell: impl FnMut(&PodId, &PodId) -> AllowedPorts,
    ) -> Self {
        let pods = contract_order(pods);
        let mut entries = Vec::with_capacity(pods.len() * pods.len());
        for src in &pods {
            for dst in &pods {
                entries.push(MatrixEntry {
                    src: src.clone(),
                    dst: dst.clone(),
                    allowed: cell(src, dst),
                });
            }
        }
        Matrix { pods, entries }
    }

    /// The JSON Lines form, one line per entry, each ending in `\n`.
    pub fn to_jsonl(&self) -> String {
        let mut out = Vec::new();
        self.write_jsonl(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("JSON is UTF-8")
    }
}

/// Sorts pods by the bytes of `namespace/name`, the matrix contract's order.
pub fn contract_order(pods: impl IntoIterator<Item = PodId>) -> Vec<PodId> {
    let mut v: Vec<(String, PodId)> = pods.into_iter().map(|p| (p.to_string(), p)).collect();
    v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    v.dedup_by(|a, b| a.0 == b.0);
    v.into_iter().map(|(_, p)| p).collect()
}

/// One cell of a grouped matrix (rows and columns are groups of pods, such as workloads): over
/// every pod pair of the two groups, what every pair allows and what some pair allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupCell {
    /// How many ordered pod pairs the cell stands for.
    pub pairs: usize,
    /// The ports allowed for every pair (the intersection).
    pub every: AllowedPorts,
    /// The ports allowed for at least one pair (the union).
    pub some: AllowedPorts,
}

impl GroupCell {
    /// Whether every pair allows exactly the same ports.
    pub fn uniform(&self) -> bool {
        self.every == self.some
    }
}

/// A connectivity matrix whose rows and columns are groups of pods (`netsem matrix --group
/// workload`, docs/FORMATS.md). A cell covers every ordered pair `(p, q)` with `p` in the
/// source group and `q` in the destination group, except that a group with several pods is
/// not paired with itself pod by pod (`p ≠ q`): its cell says how its pods reach each other.
#[derive(Clone, Debug, Default)]
pub struct GroupedMatrix {
    /// The groups' names, in byte order, and their pods (in contract order).
    pub groups: Vec<(String, Vec<PodId>)>,
    /// The distinct cells, each once: a big cluster's cells are mostly the same few.
    distinct: Vec<GroupCell>,
    /// `cells[i * groups.len() + j]`, from `groups[i]` to `groups[j]`, indexes `distinct`.
    cells: Vec<u32>,
}

impl PartialEq for GroupedMatrix {
    fn eq(&self, other: &Self) -> bool {
        let n = self.groups.len();
        self.groups == other.groups
            && (0..n).all(|i| (0..n).all(|j| self.cell(i, j) == other.cell(i, j)))
    }
}

impl Eq for GroupedMatrix {}

impl GroupedMatrix {
    /// Groups the pods of `m` by `group` (each pod's group name) and aggregates the cells.
    /// Where `m` keeps classes ([`MatrixView::class_of`]), the pods of a group in one class
    /// are visited once: intersection and union do not change when a cell is met again, so
    /// only the pair counts need the pods.
    pub fn build(m: &dyn MatrixView, group: impl Fn(&PodId) -> String) -> Self {
        let pods = m.pods();
        let mut by_name: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for (i, p) in pods.iter().enumerate() {
            by_name.entry(group(p)).or_default().push(i);
        }
        let mut names: Vec<(String, Vec<usize>)> = by_name.into_iter().collect();
        names.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        // Each group as (a pod, how many pods) per class; without classes, a class per pod.
        let class_of = m.class_of();
        let members: Vec<Vec<(usize, usize)>> = names
            .iter()
            .map(|(_, idx)| match class_of {
                Some(class_of) => {
                    let mut by_class: std::collections::BTreeMap<u32, (usize, usize)> =
                        Default::default();
                    for &i in idx {
                        by_class.entry(class_of[i]).or_insert((i, 0)).1 += 1;
                    }
                    by_class.into_values().collect()
                }
                None => idx.iter().map(|&i| (i, 1)).collect(),
            })
            .collect();
        // The first two pods of each class, for the pairs of two pods of one class: the
        // partner of a pod is the other of the two (a group's first pod of a class may be the
        // class's second, and a pod paired with itself is the diagonal).
        let mut two: HashMap<u32, (usize, Option<usize>)> = HashMap::default();
        if let Some(class_of) = class_of {
            for (i, &c) in class_of.iter().enumerate() {
                let e = two.entry(c).or_insert((i, None));
                if e.0 != i && e.1.is_none() {
                    e.1 = Some(i);
                }
            }
        }
        let mut cells = Vec::with_capacity(names.len() * names.len());
        let mut distinct: Vec<GroupCell> = Vec::new();
        let mut ids: HashMap<GroupCell, u32> = HashMap::default();
        // A cell made of one stored cell, by its address and pair count: no clone, no hash of
        // its ports (the cells of `m` stay put while it is borrowed).
        let mut single: HashMap<(usize, usize), u32> = HashMap::default();
        let mut met: Vec<&AllowedPorts> = Vec::new();
        for (a, (_, src)) in names.iter().enumerate() {
            for b in 0..names.len() {
                met.clear();
                let mut pairs = 0;
                fn note<'c>(met: &mut Vec<&'c AllowedPorts>, c: &'c AllowedPorts) {
                    if !met.iter().any(|&m| std::ptr::eq(m, c)) {
                        met.push(c);
                    }
                }
                if a == b && src.len() == 1 {
                    note(&mut met, m.cell(src[0], src[0]));
                    pairs = 1;
                } else {
                    for &(i, ni) in &members[a] {
                        for &(j, nj) in &members[b] {
                            let n = if a == b && i == j {
                                ni * (ni - 1)
                            } else {
                                ni * nj
                            };
                            if n == 0 {
                                continue;
                            }
                            // Two distinct pods: of one class, `i` and another of its class.
                            let j = if i == j {
                                match class_of.and_then(|c| two.get(&c[i])) {
                                    Some(&(first, Some(second))) => {
                                        if first == i {
                                            second
                                        } else {
                                            first
                                        }
                                    }
                                    _ => continue,
                                }
                            } else {
                                j
                            };
                            note(&mut met, m.cell(i, j));
                            pairs += n;
                        }
                    }
                }
                let mut intern = |cell: GroupCell| {
                    let next = distinct.len() as u32;
                    *ids.entry(cell).or_insert_with_key(|c| {
                        distinct.push(c.clone());
                        next
                    })
                };
                let id = match met.as_slice() {
                    [one] => {
                        let key = (std::ptr::from_ref(*one) as usize, pairs);
                        match single.get(&key) {
                            Some(&id) => id,
                            None => {
                                let id = intern(GroupCell {
                                    pairs,
                                    every: (*one).clone(),
                                    some: (*one).clone(),
                                });
                                single.insert(key, id);
                                id
                            }
                        }
                    }
                    _ => {
                        let mut cell = GroupCell {
                            pairs,
                            ..GroupCell::default()
                        };
                        if let Some((first, rest)) = met.split_first() {
                            cell.every = (*first).clone();
                            cell.some = (*first).clone();
                            for c in rest {
                                for proto in Protocol::PORTED {
                                    *cell.every.get_mut(proto) =
                                        cell.every.get(proto).intersection(c.get(proto));
                                    *cell.some.get_mut(proto) =
                                        cell.some.get(proto).union(c.get(proto));
                                }
                            }
                        }
                        intern(cell)
                    }
                };
                cells.push(id);
            }
        }
        GroupedMatrix {
            groups: names
                .into_iter()
                .map(|(n, idx)| (n, idx.into_iter().map(|i| pods[i].clone()).collect()))
                .collect(),
            distinct,
            cells,
        }
    }

    /// The cell from group `src` to group `dst`.
    pub fn cell(&self, src: usize, dst: usize) -> &GroupCell {
        &self.distinct[self.cells[src * self.groups.len() + dst] as usize]
    }

    /// Writes the grouped JSON Lines format: exactly [`GroupedMatrix::json_line`]'s lines, each
    /// followed by a newline, but each group name and each distinct cell serialized once (up
    /// to a bound) and the lines written in large chunks.
    pub fn write_jsonl(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        const CHUNK: usize = 1 << 20;
        const CACHE_BYTES: usize = 64 << 20;
        #[derive(Serialize)]
        struct Tail<'a> {
            pairs: usize,
            allowed: &'a AllowedPorts,
            some: &'a AllowedPorts,
            uniform: bool,
        }
        let tail = |c: &GroupCell| {
            let mut v = serde_json::to_vec(&Tail {
                pairs: c.pairs,
                allowed: &c.every,
                some: &c.some,
                uniform: c.uniform(),
            })
            .expect("a grouped cell always serializes");
            v.remove(0);
            v.push(b'\n');
            v
        };
        let name = |n: &str| serde_json::to_vec(n).expect("a group name always serializes");
        let srcs: Vec<Vec<u8>> = self
            .groups
            .iter()
            .map(|(n, _)| [b"{\"src\":".as_slice(), &name(n), b",\"dst\":"].concat())
            .collect();
        let dsts: Vec<Vec<u8>> = self
            .groups
            .iter()
            .map(|(n, _)| [name(n).as_slice(), b","].concat())
            .collect();
        let mut cached: Vec<Option<Vec<u8>>> = vec![None; self.distinct.len()];
        let mut budget = CACHE_BYTES;
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
        let n = self.groups.len();
        for (i, src) in srcs.iter().enumerate() {
            for (j, dst) in dsts.iter().enumerate() {
                let id = self.cells[i * n + j] as usize;
                buf.extend_from_slice(src);
                buf.extend_from_slice(dst);
                match &cached[id] {
                    Some(t) => buf.extend_from_slice(t),
                    None => {
                        let t = tail(&self.distinct[id]);
                        buf.extend_from_slice(&t);
                        if t.len() <= budget {
                            budget -= t.len();
                            cached[id] = Some(t);
                        }
                    }
                }
                if buf.len() >= CHUNK {
                    out.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
        out.write_all(&buf)
    }

    /// One line of the grouped JSON Lines format (docs/FORMATS.md), without the newline:
    /// `{"src":…,"dst":…,"pairs":N,"allowed":{…},"some":{…},"uniform":true}`.
    pub fn json_line(&self, src: usize, dst: usize) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            src: &'a str,
            dst: &'a str,
            pairs: usize,
            allowed: &'a AllowedPorts,
            some: &'a AllowedPorts,
            uniform: bool,
        }
        let c = self.cell(src, dst);
        serde_json::to_string(&Line {
            src: &self.groups[src].0,
            dst: &self.groups[dst].0,
            pairs: c.pairs,
            allowed: &c.every,
            some: &c.some,
            uniform: c.uniform(),
        })
        .expect("a grouped matrix line always serializes")
    }
}

impl State {
    /// The ports where the verdict may change for traffic to `dst`: every policy port bound
    /// (NetworkPolicies and MultiNetworkPolicies), every admin policy port bound (rule 11.9)
    /// and every container port of `dst` (for named
    /// ports). Between two consecutive
    /// breakpoints every decision is the same, because rules compare the destination port only
    /// with those numbers (rules 5.7–5.9, 5.13).
    fn port_breakpoints(&self, dst: &PodId) -> Vec<u32> {
        let mut points: BTreeSet<u32> = BTreeSet::from([1, 65536]);
        let multi = self
            .multi_network_policies()
            .flat_map(|m| m.ingress.iter().chain(m.egress.iter()));
        let rules = self
            .policies()
            .flat_map(|p| p.ingress.iter().chain(p.egress.iter()))
            .chain(multi);
        {
            for rule in rules {
                for p in &rule.ports {
                    if let Some(PortRef::Number(start)) = p.port {
                        points.insert(u32::from(start));
                        points.insert(u32::from(p.end_port.unwrap_or(start)) + 1);
                    }
                }
            }
        }
        for rule in self
            .admin_policies()
            .flat_map(|p| p.ingress.iter().chain(p.egress.iter()))
        {
            for p in rule.protocols.iter().flatten() {
                if let crate::admin::AdminProtocol::Ports { first, last, .. } = p {
                    points.insert(u32::from(*first));
                    points.insert(u32::from(*last) + 1);
                }
            }
        }
        if let Some(pod) = self.pod(dst) {
            for cp in &pod.ports {
                points.insert(u32::from(cp.port));
                points.insert(u32::from(cp.port) + 1);
            }
        }
        points.into_iter().filter(|&p| p <= 65536).collect()
    }

    /// The destination ports on which `src` may open a new connection to `dst`'s primary
    /// address, per protocol: one decision per interval between breakpoints.
    pub fn allowed_ports(&self, src: &PodId, dst: &PodId) -> AllowedPorts {
        let mut out = AllowedPorts::default();
        let (Ok(d), points) = (self.pod_endpoint(dst, None), self.port_breakpoints(dst)) else {
            return out;
        };
        let Ok(s) = self.pod_endpoint(src, d.address()) else {
            return out;
        };
        for protocol in Protocol::PORTED {
            let mut ranges = Vec::new();
            for w in points.windows(2) {
                let (start, end) = (w[0] as u16, (w[1] - 1) as u16);
                if self.decide(&s, &d, protocol, start, None).allowed {
                    ranges.push((start, end));
                }
            }
            *out.get_mut(protocol) = PortRanges::from_ranges(ranges);
        }
        out
    }

    /// The connectivity matrix of every pod.
    pub fn matrix(&self) -> Matrix {
        Matrix::build(self.pods().map(|p| p.id.clone()), |s, d| {
            self.allowed_ports(s, d)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r10_3_port_ranges_merge_and_serialize() {
        let p = PortRanges::from_ranges([(8000, 8010), (80, 80), (8011, 8012), (5, 4)]);
        assert_eq!(p.ranges(), &[(80, 80), (8000, 8012)]);
        assert_eq!(serde_json::to_string(&p).unwrap(), "[[80,80],[8000,8012]]");
        assert_eq!(p.to_string(), "80,8000-8012");
        assert_eq!(p.len(), 14);
        let q = PortRanges::from_ranges([(1, 100), (8005, 9000)]);
        assert_eq!(p.intersection(&q).ranges(), &[(80, 80), (8005, 8012)]);
        assert_eq!(p.union(&q).ranges(), &[(1, 100), (8000, 9000)]);
    }

    #[test]
    fn r10_3_jsonl_line_is_byte_exact() {
        let e = MatrixEntry {
            src: PodId::new("ns", "a"),
            dst: PodId::new("ns", "b"),
            allowed: AllowedPorts {
                tcp: PortRanges::from_ranges([(80, 80), (8000, 8010)]),
                udp: PortRanges::none(),
                sctp: PortRanges::none(),
            },
        };
        assert_eq!(
            e.to_json_line(),
            r#"{"src":"ns/a","dst":"ns/b","allowed":{"TCP":[[80,80],[8000,8010]],"UDP":[],"SCTP":[]}}"#
        );
    }

    #[test]
    fn r10_3_grouped_cells_are_the_intersection_and_the_union_of_their_pairs() {
        let pods = vec![
            PodId::new("a", "w-1"),
            PodId::new("a", "w-2"),
            PodId::new("b", "x"),
        ];
        let port = |p: u16| AllowedPorts {
            tcp: PortRanges::from_ranges([(p, p)]),
            ..AllowedPorts::default()
        };
        let m = Matrix::build(pods, |s, d| match (s.name.as_str(), d.name.as_str()) {
            ("w-1", "x") => port(80),
            ("w-2", "x") => AllowedPorts {
                tcp: PortRanges::from_ranges([(80, 81)]),
                ..AllowedPorts::default()
            },
            (a, b) if a == b => AllowedPorts::all(),
            _ => AllowedPorts::default(),
        });
        let g = GroupedMatrix::build(&m, |p| {
            if p.name.starts_with("w-") {
                "a/w[Deployment]".to_string()
            } else {
                p.to_string()
            }
        });
        let names: Vec<&str> = g.groups.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a/w[Deployment]", "b/x"]);
        let c = g.cell(0, 1);
        assert_eq!((c.pairs, c.uniform()), (2, false));
        assert_eq!(c.every, port(80));
        assert_eq!(c.some.tcp.ranges(), &[(80, 81)]);
        // Within a group of several pods, only distinct pods pair up.
        let w = g.cell(0, 0);
        assert_eq!((w.pairs, w.every.is_empty()), (2, true));
        // A single pod's group keeps its self pair.
        assert_eq!(g.cell(1, 1).every, AllowedPorts::all());
        assert_eq!(
            g.json_line(0, 1),
            r#"{"src":"a/w[Deployment]","dst":"b/x","pairs":2,"allowed":{"TCP":[[80,80]],"UDP":[],"SCTP":[]},"some":{"TCP":[[80,81]],"UDP":[],"SCTP":[]},"uniform":false}"#
        );
    }

    /// Found by the differential test: a group's first pod of a class was the class's second
    /// pod, so "another pod of its class" was itself, and the diagonal's cell counted for the
    /// pairs of distinct pods.
    #[test]
    fn r10_3_grouped_classes_pair_distinct_pods_even_when_the_class_starts_in_another_group() {
        struct Classed {
            pods: Vec<PodId>,
            all: AllowedPorts,
            none: AllowedPorts,
        }
        impl MatrixView for Classed {
            fn pods(&self) -> &[PodId] {
                &self.pods
            }
            fn cell(&self, src: usize, dst: usize) -> &AllowedPorts {
                if src == dst {
                    &self.all
                } else {
                    &self.none
                }
            }
            fn class_of(&self) -> Option<&[u32]> {
                Some(&[0, 0, 0])
            }
        }
        let m = Classed {
            pods: vec![
                PodId::new("a", "p"),
                PodId::new("b", "q"),
                PodId::new("b", "r"),
            ],
            all: AllowedPorts::all(),
            none: AllowedPorts::default(),
        };
        let g = GroupedMatrix::build(&m, |p| p.namespace.clone());
        let b = g.cell(1, 1);
        assert_eq!(b.pairs, 2);
        assert!(b.some.is_empty(), "b/q and b/r reach each other on nothing");
        assert_eq!(g.cell(0, 0).every, AllowedPorts::all());
        assert_eq!(
            (g.cell(0, 1).pairs, g.cell(0, 1).some.is_empty()),
            (2, true)
        );
    }

    #[test]
    fn r10_3_contract_order_is_byte_order_of_namespace_slash_name() {
        let order = contract_order([
            PodId::new("a", "x"),
            PodId::new("a-b", "x"),
            PodId::new("A", "z"),
        ]);
        let names: Vec<String> = order.iter().map(|p| p.to_string()).collect();
        assert_eq!(names, ["A/z", "a-b/x", "a/x"]);
    }
}
