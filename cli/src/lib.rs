//! The `netsem` command line (package and binary `netsem`). Exit codes (a public contract, docs/FORMATS.md): 0 success, 1 a
//! disagreement or failed check, 2 bad input. Data goes to stdout, errors to stderr.

mod check;
mod explain;
mod flows;
mod format;
mod junit;
mod names;
mod serve;
pub mod suite;

use clap::{Args, Parser, Subcommand, ValueEnum};
use netsem_oracle::Oracle;
use netsem_spec::decision::allocated::matrix_dependencies;
use netsem_spec::decision::{Source, Target};
use netsem_spec::manifest::{Loaded, STDIN_PATH};
use netsem_spec::matrix::{GroupedMatrix, MatrixView};
use netsem_spec::{replay, Address, Profile, Protocol, ServiceId, State, Trace};
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
    after_help = "Examples:\n  netsem matrix examples/shop\n  netsem matrix examples/shop --group workload\n  kubectl get pods,svc,netpol,ns -A -o yaml | netsem matrix -\n  netsem explain examples/shop --from frontend/deployment/web --to backend/api --port 8080\n  netsem run tests/corpus/np-basic-isolation.yaml\n  netsem check examples/shop --observed tests/corpus/observed/shop-attempts.yaml\n\nA PATH may be `-`, standard input. Where a pod is expected, a workload may be named instead\n(`ns/deployment/web` or `ns/web[Deployment]`), meaning each of its pods.\n\nExit codes: 0 success, 1 disagreement or failed check, 2 bad input."
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

/// How `matrix` groups its rows and columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Group {
    /// One row and column per pod (the contract of docs/FORMATS.md).
    Pod,
    /// One row and column per workload (a pod without one is its own group): a cell is what
    /// every pod pair of the two workloads allows, and says whether they disagree.
    Workload,
}

#[derive(Args, Debug)]
struct ProfileArg {
    /// Implementation-defined choices: `default`, `strict`, then `,switch=value` overrides
    /// (e.g. `default,established=recheck`); see docs/SEMANTICS.md §7.
    #[arg(long, default_value = "default", value_parser = parse_profile)]
    profile: Profile,
}

