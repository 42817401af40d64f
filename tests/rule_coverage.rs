//! Every numbered rule of `docs/SEMANTICS.md` is demonstrably tested: some test or some trace of
//! the shared corpus names it.
//!
//! A rule counts as covered when
//!
//! - a trace of the corpus (`tests/corpus/**/*.{yaml,yml,json}`) lists it under `rules:`, or
//! - a *test is named after it*: a function `fn r<N>_<M>…` (as in `fn r5_3_egress_…`) in test
//!   code.
//!
//! Nothing else counts: a rule number in a comment, a string or a call is a citation, not a
//! test of the rule. Test code is every `*.rs` file under a `tests/` directory of the scanned
//! crates, and, in every other `*.rs` file of those crates, the text from the first
//! `#[cfg(test)]` on. Production code is not scanned: its doc comments cite the rules they
//! implement, which is not a test of them.
//!
//! The test also fails when a trace, or a test's `r<N>_<M>` name, cites a rule that
//! `docs/SEMANTICS.md` does not define.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Section 9 rules (the manifest loader) that may stay uncovered for now. They are excused from
/// the "must be covered" check *only while they are still uncovered*: a rule listed here that
/// some test or trace cites is checked like any other, and the test prints a note that the entry
/// can go. The loader and its tests (`spec/tests/manifest.rs`) have landed and cover 9.1–9.7, so
/// nothing is pending; put a rule number here (e.g. `"9.8"`) only while its tests are being
/// written.
const PENDING_MANIFEST_RULES: &[&str] = &[];

/// The crates whose test code is scanned, relative to the workspace root (`gen` holds the
/// scenario generator and differential judge).
const SCANNED: &[&str] = &["spec", "model", "oracle", "harness", "cli", "tests"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A rule number `N.M` as `(N, M)`, so that 10.1 sorts after 9.7.
type RuleNo = (u32, u32);

fn show(r: RuleNo) -> String {
    format!("{}.{}", r.0, r.1)
}

fn parse_rule(s: &str) -> Option<RuleNo> {
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The rules of `docs/SEMANTICS.md`: lines starting `- **N.M**`, with their first line of text.
fn defined_rules(text: &str) -> BTreeMap<RuleNo, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("- **") else {
            continue;
        };
        let Some((number, summary)) = rest.split_once("**") else {
            continue;
        };
        if let Some(r) = parse_rule(number) {
            let previous = out.insert(r, summary.trim().to_string());
            assert!(
                previous.is_none(),
                "docs/SEMANTICS.md defines rule {number} twice"
            );
        }
    }
    out
}

/// Reads digits starting at `i`; returns the number and the index after them.
fn digits(chars: &[char], i: usize) -> Option<(u32, usize)> {
    let end = chars[i..]
        .iter()
        .position(|c| !c.is_ascii_digit())
        .map_or(chars.len(), |n| i + n);
    if end == i || end - i > 4 {
        return None;
    }
    let n: String = chars[i..end].iter().collect();
    Some((n.parse().ok()?, end))
}

/// `N<sep>M` at `i`, where the rule number does not go on (`1.2.3` is a version, not a rule).
fn number_at(chars: &[char], i: usize, sep: char) -> Option<(RuleNo, usize)> {
    let (a, j) = digits(chars, i)?;
    if chars.get(j) != Some(&sep) {
        return None;
    }
    let (b, k) = digits(chars, j + 1)?;
    let goes_on = chars.get(k) == Some(&sep) && chars.get(k + 1).is_some_and(char::is_ascii_digit);
    (!goes_on).then_some(((a, b), k))
}

