//! IP address domains and networks (rules 8.1, 8.2).

use super::{AddressOwner, Effects, State};
use crate::error::{ErrorKind, OpError};
use crate::net::{Network, NetworkRole, DEFAULT_DOMAIN, DEFAULT_NETWORK};

impl State {
    /// `ip_address_domain<name>` (rule 8.1).
    pub fn add_ip_address_domain(&mut self, name: &str) -> Result<Effects, OpError> {
        if !self.domains.insert(name.to_string()) {
            return Err(OpError::already_exists("ip address domain", name));
        }
        Ok(self.settle())
    }

    /// Removes a domain no network and no address uses.
    pub fn remove_ip_address_domain(&mut self, name: &str) -> Result<Effects, OpError> {
        if !self.domains.contains(name) {
            return Err(OpError::not_found("ip address domain", name));
        }
        if name == DEFAULT_DOMAIN
            || self.networks.values().any(|n| n.domain == name)
            || self.addresses.keys().any(|a| a.domain == name)
        {
            return Err(OpError::new(
                ErrorKind::InUse,
                format!("ip address domain {name} is in use"),
            ));
        }
        self.domains.remove(name);
        Ok(self.settle())
    }

    /// `network<name, domain>` (rule 8.1), a secondary network.
    pub fn add_network(&mut self, name: &str, domain: &str) -> Result<Effects, OpError> {
        self.add_network_with_role(name, domain, NetworkRole::Secondary)
    }

    /// `network<name, domain>` with its role (rules 8.1, 8.7): a primary user-defined network
    /// is isolated from every other network (rule 8.11).
    pub fn add_network_with_role(
        &mut self,
        name: &str,
        domain: &str,
        role: NetworkRole,
    ) -> Result<Effects, OpError> {
        if self.networks.contains_key(name) {
            return Err(OpError::already_exists("network", name));
        }
        self.check_domain(domain)?;
        self.networks.insert(
            name.to_string(),
            Network {
                name: name.to_string(),
                domain: domain.to_string(),
                role,
            },
        );
        Ok(self.settle())
    }

    /// Rule 8.11: whether a network is a primary user-defined network, isolated from every
    /// other network (a primary network other than the cluster default network).
    pub fn is_isolated_network(&self, name: &str) -> bool {
        name != DEFAULT_NETWORK && self.is_primary_network(name)
    }

    /// Rules 8.7, 8.11: whether a network is a pod's primary network (the cluster default
    /// network, or a primary user-defined network); an unknown network is not.
    pub fn is_primary_network(&self, name: &str) -> bool {
        self.networks
            .get(name)
            .is_some_and(|n| n.role == NetworkRole::Primary)
    }

    /// Removes a network no address uses.
    pub fn remove_network(&mut self, name: &str) -> Result<Effects, OpError> {
        if !self.networks.contains_key(name) {
            return Err(OpError::not_found("network", name));
        }
        if name == DEFAULT_NETWORK
            || self
                .addresses
                .values()
                .any(|o| matches!(o, AddressOwner::Pod { network, .. } if network == name))
        {
            return Err(OpError::new(
                ErrorKind::InUse,
                format!("network {name} is in use"),
            ));
        }
        self.networks.remove(name);
        Ok(self.settle())
    }
}
