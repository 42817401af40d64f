//! The `netsem` command line (package and binary `netsem`). Exit codes (a public contract, docs/FORMATS.md): 0 success, 1 a
//! disagreement or failed check, 2 bad input. Data goes to stdout, errors to stderr.

mod check;
mod explain;
mod flows;
mod format;
mod junit;
mod serve;
pub mod suite;

use clap::{Args, Parser, Subcommand, ValueEnum};
use netsem_oracle::Oracle;
use netsem_spec::decision::{Source, Target};
use netsem_spec::matrix::MatrixView;
use netsem_spec::{replay, Address, PodId, Profile, Protocol, ServiceId, State, Trace};
use std::io::Write;
use std::path::PathBuf;

pub use format::Format;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: a disagreement, a failed trace or check, or a denied `explain`.
pub const EXIT_DISAGREE: i32 = 1;
/// Exit code: bad input (unreadable or invalid manifest, trace or observation; bad arguments).
pub const EXIT_BAD_INPUT: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "netsem",
    version,
    about = "The executable semantics of Kubernetes networking: who may talk to whom, and why.",
    after_help = "Examples:\n  netsem matrix examples/shop\n  netsem explain examples/shop --from frontend/web-0 --to backend/api-0 --port 8080\n  netsem run tests/corpus/*.yaml\n  netsem check examples/shop --observed observed.jsonl\n\nExit codes: 0 success, 1 disagreement or failed check, 2 bad input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum EngineName {
    /// The fast indexed engine.
    Oracle,
    /// The reference semantics (slow, obviously right).
    Spec,
}

/// The engines that replay traces: every engine of the harness's registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReplayEngine {
    /// The fast indexed engine.
    Oracle,
    /// The reference semantics (slow, obviously right).
    Spec,
    /// The enforcement model: connections through its pipeline, model-checked; what it does
    /// not model is skipped with a reason.
    Model,
}

impl ReplayEngine {
    fn name(self) -> &'static str {
        match self {
            ReplayEngine::Oracle => "oracle",
            ReplayEngine::Spec => "spec",
            ReplayEngine::Model => "model",
        }
    }
}

#[derive(Subcommand, Debug)]
enum GenCommand {
    /// Write a conformance suite: a probe topology and cases of steps, each probe with the
    /// verdict netsem computes (docs/CONFORMANCE.md).
    #[command(
        after_help = "Examples:\n  netsem gen suite --out suite/\n  netsem gen suite --out suite/ --seed 7 --profile default,ip-block-pods=external-only\n\nThe same seed and profile always write the same files."
    )]
    Suite {
        /// The directory to write (created if needed; files of the same names are replaced).
        #[arg(long)]
        out: PathBuf,
        /// Picks the ports the cases use.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        profile: ProfileArg,
    },
}

/// The plain flow format's two flavours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PlainFormat {
    /// JSON lines, `{"netsemFlows":1}` first.
    Jsonl,
    /// CSV, `# netsemFlows 1` and a header first.
    Csv,
}

#[derive(Args, Debug)]
struct ProfileArg {
    /// Implementation-defined choices: `default`, `strict`, then `,switch=value` overrides
    /// (e.g. `default,established=recheck`); see docs/SEMANTICS.md §7.
    #[arg(long, default_value = "default", value_parser = parse_profile)]
    profile: Profile,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse::<Profile>().map_err(|e| e.to_string())
}

