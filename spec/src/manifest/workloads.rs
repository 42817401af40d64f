//! Rule 9.4: workloads become their pods, with deterministic names.
//!
//! Kubernetes names controller-made pods with random suffixes from the alphabet
//! `bcdfghjklmnpqrstvwxz2456789` (apimachinery `util/rand.SafeEncodeString`). netsem derives the
//! suffixes from a stable hash (64-bit FNV-1a) of the workload's namespace, name and pod
//! template instead, so the same input always gives the same pods:
//!
//! | kind        | pods                                   |
//! |-------------|----------------------------------------|
//! | Deployment  | `NAME-<10>-<5>` × `replicas`           |
//! | ReplicaSet  | `NAME-<5>` × `replicas`                |
//! | StatefulSet | `NAME-0` … `NAME-<replicas-1>`         |
//! | DaemonSet   | `NAME-<5>` per matching declared Node  |
//! | Job         | `NAME-<5>` × `parallelism`             |
//! | CronJob     | `NAME-<5>` × the job's `parallelism`   |
//! | ReplicationController | `NAME-<5>` × `replicas`      |
//!
//! (KubeVirt's virtual machines, also workloads, are in `kubevirt.rs`.)

use super::kinds::pod::{pod_spec, PodParts};
use super::object::Obj;
use super::validate::{self, child};
use super::{LoadError, Object};
use crate::ident::PodId;
use crate::pod::{Pod, PodPhase};
use crate::selector::Labels;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The most pods one workload may expand to (netsem's limit, not Kubernetes').
pub const MAX_REPLICAS: usize = 10_000;

/// Kubernetes' alphabet for generated name suffixes: no vowels, no confusable characters.
const SAFE_ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// The workload kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkloadKind {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    ReplicationController,
}

/// What a workload becomes: pods now, or (DaemonSets) pods once the input's nodes are known.
pub(crate) enum Expansion {
    Pods(Vec<Object>),
    DaemonSet(DaemonSetPlan),
}

/// 64-bit FNV-1a over the parts, each followed by a 0xff separator (not valid UTF-8, so parts
/// cannot run into each other).
pub(crate) fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// `n` characters of the safe alphabet from a hash.
fn safe_chars(mut h: u64, n: usize) -> String {
    let base = SAFE_ALPHABET.len() as u64;
    let mut out = String::with_capacity(n);
    for _ in 0..n {
        let i = usize::try_from(h % base).unwrap_or(0);
        out.push(char::from(SAFE_ALPHABET.get(i).copied().unwrap_or(b'b')));
        h /= base;
        if h == 0 {
            // Stir when the hash runs out of digits.
            h = fnv1a(&[&out]);
        }
    }
    out
}

/// A suffix of `n` safe characters for `parts`, distinct from those in `taken` (a salt is added
/// on a collision, deterministically).
pub(crate) fn unique_suffix(parts: &[&str], n: usize, taken: &mut BTreeSet<String>) -> String {
    let mut salt = 0u64;
    loop {
        let salt_text = salt.to_string();
        let mut all: Vec<&str> = parts.to_vec();
        if salt > 0 {
            all.push(&salt_text);
        }
        let s = safe_chars(fnv1a(&all), n);
        if taken.insert(s.clone()) {
            return s;
        }
        salt = salt.saturating_add(1);
    }
}

/// The pod a template makes, without its name and node.
#[derive(Clone, Debug)]
struct TemplatePod {
    labels: Labels,
    parts: PodParts,
}

/// Validates a pod template at `path` against the workload's selector and converts it.
/// `selector_required`: apps kinds need a non-empty selector matching the template's labels.
fn template(
    obj: &Obj,
    template: Option<&core::PodTemplateSpec>,
    selector: Option<&meta::LabelSelector>,
    selector_required: bool,
    path: &str,
) -> Result<TemplatePod, LoadError> {
    let Some(template) = template else {
        return Err(obj.error(path, "Required value: a workload needs a pod template"));
    };
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let labels_path = child(&child(path, "metadata"), "labels");
    validate::labels(&labels, &labels_path).map_err(|e| obj.invalid(e))?;
    if let Some(a) = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
    {
        validate::annotation_keys(a, &child(&child(path, "metadata"), "annotations"))
            .map_err(|e| obj.invalid(e))?;
    }
    match selector {
        Some(sel) => {
            let sel = validate::label_selector(sel, "spec.selector").map_err(|e| obj.invalid(e))?;
            if sel.is_empty() && selector_required {
                return Err(obj.error(
                    "spec.selector",
                    format!("empty selector is invalid for {}", obj.kind),
                ));
            }
            if !sel.matches(&labels) {
                return Err(obj.error(&labels_path, "`selector` does not match template `labels`"));
            }
        }
        None if selector_required => {
            return Err(obj.error("spec.selector", "Required value"));
        }
        None => {}
    }
    let parts =
        pod_spec(template.spec.as_ref(), &child(path, "spec")).map_err(|e| obj.invalid(e))?;
    Ok(TemplatePod { labels, parts })
}

