//! `netsem gen suite`: a conformance suite for network plugins, and `netsem check --suite`, which
//! judges a run of it (docs/CONFORMANCE.md; formats in docs/FORMATS.md).
//!
//! A suite is a fixed probe topology and cases of ordered steps; each step applies or deletes
//! manifests and lists probes, each with the verdict netsem computes under the suite's profile
//! and, where a single profile switch changes it, the other verdict and the switch. Everything is
//! computed by the spec (`connect::open` with the reference core), by replaying each case.

mod cases;

use crate::explain;
use crate::junit::{Outcome, Suite as JunitSuite};
use netsem_spec::decision::{Source, Target};
use netsem_spec::trace::{drive, Flow, Step as TraceStep};
use netsem_spec::{
    manifest, Address, ConnectionId, Observation, Op, PodId, Profile, Protocol, ServiceId,
    SpecEngine, State,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

pub use cases::{cases, CaseDef, ProbeDef, StepDef};

/// The suite format's version (`netsemSuite`).
pub const SUITE_VERSION: u64 = 1;
/// The results format's version (`netsemSuiteResults`).
pub const RESULTS_VERSION: u64 = 1;

/// Where a probe goes: a pod, a Service (its cluster address), an address, a node's address or
/// a load balancer's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum To {
    /// `ns/pod`: the pod's address.
    Pod(PodId),
    /// `service:ns/name`: the Service's cluster address and port.
    Service(ServiceId),
    /// `ip:ADDRESS`.
    Ip(Address),
    /// `node:NAME`: the node's first address (its `InternalIP`), for node ports (rule 6.12).
    Node(String),
    /// `lb:ns/name`: the Service's first load-balancer ingress address (rule 6.14), whatever
    /// the cluster's load balancer assigned.
    LoadBalancer(ServiceId),
}

impl std::fmt::Display for To {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            To::Pod(p) => write!(f, "{p}"),
            To::Service(s) => write!(f, "service:{s}"),
            To::Ip(a) => write!(f, "ip:{a}"),
            To::Node(n) => write!(f, "node:{n}"),
            To::LoadBalancer(s) => write!(f, "lb:{s}"),
        }
    }
}

impl std::str::FromStr for To {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("service:") {
            return rest.parse().map(To::Service).map_err(|e| e.to_string());
        }
        if let Some(rest) = s.strip_prefix("ip:") {
            return rest.parse().map(To::Ip).map_err(|e| e.to_string());
        }
        if let Some(rest) = s.strip_prefix("node:") {
            return Ok(To::Node(rest.to_string()));
        }
        if let Some(rest) = s.strip_prefix("lb:") {
            return rest
                .parse()
                .map(To::LoadBalancer)
                .map_err(|e| e.to_string());
        }
        s.parse().map(To::Pod).map_err(|e| e.to_string())
    }
}

impl To {
    /// The address the probe connects to, in the spec's state at that step.
    fn address(&self, state: &State) -> Option<Address> {
        match self {
            To::Pod(p) => state.pod_endpoint(p, None).ok()?.address().cloned(),
            To::Service(s) => state.addresses().iter().find_map(|(a, owner)| match owner {
                netsem_spec::state::AddressOwner::Service {
                    service,
                    external: false,
                } if service == s => Some(a.clone()),
                _ => None,
            }),
            To::Ip(a) => Some(a.clone()),
            To::Node(n) => state.node_addresses(n).next().cloned(),
            To::LoadBalancer(s) => state
                .service(s)?
                .load_balancer_ips
                .first()
                .map(|ip| Address::default_domain(*ip)),
        }
    }
}

/// The address netsem gives the client outside the cluster: the gateway of kind's docker
/// network, where a runner on the machine that runs kind connects from. No policy of the suite
/// names it, so the cluster's own need not be this one.
pub const OUTSIDE_ADDRESS: &str = "172.18.0.1";

/// Who runs a probe: a pod of the topology, or a client outside the cluster (`outside`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Client {
    /// `ns/pod`, in its first container.
    Pod(PodId),
    /// `outside`: the machine the cluster's nodes are reachable from ([`OUTSIDE_ADDRESS`]).
    Outside,
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::Pod(p) => write!(f, "{p}"),
            Client::Outside => f.write_str("outside"),
        }
    }
}

