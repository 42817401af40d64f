//! The stateright model of the enforcement pipeline (issue: model).