/// `replicas`/`parallelism`: absent is 1; negative is invalid.
fn count(obj: &Obj, n: Option<i32>, path: &str) -> Result<usize, LoadError> {
    let n = n.unwrap_or(1);
    let n = usize::try_from(n).map_err(|_| {
        obj.error(
            path,
            format!("invalid value {n}: must be greater than or equal to 0"),
        )
    })?;
    if n > MAX_REPLICAS {
        return Err(obj.error(
            path,
            format!("{n} pods: netsem expands at most {MAX_REPLICAS} pods per workload"),
        ));
    }
    Ok(n)
}

/// One pod of a workload: template labels (plus the controller's), ports, host network and
/// node; running and ready, its address allocated at apply time (rule 9.5).
fn make_pod(
    namespace: &str,
    name: String,
    t: &TemplatePod,
    extra: &[(&str, String)],
    node: Option<String>,
) -> Object {
    let mut labels = t.labels.clone();
    for (k, v) in extra {
        labels.insert((*k).to_string(), v.clone());
    }
    Object::Pod {
        pod: Pod {
            id: PodId::new(namespace, name),
            labels,
            node: node.or_else(|| t.parts.node.clone()),
            host_network: t.parts.host_network,
            phase: PodPhase::Running,
            ready: true,
            ports: t.parts.ports.clone(),
            terminating: false,
        },
        attachments: Vec::new(),
        auto_address: true,
        pool: None,
    }
}

/// The JSON text of the pod template at `pointer`, for hashing.
pub(crate) fn template_text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .map(Value::to_string)
        .unwrap_or_default()
}

/// `count` pods named `NAME-<5>` (plus `middle` when given), hashed over the template.
fn hashed_pods(
    obj: &Obj,
    t: &TemplatePod,
    template_json: &str,
    count: usize,
    middle: Option<&str>,
    extra: &[(&str, String)],
) -> Vec<Object> {
    let mut taken = BTreeSet::new();
    let prefix = match middle {
        Some(m) => format!("{}-{m}", obj.name),
        None => obj.name.clone(),
    };
    (0..count)
        .map(|i| {
            let index = i.to_string();
            let suffix =
                unique_suffix(&[obj.ns(), &obj.name, template_json, &index], 5, &mut taken);
            make_pod(obj.ns(), format!("{prefix}-{suffix}"), t, extra, None)
        })
        .collect()
}

/// Rule 9.4: validates a workload and expands it.
pub(crate) fn expand(obj: &Obj, kind: WorkloadKind, value: Value) -> Result<Expansion, LoadError> {
    let spec_template = template_text(&value, "/spec/template");
    let pods = match kind {
        WorkloadKind::Deployment => {
            let d: apps::Deployment = obj.read(value)?;
            let spec = d.spec;
            let t = template(
                obj,
                Some(&spec.template),
                Some(&spec.selector),
                true,
                "spec.template",
            )?;
            let n = count(obj, spec.replicas, "spec.replicas")?;
            let hash = safe_chars(fnv1a(&[obj.ns(), &obj.name, &spec_template]), 10);
            let extra = [("pod-template-hash", hash.clone())];
            hashed_pods(obj, &t, &spec_template, n, Some(&hash), &extra)
        }
        WorkloadKind::ReplicaSet => {
            let r: apps::ReplicaSet = obj.read(value)?;
            let spec = r.spec;
            let t = template(
                obj,
                spec.template.as_ref(),
                Some(&spec.selector),
                true,
                "spec.template",
            )?;
            let n = count(obj, spec.replicas, "spec.replicas")?;
            hashed_pods(obj, &t, &spec_template, n, None, &[])
        }
        WorkloadKind::StatefulSet => {
            let s: apps::StatefulSet = obj.read(value)?;
            let spec = s.spec;
            let t = template(
                obj,
                Some(&spec.template),
                Some(&spec.selector),
                true,
                "spec.template",
            )?;
            let n = count(obj, spec.replicas, "spec.replicas")?;
            (0..n)
                .map(|i| {
                    let name = format!("{}-{i}", obj.name);
                    let extra = [
                        ("statefulset.kubernetes.io/pod-name", name.clone()),
                        ("apps.kubernetes.io/pod-index", i.to_string()),
                    ];
                    make_pod(obj.ns(), name, &t, &extra, None)
                })
                .collect()
        }
        WorkloadKind::DaemonSet => {
            let d: apps::DaemonSet = obj.read(value)?;
            let spec = d.spec;
            let t = template(
                obj,
                Some(&spec.template),
                Some(&spec.selector),
                true,
                "spec.template",
            )?;
            let node_selector = spec
                .template
                .spec
                .as_ref()
                .and_then(|s| s.node_selector.clone())
                .unwrap_or_default();
            validate::labels(&node_selector, "spec.template.spec.nodeSelector")
                .map_err(|e| obj.invalid(e))?;
            return Ok(Expansion::DaemonSet(DaemonSetPlan {
                namespace: obj.ns().to_string(),
                name: obj.name.clone(),
                template: t,
                node_selector,
            }));
        }
        WorkloadKind::Job => {
            let j: batch::Job = obj.read(value)?;
            let spec = j.spec.unwrap_or_default();
            let t = template(
                obj,
                Some(&spec.template),
                spec.selector.as_ref(),
                false,
                "spec.template",
            )?;
            let n = count(obj, spec.parallelism, "spec.parallelism")?;
            let extra = job_labels(&obj.name);
            hashed_pods(obj, &t, &spec_template, n, None, &extra)
        }
        WorkloadKind::ReplicationController => {
            // `SetDefaults_ReplicationController`: an empty selector is the template's labels,
            // replicas 1; the selector is an equality map and must match the template
            // (`ValidateReplicationControllerSpec`). Its pods carry exactly the template's
            // labels: no `pod-template-hash`.
            let rc: core::ReplicationController = obj.read(value)?;
            let spec = rc.spec.unwrap_or_default();
            let template_labels = spec
                .template
                .as_ref()
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            let selector = spec
                .selector
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or(template_labels);
            let selector = meta::LabelSelector {
                match_labels: (!selector.is_empty()).then_some(selector),
                match_expressions: None,
            };
            let selector = selector.match_labels.is_some().then_some(&selector);
            let t = template(obj, spec.template.as_ref(), selector, true, "spec.template")?;
            let n = count(obj, spec.replicas, "spec.replicas")?;
            hashed_pods(obj, &t, &spec_template, n, None, &[])
        }
        WorkloadKind::CronJob => {
            let job_template = template_text(&value, "/spec/jobTemplate/spec/template");
            let c: batch::CronJob = obj.read(value)?;
            if obj.name.len() > 52 {
                return Err(obj.error("metadata.name", "must be no more than 52 characters"));
            }
            let spec = c.spec;
            let job = spec.job_template.spec.unwrap_or_default();
            let path = "spec.jobTemplate.spec.template";
            let t = template(obj, Some(&job.template), job.selector.as_ref(), false, path)?;
            let n = count(obj, job.parallelism, "spec.jobTemplate.spec.parallelism")?;
            let extra = job_labels(&obj.name);
            hashed_pods(obj, &t, &job_template, n, None, &extra)
        }
    };
    Ok(Expansion::Pods(pods))
}