// Parsed once per run; boxing the variants would only obscure the clap definitions.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Print the connectivity matrix of the pods in the manifests.
    #[command(
        after_help = "Examples:\n  netsem matrix examples/shop\n  netsem matrix examples/shop --format jsonl > matrix.jsonl\n  netsem matrix cluster/ --profile strict --format dot | dot -Tsvg > matrix.svg\n\nThe jsonl format is a contract: one line per ordered pair of pods (self pairs included), sorted by src then dst,\n  {\"src\":\"ns/a\",\"dst\":\"ns/b\",\"allowed\":{\"TCP\":[[80,80]],\"UDP\":[],\"SCTP\":[]}}\nlisting the destination ports where a new connection to the destination's primary address is allowed."
    )]
    Matrix {
        /// Manifest files or directories (YAML or JSON; directories are read recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        profile: ProfileArg,
        /// Which engine computes the matrix.
        #[arg(long, value_enum, default_value_t = EngineName::Oracle)]
        engine: EngineName,
    },
    /// Explain why a connection is allowed or denied.
    #[command(
        after_help = "Examples:\n  netsem explain examples/shop --from frontend/web-0 --to backend/api-0 --port 8080\n  netsem explain examples/shop --from frontend/web-0 --to-service backend/api --port 80\n  netsem explain examples/shop --from-ip 203.0.113.7 --to frontend/web-0 --port 8080\n  netsem explain examples/shop --from backend/api-0 --to-ip 8.8.8.8 --port 53 --protocol UDP\n  netsem explain examples/shop examples/admin-tiers --from monitoring/prometheus --to frontend/admin-console --port 9100\n\nWith ClusterNetworkPolicies (or AdminNetworkPolicy/BaselineAdminNetworkPolicy) in the manifests, each direction shows\nthe tier chain: the Admin tier, NetworkPolicy, the Baseline tier, the default (docs/SEMANTICS.md §11).\nExit code 0 when allowed, 1 when denied or undetermined (tied admin policies), 2 on bad input."
    )]
    Explain {
        /// Manifest files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Source pod, `namespace/name`.
        #[arg(long, conflicts_with = "from_ip", required_unless_present = "from_ip")]
        from: Option<PodId>,
        /// Source address (`ip` or `ip%domain`).
        #[arg(long)]
        from_ip: Option<Address>,
        /// Destination pod, `namespace/name`.
        #[arg(long, group = "dest")]
        to: Option<PodId>,
        /// Destination address (`ip` or `ip%domain`).
        #[arg(long, group = "dest")]
        to_ip: Option<Address>,
        /// Destination Service, `namespace/name`.
        #[arg(long, group = "dest")]
        to_service: Option<ServiceId>,
        /// Destination port (1-65535).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
        /// Protocol: TCP, UDP, SCTP, ICMP, ICMPv6 or IP/<number>.
        #[arg(long, default_value = "TCP")]
        protocol: Protocol,
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Replay traces and report the first divergence of each.
    #[command(
        after_help = "Examples:\n  netsem run tests/corpus/*.yaml\n  netsem run my-trace.yaml --engine spec\n  netsem run my-trace.yaml --engine model\n\nExit code 0 when every trace passes, 1 when one diverges, 2 when one cannot be read."
    )]
    Run {
        /// Trace files (YAML or JSON, docs/TRACES.md).
        #[arg(required = true)]
        traces: Vec<PathBuf>,
        /// Which engine replays them.
        #[arg(long, value_enum, default_value_t = ReplayEngine::Oracle)]
        engine: ReplayEngine,
        /// Also write a JUnit XML report here: one test case per trace (docs/FORMATS.md); `-`
        /// writes it to stdout instead of the text report.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Print the connection attempts of a flow log (Hubble or plain) in the plain flow format.
    #[command(
        after_help = "Examples:\n  hubble observe -o json > flows.jsonl; netsem flows flows.jsonl > attempts.jsonl\n  netsem flows attempts.jsonl --format csv\n\nOnly the records `check` judges as connection attempts are written; the others are counted on stderr."
    )]
    Flows {
        /// The flow log (Hubble `-o json`/`-o jsonpb`, or the plain format as jsonl or csv).
        file: PathBuf,
        /// The plain format's flavour to write.
        #[arg(long, value_enum, default_value_t = PlainFormat::Jsonl)]
        format: PlainFormat,
    },
    /// Generate test material: `netsem gen suite --out DIR` writes a conformance suite.
    #[command(subcommand)]
    Gen(GenCommand),
    /// Answer queries (load, apply, delete, decide, explain, matrix) as JSON-RPC 2.0 lines.
    #[command(
        after_help = "Examples:\n  netsem serve --stdio examples/shop\n  echo '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"decide\",\"params\":{\"from\":\"frontend/admin-console\",\"to\":\"backend/api\",\"port\":8080}}' | netsem serve --stdio examples/shop\n\nOne request per line on stdin, one response per line on stdout, in order (docs/FORMATS.md, \"The query server\").\nErrors are responses; the server stops at end of input or on `shutdown`."
    )]
    Serve {
        /// Read requests from stdin and answer on stdout (the only transport).
        #[arg(long, required = true)]
        stdio: bool,
        /// Manifests to load first (more can be loaded with `load`).
        paths: Vec<PathBuf>,
        #[command(flatten)]
        profile: ProfileArg,
    },
    /// Check what another implementation observed against the semantics.
    #[command(
        after_help = "Examples:\n  netsem check cluster/ --observed observed.jsonl\n  netsem check cluster/ --observed attempts.yaml --profile default,ip-block-pods=external-only\n\nThe observation is either a connectivity matrix in the jsonl format of `netsem matrix`, or a trace\n(docs/TRACES.md) of attempted operations with their observed outcomes, replayed on top of the manifests.\nEvery disagreement is listed with its explanation. Exit code 0 when there is none, 1 otherwise, 2 on bad input."
    )]
    Check {
        /// Manifest files or directories describing the cluster (not with --suite).
        #[arg(required_unless_present = "suite", conflicts_with = "suite")]
        paths: Vec<PathBuf>,
        /// A conformance suite (`netsem gen suite`); --observed is then its results file or a
        /// directory of results files.
        #[arg(long, conflicts_with_all = ["observed_format", "attribute", "profile"])]
        suite: Option<PathBuf>,
        /// The observations: a matrix (jsonl), a trace (YAML/JSON), Hubble flows (`hubble observe
        /// -o json`) or flows in the plain format (jsonl or csv); the format is told from the
        /// content.
        #[arg(long)]
        observed: PathBuf,
        /// Read the observations in this format instead of telling it from the content.
        #[arg(long, value_enum)]
        observed_format: Option<flows::ObservedFormat>,
        /// For flows: print, for every judged flow, the policy and rule that decided it.
        #[arg(long)]
        attribute: bool,
        /// Also write a JUnit XML report here (docs/FORMATS.md); `-` writes it to stdout instead
        /// of the text report.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Implementation-defined choices (docs/SEMANTICS.md §7). Default: an observed trace's
        /// own `profile:`, else `default`.
        #[arg(long, value_parser = parse_profile)]
        profile: Option<Profile>,
    },
}

