//! Nodes and named cluster-external entities (rules 3.5, 3.6).

use super::{AddressOwner, Effects, State};
use crate::connection::Endpoint;
use crate::error::OpError;
use crate::net::Address;
use crate::selector::Labels;

impl State {
    /// Adds a node with labels and addresses (rule 3.5).
    pub fn add_node(
        &mut self,
        name: &str,
        labels: Labels,
        addresses: Vec<Address>,
    ) -> Result<Effects, OpError> {
        if self.nodes.contains_key(name) {
            return Err(OpError::already_exists("node", name));
        }
        let owner = AddressOwner::Node {
            node: name.to_string(),
        };
        self.check_addresses_free(addresses.iter())?;
        for a in &addresses {
            self.check_domain(&a.domain)?;
        }
        self.nodes.insert(name.to_string(), labels);
        for a in addresses {
            self.addresses.insert(a, owner.clone());
        }
        Ok(self.settle())
    }

    /// Removes a node, its addresses and the connections of those addresses.
    pub fn remove_node(&mut self, name: &str) -> Result<Effects, OpError> {
        if self.nodes.remove(name).is_none() {
            return Err(OpError::not_found("node", name));
        }
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Node { node } if node == name));
        let closed = self.close_where(|c| {
            [&c.source, &c.destination]
                .iter()
                .any(|e| matches!(e, Endpoint::Node { node, .. } if node == name))
        });
        Ok(self.settle_with(closed))
    }

    /// Names a cluster-external entity by its addresses (rule 3.6).
    pub fn add_external_entity(
        &mut self,
        name: &str,
        addresses: Vec<Address>,
    ) -> Result<Effects, OpError> {
        if self
            .addresses
            .values()
            .any(|o| matches!(o, AddressOwner::External { name: n } if n == name))
        {
            return Err(OpError::already_exists("external entity", name));
        }
        self.check_addresses_free(addresses.iter())?;
        for a in &addresses {
            self.check_domain(&a.domain)?;
        }
        for a in addresses {
            self.addresses.insert(
                a,
                AddressOwner::External {
                    name: name.to_string(),
                },
            );
        }
        Ok(self.settle())
    }
}

impl State {
    /// The node that owns an address (in any domain), for `nodes` peers (rule 11.8).
    pub fn node_at(&self, ip: std::net::IpAddr) -> Option<&str> {
        // One lookup per domain, in domain order: the first domain holding `ip` as a node's.
        self.domains.iter().find_map(|domain| {
            let a = Address {
                domain: domain.clone(),
                ip,
            };
            match self.addresses.get(&a) {
                Some(AddressOwner::Node { node }) => Some(node.as_str()),
                _ => None,
            }
        })
    }
}