/// The labels the Job controller puts on its pods (less the uid ones).
fn job_labels(job: &str) -> [(&'static str, String); 2] {
    [
        ("job-name", job.to_string()),
        ("batch.kubernetes.io/job-name", job.to_string()),
    ]
}

/// A DaemonSet, expanded once every node of the input is known.
pub(crate) struct DaemonSetPlan {
    namespace: String,
    name: String,
    template: TemplatePod,
    node_selector: Labels,
}

impl DaemonSetPlan {
    /// Rule 9.4: one pod per node matching the template's `nodeSelector`, `NAME-<5>` hashed
    /// from the node name; without any declared node, one pod and a warning.
    pub(crate) fn expand(&self, nodes: &BTreeMap<String, Labels>) -> (Vec<Object>, Option<String>) {
        let pod = |name: String, node: Option<String>| {
            make_pod(&self.namespace, name, &self.template, &[], node)
        };
        let mut taken = BTreeSet::new();
        if nodes.is_empty() {
            let suffix = unique_suffix(&[&self.namespace, &self.name], 5, &mut taken);
            let warning = "the input declares no Node: expanded to a single pod".to_string();
            return (
                vec![pod(format!("{}-{suffix}", self.name), None)],
                Some(warning),
            );
        }
        let pods: Vec<Object> = nodes
            .iter()
            .filter(|(_, labels)| {
                self.node_selector
                    .iter()
                    .all(|(k, v)| labels.get(k) == Some(v))
            })
            .map(|(node, _)| {
                let suffix = unique_suffix(&[&self.namespace, &self.name, node], 5, &mut taken);
                pod(format!("{}-{suffix}", self.name), Some(node.clone()))
            })
            .collect();
        let warning = pods
            .is_empty()
            .then(|| "no declared Node matches its nodeSelector: no pods".to_string());
        (pods, warning)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rule 9.4: suffixes use only the safe alphabet and are stable.
    #[test]
    fn r9_4_safe_suffixes_are_stable() {
        let a = safe_chars(fnv1a(&["default", "web", "{}"]), 10);
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        assert_eq!(a, safe_chars(fnv1a(&["default", "web", "{}"]), 10));
        assert_ne!(fnv1a(&["ab", "c"]), fnv1a(&["a", "bc"]));
        let mut taken = BTreeSet::new();
        let x = unique_suffix(&["p"], 5, &mut taken);
        let y = unique_suffix(&["p"], 5, &mut taken);
        assert_ne!(x, y);
    }
}
