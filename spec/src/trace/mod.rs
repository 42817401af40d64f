//! Traces: the one corpus format every engine replays (docs/TRACES.md). Rules 10.x.
//!
//! [`format`] is the file format; [`replay`] is the one loop that runs a trace on an engine.

pub mod format;
pub mod replay;

pub use format::{
    Leg, LegKind, Observation, Op, Step, Touched, Trace, TraceError, TRACE_FORMAT_VERSION,
};
pub use replay::{drive, replay, to_json, Divergence, Flow, Replayed, StepReport};
