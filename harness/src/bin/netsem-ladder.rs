//! The end-to-end benchmark ladder (issue 12): generates seeded clusters with the harness's
//! cluster generator, writes them as Kubernetes YAML, and times the command line as a user runs
//! it — `netsem matrix DIR --format jsonl > FILE` and one `netsem explain` — and, where it is
//! installed, the peer IBM network-config-analyzer (`nca --connectivity DIR -r DIR -o
//! txt_no_fw_rules --output_endpoints pods`), each as a whole process, once, under `timeout`,
//! with peak memory from `/usr/bin/time -v` when it is there. Prints a Markdown table.
//!
//! ```text
//! cargo build --release -p netsem -p netsem-harness --bin netsem --bin netsem-ladder
//! target/release/netsem-ladder                 # 50 … 100,000 pods, nca where installed
//! target/release/netsem-ladder --smoke         # 50 and 200 pods, netsem only, checked; seconds
//! target/release/netsem-ladder gen 1000x200 DIR  # just write a cluster's manifests
//! ```
//!
//! Figures are single runs on whatever machine runs it: read the ratios of one run.

use netsem_harness::generators::cluster::{cluster, write_manifests, Size};

// The allocator of the `netsem` binary, so that `phases` times the stages as the command runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use netsem_spec::Op;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: netsem-ladder [--smoke] [--sizes PxQ,...] [--seed N] [--timeout SECS] [--netsem PATH]
                     [--nca PATH | --no-nca] [--work DIR] [--out FILE.md] [--max-output BYTES]
       netsem-ladder gen PODSxPOLICIES DIR [--seed N]
       netsem-ladder phases DIR...

Times `netsem matrix DIR --format jsonl > FILE`, `netsem matrix DIR --group workload --format
jsonl` (read whole from a pipe), `netsem explain` and nca on generated clusters.
  --smoke        50x10 and 200x40, netsem only (unless --nca), 60 s bound, outputs checked
  --sizes        pods x policies, default 50x10,200x40,500x100,1000x200,10000x2000,100000x10000
  --seed         the cluster generator's seed (default 42)
  --timeout      bound on each command, seconds (default 900; the peer is not run at larger
                 sizes once it has not finished)
  --netsem       the netsem binary (default: beside this one)
  --nca          the peer's executable (default: `nca` on PATH, skipped when absent)
  --work         where clusters and outputs go (default target/ladder)
  --out          also write the Markdown table there
  --max-output   a matrix whose jsonl would exceed this many bytes (default 16 GiB) is timed to
                 its first MiB only (load, index, matrix, first lines), the rest unread

`phases` times, in this process, what `netsem matrix DIR --format jsonl` does one stage at a
time (read and parse, apply, index, class-compressed matrix, jsonl to a sink): the profile.
";

/// How a timed process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    Exit(i32),
    TimedOut,
    Signal,
}

/// One timed run of a whole process.
#[derive(Clone, Debug)]
struct Run {
    wall: Duration,
    user: Option<f64>,
    sys: Option<f64>,
    max_rss_kib: Option<u64>,
    ended: Ended,
    /// Bytes of standard output read or written.
    out_bytes: u64,
}

impl Run {
    fn finished(&self) -> bool {
        matches!(self.ended, Ended::Exit(_))
    }

    fn wall_text(&self) -> String {
        match self.ended {
            Ended::Exit(_) => secs(self.wall),
            Ended::TimedOut => format!("> {} (timed out)", secs(self.wall)),
            Ended::Signal => format!("{} (killed by a signal)", secs(self.wall)),
        }
    }

    fn cpu_text(&self) -> String {
        match (self.user, self.sys) {
            (Some(u), Some(s)) => format!("user {u:.2} s, sys {s:.2} s"),
            _ => "cpu –".into(),
        }
    }

    fn rss_text(&self) -> String {
        self.max_rss_kib.map(mib).unwrap_or_else(|| "–".into())
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.1} s")
    }
}

