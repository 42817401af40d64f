//! The JUnit reports of `check` and `run` are valid under both schemas CI systems read: the strict
//! windyroad `JUnit.xsd` (Apache Ant's) and Jenkins xunit's `junit-10.xsd`. No XSD engine is
//! needed: the XML is parsed with quick-xml and every rule of the two schemas that the reports
//! can break is checked here (docs/FORMATS.md, "JUnit").

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::{BTreeMap, BTreeSet};

/// One element: name, attributes, children, text.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Element>,
    text: String,
}

fn element(start: &BytesStart<'_>) -> Element {
    let mut e = Element {
        name: String::from_utf8(start.name().as_ref().to_vec()).expect("utf-8 name"),
        ..Element::default()
    };
    for a in start.attributes() {
        let a = a.expect("a well-formed attribute");
        let key = String::from_utf8(a.key.as_ref().to_vec()).expect("utf-8 key");
        let value = a.unescape_value().expect("an escaped value").into_owned();
        assert!(
            e.attrs.insert(key.clone(), value).is_none(),
            "attribute {key} twice"
        );
    }
    e
}

/// Parses the document; panics on anything that is not well-formed XML.
fn parse(xml: &str) -> Element {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(s) => stack.push(element(&s)),
            Event::Empty(s) => {
                let e = element(&s);
                stack.last_mut().expect("a parent").children.push(e);
            }
            Event::End(_) => {
                let e = stack.pop().expect("an open element");
                stack.last_mut().expect("a parent").children.push(e);
            }
            Event::Text(t) => {
                let text = t.decode().expect("text").into_owned();
                let text = quick_xml::escape::unescape(&text)
                    .expect("escaped text")
                    .into_owned();
                stack.last_mut().expect("an element").text.push_str(&text);
            }
            Event::GeneralRef(r) => {
                let name = r.decode().expect("a reference").into_owned();
                let c = match name.as_str() {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unknown entity {other}"),
                };
                stack.last_mut().expect("an element").text.push_str(c);
            }
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Eof => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(stack.len(), 1, "unclosed elements");
    let mut root = stack.pop().expect("the document");
    assert_eq!(root.children.len(), 1, "one root element");
    root.children.pop().expect("the root")
}

fn int(e: &Element, a: &str) -> usize {
    e.attrs
        .get(a)
        .unwrap_or_else(|| panic!("<{}> has no {a}", e.name))
        .parse()
        .unwrap_or_else(|_| panic!("<{}> {a} is not an int", e.name))
}

fn decimal(e: &Element, a: &str) {
    let v = &e.attrs[a];
    // windyroad: xs:decimal; Jenkins: the Surefire time pattern (digits, optional fraction).
    let (whole, frac) = v.split_once('.').unwrap_or((v, "0"));
    assert!(
        !whole.is_empty()
            && whole.chars().all(|c| c.is_ascii_digit())
            && frac.chars().all(|c| c.is_ascii_digit()),
        "<{}> {a}={v} is not a decimal",
        e.name
    );
}

fn only(e: &Element, allowed: &[&str]) {
    for a in e.attrs.keys() {
        assert!(
            allowed.contains(&a.as_str()),
            "<{}> has attribute {a}",
            e.name
        );
    }
}

