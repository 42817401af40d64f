//! The shared trace corpus (rule 10.1), replayed by every engine of the harness's registry —
//! spec, oracle and the model — each trace under its own profile; then spec and oracle in
//! lockstep under every named profile; then rule 2.9 on every failing step, YAML round trips, and
//! the invalid/, diverging/ and observed/ roles (see the harness's `corpus`). Prints per-engine
//! counts, the model's skips with their reasons, and every failure.
//!
//! A test without libtest's harness, so that the report is printed on every run.

use netsem_harness::{corpus, engines};
use netsem_model::{Fault, ModelEngine};
use netsem_spec::{Engine, Op, Profile, SpecEngine};
use std::process::ExitCode;

fn main() -> ExitCode {
    let entries = match corpus::load() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("corpus: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "corpus: {} traces, {} steps, in {}",
        entries.len(),
        entries.iter().map(|e| e.trace.steps.len()).sum::<usize>(),
        corpus::dir().display()
    );
    let mut failed = false;
    for name in engines::ALL {
        let report = corpus::run(name, &entries);
        print!("{report}");
        failed |= !report.failures.is_empty();
    }
    let lockstep = spec_and_oracle_in_lockstep(&entries);
    println!(
        "lockstep spec/oracle under every named profile: {} failure(s)",
        lockstep.len()
    );
    let unchanged = failing_steps_change_nothing(&entries);
    println!(
        "rule 2.9 on every failing step, and no decision or lookup changes the state: {} failure(s)",
        unchanged.len()
    );
    let round_trips = every_trace_round_trips(&entries);
    println!(
        "every trace survives a YAML round trip: {} failure(s)",
        round_trips.len()
    );
    let roles = corpus::check_roles();
    println!(
        "invalid/, diverging/, observed/ as their EXPECTED says: {} failure(s)",
        roles.len()
    );
    let all: Vec<&String> = lockstep
        .iter()
        .chain(&unchanged)
        .chain(&round_trips)
        .chain(&roles)
        .collect();
    for f in &all {
        println!("  FAIL {f}");
    }
    failed |= !all.is_empty();
    for (fault, caught) in broken_pipelines_fail_the_corpus(&entries) {
        println!("model with fault {fault:?}: {caught} trace(s) fail");
        failed |= caught == 0;
    }
    if entries.is_empty() {
        println!("the corpus is empty");
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Spec and oracle must observe exactly the same at every step, under each trace's own profile
/// and every named one (expectations aside: this judges the twin decision cores).
fn spec_and_oracle_in_lockstep(entries: &[corpus::Entry]) -> Vec<String> {
    let mut profiles: Vec<Profile> = Profile::NAMES
        .iter()
        .map(|n| Profile::named(n).expect("named profile"))
        .collect();
    profiles.push(
        "default,multi-network=type2"
            .parse()
            .expect("valid profile"),
    );
    let mut failures = Vec::new();
    for e in entries {
        for profile in std::iter::once(e.trace.profile()).chain(profiles.iter().copied()) {
            let ops: Vec<_> = e.trace.steps.iter().map(|s| s.op.clone()).collect();
            let mut oracle = engines::build("oracle", profile).expect("registered");
            if let Err(m) = netsem_harness::oracles::lockstep(profile, &ops, oracle.as_mut()) {
                failures.push(format!("{} under {profile}: {m}", e.file));
                break;
            }
        }
    }
    failures
}

/// The model judges for real: a broken pipeline whose fault shows on a settled cluster (replies
/// judged as new connections, tier stages run out of order, a node proxy that keeps the client
/// under `externalTrafficPolicy: Cluster` or ignores `loadBalancerSourceRanges`) must fail some
/// trace. The other faults need a control plane that changes while traffic flows, a forged
/// packet, or two picks within one run, which no trace has: the model's own universes catch
/// those (model/tests/check.rs).
fn broken_pipelines_fail_the_corpus(entries: &[corpus::Entry]) -> Vec<(Fault, usize)> {
    [
        Fault::IngressSkipsConntrack,
        Fault::PassAsAccept,
        Fault::BaselineBeforeNetworkPolicy,
        Fault::NetworkPolicyBeforeAdmin,
        Fault::ProxyKeepsClient,
        Fault::ProxyIgnoresSourceRanges,
    ]
    .into_iter()
    .map(|fault| {
        let caught = entries
            .iter()
            .filter(|e| {
                let mut m = ModelEngine::with_fault(e.trace.profile(), fault);
                netsem_spec::replay(&mut m, &e.trace).is_err()
            })
            .count();
        (fault, caught)
    })
    .collect()
}

/// Rule 10.1: a trace written out and read back is the same trace.
fn every_trace_round_trips(entries: &[corpus::Entry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| netsem_spec::Trace::parse("again", &e.trace.to_yaml()).as_ref() != Ok(&e.trace))
        .map(|e| format!("{}: changes in a YAML round trip", e.file))
        .collect()
}

/// Rule 2.9: a primitive that fails leaves the state exactly as it was — checked on spec at
/// every step of the corpus that expects an error.
fn failing_steps_change_nothing(entries: &[corpus::Entry]) -> Vec<String> {
    let mut failures = Vec::new();
    for e in entries {
        let mut spec = SpecEngine::new(e.trace.profile());
        for (i, step) in e.trace.steps.iter().enumerate() {
            let before = spec.state.clone();
            let observed = spec.execute(&step.op);
            if observed.error.is_some() && spec.state != before {
                failures.push(format!(
                    "{} step {i}: {} failed with {:?} but changed the state",
                    e.file,
                    step.op.name(),
                    observed.error
                ));
            }
            let reads_only = !step.op.changes_cluster()
                && !matches!(
                    step.op,
                    Op::OpenPodConnection { .. }
                        | Op::OpenServiceConnection { .. }
                        | Op::OpenConnectionWithIpAddresses { .. }
                        | Op::OpenEntryPointConnection { .. }
                        | Op::ClosePodConnection { .. }
                        // Time is state (rule 6.16), though no cluster object changes.
                        | Op::AdvanceClock { .. }
                );
            if reads_only && spec.state != before {
                failures.push(format!(
                    "{} step {i}: {} only decides or looks up, but changed the state",
                    e.file,
                    step.op.name()
                ));
            }
        }
    }
    failures
}