fn mib(kib: u64) -> String {
    let m = kib as f64 / 1024.0;
    if m < 1024.0 {
        format!("{m:.0} MiB")
    } else {
        format!("{:.2} GiB", m / 1024.0)
    }
}

fn bytes_text(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

/// Where standard output of a timed run goes.
enum Sink<'a> {
    /// Into this file.
    File(&'a Path),
    /// Read from a pipe up to this many bytes, then the pipe is closed (`u64::MAX`: all of it,
    /// as `| wc -c` would).
    Head(u64),
}

/// Runs `program args` under `timeout` (and `/usr/bin/time -v` when present), once.
fn timed(program: &Path, args: &[&str], sink: Sink, bound: Duration, scratch: &Path) -> Run {
    let time = Path::new("/usr/bin/time");
    // `scratch` names the run: `NAME.time` gets time(1)'s report, `NAME.stderr` the stderr.
    let with = |ext: &str| {
        let mut p = scratch.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let report = with(".time");
    let _ = std::fs::remove_file(&report);
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").arg("-o").arg(&report).arg("timeout");
        c
    } else {
        Command::new("timeout")
    };
    cmd.arg("--kill-after=10")
        .arg(bound.as_secs().max(1).to_string())
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(with(".stderr")).expect("a scratch file"),
        ));
    let start = Instant::now();
    let (status, out_bytes) = match sink {
        Sink::File(path) => {
            let file = std::fs::File::create(path).expect("an output file");
            let status = cmd
                .stdout(Stdio::from(file))
                .status()
                .expect("timeout(1) runs");
            (
                status,
                std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            )
        }
        Sink::Head(limit) => {
            let mut child = cmd.stdout(Stdio::piped()).spawn().expect("timeout(1) runs");
            let mut pipe = child.stdout.take().expect("a piped stdout");
            let mut buf = vec![0u8; 1 << 20];
            let mut read = 0u64;
            while read < limit {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n as u64,
                }
            }
            drop(pipe);
            (child.wait().expect("the child is reaped"), read)
        }
    };
    let wall = start.elapsed();
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(str::trim)
    };
    let code = field("Exit status:")
        .and_then(|v| v.parse::<i32>().ok())
        .or(status.code());
    // timeout(1) exits 124 when it stopped the command, 137 when it had to kill it.
    let ended = match code {
        _ if text.contains("Command terminated by signal") => Ended::Signal,
        Some(124 | 137) => Ended::TimedOut,
        Some(c) => Ended::Exit(c),
        None => Ended::Signal,
    };
    Run {
        wall,
        user: field("User time (seconds):").and_then(|v| v.parse().ok()),
        sys: field("System time (seconds):").and_then(|v| v.parse().ok()),
        max_rss_kib: field("Maximum resident set size (kbytes):").and_then(|v| v.parse().ok()),
        ended,
        out_bytes,
    }
}

/// One rung: a cluster size and what was measured on it.
struct Rung {
    size: Size,
    yaml_bytes: u64,
    generate: Duration,
    matrix: Run,
    /// The matrix was timed to its first MiB only: the full output's estimated bytes.
    matrix_cut: Option<u64>,
    explain: Run,
    explain_pair: (String, String),
    /// `matrix --group workload --format jsonl`, every byte read from a pipe.
    grouped: Run,
    nca: Option<Run>,
    nca_note: Option<String>,
}

fn parse_size(s: &str) -> Option<Size> {
    let (p, q) = s.split_once('x')?;
    Some(Size {
        pods: p.trim().replace('_', "").parse().ok()?,
        policies: q.trim().replace('_', "").parse().ok()?,
    })
}

fn pod_name(op: &Op) -> Option<String> {
    match op {
        Op::AddPod { pod, .. } => Some(pod.id.to_string()),
        _ => None,
    }
}

