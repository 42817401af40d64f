//! Matrix output formats: `table` (for a terminal), `json`, `jsonl` (the public contract),
//! `csv`, `md` and `dot`.

use netsem_spec::matrix::{GroupCell, GroupedMatrix, MatrixView};
use netsem_spec::{AllowedPorts, Protocol};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The formats of `netsem matrix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A grid for a terminal, with a legend of partial cells.
    Table,
    /// One JSON document with the pods and every entry.
    Json,
    /// One JSON line per ordered pair: the public contract (docs/FORMATS.md).
    Jsonl,
    /// Comma-separated: src, dst, then TCP, UDP and SCTP port lists.
    Csv,
    /// A Markdown table with a legend.
    Md,
    /// A Graphviz digraph with an edge per pair that allows anything.
    Dot,
}

/// A cell as text: `80,8000-8010` per protocol, `TCP:80 UDP:53` when mixed.
pub fn describe(p: &AllowedPorts) -> String {
    if *p == AllowedPorts::all() {
        return "all ports".into();
    }
    if p.is_empty() {
        return "nothing".into();
    }
    Protocol::PORTED
        .iter()
        .filter(|&&proto| !p.get(proto).is_empty())
        .map(|&proto| format!("{proto} {}", p.get(proto)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes the matrix in `format`.
pub fn write(
    m: &dyn MatrixView,
    format: Format,
    profile: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Jsonl => m.write_jsonl(out),
        Format::Json => json(m, profile, out),
        Format::Csv => csv(m, out),
        Format::Table => grid(m, profile, false, out),
        Format::Md => grid(m, profile, true, out),
        Format::Dot => dot(m, out),
    }
}

fn json(m: &dyn MatrixView, profile: &str, out: &mut dyn Write) -> io::Result<()> {
    let pods = m.pods();
    writeln!(out, "{{")?;
    writeln!(out, "  \"version\": 1,")?;
    writeln!(out, "  \"profile\": {},", serde_json::to_string(profile)?)?;
    writeln!(out, "  \"pods\": {},", serde_json::to_string(pods)?)?;
    writeln!(out, "  \"matrix\": [")?;
    let n = pods.len();
    for i in 0..n {
        for j in 0..n {
            let last = i + 1 == n && j + 1 == n;
            // The contract's own line, so key order is the jsonl order.
            let line = netsem_spec::matrix::json_line(&pods[i], &pods[j], m.cell(i, j));
            writeln!(out, "    {}{}", line, if last { "" } else { "," })?;
        }
    }
    writeln!(out, "  ]")?;
    writeln!(out, "}}")
}

fn csv(m: &dyn MatrixView, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "src,dst,TCP,UDP,SCTP")?;
    let pods = m.pods();
    let list = |p: &netsem_spec::PortRanges| p.items().join(" ");
    for (i, s) in pods.iter().enumerate() {
        for (j, d) in pods.iter().enumerate() {
            let c = m.cell(i, j);
            writeln!(
                out,
                "{s},{d},{},{},{}",
                list(&c.tcp),
                list(&c.udp),
                list(&c.sctp)
            )?;
        }
    }
    Ok(())
}

/// A grid: `✓` every port, `·` nothing, a letter for a partial cell explained in the legend.
fn grid(m: &dyn MatrixView, profile: &str, markdown: bool, out: &mut dyn Write) -> io::Result<()> {
    let pods = m.pods();
    let n = pods.len();
    let mut legend: BTreeMap<String, String> = BTreeMap::new();
    let mut by_cell: Vec<(AllowedPorts, String)> = Vec::new();
    let mut symbol = |c: &AllowedPorts| -> String {
        if *c == AllowedPorts::all() {
            return "✓".into();
        }
        if c.is_empty() {
            return "·".into();
        }
        if let Some((_, s)) = by_cell.iter().find(|(x, _)| x == c) {
            return s.clone();
        }
        let s = letter(by_cell.len());
        legend.insert(s.clone(), describe(c));
        by_cell.push((c.clone(), s.clone()));
        s
    };
    let cells: Vec<Vec<String>> = (0..n)
        .map(|i| (0..n).map(|j| symbol(m.cell(i, j))).collect())
        .collect();
    let width = pods.iter().map(|p| p.to_string().len()).max().unwrap_or(0);
    let num = n.to_string().len();
    if markdown {
        writeln!(out, "Connectivity matrix: {n} pods, profile `{profile}`. Rows are sources, columns destinations: ✓ every port, · nothing, a letter is explained below.\n")?;
        write!(out, "| # | source |")?;
        for j in 0..n {
            write!(out, " {} |", j + 1)?;
        }
        writeln!(out)?;
        write!(out, "|---|---|")?;
        for _ in 0..n {
            write!(out, "---|")?;
        }
        writeln!(out)?;
        for (i, row) in cells.iter().enumerate() {
            write!(out, "| {} | {} |", i + 1, pods[i])?;
            for c in row {
                write!(out, " {c} |")?;
            }
            writeln!(out)?;
        }
        if !legend.is_empty() {
            writeln!(out, "\n| cell | allowed |\n|---|---|")?;
            for (k, v) in &legend {
                writeln!(out, "| {k} | {v} |")?;
            }
        }
        return Ok(());
    }
    writeln!(out, "Connectivity matrix: {n} pods, profile {profile}")?;
    writeln!(out, "Rows are sources, columns destinations: ✓ every port, · nothing, a letter is explained below.")?;
    writeln!(out)?;
    let cell_w = cells
        .iter()
        .flatten()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(1)
        .max(num);
    write!(out, "{:>num$}  {:width$}", "", "")?;
    for j in 0..n {
        write!(out, " {:>cell_w$}", j + 1)?;
    }
    writeln!(out)?;
    for (i, row) in cells.iter().enumerate() {
        write!(out, "{:>num$}  {:width$}", i + 1, pods[i].to_string())?;
        for c in row {
            write!(out, " {:>w$}", c, w = cell_w)?;
        }
        writeln!(out)?;
    }
    if !legend.is_empty() {
        writeln!(out)?;
        for (k, v) in &legend {
            writeln!(out, "  {k}  {v}")?;
        }
    }
    Ok(())
}

/// Writes a grouped matrix (`--group workload`) in `format` (docs/FORMATS.md).
pub fn write_grouped(
    g: &GroupedMatrix,
    format: Format,
    profile: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let n = g.groups.len();
    match format {
        Format::Jsonl => g.write_jsonl(out),
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Group<'a> {
                name: &'a str,
                pods: &'a [netsem_spec::PodId],
            }
            writeln!(out, "{{")?;
            writeln!(out, "  \"version\": 1,")?;
            writeln!(out, "  \"profile\": {},", serde_json::to_string(profile)?)?;
            writeln!(out, "  \"group\": \"workload\",")?;
            writeln!(out, "  \"groups\": [")?;
            for (i, (name, pods)) in g.groups.iter().enumerate() {
                let line = serde_json::to_string(&Group { name, pods })?;
                writeln!(out, "    {line}{}", if i + 1 == n { "" } else { "," })?;
            }
            writeln!(out, "  ],")?;
            writeln!(out, "  \"matrix\": [")?;
            for i in 0..n {
                for j in 0..n {
                    let last = i + 1 == n && j + 1 == n;
                    writeln!(
                        out,
                        "    {}{}",
                        g.json_line(i, j),
                        if last { "" } else { "," }
                    )?;
                }
            }
            writeln!(out, "  ]")?;
            writeln!(out, "}}")
        }
        Format::Csv => {
            writeln!(
                out,
                "src,dst,pairs,uniform,TCP,UDP,SCTP,someTCP,someUDP,someSCTP"
            )?;
            let list = |p: &netsem_spec::PortRanges| p.items().join(" ");
            for i in 0..n {
                for j in 0..n {
                    let c = g.cell(i, j);
                    writeln!(
                        out,
                        "{},{},{},{},{},{},{},{},{},{}",
                        g.groups[i].0,
                        g.groups[j].0,
                        c.pairs,
                        c.uniform(),
                        list(&c.every.tcp),
                        list(&c.every.udp),
                        list(&c.every.sctp),
                        list(&c.some.tcp),
                        list(&c.some.udp),
                        list(&c.some.sctp)
                    )?;
                }
            }
            Ok(())
        }
        Format::Table => grouped_grid(g, profile, false, out),
        Format::Md => grouped_grid(g, profile, true, out),
        Format::Dot => {
            writeln!(out, "digraph connectivity {{")?;
            writeln!(out, "  rankdir=LR;")?;
            writeln!(out, "  node [shape=box];")?;
            let q = |s: &str| serde_json::to_string(s);
            for (name, pods) in &g.groups {
                let label = format!("{name}\n{} pod(s)", pods.len());
                writeln!(out, "  {} [label={}];", q(name)?, q(&label)?)?;
            }
            for i in 0..n {
                for j in 0..n {
                    let c = g.cell(i, j);
                    if i == j || c.some.is_empty() {
                        continue;
                    }
                    let (label, style) = if c.uniform() {
                        (describe(&c.every), "")
                    } else {
                        (
                            format!(
                                "every pair: {}; some pairs: {}",
                                describe(&c.every),
                                describe(&c.some)
                            ),
                            ", style=dashed",
                        )
                    };
                    writeln!(
                        out,
                        "  {} -> {} [label={}{style}];",
                        q(&g.groups[i].0)?,
                        q(&g.groups[j].0)?,
                        q(&label)?
                    )?;
                }
            }
            writeln!(out, "}}")
        }
    }
}

/// The grid of a grouped matrix: as [`grid`], each cell what every pod pair allows, and a `*`
/// after the symbol of a cell whose pod pairs disagree; the legend says what some pairs allow.
fn grouped_grid(
    g: &GroupedMatrix,
    profile: &str,
    markdown: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let n = g.groups.len();
    let mut legend: Vec<(String, String)> = Vec::new();
    let mut by_cell: Vec<((AllowedPorts, AllowedPorts), String)> = Vec::new();
    let mut symbol = |c: &GroupCell| -> String {
        if c.uniform() && c.every == AllowedPorts::all() {
            return "✓".into();
        }
        if c.uniform() && c.every.is_empty() {
            return "·".into();
        }
        let key = (c.every.clone(), c.some.clone());
        if let Some((_, s)) = by_cell.iter().find(|(k, _)| *k == key) {
            return s.clone();
        }
        let (s, text) = if c.uniform() {
            (letter(by_cell.len()), describe(&c.every))
        } else {
            (
                format!("{}*", letter(by_cell.len())),
                format!(
                    "pods disagree: every pair {}; some pairs {}",
                    describe(&c.every),
                    describe(&c.some)
                ),
            )
        };
        legend.push((s.clone(), text));
        by_cell.push((key, s.clone()));
        s
    };
    let cells: Vec<Vec<String>> = (0..n)
        .map(|i| (0..n).map(|j| symbol(g.cell(i, j))).collect())
        .collect();
    let names: Vec<&str> = g.groups.iter().map(|(name, _)| name.as_str()).collect();
    let width = names.iter().map(|s| s.len()).max().unwrap_or(0);
    let num = n.to_string().len();
    let pods: usize = g.groups.iter().map(|(_, p)| p.len()).sum();
    if markdown {
        writeln!(out, "Connectivity matrix by workload: {n} groups of {pods} pods, profile `{profile}`. Rows are sources, columns destinations; a cell is what every pod pair allows: ✓ every port, · nothing, a letter is explained below, `*` marks a cell whose pod pairs disagree.\n")?;
        write!(out, "| # | source | pods |")?;
        for j in 0..n {
            write!(out, " {} |", j + 1)?;
        }
        writeln!(out)?;
        write!(out, "|---|---|---|")?;
        for _ in 0..n {
            write!(out, "---|")?;
        }
        writeln!(out)?;
        for (i, row) in cells.iter().enumerate() {
            write!(
                out,
                "| {} | {} | {} |",
                i + 1,
                names[i],
                g.groups[i].1.len()
            )?;
            for c in row {
                write!(out, " {} |", c.replace('*', "\\*"))?;
            }
            writeln!(out)?;
        }
        if !legend.is_empty() {
            writeln!(out, "\n| cell | allowed |\n|---|---|")?;
            for (k, v) in &legend {
                writeln!(out, "| {} | {v} |", k.replace('*', "\\*"))?;
            }
        }
        return Ok(());
    }
    writeln!(
        out,
        "Connectivity matrix by workload: {n} groups of {pods} pods, profile {profile}"
    )?;
    writeln!(out, "Rows are sources, columns destinations; a cell is what every pod pair allows: ✓ every port, · nothing, a letter is explained below, * marks a cell whose pod pairs disagree.")?;
    writeln!(out)?;
    let cell_w = cells
        .iter()
        .flatten()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(1)
        .max(num);
    write!(out, "{:>num$}  {:width$}", "", "")?;
    for j in 0..n {
        write!(out, " {:>cell_w$}", j + 1)?;
    }
    writeln!(out)?;
    for (i, row) in cells.iter().enumerate() {
        write!(out, "{:>num$}  {:width$}", i + 1, names[i])?;
        for c in row {
            write!(out, " {:>w$}", c, w = cell_w)?;
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    for (i, (name, pods)) in g.groups.iter().enumerate() {
        let list: Vec<String> = pods.iter().map(|p| p.to_string()).collect();
        writeln!(out, "{:>num$}  {name}: {}", i + 1, list.join(", "))?;
    }
    if !legend.is_empty() {
        writeln!(out)?;
        for (k, v) in &legend {
            writeln!(out, "  {k:<2} {v}")?;
        }
    }
    Ok(())
}

fn letter(i: usize) -> String {
    let letters = b"abcdefghijkmnopqrstuvwxyz";
    let mut s = String::new();
    let mut i = i;
    loop {
        s.insert(0, letters[i % letters.len()] as char);
        if i < letters.len() {
            break;
        }
        i = i / letters.len() - 1;
    }
    s
}

fn dot(m: &dyn MatrixView, out: &mut dyn Write) -> io::Result<()> {
    let pods = m.pods();
    writeln!(out, "digraph connectivity {{")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  node [shape=box];")?;
    for p in pods {
        writeln!(out, "  {};", serde_json::to_string(&p.to_string())?)?;
    }
    for (i, s) in pods.iter().enumerate() {
        for (j, d) in pods.iter().enumerate() {
            let c = m.cell(i, j);
            if i == j || c.is_empty() {
                continue;
            }
            writeln!(
                out,
                "  {} -> {} [label={}];",
                serde_json::to_string(&s.to_string())?,
                serde_json::to_string(&d.to_string())?,
                serde_json::to_string(&describe(c))?
            )?;
        }
    }
    writeln!(out, "}}")
}

/// `matrix --from-entry-points`: one row per entry point, one cell per pod: the target ports its
/// routes send to that pod on and its controller may reach (rule 6.19). Written after the pod
/// matrix, in the jsonl/csv line shapes with the entry point as `src`, or as a list for
/// `table` and `md`.
pub fn write_entry_rows(
    rows: &[(String, Vec<(netsem_spec::PodId, AllowedPorts)>)],
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        src: &'a str,
        dst: &'a netsem_spec::PodId,
        allowed: &'a AllowedPorts,
    }
    let list = |p: &netsem_spec::PortRanges| p.items().join(" ");
    match format {
        Format::Jsonl => {
            for (src, cells) in rows {
                for (dst, allowed) in cells {
                    writeln!(
                        out,
                        "{}",
                        serde_json::to_string(&Line { src, dst, allowed })?
                    )?;
                }
            }
        }
        Format::Csv => {
            for (src, cells) in rows {
                for (dst, a) in cells {
                    writeln!(
                        out,
                        "{src},{dst},{},{},{}",
                        list(&a.tcp),
                        list(&a.udp),
                        list(&a.sctp)
                    )?;
                }
            }
        }
        Format::Table | Format::Md => {
            writeln!(out)?;
            writeln!(
                out,
                "Entry points as sources: the pods their routes send to, on the ports their controller may reach [rule 6.19]"
            )?;
            let bullet = if format == Format::Md { "- " } else { "  " };
            for (src, cells) in rows {
                let reached: Vec<String> = cells
                    .iter()
                    .filter(|(_, a)| !a.is_empty())
                    .map(|(d, a)| format!("{d}: {}", describe(a)))
                    .collect();
                if reached.is_empty() {
                    writeln!(out, "{bullet}{src} -> nothing")?;
                }
                for r in reached {
                    writeln!(out, "{bullet}{src} -> {r}")?;
                }
            }
        }
        Format::Json | Format::Dot => unreachable!("refused before the matrix is computed"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_never_repeat() {
        let all: Vec<String> = (0..2000).map(letter).collect();
        let set: std::collections::BTreeSet<&String> = all.iter().collect();
        assert_eq!(set.len(), all.len());
        assert_eq!(letter(0), "a");
        assert_eq!(letter(25), "aa");
    }
}
