//! The fuzzers' judges, callable without libFuzzer: each takes the fuzzer's bytes and returns
//! `Err` with a report when the run was wrong. `fuzz/fuzz_targets/*` are one call each, and
//! `tests/fuzz_regressions.rs` replays every saved input through the same functions on stable.

use crate::generators::scenario_from_bytes;
use crate::oracles::lockstep;
use arbitrary::Unstructured;
use netsem_model::universe::{Attempt, Target};
use netsem_model::{model, Fault, Universe};
use netsem_oracle::Oracle;
use netsem_spec::matrix::MatrixView;
use netsem_spec::{Engine, Op, Protocol, SpecEngine, State};
use stateright::{Checker, Model};

/// Inputs larger than this are cut: nothing a fuzzer feeds may grow without bound.
pub const MAX_INPUT: usize = 64 * 1024;

fn cap(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(MAX_INPUT)]
}

/// `diff_trace`: a random profile and operation sequence; spec and oracle must observe the same
/// at every step.
pub fn diff_trace(bytes: &[u8]) -> Result<(), String> {
    let s = scenario_from_bytes(cap(bytes), 80);
    let mut oracle = Oracle::new(s.profile);
    lockstep(s.profile, &s.ops, &mut oracle)
        .map(|_| ())
        .map_err(|m| m.to_string())
}

/// `diff_matrix`: after a random scenario, the spec's matrix and the oracle's must be identical,
/// and the oracle's single decisions must agree with its matrix at every range boundary.
pub fn diff_matrix(bytes: &[u8]) -> Result<(), String> {
    let s = scenario_from_bytes(cap(bytes), 40);
    let spec =
        lockstep(s.profile, &s.ops, &mut Oracle::new(s.profile)).map_err(|m| m.to_string())?;
    let oracle = Oracle::from_state(spec.state.clone());
    let expected = spec.state.matrix();
    let got = oracle.compressed_matrix();
    let pods = got.pods().to_vec();
    if expected.pods != pods {
        return Err(format!(
            "pods differ: spec {:?}, oracle {:?}",
            expected.pods, pods
        ));
    }
    for (i, src) in pods.iter().enumerate() {
        for (j, dst) in pods.iter().enumerate() {
            let cell = got.cell(i, j);
            if expected.cell(i, j) != cell {
                return Err(format!(
                    "matrix cell differs under {}:\n spec   {}\n oracle {}\nops: {}",
                    s.profile,
                    netsem_spec::matrix::json_line(src, dst, expected.cell(i, j)),
                    netsem_spec::matrix::json_line(src, dst, cell),
                    netsem_spec::trace::to_json(&s.ops)
                ));
            }
            let (Some(a), Some(b)) = (oracle.pod_ref(src), oracle.pod_ref(dst)) else {
                continue;
            };
            let mut ports: Vec<u16> = vec![1, u16::MAX];
            for &(lo, hi) in cell.tcp.ranges() {
                ports.extend([lo, hi, lo.saturating_sub(1).max(1), hi.saturating_add(1)]);
            }
            for port in ports {
                if oracle.decide_pods(a, b, Protocol::Tcp, port) != cell.tcp.contains(port) {
                    return Err(format!("{src} -> {dst} TCP {port}: single decision contradicts the matrix under {}", s.profile));
                }
            }
        }
    }
    Ok(())
}