struct Options {
    sizes: Vec<Size>,
    seed: u64,
    timeout: Duration,
    netsem: PathBuf,
    nca: Option<PathBuf>,
    work: PathBuf,
    out: Option<PathBuf>,
    max_output: u64,
    smoke: bool,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        sizes: "50x10,200x40,500x100,1000x200,10000x2000,100000x10000"
            .split(',')
            .filter_map(parse_size)
            .collect(),
        seed: 42,
        timeout: Duration::from_secs(900),
        netsem: std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("netsem"),
        nca: on_path("nca"),
        work: PathBuf::from("target/ladder"),
        out: None,
        max_output: 16 << 30,
        smoke: false,
    };
    let mut explicit_nca = false;
    let mut explicit = (false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--smoke" => o.smoke = true,
            "--sizes" => {
                let v = value()?;
                o.sizes = v
                    .split(',')
                    .map(|s| parse_size(s).ok_or(format!("not a size PODSxPOLICIES: {s}")))
                    .collect::<Result<_, _>>()?;
                explicit.0 = true;
            }
            "--seed" => o.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--timeout" => {
                o.timeout =
                    Duration::from_secs(value()?.parse().map_err(|e| format!("--timeout: {e}"))?);
                explicit.1 = true;
            }
            "--netsem" => o.netsem = value()?.into(),
            "--nca" => {
                o.nca = Some(value()?.into());
                explicit_nca = true;
            }
            "--no-nca" => o.nca = None,
            "--work" => o.work = value()?.into(),
            "--out" => o.out = Some(value()?.into()),
            "--max-output" => {
                o.max_output = value()?.parse().map_err(|e| format!("--max-output: {e}"))?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.smoke {
        if !explicit.0 {
            o.sizes = vec![
                Size {
                    pods: 50,
                    policies: 10,
                },
                Size {
                    pods: 200,
                    policies: 40,
                },
            ];
        }
        if !explicit.1 {
            o.timeout = Duration::from_secs(60);
        }
        if !explicit_nca {
            o.nca = None;
        }
    }
    if !o.netsem.is_file() {
        return Err(format!(
            "no netsem binary at {}: build it (cargo build --release -p netsem) or give --netsem",
            o.netsem.display()
        ));
    }
    Ok(o)
}

/// Where the whole command's time goes, stage by stage, for the manifests under `args`.
fn phases(args: &[String]) -> ExitCode {
    if args.is_empty() {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    }
    let t = Instant::now();
    let manifest = match netsem_spec::manifest::load_paths(args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let parse = t.elapsed();
    let t = Instant::now();
    let mut state = netsem_spec::State::new(netsem_spec::Profile::default());
    if let Err(e) = manifest.apply_detailed(&mut state) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let apply = t.elapsed();
    let pods = state.pods().count();
    let t = Instant::now();
    let oracle = netsem_oracle::Oracle::from_state(state);
    let index = t.elapsed();
    let t = Instant::now();
    let m = oracle.compressed_matrix();
    let matrix = t.elapsed();
    use netsem_spec::matrix::MatrixView as _;
    let t = Instant::now();
    let grouped =
        netsem_spec::matrix::GroupedMatrix::build(&m, |p| match manifest.workloads.get(p) {
            Some(w) => format!("{}/{w}", p.namespace),
            None => p.to_string(),
        });
    let group = t.elapsed();
    let t = Instant::now();
    let mut sink = Counting(0);
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut sink);
        match m.write_jsonl(&mut out) {
            Err(e) if e.kind() != std::io::ErrorKind::WriteZero => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            _ => {}
        }
    }
    let write = t.elapsed();
    let whole = sink.0 < SINK_LIMIT;
    println!("| stage | seconds |\n|---|---|");
    for (stage, d) in [
        ("read and parse the YAML", parse),
        ("apply (spec's state, all or nothing)", apply),
        ("index (the oracle)", index),
        ("class-compressed matrix", matrix),
        ("grouped by workload (class pairs)", group),
        (
            if whole {
                "jsonl to a sink"
            } else {
                "jsonl to a sink (its first 16 GB)"
            },
            write,
        ),
    ] {
        println!("| {stage} | {} |", secs(d));
    }
    println!(
        "\n{pods} pods, {} classes, {} distinct cells, {} workload groups, {} of jsonl ({:.0} MB/s written)",
        m.classes(),
        m.distinct_cells(),
        grouped.groups.len(),
        bytes_text(sink.0),
        sink.0 as f64 / 1e6 / write.as_secs_f64().max(1e-9)
    );
    ExitCode::SUCCESS
}

