//! The object being loaded, and the helpers every kind uses on it: its [`Origin`], load errors
//! that name the file, the document, the object and the field path (rule 9.1), typed
//! deserialization with field paths, and the `metadata` checks of rule 9.2 (name, namespace,
//! labels, annotation keys).
//!
//! Namespaced objects without `metadata.namespace` are in [`DEFAULT_NAMESPACE`] (rule 1.1:
//! identity is `namespace/name`).
//!
//! Nothing here knows a kind: the loader builds an [`Obj`] per object and hands it to the kind's
//! module (or to `workloads`). This module depends on no other part of the loader but
//! `validate`.

use super::validate::{self, Check, Invalid, NameRule};
use super::{LoadError, Origin};
use crate::error::ErrorKind;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::net::IpAddr;

/// The default namespace of namespaced objects without `metadata.namespace`.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// An object with `metadata`: every Kubernetes type, and the CRD types netsem declares itself.
pub(crate) trait HasMetadata {
    /// Its `metadata`.
    fn meta(&self) -> &ObjectMeta;
}

impl<T: k8s_openapi::Metadata<Ty = ObjectMeta>> HasMetadata for T {
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }
}

/// The object being loaded: where it is, for errors and origins, and the name rule of its kind.
pub(crate) struct Obj<'a> {
    file: &'a str,
    document: usize,
    /// The path of the object inside its document (`items[2]` in a List), or empty.
    prefix: &'a str,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// Which names its kind accepts (rule 9.2).
    pub name_rule: NameRule,
}

impl<'a> Obj<'a> {
    /// The object at `prefix` (empty, or `items[i]` in a List) of `document` in `file`.
    /// `namespace` is `None` for cluster-scoped kinds.
    pub fn new(
        file: &'a str,
        document: usize,
        prefix: &'a str,
        kind: String,
        namespace: Option<String>,
        name: String,
        name_rule: NameRule,
    ) -> Self {
        Obj {
            file,
            document,
            prefix,
            kind,
            namespace,
            name,
            name_rule,
        }
    }

    /// The object as its type, with its `metadata` checked (rules 9.1, 9.2).
    pub fn read<T: DeserializeOwned + HasMetadata>(&self, value: Value) -> Result<T, LoadError> {
        let object: T = self.typed(value)?;
        self.check_meta(object.meta(), self.name_rule)?;
        Ok(object)
    }

    /// The origin of everything this object contributes.
    pub fn origin(&self) -> Origin {
        Origin {
            file: self.file.to_string(),
            document: self.document,
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// The namespace of a namespaced object.
    pub fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    /// `Kind namespace/name` as errors and warnings name it; just the kind while the name is
    /// unknown.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.kind.clone()
        } else {
            self.origin().object()
        }
    }

    /// A load error at `field` of this object.
    pub fn error(&self, field: &str, message: impl Into<String>) -> LoadError {
        let field = match (self.prefix.is_empty(), field.is_empty()) {
            (true, _) => field.to_string(),
            (false, true) => self.prefix.to_string(),
            (false, false) => format!("{}.{field}", self.prefix),
        };
        LoadError {
            file: self.file.to_string(),
            document: Some(self.document),
            object: Some(self.label()),
            field: (!field.is_empty()).then_some(field),
            message: message.into(),
            kind: ErrorKind::InvalidManifest,
        }
    }

    /// A validation failure as a load error of this object.
    pub fn invalid(&self, e: Invalid) -> LoadError {
        self.error(&e.field, e.message)
    }