/// `check` on a flow log (Hubble or the plain format, told from the content) over `state`: the
/// report goes to `out`; returns the exit code (0 agreement, 1 a security finding or outage) and
/// the summary line. For embedding and the benchmarks; the command line is [`run`].
pub fn check_flow_log(
    state: State,
    text: &str,
    attribute: bool,
    out: &mut dyn Write,
) -> Result<(i32, String), String> {
    let format = flows::detect(text);
    if !matches!(
        format,
        flows::ObservedFormat::Hubble
            | flows::ObservedFormat::FlowsJsonl
            | flows::ObservedFormat::FlowsCsv
    ) {
        return Err("not a flow log (Hubble, or the plain flow format)".into());
    }
    let records = flows::read(text, format).map_err(|e| e.to_string())?;
    let (code, suite) = check::check_flows(state, &records, attribute, out);
    Ok((code, suite.out))
}

/// Loads manifests into a state, printing warnings to `err`.
fn load(paths: &[PathBuf], profile: Profile, err: &mut dyn Write) -> Result<State, i32> {
    match netsem_spec::manifest::load_state(paths, profile) {
        Ok((state, warnings)) => {
            for w in warnings {
                let _ = writeln!(err, "warning: {w}");
            }
            Ok(state)
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            Err(EXIT_BAD_INPUT)
        }
    }
}

/// `netsem flows`: the connection attempts of a flow log, in the plain format.
fn convert_flows(
    file: &std::path::Path,
    format: PlainFormat,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, i32> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        let _ = writeln!(err, "error: {}: {e}", file.display());
        EXIT_BAD_INPUT
    })?;
    let kind = flows::detect(&text);
    if !matches!(
        kind,
        flows::ObservedFormat::Hubble
            | flows::ObservedFormat::FlowsJsonl
            | flows::ObservedFormat::FlowsCsv
    ) {
        let _ = writeln!(
            err,
            "error: {}: not a flow log (Hubble, or the plain flow format)",
            file.display()
        );
        return Err(EXIT_BAD_INPUT);
    }
    let records = flows::read(&text, kind).map_err(|e| {
        let _ = writeln!(err, "error: {}: {e}", file.display());
        EXIT_BAD_INPUT
    })?;
    let mut skipped = std::collections::BTreeMap::new();
    let mut lines = Vec::new();
    match format {
        PlainFormat::Jsonl => lines.push(format!(
            "{{\"netsemFlows\":{}}}",
            flows::PLAIN_FLOWS_VERSION
        )),
        PlainFormat::Csv => {
            lines.push(format!("# netsemFlows {}", flows::PLAIN_FLOWS_VERSION));
            lines.push(flows::PLAIN_COLUMNS.join(","));
        }
    }
    for r in &records {
        match r {
            flows::Record::Flow(f) => {
                let plain = flows::Plain::of(f);
                lines.push(match format {
                    PlainFormat::Jsonl => serde_json::to_string(&plain).expect("a plain flow"),
                    PlainFormat::Csv => plain.csv_row().map_err(|field| {
                        let _ = writeln!(
                            err,
                            "error: {}: line {}: {field}: contains a comma, which a CSV cell of the plain format cannot; write JSON lines instead",
                            file.display(),
                            f.line
                        );
                        EXIT_BAD_INPUT
                    })?,
                });
            }
            flows::Record::Classified { class, .. } => {
                *skipped.entry(class.name()).or_insert(0) += 1
            }
        }
    }
    for l in lines {
        if writeln!(out, "{l}").is_err() {
            return Ok(EXIT_OK);
        }
    }
    if !skipped.is_empty() {
        let counts: Vec<String> = skipped.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(
            err,
            "not connection attempts, not written: {}",
            counts.join(", ")
        );
    }
    Ok(EXIT_OK)
}