impl std::str::FromStr for Client {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "outside" {
            return Ok(Client::Outside);
        }
        s.parse().map(Client::Pod).map_err(|e| e.to_string())
    }
}

impl Serialize for Client {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Client {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

fn outside() -> Address {
    OUTSIDE_ADDRESS.parse().expect("an address")
}

/// A probe's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The connection succeeds.
    Allowed,
    /// The connection fails (timeout, refused).
    Denied,
    /// Through a Service whose backends are decided differently: either, by the backend picked.
    Either,
}

/// The other verdict under one profile switch (rule 7.0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alternative {
    /// `switch=value`.
    pub switch: String,
    /// The verdict under it.
    pub expect: Expect,
}

/// One probe of a step, as written in `suite.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// The client: a pod, or `outside`.
    pub from: Client,
    /// `ns/pod`, `service:ns/name` or `ip:ADDRESS`.
    pub to: String,
    /// `TCP`, `UDP`, `SCTP` or `ICMP`.
    pub protocol: Protocol,
    /// The destination port (absent for ICMP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// A held probe is one connection, opened at the first step that lists it and kept open;
    /// later steps ask whether it still carries traffic (rules 5.15, 6.11, 7.4).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// The verdict under the suite's profile.
    pub expect: Expect,
    /// For `either`: each possible backend's verdict (rule 6.1).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backends: BTreeMap<String, Expect>,
    /// The verdict under each single profile switch that changes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
    /// A connection refused before or instead of policy (rule 6.18): the refusal's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// How the client sees that refusal: `refused` (rejected, the client is told) or
    /// `timeout` (dropped, the client sees nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// How a denied probe failed, as `agnhost connect` reports it on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Failure {
    /// `REFUSED`: the connection was rejected.
    Refused,
    /// `TIMEOUT`: nothing answered.
    Timeout,
}

/// One step: manifests to apply and delete (files of the case's folder), then the probes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// What the step does, in words.
    pub description: String,
    /// A manifest file to `kubectl apply`, relative to the suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<String>,
    /// A manifest file to `kubectl delete`, relative to the suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<String>,
    /// The probes, after the changes.
    pub probes: Vec<Probe>,
}

/// One case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    /// A unique id, also its folder.
    pub id: String,
    /// What it shows.
    pub title: String,
    /// The rules of docs/SEMANTICS.md it exercises (the switches' rules included).
    pub rules: Vec<String>,
    /// What the cluster needs beyond the topology (`multus`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// The steps, in order, from a cluster with only the topology.
    pub steps: Vec<Step>,
}

/// `suite.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuiteFile {
    /// [`SUITE_VERSION`].
    pub netsem_suite: u64,
    /// The seed it was generated with.
    pub seed: u64,
    /// The profile the verdicts are computed under.
    pub profile: Profile,
    /// The topology manifest, relative to the suite.
    pub topology: String,
    /// The cases.
    pub cases: Vec<Case>,
}

/// The manifest of grid pod `ns/pod` (on its node, with its containers), with `labels` added
/// to `pod: <pod>` (and `app: web` for x/a and x/b): what the topology applies, and what a case
/// that changes the pod's labels applies (only the labels differ, as a pod update must).
pub fn grid_pod(ns: &str, pod: &str, labels: &str) -> String {
    let node = if pod == "a" {
        "kind-worker"
    } else {
        "kind-worker2"
    };
    let web = if ns == "x" && pod != "c" {
        ", app: web"
    } else {
        ""
    };
    let mut t = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {pod}, namespace: \"{ns}\", labels: {{pod: {pod}{web}{labels}}}}}\nspec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 0\n  containers:\n"
    );
    for proto in ["tcp", "udp", "sctp"] {
        for port in [80, 81] {
            let cmd = match proto {
                "tcp" => {
                    format!("[/agnhost, serve-hostname, --tcp, --http=false, --port, \"{port}\"]")
                }
                "udp" => {
                    format!("[/agnhost, serve-hostname, --udp, --http=false, --port, \"{port}\"]")
                }
                _ => "[/agnhost, porter]".to_string(),
            };
            let env = if proto == "sctp" {
                format!("\n      env: [{{name: SERVE_SCTP_PORT_{port}, value: foo}}]")
            } else {
                String::new()
            };
            let _ = write!(
                t,
                "    - name: cont-{port}-{proto}\n      image: registry.k8s.io/e2e-test-images/agnhost:2.43\n      command: {cmd}{env}\n      ports: [{{name: serve-{port}-{proto}, containerPort: {port}, protocol: {}}}]\n",
                proto.to_uppercase()
            );
        }
    }
    t
}

