//! Observed flows: what network plugins record, read into one shape that `check` judges.
//!
//! Three inputs (docs/FORMATS.md, "Observed flows"):
//!
//! - Hubble, as `hubble observe -o json` / `-o jsonpb` prints it: one `GetFlowsResponse` per line
//!   (`{"flow":{…},"node_name":…,"time":…}`, `{"lost_events":{…}}`, `{"node_status":{…}}`), or the
//!   bare `Flow` per line (`HUBBLE_COMPAT=legacy-json-output`). Field names are cilium's
//!   `api/v1/flow/flow.proto` names (what Hubble writes) or their lowerCamelCase JSON names
//!   (what protojson also accepts); enums by name or number; 64-bit numbers as strings or numbers.
//! - The plain flow format, version 1, as JSON lines (`{"netsemFlows":1}` first) or CSV
//!   (`# netsemFlows 1` first, then a header row): one record per connection attempt, easy to
//!   convert any plugin's log to.
//!
//! Every record is either a [`Flow`] to judge (a new connection attempt and what the plugin did
//! with it), or classified and not judged ([`Class`]): replies, established traffic, socket
//! translations, non-L3/L4 events, lost events.

use netsem_spec::{Address, PodId, Protocol};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::net::IpAddr;

/// The plain flow format's version (the `netsemFlows` header).
pub const PLAIN_FLOWS_VERSION: u64 = 1;

/// What the plugin did with a connection attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Let through (Hubble `FORWARDED`, `REDIRECTED`).
    Allowed,
    /// Stopped by policy (Hubble `DROPPED` for a policy reason, `AUDIT`).
    Denied,
}

/// Which filter a record is evidence of: a record taken where the packet leaves the source
/// speaks for the source's egress only; one taken where it is delivered, for the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The connection as a whole (both filters).
    Connection,
    /// The source pod's egress filter.
    Egress,
    /// The destination pod's ingress filter.
    Ingress,
}

/// A connection attempt the plugin decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// The line of the input, from 1.
    pub line: usize,
    /// The event time, as written.
    pub time: Option<String>,
    /// The source address.
    pub src: Address,
    /// The destination address.
    pub dst: Address,
    /// The source pod as the plugin named it.
    pub src_name: Option<PodId>,
    /// The destination pod as the plugin named it.
    pub dst_name: Option<PodId>,
    /// The protocol.
    pub protocol: Protocol,
    /// The destination port (0 for protocols without ports).
    pub port: u16,
    /// What the plugin did.
    pub verdict: Verdict,
    /// What the record is evidence of.
    pub scope: Scope,
    /// How the plugin said it (`FORWARDED`, `DROPPED (POLICY_DENIED)`, `allowed`).
    pub said: String,
    /// The policies the plugin itself named (Hubble's `*_allowed_by`, `*_denied_by`).
    pub plugin_policies: Vec<String>,
}

/// Records that are classified, not judged as new connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// A reply of a connection (`is_reply`, TCP SYN+ACK, ICMP echo reply).
    Reply,
    /// A packet of an established connection (TCP without SYN, conntrack `ESTABLISHED`).
    Established,
    /// A socket-level load-balancing event (`TRACED`, `TRANSLATED`).
    Translation,
    /// Not an L3/L4 connection event (L7, ICMP errors, no addresses, …).
    NotL3L4,
    /// No verdict (`VERDICT_UNKNOWN`, `ERROR`).
    NoVerdict,
    /// Dropped for a reason that is not policy (`CT_MAP_INSERTION_FAILED`, …).
    OtherDrop,
    /// A `lost_events` line: the plugin lost events, so absence of evidence proves nothing.
    Lost,
    /// A response that is not a flow (`node_status`).
    NonFlow,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 8] = [
        Class::Reply,
        Class::Established,
        Class::Translation,
        Class::NotL3L4,
        Class::NoVerdict,
        Class::OtherDrop,
        Class::Lost,
        Class::NonFlow,
    ];

    /// The class's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Class::Reply => "reply",
            Class::Established => "established",
            Class::Translation => "translation",
            Class::NotL3L4 => "not-l3-l4",
            Class::NoVerdict => "no-verdict",
            Class::OtherDrop => "other-drop",
            Class::Lost => "lost-events",
            Class::NonFlow => "non-flow",
        }
    }
}

/// One record of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A connection attempt to judge.
    Flow(Box<Flow>),
    /// A record that is not judged, with why; `count` is the events it stands for (lost events).
    Classified {
        /// The line, from 1.
        line: usize,
        /// The class.
        class: Class,
        /// What it was.
        detail: String,
        /// How many events the line stands for (1, or the number of lost events).
        count: u64,
    },
}

