//! `netsem check`: compare what another implementation observed with the semantics, listing
//! every disagreement with its explanation.

use super::explain::{self, explain};
use super::flows::{self, Class, Flow, ObservedFormat, Record, Scope, Verdict};
use super::junit::{Outcome, Suite};
use super::names;
use super::{EXIT_BAD_INPUT, EXIT_DISAGREE, EXIT_OK};
use netsem_oracle::Oracle;
use netsem_spec::decision::allocated::matrix_dependencies;
use netsem_spec::decision::connect::attempt;
use netsem_spec::decision::{Source, Target};
use netsem_spec::manifest::{read_stdin, Loaded, WorkloadRef, STDIN_NAME, STDIN_PATH};
use netsem_spec::matrix::{MatrixEntry, MatrixView};
use netsem_spec::trace::to_json;
use netsem_spec::trace::Step;
use netsem_spec::{
    Address, AllowedPorts, Decision, DirectionVerdict, Engine, Op, Opened, PodId, PolicyType,
    PortRanges, Profile, Protocol, Refusal, SpecCore, SpecEngine, State, Trace,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

/// How `check` reads and reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// The observation's format; detected from the content when `None`.
    pub format: Option<ObservedFormat>,
    /// Print what decided every judged flow, agreements included.
    pub attribute: bool,
}

/// Checks an observed matrix (jsonl), trace or flow log against `state`, under `profile` when
/// given, else under an observed trace's own profile (or `default`). Returns the exit code and
/// the JUnit suite of the check.
pub fn check(
    loaded: Loaded,
    observed: &Path,
    profile: Option<Profile>,
    options: Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(i32, Suite), i32> {
    let stdin = observed.as_os_str() == STDIN_PATH;
    let shown = if stdin {
        STDIN_NAME.to_string()
    } else {
        observed.display().to_string()
    };
    let read = if stdin {
        read_stdin()
    } else {
        std::fs::read_to_string(observed).map_err(|e| e.to_string())
    };
    let text = read.map_err(|e| {
        let _ = writeln!(err, "error: {shown}: {e}");
        EXIT_BAD_INPUT
    })?;
    let Loaded {
        mut state,
        allocated,
        workloads,
        ..
    } = loaded;
    let observed = Path::new(&shown);
    let format = options.format.unwrap_or_else(|| flows::detect(&text));
    if matches!(
        format,
        ObservedFormat::Hubble | ObservedFormat::FlowsJsonl | ObservedFormat::FlowsCsv
    ) {
        let records = flows::read(&text, format).map_err(|e| {
            let _ = writeln!(err, "error: {shown}: {e}");
            EXIT_BAD_INPUT
        })?;
        return Ok(check_flows(state, &records, options.attribute, out));
    }
    if format == ObservedFormat::Trace {
        let trace = Trace::parse(&shown, &text).map_err(|e| {
            let _ = writeln!(err, "error: {e}");
            EXIT_BAD_INPUT
        })?;
        let steps = expand_workloads(&trace.steps, &state, &workloads).map_err(|e| {
            let _ = writeln!(err, "error: {shown}: {e}");
            EXIT_BAD_INPUT
        })?;
        let own = trace.profile();
        match profile {
            Some(p) if trace.profile.is_some() && p != own => {
                let _ = writeln!(
                    err,
                    "note: --profile {p} overrides the trace's profile {own}"
                );
                state.set_profile(p);
            }
            Some(p) => state.set_profile(p),
            None => state.set_profile(own),
        }
        return Ok(check_trace(state, &trace, &steps, out));
    }
    let mut rows: BTreeMap<(String, String), (usize, AllowedPorts)> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: MatrixEntry = serde_json::from_str(line).map_err(|e| {
            let _ = writeln!(
                err,
                "error: {}: line {}: not a matrix entry: {e}",
                observed.display(),
                i + 1
            );
            EXIT_BAD_INPUT
        })?;
        // Checked on the raw line: reading into PortRanges would drop a reversed range.
        let raw: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let bad_range = ["TCP", "UDP", "SCTP"]
            .iter()
            .filter_map(|p| raw.get("allowed")?.get(p)?.as_array())
            .flatten()
            .filter_map(|r| Some((r.get(0)?.as_u64()?, r.get(1)?.as_u64()?)))
            .find(|&(a, b)| a == 0 || a > b);
        if let Some((a, b)) = bad_range {
            let _ = writeln!(
                err,
                "error: {}: line {}: port range [{a},{b}] is not within 1-65535 in order",
                observed.display(),
                i + 1
            );
            return Err(EXIT_BAD_INPUT);
        }
        if rows
            .insert(
                (entry.src.to_string(), entry.dst.to_string()),
                (i + 1, entry.allowed),
            )
            .is_some()
        {
            let _ = writeln!(
                err,
                "error: {}: line {}: pair {} -> {} appears twice",
                observed.display(),
                i + 1,
                entry.src,
                entry.dst
            );
            return Err(EXIT_BAD_INPUT);
        }
    }
    for d in matrix_dependencies(&state, &allocated) {
        let _ = writeln!(
            err,
            "warning: {} cell(s) of the semantics' matrix depend on {}, the address netsem \
             allocated to pod {} (its manifest gives no status.podIPs): an ipBlock is evaluated \
             against it, e.g. {} -> {} [rule 9.13]",
            d.cells, d.address, d.pod, d.example.0, d.example.1
        );
    }
    Ok(check_matrix(state, &rows, out))
}