    /// Typed deserialization; a type error names its field path, worded as the API server
    /// words it where it can ([`api_type_error`]).
    pub fn typed<T: DeserializeOwned>(&self, value: Value) -> Result<T, LoadError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            let (field, message) = api_type_error(&field, &e.inner().to_string());
            self.error(&field, message)
        })
    }

    /// Validates `metadata`: name, namespace, labels, annotation keys (rule 9.2).
    pub fn check_meta(&self, meta: &ObjectMeta, rule: NameRule) -> Result<(), LoadError> {
        validate::object_name(meta.name.as_deref().unwrap_or(""), rule)
            .map_err(|e| self.invalid(e))?;
        if let Some(ns) = &self.namespace {
            validate::namespace_name(ns).map_err(|e| self.invalid(e))?;
        }
        if let Some(l) = &meta.labels {
            validate::labels(l, "metadata.labels").map_err(|e| self.invalid(e))?;
        }
        if let Some(a) = &meta.annotations {
            validate::annotation_keys(a, "metadata.annotations").map_err(|e| self.invalid(e))?;
        }
        Ok(())
    }
}

/// An IP address at `path` (`status.podIP`, `spec.clusterIPs[1]`, …).
pub(crate) fn ip(s: &str, path: &str) -> Check<IpAddr> {
    s.parse()
        .map_err(|_| Invalid::new(path, format!("`{s}` is not a valid IP address")))
}

/// A typed-decoding error at `field`, worded as the API server words the same failure
/// (apimachinery `field.Error`: `Required value`, `Invalid value: <v>: <detail>`): a missing
/// required field is `FIELD.name: Required value`; a YAML 1.1 boolean or a number where a
/// string belongs says so and suggests quoting it (kubectl reads `no` as a boolean too, and
/// refuses it there: "cannot unmarshal bool into Go struct field … of type string").
pub(crate) fn api_type_error(field: &str, message: &str) -> (String, String) {
    let quoted = |m: &str, prefix: &str| -> Option<String> {
        let rest = m.strip_prefix(prefix)?;
        let end = rest.find('`')?;
        Some(rest[..end].to_string())
    };
    if let Some(name) = quoted(message, "missing field `") {
        return (child_path(field, &name), "Required value".to_string());
    }
    let wants_string = message.ends_with("expected a string");
    if wants_string {
        if let Some(v) = quoted(message, "invalid type: boolean `") {
            return (
                field.to_string(),
                format!(
                    "Invalid value: {v}: must be a string; YAML 1.1, as kubectl reads it, takes an \
                     unquoted y, yes, on, true, n, no, off or false for a boolean: quote the value \
                     (\"no\")"
                ),
            );
        }
        for kind in ["integer", "floating point"] {
            if let Some(v) = quoted(message, &format!("invalid type: {kind} `")) {
                return (
                    field.to_string(),
                    format!(
                        "Invalid value: {v}: must be a string; an unquoted number is a number in \
                         YAML (a leading 0 makes it octal): quote the value (\"0123\")"
                    ),
                );
            }
        }
    }
    let string = message
        .strip_prefix("invalid type: string \"")
        .and_then(|rest| rest.split('"').next());
    if let Some(v) = string {
        if message.contains("expected i32") || message.contains("expected i64") {
            return (
                field.to_string(),
                format!("Invalid value: \"{v}\": must be an integer"),
            );
        }
    }
    (field.to_string(), message.to_string())
}

fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rule 9.2: decoding errors in the API server's words.
    #[test]
    fn r9_2_type_errors_are_worded_as_the_api_server_words_them() {
        assert_eq!(
            api_type_error(
                "spec.containers[0].ports[0]",
                "missing field `containerPort`"
            ),
            (
                "spec.containers[0].ports[0].containerPort".to_string(),
                "Required value".to_string()
            )
        );
        let (f, m) = api_type_error(
            "metadata.labels.app",
            "invalid type: boolean `false`, expected a string",
        );
        assert_eq!(f, "metadata.labels.app");
        assert!(
            m.starts_with("Invalid value: false: must be a string"),
            "{m}"
        );
        assert!(m.contains("quote"), "{m}");
        let (_, m) = api_type_error("x", "invalid type: integer `83`, expected a string");
        assert!(m.starts_with("Invalid value: 83: must be a string"), "{m}");
        let (_, m) = api_type_error("p", "invalid type: string \"80\", expected i32");
        assert_eq!(m, "Invalid value: \"80\": must be an integer");
        assert_eq!(api_type_error("a", "other").1, "other");
    }
}
