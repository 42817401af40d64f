//! The replay loop (rule 10.1): every engine, every judge and the command line run traces
//! through [`drive`], so what a step, a skip and a divergence are is defined once.

use crate::engine::Engine;
use crate::trace::format::{Observation, Op, Step, Trace};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// What one step did on an engine.
#[derive(Clone, Debug)]
pub struct StepReport<'a> {
    /// The step's index, from 0.
    pub index: usize,
    /// The step.
    pub step: &'a Step,
    /// What the engine observed.
    pub observed: Observation,
    /// Set when the engine does not model the operation: it executed it to stay in step, but
    /// its observation is not to be judged.
    pub skipped: Option<&'static str>,
    /// A fault the engine found in itself during the step (for the model: a property that
    /// failed while checking it).
    pub fault: Option<String>,
}

/// Whether [`drive`] goes on after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Run the next step.
    Continue,
    /// Stop here.
    Stop,
}

/// Runs `steps` on `engine` in order, handing each step's report to `judge`.
pub fn drive<'a>(
    engine: &mut dyn Engine,
    steps: &'a [Step],
    mut judge: impl FnMut(StepReport<'a>) -> Flow,
) {
    for (index, step) in steps.iter().enumerate() {
        let skipped = engine.skip_reason(&step.op);
        let observed = engine.execute(&step.op);
        let fault = engine.fault();
        let report = StepReport {
            index,
            step,
            observed,
            skipped,
            fault,
        };
        if judge(report) == Flow::Stop {
            return;
        }
    }
}

/// A replay that met every expectation it judged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Steps whose observation was judged.
    pub judged: usize,
    /// Steps the engine does not model, by reason.
    pub skipped: BTreeMap<&'static str, usize>,
}

/// The first step where an engine's observation differs from the trace's expectation, or where
/// the engine found a fault in itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// The step's index, from 0.
    pub step: usize,
    /// The operation.
    pub op: Op,
    /// What the trace expected.
    pub expected: Observation,
    /// What the engine observed.
    pub observed: Observation,
    /// The fields that differ.
    pub fields: Vec<&'static str>,
    /// The engine's own fault, when that is the divergence.
    pub fault: Option<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fault {
            Some(fault) => writeln!(f, "step {} fails in the engine itself: {fault}", self.step)?,
            None => writeln!(
                f,
                "step {} diverges in {}",
                self.step,
                self.fields.join(", ")
            )?,
        }
        writeln!(f, "  op:       {}", to_json(&self.op))?;
        writeln!(f, "  expected: {}", to_json(&self.expected))?;
        write!(f, "  observed: {}", to_json(&self.observed))?;
        match &self.observed.message {
            Some(why) if self.fields.contains(&"error") => write!(f, "\n  because: {why}"),
            _ => Ok(()),
        }
    }
}

/// Rule 10.1: replays `trace` on `engine`, stopping at the first divergence. Steps the engine
/// skips are counted, not judged.
// A divergence is reported once per replay, so its size does not matter.
#[allow(clippy::result_large_err)]
pub fn replay(engine: &mut dyn Engine, trace: &Trace) -> Result<Replayed, Divergence> {
    let mut done = Replayed::default();
    let mut divergence = None;
    drive(engine, &trace.steps, |r| {
        let fields = r.step.expect.mismatches(&r.observed);
        if r.fault.is_some() || (r.skipped.is_none() && !fields.is_empty()) {
            divergence = Some(Divergence {
                step: r.index,
                op: r.step.op.clone(),
                expected: r.step.expect.clone(),
                observed: r.observed,
                fields,
                fault: r.fault,
            });
            return Flow::Stop;
        }
        match r.skipped {
            Some(reason) => *done.skipped.entry(reason).or_default() += 1,
            None => done.judged += 1,
        }
        Flow::Continue
    });
    match divergence {
        Some(d) => Err(d),
        None => Ok(done),
    }
}

/// One line of JSON for any trace value, for reports.
pub fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("<{e}>"))
}
