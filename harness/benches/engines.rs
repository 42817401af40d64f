//! Benchmarks: oracle vs spec on realistic generated clusters (the harness's cluster generator).
//! Run with `cargo bench -p netsem-harness`; `NETSEM_BENCH_SIZES=50x10,500x100` picks sizes,
//! `NETSEM_BENCH_SPEC_SECS` the time the spec's matrix rows may take (default 20).
//! Figures are ratios measured in one run on one machine; absolute times depend on the machine.

use netsem_harness::generators::cluster::{cluster, Size};
use netsem_oracle::Oracle;
use netsem_spec::matrix::MatrixView;
use netsem_spec::{Engine, Labels, Op, PodId, Protocol, SpecEngine};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn build_spec(ops: &[Op]) -> SpecEngine {
    let mut e = SpecEngine::default();
    for op in ops {
        e.execute(op);
    }
    e
}

fn secs(d: Duration) -> String {
    format!("{:.4} s", d.as_secs_f64())
}

fn main() {
    let sizes: Vec<Size> = std::env::var("NETSEM_BENCH_SIZES")
        .unwrap_or_else(|_| "50x10,500x100,1000x200,10000x1000".into())
        .split(',')
        .filter_map(|s| s.split_once('x'))
        .filter_map(|(p, q)| {
            Some(Size {
                pods: p.parse().ok()?,
                policies: q.parse().ok()?,
            })
        })
        .collect();
    // The spec's matrix rows get this budget (`NETSEM_BENCH_SPEC_SECS`, default 20 s): 0
    // computes one row, for profiling the oracle's side alone.
    let spec_rows_budget = Duration::from_secs_f64(
        std::env::var("NETSEM_BENCH_SPEC_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20.0),
    );
    println!("netsem benchmarks (ratios are oracle vs spec, measured in this run)");
    for size in sizes {
        let ops = cluster(size, 42);
        println!(
            "\n== {} pods, {} policies ({} operations)",
            size.pods,
            size.policies,
            ops.len()
        );

        // Loading: every operation through the engine.
        let (spec, spec_load) = time(|| build_spec(&ops));
        let (oracle, oracle_load) = time(|| Oracle::from_state(spec.state.clone()));
        println!(
            "load:   spec {} (operations)   oracle index build {} (from the loaded state)",
            secs(spec_load),
            secs(oracle_load)
        );

        // Full matrix.
        let (m, oracle_matrix) = time(|| oracle.compressed_matrix());
        println!(
            "matrix: oracle {} ({} classes for {} pods)",
            secs(oracle_matrix),
            m.classes(),
            size.pods
        );
        let pods: Vec<PodId> = m.pods().to_vec();
        // The spec's matrix, row by row, within a time budget; extrapolated when cut short.
        let start = Instant::now();
        let mut rows = 0;
        for (i, src) in pods.iter().enumerate() {
            for (j, dst) in pods.iter().enumerate() {
                let expected = spec.state.allowed_ports(src, dst);
                assert_eq!(
                    &expected,
                    m.cell(i, j),
                    "spec and oracle disagree on {src} -> {dst}"
                );
            }
            rows += 1;
            if start.elapsed() > spec_rows_budget {
                break;
            }
        }
        let spec_elapsed = start.elapsed();
        let spec_full = spec_elapsed.mul_f64(pods.len() as f64 / rows as f64);
        println!(
            "matrix: spec {} {}   => oracle is {:.0}x faster (and agreed on {rows} rows)",
            secs(spec_full),
            if rows < pods.len() {
                format!("(extrapolated from {rows} of {} rows)", pods.len())
            } else {
                String::new()
            },
            spec_full.as_secs_f64() / oracle_matrix.as_secs_f64()
        );

        // Single decisions: openPodConnection-equivalent decisions between random pairs.
        // Two million, so that the oracle's timing is well above the clock's noise.
        let pairs: Vec<(usize, usize)> = (0..2_000_000)
            .map(|k| ((k * 7919) % pods.len(), (k * 104_729 + 13) % pods.len()))
            .collect();
        let endpoints: Vec<_> = pods.iter().map(|p| oracle_endpoint(&oracle, p)).collect();
        let refs: Vec<_> = pods
            .iter()
            .map(|p| oracle.pod_ref(p).expect("pod exists"))
            .collect();
        let (allowed, oracle_dec) = time(|| {
            pairs
                .iter()
                .filter(|&&(a, b)| oracle.decide_pods(refs[a], refs[b], Protocol::Tcp, 8080))
                .count()
        });
        let n_spec = 20_000.min(pairs.len());
        let (spec_allowed, spec_dec) = time(|| {
            pairs[..n_spec]
                .iter()
                .filter(|&&(a, b)| {
                    spec.state
                        .decide(&endpoints[a], &endpoints[b], Protocol::Tcp, 8080, None)
                        .allowed
                })
                .count()
        });
        let oracle_rate = pairs.len() as f64 / oracle_dec.as_secs_f64();
        let spec_rate = n_spec as f64 / spec_dec.as_secs_f64();
        black_box((allowed, spec_allowed));
        let same = pairs[..n_spec].iter().all(|&(a, b)| {
            oracle.decide_pods(refs[a], refs[b], Protocol::Tcp, 8080)
                == spec
                    .state
                    .decide(&endpoints[a], &endpoints[b], Protocol::Tcp, 8080, None)
                    .allowed
        });
        assert!(same, "decide_pods disagrees with spec");
        println!(
            "decide: oracle {:.2} M decisions/s, spec {:.3} M/s => {:.0}x",
            oracle_rate / 1e6,
            spec_rate / 1e6,
            oracle_rate / spec_rate
        );

        // Incremental update: a label change on one pod, then the matrix again.
        let mut o = oracle.clone();
        let victim = pods[pods.len() / 2].clone();
        let (_, update) = time(|| {
            o.execute(&Op::SetPodLabels {
                pod: victim.clone(),
                labels: Labels::from([("app".to_string(), "moved".to_string())]),
            })
        });
        let (_, rebuild) = time(|| Oracle::from_state(o.state().clone()));
        let (_, rematrix) = time(|| o.compressed_matrix());
        println!(
            "update: label change {} (vs full index rebuild {}), matrix after it {}",
            secs(update),
            secs(rebuild),
            secs(rematrix)
        );
    }
}

fn oracle_endpoint(o: &Oracle, p: &PodId) -> netsem_spec::Endpoint {
    o.state().pod_endpoint(p, None).expect("pod exists")
}
