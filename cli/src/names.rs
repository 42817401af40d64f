//! Pods named on the command line: `namespace/name`, or a workload, meaning each of its pods
//! (rule 9.10): `namespace/kind/name` (`frontend/deployment/web`, kubectl's kinds and short
//! names) or `namespace/name[Kind]` (`frontend/web[Deployment]`, the form the grouped matrix
//! prints).

use netsem_spec::manifest::WorkloadRef;
use netsem_spec::matrix::contract_order;
use netsem_spec::{PodId, State};
use std::collections::BTreeMap;

/// The workload kinds, with the words kubectl accepts for them.
const KINDS: &[(&str, &[&str])] = &[
    ("Deployment", &["deployment", "deployments", "deploy"]),
    ("ReplicaSet", &["replicaset", "replicasets", "rs"]),
    ("StatefulSet", &["statefulset", "statefulsets", "sts"]),
    ("DaemonSet", &["daemonset", "daemonsets", "ds"]),
    ("Job", &["job", "jobs"]),
    ("CronJob", &["cronjob", "cronjobs", "cj"]),
    (
        "ReplicationController",
        &["replicationcontroller", "replicationcontrollers", "rc"],
    ),
    (
        "VirtualMachine",
        &["virtualmachine", "virtualmachines", "vm", "vms"],
    ),
    (
        "VirtualMachineInstance",
        &[
            "virtualmachineinstance",
            "virtualmachineinstances",
            "vmi",
            "vmis",
        ],
    ),
];

/// The kind a word names, case-insensitively.
fn kind_of(word: &str) -> Option<&'static str> {
    let w = word.to_ascii_lowercase();
    KINDS
        .iter()
        .find(|(kind, words)| kind.to_ascii_lowercase() == w || words.contains(&w.as_str()))
        .map(|(kind, _)| *kind)
}

/// A workload named by `text`, if it is written as one: `(namespace, kind, name)`.
pub fn workload_syntax(text: &str) -> Result<Option<(String, &'static str, String)>, String> {
    let unknown = |k: &str| {
        format!(
            "`{text}`: `{k}` is not a workload kind (expected one of {})",
            KINDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
        )
    };
    if let Some(inner) = text.strip_suffix(']') {
        let Some((id, kind)) = inner.split_once('[') else {
            return Err(format!("`{text}`: expected `namespace/name[Kind]`"));
        };
        let Some((ns, name)) = id
            .split_once('/')
            .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        else {
            return Err(format!("`{text}`: expected `namespace/name[Kind]`"));
        };
        let kind = kind_of(kind).ok_or_else(|| unknown(kind))?;
        return Ok(Some((ns.to_string(), kind, name.to_string())));
    }
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        [ns, kind, name] if !ns.is_empty() && !name.is_empty() => {
            let kind = kind_of(kind).ok_or_else(|| unknown(kind))?;
            Ok(Some((ns.to_string(), kind, name.to_string())))
        }
        [_, _] => Ok(None),
        _ => Err(format!(
            "`{text}`: expected a pod `namespace/name` or a workload `namespace/kind/name` or \
             `namespace/name[Kind]`"
        )),
    }
}

/// Whether a pod's workload is the one named: a VirtualMachine's pods are its instance's.
fn is_of(w: &WorkloadRef, kind: &str, name: &str) -> bool {
    w.name == name
        && (w.kind == kind || (kind == "VirtualMachine" && w.kind == "VirtualMachineInstance"))
}

/// The pods `text` names, in contract order: one pod, or each pod of a workload.
pub fn pods(
    text: &str,
    state: &State,
    workloads: &BTreeMap<PodId, WorkloadRef>,
) -> Result<Vec<PodId>, String> {
    match workload_syntax(text)? {
        Some((ns, kind, name)) => {
            let found: Vec<PodId> = workloads
                .iter()
                .filter(|(p, w)| p.namespace == ns && is_of(w, kind, &name))
                .map(|(p, _)| p.clone())
                .filter(|p| state.pod(p).is_some())
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "workload {ns}/{name}[{kind}] has no pod in the manifests{}",
                    hint(&ns, workloads)
                ));
            }
            Ok(contract_order(found))
        }
        None => {
            let pod: PodId = text.parse().map_err(|e| format!("{e}"))?;
            if state.pod(&pod).is_none() {
                return Err(format!(
                    "pod {pod} does not exist{}",
                    hint(&pod.namespace, workloads)
                ));
            }
            Ok(vec![pod])
        }
    }
}

/// The workloads of a namespace, to suggest when a name is not found.
fn hint(ns: &str, workloads: &BTreeMap<PodId, WorkloadRef>) -> String {
    let mut names: Vec<String> = workloads
        .iter()
        .filter(|(p, _)| p.namespace == ns)
        .map(|(_, w)| format!("{ns}/{w}"))
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        String::new()
    } else {
        format!(
            " (workloads in namespace {ns}: {}; name one to mean each of its pods)",
            names.join(", ")
        )
    }
}

/// The group a pod belongs to in `matrix --group workload`: `namespace/name[Kind]` of its
/// workload, or the pod itself.
pub fn group(pod: &PodId, workloads: &BTreeMap<PodId, WorkloadRef>) -> String {
    match workloads.get(pod) {
        Some(w) => format!("{}/{w}", pod.namespace),
        None => pod.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names_in_both_spellings() {
        let d = Some(("frontend".to_string(), "Deployment", "web".to_string()));
        assert_eq!(workload_syntax("frontend/deployment/web").unwrap(), d);
        assert_eq!(workload_syntax("frontend/deploy/web").unwrap(), d);
        assert_eq!(workload_syntax("frontend/web[Deployment]").unwrap(), d);
        assert_eq!(workload_syntax("frontend/web[deployment]").unwrap(), d);
        assert_eq!(workload_syntax("frontend/web").unwrap(), None);
        assert!(workload_syntax("frontend/pod/web").is_err());
        assert!(workload_syntax("a/b/c/d").is_err());
        assert!(workload_syntax("web[Deployment]").is_err());
    }
}