/// `diff_model`: a random cluster (the control plane settled: no operation while traffic flows)
/// and a few connection attempts between its pods, model-checked; every property of the
/// pipeline must hold, so every decision equals spec's.
pub fn diff_model(bytes: &[u8]) -> Result<(), String> {
    let bytes = cap(bytes);
    let s = scenario_from_bytes(bytes, 30);
    // Keep what a cluster is made of, and only what succeeds.
    let mut spec = SpecEngine::new(s.profile);
    let setup: Vec<Op> = s
        .ops
        .into_iter()
        .filter(|op| {
            !matches!(
                op,
                Op::OpenPodConnection { .. }
                    | Op::OpenServiceConnection { .. }
                    | Op::OpenConnectionWithIpAddresses { .. }
                    | Op::ClosePodConnection { .. }
            )
        })
        .filter(|op| spec.execute(op).error.is_none())
        .collect();
    let state: &State = &spec.state;
    // The model's universe needs every pod to have an address.
    let with_address: Vec<bool> = state
        .pods()
        .map(|p| {
            state
                .pod_endpoint(&p.id, None)
                .ok()
                .and_then(|e| e.address().cloned())
                .is_some()
        })
        .collect();
    if with_address.is_empty() || with_address.iter().any(|a| !a) || state.pods().count() > 5 {
        return Ok(());
    }
    // The model tells pods apart by address; host-network pods on one node share theirs.
    let mut primaries: Vec<_> = state
        .pods()
        .filter_map(|p| state.pod_endpoint(&p.id, None).ok()?.address().cloned())
        .collect();
    primaries.sort();
    primaries.dedup();
    if primaries.len() != with_address.len() {
        return Ok(());
    }
    let n = with_address.len();
    let mut u = Unstructured::new(&bytes[bytes.len() / 2..]);
    let mut attempts = Vec::new();
    for id in 1..=u.int_in_range(1..=2u32).unwrap_or(1) {
        let from = u.int_in_range(0..=n - 1).unwrap_or(0);
        let to = u.int_in_range(0..=n - 1).unwrap_or(0);
        let port = *u.choose(&[53u16, 80, 443, 8080, 9090]).unwrap_or(&80);
        attempts.push(Attempt {
            id,
            from,
            to: Target::Pod(to),
            protocol: Protocol::Tcp,
            port,
            spoof_as: None,
        });
    }
    let universe = Universe::build("fuzz", s.profile, setup, vec![], attempts, Fault::None);
    let checker = model(universe.clone())
        .checker()
        .target_state_count(50_000)
        .spawn_bfs()
        .join();
    for p in checker.model().properties() {
        if matches!(p.expectation, stateright::Expectation::Always) {
            if let Some(path) = checker.discovery(p.name) {
                let v = netsem_model::properties::violation(&universe, path.last_state());
                let trace = v
                    .as_ref()
                    .and_then(|v| netsem_model::properties::counterexample_trace(&universe, v));
                return Err(format!(
                    "model property `{}` fails under {}: {v:?}\n{}",
                    p.name,
                    s.profile,
                    trace.map(|t| t.to_yaml()).unwrap_or_default()
                ));
            }
        }
    }
    Ok(())
}

const SHIPPED: [&str; 8] = [
    include_str!("../../../examples/shop/00-namespaces.yaml"),
    include_str!("../../../examples/shop/backend/api.yaml"),
    include_str!("../../../examples/shop/backend/db.yaml"),
    include_str!("../../../examples/shop/backend/policies.yaml"),
    include_str!("../../../examples/shop/frontend/policies.yaml"),
    include_str!("../../../examples/shop/frontend/web.yaml"),
    include_str!("../../../examples/shop/kube-system/coredns.yaml"),
    include_str!("../../../examples/shop/monitoring/prometheus.yaml"),
];

/// `manifest`: arbitrary text, or a shipped manifest under byte-level mutations chosen by the
/// input, through the loader and an apply; any outcome but a panic is fine.
pub fn manifest(bytes: &[u8]) -> Result<(), String> {
    let bytes = cap(bytes);
    let text = match bytes.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => {
            // Structure-aware: mutate a real manifest.
            let mut u = Unstructured::new(rest);
            let base = SHIPPED[usize::from(*mode / 2) % SHIPPED.len()];
            let mut doc = base.as_bytes().to_vec();
            for _ in 0..u.int_in_range(1..=8u8).unwrap_or(1) {
                if doc.is_empty() {
                    break;
                }
                let at = u.int_in_range(0..=doc.len() - 1).unwrap_or(0);
                let len = usize::from(u.int_in_range(0..=16u8).unwrap_or(0)).min(doc.len() - at);
                let with: Vec<u8> = (0..u.int_in_range(0..=16u8).unwrap_or(0))
                    .map(|_| u.arbitrary::<u8>().unwrap_or(b' '))
                    .collect();
                doc.splice(at..at + len, with);
            }
            String::from_utf8_lossy(&doc).into_owned()
        }
        Some((_, rest)) => String::from_utf8_lossy(rest).into_owned(),
        None => String::new(),
    };
    if let Ok(m) = netsem_spec::manifest::parse_str("fuzz.yaml", &text) {
        let mut state = State::default();
        let _ = m.apply(&mut state);
        let _ = m.delete(&mut state);
    }
    Ok(())
}

/// A judge: the fuzzer's bytes in, a report of what went wrong out.
pub type Judge = fn(&[u8]) -> Result<(), String>;

/// The judges by target name.
pub fn judge(target: &str) -> Option<Judge> {
    Some(match target {
        "diff_trace" => diff_trace,
        "diff_matrix" => diff_matrix,
        "diff_model" => diff_model,
        "manifest" => manifest,
        _ => return None,
    })
}

/// The fuzz targets.
pub const TARGETS: [&str; 4] = ["diff_trace", "diff_matrix", "diff_model", "manifest"];
