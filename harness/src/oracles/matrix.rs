//! The matrix judge (rule 10.3): after a scenario, the spec's connectivity matrix and the
//! oracle's class-compressed one must be identical, and the oracle's single decisions must
//! agree with its own matrix at every range boundary; grouped, the two must aggregate alike
//! (the oracle's by class pairs, the spec's pod pair by pod pair).

use crate::generators::Scenario;
use crate::oracles::{lockstep, Finding};
use netsem_oracle::Oracle;
use netsem_spec::matrix::{json_line, GroupedMatrix, MatrixView};
use netsem_spec::Protocol;

/// `diff_matrix`.
pub fn diff_matrix(s: &Scenario) -> Result<(), Finding> {
    let spec = lockstep(s.profile, &s.ops, &mut Oracle::new(s.profile))?;
    let oracle = Oracle::from_state(spec.state.clone());
    let expected = spec.state.matrix();
    let got = oracle.compressed_matrix();
    let pods = got.pods().to_vec();
    if expected.pods != pods {
        return Err(Finding::Matrix(format!(
            "pods differ: spec {:?}, oracle {:?}",
            expected.pods, pods
        )));
    }
    for (i, src) in pods.iter().enumerate() {
        for (j, dst) in pods.iter().enumerate() {
            let cell = got.cell(i, j);
            if expected.cell(i, j) != cell {
                return Err(Finding::Matrix(format!(
                    "matrix cell differs under {}:\n spec   {}\n oracle {}\n{s:?}",
                    s.profile,
                    json_line(src, dst, expected.cell(i, j)),
                    json_line(src, dst, cell),
                )));
            }
            let (Some(a), Some(b)) = (oracle.pod_ref(src), oracle.pod_ref(dst)) else {
                continue;
            };
            for protocol in Protocol::PORTED {
                let ranges = cell.get(protocol);
                let mut ports: Vec<u16> = vec![1, u16::MAX];
                for &(lo, hi) in ranges.ranges() {
                    ports.extend([lo, hi, lo.saturating_sub(1).max(1), hi.saturating_add(1)]);
                }
                for port in ports {
                    if oracle.decide_pods(a, b, protocol, port) != ranges.contains(port) {
                        return Err(Finding::Matrix(format!(
                            "{src} -> {dst} {protocol} {port}: a single decision contradicts the matrix under {}",
                            s.profile
                        )));
                    }
                }
            }
        }
    }
    // Groups of several pods and classes: each namespace, and the whole cluster.
    type Grouping<'a> = (&'a str, &'a dyn Fn(&netsem_spec::PodId) -> String);
    let groupings: [Grouping<'_>; 2] = [
        ("namespace", &|p| p.namespace.clone()),
        ("cluster", &|_| String::new()),
    ];
    for (name, group) in groupings {
        let (want, have) = (
            GroupedMatrix::build(&expected, group),
            GroupedMatrix::build(&got, group),
        );
        if want.groups != have.groups {
            return Err(Finding::Matrix(format!(
                "matrix grouped by {name}: the groups differ under {}\n{s:?}",
                s.profile
            )));
        }
        if want != have {
            let n = want.groups.len();
            let at = (0..n * n)
                .find(|&k| want.cell(k / n, k % n) != have.cell(k / n, k % n))
                .unwrap_or(0);
            let cell = |m: &GroupedMatrix| (at < n * n).then(|| m.cell(at / n, at % n).clone());
            return Err(Finding::Matrix(format!(
                "matrix grouped by {name} differs under {} at cell {at}:\n spec   {:?}\n oracle {:?}\n{s:?}",
                s.profile,
                cell(&want),
                cell(&have),
            )));
        }
    }
    Ok(())
}
