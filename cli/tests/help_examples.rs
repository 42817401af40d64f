//! Every example of every `--help` runs as shipped, from the workspace root, on the files the
//! workspace ships (`examples/shop`, `tests/corpus/`): none is bad input (exit 2), none panics.
//!
//! An example is a line of a help text's `Examples:` section that runs `netsem`. Shell pieces
//! are read as a shell would run them: `A | netsem …` feeds `A`'s output to netsem (a `netsem`
//! command runs; `cat FILE` is the file; `kubectl get …` is the recorded dump
//! `tests/data/kubectl-get-pods-svc-netpol-ns-A.yaml`, since no cluster is at hand); a `| dot …`
//! after netsem and a `> FILE` redirection are left out (they only take netsem's output);
//! single quotes group words.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is in the workspace")
        .to_path_buf()
}

/// Words as a shell splits them, with single quotes.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

/// Runs netsem with `args` and optional standard input; returns the exit code, stdout and
/// stderr.
fn netsem(args: &[String], stdin: Option<Vec<u8>>) -> (i32, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netsem"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netsem runs");
    {
        let mut input = child.stdin.take().expect("a pipe");
        if let Some(bytes) = stdin {
            input.write_all(&bytes).expect("writing stdin");
        }
    }
    let out = child.wait_with_output().expect("netsem ends");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The examples of a help text.
fn examples(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Examples:") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with("  ") {
                inside = false;
                continue;
            }
            if line.contains("netsem ") {
                out.push(line.trim().to_string());
            }
        }
    }
    out
}

/// Runs one example line.
fn run_example(line: &str) -> (i32, String) {
    let mut stages: Vec<&str> = line.split(" | ").collect();
    // What follows netsem in a pipe only takes its output.
    while stages
        .last()
        .is_some_and(|s| !s.trim_start().starts_with("netsem "))
    {
        stages.pop();
    }
    let mut input: Option<Vec<u8>> = None;
    let mut last = (0, String::new());
    for stage in stages {
        let stage = stage.split(" > ").next().unwrap_or(stage);
        let w = words(stage);
        match w.first().map(String::as_str) {
            Some("netsem") => {
                let (code, stdout, stderr) = netsem(&w[1..], input.take());
                input = Some(stdout);
                last = (code, stderr);
            }
            Some("cat") => {
                input = Some(std::fs::read(root().join(&w[1])).expect("the file exists"));
            }
            Some("kubectl") => {
                input = Some(
                    std::fs::read(root().join("tests/data/kubectl-get-pods-svc-netpol-ns-A.yaml"))
                        .expect("the recorded dump exists"),
                );
            }
            other => panic!("{line}: cannot run `{other:?}`"),
        }
    }
    last
}

#[test]
fn every_help_example_runs_on_what_the_workspace_ships() {
    let mut helps = vec![vec!["--help".to_string()]];
    for sub in ["matrix", "explain", "run", "check"] {
        helps.push(vec![sub.to_string(), "--help".to_string()]);
    }
    let mut ran = 0;
    let mut problems = Vec::new();
    for args in helps {
        let (code, stdout, _) = netsem(&args, None);
        assert_eq!(code, 0, "{args:?}");
        for line in examples(&String::from_utf8_lossy(&stdout)) {
            let (code, stderr) = run_example(&line);
            ran += 1;
            if ![0, 1].contains(&code) || stderr.contains("error:") {
                problems.push(format!("{line}\n  exit {code}\n  {stderr}"));
            }
        }
    }
    assert!(ran >= 15, "only {ran} examples found");
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