/// Bad input: the file, the line and the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowError {
    /// The line, from 1.
    pub line: usize,
    /// The field path (`flow.IP.source`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

fn err(line: usize, field: impl Into<String>, message: impl Into<String>) -> FlowError {
    FlowError {
        line,
        field: Some(field.into()),
        message: message.into(),
    }
}

/// The formats `check --observed` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ObservedFormat {
    /// A connectivity matrix in the jsonl format of `netsem matrix`.
    Matrix,
    /// A trace of operations with their observed outcomes (docs/TRACES.md).
    Trace,
    /// Hubble flows, `hubble observe -o json|jsonpb` (wrapped or bare flows).
    Hubble,
    /// The plain flow format, JSON lines.
    FlowsJsonl,
    /// The plain flow format, CSV.
    FlowsCsv,
}

/// Tells the format from the content: the first non-blank line decides; anything unrecognised
/// is read as a matrix (so its errors say what a matrix line needs).
pub fn detect(text: &str) -> ObservedFormat {
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("netsemTrace") || l.contains("\"netsemTrace\""))
    {
        return ObservedFormat::Trace;
    }
    let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return ObservedFormat::Matrix;
    };
    if first.starts_with("# netsemFlows") {
        return ObservedFormat::FlowsCsv;
    }
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(first) else {
        return ObservedFormat::Matrix;
    };
    if o.contains_key("netsemFlows") {
        return ObservedFormat::FlowsJsonl;
    }
    const HUBBLE: [&str; 14] = [
        "flow",
        "lost_events",
        "lostEvents",
        "node_status",
        "nodeStatus",
        "IP",
        "l4",
        "verdict",
        "Type",
        "source",
        "destination",
        "event_type",
        "eventType",
        "uuid",
    ];
    if HUBBLE.iter().any(|k| o.contains_key(*k)) && !o.contains_key("src") {
        return ObservedFormat::Hubble;
    }
    ObservedFormat::Matrix
}

/// A field by its proto name or its lowerCamelCase JSON name.
fn get<'a>(o: &'a Map<String, Value>, proto: &str) -> Option<&'a Value> {
    if let Some(v) = o.get(proto) {
        return Some(v);
    }
    if !proto.contains('_') {
        return None;
    }
    let mut camel = String::with_capacity(proto.len());
    let mut up = false;
    for c in proto.chars() {
        if c == '_' {
            up = true;
        } else if up {
            camel.push(c.to_ascii_uppercase());
            up = false;
        } else {
            camel.push(c);
        }
    }
    o.get(&camel)
}

struct Ctx<'a> {
    line: usize,
    prefix: &'a str,
}

