//! `v1` Namespace: a declared namespace and its labels (rule 1.3; the state adds the
//! `kubernetes.io/metadata.name` label). Its name is validated by rule 9.2.

use crate::manifest::object::Obj;
use crate::manifest::{LoadError, Object};
use k8s_openapi::api::core::v1 as core;
use serde_json::Value;

/// Rule 1.3: a Namespace is its name and labels as written.
pub(crate) fn namespace_object(obj: &Obj, value: Value) -> Result<Object, LoadError> {
    let ns: core::Namespace = obj.read(value)?;
    Ok(Object::Namespace {
        name: obj.name.clone(),
        labels: ns.metadata.labels.unwrap_or_default(),
    })
}