/// The topology: nodes and namespaces, then the pods and Services of the probe grid and the
/// objects single cases use.
pub fn topology() -> String {
    let mut t = include_str!("topology.yaml").to_string();
    for ns in ["x", "y", "z"] {
        for pod in ["a", "b", "c"] {
            let _ = write!(t, "---\n{}", grid_pod(ns, pod, ""));
            let _ = write!(
                t,
                "---\napiVersion: v1\nkind: Service\nmetadata: {{name: s-{ns}-{pod}, namespace: \"{ns}\"}}\nspec:\n  selector: {{pod: {pod}}}\n  ports:\n"
            );
            for proto in ["tcp", "udp", "sctp"] {
                for port in [80, 81] {
                    let _ = writeln!(
                        t,
                        "    - {{name: service-port-{proto}-{port}, port: {port}, targetPort: {port}, protocol: {}}}",
                        proto.to_uppercase()
                    );
                }
            }
        }
    }
    t.push_str(include_str!("extras.yaml"));
    t
}

/// The pods of the probe grid.
pub fn grid_pods() -> Vec<PodId> {
    ["x", "y", "z"]
        .iter()
        .flat_map(|ns| ["a", "b", "c"].iter().map(move |p| PodId::new(*ns, *p)))
        .collect()
}

fn load_topology(profile: Profile) -> State {
    let m = manifest::parse_str("topology.yaml", &topology()).expect("the topology loads");
    let mut state = State::new(profile);
    m.apply(&mut state).expect("the topology applies");
    state
}

/// What a trace step of a case is for.
#[derive(Clone, Copy, Debug)]
enum Role {
    /// Applies or deletes the manifests of suite step `step`.
    Change { step: usize },
    /// Asks probe `probe` of suite step `step`.
    Probe { step: usize, probe: usize },
}

/// The trace operation that asks a probe: the connection primitive it names (rules 3.6, 6.1);
/// a client outside the cluster, and any destination but a pod or a Service's cluster address,
/// go by address.
fn probe_op(state: &State, p: &ProbeDef) -> Op {
    let to_address = || p.to.address(state).expect("a destination of the topology");
    match (&p.from, &p.to) {
        (Client::Pod(from), To::Pod(to)) => Op::OpenPodConnection {
            from: from.clone(),
            to: to.clone(),
            protocol: p.protocol,
            port: p.port,
        },
        (Client::Pod(from), To::Service(service)) => Op::OpenServiceConnection {
            from: from.clone(),
            service: service.clone(),
            protocol: p.protocol,
            port: p.port,
            backend: None,
        },
        (from, _) => {
            let to = to_address();
            let from = match from {
                Client::Pod(pod) => state
                    .pod_endpoint(pod, Some(&to))
                    .ok()
                    .and_then(|e| e.address().cloned())
                    .expect("a client of the topology has an address"),
                Client::Outside => outside(),
            };
            Op::OpenConnectionWithIpAddresses {
                from,
                to,
                protocol: p.protocol,
                port: p.port,
                backend: None,
            }
        }
    }
}

/// A case as a trace: each suite step's deletions and applications, then its probes as the
/// connection primitives they name; a held probe is opened once, at the first step that lists
/// it. `until` stops after the changes of that suite step. Probes by address resolve their
/// destination in the state as the step's changes leave it (a Service the case creates).
fn case_steps(case: &CaseDef, state: &State, until: Option<usize>) -> (Vec<TraceStep>, Vec<Role>) {
    let mut state = state.clone();
    let (mut steps, mut roles) = (Vec::new(), Vec::new());
    let mut opened = std::collections::BTreeSet::new();
    for (i, step) in case.steps.iter().enumerate() {
        for (text, delete) in [(&step.delete, true), (&step.apply, false)] {
            if text.is_empty() {
                continue;
            }
            let m = manifest::parse_str("step.yaml", text).expect("a case's manifest loads");
            if delete {
                m.delete(&mut state).expect("a case's deletion applies");
            } else {
                m.apply(&mut state).expect("a case's manifest applies");
            }
            let manifest = text.clone();
            let op = if delete {
                Op::Delete {
                    manifest,
                    file: None,
                }
            } else {
                Op::Apply {
                    manifest,
                    file: None,
                }
            };
            steps.push(TraceStep {
                op,
                expect: Observation::default(),
            });
            roles.push(Role::Change { step: i });
        }
        if until == Some(i) {
            break;
        }
        for (j, p) in case.probes(i).iter().enumerate() {
            if p.held && !opened.insert(p.key()) {
                continue;
            }
            steps.push(TraceStep {
                op: probe_op(&state, p),
                expect: Observation::default(),
            });
            roles.push(Role::Probe { step: i, probe: j });
        }
    }
    (steps, roles)
}

