//! One module per manifest kind the loader knows besides the workloads (rule 9.3): each
//! validates its object as the API server would (rule 9.2) and converts it to the [`Object`]s
//! it contributes to the state. The loader (`loader.rs`) decides which module an object goes
//! to, by API group and kind; the modules use only the per-object helpers of `object.rs`,
//! `validate.rs` and (the Pod) `multus.rs`, never the loader or the workloads.
//!
//! - [`namespace`]: `v1` Namespace (rules 1.3, 9.2);
//! - [`node`]: `v1` Node (rules 3.5, 9.2);
//! - [`pod`]: `v1` Pod, and the pod spec of workload templates (rules 2.1, 2.3, 3.4, 9.5, 9.6);
//! - [`service`]: `v1` Service (rules 2.6, 6.2, 6.9, 9.2, 9.5);
//! - [`endpoint_slice`]: `discovery.k8s.io/v1` EndpointSlice (rules 6.27, 9.7);
//! - [`service_cidr`]: `networking.k8s.io/v1` ServiceCIDR (rule 6.17);
//! - [`network_policy`]: `networking.k8s.io/v1` NetworkPolicy (rules 5.3, 5.7, 5.8, 9.2);
//! - [`network_attachment`]: `k8s.cni.cncf.io/v1` NetworkAttachmentDefinition (rule 9.6);
//! - [`admin_policy`]: `policy.networking.k8s.io` ClusterNetworkPolicy, AdminNetworkPolicy,
//!   BaselineAdminNetworkPolicy (rules 11.10, 11.12, 11.13);
//! - [`entry_point`]: `networking.k8s.io/v1` Ingress and IngressClass, and the Gateway API's
//!   GatewayClass, Gateway, HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute and
//!   ReferenceGrant (rules 6.19–6.25);
//! - [`route`]: `route.openshift.io/v1` Route, read and validated (rule 9.12);
//! - [`multi_network_policy`]: `k8s.cni.cncf.io/v1beta1` MultiNetworkPolicy (rule 8.8);
//! - [`user_defined_network`]: `k8s.ovn.org/v1` UserDefinedNetwork and
//!   ClusterUserDefinedNetwork, and the NADs OVN-Kubernetes renders for them (rules 8.9, 8.10).
//!
//! [`Object`]: super::Object

pub(crate) mod admin_policy;
pub(crate) mod endpoint_slice;
pub(crate) mod entry_point;
pub(crate) mod multi_network_policy;
pub(crate) mod namespace;
pub(crate) mod network_attachment;
pub(crate) mod network_policy;
pub(crate) mod node;
pub(crate) mod pod;
pub(crate) mod route;
pub(crate) mod service;
pub(crate) mod service_cidr;
pub(crate) mod user_defined_network;
