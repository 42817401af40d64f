//! From files and text to documents: directory walking, multi-document YAML, JSON streams
//! (rule 9.3).

use super::LoadError;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The file extensions a directory walk picks up.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Rule 9.3: every manifest file named by `paths`, directories walked recursively; the files of
/// each directory argument in path order (arguments keep their order).
pub(crate) fn collect_files<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let meta = std::fs::metadata(p)
            .map_err(|e| LoadError::file(&p.display().to_string(), e.to_string()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found, &mut BTreeSet::new())?;
            found.sort();
            out.extend(found);
        } else {
            out.push(p.to_path_buf());
        }
    }
    Ok(out)
}

/// Walks `dir`, visiting each directory once (symbolic links may form cycles).
fn walk(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut BTreeSet<PathBuf>) -> Result<(), LoadError> {
    let err = |e: std::io::Error| LoadError::file(&dir.display().to_string(), e.to_string());
    if !seen.insert(std::fs::canonicalize(dir).map_err(err)?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        if path.is_dir() {
            walk(&path, out, seen)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// One document of a file: its number (from 1) and its value (`Null` when empty).
pub(crate) type Document = (usize, Value);

/// The path that names standard input, wherever a path is accepted.
pub const STDIN_PATH: &str = "-";
/// The name errors and origins give standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// Splits and parses `text`: a JSON stream when `file` ends in `.json`, or when it is standard
/// input and starts with `{` (as kubectl's reader sniffs it), else YAML.
#[cfg(test)]
pub(crate) fn documents(file: &str, text: &str) -> Result<Vec<Document>, LoadError> {
    if is_json(file, text) {
        json_documents(file, text)
    } else {
        yaml_documents(file, text)
    }
}

fn is_json(file: &str, text: &str) -> bool {
    let sniffed = file == STDIN_NAME && text.trim_start().starts_with('{');
    file.ends_with(".json") || sniffed
}

fn json_documents(file: &str, text: &str) -> Result<Vec<Document>, LoadError> {
    let mut out = Vec::new();
    for (i, v) in serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .enumerate()
    {
        let n = i.saturating_add(1);
        let v = v.map_err(|e| LoadError {
            document: Some(n),
            ..LoadError::file(file, format!("JSON syntax error: {e}"))
        })?;
        out.push((n, v));
    }
    Ok(out)
}

/// Whether a line is a YAML directives-end marker (`---`, possibly followed by content).
fn is_document_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Whether a line carries no document content: blank, a comment, a directive, a bare marker.
fn is_blank(line: &str) -> bool {
    let empty = |rest: &str| {
        let rest = rest.trim();
        rest.is_empty() || rest.starts_with('#')
    };
    empty(line)
        || line.starts_with('%')
        || line.strip_prefix("...").is_some_and(empty)
        || line.strip_prefix("---").is_some_and(empty)
}

/// One YAML document of a file, before parsing: its number, its first line (for positions)
/// and its text, or `None` when it has no content (a `Null` document).
struct Section<'a> {
    number: usize,
    first_line: usize,
    body: Option<&'a str>,
}

/// Splits a YAML stream into documents at `---` markers (a line starting with `---` can only be
/// a marker in YAML). Documents are numbered from 1 in file order; text before the first marker
/// is a document only if it has content.
fn yaml_sections(text: &str) -> Vec<Section<'_>> {
    // (first line index, start byte, end byte) of each section.
    let mut sections: Vec<(usize, usize, usize)> = Vec::new();
    let mut start = 0usize;
    let mut start_line = 0usize;
    let mut offset = 0usize;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        if is_document_marker(line) && line_no > 0 {
            sections.push((start_line, start, offset));
            start = offset;
            start_line = line_no;
        }
        offset = offset.saturating_add(line.len());
    }
    sections.push((start_line, start, text.len()));

    let mut out = Vec::new();
    let mut number = 0usize;
    for (i, (first_line, from, to)) in sections.into_iter().enumerate() {
        let body = text.get(from..to).unwrap_or("");
        let explicit = body.lines().next().is_some_and(is_document_marker);
        let blank = body.lines().all(is_blank);
        if i == 0 && !explicit && blank {
            continue;
        }
        number = number.saturating_add(1);
        out.push(Section {
            number,
            first_line,
            body: (!blank).then_some(body),
        });
    }
    out
}

