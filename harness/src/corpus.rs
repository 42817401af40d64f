//! The shared trace corpus under `tests/corpus/`, replayed by every engine, like the shared test
//! data of rust-lang/regex. Every trace of the project lives here, in one of four roles:
//!
//! - any directory but the three below: traces every engine must pass;
//! - `invalid/`: traces the loader must reject, with the error fragment its `EXPECTED` names;
//! - `diverging/`: traces whose expectations are deliberately wrong, diverging on every engine
//!   at the step and in the fields its `EXPECTED` names (rules 10.1, 10.2);
//! - `observed/`: observations an implementation recorded over a cluster, for `netsem check`,
//!   with the cluster and the number of disagreeing steps its `EXPECTED` names.
//!
//! `manifests/` holds manifest files that traces apply by `file:`; they are not traces.

use netsem_spec::trace::{drive, Flow, Trace};
use netsem_spec::{Engine, SpecEngine};
use std::path::{Path, PathBuf};

/// The directories of [`files`] that hold traces in a role other than "must pass".
pub const ROLES: [&str; 3] = ["invalid", "diverging", "observed"];

/// Manifest files applied by traces, not traces.
pub const MANIFESTS: &str = "manifests";

/// The directory of the shared trace corpus.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ is inside the workspace")
        .join("tests")
        .join("corpus")
}

/// Every trace file every engine must pass (`.yaml`, `.yml`, `.json`), sorted by path.
pub fn files() -> Vec<PathBuf> {
    let skip: Vec<PathBuf> = ROLES
        .iter()
        .chain([&MANIFESTS])
        .map(|d| dir().join(d))
        .collect();
    traces_under(&dir(), &skip)
}

/// Every trace file of one role directory, sorted by path.
pub fn role_files(role: &str) -> Vec<PathBuf> {
    traces_under(&dir().join(role), &[])
}

fn traces_under(root: &Path, skip: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !skip.contains(&path) {
                    stack.push(path);
                }
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A corpus trace, loaded, with the file it came from.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file, relative to the corpus directory.
    pub file: String,
    /// The trace.
    pub trace: netsem_spec::Trace,
}

/// Loads every trace of the corpus; a trace that does not load is an error naming its file.
pub fn load() -> Result<Vec<Entry>, netsem_spec::trace::TraceError> {
    let root = dir();
    files()
        .into_iter()
        .map(|f| {
            let trace = netsem_spec::Trace::load(&f)?;
            let file = f.strip_prefix(&root).unwrap_or(&f).display().to_string();
            Ok(Entry { file, trace })
        })
        .collect()
}

/// What one engine did with the whole corpus.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The engine.
    pub engine: String,
    /// Traces replayed.
    pub traces: usize,
    /// Traces that met every expectation the engine judged.
    pub passed: usize,
    /// Steps judged.
    pub judged: usize,
    /// Steps the engine does not model, by reason.
    pub skipped: std::collections::BTreeMap<&'static str, usize>,
    /// Every divergence, with its file.
    pub failures: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let skipped: usize = self.skipped.values().sum();
        writeln!(
            f,
            "{:<7} {}/{} traces pass; {} steps judged, {} skipped",
            self.engine, self.passed, self.traces, self.judged, skipped
        )?;
        for (reason, n) in &self.skipped {
            writeln!(f, "          {n:>4} skipped: {reason}")?;
        }
        for failure in &self.failures {
            writeln!(f, "  FAIL {failure}")?;
        }
        Ok(())
    }
}

/// Rule 10.1: replays every trace of `entries` on the engine `name`, each under its own profile.
pub fn run(name: &str, entries: &[Entry]) -> Report {
    let mut report = Report {
        engine: name.to_string(),
        ..Report::default()
    };
    for e in entries {
        let mut engine = crate::engines::build(name, e.trace.profile())
            .unwrap_or_else(|| panic!("no engine named {name}"));
        report.traces += 1;
        match netsem_spec::replay(engine.as_mut(), &e.trace) {
            Ok(done) => {
                report.passed += 1;
                report.judged += done.judged;
                for (reason, n) in done.skipped {
                    *report.skipped.entry(reason).or_default() += n;
                }
            }
            Err(d) => report.failures.push(format!("{} ({name}): {d}", e.file)),
        }
    }
    report
}