/// Every probe's verdict at every step of `case` under `profile`: the verdict, each backend's
/// where they differ, and the refusal that denied it (rule 6.18).
type Verdicts = Vec<Vec<(Expect, BTreeMap<String, Expect>, Option<String>)>>;

fn word_of(allowed: bool) -> Expect {
    if allowed {
        Expect::Allowed
    } else {
        Expect::Denied
    }
}

/// Replays `case` on the spec through the one replay loop ([`drive`]) and reads every probe's
/// verdict from the observations: `allowed`, or for a Service whose backends differ, each
/// backend's; a held connection is alive until an observation reports it `closed` (rules 2.2,
/// 7.4). With `until`, stops after that step's changes and returns the engine there.
fn run_case(case: &CaseDef, profile: Profile, until: Option<usize>) -> (SpecEngine, Verdicts) {
    let mut engine = SpecEngine {
        state: load_topology(profile),
    };
    let (steps, roles) = case_steps(case, &engine.state, until);
    let mut observed: Vec<Observation> = Vec::with_capacity(steps.len());
    drive(&mut engine, &steps, |r| {
        if matches!(roles[r.index], Role::Change { .. }) {
            assert!(
                r.observed.error.is_none(),
                "case {}: a change fails: {:?}",
                case.id,
                r.observed.error
            );
        }
        observed.push(r.observed);
        Flow::Continue
    });
    if until.is_some() {
        return (engine, Vec::new());
    }
    let mut out: Verdicts = (0..case.steps.len())
        .map(|i| vec![(Expect::Denied, BTreeMap::new(), None); case.probes(i).len()])
        .collect();
    // Held connections: the id each got, and whether it is still open, step by step.
    let mut held: BTreeMap<String, Option<ConnectionId>> = BTreeMap::new();
    let mut closed = std::collections::BTreeSet::new();
    let mut k = 0;
    for (i, out_step) in out.iter_mut().enumerate() {
        let probes = case.probes(i);
        let mut asked = std::collections::BTreeSet::new();
        // This step's trace steps: its changes, then its probes (roles are in that order).
        while k < roles.len() {
            let o = &observed[k];
            closed.extend(o.closed.iter().flatten().copied());
            match roles[k] {
                Role::Change { step } if step == i => {}
                Role::Probe { step, probe } if step == i => {
                    asked.insert(probe);
                    let p = &probes[probe];
                    if p.held {
                        held.insert(p.key(), o.connection);
                    }
                    out_step[probe] = match o.allowed {
                        Some(a) => (
                            word_of(a),
                            BTreeMap::new(),
                            o.refused.clone().filter(|_| !a),
                        ),
                        None => (
                            Expect::Either,
                            o.backends
                                .iter()
                                .flatten()
                                .map(|b| {
                                    let ok =
                                        o.allowed_backends.as_ref().is_some_and(|s| s.contains(b));
                                    (b.to_string(), word_of(ok))
                                })
                                .collect(),
                            None,
                        ),
                    };
                }
                // The next step's changes.
                _ => break,
            }
            k += 1;
        }
        // A held probe opened at an earlier step: alive unless reported closed since.
        for (j, p) in probes.iter().enumerate() {
            if p.held && !asked.contains(&j) {
                let id = held.get(&p.key()).copied().flatten();
                out_step[j] = (
                    word_of(id.is_some_and(|id| !closed.contains(&id))),
                    BTreeMap::new(),
                    None,
                );
            }
        }
    }
    (engine, out)
}

