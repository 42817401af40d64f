//! Namespaces (rules 1.3, 1.4).

use super::{Effects, State, NAMESPACE_NAME_LABEL};
use crate::error::OpError;
use crate::ident::{PodId, ServiceId};
use crate::selector::Labels;

impl State {
    // ----- namespaces, nodes, domains, networks, external entities ------------------------

    /// Declares a namespace with labels; the name label is forced (rule 1.3).
    pub fn add_namespace(&mut self, name: &str, labels: Labels) -> Result<Effects, OpError> {
        if self.namespaces.contains_key(name) {
            return Err(OpError::already_exists("namespace", name));
        }
        self.namespaces
            .insert(name.to_string(), with_name_label(name, labels));
        Ok(self.settle())
    }

    /// Replaces a declared namespace's labels (the name label stays, rule 1.3).
    pub fn set_namespace_labels(&mut self, name: &str, labels: Labels) -> Result<Effects, OpError> {
        // Rule 1.3: a namespace that is only referenced exists too; labelling declares it.
        if !self.namespaces().contains(name) {
            return Err(OpError::not_found("namespace", name));
        }
        self.namespaces
            .insert(name.to_string(), with_name_label(name, labels));
        Ok(self.settle())
    }

    /// Removes a namespace and, as the API server does, every pod, Service, policy
    /// (NetworkPolicy or MultiNetworkPolicy), entry point, route and grant in it (rule 1.4).
    pub fn remove_namespace(&mut self, name: &str) -> Result<Effects, OpError> {
        if !self.namespaces().contains(name) {
            return Err(OpError::not_found("namespace", name));
        }
        let mut closed = Vec::new();
        let pods: Vec<PodId> = self
            .pods
            .keys()
            .filter(|p| p.namespace == name)
            .cloned()
            .collect();
        for pod in pods {
            closed.extend(self.drop_pod(&pod));
        }
        let services: Vec<ServiceId> = self
            .services
            .keys()
            .filter(|s| s.namespace == name)
            .cloned()
            .collect();
        for service in services {
            self.drop_service(&service);
        }
        self.policies.retain(|id, _| id.namespace != name);
        self.multi_policies.retain(|id, _| id.namespace != name);
        self.entry_points.retain(|id, _| id.namespace != name);
        self.routes.retain(|id, _| id.namespace != name);
        self.grants.retain(|id, _| id.namespace != name);
        self.namespaces.remove(name);
        Ok(self.settle_with(closed))
    }
}

fn with_name_label(name: &str, mut labels: Labels) -> Labels {
    labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
    labels
}
