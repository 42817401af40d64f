//! Which pods a connection through a Service may reach (rules 6.2–6.9, 8.5, 8.6).

use crate::decision::Refusal;
use crate::ident::PodId;
use crate::net::{Address, PortRef, Protocol, PRIMARY_INTERFACE};
use crate::profile::MultiNetwork;
use crate::service::{Service, ServiceType, TrafficPolicy};
use crate::state::{AddressOwner, State};

/// A possible backend of a Service for one client (rule 6.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// The pod.
    pub pod: PodId,
    /// The backend address the connection goes to.
    pub address: Option<Address>,
    /// The resolved target port (rule 6.3).
    pub port: u16,
}

impl State {
    /// Rules 6.2–6.9: the possible backends of `service` for a client on `source_node` using
    /// `source_address`, for `(protocol, port)`.
    pub fn service_backends(
        &self,
        service: &Service,
        source_node: Option<&str>,
        source_address: Option<&Address>,
        protocol: Protocol,
        port: u16,
    ) -> Result<Vec<Backend>, Refusal> {
        if service.service_type == ServiceType::ExternalName {
            return Err(Refusal::ExternalName);
        }
        let target = if service.headless {
            PortRef::Number(port)
        } else {
            service
                .port(protocol, port)
                .ok_or(Refusal::NoServicePort)?
                .target_port
                .clone()
        };
        let source_network = source_address.and_then(|a| match self.addresses().get(a) {
            Some(AddressOwner::Pod { network, .. }) => Some(network.as_str()),
            _ => None,
        });
        let type2 = self.profile().multi_network == MultiNetwork::Type2;
        let mut out = Vec::new();
        for pod_id in self
            .lookup_service_2_pod_mappings(&service.id)
            .unwrap_or_default()
        {
            let Some(pod) = self.pod(&pod_id) else {
                continue;
            };
            if !pod.is_live() || !(pod.ready || service.publish_not_ready_addresses) {
                continue;
            }
            if service.internal_traffic_policy == TrafficPolicy::Local
                && (source_node.is_none() || pod.node.as_deref() != source_node)
            {
                continue;
            }
            let port = match &target {
                PortRef::Number(n) => *n,
                PortRef::Name(name) => match pod.named_port_numbers(name, protocol).next() {
                    Some(n) => n,
                    None => continue,
                },
            };
            let addresses: Vec<&Address> = if pod.host_network {
                pod.node
                    .as_deref()
                    .map(|n| self.node_addresses(n).collect())
                    .unwrap_or_default()
            } else {
                // Rule 8.5: `eth0` addresses first, so that a backend is reached on its
                // primary address when it has one of the client's family.
                let mut own: Vec<(&Address, &str, &str)> = self
                    .pod_addresses(&pod_id)
                    .filter(|(_, interface, network)| {
                        !type2
                            || (*interface == PRIMARY_INTERFACE
                                && source_network.is_none_or(|n| n == *network))
                    })
                    .collect();
                own.sort_by_key(|(_, interface, _)| *interface != PRIMARY_INTERFACE);
                own.into_iter().map(|(a, _, _)| a).collect()
            };
            let Some(address) = addresses
                .iter()
                .find(|a| source_address.is_none_or(|s| s.ip.is_ipv4() == a.ip.is_ipv4()))
                .or(addresses.first())
                .map(|a| (*a).clone())
            else {
                continue;
            };
            out.push(Backend {
                pod: pod_id,
                address: Some(address),
                port,
            });
        }
        if out.is_empty() {
            Err(Refusal::NoBackends)
        } else {
            Ok(out)
        }
    }
}
