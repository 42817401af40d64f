//! Label selectors as `metav1.LabelSelector` defines them (apimachinery `pkg/labels/selector.go`).
//! Rules 4.1–4.4.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A set of labels: key to value.
pub type Labels = BTreeMap<String, String>;

/// Labels from `key, value` pairs.
pub fn labels<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Labels {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

/// The four set-based operators of `matchExpressions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operator {
    /// Key present and its value in the set.
    In,
    /// Key absent, or its value not in the set (rule 4.2).
    NotIn,
    /// Key present.
    Exists,
    /// Key absent.
    DoesNotExist,
}

/// One requirement of `matchExpressions`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How the key and values are compared.
    pub operator: Operator,
    /// The values for `In`/`NotIn`; empty for `Exists`/`DoesNotExist`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub values: BTreeSet<String>,
}

impl Requirement {
    /// Rule 4.2: whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// A label selector: `matchLabels` and `matchExpressions`, all ANDed (rule 4.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Each `k: v` is the requirement `k In [v]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: Labels,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    /// The empty selector `{}`, which matches everything (rule 4.3).
    pub fn everything() -> Self {
        Self::default()
    }

    /// A selector of `matchLabels` only.
    pub fn from_labels<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            match_labels: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            match_expressions: Vec::new(),
        }
    }

    /// Rules 4.1–4.3: every `matchLabels` pair and every expression must hold.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// Whether this is `{}`.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, operator: Operator, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn r4_2_not_in_matches_objects_without_the_key() {
        let r = req("tier", Operator::NotIn, &["db"]);
        assert!(r.matches(&labels(&[])));
        assert!(r.matches(&labels(&[("tier", "web")])));
        assert!(!r.matches(&labels(&[("tier", "db")])));
    }

    #[test]
    fn r4_2_in_requires_the_key() {
        let r = req("tier", Operator::In, &["db", "web"]);
        assert!(!r.matches(&labels(&[])));
        assert!(r.matches(&labels(&[("tier", "web")])));
        assert!(!r.matches(&labels(&[("tier", "cache")])));
    }

    #[test]
    fn r4_2_exists_and_does_not_exist_look_only_at_presence() {
        let e = req("a", Operator::Exists, &[]);
        let d = req("a", Operator::DoesNotExist, &[]);
        assert!(e.matches(&labels(&[("a", "")])));
        assert!(!d.matches(&labels(&[("a", "")])));
        assert!(!e.matches(&labels(&[("b", "x")])));
        assert!(d.matches(&labels(&[("b", "x")])));
    }

    #[test]
    fn r4_1_match_labels_and_expressions_are_anded() {
        let s = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![req("env", Operator::In, &["prod"])],
        };
        assert!(s.matches(&labels(&[("app", "web"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "db"), ("env", "prod")])));
    }

    #[test]
    fn r4_3_empty_selector_matches_everything() {
        assert!(LabelSelector::everything().matches(&labels(&[])));
        assert!(LabelSelector::everything().matches(&labels(&[("x", "y")])));
    }
}
