//! End-to-end tests of the `netsem` command line: each test runs the real binary and asserts
//! its exact exit code, stdout and stderr (docs/FORMATS.md is the contract).
//!
//! The fixture `tests/data/two-ns/` is a small cluster written for these tests: namespaces
//! `app` and `app-db` (byte order of `namespace/name` puts `app-db/…` before `app/…`, the
//! order of `(namespace, name)` tuples the other way round), four pods with `status.podIPs`,
//! and two NetworkPolicies with named ports, `endPort` ranges, UDP and SCTP rules and an
//! `ipBlock`. Its matrix, `tests/data/two-ns.jsonl`, was derived by hand from
//! docs/SEMANTICS.md (the derivation is in `tests/data/README.md`), not copied from the tool's
//! output.
//!
//! These tests are moving to data files under `tests/cases/` (run by `tests/cases.rs`); the
//! matrix, error, help, explain and run tests are there already.
//!
//! Behaviour that looks wrong is pinned as it is today ("Observed today") with the wanted
//! assertion commented out behind a `// BUG:` line, so that the suite stays green; uncomment
//! to reproduce.

use serde_json::Value;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The shipped example.
const SHOP: &str = "examples/shop";

// ----- running the binary ----------------------------------------------------------------------

/// What one run of `netsem` did.
#[derive(Debug)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ is inside the workspace")
        .to_path_buf()
}

/// Runs `netsem ARGS` in the workspace root. Every run must end with an exit code (not a
/// signal) and print no panic message.
fn netsem<S: AsRef<OsStr>>(args: &[S]) -> Outcome {
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_netsem"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("the netsem binary runs");
    let o = Outcome {
        code: out
            .status
            .code()
            .unwrap_or_else(|| panic!("netsem {shown:?} was killed by a signal")),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    };
    assert!(
        !o.stdout.contains("panicked") && !o.stderr.contains("panicked") && o.code != 101,
        "netsem {shown:?} panicked:\n{o:#?}"
    );
    o
}

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "netsem-cli-{}-{tag}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    /// Writes `text` to `name` in the directory and returns its path as a string.
    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        fs::write(&path, text).expect("write a temporary file");
        path.to_str()
            .expect("temporary paths are UTF-8")
            .to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const NOTHING: &str = r#"{"TCP":[],"UDP":[],"SCTP":[]}"#;

/// The pods of the shop, in contract order, read from its jsonl matrix (workload pod names
/// carry a hash, so the tests do not spell them).
fn shop_pods() -> Vec<String> {
    let o = netsem(&["matrix", SHOP, "--format", "jsonl"]);
    assert_eq!(o.code, 0, "{o:#?}");
    let mut pods: Vec<String> = Vec::new();
    for line in o.stdout.lines() {
        let v: Value = serde_json::from_str(line).expect("a jsonl line is JSON");
        let src = v["src"].as_str().expect("src is a string").to_string();
        if pods.last() != Some(&src) {
            pods.push(src);
        }
    }
    pods
}

fn shop_pod(prefix: &str, index: usize) -> String {
    shop_pods()
        .into_iter()
        .filter(|p| p.starts_with(prefix))
        .nth(index)
        .unwrap_or_else(|| panic!("the shop has a pod {prefix}… number {index}"))
}

// ----- 6. check ---------------------------------------------------------------------------------