impl Ctx<'_> {
    fn path(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn obj<'v>(
        &self,
        o: &'v Map<String, Value>,
        field: &str,
    ) -> Result<Option<&'v Map<String, Value>>, FlowError> {
        match get(o, field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(err(self.line, self.path(field), "expected an object")),
        }
    }

    fn string<'v>(
        &self,
        o: &'v Map<String, Value>,
        field: &str,
    ) -> Result<Option<&'v str>, FlowError> {
        match get(o, field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(err(self.line, self.path(field), "expected a string")),
        }
    }

    /// A proto3 integer: a JSON number, or a string of digits (64-bit values).
    fn uint(&self, o: &Map<String, Value>, field: &str) -> Result<Option<u64>, FlowError> {
        match get(o, field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| err(self.line, self.path(field), "expected an unsigned integer")),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| err(self.line, self.path(field), "expected an unsigned integer")),
            Some(_) => Err(err(
                self.line,
                self.path(field),
                "expected an unsigned integer",
            )),
        }
    }

    fn boolean(&self, o: &Map<String, Value>, field: &str) -> Result<Option<bool>, FlowError> {
        match get(o, field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(err(self.line, self.path(field), "expected true or false")),
        }
    }

    /// An enum by its value name, or by its number (protojson accepts both).
    fn enumeration(
        &self,
        o: &Map<String, Value>,
        field: &str,
        names: &[&'static str],
    ) -> Result<Option<&'static str>, FlowError> {
        let text = match get(o, field) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Number(n)) => {
                return n
                    .as_u64()
                    .and_then(|i| names.get(i as usize))
                    .copied()
                    .map(Some)
                    .ok_or_else(|| err(self.line, self.path(field), format!("unknown value {n}")));
            }
            Some(_) => return Err(err(self.line, self.path(field), "expected an enum name")),
        };
        names
            .iter()
            .find(|n| **n == text)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                err(
                    self.line,
                    self.path(field),
                    format!(
                        "unknown value `{text}`, expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }

    fn ip(&self, o: &Map<String, Value>, field: &str) -> Result<Option<Address>, FlowError> {
        match self.string(o, field)? {
            None | Some("") => Ok(None),
            Some(s) => s
                .parse::<IpAddr>()
                .map(|ip| Some(Address::default_domain(ip)))
                .map_err(|_| {
                    err(
                        self.line,
                        self.path(field),
                        format!("`{s}` is not an IP address"),
                    )
                }),
        }
    }
}

/// `Verdict` of flow.proto, by number.
const VERDICTS: [&str; 8] = [
    "VERDICT_UNKNOWN",
    "FORWARDED",
    "DROPPED",
    "ERROR",
    "AUDIT",
    "REDIRECTED",
    "TRACED",
    "TRANSLATED",
];
/// `FlowType` of flow.proto, by number.
const FLOW_TYPES: [&str; 4] = ["UNKNOWN_TYPE", "L3_L4", "L7", "SOCK"];
/// `TrafficDirection` of flow.proto, by number.
const DIRECTIONS: [&str; 3] = ["TRAFFIC_DIRECTION_UNKNOWN", "INGRESS", "EGRESS"];
/// `TraceReason` of flow.proto, by number.
const TRACE_REASONS: [&str; 9] = [
    "TRACE_REASON_UNKNOWN",
    "NEW",
    "ESTABLISHED",
    "REPLY",
    "RELATED",
    "REOPENED",
    "SRV6_ENCAP",
    "SRV6_DECAP",
    "ENCRYPT_OVERLAY",
];
/// The drop reasons that are policy decisions: `POLICY_DENIED` (no rule allows, 133) and
/// `POLICY_DENY` (an explicit deny rule, 181).
const POLICY_DROPS: [(&str, u64); 2] = [("POLICY_DENIED", 133), ("POLICY_DENY", 181)];

fn classified(line: usize, class: Class, detail: impl Into<String>) -> Record {
    Record::Classified {
        line,
        class,
        detail: detail.into(),
        count: 1,
    }
}

/// A pod named by a Hubble endpoint (`namespace`, `pod_name`), if it names one.
fn endpoint_pod(ctx: &Ctx<'_>, e: Option<&Map<String, Value>>) -> Result<Option<PodId>, FlowError> {
    let Some(e) = e else { return Ok(None) };
    match (ctx.string(e, "namespace")?, ctx.string(e, "pod_name")?) {
        (Some(ns), Some(pod)) if !ns.is_empty() && !pod.is_empty() => Ok(Some(PodId::new(ns, pod))),
        _ => Ok(None),
    }
}

fn policy_names(ctx: &Ctx<'_>, f: &Map<String, Value>) -> Result<Vec<String>, FlowError> {
    let mut out = Vec::new();
    for (field, word) in [
        ("egress_allowed_by", "egress allowed by"),
        ("ingress_allowed_by", "ingress allowed by"),
        ("egress_denied_by", "egress denied by"),
        ("ingress_denied_by", "ingress denied by"),
    ] {
        let Some(v) = get(f, field) else { continue };
        let Value::Array(items) = v else {
            return Err(err(
                ctx.line,
                ctx.path(field),
                "expected a list of policies",
            ));
        };
        for p in items {
            let Value::Object(p) = p else {
                return Err(err(ctx.line, ctx.path(field), "expected a policy object"));
            };
            let name = ctx.string(p, "name")?.unwrap_or("");
            let full = match ctx.string(p, "namespace")? {
                Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
                _ => name.to_string(),
            };
            let kind = ctx
                .string(p, "kind")?
                .map(|k| format!("{k} "))
                .unwrap_or_default();
            out.push(format!("{word} {kind}{full}"));
        }
    }
    Ok(out)
}

/// One line of Hubble output.
pub fn hubble_line(line: usize, text: &str) -> Result<Record, FlowError> {
    let v: Value = serde_json::from_str(text).map_err(|e| FlowError {
        line,
        field: None,
        message: format!("not JSON: {e}"),
    })?;
    let Value::Object(top) = v else {
        return Err(FlowError {
            line,
            field: None,
            message: "expected a JSON object (a Hubble GetFlowsResponse or Flow)".into(),
        });
    };
    let ctx = Ctx { line, prefix: "" };
    if let Some(lost) = ctx.obj(&top, "lost_events")? {
        let c = Ctx {
            line,
            prefix: "lost_events.",
        };
        let n = c.uint(lost, "num_events_lost")?.unwrap_or(0);
        let source = c
            .string(lost, "source")?
            .unwrap_or("UNKNOWN_LOST_EVENT_SOURCE");
        return Ok(Record::Classified {
            line,
            class: Class::Lost,
            detail: format!("{n} event(s) lost ({source})"),
            count: n,
        });
    }
    if ctx.obj(&top, "node_status")?.is_some() {
        return Ok(classified(line, Class::NonFlow, "node_status"));
    }
    let (f, prefix) = match ctx.obj(&top, "flow")? {
        Some(f) => (f, "flow."),
        None => (&top, ""),
    };
    let ctx = Ctx { line, prefix };
    hubble_flow(&ctx, f)
}

fn hubble_flow(ctx: &Ctx<'_>, f: &Map<String, Value>) -> Result<Record, FlowError> {
    let line = ctx.line;
    let verdict = ctx
        .enumeration(f, "verdict", &VERDICTS)?
        .unwrap_or("VERDICT_UNKNOWN");
    let flow_type = ctx.enumeration(f, "Type", &FLOW_TYPES)?;
    let time = ctx.string(f, "time")?.map(str::to_string);
    if matches!(verdict, "TRACED" | "TRANSLATED") {
        return Ok(classified(
            line,
            Class::Translation,
            format!("{verdict} socket event"),
        ));
    }
    match flow_type {
        Some("L7") => return Ok(classified(line, Class::NotL3L4, "L7 flow")),
        Some("SOCK") => return Ok(classified(line, Class::Translation, "socket event")),
        _ => {}
    }
    // The datapath event behind the flow (pkg/monitor/api MessageType*), for flows whose `Type`
    // a field mask removed: debug (2), capture (3), access log (129) and agent (130) events are
    // no L3/L4 connection events; trace-sock (7) events are socket translations.
    if let Some(e) = ctx.obj(f, "event_type")? {
        let c = Ctx {
            line,
            prefix: &format!("{}event_type.", ctx.prefix),
        };
        match c.uint(e, "type")? {
            Some(7) => return Ok(classified(line, Class::Translation, "trace-sock event")),
            Some(t @ (2 | 3 | 129 | 130)) => {
                return Ok(classified(line, Class::NotL3L4, format!("event type {t}")))
            }
            _ => {}
        }
    }
    let ip = ctx.obj(f, "IP")?;
    let ipc = Ctx {
        line,
        prefix: &format!("{}IP.", ctx.prefix),
    };
    let (src, dst) = match ip {
        Some(ip) => (ipc.ip(ip, "source")?, ipc.ip(ip, "destination")?),
        None => (None, None),
    };
    let (Some(src), Some(dst)) = (src, dst) else {
        return Ok(classified(line, Class::NotL3L4, "no IP addresses"));
    };
    let Some(l4) = ctx.obj(f, "l4")? else {
        return Ok(classified(line, Class::NotL3L4, "no l4 section"));
    };
    let l4c = Ctx {
        line,
        prefix: &format!("{}l4.", ctx.prefix),
    };
    let is_reply = ctx.boolean(f, "is_reply")?;
    let reason = ctx.enumeration(f, "trace_reason", &TRACE_REASONS)?;
    // What the l4 section says: protocol, destination port, and whether this is the first packet.
    enum Kind {
        Attempt,
        Reply(&'static str),
        Established(&'static str),
        Other(String),
    }
    type Ported<'m> = Option<(Protocol, u16, &'m Map<String, Value>)>;
    let ported = |name: &str| -> Result<Ported<'_>, FlowError> {
        let Some(p) = l4c.obj(l4, name)? else {
            return Ok(None);
        };
        let c = Ctx {
            line,
            prefix: &format!("{}{name}.", l4c.prefix),
        };
        let port = c.uint(p, "destination_port")?.unwrap_or(0);
        let port = u16::try_from(port).map_err(|_| {
            err(
                line,
                c.path("destination_port"),
                format!("{port} is not a port"),
            )
        })?;
        let protocol = match name {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            _ => Protocol::Sctp,
        };
        Ok(Some((protocol, port, p)))
    };
    let conntrack = || match reason {
        Some("REPLY") => Kind::Reply("conntrack REPLY"),
        Some("ESTABLISHED") => Kind::Established("conntrack ESTABLISHED"),
        _ => Kind::Attempt,
    };
    let mut icmp = None;
    for name in ["ICMPv4", "ICMPv6"] {
        if let Some(o) = l4c.obj(l4, name)? {
            icmp = Some((name, o));
            break;
        }
    }
    let (protocol, port, kind) = if let Some((protocol, port, tcp)) = ported("TCP")? {
        let c = Ctx {
            line,
            prefix: &format!("{}TCP.flags.", l4c.prefix),
        };
        let kind = match c.obj(tcp, "flags")? {
            Some(flags) => {
                let syn = c.boolean(flags, "SYN")?.unwrap_or(false);
                let ack = c.boolean(flags, "ACK")?.unwrap_or(false);
                match (syn, ack) {
                    (true, false) => Kind::Attempt,
                    (true, true) => Kind::Reply("TCP SYN+ACK"),
                    _ => Kind::Established("TCP without SYN"),
                }
            }
            // No flags (field masks, policy-verdict events without them): the trace reason.
            None => conntrack(),
        };
        (protocol, port, kind)
    } else if let Some((protocol, port, _)) = ported("UDP")? {
        (protocol, port, conntrack())
    } else if let Some((protocol, port, _)) = ported("SCTP")? {
        (protocol, port, conntrack())
    } else if let Some((name, v6)) = icmp {
        let c = Ctx {
            line,
            prefix: &format!("{}{name}.", l4c.prefix),
        };
        let ty = c.uint(v6, "type")?.unwrap_or(0);
        let (request, reply, protocol) = if name == "ICMPv4" {
            (8, 0, Protocol::Other(1))
        } else {
            (128, 129, Protocol::Other(58))
        };
        let kind = if ty == request {
            Kind::Attempt
        } else if ty == reply {
            Kind::Reply("ICMP echo reply")
        } else {
            Kind::Other(format!("{name} type {ty}"))
        };
        (protocol, 0, kind)
    } else if l4c.obj(l4, "VRRP")?.is_some() {
        (Protocol::Other(112), 0, Kind::Attempt)
    } else if l4c.obj(l4, "IGMP")?.is_some() {
        (Protocol::Other(2), 0, Kind::Attempt)
    } else {
        return Ok(classified(line, Class::NotL3L4, "no known l4 protocol"));
    };
    if is_reply == Some(true) {
        return Ok(classified(line, Class::Reply, "is_reply"));
    }
    match kind {
        Kind::Attempt => {}
        Kind::Reply(why) => return Ok(classified(line, Class::Reply, why)),
        Kind::Established(why) => return Ok(classified(line, Class::Established, why)),
        Kind::Other(why) => return Ok(classified(line, Class::NotL3L4, why)),
    }
    let direction = ctx.enumeration(f, "traffic_direction", &DIRECTIONS)?;
    let (verdict, said) = match verdict {
        "FORWARDED" | "REDIRECTED" => (Verdict::Allowed, verdict.to_string()),
        // Audit mode: the policy would have dropped it.
        "AUDIT" => (Verdict::Denied, verdict.to_string()),
        "DROPPED" => {
            let desc = ctx.string(f, "drop_reason_desc")?;
            let code = ctx.uint(f, "drop_reason")?;
            let policy = match (desc, code) {
                (Some(d), _) => POLICY_DROPS.iter().any(|(n, _)| *n == d),
                (None, Some(c)) => POLICY_DROPS.iter().any(|(_, n)| *n == c),
                // A field mask may strip the reason: a drop of a first packet is taken as policy.
                (None, None) => true,
            };
            let reason = desc
                .map(str::to_string)
                .or(code.map(|c| c.to_string()))
                .unwrap_or_else(|| "no reason given".into());
            if !policy {
                return Ok(classified(
                    line,
                    Class::OtherDrop,
                    format!("DROPPED ({reason})"),
                ));
            }
            (Verdict::Denied, format!("DROPPED ({reason})"))
        }
        other => return Ok(classified(line, Class::NoVerdict, other.to_string())),
    };
    let scope = match (direction, verdict) {
        // Taken where the packet leaves the source: evidence of its egress only.
        (Some("EGRESS"), _) => Scope::Egress,
        (Some("INGRESS"), Verdict::Denied) => Scope::Ingress,
        // Delivered, or let in at the destination: it passed both filters.
        _ => Scope::Connection,
    };
    let src_name = endpoint_pod(ctx, ctx.obj(f, "source")?)?;
    let dst_name = endpoint_pod(ctx, ctx.obj(f, "destination")?)?;
    Ok(Record::Flow(Box::new(Flow {
        line,
        time,
        src,
        dst,
        src_name,
        dst_name,
        protocol,
        port,
        verdict,
        scope,
        said,
        plugin_policies: policy_names(ctx, f)?,
    })))
}

/// A plain flow record (docs/FORMATS.md, "The plain flow format"): the JSON line, and the CSV
/// columns by the same names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Plain {
    /// When, as the plugin wrote it (free text; RFC 3339 recommended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// `TCP`, `UDP`, `SCTP`, `ICMP`, `ICMPv6` or `IP/<number>`.
    pub protocol: Protocol,
    /// Destination port; required for TCP, UDP and SCTP, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `allowed` or `denied`.
    pub verdict: Verdict,
    /// The source pod, `namespace/name`, when the plugin knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_name: Option<PodId>,
    /// The destination pod, `namespace/name`, when the plugin knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_name: Option<PodId>,
    /// `connection` (default), `egress` (only the source's egress filter was passed or denied)
    /// or `ingress` (the destination's ingress filter denied it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// The CSV header's columns, in the order `netsem` writes them.
pub const PLAIN_COLUMNS: [&str; 9] = [
    "time", "src", "dst", "protocol", "port", "verdict", "srcName", "dstName", "scope",
];

impl Plain {
    fn into_flow(self, line: usize) -> Result<Flow, FlowError> {
        let port = match (self.protocol.is_kubernetes(), self.port) {
            (true, Some(p)) if p > 0 => p,
            (true, _) => {
                return Err(err(
                    line,
                    "port",
                    format!("{} needs a destination port (1-65535)", self.protocol),
                ))
            }
            (false, Some(_)) => {
                return Err(err(
                    line,
                    "port",
                    format!("{} has no ports; leave port out", self.protocol),
                ))
            }
            (false, None) => 0,
        };
        Ok(Flow {
            line,
            time: self.time,
            src: Address::default_domain(self.src),
            dst: Address::default_domain(self.dst),
            src_name: self.src_name,
            dst_name: self.dst_name,
            protocol: self.protocol,
            port,
            verdict: self.verdict,
            scope: self.scope.unwrap_or(Scope::Connection),
            said: match self.verdict {
                Verdict::Allowed => "allowed".into(),
                Verdict::Denied => "denied".into(),
            },
            plugin_policies: Vec::new(),
        })
    }

    /// The plain record of a flow (what `convert` writes).
    pub fn of(flow: &Flow) -> Plain {
        Plain {
            time: flow.time.clone(),
            src: flow.src.ip,
            dst: flow.dst.ip,
            protocol: flow.protocol,
            port: flow.protocol.is_kubernetes().then_some(flow.port),
            verdict: flow.verdict,
            src_name: flow.src_name.clone(),
            dst_name: flow.dst_name.clone(),
            scope: (flow.scope != Scope::Connection).then_some(flow.scope),
        }
    }

    /// The CSV row, in [`PLAIN_COLUMNS`] order; `Err(column)` when a cell would contain a comma
    /// (only free text can: `time`).
    pub fn csv_row(&self) -> Result<String, &'static str> {
        if self.time.as_deref().is_some_and(|t| t.contains(',')) {
            return Err("time");
        }
        let opt = |v: Option<String>| v.unwrap_or_default();
        Ok([
            opt(self.time.clone()),
            self.src.to_string(),
            self.dst.to_string(),
            self.protocol.to_string(),
            opt(self.port.map(|p| p.to_string())),
            serde_json::to_value(self.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            opt(self.src_name.as_ref().map(ToString::to_string)),
            opt(self.dst_name.as_ref().map(ToString::to_string)),
            opt(self
                .scope
                .and_then(|s| serde_json::to_value(s).ok())
                .and_then(|v| v.as_str().map(str::to_string))),
        ]
        .join(","))
    }
}

fn plain_json(line: usize, text: &str) -> Result<Flow, FlowError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let plain: Plain = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // serde_json's position is within the record, not the file: the line and field say it.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        FlowError {
            line,
            field: (path != ".").then_some(path),
            message,
        }
    })?;
    plain.into_flow(line)
}

