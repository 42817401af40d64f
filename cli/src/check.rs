//! `netsem check`: compare what another implementation observed with the semantics, listing
//! every disagreement with its explanation.

use super::explain::explain;
use super::names;
use super::{EXIT_BAD_INPUT, EXIT_DISAGREE, EXIT_OK};
use netsem_oracle::Oracle;
use netsem_spec::decision::allocated::matrix_dependencies;
use netsem_spec::decision::{Source, Target};
use netsem_spec::manifest::{read_stdin, Loaded, WorkloadRef, STDIN_NAME, STDIN_PATH};
use netsem_spec::matrix::{MatrixEntry, MatrixView};
use netsem_spec::trace::to_json;
use netsem_spec::trace::Step;
use netsem_spec::{
    AllowedPorts, Engine, Op, PodId, PortRanges, Profile, Protocol, SpecEngine, State, Trace,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Checks an observed matrix (jsonl) or trace against `state`, under `profile` when given, else
/// under an observed trace's own profile (or `default`).
pub fn check(
    loaded: Loaded,
    observed: &Path,
    profile: Option<Profile>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, i32> {
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
    let is_trace = text
        .lines()
        .any(|l| l.trim_start().starts_with("netsemTrace") || l.contains("\"netsemTrace\""));
    if is_trace {
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
        return Ok(check_trace(state, &steps, trace.steps.len(), out));
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
) -> i32 {
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
                let _ = writeln!(
                    out,
                    "MISSING {s} -> {d}: no observation; the semantics allows {}",
                    super::format::describe(expected)
                );
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
                    let _ = writeln!(
                        out,
                        "DISAGREE line {line}: {s} -> {d} {proto} {set}: {what}"
                    );
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
            let _ = writeln!(
                out,
                "UNKNOWN line {line}: {s} -> {d}: no such pod in the manifests"
            );
        }
    }
    let _ = writeln!(
        out,
        "checked {seen} of {} pairs: {disagreements} disagreement(s)",
        pods.len() * pods.len()
    );
    if disagreements == 0 {
        EXIT_OK
    } else {
        EXIT_DISAGREE
    }
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
fn check_trace(state: State, steps: &[(usize, Step)], count: usize, out: &mut dyn Write) -> i32 {
    let mut engine = SpecEngine { state };
    let mut disagreements = 0;
    for (i, step) in steps {
        let mut before = engine.state.clone();
        let observed = engine.execute(&step.op);
        let fields = step.expect.mismatches(&observed);
        if fields.is_empty() {
            continue;
        }
        disagreements += 1;
        let _ = writeln!(
            out,
            "DISAGREE step {i} in {}: {}",
            fields.join(", "),
            to_json(&step.op)
        );
        let _ = writeln!(
            out,
            "    observed by the implementation: {}",
            to_json(&step.expect)
        );
        let _ = writeln!(
            out,
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
                    let _ = writeln!(out, "    {l}");
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "checked {} steps: {disagreements} disagreement(s)",
        count
    );
    if disagreements == 0 {
        EXIT_OK
    } else {
        EXIT_DISAGREE
    }
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