fn shop_matrix() -> String {
    let o = netsem(&["matrix", SHOP, "--format", "jsonl"]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    o.stdout
}

/// The shop's jsonl matrix with the cell from `src` to `dst` replaced by `allowed`, and the
/// 1-based line number of that cell.
fn replace_cell(matrix: &str, src: &str, dst: &str, allowed: &str) -> (String, usize) {
    let prefix = format!(r#"{{"src":"{src}","dst":"{dst}","allowed":"#);
    let mut at = 0;
    let mut out = String::new();
    for (i, line) in matrix.lines().enumerate() {
        if line.starts_with(&prefix) {
            at = i + 1;
            out.push_str(&format!("{prefix}{allowed}}}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(at > 0, "no cell {src} -> {dst}");
    (out, at)
}

#[test]
fn check_the_unmodified_shop_matrix_has_no_disagreement() {
    let tmp = TempDir::new("check-ok");
    let observed = tmp.write("observed.jsonl", &shop_matrix());
    let o = netsem(&["check", SHOP, "--observed", &observed]);
    assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{o:#?}");
    assert_eq!(o.stdout, "checked 81 of 81 pairs: 0 disagreement(s)\n");
    // Blank lines are skipped (docs/FORMATS.md).
    let spaced = tmp.write("spaced.jsonl", &shop_matrix().replace('\n', "\n\n"));
    let o = netsem(&["check", SHOP, "--observed", &spaced]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "checked 81 of 81 pairs: 0 disagreement(s)\n")
    );
}

#[test]
fn check_a_flipped_matrix_lists_exactly_the_flipped_cells_each_with_its_explanation() {
    let web0 = shop_pod("frontend/web-", 0);
    let matrix = shop_matrix();
    // 1. Remove the only allowed port of an allowed cell (web-0 -> api, TCP 8080).
    let (matrix, line_web) = replace_cell(&matrix, &web0, "backend/api", NOTHING);
    // 2. Add ports to a denied cell, in two protocols (admin-console -> api).
    let (matrix, line_admin) = replace_cell(
        &matrix,
        "frontend/admin-console",
        "backend/api",
        r#"{"TCP":[[8080,8080]],"UDP":[[5000,5001]],"SCTP":[]}"#,
    );
    // 3. Remove part of a range (prometheus -> db-0 allows TCP 9100-9199, allow-monitoring).
    let (matrix, line_prom) = replace_cell(
        &matrix,
        "monitoring/prometheus",
        "backend/db-0",
        r#"{"TCP":[[9100,9149]],"UDP":[],"SCTP":[]}"#,
    );
    let tmp = TempDir::new("check-flip");
    let observed = tmp.write("flipped.jsonl", &matrix);
    let o = netsem(&["check", SHOP, "--observed", &observed]);
    assert_eq!((o.code, o.stderr.as_str()), (1, ""), "{o:#?}");
    // Pairs in contract order, then TCP, UDP, SCTP.
    let expected = [
        (
            format!("DISAGREE line {line_admin}: frontend/admin-console -> backend/api TCP 8080: observed allowed, semantics DENIES"),
            "    TCP pod frontend/admin-console (",
            "DENIED",
        ),
        (
            format!("DISAGREE line {line_admin}: frontend/admin-console -> backend/api UDP 5000-5001: observed allowed, semantics DENIES"),
            "    UDP pod frontend/admin-console (",
            "DENIED",
        ),
        (
            format!("DISAGREE line {line_web}: {web0} -> backend/api TCP 8080: observed denied, semantics ALLOWS"),
            "    TCP pod frontend/web-",
            "ALLOWED",
        ),
        (
            format!("DISAGREE line {line_prom}: monitoring/prometheus -> backend/db-0 TCP 9150-9199: observed denied, semantics ALLOWS"),
            "    TCP pod monitoring/prometheus (",
            "ALLOWED",
        ),
    ];
    let lines: Vec<&str> = o.stdout.lines().collect();
    let heads: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.starts_with(' '))
        .map(|(i, l)| (i, *l))
        .collect();
    assert_eq!(heads.len(), expected.len() + 1, "{}", o.stdout);
    for ((i, head), (want, first, verdict)) in heads.iter().zip(&expected) {
        assert_eq!(head, want);
        // The explanation follows, indented: the connection, then the verdict.
        assert!(lines[i + 1].starts_with(first), "{}", lines[i + 1]);
        assert_eq!(lines[i + 2], format!("      verdict: {verdict}"));
        assert!(lines[i + 3..]
            .iter()
            .take_while(|l| l.starts_with("    "))
            .any(|l| l.starts_with("      profile switches that would change the verdict: ")));
    }
    assert_eq!(
        heads.last().unwrap().1,
        "checked 81 of 81 pairs: 4 disagreement(s)"
    );
    assert!(o
        .stdout
        .contains("        by backend/allow-monitoring ingress[0], from[0]\n"));
    assert!(o.stdout.contains(
        "        backend/default-deny: selects the pod and has no ingress rule [rule 5.5]\n"
    ));
}

#[test]
fn check_reports_missing_and_unknown_pairs() {
    let matrix = shop_matrix();
    let mut lines: Vec<String> = matrix.lines().map(String::from).collect();
    let dropped = lines.remove(1); // backend/api -> backend/cache
    assert!(dropped.starts_with(r#"{"src":"backend/api","dst":"backend/cache","#));
    lines.push(
        r#"{"src":"backend/api","dst":"backend/ghost","allowed":{"TCP":[],"UDP":[],"SCTP":[]}}"#
            .to_string(),
    );
    let tmp = TempDir::new("check-missing");
    let observed = tmp.write("observed.jsonl", &(lines.join("\n") + "\n"));
    let o = netsem(&["check", SHOP, "--observed", &observed]);
    assert_eq!((o.code, o.stderr.as_str()), (1, ""), "{o:#?}");
    assert_eq!(
        o.stdout,
        "MISSING backend/api -> backend/cache: no observation; the semantics allows TCP 6379\n\
         UNKNOWN line 81: backend/api -> backend/ghost: no such pod in the manifests\n\
         checked 80 of 81 pairs: 2 disagreement(s)\n"
    );
}

const ATTEMPTS: &str = "\
netsemTrace: 1
name: observed-attempts
steps:
  - {op: openPodConnection, from: backend/api, to: backend/cache, port: 6379, expect: {allowed: true, connection: 1}}
  - {op: openPodConnection, from: frontend/admin-console, to: backend/api, port: 8080, expect: {allowed: true}}
  - {op: openPodConnection, from: backend/api, to: backend/db-0, port: 5432, expect: {allowed: true, connection: 2}}
  - {op: openPodConnection, from: monitoring/prometheus, to: backend/db-1, port: 9187, expect: {allowed: true, connection: 3}}
  - {op: openPodConnection, from: backend/api, to: backend/db-1, protocol: UDP, port: 5432, expect: {allowed: false}}
";

#[test]
fn check_a_trace_observation_lists_the_wrong_step_with_its_explanation() {
    let tmp = TempDir::new("check-trace");
    let observed = tmp.write("attempts.yaml", ATTEMPTS);
    let o = netsem(&["check", SHOP, "--observed", &observed]);
    assert_eq!((o.code, o.stderr.as_str()), (1, ""), "{o:#?}");
    let heads: Vec<&str> = o.stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    // Steps are numbered from 0, as in `netsem run`: step 1 is the second.
    assert_eq!(
        heads,
        [
            r#"DISAGREE step 1 in allowed: {"op":"openPodConnection","from":"frontend/admin-console","to":"backend/api","protocol":"TCP","port":8080}"#,
            "checked 5 steps: 1 disagreement(s)",
        ]
    );
    assert!(o.stdout.contains(
        "    observed by the implementation: {\"allowed\":true}\n    the semantics:                  {\"allowed\":false}\n"
    ), "{}", o.stdout);
    assert!(o.stdout.contains(
        "    TCP pod frontend/admin-console (10.244.0.5) -> pod backend/api (10.244.0.1) port 8080\n      verdict: DENIED\n"
    ), "{}", o.stdout);
    // The same trace with the wrong step corrected: no disagreement.
    let fixed = tmp.write(
        "fixed.yaml",
        &ATTEMPTS.replace(
            "port: 8080, expect: {allowed: true}",
            "port: 8080, expect: {allowed: false}",
        ),
    );
    let o = netsem(&["check", SHOP, "--observed", &fixed]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "checked 5 steps: 0 disagreement(s)\n"),
        "{o:#?}"
    );
    // JSON traces are traces too.
    let json = tmp.write(
        "attempts.json",
        r#"{"netsemTrace": 1, "name": "j", "steps": [{"op": "openPodConnection", "from": "backend/api", "to": "backend/cache", "port": 6379, "expect": {"allowed": false}}]}"#,
    );
    let o = netsem(&["check", SHOP, "--observed", &json]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(o.stdout.starts_with("DISAGREE step 0 in allowed: "));
    assert!(o.stdout.ends_with("checked 1 steps: 1 disagreement(s)\n"));
}

#[test]
fn check_a_trace_honours_its_own_profile_unless_profile_is_given() {
    let tmp = TempDir::new("check-profile");
    let observed = tmp.write(
        "self.yaml",
        "netsemTrace: 1\nname: self\nprofile: \"default,pod-to-self=policy-checked\"\nsteps:\n  - {op: openPodConnection, from: backend/api, to: backend/api, port: 1, expect: {allowed: false}}\n",
    );
    // The trace's own profile: pod-to-self is policy-checked, and backend/api is isolated.
    let o = netsem(&["check", SHOP, "--observed", &observed]);
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "checked 1 steps: 0 disagreement(s)\n", "")
    );
    // --profile overrides it, and says so.
    let o = netsem(&[
        "check",
        SHOP,
        "--observed",
        &observed,
        "--profile",
        "default",
    ]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(o.stdout.ends_with("checked 1 steps: 1 disagreement(s)\n"));
    assert_eq!(
        o.stderr,
        "note: --profile default overrides the trace's profile default,pod-to-self=policy-checked\n"
    );
}

#[test]
fn check_rejects_a_malformed_observation_with_exit_2() {
    let tmp = TempDir::new("check-bad");
    let first = shop_matrix().lines().next().unwrap().to_string();
    let cases = [
        (
            "truncated.jsonl",
            r#"{"src":"backend/api""#.to_string() + "\n",
            "line 1: not a matrix entry: ",
        ),
        (
            "words.jsonl",
            "hello world\n".to_string(),
            "line 1: not a matrix entry: ",
        ),
        (
            "icmp.jsonl",
            first.replace("\"TCP\"", "\"ICMP\"") + "\n",
            "line 1: not a matrix entry: unknown field `ICMP`",
        ),
        (
            "big-port.jsonl",
            first.replace("[[1,65535]],\"UDP\"", "[[1,70000]],\"UDP\"") + "\n",
            "line 1: not a matrix entry: ",
        ),
        (
            "twice.jsonl",
            format!("{first}\n{first}\n"),
            "line 2: pair backend/api -> backend/api appears twice",
        ),
        (
            "bad-pod.jsonl",
            first.replace("backend/api", "no-slash") + "\n",
            "line 1: not a matrix entry: ",
        ),
        (
            "trace.yaml",
            "netsemTrace: 1\nname: x\nsteps: [{op: nope}]\n".to_string(),
            "steps[0]: unknown variant `nope`",
        ),
    ];
    for (name, text, message) in cases {
        let path = tmp.write(name, &text);
        let o = netsem(&["check", SHOP, "--observed", &path]);
        assert_eq!(o.code, 2, "{name}: {o:#?}");
        assert_eq!(o.stdout, "", "{name}");
        assert!(
            o.stderr.starts_with(&format!("error: {path}: {message}")),
            "{name}: {}",
            o.stderr
        );
    }
}

#[test]
fn check_rejects_port_0_and_reversed_ranges_in_an_observed_matrix() {
    let tmp = TempDir::new("check-port0");
    let matrix = shop_matrix();
    // backend/api -> backend/cache: the semantics allows TCP 6379.
    let (zero, line) = replace_cell(
        &matrix,
        "backend/api",
        "backend/cache",
        r#"{"TCP":[[0,0],[6379,6379]],"UDP":[],"SCTP":[]}"#,
    );
    let observed = tmp.write("zero.jsonl", &zero);
    let o = netsem(&["check", SHOP, "--observed", &observed]);
    // docs/FORMATS.md: ranges are within 1-65535; anything else is a malformed observation.
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(
        o.stderr.contains(&format!("line {line}: port range [0,0]")),
        "{}",
        o.stderr
    );
    let (reversed, _) = replace_cell(
        &matrix,
        "backend/api",
        "backend/cache",
        r#"{"TCP":[[9,3],[6379,6379]],"UDP":[],"SCTP":[]}"#,
    );
    let observed = tmp.write("reversed.jsonl", &reversed);
    let o = netsem(&["check", SHOP, "--observed", &observed]);
    assert_eq!(o.code, 2, "{o:#?}");
}