/// Rule 9.10: a step whose pod is a workload (`ns/name[Kind]`, or `ns/kind/name`, which an
/// observed trace can only write where a field is free text) stands for one step per pod of
/// it (per pair, when both ends are workloads), with the same expectation.
fn expand_workloads(
    steps: &[Step],
    state: &State,
    workloads: &BTreeMap<PodId, WorkloadRef>,
) -> Result<Vec<(usize, Step)>, String> {
    let each = |p: &PodId, i: usize| -> Result<Vec<PodId>, String> {
        if state.pod(p).is_some() || !p.name.ends_with(']') {
            return Ok(vec![p.clone()]);
        }
        names::pods(&p.to_string(), state, workloads).map_err(|e| format!("steps[{i}]: {e}"))
    };
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let mut ops = vec![step.op.clone()];
        macro_rules! spread {
            ($field:ident) => {{
                let mut next = Vec::new();
                for op in ops {
                    let pods = match &op {
                        Op::OpenPodConnection { $field, .. }
                        | Op::AllowNewConnectionToPod { $field, .. }
                        | Op::AllowNewConnectionFromPod { $field, .. } => each($field, i)?,
                        _ => {
                            next.push(op);
                            continue;
                        }
                    };
                    for p in pods {
                        let mut o = op.clone();
                        match &mut o {
                            Op::OpenPodConnection { $field, .. }
                            | Op::AllowNewConnectionToPod { $field, .. }
                            | Op::AllowNewConnectionFromPod { $field, .. } => *$field = p,
                            _ => unreachable!(),
                        }
                        next.push(o);
                    }
                }
                ops = next;
            }};
        }
        spread!(from);
        spread!(to);
        let mut more = Vec::new();
        for op in ops {
            match op {
                Op::OpenServiceConnection {
                    from,
                    service,
                    protocol,
                    port,
                    backend,
                } => {
                    for p in each(&from, i)? {
                        more.push(Op::OpenServiceConnection {
                            from: p,
                            service: service.clone(),
                            protocol,
                            port,
                            backend: backend.clone(),
                        });
                    }
                }
                Op::AllowNewConnectionFromIpAddress {
                    from,
                    to,
                    protocol,
                    port,
                } => {
                    for p in each(&to, i)? {
                        more.push(Op::AllowNewConnectionFromIpAddress {
                            from: from.clone(),
                            to: p,
                            protocol,
                            port,
                        });
                    }
                }
                Op::AllowNewConnectionToIpAddress {
                    from,
                    to,
                    protocol,
                    port,
                } => {
                    for p in each(&from, i)? {
                        more.push(Op::AllowNewConnectionToIpAddress {
                            from: p,
                            to: to.clone(),
                            protocol,
                            port,
                        });
                    }
                }
                other => more.push(other),
            }
        }
        if more.len() > 1 && (step.expect.connection.is_some() || step.expect.backend.is_some()) {
            return Err(format!(
                "steps[{i}]: names a workload of several pods, so it cannot expect one \
                 connection id or backend"
            ));
        }
        out.extend(more.into_iter().map(|op| {
            (
                i,
                Step {
                    op,
                    expect: step.expect.clone(),
                },
            )
        }));
    }
    Ok(out)
}