/// Generates the suite for `seed` under `profile`.
pub fn generate(seed: u64, profile: Profile) -> (SuiteFile, BTreeMap<String, String>) {
    let mut files = BTreeMap::new();
    files.insert("topology.yaml".to_string(), topology());
    let mut out = Vec::new();
    for case in cases(seed) {
        let (_, main) = run_case(&case, profile, None);
        let others: Vec<(String, Verdicts)> = profile
            .neighbours()
            .into_iter()
            .map(|(name, p)| (name, run_case(&case, p, None).1))
            .collect();
        let mut rules: Vec<String> = case.rules.iter().map(|r| r.to_string()).collect();
        let mut steps = Vec::new();
        for (i, step) in case.steps.iter().enumerate() {
            let apply = (!step.apply.is_empty()).then(|| {
                let name = format!("{}/step-{}-apply.yaml", case.id, i + 1);
                files.insert(name.clone(), step.apply.clone());
                name
            });
            let delete = (!step.delete.is_empty()).then(|| {
                let name = format!("{}/step-{}-delete.yaml", case.id, i + 1);
                files.insert(name.clone(), step.delete.clone());
                name
            });
            let probes = case
                .probes(i)
                .iter()
                .enumerate()
                .map(|(j, p)| {
                    let (expect, backends, refused) = main[i][j].clone();
                    let mut alternatives = Vec::new();
                    for (name, v) in &others {
                        if v[i][j].0 != expect {
                            alternatives.push(Alternative {
                                switch: name.clone(),
                                expect: v[i][j].0,
                            });
                            let switch = name.split('=').next().unwrap_or_default();
                            if let Some(s) = netsem_spec::profile::Profile::switch(switch) {
                                if !rules.iter().any(|r| r == s.rule) {
                                    rules.push(s.rule.to_string());
                                }
                            }
                        }
                    }
                    Probe {
                        from: p.from.clone(),
                        to: p.to.to_string(),
                        protocol: p.protocol,
                        port: p.protocol.is_kubernetes().then_some(p.port),
                        held: p.held,
                        expect,
                        backends,
                        alternatives,
                        // An ExternalName Service has no address to probe: how it fails
                        // is the runner's (DNS), not a proxy's.
                        failure: refused
                            .as_deref()
                            .filter(|r| *r != "external-name")
                            .map(failure_of),
                        refused,
                    }
                })
                .collect();
            steps.push(Step {
                description: step.description.to_string(),
                apply,
                delete,
                probes,
            });
        }
        rules.sort_by_key(|r| {
            let (a, b) = r.split_once('.').unwrap_or(("0", "0"));
            (a.parse::<u32>().unwrap_or(0), b.parse::<u32>().unwrap_or(0))
        });
        out.push(Case {
            id: case.id.to_string(),
            title: case.title.to_string(),
            rules,
            requires: case.requires.iter().map(|r| r.to_string()).collect(),
            steps,
        });
    }
    let suite = SuiteFile {
        netsem_suite: SUITE_VERSION,
        seed,
        profile,
        topology: "topology.yaml".into(),
        cases: out,
    };
    files.insert("suite.json".into(), render(&suite));
    (suite, files)
}

/// `suite.json` as written: one key a line down to the steps, each probe one line.
pub fn render(suite: &SuiteFile) -> String {
    let j = |v: &dyn erased::Json| v.json();
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"netsemSuite\": {},", suite.netsem_suite);
    let _ = writeln!(out, "  \"seed\": {},", suite.seed);
    let _ = writeln!(out, "  \"profile\": {},", j(&suite.profile));
    let _ = writeln!(out, "  \"topology\": {},", j(&suite.topology));
    out.push_str("  \"cases\": [\n");
    for (ci, c) in suite.cases.iter().enumerate() {
        out.push_str("    {\n");
        let _ = writeln!(out, "      \"id\": {},", j(&c.id));
        let _ = writeln!(out, "      \"title\": {},", j(&c.title));
        let _ = writeln!(out, "      \"rules\": {},", j(&c.rules));
        if !c.requires.is_empty() {
            let _ = writeln!(out, "      \"requires\": {},", j(&c.requires));
        }
        out.push_str("      \"steps\": [\n");
        for (si, s) in c.steps.iter().enumerate() {
            out.push_str("        {\n");
            let _ = writeln!(out, "          \"description\": {},", j(&s.description));
            if let Some(a) = &s.apply {
                let _ = writeln!(out, "          \"apply\": {},", j(a));
            }
            if let Some(d) = &s.delete {
                let _ = writeln!(out, "          \"delete\": {},", j(d));
            }
            out.push_str("          \"probes\": [\n");
            for (pi, p) in s.probes.iter().enumerate() {
                let comma = if pi + 1 < s.probes.len() { "," } else { "" };
                let _ = writeln!(out, "            {}{comma}", j(p));
            }
            out.push_str("          ]\n");
            let comma = if si + 1 < c.steps.len() { "," } else { "" };
            let _ = writeln!(out, "        }}{comma}");
        }
        out.push_str("      ]\n");
        let comma = if ci + 1 < suite.cases.len() { "," } else { "" };
        let _ = writeln!(out, "    }}{comma}");
    }
    out.push_str("  ]\n}\n");
    out
}

