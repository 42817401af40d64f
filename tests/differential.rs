//! Differential testing (rules 10.1, 10.3): random scenarios (every trace operation, Services
//! over the generated pods) under random profiles. Spec and the oracle must observe the same
//! at every step and compute identical matrices; spec and the model must observe the same at
//! every step the model models. Prints how often each operation ran and how many Service
//! connections reached a backend, so a generator that stops exercising something is seen.
//!
//! A failure is shrunk by proptest and printed with `NETSEM_SCENARIO=<hex>`; running
//! `NETSEM_SCENARIO=<hex> cargo test --test differential` replays exactly that case. Keep the
//! minimal trace it prints as a named regression under `tests/corpus/regressions/`.
//! `NETSEM_DIFF_CASES` sets the number of oracle cases (default 4000; the model gets a tenth,
//! or `NETSEM_DIFF_MODEL_CASES`).

use netsem_harness::generators::scenario::{from_hex, to_hex};
use netsem_harness::generators::{scenario_from_bytes, Scenario};
use netsem_harness::oracles::{diff_model, matrix::diff_matrix, Finding};
use netsem_spec::{Engine, Op, SpecEngine};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::process::ExitCode;

const MAX_OPS: usize = 60;

fn model_cases() -> Option<u32> {
    std::env::var("NETSEM_DIFF_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
}

fn cases() -> u32 {
    std::env::var("NETSEM_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

/// What the generated scenarios exercised, counted on spec.
#[derive(Default)]
struct Counts {
    ops: BTreeMap<&'static str, usize>,
    service_connections: usize,
    reached_a_backend: usize,
    several_on_a_named_port: usize,
    errors: usize,
}

impl Counts {
    fn count(&mut self, s: &Scenario) {
        let mut spec = SpecEngine::new(s.profile);
        for op in &s.ops {
            *self.ops.entry(op.name()).or_default() += 1;
            let o = spec.execute(op);
            self.errors += usize::from(o.error.is_some());
            let via_service = matches!(op, Op::OpenServiceConnection { .. })
                || (matches!(op, Op::OpenConnectionWithIpAddresses { .. }) && o.backends.is_some());
            if via_service {
                let backends = o.backends.as_ref().map_or(0, |b| b.len());
                self.service_connections += 1;
                self.reached_a_backend += usize::from(backends > 0);
                let named = match op {
                    Op::OpenServiceConnection {
                        service,
                        protocol,
                        port,
                        ..
                    } => spec
                        .state
                        .service(service)
                        .and_then(|s| s.port(*protocol, *port))
                        .is_some_and(|p| matches!(p.target_port, netsem_spec::PortRef::Name(_))),
                    _ => false,
                };
                self.several_on_a_named_port += usize::from(named && backends >= 2);
            }
        }
    }
}

fn judge(bytes: &[u8], with_model: bool) -> Result<(), Finding> {
    let s = scenario_from_bytes(bytes, MAX_OPS);
    diff_matrix(&s)?;
    if with_model {
        diff_model(&s)?;
    }
    Ok(())
}

fn run(name: &str, cases: u32, with_model: bool, counts: &RefCell<Counts>) -> Result<(), String> {
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 20_000,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(any::<u8>(), 0..3000), |bytes| {
        counts
            .borrow_mut()
            .count(&scenario_from_bytes(&bytes, MAX_OPS));
        judge(&bytes, with_model)
            .map_err(|f| TestCaseError::fail(format!("{f}\nNETSEM_SCENARIO={}", to_hex(&bytes))))
    });
    result.map_err(|e| format!("{name}: {e}"))
}

fn main() -> ExitCode {
    if let Ok(hex) = std::env::var("NETSEM_SCENARIO") {
        let Some(bytes) = from_hex(&hex) else {
            eprintln!("NETSEM_SCENARIO is not hex");
            return ExitCode::FAILURE;
        };
        println!("{:?}", scenario_from_bytes(&bytes, MAX_OPS));
        return match judge(&bytes, true) {
            Ok(()) => {
                println!("NETSEM_SCENARIO replays without a finding");
                ExitCode::SUCCESS
            }
            Err(f) => {
                println!("{f}");
                ExitCode::FAILURE
            }
        };
    }
    let counts = RefCell::new(Counts::default());
    let n = cases();
    let mut failed = false;
    for (name, cases, with_model) in [
        ("spec/oracle", n, false),
        ("spec/model", model_cases().unwrap_or((n / 10).max(1)), true),
    ] {
        match run(name, cases, with_model, &counts) {
            Ok(()) => println!("differential {name}: {cases} cases agree"),
            Err(e) => {
                println!("differential {e}");
                failed = true;
            }
        }
    }
    let c = counts.borrow();
    println!(
        "operations generated ({} kinds of {}; {} failed with an error, as generated on purpose):",
        c.ops.len(),
        Op::NAMES.len(),
        c.errors
    );
    for (op, n) in &c.ops {
        println!("  {n:>7} {op}");
    }
    println!(
        "service connections: {}, of which reached a backend: {}, one of several on a named target port: {}",
        c.service_connections, c.reached_a_backend, c.several_on_a_named_port
    );
    let missing: Vec<&str> = Op::NAMES
        .iter()
        .copied()
        .filter(|n| !c.ops.contains_key(n))
        .collect();
    if !missing.is_empty() {
        println!("never generated: {missing:?}");
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