/// Parses one section; each is parsed on its own, with positions given as positions in the
/// file.
fn parse_section(file: &str, section: &Section<'_>) -> Result<Document, LoadError> {
    let Some(body) = section.body else {
        return Ok((section.number, Value::Null));
    };
    if let Some(value) = list_in_parallel(body) {
        return Ok((section.number, value));
    }
    let value = yaml_value(body).map_err(|e| LoadError {
        document: Some(section.number),
        ..LoadError::file(
            file,
            format!(
                "YAML syntax error: {}",
                yaml_message(&e, section.first_line)
            ),
        )
    })?;
    Ok((section.number, value))
}

/// Below this size a list document is parsed whole: splitting it would not pay.
const LIST_SPLIT_BYTES: usize = 1 << 16;

/// A big `kind: List` document as `kubectl get -o yaml` writes it (`items:` at the start of a
/// line, each item a block sequence entry `- ` at column 0, its lines indented by two spaces),
/// parsed on every core, each item on its own; `None` (parse it whole) for anything else, and
/// whenever an item or the rest of the document does not parse, so that errors are those of
/// the whole document. An item is context-free YAML unless the document has anchors, aliases,
/// tags or directives; a document with any `&`, `*`, `!` or `%` is parsed whole.
fn list_in_parallel(body: &str) -> Option<Value> {
    if body.len() < LIST_SPLIT_BYTES || body.contains(['&', '*', '!', '%']) {
        return None;
    }
    let (head, items, tail) = list_items(body)?;
    if items.len() < 2 {
        return None;
    }
    // The document without its items, which must read `items: []` where they were.
    let skeleton = format!("{head}items: []\n{tail}");
    let mut whole = yaml_value(&skeleton).ok()?;
    let expected = ["apiVersion", "items", "kind", "metadata"];
    let fields = whole.as_object()?;
    if fields.get("items") != Some(&Value::Array(Vec::new()))
        || !fields.keys().all(|k| expected.contains(&k.as_str()))
    {
        return None;
    }
    // Each item is parsed as a one-entry sequence: its text is taken as it is in the file.
    let parsed = par_map(&items, |item| match yaml_value(item) {
        Ok(Value::Array(mut one)) if one.len() == 1 => one.pop(),
        _ => None,
    });
    let values: Option<Vec<Value>> = parsed.into_iter().collect();
    *whole.get_mut("items")? = Value::Array(values?);
    Some(whole)
}

/// Splits `body` at its `items:` line into what comes before it, the text of each item and
/// what follows the items; `None` when the items are not written as `kubectl get -o yaml`
/// writes them.
fn list_items(body: &str) -> Option<(&str, Vec<&str>, &str)> {
    let mut offset = 0;
    let mut start = None;
    for line in body.split_inclusive('\n') {
        if line.trim_end() == "items:" {
            start = Some(offset);
            break;
        }
        offset += line.len();
    }
    let start = start?;
    let first = start + body[start..].find('\n')? + 1;
    let mut items: Vec<&str> = Vec::new();
    let mut item_start = None;
    let mut at = first;
    let mut end = body.len();
    for line in body[first..].split_inclusive('\n') {
        if line.starts_with("- ") {
            if let Some(s) = item_start {
                items.push(&body[s..at]);
            }
            item_start = Some(at);
        } else if line.starts_with("  ") || line.trim_end_matches(['\r', '\n']).is_empty() {
            // A line of the current item (or a blank one, which block scalars may hold).
            item_start?;
        } else if line.starts_with(|c: char| c.is_ascii_alphabetic()) {
            // The next key of the document: the items have ended.
            end = at;
            break;
        } else {
            return None;
        }
        at += line.len();
    }
    items.push(&body[item_start?..end]);
    Some((&body[..start], items, &body[end..]))
}

#[cfg(test)]
fn yaml_documents(file: &str, text: &str) -> Result<Vec<Document>, LoadError> {
    yaml_sections(text)
        .iter()
        .map(|s| parse_section(file, s))
        .collect()
}