mod erased {
    /// Anything serde serialises, as compact JSON.
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).expect("serialisable")
        }
    }
}

/// Writes the suite's files under `dir`.
pub fn write(dir: &Path, files: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// One line of a results file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResultLine {
    /// The case id.
    pub case: String,
    /// The step, from 1.
    pub step: usize,
    /// The client: a pod, or `outside`.
    pub from: Client,
    /// As in the suite.
    pub to: String,
    /// As in the suite.
    pub protocol: Protocol,
    /// As in the suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `allowed`, `denied`, or `skipped` (not run).
    pub result: Observed,
    /// For `denied`, how it failed, when the runner can tell (`agnhost connect` prints
    /// `REFUSED` or `TIMEOUT`): checked against a probe's `failure` (rule 6.18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// What a probe did on the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    /// `agnhost connect` exited 0.
    Allowed,
    /// It exited 1 (timeout, refused, …).
    Denied,
    /// The probe was not run (a held probe the runner cannot hold, a case it cannot run).
    Skipped,
}

fn key(
    case: &str,
    step: usize,
    from: &Client,
    to: &str,
    protocol: Protocol,
    port: Option<u16>,
) -> String {
    format!(
        "{case} step {step}: {from} -> {to} {protocol}{}",
        port.map(|p| format!(" {p}")).unwrap_or_default()
    )
}

/// Reads the results: a file, or every `*.jsonl` of a directory, each with the version line.
/// What a results file says of one probe: where, the result, how a denial failed.
type Results = BTreeMap<String, (String, Observed, Option<Failure>)>;

fn read_results(path: &Path) -> Result<Results, String> {
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = BTreeMap::new();
    for file in files {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{shown}: {e}"))?;
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let header = lines.next().map(|(_, l)| l).unwrap_or_default();
        let version = serde_json::from_str::<serde_json::Value>(header)
            .ok()
            .and_then(|v| v.get("netsemSuiteResults").and_then(|v| v.as_u64()));
        if version != Some(RESULTS_VERSION) {
            return Err(format!(
                "{shown}: line 1: netsemSuiteResults: the first line must be {{\"netsemSuiteResults\":{RESULTS_VERSION}}}"
            ));
        }
        for (i, l) in lines {
            let de = &mut serde_json::Deserializer::from_str(l);
            let r: ResultLine = serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                let message = match message.rfind(" at line ") {
                    Some(k) => message[..k].to_string(),
                    None => message,
                };
                format!("{shown}: line {}: {path}: {message}", i + 1)
            })?;
            let k = key(&r.case, r.step, &r.from, &r.to, r.protocol, r.port);
            if out
                .insert(
                    k.clone(),
                    (format!("{shown}: line {}", i + 1), r.result, r.failure),
                )
                .is_some()
            {
                return Err(format!("{shown}: line {}: {k} appears twice", i + 1));
            }
        }
    }
    Ok(out)
}

