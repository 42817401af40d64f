//! `netsem serve --stdio`: netsem as an oracle for test suites in any language, over a pipe.
//!
//! The protocol (docs/FORMATS.md, "The query server", version 1) is JSON-RPC 2.0, one message
//! per line (JSON lines, as MCP's stdio transport frames it): each request line gets exactly one
//! response line, in order, with the request's `id` echoed; a request without `id` is a
//! notification and gets none. Nothing but responses goes to stdout. Every failure — a line that
//! is not JSON, an unknown method, bad parameters, a manifest that does not load — is an error
//! response; the server never stops on one. It stops at end of input or on `shutdown`.
//!
//! Decisions go through the oracle (`connect::attempt` over its core); explanations through the
//! spec, on a mirror of the same cluster kept in step with every change.

use super::explain;
use netsem_oracle::Oracle;
use netsem_spec::decision::connect::attempt;
use netsem_spec::decision::{Source, Target};
use netsem_spec::matrix::MatrixView;
use netsem_spec::{
    manifest, Address, Engine, Op, PodId, Profile, Protocol, ServiceId, SpecEngine, State,
};
use serde_json::{json, Value};
use std::io::{BufRead, Write};

/// The protocol's version (`hello`'s `protocolVersion`).
pub const PROTOCOL_VERSION: u64 = 1;

/// The methods, in the order `hello` lists them.
pub const METHODS: [&str; 9] = [
    "hello", "load", "apply", "delete", "decide", "explain", "matrix", "profile", "shutdown",
];

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
/// A manifest that does not load or apply (rule 9.1): `data` names file, document, object, field.
const MANIFEST_ERROR: i64 = -32001;
/// A connection the semantics cannot decide as asked (an unknown pod, `no-pod-endpoint`, …).
const OPERATION_ERROR: i64 = -32002;

struct Failure {
    code: i64,
    message: String,
    data: Option<Value>,
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure {
        code: INVALID_PARAMS,
        message: message.into(),
        data: None,
    }
}

struct Server {
    oracle: Oracle,
    spec: SpecEngine,
}

impl Server {
    fn new(state: State) -> Self {
        Server {
            spec: SpecEngine {
                state: state.clone(),
            },
            oracle: Oracle::from_state(state),
        }
    }

    fn counts(&self) -> Value {
        let s = self.oracle.state();
        json!({
            "pods": s.pods().count(),
            "services": s.services().count(),
            "policies": s.policies().count(),
            "profile": s.profile().to_string(),
        })
    }
}

fn field<'a>(params: &'a Value, name: &str) -> Option<&'a Value> {
    params.get(name).filter(|v| !v.is_null())
}

fn text(params: &Value, name: &str) -> Result<Option<String>, Failure> {
    match field(params, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("params.{name}: expected a string"))),
    }
}

fn parsed<T: std::str::FromStr>(params: &Value, name: &str) -> Result<Option<T>, Failure>
where
    T::Err: std::fmt::Display,
{
    text(params, name)?
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| invalid(format!("params.{name}: {e}")))
        })
        .transpose()
}

fn load_error(e: &manifest::LoadError) -> Failure {
    Failure {
        code: MANIFEST_ERROR,
        message: e.to_string(),
        data: Some(json!({
            "file": e.file,
            "document": e.document,
            "object": e.object,
            "field": e.field,
            "kind": e.kind,
        })),
    }
}

/// The connection a `decide`/`explain` asks about.
fn request(params: &Value) -> Result<(Source, Target, Protocol, u16), Failure> {
    let source = match (
        parsed::<PodId>(params, "from")?,
        parsed::<Address>(params, "fromIp")?,
    ) {
        (Some(p), None) => Source::Pod(p),
        (None, Some(a)) => Source::Address(a),
        _ => return Err(invalid("give exactly one of params.from, params.fromIp")),
    };
    let target = match (
        parsed::<PodId>(params, "to")?,
        parsed::<Address>(params, "toIp")?,
        parsed::<ServiceId>(params, "toService")?,
    ) {
        (Some(p), None, None) => Target::Pod(p),
        (None, Some(a), None) => Target::Address(a),
        (None, None, Some(s)) => Target::Service(s),
        _ => {
            return Err(invalid(
                "give exactly one of params.to, params.toIp, params.toService",
            ))
        }
    };
    let protocol = parsed::<Protocol>(params, "protocol")?.unwrap_or(Protocol::Tcp);
    let port = match field(params, "port") {
        None if !protocol.is_kubernetes() => 0,
        None => return Err(invalid(format!("params.port: {protocol} needs a port"))),
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0 || !protocol.is_kubernetes())
            .ok_or_else(|| invalid("params.port: expected a port number 1-65535"))?,
    };
    Ok((source, target, protocol, port))
}