/// [`documents`] of many files `(name, text)` at once, each document then given to `read`
/// (with its file and number), on every core: each document is parsed and read on its own, so
/// the results are those of doing it one after the other (the same values, the same first
/// error of each file). A document's value is dropped by the worker that read it, which keeps
/// the values of the whole input from being alive at once.
pub(crate) fn read_documents_of_files<R: Send>(
    files: &[(String, String)],
    read: impl Fn(&str, usize, Value) -> R + Sync,
) -> Vec<Result<Vec<R>, LoadError>> {
    enum Unit<'a> {
        Json(usize),
        Yaml(usize, Section<'a>),
    }
    let mut units = Vec::new();
    for (i, (file, text)) in files.iter().enumerate() {
        if is_json(file, text) {
            units.push(Unit::Json(i));
        } else {
            units.extend(yaml_sections(text).into_iter().map(|s| Unit::Yaml(i, s)));
        }
    }
    let parsed = par_map(&units, |u| {
        let (i, documents) = match u {
            Unit::Json(i) => (*i, json_documents(&files[*i].0, &files[*i].1)),
            Unit::Yaml(i, s) => (*i, parse_section(&files[*i].0, s).map(|d| vec![d])),
        };
        let file = files[i].0.as_str();
        documents.map(|docs| {
            docs.into_iter()
                .map(|(n, value)| read(file, n, value))
                .collect::<Vec<R>>()
        })
    });
    let mut out: Vec<Result<Vec<R>, LoadError>> = files.iter().map(|_| Ok(Vec::new())).collect();
    for (u, r) in units.iter().zip(parsed) {
        let i = match u {
            Unit::Json(i) | Unit::Yaml(i, _) => *i,
        };
        if let Ok(docs) = &mut out[i] {
            match r {
                Ok(d) => docs.extend(d),
                Err(e) => out[i] = Err(e),
            }
        }
    }
    out
}

