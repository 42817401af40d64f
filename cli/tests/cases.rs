//! The end-to-end tests of the `netsem` command line are data: the case files under
//! `tests/cases/` (see `tests/cases/README.md`), each a command with its exact exit code, stdout
//! and stderr, run by trycmd against the real binary.
//!
//! Rust keeps only what a case file cannot say about itself:
//! - `every_case_pins_its_exit_code_stdout_and_stderr`: trycmd silently skips a stream whose
//!   expectation file is missing and a case whose binary it does not know, so every case is
//!   checked here to name `netsem`, expect 0, 1 or 2 (never 101, a panic), compare byte for byte
//!   (or say why not), have both expectation files and run in the workspace root.
//! - `the_corpus_cases_list_exactly_the_corpus`: trycmd expands no glob in args, so the cases that
//!   run the whole trace corpus list its files one by one; the list is checked against the
//!   directory here.

use std::fs;
use std::path::{Path, PathBuf};

/// Where the cases are, relative to this package (trycmd's working directory).
const CASES: &str = "tests/cases";

#[test]
fn cases() {
    trycmd::TestCases::new()
        .register_bin("netsem", Path::new(env!("CARGO_BIN_EXE_netsem")))
        .default_bin_name("netsem")
        .case(format!("{CASES}/**/*.toml"));
}

/// Every `.toml` under `dir`, sorted.
fn case_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            case_files(&path, found);
        } else if path.extension().is_some_and(|x| x == "toml") {
            found.push(path);
        }
    }
}

fn cases_and_texts() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    case_files(Path::new(CASES), &mut files);
    assert!(!files.is_empty(), "no case under {CASES}");
    files
        .into_iter()
        .map(|f| {
            let text = fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f, text)
        })
        .collect()
}

/// The value of the one line `key = value` of a case file (cases write their keys dotted, one a
/// line).
fn value<'a>(case: &Path, text: &'a str, key: &str) -> &'a str {
    let mut values = text
        .lines()
        .filter_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('='))
        .map(str::trim);
    let v = values
        .next()
        .unwrap_or_else(|| panic!("{}: no `{key} = …` line", case.display()));
    assert!(
        values.next().is_none(),
        "{}: two `{key}` lines",
        case.display()
    );
    v
}

#[test]
fn every_case_pins_its_exit_code_stdout_and_stderr() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is inside the workspace")
        .canonicalize()
        .expect("the workspace root exists");
    for (case, text) in cases_and_texts() {
        let shown = case.display();
        // An unknown bin.name would make trycmd skip the case.
        assert_eq!(value(&case, &text, "bin.name"), r#""netsem""#, "{shown}");
        // An exit code, never 101 (a panic).
        let code: i32 = value(&case, &text, "status.code")
            .parse()
            .unwrap_or_else(|e| panic!("{shown}: status.code: {e}"));
        assert!([0, 1, 2].contains(&code), "{shown}: exit code {code}");
        // Compared byte for byte (trycmd's text mode turns `\r\n` into `\n` and `\` into `/`),
        // unless the case uses a wildcard and says why.
        match value(&case, &text, "binary") {
            "true" => {}
            "false" => assert!(
                text.lines().any(|l| l.starts_with("# Wildcard: ")),
                "{shown}: text mode without a `# Wildcard: ` comment saying why"
            ),
            other => panic!("{shown}: binary = {other}"),
        }
        // Both streams have an expectation: trycmd does not check a stream without one.
        for ext in ["stdout", "stderr"] {
            let expected = case.with_extension(ext);
            assert!(
                expected.is_file(),
                "{shown}: no {} (an empty file expects nothing)",
                expected.display()
            );
        }
        assert!(
            !text.contains("\nstdout") && !text.contains("\nstderr"),
            "{shown}"
        );
        // Run from the workspace root, where the paths in args are.
        let cwd = value(&case, &text, "fs.cwd").trim_matches('"');
        let resolved = case
            .parent()
            .expect("a case is in a folder")
            .join(cwd)
            .canonicalize()
            .unwrap_or_else(|e| panic!("{shown}: fs.cwd: {e}"));
        assert_eq!(
            resolved, workspace,
            "{shown}: fs.cwd is not the workspace root"
        );
    }
}

#[test]
fn the_corpus_cases_list_exactly_the_corpus() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = workspace.canonicalize().expect("the workspace exists");
    let mut corpus: Vec<String> = netsem_harness::corpus::files()
        .iter()
        .map(|f| {
            f.canonicalize()
                .expect("a corpus file exists")
                .strip_prefix(&workspace)
                .expect("the corpus is in the workspace")
                .display()
                .to_string()
        })
        .collect();
    corpus.sort();
    assert!(!corpus.is_empty(), "the corpus is there");
    for engine in ["oracle", "spec"] {
        let case = PathBuf::from(format!(
            "{CASES}/run/passes_the_whole_corpus_with_both_engines/{engine}.toml"
        ));
        let text = fs::read_to_string(&case).expect("the corpus case exists");
        let listed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\","))
            .filter(|a| a.starts_with("tests/corpus/"))
            .collect();
        assert_eq!(
            listed,
            corpus,
            "{}: args must list every corpus trace every engine must pass, sorted; after \
             changing them, regenerate the expectation with TRYCMD=overwrite and review it",
            case.display()
        );
        let expected = fs::read_to_string(case.with_extension("stdout")).expect("its stdout");
        assert_eq!(
            expected.lines().count(),
            corpus.len(),
            "{}: one PASS line per trace",
            case.display()
        );
    }
}
