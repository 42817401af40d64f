//! A toy NetworkPolicy enforcer: the implementation under test of `tests/against_netsem.rs`,
//! which checks it against netsem (see the README).
//!
//! It handles a subset of NetworkPolicy v1: ingress policies whose `podSelector` and single
//! peer are `matchLabels` selectors in the policy's namespace, with numeric TCP ports (or none).

use std::collections::BTreeMap;

/// A pod: namespace, name, labels.
#[derive(Clone, Debug)]
pub struct Pod {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

/// An ingress policy: the pods it selects, the peers it lets in, on which ports.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Its namespace (it selects pods there, and its peer is there too).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `podSelector.matchLabels`.
    pub select: BTreeMap<String, String>,
    /// The one rule's peer, `podSelector.matchLabels`.
    pub from: BTreeMap<String, String>,
    /// The rule's TCP ports; empty: every port.
    pub ports: Vec<u16>,
}

/// A cluster: pods and policies.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// The pods.
    pub pods: Vec<Pod>,
    /// The policies.
    pub policies: Vec<Policy>,
}

fn matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

impl Cluster {
    /// Whether pod `from` may open a TCP connection to pod `to` on `port`.
    pub fn allows(&self, from: usize, to: usize, port: u16) -> bool {
        let (src, dst) = (&self.pods[from], &self.pods[to]);
        // A pod can always reach itself.
        if from == to {
            return true;
        }
        let selecting: Vec<&Policy> = self
            .policies
            .iter()
            .filter(|p| p.namespace == dst.namespace && matches(&p.select, &dst.labels))
            .collect();
        // Not isolated: everything is allowed.
        if selecting.is_empty() {
            return true;
        }
        selecting.iter().any(|p| {
            src.namespace == p.namespace
                && matches(&p.from, &src.labels)
                && (p.ports.is_empty() || p.ports.contains(&port))
        })
    }

    /// The cluster as Kubernetes manifests (YAML documents).
    pub fn manifests(&self) -> String {
        let map = |m: &BTreeMap<String, String>| {
            let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("{{{}}}", items.join(", "))
        };
        let mut out = String::new();
        for p in &self.pods {
            out.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {}, namespace: {}, labels: {}}}\nspec: {{containers: [{{name: c, image: agnhost}}]}}\n",
                p.name,
                p.namespace,
                map(&p.labels)
            ));
        }
        for p in &self.policies {
            let ports = if p.ports.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = p.ports.iter().map(|n| format!("{{port: {n}}}")).collect();
                format!(", ports: [{}]", list.join(", "))
            };
            out.push_str(&format!(
                "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {}, namespace: {}}}\nspec:\n  podSelector: {{matchLabels: {}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {}}}}}]{ports}}}]\n",
                p.name,
                p.namespace,
                map(&p.select),
                map(&p.from)
            ));
        }
        out
    }
}
