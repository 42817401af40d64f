//! The pod↔address and service↔address mappings, per IP address domain (rules 3.1, 3.2).

use super::{AddressOwner, Effects, State};
use crate::error::{ErrorKind, OpError};
use crate::ident::{PodId, ServiceId};
use crate::net::{Address, DEFAULT_NETWORK, PRIMARY_INTERFACE};

impl State {
    // ----- pod↔address and service↔address mappings (rule 3.1) -----------------------------

    /// `addAddress2PodMapping(domain, ip, pod)`: the address goes on `interface`, attached to
    /// `network` (by default the network of the address's domain the pod already uses on that
    /// interface, else the default network).
    pub fn add_address_2_pod_mapping(
        &mut self,
        address: Address,
        pod: &PodId,
        interface: Option<&str>,
        network: Option<&str>,
    ) -> Result<Effects, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        self.check_addresses_free([&address])?;
        let interface = interface.unwrap_or(PRIMARY_INTERFACE).to_string();
        let network = match network {
            Some(n) => n.to_string(),
            None => self
                .addresses
                .values()
                .find_map(|o| match o {
                    AddressOwner::Pod {
                        pod: p,
                        interface: i,
                        network,
                    } if p == pod && *i == interface => Some(network.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| DEFAULT_NETWORK.to_string()),
        };
        let net = self
            .networks
            .get(&network)
            .ok_or_else(|| OpError::not_found("network", &network))?;
        if net.domain != address.domain {
            return Err(OpError::new(
                ErrorKind::DomainMismatch,
                format!(
                    "address {address} is not in the domain {} of network {network}",
                    net.domain
                ),
            ));
        }
        self.addresses.insert(
            address,
            AddressOwner::Pod {
                pod: pod.clone(),
                interface,
                network,
            },
        );
        Ok(self.settle())
    }

    /// `removeAddress2PodMapping`.
    pub fn remove_address_2_pod_mapping(
        &mut self,
        address: &Address,
        pod: &PodId,
    ) -> Result<Effects, OpError> {
        match self.addresses.get(address) {
            Some(AddressOwner::Pod { pod: p, .. }) if p == pod => {
                self.addresses.remove(address);
                Ok(self.settle())
            }
            _ => Err(OpError::not_found("mapping", format!("{address} -> {pod}"))),
        }
    }

    /// `removePod2AddressMappings`.
    pub fn remove_pod_2_address_mappings(&mut self, pod: &PodId) -> Result<Effects, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Pod { pod: p, .. } if p == pod));
        Ok(self.settle())
    }

    /// `lookupPod2AddressMappings`: every `<domain, address>` of the pod, in address order.
    pub fn lookup_pod_2_address_mappings(&self, pod: &PodId) -> Result<Vec<Address>, OpError> {
        if !self.pods.contains_key(pod) {
            return Err(OpError::not_found("pod", pod));
        }
        Ok(self.pod_addresses(pod).map(|(a, _, _)| a.clone()).collect())
    }

    /// `lookupAddress2PodMapping`: zero or one pod (rule 3.1).
    pub fn lookup_address_2_pod_mapping(&self, address: &Address) -> Option<&PodId> {
        match self.addresses.get(address) {
            Some(AddressOwner::Pod { pod, .. }) => Some(pod),
            _ => None,
        }
    }

    /// `addAddress2ServiceMapping`.
    pub fn add_address_2_service_mapping(
        &mut self,
        address: Address,
        service: &ServiceId,
        external: bool,
    ) -> Result<Effects, OpError> {
        if !self.services.contains_key(service) {
            return Err(OpError::not_found("service", service));
        }
        self.check_domain(&address.domain)?;
        self.check_addresses_free([&address])?;
        self.addresses.insert(
            address,
            AddressOwner::Service {
                service: service.clone(),
                external,
            },
        );
        Ok(self.settle())
    }

    /// `removeAddress2ServiceMapping`.
    pub fn remove_address_2_service_mapping(
        &mut self,
        address: &Address,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        match self.addresses.get(address) {
            Some(AddressOwner::Service { service: s, .. }) if s == service => {
                self.addresses.remove(address);
                Ok(self.settle())
            }
            _ => Err(OpError::not_found(
                "mapping",
                format!("{address} -> {service}"),
            )),
        }
    }

    /// `removeService2AddressMappings`.
    pub fn remove_service_2_address_mappings(
        &mut self,
        service: &ServiceId,
    ) -> Result<Effects, OpError> {
        if !self.services.contains_key(service) {
            return Err(OpError::not_found("service", service));
        }
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Service { service: s, .. } if s == service));
        Ok(self.settle())
    }

    /// `lookupService2AddressMappings`.
    pub fn lookup_service_2_address_mappings(
        &self,
        service: &ServiceId,
    ) -> Result<Vec<Address>, OpError> {
        if !self.services.contains_key(service) {
            return Err(OpError::not_found("service", service));
        }
        Ok(self
            .addresses
            .iter()
            .filter(|(_, o)| matches!(o, AddressOwner::Service { service: s, .. } if s == service))
            .map(|(a, _)| a.clone())
            .collect())
    }

    /// `lookupAddress2ServiceMapping`: zero or one Service.
    pub fn lookup_address_2_service_mapping(&self, address: &Address) -> Option<&ServiceId> {
        match self.addresses.get(address) {
            Some(AddressOwner::Service { service, .. }) => Some(service),
            _ => None,
        }
    }

    /// A pod's own addresses with interface and network, in address order (IPv4 first).
    pub fn pod_addresses<'a>(
        &'a self,
        pod: &'a PodId,
    ) -> impl Iterator<Item = (&'a Address, &'a str, &'a str)> + 'a {
        self.addresses.iter().filter_map(move |(a, o)| match o {
            AddressOwner::Pod {
                pod: p,
                interface,
                network,
            } if p == pod => Some((a, interface.as_str(), network.as_str())),
            _ => None,
        })
    }

    /// A node's addresses, in address order.
    pub fn node_addresses<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Address> + 'a {
        self.addresses.iter().filter_map(move |(a, o)| match o {
            AddressOwner::Node { node: n } if n == node => Some(a),
            _ => None,
        })
    }

    /// Rule 3.4: the addresses a pod is reached on when named by identity — its first `eth0`
    /// address of each family, in address order (IPv4 first in the default domain); a
    /// host-network pod's are its node's (rule 7.6).
    pub fn primary_addresses<'a>(&'a self, pod: &'a PodId) -> Vec<&'a Address> {
        let all: Vec<&Address> = match self.pods.get(pod) {
            Some(p) if p.host_network => p
                .node
                .as_deref()
                .map(|node| self.node_addresses(node).collect())
                .unwrap_or_default(),
            Some(_) => self
                .pod_addresses(pod)
                .filter(|(_, interface, _)| *interface == PRIMARY_INTERFACE)
                .map(|(a, _, _)| a)
                .collect(),
            None => Vec::new(),
        };
        primary_of(all)
    }
}

/// Rule 3.4: of an end's candidate addresses (a pod's `eth0` addresses, or a host-network pod's
/// node addresses, in address order), the primary ones: the first of each family, in order.
pub fn primary_of<'a>(candidates: impl IntoIterator<Item = &'a Address>) -> Vec<&'a Address> {
    let mut out: Vec<&Address> = Vec::new();
    for a in candidates {
        if !out.iter().any(|b| b.ip.is_ipv4() == a.ip.is_ipv4()) {
            out.push(a);
        }
    }
    out
}
