//! The Service lifecycle and the six pod↔service mapping primitives (rules 2.5, 2.6).

use super::{AddressOwner, Effects, State};
use crate::error::{ErrorKind, OpError};
use crate::ident::{PodId, ServiceId};
use crate::net::Address;
use crate::service::{EndpointFacts, Service};
use std::collections::BTreeSet;

impl State {
    // ----- services -------------------------------------------------------------------------

    /// `addService`: adds a Service with its cluster addresses and externally reachable
    /// addresses (rules 2.5, 3.1, 6.10).
    pub fn add_service(
        &mut self,
        service: Service,
        addresses: Vec<Address>,
        external_addresses: Vec<Address>,
    ) -> Result<Effects, OpError> {
        if self.services.contains_key(&service.id) {
            return Err(OpError::already_exists("service", &service.id));
        }
        self.check_node_ports_free(&service)?;
        let mappings = service_mappings(&service.id, addresses, external_addresses);
        self.check_addresses_free(mappings.iter().map(|(a, _)| a))?;
        for (a, _) in &mappings {
            self.check_domain(&a.domain)?;
        }
        self.services.insert(service.id.clone(), service);
        self.addresses.extend(mappings);
        Ok(self.settle())
    }

    /// Replaces a Service in place (an `apply` of a changed Service).
    pub fn update_service(
        &mut self,
        service: Service,
        addresses: Vec<Address>,
        external_addresses: Vec<Address>,
    ) -> Result<Effects, OpError> {
        if !self.services.contains_key(&service.id) {
            return Err(OpError::not_found("service", &service.id));
        }
        self.check_node_ports_free(&service)?;
        let mappings = service_mappings(&service.id, addresses, external_addresses);
        for (a, _) in &mappings {
            self.check_domain(&a.domain)?;
            match self.addresses.get(a) {
                Some(AddressOwner::Service { service: s, .. }) if *s == service.id => {}
                Some(owner) => return Err(OpError::address_in_use(a, owner)),
                None => {}
            }
        }
        let id = service.id.clone();
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Service { service: s, .. } if *s == id));
        self.addresses.extend(mappings);
        // Switching between selector and explicit mapping starts the mapping afresh.
        if service.managed_selector().is_some() || self.services[&id].managed_selector().is_some() {
            self.service_pods.retain(|(s, _)| *s != id);
        }
        self.services.insert(id, service);
        Ok(self.settle())
    }

    /// Rule 6.12: a node port belongs to one Service (of any protocol: the allocator keeps
    /// one range of numbers).
    fn check_node_ports_free(&self, service: &Service) -> Result<(), OpError> {
        for n in service.ports.iter().filter_map(|p| p.node_port) {
            if let Some(other) = self
                .services
                .values()
                .find(|s| s.id != service.id && s.ports.iter().any(|p| p.node_port == Some(n)))
            {
                return Err(OpError::new(
                    ErrorKind::AddressInUse,
                    format!("node port {n} is already allocated to service {}", other.id),
                ));
            }
        }
        Ok(())
    }

    /// Rule 6.12: the Service whose node port `(protocol, port)` is, if a `NodePort` or
    /// `LoadBalancer` Service has it.
    pub fn node_port_service(&self, protocol: crate::net::Protocol, port: u16) -> Option<&Service> {
        use crate::service::ServiceType;
        self.services.values().find(|s| {
            matches!(
                s.service_type,
                ServiceType::NodePort | ServiceType::LoadBalancer
            ) && s.node_port(protocol, port).is_some()
        })
    }

    /// `removeService`: removes the Service and its pod and address mappings (rule 2.5).
    /// Connections opened through it stay open (rule 6.11).
    pub fn remove_service(&mut self, id: &ServiceId) -> Result<Effects, OpError> {
        if !self.services.contains_key(id) {
            return Err(OpError::not_found("service", id));
        }
        self.drop_service(id);
        Ok(self.settle())
    }

    pub(super) fn drop_service(&mut self, id: &ServiceId) {
        self.services.remove(id);
        self.service_pods.retain(|(s, _)| s != id);
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Service { service, .. } if service == id));
    }

    // ----- the six pod↔service mapping primitives (rules 2.5, 2.6) ---------------------------

    pub(super) fn explicit_service(&self, service: &ServiceId) -> Result<&Service, OpError> {
        let svc = self
            .services
            .get(service)
            .ok_or_else(|| OpError::not_found("service", service))?;
        if svc.managed_selector().is_some() {
            return Err(OpError::new(
                ErrorKind::SelectorManaged,
                format!("service {service} has a selector; its backends follow pod labels"),
            ));
        }
        Ok(svc)
    }

    /// `addPod2ServiceMapping`, the endpoint's conditions derived from its pod (rule 6.5).
    pub fn add_pod_2_service_mapping(
        &mut self,
        pod: &PodId,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        self.add_pod_2_service_mapping_with(pod, service, None)
    }

    /// `addPod2ServiceMapping` with `endpoint`: what a manually managed EndpointSlice says of
    /// the endpoint (rule 6.27); `None` derives its conditions from the pod (rule 6.5).
    pub fn add_pod_2_service_mapping_with(
        &mut self,
        pod: &PodId,
        service: &ServiceId,
        endpoint: Option<EndpointFacts>,
    ) -> Result<Effects, OpError> {
        self.explicit_service(service)?;
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        if !self.service_pods.insert((service.clone(), pod.clone())) {
            return Err(OpError::already_exists(
                "mapping",
                format!("{pod} -> {service}"),
            ));
        }
        if let Some(facts) = endpoint {
            self.endpoint_facts
                .insert((service.clone(), pod.clone()), facts);
        }
        Ok(self.settle())
    }

    /// Rule 6.27: what a manually managed EndpointSlice says of `pod` as an endpoint of
    /// `service`, if its mapping came with that.
    pub fn endpoint_facts(&self, service: &ServiceId, pod: &PodId) -> Option<&EndpointFacts> {
        self.endpoint_facts.get(&(service.clone(), pod.clone()))
    }

    /// `removePod2ServiceMapping`.
    pub fn remove_pod_2_service_mapping(
        &mut self,
        pod: &PodId,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        self.explicit_service(service)?;
        if !self.service_pods.remove(&(service.clone(), pod.clone())) {
            return Err(OpError::not_found("mapping", format!("{pod} -> {service}")));
        }
        Ok(self.settle())
    }

    /// `removePod2ServiceMappings`: every explicit mapping of the pod.
    pub fn remove_pod_2_service_mappings(&mut self, pod: &PodId) -> Result<Effects, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        let services = &self.services;
        self.service_pods.retain(|(s, p)| {
            p != pod
                || services
                    .get(s)
                    .is_some_and(|svc| svc.managed_selector().is_some())
        });
        Ok(self.settle())
    }

    /// `removeService2PodMappings`.
    pub fn remove_service_2_pod_mappings(
        &mut self,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        self.explicit_service(service)?;
        self.service_pods.retain(|(s, _)| s != service);
        Ok(self.settle())
    }

    /// `lookupPod2ServiceMappings`.
    pub fn lookup_pod_2_service_mappings(
        &self,
        pod: &PodId,
    ) -> Result<BTreeSet<ServiceId>, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        Ok(self
            .service_pods
            .iter()
            .filter(|(_, p)| p == pod)
            .map(|(s, _)| s.clone())
            .collect())
    }

    /// `lookupService2PodMappings`.
    pub fn lookup_service_2_pod_mappings(
        &self,
        service: &ServiceId,
    ) -> Result<BTreeSet<PodId>, OpError> {
        if !self.services.contains_key(service) {
            return Err(OpError::not_found("service", service));
        }
        Ok(self
            .service_pods
            .iter()
            .filter(|(s, _)| s == service)
            .map(|(_, p)| p.clone())
            .collect())
    }
}

fn service_mappings(
    id: &ServiceId,
    addresses: Vec<Address>,
    external_addresses: Vec<Address>,
) -> Vec<(Address, AddressOwner)> {
    let owner = |external| AddressOwner::Service {
        service: id.clone(),
        external,
    };
    addresses
        .into_iter()
        .map(|a| (a, owner(false)))
        .chain(external_addresses.into_iter().map(|a| (a, owner(true))))
        .collect()
}