/// Runs the command line with `args` (the first is the program name).
pub fn run(
    args: impl IntoIterator<Item = std::ffi::OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
            // Plain text: the output may be a pipe or a file.
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                write!(err, "{text}")
            } else {
                write!(out, "{text}")
            };
            return code;
        }
    };
    let result = match cli.command {
        Command::Matrix {
            paths,
            format,
            profile,
            engine,
        } => load(&paths, profile.profile, err).and_then(|state| {
            let name = profile.profile.to_string();
            let written = match engine {
                EngineName::Spec => format::write(&state.matrix(), format, &name, out),
                EngineName::Oracle => {
                    let m = Oracle::from_state(state).compressed_matrix();
                    format::write(&m as &dyn MatrixView, format, &name, out)
                }
            };
            match written {
                Ok(()) => Ok(EXIT_OK),
                // A reader that stopped early (`| head`) is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(EXIT_OK),
                Err(e) => {
                    let _ = writeln!(err, "error: writing the matrix: {e}");
                    Err(EXIT_BAD_INPUT)
                }
            }
        }),
        Command::Explain {
            paths,
            from,
            from_ip,
            to,
            to_ip,
            to_service,
            port,
            protocol,
            profile,
        } => load(&paths, profile.profile, err).and_then(|mut state| {
            let from = match (from, from_ip) {
                (Some(p), _) => Source::Pod(p),
                (None, Some(a)) => Source::Address(a),
                (None, None) => unreachable!("clap requires --from or --from-ip"),
            };
            let to = match (to, to_ip, to_service) {
                (Some(p), _, _) => Target::Pod(p),
                (_, Some(a), _) => Target::Address(a),
                (_, _, Some(s)) => Target::Service(s),
                _ => {
                    let _ = writeln!(
                        err,
                        "error: give a destination: --to, --to-ip or --to-service"
                    );
                    return Err(EXIT_BAD_INPUT);
                }
            };
            match explain::explain(&mut state, &from, &to, protocol, port) {
                Ok((text, allowed)) => {
                    let _ = write!(out, "{text}");
                    Ok(if allowed == Some(true) {
                        EXIT_OK
                    } else {
                        EXIT_DISAGREE
                    })
                }
                Err(e) => {
                    let _ = writeln!(err, "error: {e}");
                    Err(EXIT_BAD_INPUT)
                }
            }
        }),
        Command::Run {
            traces,
            engine,
            junit,
        } => {
            let to_stdout = junit.as_deref() == Some(std::path::Path::new("-"));
            let mut sink = std::io::sink();
            let (out, junit_out): (&mut dyn Write, &mut dyn Write) = if to_stdout {
                (&mut sink, out)
            } else {
                (out, &mut std::io::sink())
            };
            let mut code = EXIT_OK;
            let mut suite = junit::Suite::new(format!("netsem.run.{}", engine.name()));
            for path in traces {
                let trace = match Trace::load(&path) {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = writeln!(err, "error: {e}");
                        code = EXIT_BAD_INPUT;
                        suite.case(
                            path.display().to_string(),
                            junit::Outcome::Failure {
                                kind: "UnreadableTrace".into(),
                                message: "the trace cannot be read".into(),
                                text: e.to_string(),
                            },
                        );
                        continue;
                    }
                };
                let profile = trace.profile();
                let mut e = netsem_harness::engines::build(engine.name(), profile)
                    .expect("every replay engine is registered");
                let started = std::time::Instant::now();
                let outcome = match replay(e.as_mut(), &trace) {
                    Ok(done) if done.skipped.is_empty() => {
                        let _ = writeln!(
                            out,
                            "PASS {} ({} steps, {})",
                            path.display(),
                            trace.steps.len(),
                            e.name()
                        );
                        junit::Outcome::Pass
                    }
                    Ok(done) => {
                        let _ = writeln!(
                            out,
                            "PASS {} ({} steps, {}: {} judged, {} skipped)",
                            path.display(),
                            trace.steps.len(),
                            e.name(),
                            done.judged,
                            done.skipped.values().sum::<usize>()
                        );
                        junit::Outcome::Pass
                    }
                    Err(d) => {
                        let _ = writeln!(out, "FAIL {} ({})\n{d}", path.display(), e.name());
                        if code == EXIT_OK {
                            code = EXIT_DISAGREE;
                        }
                        junit::Outcome::Failure {
                            kind: "Divergence".into(),
                            message: format!("step {} diverges in {}", d.step, d.fields.join(", ")),
                            text: d.to_string(),
                        }
                    }
                };
                suite.case(path.display().to_string(), outcome);
                if let Some(last) = suite.cases.last_mut() {
                    last.time = junit::seconds(started.elapsed());
                }
            }
            if let Some(file) = junit {
                if let Err(e) = junit::write(&file, &[suite], junit_out) {
                    let _ = writeln!(err, "error: {e}");
                    return EXIT_BAD_INPUT;
                }
            }
            Ok(code)
        }
        Command::Flows { file, format } => convert_flows(&file, format, out, err),
        Command::Serve {
            stdio: _,
            paths,
            profile,
        } => {
            let state = if paths.is_empty() {
                Ok(State::new(profile.profile))
            } else {
                load(&paths, profile.profile, err)
            };
            state.and_then(|state| {
                let mut stdin = std::io::BufReader::with_capacity(1 << 16, std::io::stdin());
                match serve::serve(state, &mut stdin, out) {
                    Ok(()) => Ok(EXIT_OK),
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(EXIT_OK),
                    Err(e) => {
                        let _ = writeln!(err, "error: serve: {e}");
                        Err(EXIT_BAD_INPUT)
                    }
                }
            })
        }
        Command::Check {
            suite: Some(dir),
            observed,
            junit,
            ..
        } => {
            let to_stdout = junit.as_deref() == Some(std::path::Path::new("-"));
            let mut sink = std::io::sink();
            let text: &mut dyn Write = if to_stdout { &mut sink } else { out };
            match suite::check(&dir, &observed, text) {
                Ok((code, report)) => match junit {
                    Some(file) => match junit::write(&file, &[report], out) {
                        Ok(()) => Ok(code),
                        Err(e) => {
                            let _ = writeln!(err, "error: {e}");
                            Err(EXIT_BAD_INPUT)
                        }
                    },
                    None => Ok(code),
                },
                Err(e) => {
                    let _ = writeln!(err, "error: {e}");
                    Err(EXIT_BAD_INPUT)
                }
            }
        }
        Command::Gen(GenCommand::Suite {
            out: dir,
            seed,
            profile,
        }) => {
            let (suite, files) = suite::generate(seed, profile.profile);
            match suite::write(&dir, &files) {
                Ok(()) => {
                    let probes: usize = suite
                        .cases
                        .iter()
                        .flat_map(|c| &c.steps)
                        .map(|s| s.probes.len())
                        .sum();
                    let _ = writeln!(
                        out,
                        "wrote {} ({} cases, {probes} probes, profile {}, seed {seed})",
                        dir.display(),
                        suite.cases.len(),
                        suite.profile
                    );
                    Ok(EXIT_OK)
                }
                Err(e) => {
                    let _ = writeln!(err, "error: {e}");
                    Err(EXIT_BAD_INPUT)
                }
            }
        }
        Command::Check {
            suite: None,
            paths,
            observed,
            observed_format,
            attribute,
            junit,
            profile,
        } => load(&paths, profile.unwrap_or_default(), err).and_then(|state| {
            let options = check::Options {
                format: observed_format,
                attribute,
            };
            let to_stdout = junit.as_deref() == Some(std::path::Path::new("-"));
            let mut sink = std::io::sink();
            let text: &mut dyn Write = if to_stdout { &mut sink } else { out };
            let (code, suite) = check::check(state, &observed, profile, options, text, err)?;
            if let Some(file) = junit {
                junit::write(&file, &[suite], out).map_err(|e| {
                    let _ = writeln!(err, "error: {e}");
                    EXIT_BAD_INPUT
                })?;
            }
            Ok(code)
        }),
    };
    result.unwrap_or_else(|code| code)
}