/// `items.into_iter().enumerate().map(f).collect()`, on every available core, each core taking
/// a contiguous run of the items; the order is kept.
pub(crate) fn par_map_vec<T: Send, R: Send>(
    mut items: Vec<T>,
    f: impl Fn(usize, T) -> R + Sync,
) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if workers <= 1 {
        return items
            .into_iter()
            .enumerate()
            .map(|(i, t)| f(i, t))
            .collect();
    }
    let per = items.len().div_ceil(workers);
    let mut runs = Vec::new();
    while items.len() > per {
        let rest = items.split_off(per);
        runs.push(std::mem::replace(&mut items, rest));
    }
    runs.push(items);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .enumerate()
            .map(|(k, run)| {
                scope.spawn(move || {
                    run.into_iter()
                        .enumerate()
                        .map(|(i, t)| f(k * per + i, t))
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// `items.iter().map(f).collect()`, on every available core; the order is kept.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        mine.push((i, f(item)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// One document as kubectl's YAML reader (go-yaml v2, YAML 1.1) reads it, where serde-saphyr
/// can be made to agree (docs/MANIFESTS.md, "YAML as kubectl reads it"):
///
/// - YAML 1.1 booleans (`y`, `yes`, `on`, `no`, `off`, …) are booleans (serde-saphyr's default,
///   `strict_booleans: false`), so an unquoted `no` where a string belongs is an error, as it is
///   for kubectl (the message suggests quoting it, `object.rs`);
/// - a leading `0` makes an integer octal (`0123` is 83): `legacy_octal_numbers`;
/// - duplicate keys are an error (serde-saphyr's default; kubectl keeps the last one silently);
/// - a tab at the start of a line inside a flow collection (`ports: [\n\t80]`) is whitespace,
///   as libyaml-style scanners treat it; serde-saphyr rejects it, so on that error the document
///   is read again with those tabs as spaces ([`flow_tabs_as_spaces`]). A tab indenting a block
///   stays an error.
fn yaml_value(body: &str) -> Result<Value, serde_saphyr::Error> {
    let read = |text: &str| {
        let options = serde_saphyr::options! {
            with_snippet: false,
            legacy_octal_numbers: true,
            budget: Some(budget_for(text.len())),
        };
        serde_saphyr::from_str_with_options::<Value>(text, options)
    };
    match read(body) {
        Err(e) if e.to_string().contains("tabs disallowed") => match flow_tabs_as_spaces(body) {
            Some(fixed) => read(&fixed).map_err(|_| e),
            None => Err(e),
        },
        other => other,
    }
}

/// serde-saphyr's resource budget for a document of `bytes` bytes: its defaults (which stop
/// alias bombs such as billion laughs), with the counts that grow with the document itself —
/// events, nodes, scalar bytes — raised to what a document of that size can hold without
/// aliases. A `kubectl get -o yaml` list of 10,000 pods has over a million events; under the
/// defaults alone it could not be read.
fn budget_for(bytes: usize) -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = budget.max_events.max(bytes.saturating_mul(2));
    budget.max_nodes = budget.max_nodes.max(bytes);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(bytes);
    budget
}

/// The text with every tab that starts a line inside a flow collection (`[`…`]`, `{`…`}`)
/// replaced by a space (same length, so positions do not move); `None` when there is none. The
/// scan knows quoted scalars, comments and block scalars; a `[` or `{` opens a flow collection
/// only where a value starts (after `: `, `- `, at the start of a line, or inside another).
pub(crate) fn flow_tabs_as_spaces(text: &str) -> Option<String> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
    }
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut quote = Quote::None;
    // Inside a block scalar: the indentation its content must exceed.
    let mut block: Option<usize> = None;
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block {
            if line.trim().is_empty() || indent > parent {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        let mut line = line.to_string();
        let lead = line.len() - line.trim_start_matches([' ', '\t']).len();
        if depth > 0 && quote == Quote::None && line[..lead].contains('\t') {
            line.replace_range(..lead, &" ".repeat(lead));
            changed = true;
        }
        let chars: Vec<char> = line.chars().collect();
        // The last significant character before `i` on this line (`None` at its start).
        let before = |i: usize| {
            chars[..i]
                .iter()
                .rev()
                .find(|c| !c.is_whitespace())
                .copied()
        };
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match quote {
                Quote::Double => {
                    if c == '\\' {
                        i += 1;
                    } else if c == '"' {
                        quote = Quote::None;
                    }
                }
                Quote::Single => {
                    if c == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            i += 1;
                        } else {
                            quote = Quote::None;
                        }
                    }
                }
                Quote::None => {
                    let value_starts = match before(i) {
                        None => true,
                        Some(':') | Some('-') | Some('?') => chars
                            .get(i.wrapping_sub(1))
                            .is_some_and(|p| p.is_whitespace()),
                        Some('[') | Some('{') | Some(',') => depth > 0,
                        _ => false,
                    };
                    match c {
                        '#' if i == 0 || chars[i - 1].is_whitespace() => break,
                        '[' | '{' if value_starts || depth > 0 => depth += 1,
                        ']' | '}' if depth > 0 => depth -= 1,
                        '"' if value_starts => quote = Quote::Double,
                        '\'' if value_starts => quote = Quote::Single,
                        '|' | '>' if value_starts && depth == 0 => {
                            block = Some(indent);
                            break;
                        }
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        out.push_str(&line);
    }
    changed.then_some(out)
}

/// A YAML error's message with its position moved from the document to the file (the document
/// starts after `offset` lines).
fn yaml_message(e: &serde_saphyr::Error, offset: usize) -> String {
    let text = e
        .to_string()
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    let Some(loc) = e.location() else {
        return text;
    };
    let (line, column) = (loc.line(), loc.column());
    let base = text
        .strip_suffix(&format!(" at line {line}, column {column}"))
        .unwrap_or(&text);
    let offset = u64::try_from(offset).unwrap_or(u64::MAX);
    format!(
        "{base} at line {}, column {column}",
        line.saturating_add(offset)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rule 9.3: documents are numbered in file order, empty ones count, a leading comment does
    // not.
    #[test]
    fn r9_3_documents_are_numbered_in_order() {
        let text = "# header\n---\na: 1\n---\n---\nb: 2\n--- {c: 3}\n";
        let docs = yaml_documents("f.yaml", text).unwrap();
        let numbers: Vec<usize> = docs.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4]);
        assert_eq!(docs[0].1["a"], 1);
        assert!(docs[1].1.is_null());
        assert_eq!(docs[2].1["b"], 2);
        assert_eq!(docs[3].1["c"], 3);
        let docs = yaml_documents("f.yaml", "a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(yaml_documents("f.yaml", "").unwrap().is_empty());
    }

    // Rule 9.1: a syntax error names the document and the line in the file.
    #[test]
    fn r9_1_yaml_error_has_file_line() {
        let text = "a: 1\n---\nb: 2\nc: [1, 2\nd: 3\n";
        let e = yaml_documents("f.yaml", text).unwrap_err();
        assert_eq!(e.document, Some(2));
        assert!(e.message.contains("line 5"), "{}", e.message);
    }

    // Rule 9.3: tabs starting a line inside a flow collection become spaces; brackets inside
    // plain or quoted scalars, comments and block scalars open nothing.
    #[test]
    fn r9_3_flow_tabs_only_inside_flow_collections() {
        assert_eq!(
            flow_tabs_as_spaces("a: [\n\t1,\n\t2]\nb: 3\n").as_deref(),
            Some("a: [\n 1,\n 2]\nb: 3\n")
        );
        assert_eq!(flow_tabs_as_spaces("a:\n\t- 1\n"), None);
        for text in [
            "d: text [with bracket\n\tb: 1\n",
            "d: 'quoted [x'\n\tb: 1\n",
            "d: 1 # [comment\n\tb: 1\n",
            "d: |\n  [block\n\tb: 1\n",
        ] {
            assert_eq!(flow_tabs_as_spaces(text), None, "{text}");
        }
        assert!(flow_tabs_as_spaces("- {a: [\n\t1]}\n").is_some());
        assert!(flow_tabs_as_spaces("a: \"x\"\nb: [\n\t1]\n").is_some());
    }

    // Rule 9.3: JSON files are JSON streams.
    #[test]
    fn r9_3_json_stream() {
        let docs = documents("x.json", "{\"a\": 1} {\"b\": 2}").unwrap();
        assert_eq!(docs.len(), 2);
        let e = documents("x.json", "{\"a\": 1} {\"b\": }").unwrap_err();
        assert_eq!(e.document, Some(2));
        assert!(e.message.contains("line 1"), "{}", e.message);
    }

    /// A `kubectl get -o yaml` list of `n` pods, with the scalar forms kubectl writes (quoted
    /// strings, folded and literal blocks with blank lines, nested sequences, `null`).
    fn kubectl_list(n: usize, extra: &str) -> String {
        let mut text = String::from("apiVersion: v1\nitems:\n");
        for i in 0..n {
            text.push_str(&format!(
                "- apiVersion: v1\n  kind: Pod\n  metadata:\n    annotations:\n      note: |-\n        line one\n\n        line three {i}\n    creationTimestamp: null\n    labels:\n      app: web\n      on: \"no\"\n    name: p{i}\n    namespace: shop\n  spec:\n    containers:\n    - image: i\n      name: c\n      ports:\n      - containerPort: {}\n        protocol: TCP\n  status:\n    podIPs:\n    - ip: \"10.0.{}.{}\"\n{extra}",
                8000 + i % 100,
                i / 250,
                i % 250
            ));
        }
        text.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
        text
    }

    // Rule 9.3: a big kubectl list is parsed item by item on every core into exactly the value
    // of parsing it whole.
    #[test]
    fn r9_3_a_kubectl_list_parsed_by_items_is_the_list_parsed_whole() {
        let text = kubectl_list(400, "");
        assert!(text.len() > LIST_SPLIT_BYTES);
        let split = list_in_parallel(&text).expect("a kubectl list is split");
        assert_eq!(split, yaml_value(&text).unwrap());
        assert_eq!(split["items"].as_array().unwrap().len(), 400);
        assert_eq!(split["items"][7]["metadata"]["labels"]["on"], "no");
        assert_eq!(
            split["items"][7]["metadata"]["annotations"]["note"],
            "line one\n\nline three 7"
        );
    }

    // Rule 9.3: anything else is parsed whole, so that values and errors are the whole
    // document's: anchors and aliases, another layout, an item that does not parse, another
    // key, a small document.
    #[test]
    fn r9_3_lists_kubectl_did_not_write_are_parsed_whole() {
        let anchored = kubectl_list(400, "").replacen("app: web", "app: &a web", 1);
        assert!(list_in_parallel(&anchored).is_none());
        let indented = kubectl_list(400, "")
            .replace("\n- ", "\n  - ")
            .replace("\n  ", "\n    ");
        assert!(list_in_parallel(&indented).is_none());
        let broken = kubectl_list(400, "").replacen("name: p3\n", "name: [p3\n", 1);
        assert!(list_in_parallel(&broken).is_none());
        let e = documents("l.yaml", &broken).unwrap_err();
        assert!(e.message.starts_with("YAML syntax error"), "{e}");
        let other = kubectl_list(400, "").replace("kind: List\n", "kind: List\nextra: 1\n");
        assert!(list_in_parallel(&other).is_none());
        assert!(list_in_parallel(&kubectl_list(3, "")).is_none());
    }

    // Rule 9.3: the parser's budget grows with the document (over 250,000 nodes here, the
    // default), so one big list parses whole too; an alias bomb is still stopped (the fuzz
    // regressions hold a billion laughs).
    #[test]
    fn r9_3_a_big_document_is_within_its_budget() {
        let mut text = String::from("a: '*'\nb:\n");
        for i in 0..300_000 {
            text.push_str(&format!("- {}\n", i % 10));
        }
        let docs = documents("big.yaml", &text).unwrap();
        assert_eq!(docs[0].1["b"].as_array().unwrap().len(), 300_000);
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        let e = documents("bomb.yaml", bomb).unwrap_err();
        assert!(e.message.contains("budget"), "{e}");
    }
}
