//! `netsem check`: compare what another implementation observed with the semantics, listing
//! every disagreement with its explanation.

use super::explain::explain;
use super::{EXIT_BAD_INPUT, EXIT_DISAGREE, EXIT_OK};
use netsem_oracle::Oracle;
use netsem_spec::decision::{Source, Target};
use netsem_spec::matrix::{MatrixEntry, MatrixView};
use netsem_spec::trace::to_json;
use netsem_spec::{AllowedPorts, Engine, PortRanges, Profile, Protocol, SpecEngine, State, Trace};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Checks an observed matrix (jsonl) or trace against `state`, under `profile` when given, else
/// under an observed trace's own profile (or `default`).
pub fn check(
    mut state: State,
    observed: &Path,
    profile: Option<Profile>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, i32> {
    let text = std::fs::read_to_string(observed).map_err(|e| {
        let _ = writeln!(err, "error: {}: {e}", observed.display());
        EXIT_BAD_INPUT
    })?;
    let is_trace = text
        .lines()
        .any(|l| l.trim_start().starts_with("netsemTrace") || l.contains("\"netsemTrace\""));
    if is_trace {
        let trace = Trace::parse(&observed.display().to_string(), &text).map_err(|e| {
            let _ = writeln!(err, "error: {e}");
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
        return Ok(check_trace(state, &trace, out));
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
    Ok(check_matrix(state, &rows, out))
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
                    if let Ok((text, _)) = explain(
                        &mut state,
                        &Source::Pod(s.clone()),
                        &Target::Pod(d.clone()),
                        proto,
                        port,
                    ) {
                        for l in text.lines() {
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

/// Replays the observed trace on the spec, on top of the manifests, continuing after a
/// disagreement so that every one is listed.
fn check_trace(state: State, trace: &Trace, out: &mut dyn Write) -> i32 {
    let mut engine = SpecEngine { state };
    let mut disagreements = 0;
    for (i, step) in trace.steps.iter().enumerate() {
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
            if let Ok((text, _)) = explain(&mut before, &r.source, &r.target, r.protocol, r.port) {
                for l in text.lines() {
                    let _ = writeln!(out, "    {l}");
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "checked {} steps: {disagreements} disagreement(s)",
        trace.steps.len()
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