/// Both schemas' rules for the reports netsem writes.
fn validate(xml: &str) -> usize {
    let root = parse(xml);
    // windyroad: <testsuites> has no attributes; Jenkins allows a few, never `skipped`.
    assert_eq!(root.name, "testsuites");
    assert!(root.attrs.is_empty(), "<testsuites> has attributes");
    let mut cases = 0;
    for (i, suite) in root.children.iter().enumerate() {
        assert_eq!(suite.name, "testsuite");
        only(
            suite,
            &[
                "name",
                "package",
                "id",
                "timestamp",
                "hostname",
                "tests",
                "failures",
                "errors",
                "skipped",
                "time",
            ],
        );
        // windyroad requires all of these inside <testsuites>; Jenkins name, tests, failures,
        // errors.
        for a in ["name", "package", "hostname"] {
            assert!(!suite.attrs[a].trim().is_empty(), "testsuite {a} is empty");
        }
        assert_eq!(int(suite, "id"), i, "ids count from 0");
        let stamp = &suite.attrs["timestamp"];
        let b = stamp.as_bytes();
        assert!(
            b.len() == 19
                && b.iter().enumerate().all(|(j, c)| match j {
                    4 | 7 => *c == b'-',
                    10 => *c == b'T',
                    13 | 16 => *c == b':',
                    _ => c.is_ascii_digit(),
                }),
            "timestamp {stamp} is not YYYY-MM-DDTHH:MM:SS without a zone"
        );
        decimal(suite, "time");
        // Content: properties, testcase*, system-out, system-err, in that order.
        let names: Vec<&str> = suite.children.iter().map(|c| c.name.as_str()).collect();
        assert!(names.len() >= 3, "{names:?}");
        assert_eq!(names[0], "properties");
        assert_eq!(&names[names.len() - 2..], ["system-out", "system-err"]);
        let testcases = &suite.children[1..suite.children.len() - 2];
        for p in &suite.children[0].children {
            assert_eq!(p.name, "property");
            only(p, &["name", "value"]);
            assert!(p.attrs.contains_key("name") && p.attrs.contains_key("value"));
        }
        let (mut failures, mut skipped) = (0, 0);
        let mut keys = BTreeSet::new();
        for c in testcases {
            assert_eq!(c.name, "testcase");
            only(c, &["name", "classname", "time"]);
            assert!(
                !c.attrs["name"].trim().is_empty(),
                "a testcase without a name"
            );
            assert!(!c.attrs["classname"].trim().is_empty());
            decimal(c, "time");
            assert!(
                keys.insert((c.attrs["classname"].clone(), c.attrs["name"].clone())),
                "two testcases named {:?}",
                c.attrs["name"]
            );
            assert!(
                c.children.len() <= 1,
                "at most one of skipped, error, failure"
            );
            if let Some(o) = c.children.first() {
                match o.name.as_str() {
                    "failure" => {
                        failures += 1;
                        only(o, &["type", "message"]);
                        assert!(o.attrs.contains_key("type"), "a failure needs a type");
                        assert!(!o.text.is_empty(), "a failure carries its details");
                    }
                    "skipped" => {
                        skipped += 1;
                        only(o, &["message"]);
                    }
                    other => panic!("<{other}> in a testcase"),
                }
            }
        }
        assert_eq!(int(suite, "tests"), testcases.len());
        assert_eq!(int(suite, "failures"), failures);
        assert_eq!(int(suite, "errors"), 0);
        assert_eq!(int(suite, "skipped"), skipped);
        cases += testcases.len();
    }
    cases
}

fn junit(args: &str) -> (i32, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::env::set_current_dir(root).expect("the workspace");
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("netsem".to_string())
        .chain(args.split_whitespace().map(str::to_string))
        .chain(["--junit".to_string(), "-".to_string()]);
    let code = netsem::run(argv.map(Into::into), &mut out, &mut err);
    assert!(
        code != 2 || args.contains("invalid"),
        "{args}: {}",
        String::from_utf8_lossy(&err)
    );
    (code, String::from_utf8(out).expect("utf-8"))
}

#[test]
fn every_report_is_valid_under_both_schemas() {
    let corpus: Vec<String> = netsem_harness::corpus::files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let reports = [
        "check cli/tests/data/kind-xyz --observed cli/tests/cases/check/judges_hubble_flows/jsonpb.jsonl".to_string(),
        "check cli/tests/data/kind-xyz-antrea --observed cli/tests/cases/check/judges_plain_flows/antrea.csv".to_string(),
        "check examples/shop --observed cli/tests/cases/check/a_flipped_matrix_lists_exactly_the_flipped_cells_each_with_its_explanation/flipped.jsonl".to_string(),
        "check examples/shop --observed tests/corpus/observed/shop-attempts.yaml".to_string(),
        format!("run {}", corpus.join(" ")),
        "run tests/corpus/diverging/wrong-expectation.yaml tests/corpus/invalid/syntax.yaml".to_string(),
        "check --suite tests/data/suite --observed cli/tests/cases/check/judges_a_suite_run/results.jsonl".to_string(),
    ];
    for args in reports {
        let (code, xml) = junit(&args);
        assert!(
            code == 0 || code == 1 || args.contains("invalid"),
            "{args}: exit {code}"
        );
        let cases = validate(&xml);
        assert!(cases > 0, "{args}: no test case");
    }
}

#[test]
fn the_validator_rejects_what_the_schemas_reject() {
    let good = r#"<testsuites><testsuite name="n" package="n" id="0" timestamp="2026-01-01T00:00:00" hostname="h" tests="1" failures="0" errors="0" skipped="0" time="0.000"><properties/><testcase name="a" classname="n" time="0"/><system-out></system-out><system-err></system-err></testsuite></testsuites>"#;
    assert_eq!(validate(good), 1);
    for bad in [
        good.replace("<testsuites>", r#"<testsuites tests="1">"#),
        good.replace("2026-01-01T00:00:00", "2026-01-01T00:00:00Z"),
        good.replace("<system-err></system-err>", ""),
        good.replace(r#" package="n""#, ""),
        good.replace(r#"tests="1""#, r#"tests="2""#),
        good.replace("<properties/>", ""),
    ] {
        let result = std::panic::catch_unwind(|| validate(&bad));
        assert!(result.is_err(), "accepted {bad}");
    }
}
