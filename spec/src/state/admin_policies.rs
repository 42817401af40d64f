//! The cluster-admin policy lifecycle: `addClusterNetworkPolicy`, `updateClusterNetworkPolicy`,
//! `removeClusterNetworkPolicy` (rule 11.1), in the style of the NetworkPolicy primitives.

use super::{Effects, State};
use crate::admin::{AdminPolicyId, ClusterNetworkPolicy};
use crate::error::OpError;

impl State {
    /// `addClusterNetworkPolicy`.
    pub fn add_cluster_network_policy(
        &mut self,
        policy: ClusterNetworkPolicy,
    ) -> Result<Effects, OpError> {
        let id = policy.id();
        if self.admin_policies.contains_key(&id) {
            return Err(OpError::already_exists("cluster network policy", &id));
        }
        self.admin_policies.insert(id, policy);
        Ok(self.settle())
    }

    /// `updateClusterNetworkPolicy`: replaces an existing policy.
    pub fn update_cluster_network_policy(
        &mut self,
        policy: ClusterNetworkPolicy,
    ) -> Result<Effects, OpError> {
        let id = policy.id();
        let slot = self
            .admin_policies
            .get_mut(&id)
            .ok_or_else(|| OpError::not_found("cluster network policy", &id))?;
        *slot = policy;
        Ok(self.settle())
    }

    /// `removeClusterNetworkPolicy`.
    pub fn remove_cluster_network_policy(
        &mut self,
        id: &AdminPolicyId,
    ) -> Result<Effects, OpError> {
        if self.admin_policies.remove(id).is_none() {
            return Err(OpError::not_found("cluster network policy", id));
        }
        Ok(self.settle())
    }
}
