//! The oracle for implementations, measured in one run (docs/PERFORMANCE.md):
//!
//! - `check` on Hubble flows: a 1,000-pod / 200-policy cluster from the harness's generator and
//!   `NETSEM_BENCH_FLOWS` (default 1,000,000) `hubble observe -o jsonpb` lines of new TCP
//!   connections between random pods, 0.1 % of them with the wrong verdict (explained by the
//!   spec); flows per minute, reading and judging together. Then the same with `--attribute` on a
//!   tenth of the flows.
//! - `serve --stdio` over a real pipe: `NETSEM_BENCH_REQUESTS` (default 1,000,000) `decide`
//!   requests written by one thread while another reads the answers; decisions per second.
//!
//! Run with `cargo bench -p netsem --bench oracle`. Absolute figures depend on the machine.

use netsem_harness::generators::cluster::{cluster, Size};
use netsem_oracle::Oracle;
use netsem_spec::decision::connect::attempt;
use netsem_spec::decision::{Source, Target};
use netsem_spec::{Engine, PodId, Protocol, SpecEngine, State};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A small deterministic stream (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn state(size: Size) -> State {
    let mut spec = SpecEngine::default();
    for op in cluster(size, 42) {
        spec.execute(&op);
    }
    spec.state
}

/// Hubble jsonpb lines of new TCP connections between random pods, their verdicts the oracle's,
/// one in a thousand flipped.
fn flows(state: &State, n: usize) -> (String, usize) {
    let oracle = Oracle::from_state(state.clone());
    let pods: Vec<(PodId, String)> = state
        .pods()
        .filter_map(|p| {
            let ip = state.primary_addresses(&p.id).first()?.ip.to_string();
            Some((p.id.clone(), ip))
        })
        .collect();
    let ports = [8080u16, 9090, 5432, 6379, 443, 53];
    let mut rng = Rng(7);
    let mut text = String::with_capacity(n * 700);
    let mut flipped = 0;
    for i in 0..n {
        let (s, sip) = &pods[rng.below(pods.len())];
        let (d, dip) = &pods[rng.below(pods.len())];
        let port = ports[rng.below(ports.len())];
        // Where the plugin would drop it: at the source's egress, else at the destination.
        let d_ = attempt(
            oracle.state(),
            oracle.core(),
            &Source::Pod(s.clone()),
            &Target::Pod(d.clone()),
            Protocol::Tcp,
            port,
            None,
        )
        .expect("pods of the cluster")
        .decision
        .expect("pod to pod is decided");
        let mut allowed = d_.allowed;
        let egress_denies =
            d_.exemption.is_none() && d_.egress.as_ref().is_some_and(|v| !v.outcome.allowed());
        if i % 1000 == 999 {
            allowed = !allowed;
            flipped += 1;
        }
        let (verdict, extra, direction) = if allowed {
            ("FORWARDED", "\"trace_observation_point\":\"TO_ENDPOINT\",\"trace_reason\":\"NEW\",\"is_reply\":false,", "INGRESS")
        } else if egress_denies {
            (
                "DROPPED",
                "\"drop_reason_desc\":\"POLICY_DENIED\",",
                "EGRESS",
            )
        } else {
            (
                "DROPPED",
                "\"drop_reason_desc\":\"POLICY_DENIED\",",
                "INGRESS",
            )
        };
        let sport = 32768 + (i % 28000);
        text.push_str(&format!(
            "{{\"flow\":{{\"time\":\"2026-08-21T10:15:02.{i:09}Z\",\"uuid\":\"00000000-0000-4000-8000-{i:012}\",\"verdict\":\"{verdict}\",\"IP\":{{\"source\":\"{sip}\",\"destination\":\"{dip}\",\"ipVersion\":\"IPv4\"}},\"l4\":{{\"TCP\":{{\"source_port\":{sport},\"destination_port\":{port},\"flags\":{{\"SYN\":true}}}}}},\"source\":{{\"identity\":31544,\"namespace\":\"{}\",\"labels\":[\"k8s:app={}\"],\"pod_name\":\"{}\"}},\"destination\":{{\"ID\":2049,\"identity\":18211,\"namespace\":\"{}\",\"labels\":[\"k8s:app={}\"],\"pod_name\":\"{}\"}},\"Type\":\"L3_L4\",\"node_name\":\"kind-kind/kind-worker\",\"event_type\":{{\"type\":4}},\"traffic_direction\":\"{direction}\",{extra}\"Summary\":\"TCP Flags: SYN\"}},\"node_name\":\"kind-kind/kind-worker\",\"time\":\"2026-08-21T10:15:02.{i:09}Z\"}}\n",
            s.namespace, s.name, s.name, d.namespace, d.name, d.name
        ));
    }
    (text, flipped)
}

fn bench_flows() {
    let n: usize = std::env::var("NETSEM_BENCH_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let size = Size {
        pods: 1000,
        policies: 200,
    };
    let t = Instant::now();
    let st = state(size);
    println!(
        "check on Hubble flows: cluster of {} pods, {} policies built in {:.1} s",
        st.pods().count(),
        st.policies().count(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let (text, flipped) = flows(&st, n);
    println!(
        "  {n} jsonpb lines ({:.0} MB, {flipped} with a flipped verdict) generated in {:.1} s",
        text.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let mut sink = Vec::new();
    let t = Instant::now();
    let (code, summary) =
        netsem::check_flow_log(st.clone(), &text, false, &mut sink).expect("the flows are read");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(code, 1, "the flipped flows disagree");
    let judged = summary.lines().next().unwrap_or_default();
    let wrong: usize = ["security finding(s)", "outage(s)"]
        .iter()
        .map(|w| {
            judged
                .split(", ")
                .find(|p| p.ends_with(w))
                .and_then(|p| p.split(' ').next())
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(
        wrong, flipped,
        "exactly the flipped flows disagree: {judged}"
    );
    println!("  {}", summary.lines().next().unwrap_or_default());
    println!(
        "  read and judged in {secs:.2} s: {:.2} M flows/minute (goal: 1 M flows/minute), {:.0} flows/s",
        n as f64 / secs * 60.0 / 1e6,
        n as f64 / secs
    );
    let tenth: String = text.lines().take(n / 10).flat_map(|l| [l, "\n"]).collect();
    let mut sink = Vec::new();
    let t = Instant::now();
    netsem::check_flow_log(st, &tenth, true, &mut sink).expect("the flows are read");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  with --attribute (every flow attributed by the spec), {} flows in {secs:.2} s: {:.2} M flows/minute",
        n / 10,
        (n / 10) as f64 / secs * 60.0 / 1e6
    );
}

fn bench_serve() {
    let n: usize = std::env::var("NETSEM_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netsem"))
        .args(["serve", "--stdio", "examples/shop"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("netsem serve starts");
    let pods = [
        "backend/api",
        "backend/cache",
        "backend/db-0",
        "frontend/admin-console",
        "frontend/web-zmvrsrnk6b-8wq9g",
        "monitoring/prometheus",
    ];
    let ports = [80, 5432, 6379, 8080, 9100];
    let mut stdin = std::io::BufWriter::with_capacity(1 << 16, child.stdin.take().unwrap());
    let mut stdout = BufReader::with_capacity(1 << 16, child.stdout.take().unwrap());
    // Wait until the manifests are loaded before the clock starts.
    writeln!(
        stdin,
        "{{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"hello\"}}"
    )
    .unwrap();
    stdin.flush().unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let t = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut rng = Rng(11);
        for i in 1..=n {
            let (f, d) = (pods[rng.below(pods.len())], pods[rng.below(pods.len())]);
            let port = ports[rng.below(ports.len())];
            writeln!(
                stdin,
                "{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"decide\",\"params\":{{\"from\":\"{f}\",\"to\":\"{d}\",\"port\":{port}}}}}"
            )
            .unwrap();
        }
        stdin.flush().unwrap();
        drop(stdin);
    });
    let (mut allowed, mut answers) = (0usize, 0usize);
    loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        answers += 1;
        allowed += usize::from(line.contains("\"allowed\":true"));
    }
    writer.join().unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(child.wait().unwrap().success());
    assert_eq!(answers, n);
    println!(
        "serve --stdio over a pipe: {n} decide requests (examples/shop, {allowed} allowed) answered in {secs:.2} s: {:.0} decisions/s (goal: 200,000/s)",
        n as f64 / secs
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    bench_flows();
    bench_serve();
}
