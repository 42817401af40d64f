//! The NetworkPolicy lifecycle (rule 5.14), and the MultiNetworkPolicy's (rule 8.8).

use super::{Effects, State};
use crate::error::OpError;
use crate::ident::PolicyId;
use crate::policy::{MultiNetworkPolicy, NetworkPolicy};

impl State {
    // ----- NetworkPolicy lifecycle (rule 5.14) ----------------------------------------------

    /// `addNetworkPolicy`.
    pub fn add_network_policy(&mut self, policy: NetworkPolicy) -> Result<Effects, OpError> {
        if self.policies.contains_key(&policy.id) {
            return Err(OpError::already_exists("network policy", &policy.id));
        }
        self.policies.insert(policy.id.clone(), policy);
        Ok(self.settle())
    }

    /// `updateNetworkPolicy`: replaces an existing policy.
    pub fn update_network_policy(&mut self, policy: NetworkPolicy) -> Result<Effects, OpError> {
        let slot = self
            .policies
            .get_mut(&policy.id)
            .ok_or_else(|| OpError::not_found("network policy", &policy.id))?;
        *slot = policy;
        Ok(self.settle())
    }

    /// `removeNetworkPolicy`.
    pub fn remove_network_policy(&mut self, id: &PolicyId) -> Result<Effects, OpError> {
        if self.policies.remove(id).is_none() {
            return Err(OpError::not_found("network policy", id));
        }
        Ok(self.settle())
    }

    // ----- MultiNetworkPolicy lifecycle (rule 8.8) -------------------------------------------

    /// `addMultiNetworkPolicy`.
    pub fn add_multi_network_policy(
        &mut self,
        policy: MultiNetworkPolicy,
    ) -> Result<Effects, OpError> {
        if self.multi_policies.contains_key(&policy.id) {
            return Err(OpError::already_exists("multi-network policy", &policy.id));
        }
        self.multi_policies.insert(policy.id.clone(), policy);
        Ok(self.settle())
    }

    /// `updateMultiNetworkPolicy`: replaces an existing MultiNetworkPolicy.
    pub fn update_multi_network_policy(
        &mut self,
        policy: MultiNetworkPolicy,
    ) -> Result<Effects, OpError> {
        let slot = self
            .multi_policies
            .get_mut(&policy.id)
            .ok_or_else(|| OpError::not_found("multi-network policy", &policy.id))?;
        *slot = policy;
        Ok(self.settle())
    }

    /// `removeMultiNetworkPolicy`.
    pub fn remove_multi_network_policy(&mut self, id: &PolicyId) -> Result<Effects, OpError> {
        if self.multi_policies.remove(id).is_none() {
            return Err(OpError::not_found("multi-network policy", id));
        }
        Ok(self.settle())
    }
}