fn check_matrix(
    mut state: State,
    rows: &BTreeMap<(String, String), (usize, AllowedPorts)>,
    out: &mut dyn Write,
) -> (i32, Suite) {
    let mut suite = Suite::new("netsem.check.matrix");
    // One test case per source pod: its row of the matrix.
    let mut row_failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let oracle = Oracle::from_state(state.clone());
    let m = oracle.compressed_matrix();
    let pods = m.pods();
    let mut disagreements = 0;
    let mut seen = 0;
    for (i, s) in pods.iter().enumerate() {
        for (j, d) in pods.iter().enumerate() {
            let expected = m.cell(i, j);
            let Some((line, got)) = rows.get(&(s.to_string(), d.to_string())) else {
                disagreements += 1;
                let line = format!(
                    "MISSING {s} -> {d}: no observation; the semantics allows {}",
                    super::format::describe(expected)
                );
                let _ = writeln!(out, "{line}");
                row_failures.entry(s.to_string()).or_default().push(line);
                continue;
            };
            seen += 1;
            for proto in Protocol::PORTED {
                let (e, g) = (expected.get(proto), got.get(proto));
                if e == g {
                    continue;
                }
                let extra = minus(g, e);
                let missing = minus(e, g);
                for (what, set) in [
                    ("observed allowed, semantics DENIES", extra),
                    ("observed denied, semantics ALLOWS", missing),
                ] {
                    if set.is_empty() {
                        continue;
                    }
                    disagreements += 1;
                    let port = set.ranges()[0].0;
                    let text = format!("DISAGREE line {line}: {s} -> {d} {proto} {set}: {what}");
                    let _ = writeln!(out, "{text}");
                    row_failures.entry(s.to_string()).or_default().push(text);
                    if let Ok(e) = explain(
                        &mut state,
                        &Source::Pod(s.clone()),
                        &Target::Pod(d.clone()),
                        proto,
                        port,
                        &Default::default(),
                    ) {
                        for l in e.text.lines() {
                            let _ = writeln!(out, "    {l}");
                        }
                    }
                }
            }
        }
    }
    for ((s, d), (line, _)) in rows {
        let known = |name: &str| pods.iter().any(|p| p.to_string() == *name);
        if !known(s) || !known(d) {
            disagreements += 1;
            let text = format!("UNKNOWN line {line}: {s} -> {d}: no such pod in the manifests");
            let _ = writeln!(out, "{text}");
            row_failures.entry(s.clone()).or_default().push(text);
        }
    }
    let summary = format!(
        "checked {seen} of {} pairs: {disagreements} disagreement(s)",
        pods.len() * pods.len()
    );
    let _ = writeln!(out, "{summary}");
    let mut names: Vec<String> = pods.iter().map(ToString::to_string).collect();
    names.extend(
        row_failures
            .keys()
            .filter(|k| !names.contains(k))
            .cloned()
            .collect::<Vec<_>>(),
    );
    for src in names {
        let outcome = match row_failures.get(&src) {
            None => Outcome::Pass,
            Some(lines) => Outcome::Failure {
                kind: "Disagreement".into(),
                message: format!("{} disagreement(s) in the row of {src}", lines.len()),
                text: lines.join("\n"),
            },
        };
        suite.case(format!("from {src}"), outcome);
    }
    suite.out = summary;
    (
        if disagreements == 0 {
            EXIT_OK
        } else {
            EXIT_DISAGREE
        },
        suite,
    )
}

/// How one judged flow came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Judged {
    /// The plugin did what the semantics says.
    Agree,
    /// Allowed by the plugin, denied by the semantics.
    Security,
    /// Denied by the plugin, allowed by the semantics.
    Outage,
    /// An address or name that maps to nothing the manifests know, or traffic NetworkPolicy
    /// says nothing of.
    Unknown,
    /// Through a Service whose possible backends disagree, and the flow does not say which.
    Undecided,
}