fn manifest_text(params: &Value) -> Result<String, Failure> {
    text(params, "manifest")?.ok_or_else(|| invalid("params.manifest: a YAML or JSON manifest"))
}

/// Applies (or deletes) a manifest on both engines; an error changes nothing (rule 9.1).
fn change(server: &mut Server, params: &Value, delete: bool) -> Result<Value, Failure> {
    let text = manifest_text(params)?;
    let parsed = manifest::parse_str("<request>", &text).map_err(|e| load_error(&e))?;
    // Tried on a copy of the spec's state first, so that the error names the object and field.
    let mut probe = server.spec.state.clone();
    let tried = if delete {
        parsed.delete(&mut probe)
    } else {
        parsed.apply(&mut probe)
    };
    tried.map_err(|e| load_error(&e))?;
    let op = if delete {
        Op::Delete {
            manifest: text,
            file: None,
        }
    } else {
        Op::Apply {
            manifest: text,
            file: None,
        }
    };
    let observed = server.spec.execute(&op);
    let oracle_observed = server.oracle.execute(&op);
    debug_assert_eq!(observed, oracle_observed);
    let mut result = server.counts();
    result["closed"] = json!(observed.closed.unwrap_or_default());
    result["warnings"] = json!(parsed.warnings);
    Ok(result)
}

/// The matrix as the result `{"pods":[…],"matrix":[…]}`, each entry exactly a line of the
/// `netsem matrix --format jsonl` contract.
fn matrix(server: &Server) -> String {
    let m = server.oracle.compressed_matrix();
    let pods = m.pods();
    let mut rows = Vec::with_capacity(pods.len() * pods.len());
    for (i, s) in pods.iter().enumerate() {
        for (j, d) in pods.iter().enumerate() {
            rows.push(netsem_spec::matrix::json_line(s, d, m.cell(i, j)));
        }
    }
    format!(
        "{{\"pods\":{},\"matrix\":[{}]}}",
        json!(pods),
        rows.join(",")
    )
}

fn dispatch(server: &mut Server, method: &str, params: &Value) -> Result<String, Failure> {
    if method == "matrix" {
        return Ok(matrix(server));
    }
    dispatch_json(server, method, params).map(|v| v.to_string())
}

fn dispatch_json(server: &mut Server, method: &str, params: &Value) -> Result<Value, Failure> {
    match method {
        "hello" => {
            // A client may say which protocol version it speaks; this server speaks one.
            if let Some(v) = field(params, "protocolVersion") {
                if v.as_u64() != Some(PROTOCOL_VERSION) {
                    return Err(Failure {
                        code: INVALID_PARAMS,
                        message: format!(
                            "params.protocolVersion: this server speaks protocol version {PROTOCOL_VERSION}, not {v}"
                        ),
                        data: Some(json!({ "protocolVersion": PROTOCOL_VERSION })),
                    });
                }
            }
            Ok(json!({
            "protocolVersion": PROTOCOL_VERSION,
            "server": "netsem",
            "serverVersion": env!("CARGO_PKG_VERSION"),
            "methods": METHODS,
            }))
        }
        "load" => {
            let profile = parsed::<Profile>(params, "profile")?.unwrap_or_default();
            let paths: Vec<String> = match field(params, "paths") {
                None => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|p| p.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or_else(|| invalid("params.paths: expected a list of strings"))?,
                Some(_) => return Err(invalid("params.paths: expected a list of strings")),
            };
            let (mut state, mut warnings) = if paths.is_empty() {
                (State::new(profile), Vec::new())
            } else {
                manifest::load_state(&paths, profile).map_err(|e| load_error(&e))?
            };
            if let Some(text) = text(params, "manifest")? {
                let m = manifest::parse_str("<request>", &text).map_err(|e| load_error(&e))?;
                let (_, w) = m.apply_reporting(&mut state).map_err(|e| load_error(&e))?;
                warnings.extend(m.warnings);
                warnings.extend(w);
            }
            *server = Server::new(state);
            let mut result = server.counts();
            result["warnings"] = json!(warnings);
            Ok(result)
        }
        "apply" => change(server, params, false),
        "delete" => change(server, params, true),
        "profile" => {
            let profile = parsed::<Profile>(params, "profile")?
                .ok_or_else(|| invalid("params.profile: e.g. \"default,established=recheck\""))?;
            let state = server.spec.state.clone().with_profile(profile);
            *server = Server::new(state);
            Ok(server.counts())
        }
        "decide" => {
            let (source, target, protocol, port) = request(params)?;
            let opened = attempt(
                server.oracle.state(),
                server.oracle.core(),
                &source,
                &target,
                protocol,
                port,
                None,
            )
            .map_err(|e| Failure {
                code: OPERATION_ERROR,
                message: e.message,
                data: Some(json!({ "kind": e.kind })),
            })?;
            let mut result = json!({ "allowed": opened.allowed });
            if let Some(r) = &opened.refusal {
                result["refusal"] = json!(r);
            }
            if let Some(b) = &opened.backends {
                result["backends"] = b
                    .iter()
                    .map(|(p, d)| (p.to_string(), Value::Bool(d.allowed)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            Ok(result)
        }
        "explain" => {
            let (source, target, protocol, port) = request(params)?;
            let state = &mut server.spec.state;
            let opened = attempt(
                state,
                &netsem_spec::SpecCore,
                &source,
                &target,
                protocol,
                port,
                None,
            )
            .map_err(|e| Failure {
                code: OPERATION_ERROR,
                message: e.message,
                data: Some(json!({ "kind": e.kind })),
            })?;
            let deciding: Vec<String> = match &opened.decision {
                Some(d) => explain::deciding(d)
                    .because
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                None => opened
                    .backends
                    .iter()
                    .flatten()
                    .map(|(p, d)| format!("backend {p}: {}", explain::deciding(d)))
                    .collect(),
            };
            let e = explain::explain(state, &source, &target, protocol, port, &Default::default())
                .map_err(|message| Failure {
                    code: OPERATION_ERROR,
                    message,
                    data: None,
                })?;
            Ok(json!({ "allowed": e.allowed, "deciding": deciding, "text": e.text }))
        }
        "shutdown" => Ok(Value::Null),
        other => Err(Failure {
            code: METHOD_NOT_FOUND,
            message: format!("method not found: `{other}`"),
            data: Some(json!({ "methods": METHODS })),
        }),
    }
}

/// A response line: `jsonrpc`, `id`, then `result` or `error` (keys inside in byte order).
fn response(id: &Value, outcome: Result<String, Failure>) -> String {
    match outcome {
        Ok(result) => format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{result}}}"),
        Err(f) => {
            let mut error = json!({ "code": f.code, "message": f.message });
            if let Some(d) = f.data {
                error["data"] = d;
            }
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{error}}}")
        }
    }
}