/// Rule 6.19: one row per entry point, decided by the chosen engine's core.
fn entry_rows(
    state: &netsem_spec::State,
    engine: EngineName,
) -> Vec<(String, Vec<(netsem_spec::PodId, netsem_spec::AllowedPorts)>)> {
    use netsem_spec::decision::entry::reachable;
    let oracle = Oracle::from_state(state.clone());
    state
        .entry_points()
        .map(|e| {
            let reached = match engine {
                EngineName::Spec => reachable(state, &netsem_spec::SpecCore, e),
                EngineName::Oracle => reachable(oracle.state(), oracle.core(), e),
            };
            let cells = state
                .pods()
                .map(|p| {
                    let ports = reached.get(&p.id);
                    let of = |proto: Protocol| {
                        netsem_spec::PortRanges::from_ranges(
                            ports
                                .into_iter()
                                .flatten()
                                .filter(|(q, _)| *q == proto)
                                .map(|(_, n)| (*n, *n)),
                        )
                    };
                    (
                        p.id.clone(),
                        netsem_spec::AllowedPorts {
                            tcp: of(Protocol::Tcp),
                            udp: of(Protocol::Udp),
                            sctp: of(Protocol::Sctp),
                        },
                    )
                })
                .collect();
            (e.id().to_string(), cells)
        })
        .collect()
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected NAME=VALUE, got `{s}`"))
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
        after_help = "Examples:\n  netsem matrix examples/shop\n  netsem matrix examples/shop --format jsonl > matrix.jsonl\n  netsem matrix examples/shop --group workload --format md\n  netsem matrix examples/shop --profile strict --format dot | dot -Tsvg > matrix.svg\n  kubectl get pods,svc,netpol,ns -A -o yaml | netsem matrix -\n\nThe jsonl format is a contract: one line per ordered pair of pods (self pairs included), sorted by src then dst,\n  {\"src\":\"ns/a\",\"dst\":\"ns/b\",\"allowed\":{\"TCP\":[[80,80]],\"UDP\":[],\"SCTP\":[]}}\nlisting the destination ports where a new connection to the destination's primary address is allowed.\nWith --group workload, rows and columns are workloads and a line says what every pod pair allows\n(docs/FORMATS.md). A warning on stderr names each address netsem allocated that a cell depends on."
    )]
    Matrix {
        /// Manifest files or directories (YAML or JSON; directories are read recursively; `-`
        /// is standard input).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Rows and columns: one per pod, or one per workload.
        #[arg(long, value_enum, default_value_t = Group::Pod)]
        group: Group,
        #[command(flatten)]
        profile: ProfileArg,
        /// Which engine computes the matrix.
        #[arg(long, value_enum, default_value_t = EngineName::Oracle)]
        engine: EngineName,
        /// Also a row per Ingress and Gateway: the pods its routes send to, on the ports its
        /// controller may reach (table, md, jsonl and csv; after the pod matrix).
        #[arg(long)]
        from_entry_points: bool,
    },
    /// Explain why a connection is allowed or denied.
    #[command(
        after_help = "Examples:\n  netsem explain examples/shop --from frontend/deployment/web --to backend/api --port 8080\n  netsem explain examples/shop --from 'frontend/web[Deployment]' --to-service backend/api --port 80\n  netsem explain examples/shop --from-ip 203.0.113.7 --to frontend/deployment/web --port 8080\n  netsem explain examples/shop --from backend/api --to-ip 8.8.8.8 --port 53 --protocol UDP\n  netsem explain examples/shop --from monitoring/prometheus --to backend/statefulset/db --port 9187\n  netsem explain examples/shop examples/admin-tiers --from monitoring/prometheus --to frontend/admin-console --port 9100\n\nA workload (`ns/kind/name` or `ns/name[Kind]`) means each of its pods: every pair is explained.\nWith ClusterNetworkPolicies (or AdminNetworkPolicy/BaselineAdminNetworkPolicy) in the manifests, each direction shows\nthe tier chain: the Admin tier, NetworkPolicy, the Baseline tier, the default (docs/SEMANTICS.md §11).\nExit code 0 when allowed, 1 when denied or undetermined (tied admin policies), 2 on bad input."
    )]
    Explain {
        /// Manifest files or directories (`-` is standard input).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Source pod `namespace/name`, or a workload (`namespace/kind/name`,
        /// `namespace/name[Kind]`): each of its pods.
        #[arg(long, conflicts_with = "from_ip", required_unless_present = "from_ip")]
        from: Option<String>,
        /// Source address (`ip` or `ip%domain`).
        #[arg(long)]
        from_ip: Option<Address>,
        /// Destination pod `namespace/name`, or a workload: each of its pods.
        #[arg(long, group = "dest")]
        to: Option<String>,
        /// Destination address (`ip` or `ip%domain`).
        #[arg(long, group = "dest")]
        to_ip: Option<Address>,
        /// Destination Service, `namespace/name`.
        #[arg(long, group = "dest")]
        to_service: Option<ServiceId>,
        /// Through an entry point, `ingress/NAMESPACE/NAME` or `gateway/NAMESPACE/NAME`, from
        /// the client --from-ip; --port is the listener port.
        #[arg(long, group = "dest")]
        via: Option<netsem_spec::entry::EntryPointId>,
        /// With --via: the request's host (HTTP Host, gRPC authority, TLS SNI).
        #[arg(long, requires = "via")]
        host: Option<String>,
        /// With --via: the request's path (`/` by default; `/SERVICE/METHOD` for gRPC).
        #[arg(long, requires = "via")]
        path: Option<String>,
        /// With --via: the HTTP method (GET by default).
        #[arg(long, requires = "via")]
        method: Option<String>,
        /// With --via: a request header `NAME=VALUE` (repeatable).
        #[arg(long = "header", requires = "via", value_parser = parse_header)]
        headers: Vec<(String, String)>,
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
        after_help = "Examples:\n  netsem run tests/corpus/np-basic-isolation.yaml tests/corpus/svc-target-ports.yaml\n  netsem run tests/corpus/multinet-type2.yaml --engine spec\n  netsem run tests/corpus/np-named-ports.yaml --engine model\n  cat tests/corpus/est-keep.yaml | netsem run -\n\nExit code 0 when every trace passes, 1 when one diverges, 2 when one cannot be read."
    )]
    Run {
        /// Trace files (YAML or JSON, docs/TRACES.md); `-` is standard input.
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
        after_help = "Examples:\n  netsem check examples/shop --observed tests/corpus/observed/shop-attempts.yaml\n  netsem check examples/shop --observed tests/corpus/observed/shop-attempts.yaml --profile default,ip-block-pods=external-only\n  netsem matrix examples/shop --format jsonl | netsem check examples/shop --observed -\n\nThe observation is either a connectivity matrix in the jsonl format of `netsem matrix`, or a trace\n(docs/TRACES.md) of attempted operations with their observed outcomes, replayed on top of the manifests;\nin a trace, a pod may be a workload `ns/name[Kind]`: the step is checked for each of its pods.\nEvery disagreement is listed with its explanation. Exit code 0 when there is none, 1 otherwise, 2 on bad input."
    )]
    Check {
        /// Manifest files or directories describing the cluster (not with --suite; `-` is
        /// standard input).
        #[arg(required_unless_present = "suite", conflicts_with = "suite")]
        paths: Vec<PathBuf>,
        /// A conformance suite (`netsem gen suite`); --observed is then its results file or a
        /// directory of results files.
        #[arg(long, conflicts_with_all = ["observed_format", "attribute", "profile"])]
        suite: Option<PathBuf>,
        /// The observations: a matrix (jsonl), a trace (YAML/JSON), Hubble flows (`hubble observe
        /// -o json`) or flows in the plain format (jsonl or csv); the format is told from the
        /// content. `-` is standard input.
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
fn load(paths: &[PathBuf], profile: Profile, err: &mut dyn Write) -> Result<Loaded, i32> {
    match netsem_spec::manifest::load(paths, profile) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                let _ = writeln!(err, "warning: {w}");
            }
            Ok(loaded)
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

/// Standard input can be read once: refuses `-` given twice.
fn stdin_once<'a>(
    paths: impl IntoIterator<Item = &'a PathBuf>,
    err: &mut dyn Write,
) -> Result<(), i32> {
    let n = paths
        .into_iter()
        .filter(|p| p.as_os_str() == STDIN_PATH)
        .count();
    if n > 1 {
        let _ = writeln!(
            err,
            "error: `-` (standard input) is given {n} times: standard input can be read once"
        );
        return Err(EXIT_BAD_INPUT);
    }
    Ok(())
}