impl Judged {
    const ALL: [Judged; 5] = [
        Judged::Agree,
        Judged::Security,
        Judged::Outage,
        Judged::Unknown,
        Judged::Undecided,
    ];

    fn word(self) -> &'static str {
        match self {
            Judged::Agree => "AGREE",
            Judged::Security => "SECURITY",
            Judged::Outage => "OUTAGE",
            Judged::Unknown => "UNKNOWN",
            Judged::Undecided => "UNDECIDED",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Judged::Agree => "agree",
            Judged::Security => "security",
            Judged::Outage => "outage",
            Judged::Unknown => "unknown",
            Judged::Undecided => "undecided",
        }
    }
}

/// One end of a flow: the pod the plugin named, if the manifests have it, else the address.
fn flow_end(state: &State, name: Option<&PodId>, address: &Address) -> Result<End, String> {
    match name {
        Some(p) if state.pod(p).is_some() => Ok(End::Pod(p.clone())),
        Some(p) => Err(format!("pod {p} is not in the manifests")),
        None => Ok(End::Address(address.clone())),
    }
}

enum End {
    Pod(PodId),
    Address(Address),
}

fn end_text(state: &State, name: Option<&PodId>, address: &Address) -> String {
    match name {
        Some(p) => format!("{p} ({address})"),
        None => match state.addresses().get(address) {
            Some(netsem_spec::AddressOwner::Pod { pod, .. }) => format!("{pod} ({address})"),
            Some(owner) => format!("{owner} ({address})"),
            None => address.to_string(),
        },
    }
}

fn scope_text(scope: Scope) -> &'static str {
    match scope {
        Scope::Connection => "connection",
        Scope::Egress => "egress",
        Scope::Ingress => "ingress",
    }
}

fn scope_direction(scope: Scope) -> Option<PolicyType> {
    match scope {
        Scope::Connection => None,
        Scope::Egress => Some(PolicyType::Egress),
        Scope::Ingress => Some(PolicyType::Ingress),
    }
}

/// Whether the part of the connection a record is evidence of is allowed by `d`: the whole
/// connection, or one filter (its exemption holds for each filter alone, rule 5.4; a refusal
/// counts only when it is about that filter's end, or the route).
fn scope_allows<V>(d: &Decision<V>, scope: Scope, allows: impl Fn(&V) -> bool) -> bool {
    let refused = |end: Option<&PodId>| match &d.refusal {
        None => false,
        Some(Refusal::NotRunning { pod }) => Some(pod) == end,
        Some(_) => true,
    };
    let filter = |v: &Option<V>, end| {
        !refused(end) && (d.exemption.is_some() || v.as_ref().is_none_or(&allows))
    };
    match scope {
        Scope::Connection => d.allowed,
        Scope::Egress => filter(&d.egress, d.source.pod()),
        Scope::Ingress => filter(&d.ingress, d.destination.pod()),
    }
}

/// What the semantics says of the part of the connection the record is evidence of, decided by
/// the oracle: `None` when it depends on a Service backend nobody named.
/// What the semantics says of the record's scope; where tied admin policies leave it to the
/// implementation (rule 11.6), whatever the plugin did is right.
fn semantics_verdict(
    opened: &Opened<netsem_oracle::IndexVerdict>,
    scope: Scope,
    plugin: bool,
) -> Option<bool> {
    match &opened.decision {
        Some(d) => {
            let tied = match scope {
                Scope::Connection => !d.ties.is_empty(),
                Scope::Egress => d.egress.as_ref().is_some_and(|v| v.outcome.tied()),
                Scope::Ingress => d.ingress.as_ref().is_some_and(|v| v.outcome.tied()),
            };
            if tied {
                return Some(plugin);
            }
            Some(scope_allows(d, scope, |v| v.outcome.allowed()))
        }
        None => opened.allowed,
    }
}

/// The single profile switches (`Profile::neighbours`) under which the semantics would say what
/// the plugin did about the record's scope. The state's profile is restored.
fn switches_making_right(
    state: &mut State,
    d: &Decision,
    scope: Scope,
    plugin: bool,
) -> Vec<String> {
    let profile = *state.profile();
    let mut out = Vec::new();
    for (name, other) in profile.neighbours() {
        state.set_profile(other);
        let again = state.decide(
            &d.source,
            &d.destination,
            d.protocol,
            d.port,
            d.service.as_ref(),
        );
        if scope_allows(&again, scope, DirectionVerdict::allowed) == plugin {
            out.push(name);
        }
    }
    state.set_profile(profile);
    out
}

