//! Lockstep judging: the spec is the reference state machine; any other engine must observe
//! exactly what it observes, step by step (proptest-state-machine's reference vs system under
//! test). Steps the other engine declares it does not model are executed, not compared.

use crate::generators::Scenario;
use netsem_spec::trace::to_json as json;
use netsem_spec::trace::{Step, TRACE_FORMAT_VERSION};
use netsem_spec::{Engine, Observation, Op, SpecEngine, Trace};
use std::fmt;

/// The first step where an engine disagreed with the spec, or found a fault in itself.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// The profile in force.
    pub profile: netsem_spec::Profile,
    /// The steps up to and including the disagreeing one, with the spec's observations.
    pub steps: Vec<Step>,
    /// The other engine's name.
    pub engine: String,
    /// What the other engine observed at the last step.
    pub observed: Observation,
    /// The other engine's own fault at the last step, if that is the finding.
    pub fault: Option<String>,
}

impl Mismatch {
    /// The failing prefix as a corpus trace whose expectations are the spec's observations:
    /// what a regression trace under `tests/corpus/regressions/` starts from.
    pub fn trace(&self, name: &str) -> Trace {
        Trace {
            netsem_trace: TRACE_FORMAT_VERSION,
            name: name.to_string(),
            description: format!(
                "Found by differential testing: {} disagreed with spec at the last step.",
                self.engine
            ),
            rules: vec![],
            profile: Some(self.profile),
            steps: self.steps.clone(),
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.steps.last().expect("a mismatch has a step");
        match &self.fault {
            Some(fault) => writeln!(
                f,
                "{} fails in itself at step {}: {fault}",
                self.engine,
                self.steps.len() - 1
            )?,
            None => writeln!(
                f,
                "{} disagrees with spec at step {}",
                self.engine,
                self.steps.len() - 1
            )?,
        }
        writeln!(f, "  op:     {}", json(&last.op))?;
        writeln!(f, "  spec:   {}", json(&last.expect))?;
        writeln!(f, "  {}: {}", self.engine, json(&self.observed))?;
        write!(
            f,
            "--- the failing prefix as a trace (replay: `netsem run FILE --engine {}`) ---\n{}",
            self.engine,
            self.trace("mismatch").to_yaml()
        )
    }
}

/// Runs `ops` on the spec and on `other` in lockstep; the first disagreement on a step `other`
/// models is returned. Both engines execute every step, so they stay in step.
pub fn lockstep(
    profile: netsem_spec::Profile,
    ops: &[Op],
    other: &mut dyn Engine,
) -> Result<SpecEngine, Box<Mismatch>> {
    let mut spec = SpecEngine::new(profile);
    let mut steps = Vec::new();
    for op in ops {
        let skipped = other.skip_reason(op).is_some();
        let expected = spec.execute(op);
        let observed = other.execute(op);
        let fault = other.fault();
        steps.push(Step {
            op: op.clone(),
            expect: expected.clone(),
        });
        if fault.is_some() || (!skipped && expected != observed) {
            return Err(Box::new(Mismatch {
                profile,
                steps,
                engine: other.name().to_string(),
                observed,
                fault,
            }));
        }
    }
    Ok(spec)
}

/// [`lockstep`] for a scenario.
pub fn differential(s: &Scenario, other: &mut dyn Engine) -> Result<SpecEngine, Box<Mismatch>> {
    lockstep(s.profile, &s.ops, other)
}