/// Reads `DIR/suite.json`; errors name the file and the field.
pub fn load(dir: &Path) -> Result<SuiteFile, String> {
    let path = dir.join("suite.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let suite: SuiteFile = serde_path_to_error::deserialize(de)
        .map_err(|e| format!("{}: {}: {}", path.display(), e.path(), e.inner()))?;
    if suite.netsem_suite != SUITE_VERSION {
        return Err(format!(
            "{}: netsemSuite: this netsem reads version {SUITE_VERSION}, not {}",
            path.display(),
            suite.netsem_suite
        ));
    }
    Ok(suite)
}

/// `check --suite DIR --observed RESULTS`: every probe against its expectation; a probe that
/// matches a switch's alternative passes and is reported with the switch.
pub fn check(
    dir: &Path,
    results: &Path,
    out: &mut dyn std::io::Write,
) -> Result<(i32, JunitSuite), String> {
    let suite = load(dir)?;
    let observed = read_results(results)?;
    let defs: BTreeMap<String, CaseDef> = cases(suite.seed)
        .into_iter()
        .map(|c| (c.id.to_string(), c))
        .collect();
    let mut junit = JunitSuite::new("netsem.suite");
    junit
        .properties
        .push(("profile".into(), suite.profile.to_string()));
    junit
        .properties
        .push(("seed".into(), suite.seed.to_string()));
    let (mut agree, mut switched, mut wrong, mut missing, mut skipped) = (0, 0, 0, 0, 0);
    let mut failed_cases = 0;
    let mut seen = std::collections::BTreeSet::new();
    for case in &suite.cases {
        let mut failures = String::new();
        let mut notes = Vec::new();
        let mut case_skipped = 0;
        let mut probes = 0;
        for (i, step) in case.steps.iter().enumerate() {
            for p in &step.probes {
                probes += 1;
                let k = key(&case.id, i + 1, &p.from, &p.to, p.protocol, p.port);
                seen.insert(k.clone());
                let Some((_, got, failed)) = observed.get(&k) else {
                    missing += 1;
                    let _ = writeln!(failures, "MISSING {k}: no result; expected {:?}", p.expect);
                    continue;
                };
                let got_expect = match got {
                    Observed::Skipped => {
                        skipped += 1;
                        case_skipped += 1;
                        continue;
                    }
                    Observed::Allowed => Expect::Allowed,
                    Observed::Denied => Expect::Denied,
                };
                // Rule 6.18: a refusal the client should be told of, or should not.
                if let (Expect::Denied, Expect::Denied, Some(want), Some(got)) =
                    (p.expect, got_expect, p.failure, *failed)
                {
                    if want != got {
                        wrong += 1;
                        let _ = writeln!(
                            failures,
                            "WRONG {k}: expected denied by {} ({}), observed denied ({})",
                            p.refused.as_deref().unwrap_or("a refusal"),
                            failure_word(want),
                            failure_word(got)
                        );
                        continue;
                    }
                }
                if p.expect == got_expect || p.expect == Expect::Either {
                    agree += 1;
                    continue;
                }
                // Every switch that explains it: the implementation reads one of them so.
                let under: Vec<&str> = p
                    .alternatives
                    .iter()
                    .filter(|a| a.expect == got_expect)
                    .map(|a| a.switch.as_str())
                    .collect();
                if !under.is_empty() {
                    switched += 1;
                    notes.push(format!("{k}: as under {}", under.join(" or ")));
                    continue;
                }
                wrong += 1;
                let _ = writeln!(
                    failures,
                    "WRONG {k}: expected {}, observed {}",
                    word(p.expect),
                    word(got_expect)
                );
                // Why, from the spec at that step.
                if let (Some(def), Ok(to)) = (defs.get(&case.id), p.to.parse::<To>()) {
                    let (mut engine, _) = run_case(def, suite.profile, Some(i));
                    let target = match to {
                        To::Pod(q) => Target::Pod(q),
                        To::Service(s) => Target::Service(s),
                        other => match other.address(&engine.state) {
                            Some(a) => Target::Address(a),
                            None => continue,
                        },
                    };
                    let source = match &p.from {
                        Client::Pod(pod) => Source::Pod(pod.clone()),
                        Client::Outside => Source::Address(outside()),
                    };
                    if let Ok(e) = explain::explain(
                        &mut engine.state,
                        &source,
                        &target,
                        p.protocol,
                        p.port.unwrap_or(0),
                        &Default::default(),
                    ) {
                        for l in e.text.lines() {
                            let _ = writeln!(failures, "    {l}");
                        }
                    }
                }
            }
        }
        let name = format!("{}: {}", case.id, case.title);
        if failures.is_empty() {
            if case_skipped == probes && probes > 0 {
                junit.case(
                    name,
                    Outcome::Skipped(format!("{case_skipped} probe(s) skipped")),
                );
            } else {
                junit.case(name, Outcome::Pass);
            }
            for n in &notes {
                let _ = writeln!(out, "NOTE {n}");
            }
            continue;
        }
        failed_cases += 1;
        let _ = write!(out, "FAIL {}\n{failures}", case.id);
        for n in &notes {
            let _ = writeln!(out, "NOTE {n}");
        }
        junit.case(
            name,
            Outcome::Failure {
                kind: "ProbeMismatch".into(),
                message: format!(
                    "{} probe(s) wrong or missing",
                    failures.lines().filter(|l| !l.starts_with(' ')).count()
                ),
                text: failures,
            },
        );
    }
    let extra: Vec<&String> = observed.keys().filter(|k| !seen.contains(*k)).collect();
    for k in &extra {
        let _ = writeln!(
            out,
            "UNKNOWN {k}: the suite has no such probe ({})",
            observed[*k].0
        );
    }
    let summary = format!(
        "suite: {} case(s), {} failed; probes: {agree} agree, {switched} as under a profile switch, {wrong} wrong, {missing} missing, {skipped} skipped, {} unknown",
        suite.cases.len(),
        failed_cases,
        extra.len()
    );
    let _ = writeln!(out, "{summary}");
    junit.out = summary;
    let bad = wrong + missing + extra.len();
    Ok((if bad == 0 { 0 } else { 1 }, junit))
}

/// Rule 6.18: how the client sees a refusal: rejected ones are told, the others time out.
fn failure_of(refusal: &str) -> Failure {
    if matches!(refusal, "no-backends" | "no-service-port") {
        Failure::Refused
    } else {
        Failure::Timeout
    }
}

fn failure_word(f: Failure) -> &'static str {
    match f {
        Failure::Refused => "refused: the client is told",
        Failure::Timeout => "timeout: dropped, the client sees nothing",
    }
}