/// The lines of a role directory's `EXPECTED` index: file name, then the rest split on runs of
/// spaces. `#` lines are comments.
pub fn expected(role: &str) -> Vec<(String, Vec<String>)> {
    let path = dir().join(role).join("EXPECTED");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split("  ").map(str::trim).filter(|p| !p.is_empty());
            let file = parts.next().unwrap_or_default().to_string();
            (file, parts.map(str::to_string).collect())
        })
        .collect()
}

/// Checks the three role directories; returns every failure.
pub fn check_roles() -> Vec<String> {
    let mut failures = Vec::new();
    for role in ROLES {
        let index = expected(role);
        let files: Vec<String> = role_files(role)
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        let listed: Vec<String> = index.iter().map(|(f, _)| f.clone()).collect();
        let mut sorted = listed.clone();
        sorted.sort();
        if sorted != files {
            failures.push(format!(
                "{role}/EXPECTED lists {listed:?}, the directory holds {files:?}"
            ));
        }
        for (file, fields) in index {
            let path = dir().join(role).join(&file);
            if let Err(e) = check_role(role, &path, &fields) {
                failures.push(format!("{role}/{file}: {e}"));
            }
        }
    }
    failures
}

fn check_role(role: &str, path: &Path, fields: &[String]) -> Result<(), String> {
    match role {
        "invalid" => match Trace::load(path) {
            Ok(_) => Err("loads, but must be rejected".into()),
            Err(e) if e.to_string().contains(fields.join("  ").as_str()) => Ok(()),
            Err(e) => Err(format!("rejected with `{e}`, not `{}`", fields.join("  "))),
        },
        "diverging" => {
            let trace = Trace::load(path).map_err(|e| e.to_string())?;
            let want_step: usize = fields
                .first()
                .and_then(|s| s.parse().ok())
                .ok_or("EXPECTED names no step")?;
            let want_fields = fields.get(1).cloned().unwrap_or_default();
            for name in crate::engines::ALL {
                let mut engine = crate::engines::build(name, trace.profile()).expect("registered");
                match netsem_spec::replay(engine.as_mut(), &trace) {
                    Ok(done) if done.skipped.is_empty() => {
                        return Err(format!("passes on {name}"));
                    }
                    // An engine that skips a step cannot diverge there.
                    Ok(_) => {}
                    Err(d) if d.step == want_step && d.fields.join(",") == want_fields => {}
                    Err(d) => {
                        return Err(format!(
                        "{name} diverges at step {} in {}, not step {want_step} in {want_fields}",
                        d.step,
                        d.fields.join(",")
                    ))
                    }
                }
            }
            Ok(())
        }
        "observed" => {
            let trace = Trace::load(path).map_err(|e| e.to_string())?;
            let cluster = fields.first().ok_or("EXPECTED names no cluster")?;
            let want: usize = fields
                .get(1)
                .and_then(|s| s.parse().ok())
                .ok_or("EXPECTED names no count")?;
            let root = dir().join("../..");
            let (state, _) =
                netsem_spec::manifest::load_state(&[root.join(cluster)], trace.profile())
                    .map_err(|e| e.to_string())?;
            let mut spec = SpecEngine { state };
            let mut disagreements = 0;
            drive(&mut spec as &mut dyn Engine, &trace.steps, |r| {
                disagreements += usize::from(!r.step.expect.mismatches(&r.observed).is_empty());
                Flow::Continue
            });
            if disagreements == want {
                Ok(())
            } else {
                Err(format!("{disagreements} disagreement(s), not {want}"))
            }
        }
        _ => unreachable!("a role of ROLES"),
    }
}