/// Reads a whole input of `format` (a flow format, not a matrix or trace).
pub fn read(text: &str, format: ObservedFormat) -> Result<Vec<Record>, FlowError> {
    let mut out = Vec::new();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    match format {
        ObservedFormat::Hubble => {
            for (n, l) in lines {
                out.push(hubble_line(n, l)?);
            }
        }
        ObservedFormat::FlowsJsonl => {
            let Some((n, header)) = lines.next() else {
                return Ok(out);
            };
            let version = serde_json::from_str::<Value>(header)
                .ok()
                .and_then(|v| v.get("netsemFlows").and_then(Value::as_u64));
            if version != Some(PLAIN_FLOWS_VERSION) {
                return Err(err(
                    n,
                    "netsemFlows",
                    format!(
                        "the first line must be {{\"netsemFlows\":{PLAIN_FLOWS_VERSION}}} (this netsem reads version {PLAIN_FLOWS_VERSION})"
                    ),
                ));
            }
            for (n, l) in lines {
                out.push(Record::Flow(Box::new(plain_json(n, l)?)));
            }
        }
        ObservedFormat::FlowsCsv => {
            let Some((n, version)) = lines.next() else {
                return Ok(out);
            };
            if version.trim() != format!("# netsemFlows {PLAIN_FLOWS_VERSION}") {
                return Err(err(
                    n,
                    "netsemFlows",
                    format!("the first line must be `# netsemFlows {PLAIN_FLOWS_VERSION}`"),
                ));
            }
            let Some((hn, header)) = lines.next() else {
                return Ok(out);
            };
            let columns: Vec<&str> = header.split(',').map(str::trim).collect();
            for c in &columns {
                if !PLAIN_COLUMNS.contains(c) {
                    return Err(err(
                        hn,
                        *c,
                        format!(
                            "unknown column, expected some of {}",
                            PLAIN_COLUMNS.join(", ")
                        ),
                    ));
                }
            }
            for required in ["src", "dst", "protocol", "verdict"] {
                if !columns.contains(&required) {
                    return Err(err(hn, required, "missing column"));
                }
            }
            for (n, l) in lines {
                let cells: Vec<&str> = l.split(',').map(str::trim).collect();
                if cells.len() != columns.len() {
                    return Err(FlowError {
                        line: n,
                        field: None,
                        message: format!(
                            "{} cells, the header has {} columns",
                            cells.len(),
                            columns.len()
                        ),
                    });
                }
                let mut o = Map::new();
                for (c, v) in columns.iter().zip(cells) {
                    if v.is_empty() {
                        continue;
                    }
                    let value = if *c == "port" {
                        match v.parse::<u64>() {
                            Ok(p) => Value::from(p),
                            Err(_) => {
                                return Err(err(n, "port", format!("`{v}` is not a port number")))
                            }
                        }
                    } else {
                        Value::from(v)
                    };
                    o.insert((*c).to_string(), value);
                }
                let text = Value::Object(o).to_string();
                out.push(Record::Flow(Box::new(plain_json(n, &text)?)));
            }
        }
        ObservedFormat::Matrix | ObservedFormat::Trace => {
            unreachable!("matrices and traces are read by check")
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_names_are_read_too() {
        let proto = r#"{"flow":{"verdict":"DROPPED","drop_reason_desc":"POLICY_DENIED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":1,"destination_port":80,"flags":{"SYN":true}}},"traffic_direction":"INGRESS"}}"#;
        let camel = r#"{"flow":{"verdict":2,"dropReasonDesc":"POLICY_DENIED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"sourcePort":1,"destinationPort":"80","flags":{"SYN":true}}},"trafficDirection":"INGRESS"}}"#;
        let a = hubble_line(1, proto).unwrap();
        let b = hubble_line(1, camel).unwrap();
        assert_eq!(a, b);
        let Record::Flow(f) = a else { panic!() };
        assert_eq!(
            (f.port, f.verdict, f.scope),
            (80, Verdict::Denied, Scope::Ingress)
        );
    }

    /// A flow line with `extra` fields and the given `l4`.
    fn line(l4: &str, extra: &str) -> String {
        format!(
            r#"{{"flow":{{"IP":{{"source":"10.0.0.1","destination":"10.0.0.2"}},"l4":{l4}{extra}}}}}"#
        )
    }

    fn class(text: &str) -> Class {
        match hubble_line(1, text).unwrap() {
            Record::Classified { class, .. } => class,
            Record::Flow(f) => panic!("judged: {f:?}"),
        }
    }

    fn judged(text: &str) -> Flow {
        match hubble_line(1, text).unwrap() {
            Record::Flow(f) => *f,
            other => panic!("not judged: {other:?}"),
        }
    }

    const SYN: &str = r#"{"TCP":{"destination_port":80,"flags":{"SYN":true}}}"#;

    #[test]
    fn every_row_of_the_hubble_table() {
        let fwd = r#","verdict":"FORWARDED""#;
        // Replies and established traffic are classified, not judged as new connections.
        assert_eq!(
            class(&line(
                r#"{"TCP":{"destination_port":1,"flags":{"SYN":true,"ACK":true}}}"#,
                fwd
            )),
            Class::Reply
        );
        assert_eq!(
            class(&line(
                r#"{"TCP":{"destination_port":80,"flags":{"ACK":true}}}"#,
                fwd
            )),
            Class::Established
        );
        assert_eq!(
            class(&line(SYN, r#","verdict":"FORWARDED","is_reply":true"#)),
            Class::Reply
        );
        assert_eq!(
            class(&line(
                r#"{"UDP":{"destination_port":53}}"#,
                r#","verdict":"FORWARDED","trace_reason":"REPLY""#
            )),
            Class::Reply
        );
        assert_eq!(
            class(&line(
                r#"{"UDP":{"destination_port":53}}"#,
                r#","verdict":"FORWARDED","trace_reason":"ESTABLISHED""#
            )),
            Class::Established
        );
        assert_eq!(class(&line(r#"{"ICMPv4":{}}"#, fwd)), Class::Reply);
        assert_eq!(
            class(&line(r#"{"ICMPv6":{"type":129}}"#, fwd)),
            Class::Reply
        );
        assert_eq!(
            class(&line(r#"{"ICMPv4":{"type":3,"code":1}}"#, fwd)),
            Class::NotL3L4
        );
        // Socket load balancing, L7, no verdict, drops that are not policy.
        assert_eq!(
            class(&line(SYN, r#","verdict":"TRACED""#)),
            Class::Translation
        );
        assert_eq!(
            class(&line(SYN, r#","verdict":"TRANSLATED""#)),
            Class::Translation
        );
        assert_eq!(
            class(&line(SYN, r#","verdict":"FORWARDED","Type":"L7""#)),
            Class::NotL3L4
        );
        assert_eq!(class(&line(SYN, r#","verdict":"ERROR""#)), Class::NoVerdict);
        assert_eq!(
            class(&line(
                SYN,
                r#","verdict":"FORWARDED","event_type":{"type":129}"#
            )),
            Class::NotL3L4
        );
        assert_eq!(
            class(&line(
                SYN,
                r#","verdict":"FORWARDED","eventType":{"type":7,"subType":1}"#
            )),
            Class::Translation
        );
        assert_eq!(class(&line(SYN, "")), Class::NoVerdict);
        assert_eq!(
            class(&line(SYN, r#","verdict":"DROPPED","drop_reason":155"#)),
            Class::OtherDrop
        );
        assert_eq!(
            class(r#"{"flow":{"verdict":"FORWARDED","l4":{"UDP":{"destination_port":53}}}}"#),
            Class::NotL3L4
        );
        assert_eq!(
            class(r#"{"node_status":{"state_change":"NODE_CONNECTED"}}"#),
            Class::NonFlow
        );
        let Record::Classified { class, count, .. } =
            hubble_line(1, r#"{"lost_events":{"num_events_lost":"7"}}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!((class, count), (Class::Lost, 7));
        // Verdicts and scopes.
        let f = judged(&line(
            SYN,
            r#","verdict":"REDIRECTED","traffic_direction":"EGRESS""#,
        ));
        assert_eq!((f.verdict, f.scope), (Verdict::Allowed, Scope::Egress));
        let f = judged(&line(
            SYN,
            r#","verdict":"AUDIT","traffic_direction":"INGRESS""#,
        ));
        assert_eq!((f.verdict, f.scope), (Verdict::Denied, Scope::Ingress));
        let f = judged(&line(SYN, r#","verdict":"DROPPED","drop_reason":181"#));
        assert_eq!((f.verdict, f.scope), (Verdict::Denied, Scope::Connection));
        let f = judged(&line(
            SYN,
            r#","verdict":"FORWARDED","traffic_direction":"INGRESS""#,
        ));
        assert_eq!((f.verdict, f.scope), (Verdict::Allowed, Scope::Connection));
        let f = judged(&line(r#"{"ICMPv6":{"type":128}}"#, fwd));
        assert_eq!((f.protocol, f.port), (Protocol::Other(58), 0));
        let f = judged(&line(
            r#"{"SCTP":{"destination_port":81}}"#,
            r#","verdict":"FORWARDED","trace_reason":"NEW""#,
        ));
        assert_eq!((f.protocol, f.port), (Protocol::Sctp, 81));
        // The bare flow (HUBBLE_COMPAT=legacy-json-output) reads as the wrapped one.
        let bare = r#"{"verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"destination_port":80,"flags":{"SYN":true}}},"source":{"namespace":"x","pod_name":"a"}}"#;
        let f = judged(bare);
        assert_eq!(f.src_name, Some(PodId::new("x", "a")));
        assert_eq!(detect(bare), ObservedFormat::Hubble);
    }

    #[test]
    fn a_bad_address_names_the_field() {
        let e = hubble_line(3, r#"{"flow":{"verdict":"FORWARDED","IP":{"source":"nope","destination":"10.0.0.2"},"l4":{"UDP":{"destination_port":53}}}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: flow.IP.source: `nope` is not an IP address"
        );
    }

    #[test]
    fn csv_and_jsonl_read_the_same_flows() {
        let jsonl = "{\"netsemFlows\":1}\n{\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"protocol\":\"TCP\",\"port\":80,\"verdict\":\"denied\",\"dstName\":\"x/a\"}\n";
        let csv = "# netsemFlows 1\nsrc,dst,protocol,port,verdict,dstName\n10.0.0.1,10.0.0.2,TCP,80,denied,x/a\n";
        let flows = |text, format| -> Vec<Flow> {
            read(text, format)
                .unwrap()
                .into_iter()
                .map(|r| match r {
                    Record::Flow(f) => Flow { line: 0, ..*f },
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(
            flows(jsonl, ObservedFormat::FlowsJsonl),
            flows(csv, ObservedFormat::FlowsCsv)
        );
        assert_eq!(detect(jsonl), ObservedFormat::FlowsJsonl);
        assert_eq!(detect(csv), ObservedFormat::FlowsCsv);
    }
}
