//! JUnit XML for CI systems (`--junit FILE` on `check` and `run`), docs/FORMATS.md "JUnit".
//!
//! The portable subset that is valid under both schemas CI systems read: windyroad's strict
//! `JUnit.xsd` (Apache Ant) and Jenkins xunit's `junit-10.xsd`. `<testsuites>` has no
//! attributes; each `<testsuite>` has `name`, `package`, `id`, `timestamp` (UTC, seconds, no
//! zone), `hostname`, `tests`, `failures`, `errors`, `skipped`, `time`; its children are, in
//! order, `<properties>` (possibly empty), the `<testcase>`s, `<system-out>` and `<system-err>`.
//! A testcase has `name`, `classname`, `time` and at most one `<failure type message>` (details
//! as text) or `<skipped message>`. Every (`classname`, `name`) pair is unique.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// How one test case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed: a type (a word), a one-line message, the details.
    Failure {
        /// The failure's type.
        kind: String,
        /// One line.
        message: String,
        /// The details.
        text: String,
    },
    /// Not judged, and why.
    Skipped(String),
}

/// One test case.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The name, unique within the suite.
    pub name: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Seconds it took.
    pub time: f64,
}

/// One test suite: a command's run over one input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Suite {
    /// `netsem.check`, `netsem.run`, … (also every case's classname).
    pub name: String,
    /// Properties (name, value).
    pub properties: Vec<(String, String)>,
    /// The cases.
    pub cases: Vec<Case>,
    /// The suite-level output.
    pub out: String,
}

impl Suite {
    /// A suite named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Suite {
            name: name.into(),
            ..Suite::default()
        }
    }

    /// Adds a case.
    pub fn case(&mut self, name: impl Into<String>, outcome: Outcome) {
        self.cases.push(Case {
            name: name.into(),
            outcome,
            time: 0.0,
        });
    }
}

/// Seconds of a duration, as test case times; `NETSEM_JUNIT_TIMESTAMP` (reproducible reports)
/// makes every time 0.
pub fn seconds(d: std::time::Duration) -> f64 {
    if std::env::var_os("NETSEM_JUNIT_TIMESTAMP").is_some() {
        0.0
    } else {
        d.as_secs_f64()
    }
}

/// Escapes text and attribute values; drops the characters XML 1.0 cannot carry.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SS` (no zone, as windyroad's schema requires);
/// `NETSEM_JUNIT_TIMESTAMP` overrides it (for reproducible files and the tests).
pub fn timestamp() -> String {
    if let Ok(t) = std::env::var("NETSEM_JUNIT_TIMESTAMP") {
        return t;
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The XML document of `suites`.
pub fn render(suites: &[Suite]) -> String {
    let stamp = timestamp();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (id, s) in suites.iter().enumerate() {
        let failures = s
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failure { .. }))
            .count();
        let skipped = s
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skipped(_)))
            .count();
        let time: f64 = s.cases.iter().map(|c| c.time).sum();
        let name = escape(&s.name);
        let _ = writeln!(
            x,
            "  <testsuite name=\"{name}\" package=\"{name}\" id=\"{id}\" timestamp=\"{stamp}\" hostname=\"localhost\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\">",
            s.cases.len()
        );
        if s.properties.is_empty() {
            x.push_str("    <properties/>\n");
        } else {
            x.push_str("    <properties>\n");
            for (k, v) in &s.properties {
                let _ = writeln!(
                    x,
                    "      <property name=\"{}\" value=\"{}\"/>",
                    escape(k),
                    escape(v)
                );
            }
            x.push_str("    </properties>\n");
        }
        for c in &s.cases {
            let head = format!(
                "    <testcase name=\"{}\" classname=\"{name}\" time=\"{:.3}\"",
                escape(&c.name),
                c.time
            );
            match &c.outcome {
                Outcome::Pass => {
                    let _ = writeln!(x, "{head}/>");
                }
                Outcome::Skipped(why) => {
                    let _ = writeln!(
                        x,
                        "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(why)
                    );
                }
                Outcome::Failure {
                    kind,
                    message,
                    text,
                } => {
                    let _ = writeln!(
                        x,
                        "{head}>\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>",
                        escape(kind),
                        escape(message),
                        escape(text)
                    );
                }
            }
        }
        let _ = writeln!(x, "    <system-out>{}</system-out>", escape(&s.out));
        x.push_str("    <system-err></system-err>\n  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// Writes `suites` to `path` (`-`: to `stdout`); an error names the file.
pub fn write(
    path: &std::path::Path,
    suites: &[Suite],
    stdout: &mut dyn std::io::Write,
) -> Result<(), String> {
    if path == std::path::Path::new("-") {
        return stdout
            .write_all(render(suites).as_bytes())
            .map_err(|e| format!("writing the JUnit report: {e}"));
    }
    std::fs::write(path, render(suites)).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(escape("a<b>&\"'\u{1}c"), "a&lt;b&gt;&amp;&quot;&apos;c");
    }

    #[test]
    fn the_timestamp_has_no_zone() {
        std::env::remove_var("NETSEM_JUNIT_TIMESTAMP");
        let t = timestamp();
        assert_eq!(t.len(), 19, "{t}");
        assert_eq!(&t[10..11], "T");
    }
}