fn word(e: Expect) -> &'static str {
    match e {
        Expect::Allowed => "allowed",
        Expect::Denied => "denied",
        Expect::Either => "either",
    }
}

impl CaseDef {
    /// The probes of step `i`: the grid (over the grid pods that exist then) and the extras.
    pub fn probes(&self, i: usize) -> Vec<ProbeDef> {
        let step = &self.steps[i];
        let mut out = Vec::new();
        if let Some((port, protocol)) = step.grid {
            let pods: Vec<PodId> = grid_pods()
                .into_iter()
                .filter(|p| !self.deleted(i).contains(p))
                .collect();
            for from in &pods {
                for to in &pods {
                    out.push(ProbeDef {
                        from: Client::Pod(from.clone()),
                        to: To::Pod(to.clone()),
                        port,
                        protocol,
                        held: false,
                    });
                }
            }
        }
        out.extend(step.extra.iter().cloned());
        out
    }

    /// The grid pods deleted by step `i` (and not created again).
    fn deleted(&self, i: usize) -> Vec<PodId> {
        let mut gone = Vec::new();
        for s in &self.steps[..=i] {
            for p in &s.deletes_pods {
                gone.push(p.clone());
            }
            for p in &s.creates_pods {
                gone.retain(|g| g != p);
            }
        }
        gone
    }
}

impl ProbeDef {
    fn key(&self) -> String {
        format!(
            "{} -> {} {} {}",
            self.from, self.to, self.protocol, self.port
        )
    }
}

/// Results that agree with every expectation of `suite` (for tests and as a runner's template).
pub fn expected_results(suite: &SuiteFile) -> String {
    let mut out = format!("{{\"netsemSuiteResults\":{RESULTS_VERSION}}}\n");
    for case in &suite.cases {
        for (i, step) in case.steps.iter().enumerate() {
            for p in &step.probes {
                let result = match p.expect {
                    Expect::Denied => Observed::Denied,
                    _ => Observed::Allowed,
                };
                let line = ResultLine {
                    case: case.id.clone(),
                    step: i + 1,
                    from: p.from.clone(),
                    to: p.to.clone(),
                    protocol: p.protocol,
                    port: p.port,
                    result,
                    failure: p.failure,
                };
                out.push_str(&serde_json::to_string(&line).expect("a result line"));
                out.push('\n');
            }
        }
    }
    out
}
