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

/// Splits and parses `text`: a JSON stream when `file` ends in `.json`, else YAML.
pub(crate) fn documents(file: &str, text: &str) -> Result<Vec<Document>, LoadError> {
    if file.ends_with(".json") {
        json_documents(file, text)
    } else {
        yaml_documents(file, text)
    }
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

/// Splits a YAML stream into documents at `---` markers (a line starting with `---` can only be
/// a marker in YAML). Documents are numbered from 1 in file order; text before the first marker
/// is a document only if it has content. Each document is parsed on its own, padded with the
/// lines before it so that error positions are positions in the file.
fn yaml_documents(file: &str, text: &str) -> Result<Vec<Document>, LoadError> {
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
        if i == 0 && !explicit && body.lines().all(is_blank) {
            continue;
        }
        number = number.saturating_add(1);
        if body.lines().all(is_blank) {
            out.push((number, Value::Null));
            continue;
        }
        let options = serde_saphyr::options! { with_snippet: false };
        let value: Value =
            serde_saphyr::from_str_with_options(body, options).map_err(|e| LoadError {
                document: Some(number),
                ..LoadError::file(
                    file,
                    format!("YAML syntax error: {}", yaml_message(&e, first_line)),
                )
            })?;
        out.push((number, value));
    }
    Ok(out)
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

    // Rule 9.3: JSON files are JSON streams.
    #[test]
    fn r9_3_json_stream() {
        let docs = documents("x.json", "{\"a\": 1} {\"b\": 2}").unwrap();
        assert_eq!(docs.len(), 2);
        let e = documents("x.json", "{\"a\": 1} {\"b\": }").unwrap_err();
        assert_eq!(e.document, Some(2));
        assert!(e.message.contains("line 1"), "{}", e.message);
    }
}