/// How much of the jsonl `phases` writes: enough to measure the rate.
const SINK_LIMIT: u64 = 16_000_000_000;

/// A sink that counts what is written to it, and takes no more than [`SINK_LIMIT`] bytes.
struct Counting(u64);

impl std::io::Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0 >= SINK_LIMIT {
            return Ok(0);
        }
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn generate(args: &[String]) -> ExitCode {
    let (size, dir) = match (args.first().and_then(|s| parse_size(s)), args.get(1)) {
        (Some(s), Some(d)) => (s, PathBuf::from(d)),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let seed = match args.get(2).map(String::as_str) {
        Some("--seed") => match args.get(3).and_then(|s| s.parse().ok()) {
            Some(s) => s,
            None => {
                eprint!("{USAGE}");
                return ExitCode::from(2);
            }
        },
        _ => 42,
    };
    let ops = cluster(size, seed);
    match write_manifests(&ops, &dir) {
        Ok(bytes) => {
            println!(
                "{} pods, {} policies: {} of YAML in {}",
                size.pods,
                size.policies,
                bytes_text(bytes),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: writing {}: {e}", dir.display());
            ExitCode::from(2)
        }
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

fn nca_version(nca: &Path) -> String {
    Command::new(nca)
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
                + String::from_utf8_lossy(&o.stderr).trim()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "version unknown".into())
}

fn table(rungs: &[Rung], o: &Options) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Machine: {}. One run of each command, whole process, seed {}, bound {} s per command.",
        machine(),
        o.seed,
        o.timeout.as_secs()
    );
    match &o.nca {
        Some(n) => {
            let _ = writeln!(t, "Peer: {} ({}).", n.display(), nca_version(n));
        }
        None => {
            let _ = writeln!(t, "Peer: not run.");
        }
    }
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "| pods / policies | YAML | `matrix --format jsonl > file` | peak RSS | jsonl written | MB/s | `explain` | peak RSS | `matrix --group workload` | its jsonl | nca | nca peak RSS | nca / netsem matrix |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rungs {
        let m = &r.matrix;
        let (written, rate) = match r.matrix_cut {
            Some(full) => (
                format!(
                    "first {} of ≈{} (rest unread)",
                    bytes_text(m.out_bytes),
                    bytes_text(full)
                ),
                "–".to_string(),
            ),
            None => (
                bytes_text(m.out_bytes),
                if m.finished() {
                    format!("{:.0}", m.out_bytes as f64 / 1e6 / m.wall.as_secs_f64())
                } else {
                    "–".into()
                },
            ),
        };
        let (nca, nca_rss, ratio) = match (&r.nca, &r.nca_note) {
            // The peer's own error is no result: no ratio from it.
            (Some(n), _) if matches!(n.ended, Ended::Exit(c) if c != 0) => (
                format!("failed after {} ({:?})", secs(n.wall), n.ended),
                n.rss_text(),
                "–".into(),
            ),
            (Some(n), _) => (
                n.wall_text(),
                n.rss_text(),
                if r.matrix_cut.is_none() && m.finished() {
                    let x = n.wall.as_secs_f64() / m.wall.as_secs_f64();
                    format!("{}{x:.0}×", if n.finished() { "" } else { "> " })
                } else {
                    "–".into()
                },
            ),
            (None, Some(note)) => (note.clone(), "–".into(), "–".into()),
            (None, None) => ("–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            t,
            "| {} / {} | {} | {}{} | {} | {} | {} | {} | {} | {} ({}) | {} | {} | {} | {} |",
            thousands(r.size.pods),
            thousands(r.size.policies),
            bytes_text(r.yaml_bytes),
            m.wall_text(),
            if r.matrix_cut.is_some() {
                " to first MiB"
            } else {
                ""
            },
            m.rss_text(),
            written,
            rate,
            r.explain.wall_text(),
            r.explain.rss_text(),
            r.grouped.wall_text(),
            r.grouped.rss_text(),
            bytes_text(r.grouped.out_bytes),
            nca,
            nca_rss,
            ratio
        );
    }
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "`explain` is `netsem explain DIR --from A --to B --port 8080` with A the first pod and B the middle one:"
    );
    for r in rungs {
        let _ = writeln!(
            t,
            "{} pods: {} → {} (exit {}); cluster written in {}.",
            thousands(r.size.pods),
            r.explain_pair.0,
            r.explain_pair.1,
            match r.explain.ended {
                Ended::Exit(c) => c.to_string(),
                _ => "none".into(),
            },
            secs(r.generate)
        );
    }
    t
}

