//! The shared trace corpus under `tests/corpus/`, replayed by every engine, like the shared test
//! data of rust-lang/regex.

use std::path::{Path, PathBuf};

/// The directory of the shared trace corpus.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ is inside the workspace")
        .join("tests")
        .join("corpus")
}

/// Every trace file of the corpus (`.yaml`, `.yml`, `.json`), sorted by path.
pub fn files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
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