/// Rule 9.13: warns about each allocated address the matrix depends on.
fn matrix_warnings(loaded: &Loaded, err: &mut dyn Write) {
    for d in matrix_dependencies(&loaded.state, &loaded.allocated) {
        let _ = writeln!(
            err,
            "warning: {} matrix cell(s) depend on {}, the address netsem allocated to pod {} (its \
             manifest gives no status.podIPs): an ipBlock is evaluated against it, e.g. {} -> {} \
             [rule 9.13]",
            d.cells, d.address, d.pod, d.example.0, d.example.1
        );
    }
}

/// Writes a matrix; a reader that stopped early (`| head`) is not an error.
fn written(r: std::io::Result<()>, err: &mut dyn Write) -> Result<i32, i32> {
    match r {
        Ok(()) => Ok(EXIT_OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(EXIT_OK),
        Err(e) => {
            let _ = writeln!(err, "error: writing the matrix: {e}");
            Err(EXIT_BAD_INPUT)
        }
    }
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
            group,
            profile,
            engine,
            from_entry_points,
        } => stdin_once(&paths, err)
            .and_then(|()| {
                if from_entry_points && matches!(format, Format::Json | Format::Dot) {
                    let _ = writeln!(
                        err,
                        "error: --from-entry-points is written with --format table, md, jsonl or csv"
                    );
                    return Err(EXIT_BAD_INPUT);
                }
                Ok(())
            })
            .and_then(|()| load(&paths, profile.profile, err))
            .and_then(|loaded| {
                matrix_warnings(&loaded, err);
                let name = profile.profile.to_string();
                let state = &loaded.state;
                let view: Box<dyn MatrixView> = match engine {
                    EngineName::Spec => Box::new(state.matrix()),
                    EngineName::Oracle => {
                        Box::new(Oracle::from_state(state.clone()).compressed_matrix())
                    }
                };
                let r = match group {
                    Group::Pod => format::write(view.as_ref(), format, &name, out),
                    Group::Workload => {
                        let g = GroupedMatrix::build(view.as_ref(), |p| {
                            names::group(p, &loaded.workloads)
                        });
                        format::write_grouped(&g, format, &name, out)
                    }
                };
                let r = r.and_then(|()| {
                    if !from_entry_points {
                        return Ok(());
                    }
                    let rows = entry_rows(state, engine);
                    format::write_entry_rows(&rows, format, out)
                });
                written(r, err)
            }),
        Command::Explain {
            paths,
            from,
            from_ip,
            to,
            to_ip,
            to_service,
            via,
            host,
            path,
            method,
            headers,
            port,
            protocol,
            profile,
        } => stdin_once(&paths, err)
            .and_then(|()| load(&paths, profile.profile, err))
            .and_then(|mut loaded| {
                if let Some(via) = via {
                    let Some(from) = from_ip.clone().filter(|_| from.is_none()) else {
                        let _ = writeln!(
                            err,
                            "error: --via needs the client's address: give --from-ip (an entry point is entered from outside) [rule 6.26]"
                        );
                        return Err(EXIT_BAD_INPUT);
                    };
                    let request = netsem_spec::decision::entry::EntryRequest {
                        from,
                        via,
                        protocol,
                        port,
                        l7: netsem_spec::entry::L7 {
                            host,
                            path: path.unwrap_or_else(|| "/".to_string()),
                            method,
                            headers: headers.into_iter().collect(),
                        },
                        controller: None,
                        backend: None,
                    };
                    let e = explain::explain_entry(&mut loaded.state, &request).map_err(|e| {
                        let _ = writeln!(err, "error: {e}");
                        EXIT_BAD_INPUT
                    })?;
                    let _ = write!(out, "{}", e.text);
                    return Ok(if e.allowed == Some(true) {
                        EXIT_OK
                    } else {
                        EXIT_DISAGREE
                    });
                }
                let named = |text: &str, loaded: &Loaded| {
                    names::pods(text, &loaded.state, &loaded.workloads)
                };
                let bad = |e: String, err: &mut dyn Write| {
                    let _ = writeln!(err, "error: {e}");
                    EXIT_BAD_INPUT
                };
                let sources: Vec<Source> = match (&from, from_ip) {
                    (Some(p), _) => named(p, &loaded)
                        .map_err(|e| bad(e, err))?
                        .into_iter()
                        .map(Source::Pod)
                        .collect(),
                    (None, Some(a)) => vec![Source::Address(a)],
                    (None, None) => unreachable!("clap requires --from or --from-ip"),
                };
                let targets: Vec<Target> = match (&to, to_ip, to_service) {
                    (Some(p), _, _) => named(p, &loaded)
                        .map_err(|e| bad(e, err))?
                        .into_iter()
                        .map(Target::Pod)
                        .collect(),
                    (_, Some(a), _) => vec![Target::Address(a)],
                    (_, _, Some(s)) => vec![Target::Service(s)],
                    _ => {
                        return Err(bad(
                            "give a destination: --to, --to-ip or --to-service".into(),
                            err,
                        ))
                    }
                };
                let pairs = sources.len() * targets.len();
                let mut all_allowed = true;
                let mut first = true;
                for s in &sources {
                    for t in &targets {
                        let e = explain::explain(
                            &mut loaded.state,
                            s,
                            t,
                            protocol,
                            port,
                            &loaded.allocated,
                        )
                        .map_err(|e| bad(e, err))?;
                        if pairs > 1 {
                            let _ = write!(out, "{}", if first { "" } else { "\n" });
                        }
                        first = false;
                        let _ = write!(out, "{}", e.text);
                        for (pod, address) in &e.dependencies {
                            let _ = writeln!(
                                err,
                                "warning: the verdict depends on {address}, the address netsem \
                                 allocated to pod {pod} (its manifest gives no status.podIPs): an \
                                 ipBlock was evaluated against it [rule 9.13]"
                            );
                        }
                        all_allowed &= e.allowed == Some(true);
                    }
                }
                Ok(if all_allowed { EXIT_OK } else { EXIT_DISAGREE })
            }),
        Command::Run {
            traces,
            engine,
            junit,
        } => {
            if let Err(code) = stdin_once(&traces, err) {
                return code;
            }
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
                let shown = if path.as_os_str() == STDIN_PATH {
                    netsem_spec::manifest::STDIN_NAME.to_string()
                } else {
                    path.display().to_string()
                };
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
                            shown,
                            trace.steps.len(),
                            e.name()
                        );
                        junit::Outcome::Pass
                    }
                    Ok(done) => {
                        let _ = writeln!(
                            out,
                            "PASS {} ({} steps, {}: {} judged, {} skipped)",
                            shown,
                            trace.steps.len(),
                            e.name(),
                            done.judged,
                            done.skipped.values().sum::<usize>()
                        );
                        junit::Outcome::Pass
                    }
                    Err(d) => {
                        let _ = writeln!(out, "FAIL {} ({})\n{d}", shown, e.name());
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
                stdin_once(&paths, err)
                    .and_then(|()| load(&paths, profile.profile, err))
                    .map(|loaded| loaded.state)
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
        } => stdin_once(paths.iter().chain([&observed]), err)
            .and_then(|()| load(&paths, profile.unwrap_or_default(), err))
            .and_then(|loaded| {
                let options = check::Options {
                    format: observed_format,
                    attribute,
                };
                let to_stdout = junit.as_deref() == Some(std::path::Path::new("-"));
                let mut sink = std::io::sink();
                let text: &mut dyn Write = if to_stdout { &mut sink } else { out };
                let (code, suite) = check::check(loaded, &observed, profile, options, text, err)?;
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
