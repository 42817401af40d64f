//! `netsem-model`: model-check a universe, or walk it in stateright's Explorer.
//!
//! ```text
//! netsem-model check policy                 # exhaustive check with progress
//! netsem-model check service --fault mapper-ignores-removals
//! netsem-model explore policy --address localhost:3000
//! ```

use clap::{Parser, Subcommand, ValueEnum};
use netsem_model::properties::{counterexample_trace, violation};
use netsem_model::{model, Fault, Universe};
use stateright::report::WriteReporter;
use stateright::{Checker, Model};

#[derive(Parser)]
#[command(
    name = "netsem-model",
    about = "Model-check the per-pod enforcement pipeline against the netsem semantics.",
    after_help = "Examples:\n  netsem-model check policy\n  netsem-model check large --threads 2 --search dfs\n  netsem-model check service --fault mapper-ignores-removals --export found.yaml\n  netsem-model explore policy --address localhost:3000\n\nUniverses: policy, policy-strict, service, spoof, admin, external (CI), large (longer run).\nExit codes: 0 every property holds, 1 a property fails, 2 bad input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum FaultArg {
    None,
    IngressSkipsConntrack,
    MapperIgnoresRemovals,
    NoSanityFilter,
    PassAsAccept,
    BaselineBeforeNetworkPolicy,
    NetworkPolicyBeforeAdmin,
    ProxyKeepsClient,
    ProxyIgnoresSourceRanges,
    MapperIgnoresAffinity,
}

impl From<FaultArg> for Fault {
    fn from(f: FaultArg) -> Fault {
        match f {
            FaultArg::None => Fault::None,
            FaultArg::IngressSkipsConntrack => Fault::IngressSkipsConntrack,
            FaultArg::MapperIgnoresRemovals => Fault::MapperIgnoresRemovals,
            FaultArg::NoSanityFilter => Fault::NoSanityFilter,
            FaultArg::PassAsAccept => Fault::PassAsAccept,
            FaultArg::BaselineBeforeNetworkPolicy => Fault::BaselineBeforeNetworkPolicy,
            FaultArg::NetworkPolicyBeforeAdmin => Fault::NetworkPolicyBeforeAdmin,
            FaultArg::ProxyKeepsClient => Fault::ProxyKeepsClient,
            FaultArg::ProxyIgnoresSourceRanges => Fault::ProxyIgnoresSourceRanges,
            FaultArg::MapperIgnoresAffinity => Fault::MapperIgnoresAffinity,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Search {
    Bfs,
    Dfs,
}

#[derive(Subcommand)]
enum Command {
    /// Check every reachable state of a universe, with progress, then report each property.
    Check {
        /// The universe.
        universe: String,
        /// A deliberately broken pipeline variant.
        #[arg(long, value_enum, default_value_t = FaultArg::None)]
        fault: FaultArg,
        /// Checker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Write the first counterexample as a spec trace to this file.
        #[arg(long)]
        export: Option<std::path::PathBuf>,
        /// Search order: breadth first finds the shortest counterexamples; depth first keeps
        /// only the current path, not a frontier of whole states, so big universes need far
        /// less memory (and time spent allocating it).
        #[arg(long, value_enum, default_value_t = Search::Bfs)]
        search: Search,
    },
    /// Serve stateright's Explorer web UI for a universe.
    Explore {
        /// The universe.
        universe: String,
        /// A deliberately broken pipeline variant.
        #[arg(long, value_enum, default_value_t = FaultArg::None)]
        fault: FaultArg,
        /// Where to listen.
        #[arg(long, default_value = "localhost:3000")]
        address: String,
    },
}

fn universe(name: &str, fault: FaultArg) -> Universe {
    Universe::named(name, fault.into()).unwrap_or_else(|| {
        eprintln!(
            "error: unknown universe `{name}`: expected one of {}",
            Universe::NAMES.join(", ")
        );
        std::process::exit(2);
    })
}

fn main() {
    match Cli::parse().command {
        Command::Check {
            universe: name,
            fault,
            threads,
            export,
            search,
        } => {
            let u = universe(&name, fault);
            let start = std::time::Instant::now();
            let builder = model(u.clone()).checker().threads(threads);
            let mut out = std::io::stdout();
            let mut reporter = WriteReporter::new(&mut out);
            let c: Box<dyn Checker<_>> = match search {
                Search::Bfs => Box::new(builder.spawn_bfs().join_and_report(&mut reporter)),
                Search::Dfs => Box::new(builder.spawn_dfs().join_and_report(&mut reporter)),
            };
            let secs = start.elapsed().as_secs_f64();
            println!(
                "universe {name}: {} states ({} unique) in {secs:.2} s, {:.0} states/s, depth {}",
                c.state_count(),
                c.unique_state_count(),
                c.state_count() as f64 / secs.max(1e-9),
                c.max_depth()
            );
            let mut failed = false;
            for p in c.model().properties() {
                let found = c.discovery(p.name);
                let ok = match p.expectation {
                    stateright::Expectation::Sometimes => found.is_some(),
                    _ => found.is_none(),
                };
                println!(
                    "  {} {:?} {}",
                    if ok { "ok  " } else { "FAIL" },
                    p.expectation,
                    p.name
                );
                if !ok && !matches!(p.expectation, stateright::Expectation::Sometimes) {
                    failed = true;
                    if let Some(path) = found {
                        if let Some(trace) = violation(&u, path.last_state())
                            .and_then(|v| counterexample_trace(&u, &v))
                        {
                            let yaml = trace.to_yaml();
                            match &export {
                                Some(file) => {
                                    if let Err(e) = std::fs::write(file, &yaml) {
                                        eprintln!("error: {}: {e}", file.display());
                                        std::process::exit(2);
                                    }
                                    println!("       counterexample written to {} (replay: netsem run {})", file.display(), file.display());
                                }
                                None => println!("       counterexample as a trace:\n{yaml}"),
                            }
                        }
                    }
                }
            }
            std::process::exit(if failed { 1 } else { 0 });
        }
        Command::Explore {
            universe: name,
            fault,
            address,
        } => {
            let u = universe(&name, fault);
            println!("Explorer for universe {name} on http://{address}/ (Ctrl-C to stop)");
            model(u).checker().serve(address.as_str());
        }
    }
}
