//! The pod lifecycle (rules 2.1–2.4).

use super::{AddressOwner, Effects, State};
use crate::error::OpError;
use crate::ident::{ConnectionId, PodId};
use crate::net::Address;
use crate::pod::{Attachment, Pod};
use crate::selector::Labels;

impl State {
    // ----- pods -----------------------------------------------------------------------------

    /// `addPod`: adds a pod and maps the addresses of its attachments (rules 2.1, 3.1).
    pub fn add_pod(&mut self, pod: Pod, attachments: Vec<Attachment>) -> Result<Effects, OpError> {
        if self.pods.contains_key(&pod.id) {
            return Err(OpError::already_exists("pod", &pod.id));
        }
        let mappings = self.attachment_mappings(&pod.id, &attachments)?;
        self.check_addresses_free(mappings.iter().map(|(a, _)| a))?;
        self.pods.insert(pod.id.clone(), pod);
        self.addresses.extend(mappings);
        Ok(self.settle())
    }

    /// Replaces a pod's object and addresses in place, keeping its connections (an `apply` of
    /// a changed pod, rule 2.4).
    pub fn update_pod(
        &mut self,
        pod: Pod,
        attachments: Vec<Attachment>,
    ) -> Result<Effects, OpError> {
        if !self.pods.contains_key(&pod.id) {
            return Err(OpError::not_found("pod", &pod.id));
        }
        let mappings = self.attachment_mappings(&pod.id, &attachments)?;
        for (a, _) in &mappings {
            match self.addresses.get(a) {
                Some(AddressOwner::Pod { pod: p, .. }) if *p == pod.id => {}
                Some(owner) => return Err(OpError::address_in_use(a, owner)),
                None => {}
            }
        }
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Pod { pod: p, .. } if *p == pod.id));
        self.addresses.extend(mappings);
        self.pods.insert(pod.id.clone(), pod);
        Ok(self.settle())
    }

    /// `removePod`: removes the pod, its service and address mappings and its connections
    /// (rule 2.2).
    pub fn remove_pod(&mut self, id: &PodId) -> Result<Effects, OpError> {
        if !self.pods.contains_key(id) {
            return Err(OpError::not_found("pod", id));
        }
        let closed = self.drop_pod(id);
        Ok(self.settle_with(closed))
    }

    /// Replaces a pod's labels (rule 2.4).
    pub fn set_pod_labels(&mut self, id: &PodId, labels: Labels) -> Result<Effects, OpError> {
        let pod = self
            .pods
            .get_mut(id)
            .ok_or_else(|| OpError::not_found("pod", id))?;
        pod.labels = labels;
        Ok(self.settle())
    }

    pub(super) fn drop_pod(&mut self, id: &PodId) -> Vec<ConnectionId> {
        self.pods.remove(id);
        self.service_pods.retain(|(_, p)| p != id);
        self.addresses
            .retain(|_, o| !matches!(o, AddressOwner::Pod { pod, .. } if pod == id));
        self.close_where(|c| c.source.pod() == Some(id) || c.destination.pod() == Some(id))
    }

    pub(super) fn attachment_mappings(
        &self,
        pod: &PodId,
        attachments: &[Attachment],
    ) -> Result<Vec<(Address, AddressOwner)>, OpError> {
        let mut out = Vec::new();
        for att in attachments {
            let network = self
                .networks
                .get(&att.network)
                .ok_or_else(|| OpError::not_found("network", &att.network))?;
            for ip in &att.addresses {
                out.push((
                    Address::new(network.domain.clone(), *ip),
                    AddressOwner::Pod {
                        pod: pod.clone(),
                        interface: att.interface.clone(),
                        network: network.name.clone(),
                    },
                ));
            }
        }
        Ok(out)
    }
}
