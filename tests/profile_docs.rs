//! The profile switches are written down: every switch of the one switch table
//! (`netsem_spec::profile::SWITCHES`) has its rule in docs/SEMANTICS.md §7, which names the
//! switch and every value in backticks and marks the default value `(*default*`. A switch added
//! to the code and not to the docs fails here (rule 7.0).

use netsem_spec::profile::SWITCHES;

/// The text of rule `number` (its bullet and continuation lines).
fn rule_text(docs: &str, number: &str) -> Option<String> {
    let head = format!("- **{number}**");
    let start = docs.find(&head)?;
    let rest = &docs[start + head.len()..];
    let end = rest
        .find("\n- **")
        .into_iter()
        .chain(rest.find("\n\n"))
        .min()
        .unwrap_or(rest.len());
    // One line: the docs wrap where they like.
    Some(rest[..end].split_whitespace().collect::<Vec<_>>().join(" "))
}

#[test]
fn r7_0_every_switch_and_value_is_written_down_in_section_7() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/SEMANTICS.md"))
        .expect("docs/SEMANTICS.md is readable");
    let mut problems = Vec::new();
    for s in SWITCHES {
        if !s.rule.starts_with("7.") {
            problems.push(format!("{}: its rule {} is not in §7", s.name, s.rule));
            continue;
        }
        let Some(text) = rule_text(&docs, s.rule) else {
            problems.push(format!(
                "{}: docs/SEMANTICS.md has no rule {}",
                s.name, s.rule
            ));
            continue;
        };
        if !text.trim_start().starts_with(&format!("`{}`", s.name)) {
            problems.push(format!("rule {} does not open with `{}`", s.rule, s.name));
        }
        for v in (s.values)() {
            if !text.contains(&format!("`{v}`")) {
                problems.push(format!(
                    "rule {} does not name the value `{v}` of {}",
                    s.rule, s.name
                ));
            }
        }
        let default = format!("`{}` (*default*", (s.default)());
        if !text.contains(&default) {
            problems.push(format!(
                "rule {} does not mark {} as the default",
                s.rule,
                (s.default)()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
