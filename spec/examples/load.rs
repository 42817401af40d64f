//! Loads Kubernetes manifests (files or directories) and prints, for every ordered pair of pods,
//! whether a new TCP connection to each of the destination's declared container ports is
//! allowed (docs/SEMANTICS.md §9).
//!
//!     cargo run -p netsem-spec --example load -- examples/shop
//!
//! Warnings go to stderr; on bad input the error goes to stderr and the exit code is 2.

use netsem_spec::manifest;
use netsem_spec::{Profile, Protocol};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: load PATH...");
        return ExitCode::from(2);
    }
    let (state, warnings) = match manifest::load_state(&paths, Profile::default()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    for src in state.pods() {
        for dst in state.pods() {
            let ports: BTreeSet<u16> = dst.ports.iter().map(|p| p.port).collect();
            let (Ok(d), true) = (state.pod_endpoint(&dst.id, None), !ports.is_empty()) else {
                continue;
            };
            let Ok(s) = state.pod_endpoint(&src.id, d.address()) else {
                continue;
            };
            for port in ports {
                let decision = state.decide(&s, &d, Protocol::Tcp, port, None);
                let verdict = if decision.allowed {
                    "allowed"
                } else {
                    "denied"
                };
                if writeln!(out, "{} -> {} tcp/{port}: {verdict}", src.id, dst.id).is_err() {
                    return ExitCode::SUCCESS; // stdout closed (e.g. piped into `head`)
                }
            }
        }
    }
    ExitCode::SUCCESS
}