/// Answers one line; `None` for a notification. The bool says whether to stop.
fn answer(server: &mut Server, line: &str) -> (Option<String>, bool) {
    let message: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            let f = Failure {
                code: PARSE_ERROR,
                message: format!("parse error: {e}"),
                data: None,
            };
            return (Some(response(&Value::Null, Err(f))), false);
        }
    };
    let id = message.get("id").cloned();
    let bad = |why: &str| {
        let f = Failure {
            code: INVALID_REQUEST,
            message: format!("invalid request: {why}"),
            data: None,
        };
        (
            Some(response(id.as_ref().unwrap_or(&Value::Null), Err(f))),
            false,
        )
    };
    let Value::Object(o) = &message else {
        return bad("expected a JSON object");
    };
    if o.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return bad("\"jsonrpc\" must be \"2.0\"");
    }
    if let Some(bad_id) = &id {
        if !(bad_id.is_string() || bad_id.is_number() || bad_id.is_null()) {
            // JSON-RPC 2.0: an id that cannot be read is answered as null.
            let f = Failure {
                code: INVALID_REQUEST,
                message: "invalid request: \"id\" must be a string, a number or null".into(),
                data: None,
            };
            return (Some(response(&Value::Null, Err(f))), false);
        }
    }
    let Some(method) = o.get("method").and_then(Value::as_str) else {
        return bad("\"method\" must be a string");
    };
    let params = o
        .get("params")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    if !params.is_object() {
        return bad("\"params\" must be an object");
    }
    let stop = method == "shutdown";
    let outcome = dispatch(server, method, &params);
    (id.map(|id| response(&id, outcome)), stop)
}

/// Serves requests from `input` until end of input or `shutdown`, over the cluster `state`.
pub fn serve<R: std::io::Read>(
    state: State,
    input: &mut std::io::BufReader<R>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut server = Server::new(state);
    let mut out = std::io::BufWriter::new(out);
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let (reply, stop) = answer(&mut server, text);
        if let Some(r) = reply {
            out.write_all(r.as_bytes())?;
            out.write_all(b"\n")?;
        }
        // Flushed whenever no further request is already waiting, so a client that waits for
        // each answer gets it at once and one that pipelines gets them in batches.
        if stop || input.buffer().is_empty() {
            out.flush()?;
        }
        if stop {
            break;
        }
    }
    out.flush()
}