fn thousands(n: usize) -> String {
    if n < 1000 {
        n.to_string()
    } else {
        format!("{},{:03}", thousands(n / 1000), n % 1000)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("gen") {
        return generate(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("phases") {
        return phases(&args[1..]);
    }
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprint!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };
    if let Err(e) = std::fs::create_dir_all(&o.work) {
        eprintln!("error: {}: {e}", o.work.display());
        return ExitCode::from(2);
    }
    let netsem = o.netsem.clone();
    let mut rungs = Vec::new();
    let mut failures = Vec::new();
    let mut nca_stopped: Option<String> = None;
    // Bytes per jsonl line, learnt from the last full matrix written.
    let mut line_bytes = 120.0;
    for &size in &o.sizes {
        let name = format!("{}x{}", size.pods, size.policies);
        let dir = o.work.join(&name);
        let t = Instant::now();
        let ops = cluster(size, o.seed);
        let _ = std::fs::remove_dir_all(&dir);
        let yaml_bytes = match write_manifests(&ops, &dir) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: writing {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        };
        let generate = t.elapsed();
        let pods: Vec<String> = ops.iter().filter_map(pod_name).collect();
        let pair = (pods[0].clone(), pods[pods.len() / 2].clone());
        drop(ops);
        let d = dir.to_str().expect("a UTF-8 path").to_string();
        eprintln!(
            "== {name}: {} of YAML in {}",
            bytes_text(yaml_bytes),
            secs(generate)
        );

        let lines = (size.pods as u64) * (size.pods as u64);
        let estimate = (lines as f64 * line_bytes) as u64;
        let out = o.work.join(format!("{name}.matrix.jsonl"));
        let matrix_args = ["matrix", d.as_str(), "--format", "jsonl"];
        let (matrix, matrix_cut) = if estimate > o.max_output {
            let run = timed(
                &netsem,
                &matrix_args,
                Sink::Head(1 << 20),
                o.timeout,
                &o.work.join(format!("{name}.matrix")),
            );
            (run, Some(estimate))
        } else {
            let run = timed(
                &netsem,
                &matrix_args,
                Sink::File(&out),
                o.timeout,
                &o.work.join(format!("{name}.matrix")),
            );
            if run.finished() {
                let counted = count_lines(&out);
                if counted != lines {
                    failures.push(format!("{name}: {counted} jsonl lines, expected {lines}"));
                } else if lines > 0 {
                    line_bytes = run.out_bytes as f64 / lines as f64;
                }
            }
            let _ = std::fs::remove_file(&out);
            (run, None)
        };
        if matrix.ended != Ended::Exit(0) {
            failures.push(format!("{name}: matrix ended {:?}", matrix.ended));
        }
        eprintln!(
            "   matrix  {} ({}), {}, {} out",
            matrix.wall_text(),
            matrix.cpu_text(),
            matrix.rss_text(),
            bytes_text(matrix.out_bytes)
        );

        let explain_args = [
            "explain",
            d.as_str(),
            "--from",
            pair.0.as_str(),
            "--to",
            pair.1.as_str(),
            "--port",
            "8080",
        ];
        let explain_out = o.work.join(format!("{name}.explain.txt"));
        let explain = timed(
            &netsem,
            &explain_args,
            Sink::File(&explain_out),
            o.timeout,
            &o.work.join(format!("{name}.explain")),
        );
        if !matches!(explain.ended, Ended::Exit(0 | 1)) || explain.out_bytes == 0 {
            failures.push(format!(
                "{name}: explain ended {:?} with {} bytes",
                explain.ended, explain.out_bytes
            ));
        }
        eprintln!(
            "   explain {} ({}), {}",
            explain.wall_text(),
            explain.cpu_text(),
            explain.rss_text()
        );

        // The grouped matrix read whole, as `| wc -c` would: the output of 100,000 pods is tens
        // of GB, which the reader decides what to do with.
        let grouped = timed(
            &netsem,
            &[
                "matrix",
                d.as_str(),
                "--group",
                "workload",
                "--format",
                "jsonl",
            ],
            Sink::Head(u64::MAX),
            o.timeout,
            &o.work.join(format!("{name}.grouped")),
        );
        if grouped.ended != Ended::Exit(0) || grouped.out_bytes == 0 {
            failures.push(format!(
                "{name}: matrix --group workload ended {:?} with {} bytes",
                grouped.ended, grouped.out_bytes
            ));
        }
        eprintln!(
            "   grouped {} ({}), {}, {} out",
            grouped.wall_text(),
            grouped.cpu_text(),
            grouped.rss_text(),
            bytes_text(grouped.out_bytes)
        );

        let (nca, nca_note) = match (&o.nca, &nca_stopped) {
            (None, _) => (None, Some("not run".to_string())),
            (Some(_), Some(why)) => (None, Some(why.clone())),
            (Some(nca), None) => {
                let nca_out = o.work.join(format!("{name}.nca.txt"));
                let run = timed(
                    nca,
                    &[
                        "--connectivity",
                        d.as_str(),
                        "-r",
                        d.as_str(),
                        "-o",
                        "txt_no_fw_rules",
                        "--output_endpoints",
                        "pods",
                    ],
                    Sink::File(&nca_out),
                    o.timeout,
                    &o.work.join(format!("{name}.nca")),
                );
                eprintln!(
                    "   nca     {} ({}), {}, ended {:?}",
                    run.wall_text(),
                    run.cpu_text(),
                    run.rss_text(),
                    run.ended
                );
                match run.ended {
                    Ended::Exit(0) => {}
                    Ended::Exit(c) => {
                        nca_stopped = Some(format!("not run (failed with exit {c} at {name})"))
                    }
                    Ended::TimedOut => nca_stopped = Some(format!("not run (timed out at {name})")),
                    Ended::Signal => nca_stopped = Some(format!("not run (killed at {name})")),
                }
                (Some(run), None)
            }
        };
        rungs.push(Rung {
            size,
            yaml_bytes,
            generate,
            matrix,
            matrix_cut,
            explain,
            explain_pair: pair,
            grouped,
            nca,
            nca_note,
        });
        if o.smoke {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let t = table(&rungs, &o);
    print!("{t}");
    if let Some(path) = &o.out {
        if let Err(e) = std::fs::write(path, &t) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            eprintln!("FAILED: {f}");
        }
        ExitCode::FAILURE
    }
}

fn count_lines(path: &Path) -> u64 {
    let Ok(mut f) = std::fs::File::open(path) else {
        return 0;
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    while let Ok(k) = f.read(&mut buf) {
        if k == 0 {
            break;
        }
        n += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    n
}
