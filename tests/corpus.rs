//! The shared trace corpus (rule 10.1), replayed by every engine: each must meet every
//! expectation, and spec and oracle must observe exactly the same thing at every step under
//! every named profile.

use netsem_oracle::Oracle;
use netsem_spec::{replay, Engine, Profile, SpecEngine, Trace};

fn traces() -> Vec<(String, Trace)> {
    let files = netsem_harness::corpus::files();
    assert!(!files.is_empty(), "the corpus is empty");
    files
        .iter()
        .map(|f| {
            let t = Trace::load(f).unwrap_or_else(|e| panic!("{e}"));
            (f.display().to_string(), t)
        })
        .collect()
}

fn check_all(make: impl Fn(Profile) -> Box<dyn Engine>) {
    let mut failures = Vec::new();
    for (file, trace) in traces() {
        let mut engine = make(trace.profile());
        if let Err(d) = replay(engine.as_mut(), &trace) {
            failures.push(format!("{file} ({}): {d}", engine.name()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn r10_1_spec_meets_every_expectation_of_the_corpus() {
    check_all(|p| Box::new(SpecEngine::new(p)));
}

#[test]
fn r10_1_oracle_meets_every_expectation_of_the_corpus() {
    check_all(|p| Box::new(Oracle::new(p)));
}

#[test]
fn r10_1_spec_and_oracle_observe_the_same_under_every_profile() {
    let mut profiles: Vec<Profile> = Profile::NAMES
        .iter()
        .map(|n| Profile::named(n).unwrap())
        .collect();
    profiles.push("default,multi-network=type2".parse().unwrap());
    let mut failures = Vec::new();
    for (file, trace) in traces() {
        let mut own = vec![trace.profile()];
        own.extend(profiles.iter().copied());
        for profile in own {
            let mut spec = SpecEngine::new(profile);
            let mut oracle = Oracle::new(profile);
            for (i, step) in trace.steps.iter().enumerate() {
                let a = spec.execute(&step.op);
                let b = oracle.execute(&step.op);
                if a != b {
                    failures.push(format!(
                        "{file} under {profile:?}, step {i}: spec {} vs oracle {}",
                        serde_json::to_string(&a).unwrap(),
                        serde_json::to_string(&b).unwrap()
                    ));
                    break;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