/// Rule numbers named by test functions `fn r<N>_<M>…` in `text`.
fn test_name_citations(text: &str) -> BTreeSet<RuleNo> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = BTreeSet::new();
    for i in 0..chars.len() {
        let defines = chars[i..].starts_with(&['f', 'n', ' ', 'r'])
            && (i == 0 || !chars[i - 1].is_alphanumeric());
        if defines {
            if let Some((r, end)) = number_at(&chars, i + 4, '_') {
                // `fn r5_3(` or `fn r5_3_description`; not `fn r5_3x`.
                if chars.get(end).is_none_or(|c| !c.is_alphanumeric()) {
                    out.insert(r);
                }
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The test code of a Rust file: all of it under a `tests/` directory, else the part from the
/// first `#[cfg(test)]` on.
fn test_code(path: &Path, text: &str) -> String {
    let relative = path.strip_prefix(root()).unwrap_or(path);
    if relative.components().any(|c| c.as_os_str() == "tests") {
        text.to_string()
    } else {
        text.find("#[cfg(test)]")
            .map_or_else(String::new, |i| text[i..].to_string())
    }
}

/// The `rules:` list of a trace, read from its text so that a trace with operations this crate
/// does not know yet still counts (the spec replay test judges the operations).
fn trace_rules(text: &str) -> Vec<String> {
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line
            .strip_prefix("rules:")
            .or_else(|| line.strip_prefix("\"rules\":"))
        else {
            continue;
        };
        let rest = rest.trim();
        let mut items = Vec::new();
        if rest.starts_with('[') {
            let mut flow = rest.to_string();
            while !flow.contains(']') {
                match lines.next() {
                    Some(l) => flow.push_str(l),
                    None => break,
                }
            }
            let inner = flow
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default();
            items.extend(inner.split(',').map(str::to_string));
        } else {
            while let Some(l) = lines.peek() {
                match l.trim_start().strip_prefix("- ") {
                    Some(item) if l.starts_with(' ') || l.starts_with('-') => {
                        items.push(item.to_string());
                        lines.next();
                    }
                    _ => break,
                }
            }
        }
        return items
            .into_iter()
            .map(|s| s.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    Vec::new()
}

#[test]
fn every_rule_is_cited_by_a_test_or_a_trace() {
    let semantics = std::fs::read_to_string(root().join("docs/SEMANTICS.md"))
        .expect("docs/SEMANTICS.md is readable");
    let defined = defined_rules(&semantics);
    assert!(defined.len() > 50, "found only {} rules", defined.len());

    let mut problems = Vec::new();
    // Who cites each rule, for the failure message.
    let mut covered: BTreeMap<RuleNo, Vec<String>> = BTreeMap::new();

    // Corpus traces, of every role.
    let mut files = netsem_harness::corpus::files();
    for role in netsem_harness::corpus::ROLES {
        files.extend(netsem_harness::corpus::role_files(role));
    }
    assert!(!files.is_empty(), "the corpus is empty");
    for file in &files {
        let text = std::fs::read_to_string(file).expect("trace is readable");
        let name = file
            .strip_prefix(root())
            .unwrap_or(file)
            .display()
            .to_string();
        let rules = trace_rules(&text);
        let must_name = !netsem_harness::corpus::ROLES
            .iter()
            .any(|role| name.contains(&format!("corpus/{role}/")));
        if rules.is_empty() && must_name {
            problems.push(format!("{name}: the trace names no rule (`rules: [...]`)"));
        }
        for r in rules {
            match parse_rule(&r).filter(|r| defined.contains_key(r)) {
                Some(r) => covered.entry(r).or_default().push(name.clone()),
                None => problems.push(format!(
                    "{name}: cites rule `{r}`, which docs/SEMANTICS.md does not define"
                )),
            }
        }
    }

    // Test code.
    let this_file = root().join("tests").join("rule_coverage.rs");
    let mut sources = Vec::new();
    for dir in SCANNED {
        rust_files(&root().join(dir), &mut sources);
    }
    sources.sort();
    sources.dedup();
    for file in sources.iter().filter(|f| **f != this_file) {
        let text = std::fs::read_to_string(file).expect("source is readable");
        let code = test_code(file, &text);
        let name = file
            .strip_prefix(root())
            .unwrap_or(file)
            .display()
            .to_string();
        for r in test_name_citations(&code) {
            if defined.contains_key(&r) {
                covered.entry(r).or_default().push(name.clone());
            } else {
                problems.push(format!(
                    "{name}: a test is named after rule {}, which docs/SEMANTICS.md does not \
                     define",
                    show(r)
                ));
            }
        }
    }

    let pending: BTreeSet<RuleNo> = PENDING_MANIFEST_RULES
        .iter()
        .map(|r| parse_rule(r).expect("PENDING_MANIFEST_RULES holds rule numbers"))
        .collect();
    for r in &pending {
        assert!(
            defined.contains_key(r),
            "PENDING_MANIFEST_RULES lists {}, which docs/SEMANTICS.md does not define",
            show(*r)
        );
    }
    let mut uncovered = Vec::new();
    for (r, summary) in &defined {
        if covered.contains_key(r) {
            continue;
        }
        if pending.contains(r) {
            eprintln!(
                "pending (manifest loader): rule {} is not covered yet",
                show(*r)
            );
            continue;
        }
        let summary: String = summary.chars().take(90).collect();
        uncovered.push(format!("  {} {summary}", show(*r)));
    }
    for r in pending.iter().filter(|r| covered.contains_key(r)) {
        eprintln!(
            "note: rule {} is covered now ({}); it can leave PENDING_MANIFEST_RULES",
            show(*r),
            covered[r]
                .iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !uncovered.is_empty() {
        problems.push(format!(
            "{} rule(s) of docs/SEMANTICS.md have no test or trace naming them:\n{}",
            uncovered.len(),
            uncovered.join("\n")
        ));
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn citation_scanner_reads_test_names_and_trace_lists_only() {
    let ids = test_name_citations(
        "fn r5_3_egress() {}\nfn r10_2() {}\nfn pr6_1_x() {}\nfn r7_1x() {}\n// rule 2.2\nr4_4();",
    );
    assert_eq!(ids, BTreeSet::from([(5, 3), (10, 2)]));

    assert_eq!(
        trace_rules("name: x\nrules: [\"5.1\", '5.2', 2.7]\nsteps: []\n"),
        ["5.1", "5.2", "2.7"]
    );
    assert_eq!(
        trace_rules("rules:\n  - \"6.1\"\n  - 6.2\nsteps:\n  - op: x\n"),
        ["6.1", "6.2"]
    );
    assert_eq!(
        trace_rules("rules: [\"1.1\",\n  \"1.2\"]\n"),
        ["1.1", "1.2"]
    );

    let defined = defined_rules("## 1\n- **1.1** One.\n  more\n- **10.2** Ten.\n- not a rule\n");
    assert_eq!(
        defined.keys().copied().collect::<Vec<_>>(),
        [(1, 1), (10, 2)]
    );
}