/// Judges every flow record: decided by the oracle (no state is copied per flow), explained by
/// the spec only where it disagrees or `--attribute` asks.
pub(crate) fn check_flows(
    state: State,
    records: &[Record],
    attribute: bool,
    out: &mut dyn Write,
) -> (i32, Suite) {
    let oracle = Oracle::from_state(state);
    let mut spec = oracle.state().clone();
    let mut judged: BTreeMap<Judged, Vec<String>> = BTreeMap::new();
    let mut classes: BTreeMap<Class, (usize, u64)> = BTreeMap::new();
    // Ends the plugin did not name whose address maps to nothing: judged as the outside.
    let mut unmapped: std::collections::BTreeSet<Address> = std::collections::BTreeSet::new();
    for record in records {
        let flow = match record {
            Record::Flow(f) => f,
            Record::Classified {
                line,
                class,
                detail,
                count,
            } => {
                let e = classes.entry(*class).or_default();
                e.0 += 1;
                e.1 += count;
                if *class == Class::Lost {
                    let _ = writeln!(
                        out,
                        "LOST line {line}: {detail}: missing evidence proves nothing"
                    );
                }
                continue;
            }
        };
        let (verdict, text) = judge_flow(&oracle, &mut spec, flow, attribute);
        if verdict != Judged::Unknown {
            for (name, address) in [(&flow.src_name, &flow.src), (&flow.dst_name, &flow.dst)] {
                if name.is_none() && spec.addresses().get(address).is_none() {
                    unmapped.insert(address.clone());
                }
            }
        }
        if let Some(text) = &text {
            let _ = write!(out, "{text}");
        }
        judged
            .entry(verdict)
            .or_default()
            .push(text.unwrap_or_default());
    }
    let count = |j: Judged| judged.get(&j).map_or(0, Vec::len);
    let total: usize = judged.values().map(Vec::len).sum();
    let summary = format!(
        "{total} connection attempt(s): {} agree, {} security finding(s), {} outage(s), {} unknown, {} undecided\nnot judged: {}",
        count(Judged::Agree),
        count(Judged::Security),
        count(Judged::Outage),
        count(Judged::Unknown),
        count(Judged::Undecided),
        Class::ALL
            .iter()
            .map(|c| {
                let (n, events) = classes.get(c).copied().unwrap_or_default();
                if *c == Class::Lost {
                    format!("{n} {} ({events} events)", c.name())
                } else {
                    format!("{n} {}", c.name())
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let listed: Vec<String> = unmapped.iter().take(10).map(ToString::to_string).collect();
    let summary = format!(
        "{summary}\naddresses no manifest maps, judged as outside the cluster [rule 3.6]: {}{}{}",
        unmapped.len(),
        if listed.is_empty() { "" } else { ": " },
        listed.join(", ") + if unmapped.len() > 10 { ", …" } else { "" }
    );
    let _ = writeln!(out, "{summary}");
    let mut suite = Suite::new("netsem.check.flows");
    for j in Judged::ALL {
        let n = count(j);
        let details = || {
            let texts = &judged[&j];
            let mut t: String = texts.iter().take(100).map(String::as_str).collect();
            if texts.len() > 100 {
                let _ = writeln!(t, "... and {} more", texts.len() - 100);
            }
            t
        };
        let outcome = match j {
            _ if n == 0 => Outcome::Pass,
            Judged::Agree => Outcome::Pass,
            Judged::Security => Outcome::Failure {
                kind: "SecurityFinding".into(),
                message: format!("{n} flow(s) allowed by the plugin, denied by the semantics"),
                text: details(),
            },
            Judged::Outage => Outcome::Failure {
                kind: "Outage".into(),
                message: format!("{n} flow(s) denied by the plugin, allowed by the semantics"),
                text: details(),
            },
            Judged::Unknown => {
                Outcome::Skipped(format!("{n} flow(s) whose ends map to nothing known"))
            }
            Judged::Undecided => Outcome::Skipped(format!(
                "{n} flow(s) through a Service whose backends disagree"
            )),
        };
        suite.case(j.name(), outcome);
    }
    for c in Class::ALL {
        let (n, _) = classes.get(&c).copied().unwrap_or_default();
        let outcome = if n == 0 {
            Outcome::Pass
        } else {
            Outcome::Skipped(format!("{n} record(s) classified {}, not judged", c.name()))
        };
        suite.case(format!("{} (not judged)", c.name()), outcome);
    }
    suite.out = summary;
    let code = if count(Judged::Security) + count(Judged::Outage) == 0 {
        EXIT_OK
    } else {
        EXIT_DISAGREE
    };
    (code, suite)
}

/// Judges one flow; returns its class and the text to print (disagreements, unknown and
/// undecided flows always; agreements with `attribute`).
fn judge_flow(
    oracle: &Oracle,
    spec: &mut State,
    flow: &Flow,
    attribute: bool,
) -> (Judged, Option<String>) {
    // How the flow is named in the report; made only for flows that are printed.
    let what = |spec: &State| {
        format!(
            "line {}: {} -> {} {}",
            flow.line,
            end_text(spec, flow.src_name.as_ref(), &flow.src),
            end_text(spec, flow.dst_name.as_ref(), &flow.dst),
            if flow.protocol.is_kubernetes() {
                format!("{} {}", flow.protocol, flow.port)
            } else {
                flow.protocol.to_string()
            }
        )
    };
    let ends = flow_end(spec, flow.src_name.as_ref(), &flow.src)
        .and_then(|s| Ok((s, flow_end(spec, flow.dst_name.as_ref(), &flow.dst)?)));
    let (source, target) = match ends {
        Ok((s, d)) => (
            match s {
                End::Pod(p) => Source::Pod(p),
                End::Address(a) => Source::Address(a),
            },
            match d {
                End::Pod(p) => Target::Pod(p),
                End::Address(a) => Target::Address(a),
            },
        ),
        Err(why) => {
            return (
                Judged::Unknown,
                Some(format!("UNKNOWN {}: {why}\n", what(spec))),
            )
        }
    };
    let opened = match attempt(
        oracle.state(),
        oracle.core(),
        &source,
        &target,
        flow.protocol,
        flow.port,
        None,
    ) {
        Ok(o) => o,
        Err(e) => {
            let why = if e.kind == netsem_spec::ErrorKind::NoPodEndpoint {
                "neither end is a pod the manifests know: NetworkPolicy says nothing of it [rule 3.6]".to_string()
            } else {
                e.message
            };
            return (
                Judged::Unknown,
                Some(format!("UNKNOWN {}: {why}\n", what(spec))),
            );
        }
    };
    let plugin = flow.verdict == Verdict::Allowed;
    let Some(semantics) = semantics_verdict(&opened, flow.scope, plugin) else {
        return (
            Judged::Undecided,
            Some(format!(
                "UNDECIDED {}: the Service's possible backends are decided differently and the flow does not say which was picked [rule 6.1]\n",
                what(spec)
            )),
        );
    };
    let judged = match (plugin, semantics) {
        (a, b) if a == b => Judged::Agree,
        (true, false) => Judged::Security,
        _ => Judged::Outage,
    };
    if judged == Judged::Agree && !attribute {
        return (judged, None);
    }
    // The spec's own decision, for the explanation: the same primitive with the reference core.
    let spec_opened = match attempt(
        spec,
        &SpecCore,
        &source,
        &target,
        flow.protocol,
        flow.port,
        None,
    ) {
        Ok(o) => o,
        // The oracle decided the same request: an error here is the engines disagreeing.
        Err(e) => {
            return (
                judged,
                Some(format!("{} {}: {}\n", judged.word(), what(spec), e.message)),
            )
        }
    };
    let attribution = spec_opened
        .decision
        .as_ref()
        .map(|d| {
            let a = explain::deciding(d);
            a.about(scope_direction(flow.scope))
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_else(|| match &spec_opened.refusal {
            Some(r) => format!("refused by the Service: {r:?} [rules 6.2-6.10]"),
            None => "every possible backend of the Service denies it [rule 6.1]".into(),
        });
    let words = |allowed: bool| if allowed { "allowed" } else { "denied" };
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{} {}: the plugin {} it ({}, {}), the semantics {}: {attribution}",
        judged.word(),
        what(spec),
        words(plugin),
        flow.said,
        scope_text(flow.scope),
        if semantics { "allows" } else { "denies" },
    );
    if !flow.plugin_policies.is_empty() {
        let _ = writeln!(text, "    the plugin: {}", flow.plugin_policies.join("; "));
    }
    if judged != Judged::Agree {
        if let Some(d) = &spec_opened.decision {
            let switches = switches_making_right(spec, d, flow.scope, plugin);
            let _ = writeln!(
                text,
                "    would make the plugin right: {}",
                if switches.is_empty() {
                    "no single profile switch".to_string()
                } else {
                    switches.join(", ")
                }
            );
        }
    }
    if judged != Judged::Agree {
        if let Ok(e) = explain(
            spec,
            &source,
            &target,
            flow.protocol,
            flow.port,
            &Default::default(),
        ) {
            for l in e.text.lines() {
                let _ = writeln!(text, "    {l}");
            }
        }
    }
    (judged, Some(text))
}

fn minus(a: &PortRanges, b: &PortRanges) -> PortRanges {
    let mut out = Vec::new();
    for &(lo, hi) in a.ranges() {
        let mut start = u32::from(lo);
        for &(blo, bhi) in b.ranges() {
            let (blo, bhi) = (u32::from(blo), u32::from(bhi));
            if bhi < start || blo > u32::from(hi) {
                continue;
            }
            if blo > start {
                out.push((start as u16, (blo - 1) as u16));
            }
            start = start.max(bhi + 1);
        }
        if start <= u32::from(hi) {
            out.push((start as u16, hi));
        }
    }
    PortRanges::from_ranges(out)
}

/// Replays the observed steps (each with the number of the trace's step it comes from) on the
/// spec, on top of the manifests, continuing after a disagreement so that every one is listed.
fn check_trace(
    state: State,
    trace: &Trace,
    steps: &[(usize, Step)],
    out: &mut dyn Write,
) -> (i32, Suite) {
    let mut suite = Suite::new("netsem.check.trace");
    let mut engine = SpecEngine { state };
    let mut disagreements = 0;
    for (i, step) in steps {
        let mut before = engine.state.clone();
        let observed = engine.execute(&step.op);
        let fields = step.expect.mismatches(&observed);
        let name = format!("{} step {i}: {}", trace.name, step.op.name());
        if fields.is_empty() {
            suite.case(name, Outcome::Pass);
            continue;
        }
        disagreements += 1;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "DISAGREE step {i} in {}: {}",
            fields.join(", "),
            to_json(&step.op)
        );
        let _ = writeln!(
            text,
            "    observed by the implementation: {}",
            to_json(&step.expect)
        );
        let _ = writeln!(
            text,
            "    the semantics:                  {}",
            to_json(&observed)
        );
        if let Some(r) = step.op.request() {
            if let Ok(e) = explain(
                &mut before,
                &r.source,
                &r.target,
                r.protocol,
                r.port,
                &Default::default(),
            ) {
                for l in e.text.lines() {
                    let _ = writeln!(text, "    {l}");
                }
            }
        }
        let _ = write!(out, "{text}");
        suite.case(
            name,
            Outcome::Failure {
                kind: "Disagreement".into(),
                message: format!("step {i} disagrees in {}", fields.join(", ")),
                text,
            },
        );
    }
    let summary = format!(
        "checked {} steps: {disagreements} disagreement(s)",
        trace.steps.len()
    );
    let _ = writeln!(out, "{summary}");
    suite.out = summary;
    (
        if disagreements == 0 {
            EXIT_OK
        } else {
            EXIT_DISAGREE
        },
        suite,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_subtracts_ranges() {
        let a = PortRanges::from_ranges([(1, 100), (200, 300)]);
        let b = PortRanges::from_ranges([(50, 60), (100, 250)]);
        assert_eq!(minus(&a, &b).ranges(), &[(1, 49), (61, 99), (251, 300)]);
        assert!(minus(&b, &PortRanges::all()).is_empty());
        assert_eq!(
            minus(&PortRanges::all(), &PortRanges::none()),
            PortRanges::all()
        );
    }
}
